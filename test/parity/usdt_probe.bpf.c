// SPDX-License-Identifier: GPL-2.0
/*
 * usdt_probe: USDT probes with libbpf's usdt.bpf.h (BPF_USDT). The header brings
 * its own maps (__bpf_usdt_specs, __bpf_usdt_ip_to_spec_id, both __weak) and the
 * LINUX_HAS_BPF_COOKIE kconfig extern; the argument fetching is done by the
 * spec-driven bpf_usdt_arg(). Modelled on tracing a runtime's GC and
 * method-entry markers: counts per probe and a latency histogram between a
 * start and a done marker.
 */
#include "parity.h"
#include <bpf/usdt.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} gc_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct log2_hist);
} gc_hist SEC(".maps");

u64 method_calls = 0;
u64 last_arg = 0;

SEC("usdt/libc.so.6:libc:setjmp")
int BPF_USDT(on_setjmp, void *env, int savemask, void *pc)
{
	__sync_fetch_and_add(&method_calls, 1);
	last_arg = savemask;
	return 0;
}

SEC("usdt")
int BPF_USDT(gc_begin, int kind)
{
	u32 tid = bpf_get_current_pid_tgid();
	u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&gc_start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("usdt")
int BPF_USDT(gc_done, int kind)
{
	u32 tid = bpf_get_current_pid_tgid(), zero = 0;
	struct log2_hist *h;
	u64 *tsp;
	long n = bpf_usdt_arg_cnt(ctx);

	tsp = bpf_map_lookup_elem(&gc_start, &tid);
	if (!tsp)
		return 0;
	h = bpf_map_lookup_elem(&gc_hist, &zero);
	if (h && n >= 0)
		hist_add(h, (bpf_ktime_get_ns() - *tsp) / 1000);
	bpf_map_delete_elem(&gc_start, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
