// SPDX-License-Identifier: GPL-2.0
/*
 * irqtime: time spent in hard and soft interrupts. Softirqs from tp_btf
 * softirq_entry/softirq_exit (vector as argument), hard IRQs from
 * tp/irq/irq_handler_entry/exit keyed by irq number (record fields via CO-RE),
 * and raw_tp/irq_handler_entry registering the handler's name from struct
 * irqaction; start times in per-CPU arrays (interrupts do not migrate), totals
 * per vector and per handler, optionally as histograms.
 */
#include "parity.h"

#define NR_SOFTIRQS 10

const volatile bool as_hist = false;

struct irq_key {
	char name[32];
};

struct irq_val {
	u64 count;
	u64 total_ns;
	struct log2_hist hist;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SOFTIRQS);
	__type(key, u32);
	__type(value, struct irq_val);
} softirqs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct irq_key);
	__type(value, struct irq_val);
} hardirqs SEC(".maps");

static struct irq_val zero;

static __always_inline void stamp(u32 which)
{
	u64 *ts = bpf_map_lookup_elem(&start, &which);

	if (ts)
		*ts = bpf_ktime_get_ns();
}

static __always_inline u64 since(u32 which)
{
	u64 *ts = bpf_map_lookup_elem(&start, &which);

	if (!ts || !*ts)
		return 0;
	return bpf_ktime_get_ns() - *ts;
}

static __always_inline void account(struct irq_val *v, u64 delta)
{
	v->count++;
	v->total_ns += delta;
	if (as_hist)
		hist_add(&v->hist, delta / 1000);
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(softirq_entry, unsigned int vec)
{
	stamp(0);
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(softirq_exit, unsigned int vec)
{
	u64 delta = since(0);
	struct irq_val *v;

	if (!delta || vec >= NR_SOFTIRQS)
		return 0;
	v = bpf_map_lookup_elem(&softirqs, &vec);
	if (v)
		account(v, delta);
	return 0;
}

SEC("tp/irq/irq_handler_entry")
int irq_entry(struct trace_event_raw_irq_handler_entry *ctx)
{
	stamp(1);
	return 0;
}

SEC("tp/irq/irq_handler_exit")
int irq_exit(struct trace_event_raw_irq_handler_exit *ctx)
{
	u64 delta = since(1);
	struct irq_key k = {};
	struct irq_val *v;

	if (!delta)
		return 0;
	/* The exit record has no name: use the irq number, formatted by hand. */
	k.name[0] = 'i';
	k.name[1] = 'r';
	k.name[2] = 'q';
	k.name[3] = '0' + ((u32)BPF_CORE_READ(ctx, irq) % 10);
	v = lookup_or_init(&hardirqs, &k, &zero);
	if (v)
		account(v, delta);
	return 0;
}

SEC("raw_tp/irq_handler_entry")
int irq_entry_named(struct bpf_raw_tracepoint_args *ctx)
{
	struct irqaction *action = (struct irqaction *)ctx->args[1];
	struct irq_key k = {};

	bpf_probe_read_kernel_str(k.name, sizeof(k.name), BPF_CORE_READ(action, name));
	lookup_or_init(&hardirqs, &k, &zero);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
