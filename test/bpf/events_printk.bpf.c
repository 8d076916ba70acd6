// SPDX-License-Identifier: GPL-2.0
/*
 * events_printk: bpf_printk with a unique marker, for the trace_pipe tests.
 *
 * Program: tracepoint/syscalls/sys_enter_getpid (say). For every getpid() call by the process
 * whose tgid is in rodata target_tgid, writes "tsbpf-marker <marker> call <n>" to trace_pipe,
 * with rodata `marker` and n = 0, 1, ... counted in `calls`.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;
const volatile __u64 marker = 0;

__u64 calls;

SEC("tracepoint/syscalls/sys_enter_getpid")
int say(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 n;

	if (tgid != target_tgid)
		return 0;
	n = __sync_fetch_and_add(&calls, 1);
	bpf_printk("tsbpf-marker %llu call %llu", marker, n);
	return 0;
}

char _license[] SEC("license") = "GPL";
