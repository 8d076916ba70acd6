// SPDX-License-Identifier: GPL-2.0
/*
 * typed_values: data the codec tests decode.
 *
 * .data holds rec_init = REC_INIT(5) and a double, written by the compiler
 * (the layout test reads them from the ELF). Program: tracepoint
 * syscalls/sys_enter_getppid (on_getppid). For each call by the process whose
 * tgid is cfg.tgid (rodata, set before load), with n = the call count so far:
 *   recs[{tgid, cfg.cookie}] = REC_INIT(n)     (hash map, struct key -> struct rec)
 *   last = REC_INIT(n)                         (.bss)
 *   counter = n, last_color = cfg.color, comm = current comm (.bss)
 *   per_cpu[0] = n                             (per-CPU array of struct inner.port)
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "typed_values.h"

struct cfg {
	__u32 tgid;
	__u32 cookie;
	enum color color;
	char tag[8];
};

const volatile struct cfg cfg = { .tgid = 0, .cookie = 1, .color = RED, .tag = "cfg" };
const volatile __s32 signed_const = -7;

struct rec rec_init = REC_INIT(5);
double ratio = 1.5;
float ratio_f = -0.25f;
enum big_enum big_value = BIG_HUGE;
void *some_ptr = (void *)0x1234;

struct rec last;
__u64 counter;
enum color last_color;
char comm[16];

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct key);
	__type(value, struct rec);
} recs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct inner);
} per_cpu SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct key k = { .tgid = tgid, .cookie = cfg.cookie };
	__u32 zero = 0;
	struct inner *pc;
	__u64 n;

	if (tgid != cfg.tgid)
		return 0;
	n = __sync_add_and_fetch(&counter, 1);
	{
		struct rec r = REC_INIT(n);

		bpf_map_update_elem(&recs, &k, &r, BPF_ANY);
		__builtin_memcpy(&last, &r, sizeof(r));
	}
	last_color = cfg.color;
	bpf_get_current_comm(comm, sizeof(comm));
	pc = bpf_map_lookup_elem(&per_cpu, &zero);
	if (pc) {
		pc->port = n;
		__builtin_memcpy(pc->name, "cpu", 4);
	}
	return 0;
}

char _license[] SEC("license") = "GPL";
