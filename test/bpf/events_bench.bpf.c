// SPDX-License-Identifier: GPL-2.0
/*
 * events_bench: a sustained producer for the ring buffer / perf buffer benchmarks (bench/).
 *
 * Program: tracepoint/syscalls/sys_enter_getpid (produce). For every getpid() call by the process
 * whose tgid is in target_tgid (.bss, set between runs), a bpf_loop writes `batch` (rodata) records of
 * `record_size` bytes (8 or 256) into the ring buffer `rb` (mode 0) or the perf event array
 * `pb` (mode 1, rodata). Records the ring could not take are counted in `dropped`, written ones
 * in `produced`. A child calling getpid() in a tight loop keeps the rings full, so the reader's
 * rate is its consumption capacity.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 target_tgid;
const volatile __u32 record_size = 8;
const volatile __u32 batch = 64;
const volatile __u32 mode = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");

__u64 produced, dropped;

struct rec {
	__u64 seq;
	__u8 fill[248];
};

struct loop_ctx {
	void *ctx;
	__u64 ok, fail;
};

static long one(__u32 i, void *data)
{
	struct loop_ctx *c = data;

	if (mode == 0) {
		if (record_size == 256) {
			struct rec *r = bpf_ringbuf_reserve(&rb, 256, 0);
			if (!r) {
				c->fail++;
				return 0;
			}
			r->seq = i;
			bpf_ringbuf_submit(r, 0);
		} else {
			__u64 *r = bpf_ringbuf_reserve(&rb, 8, 0);
			if (!r) {
				c->fail++;
				return 0;
			}
			*r = i;
			bpf_ringbuf_submit(r, 0);
		}
	} else {
		struct rec r;
		long err;

		r.seq = i;
		if (record_size == 256)
			err = bpf_perf_event_output(c->ctx, &pb, BPF_F_CURRENT_CPU, &r, 256);
		else
			err = bpf_perf_event_output(c->ctx, &pb, BPF_F_CURRENT_CPU, &r, 8);
		if (err) {
			c->fail++;
			return 0;
		}
	}
	c->ok++;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int produce(void *ctx)
{
	struct loop_ctx c = { .ctx = ctx };

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	bpf_loop(batch, one, &c, 0);
	__sync_fetch_and_add(&produced, c.ok);
	__sync_fetch_and_add(&dropped, c.fail);
	return 0;
}

char _license[] SEC("license") = "GPL";
