// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * xdp_counter: the packet counter from the seed "TIL: The basics of writing
 * eBPF programs" (xdp-packet-counter.txt), itself derived from the ebpf-go
 * getting-started example.
 *
 * An XDP program, count_packets, adds one to the single slot of the BTF
 * array map pkt_count for every packet on the interface it is attached to,
 * and lets the packet through (XDP_PASS). The compiled bytecode is the one
 * the seed walks through with llvm-objdump -d: key on the stack, ld_imm64 of
 * the map, call 1 (bpf_map_lookup_elem), null check, atomic add, r0 = 2.
 *
 * Built for cpu v2 (no ALU32) so the bytes match the seed's listing exactly:
 * with the default v3, "r1 = 0" and "r0 = 2" become the 32-bit "w1 = 0" and
 * "w0 = 2" (opcode 0xb4 instead of 0xb7).
 */
// build-bpf: -mcpu=v2
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* One slot: key 0 -> number of packets seen. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} pkt_count SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&pkt_count, &key);

	/* The lookup may return NULL; the verifier insists on the check. */
	if (count)
		__atomic_fetch_add(count, 1, __ATOMIC_RELAXED);

	return XDP_PASS;
}

char __license[] SEC("license") = "Dual MIT/GPL";
