// SPDX-License-Identifier: GPL-2.0
/*
 * opensnoop: openat(2) and openat2(2) calls with their result. The enter
 * tracepoints save the flags and the user pointer of the path in a hash keyed by
 * thread id; the exit tracepoint sends a ring-buffer record with the path copied
 * from user memory, the return value and the comm. Arguments are read from
 * trace_event_raw_sys_enter.args[] with CO-RE.
 */
#include "parity.h"

const volatile u32 targ_tgid = 0;
const volatile bool failed_only = false;

struct args_t {
	const char *fname;
	int flags;
	int dfd;
};

struct open_event {
	u64 ts;
	u32 pid;
	u32 uid;
	int ret;
	int flags;
	int dfd;
	char comm[TASK_COMM_LEN];
	char fname[NAME_LEN * 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct args_t);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 512 * 1024);
} events SEC(".maps");

static __always_inline int enter(struct trace_event_raw_sys_enter *ctx, bool is_openat2)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id;
	struct args_t a = {};

	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	a.dfd = (int)BPF_CORE_READ(ctx, args[0]);
	a.fname = (const char *)BPF_CORE_READ(ctx, args[1]);
	if (is_openat2) {
		struct open_how how = {};
		bpf_probe_read_user(&how, sizeof(how), (void *)BPF_CORE_READ(ctx, args[2]));
		a.flags = how.flags;
	} else {
		a.flags = (int)BPF_CORE_READ(ctx, args[2]);
	}
	bpf_map_update_elem(&inflight, &tid, &a, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_enter_openat")
int enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return enter(ctx, false);
}

SEC("tp/syscalls/sys_enter_openat2")
int enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	return enter(ctx, true);
}

static __always_inline int exit_common(struct trace_event_raw_sys_exit *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id;
	struct open_event *e;
	struct args_t *a;
	int ret;

	a = bpf_map_lookup_elem(&inflight, &tid);
	if (!a)
		return 0;
	ret = BPF_CORE_READ(ctx, ret);
	if (failed_only && ret >= 0)
		goto out;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto out;
	e->ts = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->uid = bpf_get_current_uid_gid();
	e->ret = ret;
	e->flags = a->flags;
	e->dfd = a->dfd;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname);
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

SEC("tp/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return exit_common(ctx);
}

SEC("tp/syscalls/sys_exit_openat2")
int exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return exit_common(ctx);
}

char LICENSE[] SEC("license") = "GPL";
