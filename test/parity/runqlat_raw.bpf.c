// SPDX-License-Identifier: GPL-2.0
/*
 * runqlat_raw: the run-queue latency tool on plain raw tracepoints (raw_tp), for
 * kernels whose tp_btf is unavailable: the arguments are untyped u64s, so every
 * task_struct field (pid, tgid, __state/state, comm, prio) is read with
 * BPF_CORE_READ / bpf_core_read. Also keeps the highest latency seen per CPU in a
 * per-CPU array with the comm of the task that suffered it.
 */
#include "parity.h"

struct task_struct___v513 {
	volatile long state;
} __attribute__((preserve_access_index));

struct worst {
	u64 delta_us;
	u32 pid;
	int prio;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} queued_at SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct log2_hist);
} hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct worst);
} worst_per_cpu SEC(".maps");

static __always_inline void enqueue(struct task_struct *p)
{
	u32 pid;
	u64 ts;

	bpf_core_read(&pid, sizeof(pid), &p->pid);
	if (!pid)
		return;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&queued_at, &pid, &ts, BPF_ANY);
}

SEC("raw_tp/sched_wakeup")
int raw_wakeup(struct bpf_raw_tracepoint_args *ctx)
{
	enqueue((struct task_struct *)ctx->args[0]);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int raw_wakeup_new(struct bpf_raw_tracepoint_args *ctx)
{
	enqueue((struct task_struct *)ctx->args[0]);
	return 0;
}

SEC("raw_tp/sched_switch")
int raw_switch(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	struct log2_hist *h;
	struct worst *w;
	u64 *tsp, delta;
	u32 zero = 0, pid;
	long state;

	if (bpf_core_field_exists(prev->__state))
		state = BPF_CORE_READ(prev, __state);
	else
		state = BPF_CORE_READ((struct task_struct___v513 *)prev, state);
	if (state == 0)
		enqueue(prev);

	pid = BPF_CORE_READ(next, pid);
	tsp = bpf_map_lookup_elem(&queued_at, &pid);
	if (!tsp)
		return 0;
	delta = (bpf_ktime_get_ns() - *tsp) / 1000;
	bpf_map_delete_elem(&queued_at, &pid);
	h = bpf_map_lookup_elem(&hist, &zero);
	if (h)
		hist_add(h, delta);
	w = bpf_map_lookup_elem(&worst_per_cpu, &zero);
	if (w && delta > w->delta_us) {
		w->delta_us = delta;
		w->pid = pid;
		w->prio = BPF_CORE_READ(next, prio);
		BPF_CORE_READ_STR_INTO(&w->comm, next, comm);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
