// SPDX-License-Identifier: GPL-2.0
/*
 * net_tc: traffic-control classifiers (sched_cls, direct action) that count
 * only the test's own packets.
 *
 * tc_count_ingress adds one to counts[0], tc_count_egress to counts[1], for
 * every Ethernet/IPv4/UDP packet whose destination port is target_port (set
 * in .rodata before load). Both return TC_ACT_OK (0): traffic flows on.
 * tc_count_other adds to counts[2] instead (for replacing a program in place).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 target_port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 3);
} counts SEC(".maps");

static __always_inline int is_target(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
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

SEC("tc")
int tc_count_ingress(struct __sk_buff *skb)
{
	if (is_target(skb))
		bump(0);
	return TC_ACT_OK;
}

SEC("tc")
int tc_count_egress(struct __sk_buff *skb)
{
	if (is_target(skb))
		bump(1);
	return TC_ACT_OK;
}

SEC("tc")
int tc_count_other(struct __sk_buff *skb)
{
	if (is_target(skb))
		bump(2);
	return TC_ACT_OK;
}

char __license[] SEC("license") = "GPL";
