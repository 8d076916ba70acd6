// SPDX-License-Identifier: GPL-2.0
/*
 * net_cgroup: cgroup_skb programs that count the test's own packets.
 *
 * cg_ingress (cgroup_skb/ingress) adds one to counts[0] for every IPv4/UDP
 * packet delivered to a socket of the cgroup whose destination port is
 * target_port; cg_egress (cgroup_skb/egress) adds to counts[1] for every such
 * packet a socket of the cgroup sends; cg_egress_b (cgroup_skb/egress) does
 * the same into counts[2], for tests with two programs on one hook. The packet
 * starts at the IP header. All return 1 (allow).
 */
#include <linux/bpf.h>
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
	__uint(max_entries, 3);
} counts SEC(".maps");

static __always_inline void count_if_target(struct __sk_buff *skb, __u32 slot)
{
	struct iphdr ip;
	struct udphdr udp;
	__u64 *v;

	if (skb->protocol != bpf_htons(0x0800))
		return;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP || ip.ihl != 5)
		return;
	if (bpf_skb_load_bytes(skb, sizeof(ip), &udp, sizeof(udp)) || udp.dest != bpf_htons(target_port))
		return;
	v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("cgroup_skb/ingress")
int cg_ingress(struct __sk_buff *skb)
{
	count_if_target(skb, 0);
	return 1;
}

SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	count_if_target(skb, 1);
	return 1;
}

SEC("cgroup_skb/egress")
int cg_egress_b(struct __sk_buff *skb)
{
	count_if_target(skb, 2);
	return 1;
}

char __license[] SEC("license") = "GPL";
