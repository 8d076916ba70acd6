// SPDX-License-Identifier: GPL-2.0
/*
 * oomkill: OOM-killer victims. kprobe/oom_kill_process reads the victim and the
 * page counts from struct oom_control (loads here, attaching needs
 * CONFIG_KPROBES); tp/oom/mark_victim is the tracepoint path that attaches on any
 * kernel, reading the victim's fields from the tracepoint record and, through a
 * pid-keyed scratch map, the comm of the task that triggered the kill. Output
 * through a perf event array.
 */
#include "parity.h"

struct oom_event {
	u32 fpid;
	u32 tpid;
	u64 pages;
	u64 total_vm;
	u64 anon_rss;
	s16 oom_score_adj;
	char fcomm[TASK_COMM_LEN];
	char tcomm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct oom_event);
} scratch SEC(".maps");

SEC("kprobe/oom_kill_process")
int BPF_KPROBE(oom_kill_process, struct oom_control *oc, const char *message)
{
	struct task_struct *victim = BPF_CORE_READ(oc, chosen);
	u32 zero = 0;
	struct oom_event *e = bpf_map_lookup_elem(&scratch, &zero);

	if (!e)
		return 0;
	e->fpid = bpf_get_current_pid_tgid() >> 32;
	e->tpid = BPF_CORE_READ(victim, tgid);
	e->pages = BPF_CORE_READ(oc, totalpages);
	e->total_vm = BPF_CORE_READ(victim, mm, total_vm);
	e->anon_rss = 0;
	e->oom_score_adj = BPF_CORE_READ(victim, signal, oom_score_adj);
	bpf_get_current_comm(e->fcomm, sizeof(e->fcomm));
	BPF_CORE_READ_STR_INTO(&e->tcomm, victim, comm);
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e, sizeof(*e));
	return 0;
}

SEC("tp/oom/mark_victim")
int mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	u32 zero = 0;
	struct oom_event *e = bpf_map_lookup_elem(&scratch, &zero);
	unsigned int loc;

	if (!e)
		return 0;
	e->fpid = bpf_get_current_pid_tgid() >> 32;
	e->tpid = BPF_CORE_READ(ctx, pid);
	e->total_vm = BPF_CORE_READ(ctx, total_vm);
	e->anon_rss = BPF_CORE_READ(ctx, anon_rss);
	e->pages = 0;
	/* oom_score_adj and the comm field appeared in the record in 6.x. */
	if (bpf_core_field_exists(ctx->oom_score_adj))
		e->oom_score_adj = BPF_CORE_READ(ctx, oom_score_adj);
	if (bpf_core_field_exists(ctx->__data_loc_comm)) {
		loc = BPF_CORE_READ(ctx, __data_loc_comm) & 0xffff;
		bpf_probe_read_kernel_str(e->tcomm, sizeof(e->tcomm), (void *)ctx + loc);
	}
	bpf_get_current_comm(e->fcomm, sizeof(e->fcomm));
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
