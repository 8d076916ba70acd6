// SPDX-License-Identifier: GPL-2.0
/*
 * sysprofile: the "big object" of the corpus, 20 programs and about 200 CO-RE
 * relocations, as a full-system syscall profiler would be: one tracepoint program
 * per interesting syscall, each inlining the same task snapshot (so each carries
 * its own copy of the relocations, as clang emits them) and sending a record to a
 * shared ring buffer, with per-syscall counters in a per-CPU array. Used by the
 * parity harness and by bench/btf.ts (opening and loading a CO-RE object with
 * ~20 programs and ~200 relocations).
 */
#include "parity.h"

enum sys_kind {
	K_READ, K_WRITE, K_OPENAT, K_CLOSE, K_MMAP, K_MUNMAP, K_BRK, K_CLONE, K_EXECVE, K_EXIT_GROUP,
	K_KILL, K_NANOSLEEP, K_FUTEX, K_EPOLL_WAIT, K_POLL, K_SOCKET, K_CONNECT, K_ACCEPT4, K_SENDTO, K_RECVFROM,
	K_MAX,
};

struct sys_event {
	u32 kind;
	u32 pid;
	u32 tid;
	u32 ppid;
	u32 uid;
	int prio;
	u64 start_time;
	long nr;
	char comm[TASK_COMM_LEN];
};

const volatile u32 targ_tgid = 0;
const volatile bool with_events = true;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, K_MAX);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

static __always_inline int record(struct trace_event_raw_sys_enter *ctx, u32 kind)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct sys_event *e;
	u64 *c;

	if (targ_tgid && BPF_CORE_READ(t, tgid) != targ_tgid)
		return 0;
	c = bpf_map_lookup_elem(&counts, &kind);
	if (c)
		*c += 1;
	if (!with_events)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->kind = kind;
	e->pid = BPF_CORE_READ(t, tgid);
	e->tid = BPF_CORE_READ(t, pid);
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->uid = BPF_CORE_READ(t, cred, uid.val);
	e->prio = BPF_CORE_READ(t, prio);
	e->start_time = BPF_CORE_READ(t, start_time);
	e->nr = BPF_CORE_READ(ctx, id);
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

#define SYSCALL_PROG(sys, kind)                                      \
	SEC("tp/syscalls/sys_enter_" #sys)                           \
	int enter_##sys(struct trace_event_raw_sys_enter *ctx)       \
	{                                                            \
		return record(ctx, kind);                            \
	}

SYSCALL_PROG(read, K_READ)
SYSCALL_PROG(write, K_WRITE)
SYSCALL_PROG(openat, K_OPENAT)
SYSCALL_PROG(close, K_CLOSE)
SYSCALL_PROG(mmap, K_MMAP)
SYSCALL_PROG(munmap, K_MUNMAP)
SYSCALL_PROG(brk, K_BRK)
SYSCALL_PROG(clone, K_CLONE)
SYSCALL_PROG(execve, K_EXECVE)
SYSCALL_PROG(exit_group, K_EXIT_GROUP)
SYSCALL_PROG(kill, K_KILL)
SYSCALL_PROG(nanosleep, K_NANOSLEEP)
SYSCALL_PROG(futex, K_FUTEX)
SYSCALL_PROG(epoll_wait, K_EPOLL_WAIT)
SYSCALL_PROG(poll, K_POLL)
SYSCALL_PROG(socket, K_SOCKET)
SYSCALL_PROG(connect, K_CONNECT)
SYSCALL_PROG(accept4, K_ACCEPT4)
SYSCALL_PROG(sendto, K_SENDTO)
SYSCALL_PROG(recvfrom, K_RECVFROM)

char LICENSE[] SEC("license") = "GPL";
