// SPDX-License-Identifier: GPL-2.0
/*
 * btf_maps: one BTF-defined map (SEC(".maps")) of each map type a program can
 * declare simply, so a loader's map creation can be checked type by type.
 *
 * Concept under test: decoding BTF map definitions (type, key/value types or
 * sizes, max_entries, map_flags, map_extra, pinning, inner map templates and
 * `values` initialisers for prog arrays and map-in-maps) and creating each
 * map in the kernel.
 *
 * Program: tracepoint syscalls/sys_enter_getppid (touch_maps) touches a few
 * of the maps on every getppid() from the process whose tgid is in the
 * rodata `target_tgid` (0 = any process):
 *   counters[0]         += 1  (array)
 *   percpu_counters[0]  += 1  (per-CPU array; sum over CPUs)
 *   calls[tgid]         += 1  (hash)
 *   task_calls(task)    += 1  (task storage of the calling thread)
 *   inner_a[0]          += 1  (through outer_array[0], map in map)
 *   events                    (ring buffer: struct event below)
 * then tail-calls jump_table[0] = tail_target, which does counters[1] += 1.
 * So after N getppid() calls: counters = {N, N}, calls[tgid] = N, N events.
 *
 * Map types newer than the installed UAPI headers are spelled numerically.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TSBPF_MAP_TYPE_CGRP_STORAGE 32 /* BPF_MAP_TYPE_CGRP_STORAGE, Linux 6.2 */

const volatile __u32 target_tgid = 0;

/* ---- plain key/value maps ---- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* tgid */
	__type(value, __u64); /* getppid() calls */
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} percpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} percpu_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} lru_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} lru_percpu_hash SEC(".maps");

/* Longest-prefix match over IPv4 addresses; the kernel requires NO_PREALLOC. */
struct ipv4_lpm_key {
	__u32 prefixlen; /* in bits */
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ipv4_lpm_key);
	__type(value, __u32);
} lpm_trie SEC(".maps");

/* ---- keyless maps ---- */

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 16);
	__type(value, __u32);
} stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 16);
	__type(value, __u32);
} queue SEC(".maps");

/* map_extra: number of hash functions (low 4 bits). */
struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 256);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom SEC(".maps");

/* ---- event buffers ---- */

struct event {
	__u32 tgid;
	__u32 tid;
	__u64 seq; /* value of counters[0] after this call */
};

/* Size in bytes: a power of two and a multiple of the page size. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 4);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} user_events SEC(".maps");

/* No max_entries: loaders use the number of possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

/* ---- program array, initialised with a program of this object ---- */

int tail_target(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
} jump_table SEC(".maps") = {
	.values = { [0] = (void *)&tail_target },
};

/* ---- maps of maps ---- */

/* A named inner definition, also created as a map of its own... */
struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
};
struct inner_array inner_a SEC(".maps");

/* ...used as the template and initial value of slot 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer_array SEC(".maps") = {
	.values = { [0] = &inner_a },
};

/* Anonymous inner template, no initial values. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 16);
		__type(key, __u32);
		__type(value, __u32);
	});
} outer_hash SEC(".maps");

/* ---- XDP redirect targets ---- */

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32); /* ifindex */
} devmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32); /* ifindex */
} devmap_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32); /* queue size */
} cpumap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32); /* AF_XDP socket fd */
} xskmap SEC(".maps");

/* ---- socket maps ---- */

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32); /* socket fd */
} sockmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32); /* socket fd */
} sockhash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64); /* socket fd (or cookie on lookup) */
} reuseport_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32); /* cgroup fd */
} cgroup_array SEC(".maps");

/* ---- local storage: max_entries 0, NO_PREALLOC, key is an fd ---- */

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, struct bpf_cgroup_storage_key);
	__type(value, __u64);
} cgroup_storage SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE);
	__type(key, struct bpf_cgroup_storage_key);
	__type(value, __u64);
} percpu_cgroup_storage SEC(".maps");

struct {
	__uint(type, TSBPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} cgrp_storage SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int); /* pidfd from user space */
	__type(value, __u64);
} task_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int); /* file fd from user space */
	__type(value, __u64);
} inode_storage SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int); /* socket fd from user space */
	__type(value, __u64);
} sk_storage SEC(".maps");

/* ---- stack traces ---- */

#define STACK_DEPTH 127 /* PERF_MAX_STACK_DEPTH */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 128);
	__type(key, __u32); /* stack id */
	__uint(value_size, STACK_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

/* ---- pinned by name: <pin root>/tsbpf_pinned, reused if it exists ---- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tsbpf_pinned SEC(".maps");

/* ---- programs ---- */

static __always_inline void add_at(void *map, __u32 key)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int touch_maps(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u64 one = 1, *v;
	struct event *e;
	void *inner;
	__u32 zero = 0;

	if (target_tgid && tgid != target_tgid)
		return 0;

	add_at(&counters, 0);
	add_at(&percpu_counters, 0);

	v = bpf_map_lookup_elem(&calls, &tgid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&calls, &tgid, &one, BPF_NOEXIST);

	v = bpf_task_storage_get(&task_calls, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (v)
		__sync_fetch_and_add(v, 1);

	inner = bpf_map_lookup_elem(&outer_array, &zero);
	if (inner)
		add_at(inner, 0);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->tgid = tgid;
		e->tid = (__u32)id;
		v = bpf_map_lookup_elem(&counters, &zero);
		e->seq = v ? *v : 0;
		bpf_ringbuf_submit(e, 0);
	}

	bpf_tail_call(ctx, &jump_table, 0);
	return 0; /* only reached if jump_table[0] is empty */
}

/* Bare "tracepoint" section: loaded, never attached; reached by tail call. */
SEC("tracepoint")
int tail_target(void *ctx)
{
	add_at(&counters, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
