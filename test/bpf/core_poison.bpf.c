// SPDX-License-Identifier: GPL-2.0
/*
 * core_poison: CO-RE relocations that cannot be satisfied on the running kernel, reached by the
 * verifier. Each program must be loaded alone ({ programs: [name] }) and fails with a CoreError
 * naming the relocation:
 *   unguarded_field: reads task_struct___fake.fake_field (the kernel has no such field)
 *                    -> "`task_struct___fake.fake_field` not found in kernel BTF (relocation kind field_byte_offset, ...)"
 *   missing_enum:    uses enum pid_type___gone::PIDTYPE_GONE___gone (no such enumerator)
 *                    -> "`enum pid_type___gone::PIDTYPE_GONE___gone` not found in kernel BTF (relocation kind enumval_value, ...)"
 *   bad_size:        loads trace_entry.pid (a signed int in the kernel) as an 8-byte long
 *                    -> "`trace_event_raw_sys_enter___wide.ent.pid` cannot be accessed with its size in kernel BTF (...)"
 * guarded (the same fake field behind bpf_core_field_exists) loads fine: its poisoned
 * instruction is dead code.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct___fake {
	int fake_field;
} __attribute__((preserve_access_index));

enum pid_type___gone {
	PIDTYPE_GONE___gone = 7,
};

struct trace_entry___wide {
	long pid;
} __attribute__((preserve_access_index));

struct trace_event_raw_sys_enter___wide {
	struct trace_entry___wide ent;
} __attribute__((preserve_access_index));

u64 sink;

SEC("tp/syscalls/sys_enter_getpid")
int unguarded_field(void *ctx)
{
	struct task_struct___fake *t = (void *)bpf_get_current_task();

	sink = BPF_CORE_READ(t, fake_field);
	return 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int missing_enum(void *ctx)
{
	sink = bpf_core_enum_value(enum pid_type___gone, PIDTYPE_GONE___gone);
	return 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int bad_size(struct trace_event_raw_sys_enter___wide *ctx)
{
	sink = ctx->ent.pid;
	return 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int guarded(void *ctx)
{
	struct task_struct___fake *t = (void *)bpf_get_current_task();

	if (bpf_core_field_exists(t->fake_field))
		sink = BPF_CORE_READ(t, fake_field);
	else
		sink = 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
