// SPDX-License-Identifier: GPL-2.0
/*
 * net_socket: a socket filter (SEC("socket")) for a UDP socket. On a UDP
 * socket the packet starts at the UDP header, so the first payload byte is at
 * offset 8. By that byte:
 *   'D' -> 0: the datagram is dropped
 *   'T' -> 12: the datagram is cut to its header plus 4 payload bytes
 *   else -> skb->len: kept whole
 * seen[0] counts every datagram the filter ran on, seen[1] the dropped ones.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
} seen SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&seen, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("socket")
int udp_filter(struct __sk_buff *skb)
{
	char first = 0;

	bump(0);
	if (bpf_skb_load_bytes(skb, 8, &first, 1))
		return skb->len;
	if (first == 'D') {
		bump(1);
		return 0;
	}
	if (first == 'T')
		return 12;
	return skb->len;
}

char __license[] SEC("license") = "GPL";
