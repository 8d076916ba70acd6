// SPDX-License-Identifier: GPL-2.0
/*
 * biosnoop_raw: per-request block I/O records on raw tracepoints (raw_tp), with
 * every field of struct request read through BPF_CORE_READ: sector, length,
 * cmd_flags, the partition's dev_t (request->part->bd_dev), and the queue time
 * from start_time_ns. Records go to a perf event array (the older output idiom).
 * The pid and comm of the issuer are remembered at insert time.
 */
#include "parity.h"

struct who {
	u32 pid;
	char comm[TASK_COMM_LEN];
};

struct bio_event {
	u64 sector;
	u64 delta_ns;
	u64 queued_ns;
	u32 len;
	u32 dev;
	u32 cmd_flags;
	u32 pid;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct request *);
	__type(value, struct who);
} issuer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct request *);
	__type(value, u64);
} issued_at SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

SEC("raw_tp/block_rq_insert")
int raw_insert(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	struct who w = {};

	w.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(w.comm, sizeof(w.comm));
	bpf_map_update_elem(&issuer, &rq, &w, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_issue")
int raw_issue(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&issued_at, &rq, &ts, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int raw_complete(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	struct bio_event e = {};
	struct who *w;
	u64 *tsp, now = bpf_ktime_get_ns();

	tsp = bpf_map_lookup_elem(&issued_at, &rq);
	if (!tsp)
		return 0;
	e.delta_ns = now - *tsp;
	e.queued_ns = *tsp - BPF_CORE_READ(rq, start_time_ns);
	e.sector = BPF_CORE_READ(rq, __sector);
	e.len = BPF_CORE_READ(rq, __data_len);
	e.cmd_flags = BPF_CORE_READ(rq, cmd_flags);
	e.dev = BPF_CORE_READ(rq, part, bd_dev);
	w = bpf_map_lookup_elem(&issuer, &rq);
	if (w) {
		e.pid = w->pid;
		__builtin_memcpy(e.comm, w->comm, sizeof(e.comm));
	}
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	bpf_map_delete_elem(&issued_at, &rq);
	bpf_map_delete_elem(&issuer, &rq);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
