// SPDX-License-Identifier: GPL-2.0
/*
 * externs_ksym: `__ksym` externs, variables and kernel functions (kfuncs).
 *
 * - typed per-CPU variables from vmlinux BTF (BPF_PSEUDO_BTF_ID), in their own program
 *   read_percpu: `runqueues` (struct rq) read through bpf_per_cpu_ptr for CPU `target_cpu`
 *   (rodata) -> out_rq_cpu == target_cpu, and `bpf_prog_active` through bpf_this_cpu_ptr ->
 *   out_prog_active_ok = 1. The kernel resolves their addresses with kallsyms, so this program
 *   loads only on kernels built with CONFIG_KALLSYMS_ALL;
 * - a typeless variable (`extern const void schedule __ksym`): its kallsyms address ->
 *   out_schedule_addr;
 * - a weak typed variable the kernel lacks: its address is 0 -> out_missing_var_addr = 0;
 * - kfunc calls by BTF id: bpf_task_from_pid(ctx->pid) and bpf_task_release -> out_task_pid,
 *   out_task_tgid (the caller's pid and tgid when ctx->pid is the caller's tid);
 * - weak kfuncs guarded by bpf_ksym_exists(): one that exists (bpf_task_acquire ->
 *   out_acquire_exists = 1, and it is called) and one that does not (bpf_tsbpf_no_such_kfunc:
 *   out_missing_kfunc = 1, the call is dead code and stays poisoned);
 * - call_missing_weak calls bpf_tsbpf_no_such_kfunc unguarded: its load fails in the verifier at the
 *   poisoned call (invalid func unknown#2002000000 + extern index); call_missing_strong calls the
 *   non-weak bpf_tsbpf_strong_missing: the loader refuses it, naming the extern.
 *
 * Load the programs one at a time (the `programs` load option). run_ksyms and read_percpu are
 * SEC("syscall"), run with BPF_PROG_TEST_RUN (run_ksyms with a context { int pid; }); both return 1.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) ({ \
	_Static_assert(!__builtin_constant_p(!!sym), #sym " should be marked as __weak"); \
	!!sym; \
})
#endif

extern const struct rq runqueues __ksym;
extern const int bpf_prog_active __ksym;
extern const void schedule __ksym;
extern const int tsbpf_no_such_var __ksym __weak;

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym __weak;
extern int bpf_tsbpf_no_such_kfunc(int x) __ksym __weak;
extern int bpf_tsbpf_strong_missing(int x) __ksym;

const volatile u32 target_cpu = 0;

int out_rq_cpu = -1;
int out_prog_active_ok;
u64 out_schedule_addr;
u64 out_missing_var_addr = 1;
int out_task_pid;
int out_task_tgid;
int out_acquire_exists;
int out_missing_kfunc;

struct args {
	int pid;
};

SEC("syscall")
int run_ksyms(struct args *ctx)
{
	struct task_struct *t, *t2;

	out_schedule_addr = (u64)&schedule;
	out_missing_var_addr = (u64)&tsbpf_no_such_var;

	t = bpf_task_from_pid(ctx->pid);
	if (!t)
		return 0;
	out_task_pid = t->pid;
	out_task_tgid = t->tgid;
	if (bpf_ksym_exists(bpf_task_acquire)) {
		t2 = bpf_task_acquire(t);
		if (t2) {
			out_acquire_exists = 1;
			bpf_task_release(t2);
		}
	}
	bpf_task_release(t);

	if (bpf_ksym_exists(bpf_tsbpf_no_such_kfunc))
		out_missing_kfunc = bpf_tsbpf_no_such_kfunc(1);
	else
		out_missing_kfunc = 1;
	return 1;
}

SEC("syscall")
int read_percpu(void *ctx)
{
	struct rq *rq;
	const int *active;

	rq = bpf_per_cpu_ptr(&runqueues, target_cpu);
	if (rq)
		out_rq_cpu = rq->cpu;
	active = bpf_this_cpu_ptr(&bpf_prog_active);
	out_prog_active_ok = *active >= 0;
	return 1;
}

/* Calls the missing weak kfunc where it is reachable: the poisoned call fails verification. */
SEC("syscall")
int call_missing_weak(void *ctx)
{
	return bpf_tsbpf_no_such_kfunc(2);
}

/* Calls a missing kfunc that is not __weak: loading fails before the kernel is asked. */
SEC("syscall")
int call_missing_strong(void *ctx)
{
	return bpf_tsbpf_strong_missing(3);
}

char LICENSE[] SEC("license") = "GPL";
