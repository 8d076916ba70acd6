// SPDX-License-Identifier: GPL-2.0
/*
 * uprobe_libc: user-space allocation tracing on libc. malloc/calloc entry stores
 * the requested size per thread, the uretprobes pair it with the returned pointer
 * (outstanding allocations in a hash keyed by address), free removes them; a
 * per-process size histogram is kept. The getaddrinfo probe is sleepable
 * (uprobe.s) and copies the host name with bpf_copy_from_user. Sections name the
 * library and symbol as libbpf's auto-attach expects.
 */
#include "parity.h"

const volatile u32 targ_tgid = 0;
const volatile u64 min_size = 0;

struct alloc_info {
	u64 size;
	u64 ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} sizes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 100000);
	__type(key, u64);
	__type(value, struct alloc_info);
} allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, struct log2_hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} lookups SEC(".maps");

static struct log2_hist zero;

static __always_inline bool wanted(void)
{
	return !targ_tgid || (bpf_get_current_pid_tgid() >> 32) == targ_tgid;
}

static __always_inline int enter(u64 size)
{
	u32 tid = bpf_get_current_pid_tgid();

	if (!wanted() || size < min_size)
		return 0;
	bpf_map_update_elem(&sizes, &tid, &size, BPF_ANY);
	return 0;
}

static __always_inline int leave(u64 addr)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id, tgid = id >> 32;
	struct alloc_info info = {};
	struct log2_hist *h;
	u64 *sz;

	sz = bpf_map_lookup_elem(&sizes, &tid);
	if (!sz)
		return 0;
	info.size = *sz;
	info.ts = bpf_ktime_get_ns();
	bpf_map_delete_elem(&sizes, &tid);
	if (!addr)
		return 0;
	bpf_map_update_elem(&allocs, &addr, &info, BPF_ANY);
	h = lookup_or_init(&hists, &tgid, &zero);
	if (h)
		hist_add(h, info.size);
	return 0;
}

SEC("uprobe/libc.so.6:malloc")
int BPF_KPROBE(malloc_enter, size_t size)
{
	return enter(size);
}

SEC("uretprobe/libc.so.6:malloc")
int BPF_KRETPROBE(malloc_exit, void *addr)
{
	return leave((u64)addr);
}

SEC("uprobe/libc.so.6:calloc")
int BPF_KPROBE(calloc_enter, size_t n, size_t size)
{
	return enter(n * size);
}

SEC("uretprobe/libc.so.6:calloc")
int BPF_KRETPROBE(calloc_exit, void *addr)
{
	return leave((u64)addr);
}

SEC("uprobe/libc.so.6:free")
int BPF_KPROBE(free_enter, void *addr)
{
	u64 a = (u64)addr;

	if (!wanted())
		return 0;
	bpf_map_delete_elem(&allocs, &a);
	return 0;
}

SEC("uprobe.s/libc.so.6:getaddrinfo")
int BPF_KPROBE(getaddrinfo_enter, const char *node)
{
	char *buf;

	buf = bpf_ringbuf_reserve(&lookups, 64, 0);
	if (!buf)
		return 0;
	if (bpf_copy_from_user(buf, 64, node))
		buf[0] = 0;
	bpf_ringbuf_submit(buf, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
