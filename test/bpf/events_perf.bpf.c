// SPDX-License-Identifier: GPL-2.0
/*
 * events_perf: perf event array producers with exact counts, for the PerfBuffer tests.
 *
 * Program: tracepoint/syscalls/sys_enter_getpid (emit). For every getpid() call by the process
 * whose tgid is in rodata target_tgid: seq = attempts++, then one record of `record_size` bytes
 * (rodata: 8 or 256) {u32 tgid, u32 seq, u8 fill[] = (u8)seq} is written with
 * bpf_perf_event_output(BPF_F_CURRENT_CPU); failures (the CPU's ring is full, the kernel counts
 * the sample as lost) are counted in `failed`.
 *
 * Program: raw_tp (flush, never attached). Run with BPF_PROG_TEST_RUN on a chosen CPU with ctx_in
 * = {u64 seq}: writes one 8/256-byte record {tgid 0, seq} and counts it in attempts/failed the
 * same way. A perf
 * ring reports its lost count (PERF_RECORD_LOST) only when the next sample is written, so a
 * test flushes every CPU after a burst; then received + lost == attempts.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;
const volatile __u32 record_size = 8;

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct rec {
	__u32 tgid;
	__u32 seq;
	__u8 fill[248];
};

__u64 attempts, failed;

static __always_inline int output(void *ctx, __u32 tgid, __u32 seq)
{
	struct rec r = {};
	long err;
	int i;

	r.tgid = tgid;
	r.seq = seq;
	for (i = 0; i < (int)sizeof(r.fill); i++)
		r.fill[i] = (__u8)seq;
	__sync_fetch_and_add(&attempts, 1);
	if (record_size == 256)
		err = bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &r, 256);
	else
		err = bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &r, 8);
	if (err)
		__sync_fetch_and_add(&failed, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int emit(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (target_tgid && tgid != target_tgid)
		return 0;
	return output(ctx, tgid, (__u32)attempts);
}

SEC("raw_tp")
int flush(struct bpf_raw_tracepoint_args *ctx)
{
	return output(ctx, 0, (__u32)ctx->args[0]);
}

char _license[] SEC("license") = "GPL";
