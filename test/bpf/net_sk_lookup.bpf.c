// SPDX-License-Identifier: GPL-2.0
/*
 * net_sk_lookup: socket steering with sk_lookup.
 *
 * steer (SEC("sk_lookup")): for a UDP lookup of local port from_port (set in
 * .rodata), picks the socket in redir_map[0] (a SOCKMAP the test fills with a
 * UDP socket bound to another port) with bpf_sk_assign, and adds one to
 * steered[0]. Every other lookup proceeds normally (SK_PASS without a
 * socket).
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

const volatile __u16 from_port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} redir_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} steered SEC(".maps");

SEC("sk_lookup")
int steer(struct bpf_sk_lookup *ctx)
{
	__u32 zero = 0;
	struct bpf_sock *sk;
	__u64 *n;
	long err;

	if (ctx->protocol != IPPROTO_UDP || ctx->local_port != from_port)
		return SK_PASS;
	sk = bpf_map_lookup_elem(&redir_map, &zero);
	if (!sk)
		return SK_PASS;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	if (!err) {
		n = bpf_map_lookup_elem(&steered, &zero);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
	return SK_PASS;
}

char __license[] SEC("license") = "GPL";
