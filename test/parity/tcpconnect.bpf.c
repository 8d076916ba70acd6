// SPDX-License-Identifier: GPL-2.0
/*
 * tcpconnect: active TCP connections. kprobe/tcp_v4_connect and tcp_v6_connect
 * save the socket per thread, the kretprobes read the now-filled addresses and
 * ports from sock_common with CO-RE and count per (saddr, daddr, dport) in a hash.
 * ksyscall/connect (BPF_KSYSCALL, which reads the syscall arguments through the
 * LINUX_HAS_SYSCALL_WRAPPER kconfig extern) counts connect(2) calls per process.
 * Loads without CONFIG_KPROBES, attaches only with it.
 */
#include "parity.h"

#define AF_INET 2
#define AF_INET6 10

const volatile u16 targ_port = 0;

struct conn_key {
	u32 saddr;
	u32 daddr;
	u16 dport;
	u16 family;
	u8 saddr6[16];
	u8 daddr6[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct sock *);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct conn_key);
	__type(value, u64);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} connect_calls SEC(".maps");

static __always_inline int enter(struct sock *sk)
{
	u32 tid = bpf_get_current_pid_tgid();

	bpf_map_update_elem(&socks, &tid, &sk, BPF_ANY);
	return 0;
}

static __always_inline int leave(int ret, int family)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct conn_key k = {};
	struct sock **skp, *sk;
	u64 one = 1, *v;

	skp = bpf_map_lookup_elem(&socks, &tid);
	if (!skp)
		return 0;
	sk = *skp;
	bpf_map_delete_elem(&socks, &tid);
	if (ret)
		return 0;
	k.dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (targ_port && k.dport != targ_port)
		return 0;
	k.family = family;
	if (family == AF_INET) {
		k.saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		k.daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&k.saddr6, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
		BPF_CORE_READ_INTO(&k.daddr6, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
	}
	v = bpf_map_lookup_elem(&conns, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&conns, &k, &one, BPF_NOEXIST);
	return 0;
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(tcp_v4_connect, struct sock *sk)
{
	return enter(sk);
}

SEC("kretprobe/tcp_v4_connect")
int BPF_KRETPROBE(tcp_v4_connect_ret, int ret)
{
	return leave(ret, AF_INET);
}

SEC("kprobe/tcp_v6_connect")
int BPF_KPROBE(tcp_v6_connect, struct sock *sk)
{
	return enter(sk);
}

SEC("kretprobe/tcp_v6_connect")
int BPF_KRETPROBE(tcp_v6_connect_ret, int ret)
{
	return leave(ret, AF_INET6);
}

SEC("ksyscall/connect")
int BPF_KSYSCALL(connect_entry, int fd, struct sockaddr *addr, int addrlen)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	u64 one = 1, *v;

	if (addrlen < 2)
		return 0;
	v = bpf_map_lookup_elem(&connect_calls, &tgid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&connect_calls, &tgid, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
