// SPDX-License-Identifier: GPL-2.0
/*
 * rwsize: per-process log2 histograms of the byte counts returned by read(2) and
 * write(2), keyed by (tgid, direction). The exit tracepoints' return value is read
 * through a CO-RE field relocation on trace_event_raw_sys_exit; the rodata filter
 * targ_tgid (0 = all) is a const volatile global.
 */
#include "parity.h"

const volatile u32 targ_tgid = 0;
const volatile bool count_failures = false;

struct size_key {
	u32 tgid;
	u32 dir; /* 0 read, 1 write */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct size_key);
	__type(value, struct log2_hist);
} sizes SEC(".maps");

static struct log2_hist zero;
u64 failures = 0;

static __always_inline int record(struct trace_event_raw_sys_exit *ctx, u32 dir)
{
	long ret = BPF_CORE_READ(ctx, ret);
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct log2_hist *h;
	struct size_key k = { .tgid = tgid, .dir = dir };

	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (ret < 0) {
		if (count_failures)
			__sync_fetch_and_add(&failures, 1);
		return 0;
	}
	h = lookup_or_init(&sizes, &k, &zero);
	if (h)
		hist_add(h, ret);
	return 0;
}

SEC("tp/syscalls/sys_exit_read")
int exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return record(ctx, 0);
}

SEC("tp/syscalls/sys_exit_write")
int exit_write(struct trace_event_raw_sys_exit *ctx)
{
	return record(ctx, 1);
}

SEC("tp/syscalls/sys_exit_pread64")
int exit_pread(struct trace_event_raw_sys_exit *ctx)
{
	return record(ctx, 0);
}

SEC("tp/syscalls/sys_exit_pwrite64")
int exit_pwrite(struct trace_event_raw_sys_exit *ctx)
{
	return record(ctx, 1);
}

char LICENSE[] SEC("license") = "GPL";
