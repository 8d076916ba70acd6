// SPDX-License-Identifier: GPL-2.0
/*
 * procsnap: one program with about 50 CO-RE relocations (the "50-relocation
 * program" of bench/btf.ts): on prctl(2) from the target process it takes a
 * snapshot of the calling task, from task_struct, its mm, signal_struct, cred,
 * fs_struct, files and namespaces, into a single .bss record that user space
 * reads after the call.
 */
#include "parity.h"

const volatile u32 targ_tgid = 0;

struct snapshot {
	u32 pid, tgid, ppid, pgid_leader, session_leader;
	u32 uid, gid, cap_eff_lo;
	int prio, static_prio, normal_prio;
	u32 policy, flags, nr_cpus_allowed, exit_signal;
	u64 utime, stime, start_time;
	u64 nvcsw, nivcsw, min_flt, maj_flt;
	u64 total_vm, start_brk, brk, arg_start, arg_end;
	u32 map_count, nr_threads, sig_flags, oom_score_adj;
	u32 umask, next_fd;
	u32 mnt_ns, net_ns, uts_ns, pid_ns;
	u64 sum_exec, vruntime;
	char comm[TASK_COMM_LEN];
};

struct snapshot snap = {};
u64 snaps = 0;

SEC("tp/syscalls/sys_enter_prctl")
int snapshot(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct snapshot *s = &snap;
	struct mm_struct *mm;
	struct signal_struct *sig;
	const struct cred *cred;
	struct nsproxy *ns;

	if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return 0;
	s->pid = BPF_CORE_READ(t, pid);
	s->tgid = BPF_CORE_READ(t, tgid);
	s->ppid = BPF_CORE_READ(t, real_parent, tgid);
	s->pgid_leader = BPF_CORE_READ(t, group_leader, pid);
	s->prio = BPF_CORE_READ(t, prio);
	s->static_prio = BPF_CORE_READ(t, static_prio);
	s->normal_prio = BPF_CORE_READ(t, normal_prio);
	s->policy = BPF_CORE_READ(t, policy);
	s->flags = BPF_CORE_READ(t, flags);
	s->nr_cpus_allowed = BPF_CORE_READ(t, nr_cpus_allowed);
	s->exit_signal = BPF_CORE_READ(t, exit_signal);
	s->utime = BPF_CORE_READ(t, utime);
	s->stime = BPF_CORE_READ(t, stime);
	s->start_time = BPF_CORE_READ(t, start_time);
	s->nvcsw = BPF_CORE_READ(t, nvcsw);
	s->nivcsw = BPF_CORE_READ(t, nivcsw);
	s->min_flt = BPF_CORE_READ(t, min_flt);
	s->maj_flt = BPF_CORE_READ(t, maj_flt);
	s->sum_exec = BPF_CORE_READ(t, se.sum_exec_runtime);
	s->vruntime = BPF_CORE_READ(t, se.vruntime);
	BPF_CORE_READ_STR_INTO(&s->comm, t, comm);

	cred = BPF_CORE_READ(t, cred);
	s->uid = BPF_CORE_READ(cred, uid.val);
	s->gid = BPF_CORE_READ(cred, gid.val);
	s->cap_eff_lo = BPF_CORE_READ(cred, cap_effective.val);

	mm = BPF_CORE_READ(t, mm);
	if (mm) {
		s->total_vm = BPF_CORE_READ(mm, total_vm);
		s->start_brk = BPF_CORE_READ(mm, start_brk);
		s->brk = BPF_CORE_READ(mm, brk);
		s->arg_start = BPF_CORE_READ(mm, arg_start);
		s->arg_end = BPF_CORE_READ(mm, arg_end);
		s->map_count = BPF_CORE_READ(mm, map_count);
	}

	sig = BPF_CORE_READ(t, signal);
	s->nr_threads = BPF_CORE_READ(sig, nr_threads);
	s->sig_flags = BPF_CORE_READ(sig, flags);
	s->oom_score_adj = BPF_CORE_READ(sig, oom_score_adj);
	s->session_leader = BPF_CORE_READ(sig, leader);

	s->umask = BPF_CORE_READ(t, fs, umask);
	s->next_fd = BPF_CORE_READ(t, files, next_fd);

	ns = BPF_CORE_READ(t, nsproxy);
	s->mnt_ns = BPF_CORE_READ(ns, mnt_ns, ns.inum);
	s->net_ns = BPF_CORE_READ(ns, net_ns, ns.inum);
	s->uts_ns = BPF_CORE_READ(ns, uts_ns, ns.inum);
	s->pid_ns = BPF_CORE_READ(ns, pid_ns_for_children, ns.inum);
	__sync_fetch_and_add(&snaps, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
