// SPDX-License-Identifier: GPL-2.0
/*
 * biolatency: block I/O latency from tp_btf/block_rq_insert, block_rq_issue and
 * block_rq_complete. The request's disk comes from request->q->disk on current
 * kernels or request->rq_disk before 5.17 (a ___pre517 flavour chosen with
 * bpf_core_field_exists); histograms are kept per (disk major:minor, op), the op
 * decoded from cmd_flags with the kernel's enum req_op values (bpf_core_enum_value).
 */
#include "parity.h"

#define MINORBITS 20

const volatile bool per_disk = true;
const volatile bool per_flag = true;
const volatile bool from_insert = false;

struct request___pre517 {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

struct disk_key {
	u32 dev;
	u32 op;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct request *);
	__type(value, u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct disk_key);
	__type(value, struct log2_hist);
} hists SEC(".maps");

static struct log2_hist zero;

static __always_inline struct gendisk *rq_disk(struct request *rq)
{
	if (bpf_core_field_exists(((struct request___pre517 *)rq)->rq_disk))
		return BPF_CORE_READ((struct request___pre517 *)rq, rq_disk);
	return BPF_CORE_READ(rq, q, disk);
}

static __always_inline int trace_start(struct request *rq, bool insert)
{
	u64 ts;

	if (insert != from_insert)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &rq, &ts, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(rq_insert, struct request *rq)
{
	return trace_start(rq, true);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(rq_issue, struct request *rq)
{
	return trace_start(rq, false);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	struct disk_key key = {};
	struct log2_hist *h;
	struct gendisk *disk;
	u64 *tsp, delta;
	u32 flags;

	tsp = bpf_map_lookup_elem(&start, &rq);
	if (!tsp)
		return 0;
	delta = (bpf_ktime_get_ns() - *tsp) / 1000;
	bpf_map_delete_elem(&start, &rq);

	if (per_disk) {
		disk = rq_disk(rq);
		if (disk)
			key.dev = BPF_CORE_READ(disk, major) << MINORBITS | BPF_CORE_READ(disk, first_minor);
	}
	if (per_flag) {
		flags = BPF_CORE_READ(rq, cmd_flags);
		if ((flags & 0xff) == bpf_core_enum_value(enum req_op, REQ_OP_WRITE))
			key.op = 1;
		else if ((flags & 0xff) == bpf_core_enum_value(enum req_op, REQ_OP_FLUSH))
			key.op = 2;
		else if ((flags & 0xff) == bpf_core_enum_value(enum req_op, REQ_OP_DISCARD))
			key.op = 3;
	}
	h = lookup_or_init(&hists, &key, &zero);
	if (h)
		hist_add(h, delta);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
