// SPDX-License-Identifier: GPL-2.0
/*
 * syslat: system call latency per syscall number. raw_syscalls sys_enter stores the
 * entry time in a hash keyed by thread id; sys_exit computes the latency and adds
 * it to a per-syscall log2 histogram (microseconds). Counts of calls per process go
 * to an LRU hash. Context fields are read with BPF_CORE_READ.
 */
#include "parity.h"

const volatile u32 targ_tgid = 0;
const volatile bool in_ms = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, u32);
	__type(value, struct log2_hist);
} lat SEC(".maps");

struct proc_count {
	u64 calls;
	u64 errors;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, struct proc_count);
} per_proc SEC(".maps");

static struct log2_hist zero_hist;

SEC("tp/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id, tgid = id >> 32;
	u64 ts;

	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (BPF_CORE_READ(ctx, id) < 0)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tp/raw_syscalls/sys_exit")
int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id, tgid = id >> 32;
	u32 nr = BPF_CORE_READ(ctx, id);
	long ret = BPF_CORE_READ(ctx, ret);
	struct proc_count *pc, zero_pc = {};
	struct log2_hist *h;
	u64 *tsp, delta;

	tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &tid);
	delta /= in_ms ? 1000000 : 1000;

	h = lookup_or_init(&lat, &nr, &zero_hist);
	if (h)
		hist_add(h, delta);

	pc = bpf_map_lookup_elem(&per_proc, &tgid);
	if (!pc) {
		bpf_get_current_comm(zero_pc.comm, sizeof(zero_pc.comm));
		bpf_map_update_elem(&per_proc, &tgid, &zero_pc, BPF_NOEXIST);
		pc = bpf_map_lookup_elem(&per_proc, &tgid);
		if (!pc)
			return 0;
	}
	__sync_fetch_and_add(&pc->calls, 1);
	if (ret < 0)
		__sync_fetch_and_add(&pc->errors, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
