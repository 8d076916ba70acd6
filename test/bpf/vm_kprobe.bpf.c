// SPDX-License-Identifier: GPL-2.0
/*
 * vm_kprobe: a kprobe and a kretprobe on the getpid() system call, for the
 * VM test runner (test/vm/kprobe.test.ts, `npm run test:vm`): the CI host
 * kernel has no CONFIG_KPROBES, the VM's Debian kernel does.
 *
 * Programs (both filter on rodata target_tgid; 0 = every process):
 *   on_getpid_entry (kprobe/__x64_sys_getpid): counts[0] += 1.
 *   on_getpid_return (kretprobe/__x64_sys_getpid): counts[1] += 1, and
 *     counts[2] += 1 when the return value (PT_REGS_RC) equals the caller's
 *     tgid, i.e. the probe sees what getpid() really returned.
 *
 * A test sets target_tgid to a child's pid, attaches both, lets the child make
 * N getpid() calls and expects counts = {N, N, N}.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline int bump(__u32 slot)
{
	__u64 *count = bpf_map_lookup_elem(&counts, &slot);

	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

static __always_inline int is_target(__u32 tgid)
{
	return !target_tgid || tgid == target_tgid;
}

SEC("kprobe/__x64_sys_getpid")
int on_getpid_entry(struct pt_regs *ctx)
{
	if (!is_target(bpf_get_current_pid_tgid() >> 32))
		return 0;
	return bump(0);
}

SEC("kretprobe/__x64_sys_getpid")
int on_getpid_return(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!is_target(tgid))
		return 0;
	bump(1);
	if ((__u32)PT_REGS_RC(ctx) == tgid)
		bump(2);
	return 0;
}

char _license[] SEC("license") = "GPL";
