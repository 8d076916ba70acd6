// SPDX-License-Identifier: GPL-2.0
/*
 * runqlat: run-queue latency from BTF-enabled tracepoints (tp_btf). Wakeups record
 * the time a task became runnable; sched_switch computes how long the next task
 * waited and adds it to a histogram, per process when per_process is set. A task
 * switched out while still runnable (preempted) is re-queued: its state is read
 * from task_struct->__state, or ->state on kernels before 5.14, chosen with
 * bpf_core_field_exists on a ___pre514 flavour.
 */
#include "parity.h"

#define TASK_RUNNING 0

const volatile bool per_process = false;
const volatile bool filter_cg = false;
const volatile u32 targ_tgid = 0;

struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} queued_at SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, struct log2_hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} cgroup_map SEC(".maps");

static struct log2_hist zero;

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline int enqueue(struct task_struct *p)
{
	u32 pid = BPF_CORE_READ(p, pid);
	u64 ts;

	if (!pid)
		return 0;
	if (targ_tgid && BPF_CORE_READ(p, tgid) != targ_tgid)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&queued_at, &pid, &ts, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	if (filter_cg && !bpf_current_task_under_cgroup(&cgroup_map, 0))
		return 0;
	return enqueue(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(on_wakeup_new, struct task_struct *p)
{
	if (filter_cg && !bpf_current_task_under_cgroup(&cgroup_map, 0))
		return 0;
	return enqueue(p);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct log2_hist *h;
	u64 *tsp, delta;
	u32 pid, key;

	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);

	pid = BPF_CORE_READ(next, pid);
	tsp = bpf_map_lookup_elem(&queued_at, &pid);
	if (!tsp)
		return 0;
	delta = (bpf_ktime_get_ns() - *tsp) / 1000;
	key = per_process ? BPF_CORE_READ(next, tgid) : 0;
	h = lookup_or_init(&hists, &key, &zero);
	if (h)
		hist_add(h, delta);
	bpf_map_delete_elem(&queued_at, &pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
