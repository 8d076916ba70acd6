// SPDX-License-Identifier: GPL-2.0
/*
 * legacy_maps: maps declared the pre-BTF way, as struct bpf_map_def values in
 * the "maps" ELF section, plus "license" and "version" sections.
 *
 * Concept under test: a loader must find each map by its symbol in "maps",
 * decode the definition at the symbol's offset, create the map, and patch the
 * ld_imm64 instructions that reference it (R_BPF_64_64 relocations against
 * the map symbol). There is no BTF for these maps.
 *
 * Program: tracepoint syscalls/sys_enter_getpid. Counts getpid() calls per
 * process (key: tgid, what user space calls the pid) in getpid_calls, and the
 * total of all calls in slot 0 of getpid_total.
 *
 * libbpf >= 1.0 (and so bpftool) refuses this object on purpose.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "legacy_map_def.h"

/* tgid (u32) -> number of getpid() calls (u64). Offset 0 in "maps". */
struct bpf_map_def SEC("maps") getpid_calls = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1024,
	.map_flags = 0,
};

/* Single-slot array: all getpid() calls seen. Offset 20 in "maps". */
struct bpf_map_def SEC("maps") getpid_total = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

SEC("tracepoint/syscalls/sys_enter_getpid")
int count_getpid(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 zero = 0;
	__u64 one = 1;
	__u64 *count, *total;

	count = bpf_map_lookup_elem(&getpid_calls, &tgid);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		/* BPF_NOEXIST: if another CPU inserted first, this call is lost;
		 * acceptable for a test that calls getpid() from one thread. */
		bpf_map_update_elem(&getpid_calls, &tgid, &one, BPF_NOEXIST);

	total = bpf_map_lookup_elem(&getpid_total, &zero);
	if (total)
		__sync_fetch_and_add(total, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
/* Kernels before 5.0 checked this for kprobes only; loaders may overwrite it. */
__u32 _version SEC("version") = 0x00060000; /* KERNEL_VERSION(6, 0, 0) */
