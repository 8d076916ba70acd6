// SPDX-License-Identifier: GPL-2.0
/*
 * core_module: CO-RE relocations and kfuncs against types and functions that, on a distribution
 * kernel, live in modules (in vmlinux on kernels that build them in):
 *
 * - core_ovl (SEC("syscall"), test-run, returns 1): CO-RE relocations on overlayfs's types, which
 *   on Debian's 6.1 exist only in /sys/kernel/btf/overlay: out_ovl_fs_id =
 *   bpf_core_type_id_kernel(struct ovl_fs) (the module's type id there), out_ovl_fs_size =
 *   sizeof(struct ovl_fs) in the kernel, out_numfs_off = offset of ovl_fs.numfs,
 *   out_namelen_off = offset of ovl_fs.namelen, out_ovl_inode_exists = 1 when the kernel has
 *   struct ovl_inode, out_no_field = 0 (ovl_fs.tsbpf_no_such_field does not exist);
 * - ct_lookup (SEC("xdp"), test-run with any frame, returns XDP_PASS): calls nf_conntrack's kfunc
 *   bpf_xdp_ct_lookup for a TCP tuple 127.0.0.1:1 -> 127.0.0.1:2 in the caller's netns, which has
 *   no such connection: out_ct_found = 0 and out_ct_error = the error the kernel writes into the
 *   options, -ENOENT (-2). bpf_ct_release is called when a connection is found.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

/* A field the kernel's struct ovl_fs does not have (a local flavour adds it). */
struct ovl_fs___probe {
	int tsbpf_no_such_field;
} __attribute__((preserve_access_index));

u32 out_ovl_fs_id;
u32 out_ovl_fs_size;
u32 out_numfs_off = 0xffffffff;
u32 out_namelen_off = 0xffffffff;
int out_ovl_inode_exists;
int out_no_field = 1;

SEC("syscall")
int core_ovl(void *ctx)
{
	out_ovl_fs_id = bpf_core_type_id_kernel(struct ovl_fs);
	out_ovl_fs_size = bpf_core_type_size(struct ovl_fs);
	out_numfs_off = bpf_core_field_offset(struct ovl_fs, numfs);
	out_namelen_off = bpf_core_field_offset(struct ovl_fs, namelen);
	out_ovl_inode_exists = bpf_core_type_exists(struct ovl_inode);
	out_no_field = bpf_core_field_exists(struct ovl_fs___probe, tsbpf_no_such_field);
	return 1;
}

/* The options as 6.1 defines them (NF_BPF_CT_OPTS_SZ = 12; later kernels accept this size too). */
struct ct_opts_6_1 {
	s32 netns_id;
	s32 error;
	u8 l4proto;
	u8 dir;
	u8 reserved[2];
};

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx, struct bpf_sock_tuple *bpf_tuple,
					 u32 tuple__sz, struct ct_opts_6_1 *opts, u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

int out_ct_found = -1;
int out_ct_error = 1;

SEC("xdp")
int ct_lookup(struct xdp_md *ctx)
{
	struct bpf_sock_tuple tup = {};
	struct ct_opts_6_1 opts = { .netns_id = -1, .l4proto = 6 /* IPPROTO_TCP */ };
	struct nf_conn *ct;

	tup.ipv4.saddr = bpf_htonl(0x7f000001);
	tup.ipv4.daddr = bpf_htonl(0x7f000001);
	tup.ipv4.sport = bpf_htons(1);
	tup.ipv4.dport = bpf_htons(2);
	ct = bpf_xdp_ct_lookup(ctx, &tup, sizeof(tup.ipv4), &opts, sizeof(opts));
	/* One null check only: 6.1's verifier follows a second one into a branch that leaks ct. */
	if (ct) {
		out_ct_found = 1;
		bpf_ct_release(ct);
	} else {
		out_ct_found = 0;
	}
	out_ct_error = opts.error;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
