// SPDX-License-Identifier: GPL-2.0
/*
 * ksym_percpu: a typed __ksym variable (the scheduler's per-CPU runqueues), read
 * with bpf_this_cpu_ptr / bpf_per_cpu_ptr and BTF-typed loads of struct rq. The
 * loader finds the variable's BTF id in vmlinux BTF; the kernel then needs its
 * address from kallsyms, which exists only with CONFIG_KALLSYMS_ALL (not set on
 * the CI VM, where both loaders are expected to fail with ENOENT).
 */
#include "parity.h"

extern const struct rq runqueues __ksym;

u32 out_nr_running = 0;
u32 out_nr_running_cpu0 = 0;
u64 out_clock = 0;

SEC("tp_btf/sched_switch")
int BPF_PROG(read_rq, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct rq *rq = bpf_this_cpu_ptr(&runqueues);
	struct rq *rq0 = bpf_per_cpu_ptr(&runqueues, 0);

	out_nr_running = rq->nr_running;
	out_clock = rq->clock;
	if (rq0)
		out_nr_running_cpu0 = rq0->nr_running;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
