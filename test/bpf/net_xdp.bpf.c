// SPDX-License-Identifier: GPL-2.0
/*
 * net_xdp: XDP programs that count only the test's own packets.
 *
 * xdp_count_a and xdp_count_b (SEC("xdp")) parse Ethernet/IPv4/UDP and add
 * one to counts[0] (a) or counts[1] (b) for every UDP datagram whose
 * destination port is target_port (set in .rodata before load); every packet
 * is passed (XDP_PASS). Two programs so a test can replace one with the other
 * and see where the packets were counted.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 target_port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} counts SEC(".maps");

static __always_inline int is_target(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	if (ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return 0;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return 0;
	return udp->dest == bpf_htons(target_port);
}

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_count_a(struct xdp_md *ctx)
{
	if (is_target(ctx))
		bump(0);
	return XDP_PASS;
}

SEC("xdp")
int xdp_count_b(struct xdp_md *ctx)
{
	if (is_target(ctx))
		bump(1);
	return XDP_PASS;
}

char __license[] SEC("license") = "GPL";
