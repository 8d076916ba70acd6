// SPDX-License-Identifier: GPL-2.0
/*
 * core_bitfields: CO-RE bitfield reads (BPF_CORE_READ_BITFIELD_PROBED and the
 * direct BPF_CORE_READ_BITFIELD on a BTF-typed pointer), which use the
 * byte_size / lshift / rshift / signed relocation kinds.
 *  - struct sock's sk_protocol was an 8-bit bitfield before 5.6 and a u16 since:
 *    bpf_core_field_size on the new layout decides which read to use;
 *  - task_struct flag bits (in_execve, in_iowait, sched_reset_on_fork) read from
 *    the current task in a tracepoint and from an iterated task in iter/task.
 */
#include "parity.h"

struct sock___pre56 {
	unsigned int sk_padding: 1, sk_kern_sock: 1, sk_no_check_tx: 1, sk_no_check_rx: 1, sk_userlocks: 4,
		sk_protocol: 8, sk_type: 16;
} __attribute__((preserve_access_index));

struct task_bits {
	u32 pid;
	u8 in_execve;
	u8 in_iowait;
	u8 reset_on_fork;
	u8 kern_sock;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, struct task_bits);
} bits SEC(".maps");

u64 tcp_changes = 0;
u64 kernel_socket_changes = 0;

static __always_inline u16 sock_protocol(struct sock *sk)
{
	if (bpf_core_field_size(sk->sk_protocol) == 2)
		return BPF_CORE_READ(sk, sk_protocol);
	return BPF_CORE_READ_BITFIELD_PROBED((struct sock___pre56 *)sk, sk_protocol);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state, const struct sock *csk, int oldstate, int newstate)
{
	struct sock *sk = (struct sock *)csk;

	if (sock_protocol(sk) == IPPROTO_TCP)
		__sync_fetch_and_add(&tcp_changes, 1);
	if (BPF_CORE_READ_BITFIELD(sk, sk_kern_sock))
		__sync_fetch_and_add(&kernel_socket_changes, 1);
	return 0;
}

SEC("tp/sched/sched_process_exec")
int exec_bits(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct task_bits b = {};

	b.pid = BPF_CORE_READ(t, pid);
	b.in_execve = BPF_CORE_READ_BITFIELD_PROBED(t, in_execve);
	b.in_iowait = BPF_CORE_READ_BITFIELD_PROBED(t, in_iowait);
	b.reset_on_fork = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork);
	bpf_map_update_elem(&bits, &b.pid, &b, BPF_ANY);
	return 0;
}

SEC("iter/task")
int dump_bits(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *t = ctx->task;
	u64 in_iowait, reset;

	if (!t)
		return 0;
	in_iowait = BPF_CORE_READ_BITFIELD(t, in_iowait);
	reset = BPF_CORE_READ_BITFIELD(t, sched_reset_on_fork);
	BPF_SEQ_PRINTF(seq, "%d %llu %llu\n", t->pid, in_iowait, reset);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
