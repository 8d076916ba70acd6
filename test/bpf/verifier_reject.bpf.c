// SPDX-License-Identifier: GPL-2.0
/*
 * verifier_reject: a program the verifier must refuse, for testing how a
 * loader reports verifier errors.
 *
 * bpf_map_lookup_elem() returns NULL when the key is absent, so its result is
 * a "map_value_or_null" pointer that must be checked before use. This
 * program dereferences it unchecked; the kernel answers EACCES with a log
 * ending in "R0 invalid mem access 'map_value_or_null'". Built with -g, the
 * .BTF.ext line info maps the faulting instruction to the one line below
 * that carries the marker comment (REJECT dash HERE), so a test can find that
 * line number in this file and compare it with the one the loader names.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int missing_null_check(void *ctx)
{
	__u32 key = bpf_get_prandom_u32() & 0xf;
	__u64 *value = bpf_map_lookup_elem(&counts, &key);

	/* Wrong on purpose: no "if (!value) return 0;" here. */
	*value += 1; /* REJECT-HERE */
	return 0;
}

char _license[] SEC("license") = "GPL";
