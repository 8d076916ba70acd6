// SPDX-License-Identifier: GPL-2.0
/*
 * attach_uprobe: uprobe, uretprobe, uprobe.multi and USDT programs for test/helpers/uprobe_target.c.
 * Everything counts only the process whose tgid is in rodata target_tgid, into .bss globals.
 *
 * - on_add (uprobe on uprobe_target_add(int a, int b)): add_calls, add_arg_sum += a.
 * - on_add_ret (uretprobe on it): ret_calls, ret_sum += return value (a + b).
 * - on_getpid (uprobe on libc's getpid): getpid_calls.
 * - on_multi (uprobe.multi): multi_calls, multi_cookie_sum += bpf_get_attach_cookie().
 * - on_tick (usdt tsbpf:tick(i, 2i)): tick_calls, tick_arg0_sum, tick_arg1_sum and tick_cookie,
 *   read through the __bpf_usdt_specs map exactly as libbpf's <bpf/usdt.bpf.h> lays it out (the
 *   uprobe's BPF cookie is the spec id; tsbpf fills the spec). The reader below is a local copy
 *   of usdt.bpf.h's logic without its LINUX_HAS_BPF_COOKIE kconfig extern.
 * - on_guarded (usdt tsbpf:guarded, attached without a spec map): guarded_calls and
 *   guarded_cookie = bpf_get_attach_cookie() (the cookie passed to attachUsdt).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int target_tgid = 0;

__u64 add_calls, add_arg_sum, ret_calls, ret_sum, getpid_calls, multi_calls, multi_cookie_sum;
__u64 tick_calls, tick_arg0_sum, tick_arg1_sum, tick_cookie, tick_errors, guarded_calls, guarded_cookie;

static __always_inline int mine(void)
{
	return (int)(bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("uprobe")
int BPF_KPROBE(on_add, int a, int b)
{
	if (!mine())
		return 0;
	__sync_fetch_and_add(&add_calls, 1);
	__sync_fetch_and_add(&add_arg_sum, a);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_add_ret, int ret)
{
	if (!mine())
		return 0;
	__sync_fetch_and_add(&ret_calls, 1);
	__sync_fetch_and_add(&ret_sum, ret);
	return 0;
}

SEC("uprobe")
int on_getpid(struct pt_regs *ctx)
{
	if (mine())
		__sync_fetch_and_add(&getpid_calls, 1);
	return 0;
}

SEC("uprobe.multi")
int on_multi(struct pt_regs *ctx)
{
	if (!mine())
		return 0;
	__sync_fetch_and_add(&multi_calls, 1);
	__sync_fetch_and_add(&multi_cookie_sum, bpf_get_attach_cookie(ctx));
	return 0;
}

/* libbpf's usdt.bpf.h layout. */
struct __bpf_usdt_arg_spec {
	__u64 val_off;
	__u32 arg_type; /* 0 const, 1 register, 2 register + offset in memory */
	short reg_off;
	bool arg_signed;
	char arg_bitshift;
};

struct __bpf_usdt_spec {
	struct __bpf_usdt_arg_spec args[12];
	__u64 usdt_cookie;
	short arg_cnt;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, int);
	__type(value, struct __bpf_usdt_spec);
} __bpf_usdt_specs SEC(".maps");

static __always_inline int usdt_arg(struct pt_regs *ctx, __u64 n, long *res)
{
	struct __bpf_usdt_arg_spec *arg;
	struct __bpf_usdt_spec *spec;
	int id = (int)bpf_get_attach_cookie(ctx);
	unsigned long val;

	*res = 0;
	spec = bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
	if (!spec)
		return -1;
	if (n >= 12 || n >= spec->arg_cnt)
		return -2;
	arg = &spec->args[n];
	switch (arg->arg_type) {
	case 0:
		val = arg->val_off;
		break;
	case 1:
		if (bpf_probe_read_kernel(&val, sizeof(val), (void *)ctx + arg->reg_off))
			return -3;
		break;
	case 2:
		if (bpf_probe_read_kernel(&val, sizeof(val), (void *)ctx + arg->reg_off))
			return -3;
		if (bpf_probe_read_user(&val, sizeof(val), (void *)val + arg->val_off))
			return -4;
		break;
	default:
		return -5;
	}
	val <<= arg->arg_bitshift;
	if (arg->arg_signed)
		val = ((long)val) >> arg->arg_bitshift;
	else
		val = val >> arg->arg_bitshift;
	*res = val;
	return 0;
}

SEC("usdt")
int on_tick(struct pt_regs *ctx)
{
	struct __bpf_usdt_spec *spec;
	int id = (int)bpf_get_attach_cookie(ctx);
	long a0, a1;

	if (!mine())
		return 0;
	__sync_fetch_and_add(&tick_calls, 1);
	if (usdt_arg(ctx, 0, &a0) || usdt_arg(ctx, 1, &a1)) {
		__sync_fetch_and_add(&tick_errors, 1);
		return 0;
	}
	__sync_fetch_and_add(&tick_arg0_sum, a0);
	__sync_fetch_and_add(&tick_arg1_sum, a1);
	spec = bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
	if (spec)
		tick_cookie = spec->usdt_cookie;
	return 0;
}

SEC("usdt")
int on_guarded(struct pt_regs *ctx)
{
	if (!mine())
		return 0;
	__sync_fetch_and_add(&guarded_calls, 1);
	guarded_cookie = bpf_get_attach_cookie(ctx);
	return 0;
}

char _license[] SEC("license") = "GPL";
