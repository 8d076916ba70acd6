// SPDX-License-Identifier: GPL-2.0
/*
 * percpu: per-CPU maps of every kind. Context switches and wakeups are counted in
 * a PERCPU_ARRAY, per-process run time in a PERCPU_HASH (sched_stat_runtime
 * record via CO-RE), and per-comm syscall counts in an LRU_PERCPU_HASH. A
 * sched_migrate_task handler counts migrations per destination CPU in an array.
 */
#include "parity.h"

enum counter { C_SWITCH, C_WAKEUP, C_MIGRATE, C_MAX };

struct comm_key {
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, C_MAX);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, u64);
} runtime SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct comm_key);
	__type(value, u64);
} by_comm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} migrations_to SEC(".maps");

static __always_inline void bump(u32 c)
{
	u64 *v = bpf_map_lookup_elem(&counters, &c);

	if (v)
		*v += 1;
}

SEC("tp/sched/sched_switch")
int on_switch(struct trace_event_raw_sched_switch *ctx)
{
	bump(C_SWITCH);
	return 0;
}

SEC("tp/sched/sched_wakeup")
int on_wakeup(struct trace_event_raw_sched_wakeup_template *ctx)
{
	bump(C_WAKEUP);
	return 0;
}

SEC("tp/sched/sched_migrate_task")
int on_migrate(struct trace_event_raw_sched_migrate_task *ctx)
{
	u32 cpu = BPF_CORE_READ(ctx, dest_cpu);
	u64 *v;

	bump(C_MIGRATE);
	v = bpf_map_lookup_elem(&migrations_to, &cpu);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

SEC("tp/sched/sched_stat_runtime")
int on_runtime(struct trace_event_raw_sched_stat_runtime *ctx)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	u64 rt = BPF_CORE_READ(ctx, runtime), *v;

	v = bpf_map_lookup_elem(&runtime, &tgid);
	if (v)
		*v += rt;
	else
		bpf_map_update_elem(&runtime, &tgid, &rt, BPF_NOEXIST);
	return 0;
}

SEC("tp/raw_syscalls/sys_enter")
int on_syscall(void *ctx)
{
	struct comm_key k = {};
	u64 one = 1, *v;

	bpf_get_current_comm(k.comm, sizeof(k.comm));
	v = bpf_map_lookup_elem(&by_comm, &k);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&by_comm, &k, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
