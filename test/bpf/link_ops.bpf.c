// SPDX-License-Identifier: GPL-2.0
/*
 * link_ops: programs for the link operations tests (test/kernel/link-ops.test.ts): groups,
 * pin, update. Everything counts only the process whose tgid is in .bss target_tgid, which the
 * test sets before each child it starts (so one loaded object serves several children).
 *
 * - count_a (uprobe, attached to uprobe_target_add(int a, int b) and second_target(int a) of
 *   test/helpers/uprobe_target.c): hits_a += 1, arg_sum_a += a.
 * - count_b (uprobe): hits_b += 1 (the program a test updates a link to).
 * - count_getpid (raw_tracepoint/sys_enter): getpid_hits += 1 for each getpid() (x86-64 nr 39).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u32 target_tgid;
__u64 hits_a, arg_sum_a, hits_b, getpid_hits;

static __always_inline int mine(void)
{
	return target_tgid && (__u32)(bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("uprobe")
int BPF_KPROBE(count_a, int a)
{
	if (!mine())
		return 0;
	__sync_fetch_and_add(&hits_a, 1);
	__sync_fetch_and_add(&arg_sum_a, a);
	return 0;
}

SEC("uprobe")
int count_b(struct pt_regs *ctx)
{
	if (mine())
		__sync_fetch_and_add(&hits_b, 1);
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int count_getpid(struct bpf_raw_tracepoint_args *ctx)
{
	if (mine() && ctx->args[1] == 39)
		__sync_fetch_and_add(&getpid_hits, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
