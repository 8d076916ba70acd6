// SPDX-License-Identifier: GPL-2.0
/*
 * globals: global variables in every data section a loader turns into an
 * internal array map (one entry, value = the section's bytes).
 *
 *   .rodata          const volatile: set by user space before load, frozen
 *                    after (target_tgid, increment, greeting, cfg)
 *   .data            initialised, writable (data_calls, data_label)
 *   .bss             zero-initialised, writable (hits, last_pid, copied, ...)
 *   .data.custom     a named data section of its own (custom_calls)
 *   .rodata.str1.1   mergeable string literals, here a bpf_trace_printk format
 *
 * Program: tracepoint syscalls/sys_enter_getpid (on_getpid). When the
 * caller's tgid equals target_tgid (0 by default, so nothing matches until a
 * test sets it):
 *   hits        += increment        (bss, per matching call)
 *   calls       += 1                (bss)
 *   data_calls  += 1                (data; starts at 100)
 *   custom_calls += 1               (data.custom; starts at 7)
 *   copied       = greeting         (bss <- rodata char[16])
 *   cfg_copy     = cfg              (bss <- rodata struct)
 *   last_pid     = thread id of the caller (bss)
 * and prints "tsbpf globals: pid <tid> hits <hits>" to the trace buffer.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct config {
	__u32 multiplier;
	__u16 port;
	__u8 enabled;
	__u8 pad;
	__u64 mask;
};

/* .rodata */
const volatile __u32 target_tgid = 0;
const volatile __u64 increment = 1;
const volatile char greeting[16] = "hello, tsbpf";
const volatile struct config cfg = {
	.multiplier = 3,
	.port = 8080,
	.enabled = 1,
	.mask = 0xffff0000ffff0000ULL,
};

/* .data */
__u64 data_calls = 100;
char data_label[8] = "data";

/* .bss */
__u64 hits;
__u64 calls;
__u32 last_pid;
char copied[16];
struct config cfg_copy;

/* .data.custom */
__u32 custom_calls SEC(".data.custom") = 7;

SEC("tracepoint/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	int i;

	if ((__u32)(id >> 32) != target_tgid)
		return 0;

	__sync_fetch_and_add(&hits, increment);
	__sync_fetch_and_add(&calls, 1);
	__sync_fetch_and_add(&data_calls, 1);
	__sync_fetch_and_add(&custom_calls, 1);

	for (i = 0; i < (int)sizeof(copied); i++)
		copied[i] = greeting[i];
	cfg_copy.multiplier = cfg.multiplier;
	cfg_copy.port = cfg.port;
	cfg_copy.enabled = cfg.enabled;
	cfg_copy.mask = cfg.mask;

	last_pid = (__u32)id;

	/* The literal lands in .rodata.str1.1 (bpf_printk would use .rodata). */
	bpf_trace_printk("tsbpf globals: pid %d hits %llu\n",
			 sizeof("tsbpf globals: pid %d hits %llu\n"),
			 last_pid, hits);
	return 0;
}

char _license[] SEC("license") = "GPL";
