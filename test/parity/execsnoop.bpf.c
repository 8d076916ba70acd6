// SPDX-License-Identifier: GPL-2.0
/*
 * execsnoop: one ring-buffer record per successful exec, from
 * tp/sched/sched_process_exec: pid, ppid, uid, comm, the filename from the
 * tracepoint's __data_loc field, and the first argument strings read from the new
 * mm's arg area (mm->arg_start/arg_end through BPF_CORE_READ). A second program
 * on sys_enter_execve counts attempts per uid in a per-CPU hash.
 */
#include "parity.h"

#define ARGS_LEN 256

const volatile uid_t targ_uid = (uid_t)-1;

struct exec_event {
	u32 pid;
	u32 ppid;
	u32 uid;
	u32 args_size;
	u64 start_time;
	char comm[TASK_COMM_LEN];
	char filename[NAME_LEN];
	char args[ARGS_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} attempts SEC(".maps");

u64 dropped = 0;

SEC("tp/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	unsigned int loc = BPF_CORE_READ(ctx, __data_loc_filename) & 0xffff;
	unsigned long arg_start, arg_end, len;
	struct exec_event *e;
	uid_t uid;

	uid = BPF_CORE_READ(task, cred, uid.val);
	if (targ_uid != (uid_t)-1 && uid != targ_uid)
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = BPF_CORE_READ(task, tgid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = uid;
	e->start_time = BPF_CORE_READ(task, start_time);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + loc);

	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	len = arg_end - arg_start;
	if (len > ARGS_LEN - 1)
		len = ARGS_LEN - 1;
	e->args_size = len;
	if (bpf_probe_read_user(e->args, len & (ARGS_LEN - 1), (void *)arg_start))
		e->args_size = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_execve")
int on_execve(struct trace_event_raw_sys_enter *ctx)
{
	u32 uid = bpf_get_current_uid_gid();
	u64 one = 1, *v;

	v = bpf_map_lookup_elem(&attempts, &uid);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&attempts, &uid, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
