// SPDX-License-Identifier: GPL-2.0
/*
 * attach_iter_map: a bpf_map_elem iterator. dump_elems writes one 8-byte record (key u32,
 * value u32) per element of the map given at attach time (iter_info map_fd; the test passes
 * `numbers`), with bpf_seq_write.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} numbers SEC(".maps");

SEC("iter/bpf_map_elem")
int dump_elems(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u32 *key = ctx->key;
	__u32 *value = ctx->value;
	__u32 rec[2];

	if (!key || !value)
		return 0;
	rec[0] = *key;
	rec[1] = *value;
	bpf_seq_write(seq, rec, sizeof(rec));
	return 0;
}

char _license[] SEC("license") = "GPL";
