// SPDX-License-Identifier: GPL-2.0
/*
 * attach_module: fentry on a function of a kernel module (overlayfs), whose target is found in
 * the module's split BTF (/sys/kernel/btf/overlay) and passed as attach_btf_obj_fd. For
 * test/kernel/attach-trampoline.test.ts in the VM (scripts/vm/run.sh), whose root file system
 * is an overlay; the host has no modules.
 *
 * - on_ovl_read (fentry/ovl_read_iter: tsbpf searches the loaded modules' BTF): ovl_reads += 1
 *   for reads by the thread whose tid is in rodata target_tid.
 * - on_ovl_read_named (fentry/overlay:ovl_read_iter: the module named): ovl_reads_named += 1,
 *   same filter.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 target_tid = 0;

__u64 ovl_reads, ovl_reads_named;

static __always_inline int mine(void)
{
	return (__u32)bpf_get_current_pid_tgid() == target_tid;
}

SEC("fentry/ovl_read_iter")
int BPF_PROG(on_ovl_read)
{
	if (mine())
		__sync_fetch_and_add(&ovl_reads, 1);
	return 0;
}

SEC("fentry/overlay:ovl_read_iter")
int BPF_PROG(on_ovl_read_named)
{
	if (mine())
		__sync_fetch_and_add(&ovl_reads_named, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
