// SPDX-License-Identifier: GPL-2.0
/*
 * test_run: packet programs with deterministic results, for
 * BPF_PROG_TEST_RUN (data_in -> retval, data_out, ctx_out). Nothing here is
 * attached anywhere.
 *
 * xdp_swap_macs (XDP), on the Ethernet frame:
 *   shorter than 14 bytes           -> XDP_DROP (1), data unchanged
 *   EtherType IPv4 (0x0800)         -> bytes 0-5 and 6-11 swapped (dst <-> src
 *                                      MAC), XDP_TX (3)
 *   anything else                   -> XDP_PASS (2), data unchanged
 *
 * tc_mark (SEC("tc"), sched_cls), on the Ethernet frame:
 *   EtherType IPv4 -> source MAC set to 02:00:00:00:00:01, skb->mark set to
 *                     0x7e57 (visible in ctx_out), TC_ACT_OK (0)
 *   anything else  -> TC_ACT_SHOT (2), data unchanged
 *
 * sock_len (SEC("socket"), socket filter): returns the number of bytes to
 * keep: skb->len for IPv4, 0 (drop) otherwise. In a test run the kernel has
 * already pulled the Ethernet header, so for IPv4 the result is the input
 * length minus 14.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int xdp_swap_macs(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	static const unsigned char new_src[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x01 };

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_SHOT;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_SHOT;

	__builtin_memcpy(eth->h_source, new_src, ETH_ALEN);
	skb->mark = 0x7e57;
	return TC_ACT_OK;
}

SEC("socket")
int sock_len(struct __sk_buff *skb)
{
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	return skb->len;
}

char _license[] SEC("license") = "GPL";
