// SPDX-License-Identifier: GPL-2.0
/*
 * net_netfilter: a netfilter hook program (SEC("netfilter"), Linux 6.4+ with
 * CONFIG_NETFILTER_BPF_LINK). nf_count adds one to hits[0] for every packet
 * at the hook it is attached to and accepts it (NF_ACCEPT = 1).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} hits SEC(".maps");

struct bpf_nf_ctx;

SEC("netfilter")
int nf_count(struct bpf_nf_ctx *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&hits, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 1;
}

char __license[] SEC("license") = "GPL";
