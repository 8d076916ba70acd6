// SPDX-License-Identifier: GPL-2.0
/*
 * cgroupcount: cgroup-aware counting. Syscalls are counted per cgroup v2 id, the
 * id taken both from bpf_get_current_cgroup_id() and, through CO-RE, from
 * task->cgroups->dfl_cgrp->kn->id (the two must agree; mismatches are counted).
 * An optional filter keeps only tasks under the cgroup stored in a
 * BPF_MAP_TYPE_CGROUP_ARRAY. tp_btf/cgroup_mkdir and cgroup_rmdir track the
 * cgroups that exist, with their level and path.
 */
#include "parity.h"

const volatile bool filter_cg = false;

struct cg_info {
	u64 created_ns;
	int level;
	char path[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} cgroup_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, u64);
} syscalls_per_cg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, struct cg_info);
} cgroups SEC(".maps");

u64 mismatches = 0;

SEC("tp/raw_syscalls/sys_enter")
int count_syscall(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	u64 id = bpf_get_current_cgroup_id();
	u64 core_id, one = 1, *v;

	if (filter_cg && !bpf_current_task_under_cgroup(&cgroup_filter, 0))
		return 0;
	core_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	if (core_id != id)
		__sync_fetch_and_add(&mismatches, 1);
	v = bpf_map_lookup_elem(&syscalls_per_cg, &id);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&syscalls_per_cg, &id, &one, BPF_NOEXIST);
	return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(cg_mkdir, struct cgroup *cgrp, const char *path)
{
	struct cg_info info = {};
	u64 id = BPF_CORE_READ(cgrp, kn, id);

	info.created_ns = bpf_ktime_get_ns();
	info.level = BPF_CORE_READ(cgrp, level);
	bpf_probe_read_kernel_str(info.path, sizeof(info.path), path);
	bpf_map_update_elem(&cgroups, &id, &info, BPF_ANY);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(cg_rmdir, struct cgroup *cgrp, const char *path)
{
	u64 id = BPF_CORE_READ(cgrp, kn, id);

	bpf_map_delete_elem(&cgroups, &id);
	bpf_map_delete_elem(&syscalls_per_cg, &id);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
