// SPDX-License-Identifier: GPL-2.0
/*
 * exitstats: process exit statistics. tp/sched/sched_process_exit fires per
 * thread; when the last thread of a process exits (signal->live reaches 0, or the
 * tracepoint's group_dead on 6.x), a record with the process' accumulated figures
 * from task->signal (utime, stime, min/maj faults, maxrss, nr_threads, the
 * RLIMIT_NOFILE soft limit), its exit code, run time and the peak RSS of its mm is
 * sent through a ring buffer. signal->maxrss is read only if bpf_core_field_exists.
 */
#include "parity.h"

#define RLIMIT_NOFILE 7

struct exit_event {
	u32 pid;
	u32 ppid;
	int exit_code;
	u32 nr_threads;
	u64 start_time;
	u64 exit_time;
	u64 utime;
	u64 stime;
	u64 min_flt;
	u64 maj_flt;
	u64 maxrss;
	u64 nofile;
	u64 nvcsw;
	u64 nivcsw;
	u64 sum_exec;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

const volatile bool threads_too = false;

SEC("tp/sched/sched_process_exit")
int on_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct signal_struct *sig = BPF_CORE_READ(task, signal);
	struct exit_event *e;
	bool last;

	if (bpf_core_field_exists(ctx->group_dead))
		last = BPF_CORE_READ(ctx, group_dead);
	else
		last = BPF_CORE_READ(sig, live.counter) <= 1;
	if (!last && !threads_too)
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = BPF_CORE_READ(task, tgid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->exit_code = BPF_CORE_READ(task, exit_code);
	e->nr_threads = BPF_CORE_READ(sig, nr_threads);
	e->start_time = BPF_CORE_READ(task, start_time);
	e->exit_time = bpf_ktime_get_ns();
	e->utime = BPF_CORE_READ(task, utime) + BPF_CORE_READ(sig, utime);
	e->stime = BPF_CORE_READ(task, stime) + BPF_CORE_READ(sig, stime);
	e->min_flt = BPF_CORE_READ(task, min_flt) + BPF_CORE_READ(sig, min_flt);
	e->maj_flt = BPF_CORE_READ(task, maj_flt) + BPF_CORE_READ(sig, maj_flt);
	e->nvcsw = BPF_CORE_READ(task, nvcsw) + BPF_CORE_READ(sig, nvcsw);
	e->nivcsw = BPF_CORE_READ(task, nivcsw) + BPF_CORE_READ(sig, nivcsw);
	e->sum_exec = BPF_CORE_READ(task, se.sum_exec_runtime);
	if (bpf_core_field_exists(sig->maxrss))
		e->maxrss = BPF_CORE_READ(sig, maxrss);
	e->nofile = BPF_CORE_READ(sig, rlim[RLIMIT_NOFILE].rlim_cur);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
