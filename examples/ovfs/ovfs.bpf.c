// SPDX-License-Identifier: GPL-2.0
/*
 * ovfs: the example program of the seed "nimbpf" (nimbpf-readme.txt): bytes
 * read and written through overlayfs, per process, from kprobes on
 * ovl_read_iter() and ovl_write_iter().
 *
 * The object is in the pre-BTF style nimbpf loads: maps as struct
 * bpf_map_def in SEC("maps"), kprobe/... program sections, a "license"
 * section and a "version" section whose value is deliberately wrong, because
 * nimbpf (and tsbpf's compat loader) overwrite it with the running kernel's
 * version. libbpf >= 1.0 refuses the legacy maps.
 *
 * Maps (hash, 10240 entries):
 *   ovfs_op_start_times  u32 thread id -> u64 ktime (ns) at entry of the
 *                        read or write in progress
 *   ovfs_read_bytes      u32 tgid -> unsigned long bytes read
 *   ovfs_write_bytes     u32 tgid -> unsigned long bytes written
 *
 * Programs:
 *   kprobe/ovl_read_iter, kprobe/ovl_write_iter        record the start time
 *   kretprobe/ovl_read_iter, kretprobe/ovl_write_iter  if a start time was
 *       recorded (so the call was seen from its entry), forget it and add a
 *       positive return value (bytes transferred) to the process's total
 * They need CONFIG_KPROBES to attach, and overlayfs for events.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "legacy_map_def.h"

#define MAX_MAP_ENTRIES 10240

struct bpf_map_def SEC("maps") ovfs_read_bytes = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(unsigned int),
	.value_size = sizeof(unsigned long),
	.max_entries = MAX_MAP_ENTRIES,
};

struct bpf_map_def SEC("maps") ovfs_write_bytes = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(unsigned int),
	.value_size = sizeof(unsigned long),
	.max_entries = MAX_MAP_ENTRIES,
};

struct bpf_map_def SEC("maps") ovfs_op_start_times = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(unsigned int),
	.value_size = sizeof(unsigned long),
	.max_entries = MAX_MAP_ENTRIES,
};

static __always_inline int op_start(void)
{
	unsigned int tid = bpf_get_current_pid_tgid();
	unsigned long ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&ovfs_op_start_times, &tid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int op_end(void *bytes_map, long ret)
{
	unsigned long long id = bpf_get_current_pid_tgid();
	unsigned int tid = id, tgid = id >> 32;
	unsigned long *total;

	if (!bpf_map_lookup_elem(&ovfs_op_start_times, &tid))
		return 0; /* entry not seen (attached mid-call) */
	bpf_map_delete_elem(&ovfs_op_start_times, &tid);
	if (ret <= 0)
		return 0;

	total = bpf_map_lookup_elem(bytes_map, &tgid);
	if (total) {
		__sync_fetch_and_add(total, ret);
	} else {
		unsigned long first = ret;

		bpf_map_update_elem(bytes_map, &tgid, &first, BPF_NOEXIST);
	}
	return 0;
}

SEC("kprobe/ovl_read_iter")
int trace_ovl_read_iter(struct pt_regs *ctx)
{
	return op_start();
}

SEC("kretprobe/ovl_read_iter")
int trace_ovl_read_iter_ret(struct pt_regs *ctx)
{
	return op_end(&ovfs_read_bytes, PT_REGS_RC(ctx));
}

SEC("kprobe/ovl_write_iter")
int trace_ovl_write_iter(struct pt_regs *ctx)
{
	return op_start();
}

SEC("kretprobe/ovl_write_iter")
int trace_ovl_write_iter_ret(struct pt_regs *ctx)
{
	return op_end(&ovfs_write_bytes, PT_REGS_RC(ctx));
}

char _license[] SEC("license") = "GPL";
/* Deliberately wrong (the loader is expected to overwrite it). */
__u32 _version SEC("version") = 0xdeadbeef;
