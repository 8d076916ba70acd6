// SPDX-License-Identifier: GPL-2.0
/*
 * readhist: the CO-RE example of the seed "BPF CO-RE バイナリはどのように
 * ビルドされるか" (core-skeleton-build-ja.txt): a per-process log2 histogram
 * of the byte counts successfully returned by vfs_read().
 *
 * Built against include/vmlinux.h (generated from the kernel's BTF by
 * scripts/build-bpf.sh). Map hists: hash (BPF_F_NO_PREALLOC), u32 pid ->
 * struct hist { u32 slots[15]; }, slot = floor(log2(bytes)), capped at 14.
 * The rodata targ_pid (-1 = all) limits it to one pid; as in the seed, "pid"
 * here is the thread id (low half of bpf_get_current_pid_tgid()), equal to
 * the process id for single-threaded programs.
 *
 * Two programs with the same logic share the map; a loader attaches one:
 *   vfs_read (kretprobe/vfs_read): the seed's program. Needs CONFIG_KPROBES.
 *   sys_exit_read (tp/syscalls/sys_exit_read): for kernels without kprobes.
 *     fexit/vfs_read would see the same calls but needs BPF trampolines
 *     (fentry/fexit loads are refused with EPERM on the CI VM); the
 *     read(2) exit tracepoint is always there and carries the return value
 *     in ctx->ret. It sees read(2) only, not pread64/readv or in-kernel
 *     callers of vfs_read(). ctx->ret is read through a CO-RE field
 *     relocation against struct trace_event_raw_sys_exit.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define MAX_ENTRIES 10240
#define MAX_SLOTS 15

struct hist {
	__u32 slots[MAX_SLOTS];
};

const volatile pid_t targ_pid = -1;
static struct hist initial_hist = {0};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, u32);           /* pid */
	__type(value, struct hist); /* slots */
	__uint(map_flags, BPF_F_NO_PREALLOC);
} hists SEC(".maps");

/* Index of the highest set bit of v (floor(log2(v))), 0 for v = 0. */
static __always_inline u32 highest_bit(u64 v)
{
	u32 n = 0;

	if (v >> 32) { v >>= 32; n += 32; }
	if (v >> 16) { v >>= 16; n += 16; }
	if (v >> 8)  { v >>= 8;  n += 8; }
	if (v >> 4)  { v >>= 4;  n += 4; }
	if (v >> 2)  { v >>= 2;  n += 2; }
	if (v >> 1)  { n += 1; }
	return n;
}

static __always_inline int record_read(ssize_t ret)
{
	struct hist *histp;
	u32 pid, slot;

	if (ret < 0)
		return 0;

	pid = bpf_get_current_pid_tgid();
	if (targ_pid != -1 && pid != (u32)targ_pid)
		return 0;

	histp = bpf_map_lookup_elem(&hists, &pid);
	if (!histp) {
		bpf_map_update_elem(&hists, &pid, &initial_hist, BPF_NOEXIST);
		histp = bpf_map_lookup_elem(&hists, &pid);
		if (!histp)
			return 0;
	}

	slot = highest_bit(ret);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&histp->slots[slot], 1);
	return 0;
}

SEC("kretprobe/vfs_read")
int BPF_KRETPROBE(vfs_read, ssize_t ret)
{
	return record_read(ret);
}

SEC("tp/syscalls/sys_exit_read")
int sys_exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return record_read(ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
