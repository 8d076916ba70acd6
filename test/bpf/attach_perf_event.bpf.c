// SPDX-License-Identifier: GPL-2.0
/*
 * attach_perf_event: a sampling program. on_sample (SEC("perf_event")) runs on every sample of
 * the perf event it is attached to and counts it per CPU in the samples array (index: CPU).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} samples SEC(".maps");

SEC("perf_event")
int on_sample(void *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 *n = bpf_map_lookup_elem(&samples, &cpu);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
