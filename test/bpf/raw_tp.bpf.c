// SPDX-License-Identifier: GPL-2.0
/*
 * raw_tp: a raw tracepoint program. Unlike SEC("tracepoint/..."), which is
 * attached through a perf event on a tracefs event, a raw tracepoint is
 * attached by name with BPF_RAW_TRACEPOINT_OPEN (or a BPF link) and its
 * context is the tracepoint's raw arguments: for sys_enter,
 * args[0] = struct pt_regs * and args[1] = the syscall number.
 *
 * Program: raw_tracepoint/sys_enter (count_syscalls). For every syscall made
 * by the process whose tgid is in rodata target_tgid (0 = every process),
 * syscall_counts[syscall number] += 1. A test sets target_tgid to its own
 * tgid, makes a known number of getpid() calls (x86-64 syscall 39) and reads
 * syscall_counts[39].
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* syscall number */
	__type(value, __u64); /* calls */
} syscall_counts SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int count_syscalls(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 nr = (__u32)ctx->args[1];
	__u64 one = 1, *count;

	if (target_tgid && tgid != target_tgid)
		return 0;

	count = bpf_map_lookup_elem(&syscall_counts, &nr);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&syscall_counts, &nr, &one, BPF_NOEXIST);
	return 0;
}

char _license[] SEC("license") = "GPL";
