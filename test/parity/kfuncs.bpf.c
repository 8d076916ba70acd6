// SPDX-License-Identifier: GPL-2.0
/*
 * kfuncs: kernel-function calls resolved by BTF id at load (extern __ksym
 * functions): bpf_task_from_pid / bpf_task_acquire / bpf_task_release with the
 * reference-tracking the verifier enforces, bpf_cgroup_from_id +
 * bpf_task_under_cgroup + bpf_cgroup_release, and bpf_rcu_read_lock around an
 * RCU-protected walk to the parent. A __weak kfunc that no kernel has is guarded
 * with a null check, as libbpf resolves it to 0.
 */
#include "parity.h"

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym;
extern long bpf_task_under_cgroup(struct task_struct *task, struct cgroup *ancestor) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern int bpf_parity_no_such_kfunc(int x) __ksym __weak;

const volatile s32 watch_pid = 1;
const volatile u64 watch_cgid = 1;

u32 out_watched_tgid = 0;
u64 out_in_cgroup = 0;
u32 out_parent_tgid = 0;
int out_weak = -1;

SEC("tp_btf/task_newtask")
int BPF_PROG(new_task, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *p, *acq;

	p = bpf_task_from_pid(watch_pid);
	if (!p)
		return 0;
	out_watched_tgid = p->tgid;
	acq = bpf_task_acquire(task);
	if (acq) {
		bpf_rcu_read_lock();
		out_parent_tgid = acq->real_parent->tgid;
		bpf_rcu_read_unlock();
		bpf_task_release(acq);
	}
	bpf_task_release(p);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork_cg, struct task_struct *parent, struct task_struct *child)
{
	struct cgroup *cg = bpf_cgroup_from_id(watch_cgid);

	if (!cg)
		return 0;
	if (bpf_task_under_cgroup(parent, cg))
		__sync_fetch_and_add(&out_in_cgroup, 1);
	bpf_cgroup_release(cg);
	if (bpf_parity_no_such_kfunc)
		out_weak = bpf_parity_no_such_kfunc(1);
	else
		out_weak = 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
