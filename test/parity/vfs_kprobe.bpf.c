// SPDX-License-Identifier: GPL-2.0
/*
 * vfs_kprobe: file-level I/O by file name, the kprobe way (BPF_KPROBE /
 * BPF_KRETPROBE). vfs_read/vfs_write entry remember the file and size per thread;
 * the returns add the bytes to a per-(inode, op) entry that also holds the file
 * name (file->f_path.dentry->d_name.name), the inode's mode and the device, all
 * read through BPF_CORE_READ. vfs_unlink counts deletions; do_sys_openat2 shows the
 * syscall-wrapper-free BPF_KPROBE signature. These load on kernels without
 * CONFIG_KPROBES but do not attach there.
 */
#include "parity.h"

#define S_IFMT 00170000
#define S_IFREG 0100000

struct file_key {
	u64 ino;
	u32 dev;
	u32 op;
};

struct file_stat {
	u64 bytes;
	u64 calls;
	u32 mode;
	char name[64];
};

struct pending {
	struct file *file;
	u64 ts;
	u32 op;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct pending);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct file_key);
	__type(value, struct file_stat);
} files SEC(".maps");

const volatile bool regular_only = true;
u64 unlinks = 0;
u64 opens = 0;

static __always_inline int entry(struct file *file, u32 op)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct pending p = { .file = file, .ts = bpf_ktime_get_ns(), .op = op };
	u32 mode = BPF_CORE_READ(file, f_inode, i_mode);

	if (regular_only && (mode & S_IFMT) != S_IFREG)
		return 0;
	bpf_map_update_elem(&inflight, &tid, &p, BPF_ANY);
	return 0;
}

static __always_inline int ret(long bytes)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct file_stat *st, zero = {};
	struct pending *p;
	struct file_key k = {};
	struct dentry *de;
	struct file *f;

	p = bpf_map_lookup_elem(&inflight, &tid);
	if (!p)
		return 0;
	f = p->file;
	k.ino = BPF_CORE_READ(f, f_inode, i_ino);
	k.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	k.op = p->op;
	st = bpf_map_lookup_elem(&files, &k);
	if (!st) {
		de = BPF_CORE_READ(f, f_path.dentry);
		bpf_probe_read_kernel_str(zero.name, sizeof(zero.name), BPF_CORE_READ(de, d_name.name));
		zero.mode = BPF_CORE_READ(f, f_inode, i_mode);
		bpf_map_update_elem(&files, &k, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&files, &k);
	}
	if (st && bytes > 0) {
		__sync_fetch_and_add(&st->bytes, bytes);
		__sync_fetch_and_add(&st->calls, 1);
	}
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

SEC("kprobe/vfs_read")
int BPF_KPROBE(vfs_read_entry, struct file *file, char *buf, size_t count)
{
	return entry(file, 0);
}

SEC("kretprobe/vfs_read")
int BPF_KRETPROBE(vfs_read_return, ssize_t r)
{
	return ret(r);
}

SEC("kprobe/vfs_write")
int BPF_KPROBE(vfs_write_entry, struct file *file, const char *buf, size_t count)
{
	return entry(file, 1);
}

SEC("kretprobe/vfs_write")
int BPF_KRETPROBE(vfs_write_return, ssize_t r)
{
	return ret(r);
}

SEC("kprobe/vfs_unlink")
int BPF_KPROBE(vfs_unlink_entry, struct mnt_idmap *idmap, struct inode *dir, struct dentry *dentry)
{
	__sync_fetch_and_add(&unlinks, 1);
	return 0;
}

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(openat2_entry, int dfd, const char *filename, struct open_how *how)
{
	if (BPF_CORE_READ(how, flags) & 0100 /* O_CREAT */)
		__sync_fetch_and_add(&opens, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
