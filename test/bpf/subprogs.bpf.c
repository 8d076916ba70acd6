// SPDX-License-Identifier: GPL-2.0
/*
 * subprogs: BPF-to-BPF calls. Functions in .text are not programs of their
 * own; a loader appends the ones a program calls (transitively) after the
 * program's instructions and fixes each call's relative offset (R_BPF_64_32
 * relocations against .text). Both programs below call the same subprograms,
 * so .text must be linked into each of them.
 *
 *   square()          static noinline, leaf
 *   sum_of_squares()  static noinline, calls square()
 *   global_mix()      global (non-static): the verifier checks it on its own,
 *                     from its BTF prototype (needs .BTF.ext func_info)
 *   square_cb()       bpf_loop() callback: a function pointer to a subprogram
 *                     (ld_imm64 with src_reg BPF_PSEUDO_FUNC), calls square()
 *
 * Programs and the array map `results` they fill (u32 index -> u64):
 *   tracepoint syscalls/sys_enter_getpid (tp_getpid), when the caller's tgid
 *   equals rodata target_tgid (0 = never, set it before load):
 *     results[0] = sum_of_squares(3, 4)              = 25
 *     results[1] = global_mix(6, 7)                  = 67
 *     results[2] = sum of square(i), i = 0..9        = 285 (bpf_loop)
 *     results[3] += 1
 *   syscall (run_args), run with BPF_PROG_TEST_RUN and ctx_in = struct args:
 *     results[4] = sum_of_squares(a, b)
 *     results[5] = global_mix(a, b)                  = 10 * a + b
 *     results[6] = sum of square(i), i = 0..a-1 (a capped at 1000)
 *     results[7] += 1
 *     return value: a + b
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __noinline __u64 square(__u64 x)
{
	return x * x;
}

static __noinline __u64 sum_of_squares(__u64 a, __u64 b)
{
	return square(a) + square(b);
}

/* Global: verified once, independently of its callers. */
__noinline int global_mix(int a, int b)
{
	return 10 * a + b;
}

struct loop_state {
	__u64 sum;
};

static int square_cb(__u32 index, void *data)
{
	struct loop_state *st = data;

	st->sum += square(index);
	return 0; /* 0: continue, 1: stop */
}

static __always_inline void store(__u32 key, __u64 value)
{
	bpf_map_update_elem(&results, &key, &value, BPF_ANY);
}

static __always_inline void bump(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&results, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int tp_getpid(void *ctx)
{
	struct loop_state st = {};

	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;

	store(0, sum_of_squares(3, 4));
	store(1, global_mix(6, 7));
	bpf_loop(10, square_cb, &st, 0);
	store(2, st.sum);
	bump(3);
	return 0;
}

/* ctx_in layout for run_args. */
struct args {
	__u64 a;
	__u64 b;
};

SEC("syscall")
int run_args(struct args *ctx)
{
	struct loop_state st = {};
	__u64 a = ctx->a, b = ctx->b;

	store(4, sum_of_squares(a, b));
	store(5, global_mix((int)a, (int)b));
	bpf_loop(a < 1000 ? (__u32)a : 1000, square_cb, &st, 0);
	store(6, st.sum);
	bump(7);
	return (int)(a + b);
}

char _license[] SEC("license") = "GPL";
