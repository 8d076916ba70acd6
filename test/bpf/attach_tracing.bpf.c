// SPDX-License-Identifier: GPL-2.0
/*
 * attach_tracing: BTF-typed programs attached by tsbpf's tracing and iterator links.
 *
 * - on_sys_enter (tp_btf/sys_enter): for every syscall of the process whose tgid is in rodata
 *   target_tgid, counts getpid calls (x86-64 syscall 39) into .bss getpid_calls. Its context is
 *   the tracepoint's typed arguments (struct pt_regs *regs, long id), no perf event involved.
 * - dump_task (iter/task): one line "<tgid> <pid> <comm>\n" per task.
 * - dump_maps (iter/bpf_map): one line "map <id> <name>\n" per BPF map in the system.
 * (The bpf_map_elem iterator, which takes a map at attach time, is in attach_iter_map.bpf.c: some
 * kernels refuse to load it, and that must not stop this object from loading.)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int target_tgid = 0;
__u64 getpid_calls = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} attach_numbers SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if ((int)(bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	if (id == 39)
		__sync_fetch_and_add(&getpid_calls, 1);
	return 0;
}

SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	BPF_SEQ_PRINTF(seq, "%d %d %s\n", task->tgid, task->pid, task->comm);
	return 0;
}

SEC("iter/bpf_map")
int dump_maps(struct bpf_iter__bpf_map *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct bpf_map *map = ctx->map;

	if (!map)
		return 0;
	BPF_SEQ_PRINTF(seq, "map %u %s\n", map->id, map->name);
	return 0;
}

char _license[] SEC("license") = "GPL";
