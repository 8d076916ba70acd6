// SPDX-License-Identifier: GPL-2.0
/*
 * attach_trampoline: programs that run on BPF trampolines (fentry, fexit, fmod_ret, freplace,
 * LSM) and on kprobe.multi/ksyscall, for test/kernel/attach-trampoline.test.ts. The host kernel
 * refuses trampolines and has no kprobes; the VM runner runs these for real on Debian's kernel.
 * Counters count only the process whose tgid is in rodata target_tgid.
 *
 * - on_read_entry (fentry/vfs_read): read_entries, for reads of exactly READ_SIZE (777) bytes
 *   (the test's child reads /dev/zero in such chunks; other reads are not counted).
 * - on_read_exit (fexit/vfs_read): read_exits, read_bytes += return value, for the same reads.
 * - on_modify (fmod_ret/bpf_modify_return_test): returns 1234, so the function body is skipped;
 *   BPF_PROG_TEST_RUN of a fmod_ret program calls that function and reports the effect.
 * - on_file_open (lsm/file_open): file_opens (allows every open).
 * - on_read_multi (kprobe.multi/vfs_read): multi_reads, for reads of READ_SIZE bytes.
 * - on_getpid_sys (ksyscall/getpid): getpid_calls.
 * - xdp_target (xdp) calls the global function get_verdict (XDP_PASS); new_verdict
 *   (freplace/get_verdict) replaces it with XDP_DROP once attached.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int target_tgid = 0;

__u64 read_entries, read_exits, read_bytes, file_opens, multi_reads, getpid_calls, modify_calls, security_opens;

#define READ_SIZE 777

static __always_inline int mine(void)
{
	return (int)(bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("fentry/vfs_read")
int BPF_PROG(on_read_entry, struct file *file, char *buf, size_t count, loff_t *pos)
{
	if (mine() && count == READ_SIZE)
		__sync_fetch_and_add(&read_entries, 1);
	return 0;
}

SEC("fexit/vfs_read")
int BPF_PROG(on_read_exit, struct file *file, char *buf, size_t count, loff_t *pos, ssize_t ret)
{
	if (!mine() || count != READ_SIZE)
		return 0;
	__sync_fetch_and_add(&read_exits, 1);
	if (ret > 0)
		__sync_fetch_and_add(&read_bytes, ret);
	return 0;
}

SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(on_modify, int a, int *b, int ret)
{
	__sync_fetch_and_add(&modify_calls, 1);
	return 1234;
}

/*
 * fmod_ret on a security_* hook: modifiable on every kernel with trampolines (error injection is
 * not needed for security_ functions). Returning 0 lets the hook run as usual; only counts.
 */
SEC("fmod_ret/security_file_open")
int BPF_PROG(on_security_open, struct file *file, int ret)
{
	if (mine())
		__sync_fetch_and_add(&security_opens, 1);
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(on_file_open, struct file *file, int ret)
{
	if (mine())
		__sync_fetch_and_add(&file_opens, 1);
	return ret;
}

SEC("kprobe.multi/vfs_read")
int on_read_multi(struct pt_regs *ctx)
{
	if (mine() && PT_REGS_PARM3(ctx) == READ_SIZE)
		__sync_fetch_and_add(&multi_reads, 1);
	return 0;
}

SEC("ksyscall/getpid")
int on_getpid_sys(struct pt_regs *ctx)
{
	if (mine())
		__sync_fetch_and_add(&getpid_calls, 1);
	return 0;
}

__attribute__((noinline)) int get_verdict(struct xdp_md *ctx)
{
	return ctx ? XDP_PASS : XDP_ABORTED;
}

SEC("xdp")
int xdp_target(struct xdp_md *ctx)
{
	return get_verdict(ctx);
}

SEC("freplace/get_verdict")
int new_verdict(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
