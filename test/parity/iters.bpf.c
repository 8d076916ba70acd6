// SPDX-License-Identifier: GPL-2.0
/*
 * iters: ps/lsof/bpftool-map-list style dumps with BPF iterators. iter/task
 * prints one line per task with fields read through CO-RE (ppid, state, uid,
 * the mm's total_vm, the comm); iter/task_file prints each open file with its
 * inode number and mode; iter/bpf_map lists maps with their id, type and
 * max_entries. A rodata filter restricts the task dumps to one tgid.
 */
#include "parity.h"

const volatile u32 targ_tgid = 0;

struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline long state_of(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

SEC("iter/task")
int ps(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *t = ctx->task;
	u64 vm = 0;
	char comm[TASK_COMM_LEN];

	if (!t)
		return 0;
	if (targ_tgid && BPF_CORE_READ(t, tgid) != targ_tgid)
		return 0;
	if (ctx->meta->seq_num == 0)
		BPF_SEQ_PRINTF(seq, "%8s %8s %8s %6s %10s %s\n", "PID", "PPID", "UID", "STATE", "VM", "COMM");
	if (BPF_CORE_READ(t, mm))
		vm = BPF_CORE_READ(t, mm, total_vm);
	BPF_CORE_READ_STR_INTO(&comm, t, comm);
	BPF_SEQ_PRINTF(seq, "%8d %8d %8u %6ld %10llu %s\n", BPF_CORE_READ(t, pid), BPF_CORE_READ(t, real_parent, tgid),
		       BPF_CORE_READ(t, cred, uid.val), state_of(t), vm, comm);
	return 0;
}

SEC("iter/task_file")
int lsof(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *t = ctx->task;
	struct file *f = ctx->file;

	if (!t || !f)
		return 0;
	if (targ_tgid && BPF_CORE_READ(t, tgid) != targ_tgid)
		return 0;
	BPF_SEQ_PRINTF(seq, "%d %d %lu %o\n", BPF_CORE_READ(t, tgid), ctx->fd, BPF_CORE_READ(f, f_inode, i_ino),
		       BPF_CORE_READ(f, f_inode, i_mode));
	return 0;
}

SEC("iter/bpf_map")
int maps(struct bpf_iter__bpf_map *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct bpf_map *m = ctx->map;

	if (!m)
		return 0;
	BPF_SEQ_PRINTF(seq, "%u %u %u %s\n", BPF_CORE_READ(m, id), BPF_CORE_READ(m, map_type), BPF_CORE_READ(m, max_entries),
		       m->name);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
