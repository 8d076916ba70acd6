// SPDX-License-Identifier: GPL-2.0
/*
 * sigsnoop: signals sent, two ways. tp/signal/signal_generate sees every signal
 * the kernel generates (record fields via CO-RE); kill(2) and tgkill(2) are traced
 * at syscall entry and exit so the result can be paired with the arguments
 * (hash keyed by thread id). tp_btf/signal_generate reads the target task and the
 * siginfo directly. Records go to a ring buffer; per-signal counts to an array.
 */
#include "parity.h"

#define MAX_SIG 65

const volatile u32 targ_sig = 0;
const volatile bool failed_only = false;

struct sig_event {
	u32 pid;
	u32 tpid;
	int sig;
	int ret;
	int code;
	char comm[TASK_COMM_LEN];
	char tcomm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct sig_event);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 128 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SIG);
	__type(key, u32);
	__type(value, u64);
} per_signal SEC(".maps");

static __always_inline void count_sig(u32 sig)
{
	u64 *v;

	if (sig >= MAX_SIG)
		return;
	v = bpf_map_lookup_elem(&per_signal, &sig);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tp/signal/signal_generate")
int sig_generate(struct trace_event_raw_signal_generate *ctx)
{
	struct sig_event *e;
	int sig = BPF_CORE_READ(ctx, sig);
	int result = BPF_CORE_READ(ctx, result);

	if (targ_sig && sig != targ_sig)
		return 0;
	if (failed_only && result == 0)
		return 0;
	count_sig(sig);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->tpid = BPF_CORE_READ(ctx, pid);
	e->sig = sig;
	e->ret = result;
	e->code = BPF_CORE_READ(ctx, code);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->tcomm, sizeof(e->tcomm), ctx->comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/signal_generate")
int BPF_PROG(sig_generate_btf, int sig, struct kernel_siginfo *info, struct task_struct *t, int group, int result)
{
	if (targ_sig && sig != targ_sig)
		return 0;
	if (BPF_CORE_READ(info, si_code) > 0 && BPF_CORE_READ(t, tgid) == 1)
		count_sig(0);
	return 0;
}

static __always_inline int kill_enter(struct trace_event_raw_sys_enter *ctx, int tpid_arg, int sig_arg)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct sig_event e = {};

	e.pid = bpf_get_current_pid_tgid() >> 32;
	e.tpid = BPF_CORE_READ(ctx, args[tpid_arg]);
	e.sig = BPF_CORE_READ(ctx, args[sig_arg]);
	if (targ_sig && e.sig != targ_sig)
		return 0;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_map_update_elem(&pending, &tid, &e, BPF_ANY);
	return 0;
}

static __always_inline int kill_exit(struct trace_event_raw_sys_exit *ctx)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct sig_event *p, *e;
	int ret = BPF_CORE_READ(ctx, ret);

	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	if (failed_only && ret >= 0)
		goto out;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto out;
	*e = *p;
	e->ret = ret;
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

SEC("tp/syscalls/sys_enter_kill")
int kill_entry(struct trace_event_raw_sys_enter *ctx)
{
	return kill_enter(ctx, 0, 1);
}

SEC("tp/syscalls/sys_exit_kill")
int kill_return(struct trace_event_raw_sys_exit *ctx)
{
	return kill_exit(ctx);
}

SEC("tp/syscalls/sys_enter_tgkill")
int tgkill_entry(struct trace_event_raw_sys_enter *ctx)
{
	return kill_enter(ctx, 1, 2);
}

SEC("tp/syscalls/sys_exit_tgkill")
int tgkill_return(struct trace_event_raw_sys_exit *ctx)
{
	return kill_exit(ctx);
}

char LICENSE[] SEC("license") = "GPL";
