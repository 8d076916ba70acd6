// SPDX-License-Identifier: GPL-2.0
/*
 * vfs_fentry: the fentry/fexit form of a vfs latency tool. fentry programs get
 * typed arguments (BTF), fexit ones also the return value; the file's inode
 * number is read by direct pointer access (BTF-typed), the name through
 * BPF_CORE_READ. On the CI VM fentry/fexit loads are refused with EPERM by the
 * kernel, so both loaders are expected to fail here: parity means failing alike.
 */
#include "parity.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, struct log2_hist);
} lat SEC(".maps");

static __always_inline int begin(void)
{
	u32 tid = bpf_get_current_pid_tgid();
	u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int end(u32 op)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct log2_hist *h;
	u64 *tsp;

	tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;
	h = bpf_map_lookup_elem(&lat, &op);
	if (h)
		hist_add(h, (bpf_ktime_get_ns() - *tsp) / 1000);
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("fentry/vfs_read")
int BPF_PROG(fentry_read, struct file *file)
{
	if (file->f_inode->i_ino == 0)
		return 0;
	return begin();
}

SEC("fexit/vfs_read")
int BPF_PROG(fexit_read, struct file *file, char *buf, size_t count, loff_t *pos, ssize_t ret)
{
	return end(0);
}

SEC("fentry/vfs_write")
int BPF_PROG(fentry_write, struct file *file)
{
	return begin();
}

SEC("fexit/vfs_write")
int BPF_PROG(fexit_write, struct file *file, const char *buf, size_t count, loff_t *pos, ssize_t ret)
{
	return end(1);
}

char LICENSE[] SEC("license") = "GPL";
