// SPDX-License-Identifier: GPL-2.0
/*
 * memcpy_kprobe: the first demo of the seed "learn-bpf" (memcpy_kprobe_kern.c,
 * learn-bpf-memcpy-demos.txt). A kprobe at the entry of the kernel's memcpy()
 * reads the third argument, the number of bytes to copy, and prints
 * "memcpy size <n>" to the trace buffer; user space tails trace_pipe.
 * Like the original it has a "license" and a "version" section.
 *
 * A loader attaches the first of these programs that the kernel accepts:
 *
 * bpf_prog1 (kprobe/memcpy): the seed's program. It loads on any kernel, but
 * attaching needs CONFIG_KPROBES, and recent x86 kernels refuse a kprobe on
 * memcpy (EINVAL: it is in .noinstr.text). Debian's 6.1 refuses the generic
 * copy routines too (_copy_to_user, _copy_to_iter, copy_page_to_iter are
 * notrace there).
 *
 * usercopy_size (kprobe/__check_object_size): for those kernels. With
 * CONFIG_HARDENED_USERCOPY (the distributions' default) copy_to_user(),
 * copy_from_user() and copy_{to,from}_iter() call it before every copy whose
 * size is not a compile-time constant, with the size as second argument. It
 * prints "usercopy size <n>". Page-cache copies (reads of regular files) and
 * fixed-size copies do not pass through it.
 *
 * read_size (tracepoint/syscalls/sys_enter_read): for kernels without
 * kprobes. memcpy() itself cannot be observed without kprobes (or fentry,
 * which needs BPF trampolines), so this watches the closest stable hook that
 * carries a copy size: read(2)'s `count`, the number of bytes the caller asks
 * the kernel to copy into its buffer. Syscall tracepoints exist whenever
 * CONFIG_FTRACE_SYSCALLS is set and need no BTF. It prints "read size <n>".
 *
 * A reader of trace_pipe calls read() itself, so read_size (and
 * usercopy_size) would trace its own reader forever; set the rodata
 * `ignore_tgid` to the reader's pid.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* Record of syscalls/sys_enter_read (see its tracefs "format" file). */
struct sys_enter_read_args {
	__u64 common;           /* common_type, flags, preempt_count, pid */
	int syscall_nr;
	unsigned long fd;
	char *buf;
	unsigned long count;
};

const volatile __u32 ignore_tgid = 0;

SEC("kprobe/memcpy")
int bpf_prog1(struct pt_regs *ctx)
{
	unsigned long size = PT_REGS_PARM3(ctx);

	bpf_printk("memcpy size %lu\n", size);
	return 0;
}

static __always_inline int ignored(void)
{
	return ignore_tgid && (bpf_get_current_pid_tgid() >> 32) == ignore_tgid;
}

SEC("kprobe/__check_object_size")
int usercopy_size(struct pt_regs *ctx)
{
	if (ignored())
		return 0;

	bpf_printk("usercopy size %lu\n", PT_REGS_PARM2(ctx));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int read_size(struct sys_enter_read_args *ctx)
{
	if (ignored())
		return 0;

	bpf_printk("read size %lu\n", ctx->count);
	return 0;
}

char _license[] SEC("license") = "GPL";
/* KERNEL_VERSION(4, 12, 5), the kernel the seed was tested on. Kernels since
 * 5.0 ignore it; loaders that honour it replace it with the running one. */
__u32 _version SEC("version") = 0x040c05;
