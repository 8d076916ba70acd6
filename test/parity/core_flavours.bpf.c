// SPDX-License-Identifier: GPL-2.0
/*
 * core_flavours: kernel-version differences handled the CO-RE way, in one program
 * per idiom, all reporting into .bss so a user-space reader can check them.
 *  - task_struct->__state (5.14+) vs ->state, through a ___pre514 flavour;
 *  - mm->rss_stat as percpu_counter[] (6.2+) vs struct mm_rss_stat, chosen with
 *    bpf_core_type_matches on two flavours of mm_struct;
 *  - bpf_core_type_exists for a type only some kernels have (bpf_iter__task) and
 *    one no kernel has;
 *  - bpf_core_enum_value_exists / bpf_core_enum_value on enum bpf_func_id and a
 *    renamed flavour of enum pid_type;
 *  - bpf_core_field_size / bpf_core_field_offset / bpf_core_type_size and
 *    bpf_core_type_id_kernel.
 */
#include "parity.h"

const volatile u32 targ_tgid = 0;

struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

struct percpu_counter___new {
	s64 count;
} __attribute__((preserve_access_index));

struct mm_struct___new {
	struct percpu_counter___new rss_stat[4];
} __attribute__((preserve_access_index));

struct mm_rss_stat___old {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

struct no_kernel_has_this {
	int x;
};

enum pid_type___renamed {
	PIDTYPE_PID___renamed = 10,
	PIDTYPE_PGID___renamed = 12,
	PIDTYPE_BOGUS___renamed = 99,
};

long out_state = -1;
u64 out_rss_file = 0;
u64 out_rss_anon = 0;
int out_rss_layout = 0; /* 1 new, 2 old, 0 unknown */
int out_has_iter_task = -1;
int out_has_nothing = -1;
int out_has_ringbuf_output = -1;
int out_has_bogus_pidtype = -1;
u64 out_pgid_value = 0;
u32 out_state_size = 0;
u32 out_comm_offset = 0;
u32 out_task_size = 0;
u32 out_task_btf_id = 0;
u64 out_calls = 0;

static __always_inline bool mine(void)
{
	return !targ_tgid || (bpf_get_current_pid_tgid() >> 32) == targ_tgid;
}

SEC("tp/syscalls/sys_enter_getpid")
int state_flavour(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();

	if (!mine())
		return 0;
	if (bpf_core_field_exists(t->__state)) {
		out_state = BPF_CORE_READ(t, __state);
		out_state_size = bpf_core_field_size(t->__state);
	} else {
		struct task_struct___pre514 *old = (void *)t;
		out_state = BPF_CORE_READ(old, state);
		out_state_size = bpf_core_field_size(old->state);
	}
	__sync_fetch_and_add(&out_calls, 1);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int rss_flavour(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	void *mm = BPF_CORE_READ(t, mm);

	if (!mine() || !mm)
		return 0;
	if (bpf_core_type_matches(struct mm_struct___new)) {
		struct mm_struct___new *m = mm;
		out_rss_file = BPF_CORE_READ(m, rss_stat[0].count);
		out_rss_anon = BPF_CORE_READ(m, rss_stat[1].count);
		out_rss_layout = 1;
	} else if (bpf_core_type_matches(struct mm_struct___old)) {
		struct mm_struct___old *m = mm;
		out_rss_file = BPF_CORE_READ(m, rss_stat.count[0].counter);
		out_rss_anon = BPF_CORE_READ(m, rss_stat.count[1].counter);
		out_rss_layout = 2;
	}
	return 0;
}

SEC("tp/syscalls/sys_enter_gettid")
int existence(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();

	if (!mine())
		return 0;
	out_has_iter_task = bpf_core_type_exists(struct bpf_iter__task);
	out_has_nothing = bpf_core_type_exists(struct no_kernel_has_this);
	out_has_ringbuf_output = bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_ringbuf_output);
	out_has_bogus_pidtype = bpf_core_enum_value_exists(enum pid_type___renamed, PIDTYPE_BOGUS___renamed);
	out_pgid_value = bpf_core_enum_value(enum pid_type___renamed, PIDTYPE_PGID___renamed);
	out_comm_offset = bpf_core_field_offset(t->comm);
	out_task_size = bpf_core_type_size(struct task_struct);
	out_task_btf_id = bpf_core_type_id_kernel(struct task_struct);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
