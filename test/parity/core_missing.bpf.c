// SPDX-License-Identifier: GPL-2.0
/*
 * core_missing: what happens to a CO-RE read of a field the running kernel does
 * not have. `guarded` checks bpf_core_field_exists first and loads; `dead_branch`
 * reads it only in a branch that the existence relocation turns into dead code,
 * which the verifier prunes, so it loads too; `unguarded` reads it on every path,
 * so the loader poisons the instruction and the verifier rejects the program. Both
 * loaders must agree program by program (bpftool's loadall fails the whole object
 * because of `unguarded`; the harness's per-program libbpf run does not).
 */
#include "parity.h"

struct task_struct___future {
	u64 parity_future_field;
	int pid;
} __attribute__((preserve_access_index));

u64 out_value = 0;
int out_exists = -1;

SEC("tp/syscalls/sys_enter_getuid")
int guarded(void *ctx)
{
	struct task_struct___future *t = (void *)bpf_get_current_task();

	out_exists = bpf_core_field_exists(t->parity_future_field);
	out_value = BPF_CORE_READ(t, pid);
	return 0;
}

SEC("tp/syscalls/sys_enter_getgid")
int dead_branch(void *ctx)
{
	struct task_struct___future *t = (void *)bpf_get_current_task();

	if (bpf_core_field_exists(t->parity_future_field))
		out_value = BPF_CORE_READ(t, parity_future_field);
	else
		out_value = BPF_CORE_READ(t, pid);
	return 0;
}

SEC("tp/syscalls/sys_enter_geteuid")
int unguarded(void *ctx)
{
	struct task_struct___future *t = (void *)bpf_get_current_task();

	out_value = BPF_CORE_READ(t, parity_future_field);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
