// SPDX-License-Identifier: GPL-2.0
/*
 * syscount: count system calls per process (an example; readhist is the main demo).
 *
 * Program: tracepoint raw_syscalls/sys_enter (count_syscalls), which fires on
 * every system call entry on every CPU. The map `counts` is keyed by tgid
 * (the process id user space sees); each value holds the number of syscalls
 * made by that process and its command name (comm of the thread that made
 * the first counted call).
 *
 * rodata `target_tgid` restricts counting to one process (0 = all).
 * `ignore_tgid` skips one process, typically the reader itself so that
 * polling the map does not dominate the output (0 = none).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_PROCESSES 10240
#define TASK_COMM_LEN 16

/* Layout of the raw_syscalls/sys_enter tracepoint record (see
 * /sys/kernel/tracing/events/raw_syscalls/sys_enter/format). */
struct sys_enter_args {
	__u64 common;        /* common_type, flags, preempt_count, pid */
	long id;             /* syscall number */
	unsigned long args[6];
};

struct syscount_value {
	__u64 count;
	char comm[TASK_COMM_LEN];
};

const volatile __u32 target_tgid = 0;
const volatile __u32 ignore_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PROCESSES);
	__type(key, __u32); /* tgid */
	__type(value, struct syscount_value);
} counts SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscalls(struct sys_enter_args *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct syscount_value *v, init = {};

	if (target_tgid && tgid != target_tgid)
		return 0;
	if (ignore_tgid && tgid == ignore_tgid)
		return 0;

	v = bpf_map_lookup_elem(&counts, &tgid);
	if (!v) {
		bpf_get_current_comm(init.comm, sizeof(init.comm));
		/* NOEXIST: if another thread won the race, keep its entry. */
		bpf_map_update_elem(&counts, &tgid, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&counts, &tgid);
		if (!v)
			return 0; /* map full */
	}
	__sync_fetch_and_add(&v->count, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
