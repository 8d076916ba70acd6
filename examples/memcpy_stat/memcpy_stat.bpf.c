// SPDX-License-Identifier: GPL-2.0
/*
 * memcpy_stat: the second demo of the seed "learn-bpf" (memcpy_stat_kern.c,
 * learn-bpf-memcpy-demos.txt). Instead of printing every copy size, the
 * kernel side keeps a histogram of memcpy() sizes in a map that user space
 * prints every 2 seconds. Like the original it declares its map the legacy
 * way, as a struct bpf_map_def in SEC("maps"), and has "license" and
 * "version" sections (so libbpf >= 1.0 refuses it; tsbpf loads it).
 *
 * Map size_hist: array, key u32 bucket, value u64 count, 17 buckets:
 *   bucket 0:   size 0
 *   bucket i:   size 64*(i-1)+1 .. 64*i, for i = 1..16 (1-64, 65-128, ...,
 *               961-1024)
 *   sizes above 1024 are counted in bucket 16, printed as "961 - 1024*".
 *
 * A loader attaches one of three programs (see memcpy_kprobe.bpf.c for why
 * these hooks):
 *   bpf_prog1 (kprobe/memcpy): the seed's program; the size is memcpy()'s
 *     third argument. Needs CONFIG_KPROBES and a kernel that lets memcpy be
 *     probed.
 *   usercopy_stat (kprobe/__check_object_size): for kernels that refuse a
 *     kprobe on memcpy; the histogram of user copy sizes (second argument).
 *   read_stat (tracepoint/syscalls/sys_enter_read): for kernels without
 *     kprobes; the histogram of read(2)'s requested byte counts.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "legacy_map_def.h"

#define BUCKET_BYTES 64
#define NR_BUCKETS 17 /* 0, then 16 buckets of 64 bytes up to 1024 */

struct bpf_map_def SEC("maps") size_hist = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = NR_BUCKETS,
};

/* Record of syscalls/sys_enter_read (see its tracefs "format" file). */
struct sys_enter_read_args {
	__u64 common;
	int syscall_nr;
	unsigned long fd;
	char *buf;
	unsigned long count;
};

static __always_inline void count_size(unsigned long size)
{
	__u32 bucket;
	__u64 *count;

	if (size == 0)
		bucket = 0;
	else if (size > BUCKET_BYTES * (NR_BUCKETS - 1))
		bucket = NR_BUCKETS - 1;
	else
		bucket = (size - 1) / BUCKET_BYTES + 1;

	count = bpf_map_lookup_elem(&size_hist, &bucket);
	if (count)
		__sync_fetch_and_add(count, 1);
}

SEC("kprobe/memcpy")
int bpf_prog1(struct pt_regs *ctx)
{
	count_size(PT_REGS_PARM3(ctx));
	return 0;
}

SEC("kprobe/__check_object_size")
int usercopy_stat(struct pt_regs *ctx)
{
	count_size(PT_REGS_PARM2(ctx));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int read_stat(struct sys_enter_read_args *ctx)
{
	count_size(ctx->count);
	return 0;
}

char _license[] SEC("license") = "GPL";
/* KERNEL_VERSION(4, 12, 5); see memcpy_kprobe.bpf.c. */
__u32 _version SEC("version") = 0x040c05;
