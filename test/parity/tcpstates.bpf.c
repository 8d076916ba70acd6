// SPDX-License-Identifier: GPL-2.0
/*
 * tcpstates: TCP state transitions from tp/sock/inet_sock_set_state. The
 * tracepoint gives the old and new state and the socket pointer; addresses, ports
 * and the owning family are read from struct sock / sock_common with CO-RE, the
 * time spent in the previous state comes from a hash keyed by the socket, and
 * rtt/cwnd from tcp_sock. Records go to a ring buffer.
 */
#include "parity.h"

#define AF_INET 2
#define AF_INET6 10

const volatile short target_family = 0;
const volatile u16 target_port = 0;

struct state_event {
	u64 skaddr;
	u64 ts_us;
	u64 delta_us;
	u32 pid;
	int oldstate;
	int newstate;
	u16 family;
	u16 sport;
	u16 dport;
	u8 saddr[16];
	u8 daddr[16];
	u32 srtt_us;
	u32 snd_cwnd;
	u64 bytes_received;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct sock *);
	__type(value, u64);
} since SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tp/sock/inet_sock_set_state")
int on_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct sock *sk = (struct sock *)BPF_CORE_READ(ctx, skaddr);
	u16 family = BPF_CORE_READ(ctx, family);
	int newstate = BPF_CORE_READ(ctx, newstate);
	u16 sport = BPF_CORE_READ(ctx, sport);
	u16 dport = BPF_CORE_READ(ctx, dport);
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct state_event *e;
	u64 *tsp, now;

	if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP)
		return 0;
	if (target_family && family != target_family)
		return 0;
	if (target_port && sport != target_port && dport != target_port)
		return 0;

	now = bpf_ktime_get_ns();
	tsp = bpf_map_lookup_elem(&since, &sk);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto update;
	e->skaddr = (u64)sk;
	e->ts_us = now / 1000;
	e->delta_us = tsp ? (now - *tsp) / 1000 : 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->oldstate = BPF_CORE_READ(ctx, oldstate);
	e->newstate = newstate;
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO(e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO(e->daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
		BPF_CORE_READ_INTO(e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
	}
	e->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	e->snd_cwnd = BPF_CORE_READ(tp, snd_cwnd);
	e->bytes_received = BPF_CORE_READ(tp, bytes_received);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
update:
	if (newstate == TCP_CLOSE)
		bpf_map_delete_elem(&since, &sk);
	else
		bpf_map_update_elem(&since, &sk, &now, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
