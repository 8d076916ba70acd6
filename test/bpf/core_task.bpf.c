// SPDX-License-Identifier: GPL-2.0
/*
 * core_task: every CO-RE relocation kind, resolved against the running kernel's BTF.
 *
 * Built against include/vmlinux.h, plus local "___mine" flavours of kernel types laid out
 * differently from the kernel (fields reordered, resized, renamed enumerators), so the
 * relocations really move offsets, sizes, shifts and values.
 *
 * on_getpid (tp/syscalls/sys_enter_getpid), filtered by the rodata target_tgid, writes what it
 * computed into .bss globals (see the `out_*` names below); a test asserts each against the
 * truth computed from /sys/kernel/btf/vmlinux. on_read (tp/syscalls/sys_enter_read) records the
 * `count` argument and the syscall number of the caller's last read(2) through a reordered
 * flavour of the tracepoint context (out_read_count, out_read_nr), and counts the calls.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

const volatile int target_tgid = 0;

/* Kernel types with their fields reordered (a CO-RE relocation must find the kernel offsets). */
struct task_struct___mine {
	int tgid;
	int pid;
	struct task_struct___mine *real_parent;
	u64 flags; /* unsigned int in the kernel: bpf_core_field_size says 4 */
} __attribute__((preserve_access_index));

/* A subset of task_struct with the kernel's types: "matches" (bpf_core_type_matches). */
struct task_struct___match {
	int pid;
	int tgid;
	struct task_struct___match *real_parent;
	unsigned int flags;
} __attribute__((preserve_access_index));

/* Same name, but pid is a long: exists (types are compatible) but does not "match". */
struct task_struct___bad {
	long pid;
} __attribute__((preserve_access_index));

/* A field the kernel lacks. */
struct task_struct___fake {
	int fake_field;
} __attribute__((preserve_access_index));

/* The pre-5.14 name of __state. */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

/* A type the kernel does not have at all. */
struct core_no_such_type {
	int x;
};

enum pid_type___mine {
	PIDTYPE_SID___mine = 100,
	PIDTYPE_TGID___mine = 101,
	PIDTYPE_FAKE___mine = 102,
};

/* The kernel's enum64 blake2b_iv, with small local values. */
enum blake2b_iv___mine {
	BLAKE2B_IV3___mine = 3,
};

/* Kernel bitfield structs with the fields in another order and at other offsets. */
struct fred_ss___mine {
	u64 insnlen: 4;
	u64 vector: 8;
	u64 type: 4;
	u64 nmi: 1;
} __attribute__((preserve_access_index));

struct topa_entry___mine {
	u32 pad;
	u64 base: 40;
	u64 size: 4;
} __attribute__((preserve_access_index));

struct flow_dissector_mpls_lse___mine {
	u32 mpls_label: 20;
	u32 mpls_ttl: 8;
} __attribute__((preserve_access_index));

/*
 * The syscall tracepoint context, reordered, with 4-byte args (unsigned long in the kernel): the
 * ctx loads are LDX relocations, and the args[] loads are widened to 8 bytes by the loader.
 * (Tracepoint programs cannot read the first 8 bytes, the common fields, nor past the end of
 * the event's record: sys_enter_getpid's ends at 12 bytes, so only on_read reads the context.)
 */
struct trace_event_raw_sys_enter___mine {
	u32 args[6];
	long id;
} __attribute__((preserve_access_index));

/* Bytes for the bitfield reads (a test reads them back to compute the truth). */
u8 pattern[16] = { 0x5a, 0xc3, 0x96, 0x3c, 0xe7, 0x18, 0xa5, 0x7e, 0x81, 0xf0, 0x0f, 0x69, 0xd2, 0x2d, 0xb4, 0x4b };

/* Field offsets and sizes. */
u64 out_pid_off, out_tgid_off, out_pid_size, out_comm_size, out_flags_size, out_mine_flags_off;
/* Reads. */
u64 out_tgid, out_pid, out_ppid, out_mine_tgid, out_mine_pid, out_mine_ppid, out_flags;
s64 out_pid_bitfield;
/* Existence. */
u64 out_state_exists, out_fake_exists, out_old_state_exists, out_state, out_fake_value, out_calls;
/* Signedness and shifts of task_struct.pid / flags. */
u64 out_pid_signed, out_flags_signed, out_pid_lshift, out_pid_rshift;
/* Types. */
u64 out_ts_exists, out_no_such_exists, out_bad_exists, out_ts_size, out_mine_size, out_pid_t_size;
u64 out_ts_id_kernel, out_mine_id_kernel, out_ts_id_local, out_mine_matches, out_bad_matches, out_no_such_matches;
u64 out_match_matches;
/* Enums. */
u64 out_pidtype_max, out_sid, out_tgid_enum, out_sid_exists, out_fake_enum_exists, out_iv3, out_iv3_mine;
/* Bitfields (probed and direct) of the pattern. */
/* What a bitfield output holds when the kernel lacks the struct. */
#define NO_TYPE 0xdead0000ULL

u64 out_fred_vector, out_fred_type, out_fred_insnlen, out_fred_nmi, out_topa_base, out_topa_size;
u64 out_mpls_label, out_mpls_ttl, out_fred_vector_direct, out_topa_base_direct, out_mpls_label_direct;
/* on_read: the tracepoint context through the reordered flavour. */
u64 out_read_count, out_read_calls, out_read_nr;

SEC("tp/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	struct task_struct *task;
	struct task_struct___mine *mine;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	out_calls++;
	task = (struct task_struct *)bpf_get_current_task();
	mine = (struct task_struct___mine *)task;

	out_pid_off = bpf_core_field_offset(struct task_struct, pid);
	out_tgid_off = bpf_core_field_offset(struct task_struct, tgid);
	out_pid_size = bpf_core_field_size(struct task_struct, pid);
	out_comm_size = bpf_core_field_size(struct task_struct, comm);
	out_flags_size = bpf_core_field_size(struct task_struct___mine, flags);
	out_mine_flags_off = bpf_core_field_offset(struct task_struct___mine, flags);

	out_tgid = BPF_CORE_READ(task, tgid);
	out_pid = BPF_CORE_READ(task, pid);
	out_ppid = BPF_CORE_READ(task, real_parent, tgid);
	out_flags = BPF_CORE_READ(task, flags);
	out_mine_tgid = BPF_CORE_READ(mine, tgid);
	out_mine_pid = BPF_CORE_READ(mine, pid);
	out_mine_ppid = BPF_CORE_READ(mine, real_parent, tgid);
	out_pid_bitfield = BPF_CORE_READ_BITFIELD_PROBED(task, pid);
	out_state_exists = bpf_core_field_exists(task->__state);
	out_fake_exists = bpf_core_field_exists(struct task_struct___fake, fake_field);
	out_old_state_exists = bpf_core_field_exists(struct task_struct___old, state);
	if (bpf_core_field_exists(struct task_struct___fake, fake_field))
		out_fake_value = BPF_CORE_READ((struct task_struct___fake *)task, fake_field);
	else
		out_fake_value = 0xdead;
	if (bpf_core_field_exists(struct task_struct___old, state))
		out_state = BPF_CORE_READ((struct task_struct___old *)task, state);
	else
		out_state = BPF_CORE_READ(task, __state);

	out_pid_signed = __builtin_preserve_field_info(task->pid, BPF_FIELD_SIGNED);
	out_flags_signed = __builtin_preserve_field_info(task->flags, BPF_FIELD_SIGNED);
	out_pid_lshift = __builtin_preserve_field_info(task->pid, BPF_FIELD_LSHIFT_U64);
	out_pid_rshift = __builtin_preserve_field_info(task->pid, BPF_FIELD_RSHIFT_U64);

	out_ts_exists = bpf_core_type_exists(struct task_struct);
	out_no_such_exists = bpf_core_type_exists(struct core_no_such_type);
	out_bad_exists = bpf_core_type_exists(struct task_struct___bad);
	out_ts_size = bpf_core_type_size(struct task_struct);
	out_mine_size = bpf_core_type_size(struct task_struct___mine);
	out_pid_t_size = bpf_core_type_size(pid_t);
	out_ts_id_kernel = bpf_core_type_id_kernel(struct task_struct);
	out_mine_id_kernel = bpf_core_type_id_kernel(struct task_struct___mine);
	out_ts_id_local = bpf_core_type_id_local(struct task_struct);
	out_mine_matches = bpf_core_type_matches(struct task_struct___mine);
	out_match_matches = bpf_core_type_matches(struct task_struct___match);
	out_bad_matches = bpf_core_type_matches(struct task_struct___bad);
	out_no_such_matches = bpf_core_type_matches(struct core_no_such_type);

	out_pidtype_max = bpf_core_enum_value(enum pid_type, PIDTYPE_MAX);
	out_sid = bpf_core_enum_value(enum pid_type___mine, PIDTYPE_SID___mine);
	out_tgid_enum = bpf_core_enum_value(enum pid_type___mine, PIDTYPE_TGID___mine);
	out_sid_exists = bpf_core_enum_value_exists(enum pid_type___mine, PIDTYPE_SID___mine);
	out_fake_enum_exists = bpf_core_enum_value_exists(enum pid_type___mine, PIDTYPE_FAKE___mine);
	out_iv3 = bpf_core_enum_value(enum blake2b_iv, BLAKE2B_IV3);
	out_iv3_mine = bpf_core_enum_value(enum blake2b_iv___mine, BLAKE2B_IV3___mine);

	{
		struct fred_ss___mine *f = (void *)pattern;
		struct topa_entry___mine *t = (void *)pattern;
		struct flow_dissector_mpls_lse___mine *m = (void *)pattern;

		/* Each layout is read only where the kernel has the type (struct fred_ss is 6.9+): on an
		 * older kernel the guarded reads are dead code, their poisoned instructions are never
		 * reached, and the outputs keep NO_TYPE. */
		if (bpf_core_type_exists(struct fred_ss___mine)) {
			out_fred_vector = BPF_CORE_READ_BITFIELD_PROBED(f, vector);
			out_fred_type = BPF_CORE_READ_BITFIELD_PROBED(f, type);
			out_fred_insnlen = BPF_CORE_READ_BITFIELD_PROBED(f, insnlen);
			out_fred_nmi = BPF_CORE_READ_BITFIELD_PROBED(f, nmi);
			out_fred_vector_direct = BPF_CORE_READ_BITFIELD(f, vector);
		} else {
			out_fred_vector = out_fred_type = out_fred_insnlen = out_fred_nmi = NO_TYPE;
			out_fred_vector_direct = NO_TYPE;
		}
		if (bpf_core_type_exists(struct topa_entry___mine)) {
			out_topa_base = BPF_CORE_READ_BITFIELD_PROBED(t, base);
			out_topa_size = BPF_CORE_READ_BITFIELD_PROBED(t, size);
			out_topa_base_direct = BPF_CORE_READ_BITFIELD(t, base);
		} else {
			out_topa_base = out_topa_size = out_topa_base_direct = NO_TYPE;
		}
		if (bpf_core_type_exists(struct flow_dissector_mpls_lse___mine)) {
			out_mpls_label = BPF_CORE_READ_BITFIELD_PROBED(m, mpls_label);
			out_mpls_ttl = BPF_CORE_READ_BITFIELD_PROBED(m, mpls_ttl);
			out_mpls_label_direct = BPF_CORE_READ_BITFIELD(m, mpls_label);
		} else {
			out_mpls_label = out_mpls_ttl = out_mpls_label_direct = NO_TYPE;
		}
	}

	return 0;
}

SEC("tp/syscalls/sys_enter_read")
int on_read(struct trace_event_raw_sys_enter___mine *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	out_read_calls++;
	out_read_count = ctx->args[2];
	out_read_nr = (u32)ctx->id;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
