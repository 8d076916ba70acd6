/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the parity corpus (the test/parity sources): the includes every
 * program needs, a log2 histogram and the usual "task" accessors written with
 * CO-RE reads. Everything here is static inline, so each object carries its own
 * copy and its own CO-RE relocations.
 */
#ifndef PARITY_H
#define PARITY_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define MAX_SLOTS 27
#define NAME_LEN 128

struct log2_hist {
	u32 slots[MAX_SLOTS];
	u64 total;
	u64 count;
};

/* floor(log2(v)), 0 for v = 0, capped at MAX_SLOTS - 1. */
static __always_inline u32 log2_slot(u64 v)
{
	u32 n = 0;

	if (v >> 32) { v >>= 32; n += 32; }
	if (v >> 16) { v >>= 16; n += 16; }
	if (v >> 8)  { v >>= 8;  n += 8; }
	if (v >> 4)  { v >>= 4;  n += 4; }
	if (v >> 2)  { v >>= 2;  n += 2; }
	if (v >> 1)  { n += 1; }
	return n < MAX_SLOTS ? n : MAX_SLOTS - 1;
}

static __always_inline void hist_add(struct log2_hist *h, u64 v)
{
	u32 s = log2_slot(v);

	if (s < MAX_SLOTS)
		__sync_fetch_and_add(&h->slots[s], 1);
	__sync_fetch_and_add(&h->total, v);
	__sync_fetch_and_add(&h->count, 1);
}

/* Returns the value stored under key in a hash map, inserting a zeroed one first if absent. */
static __always_inline void *lookup_or_init(void *map, const void *key, const void *zero)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

/* Process id of the parent of the current task (through real_parent). */
static __always_inline u32 current_ppid(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, real_parent, tgid);
}

#endif /* PARITY_H */
