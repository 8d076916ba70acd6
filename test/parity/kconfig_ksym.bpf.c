// SPDX-License-Identifier: GPL-2.0
/*
 * kconfig_ksym: the extern idioms. .kconfig externs (LINUX_KERNEL_VERSION,
 * CONFIG_HZ as an int, CONFIG_BPF_SYSCALL as a bool, CONFIG_PREEMPTION as a
 * tristate, a __weak CONFIG_ that no kernel defines) and typeless __ksym
 * externs resolved through /proc/kallsyms: a function every kernel has
 * (vfs_read) and a __weak one no kernel has. Typed per-CPU ksyms are in
 * ksym_percpu.bpf.c.
 */
#include "parity.h"

extern u32 LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_PREEMPTION __kconfig __weak;
extern int CONFIG_PARITY_NO_SUCH_OPTION __kconfig __weak;

extern const void vfs_read __ksym;
extern const void bpf_parity_no_such_symbol __ksym __weak;

u32 out_version = 0;
int out_hz = 0;
int out_bpf = 0;
int out_preempt = -1;
int out_missing = -1;
int out_have_missing_sym = -1;
u64 out_vfs_read_addr = 0;

SEC("tp/syscalls/sys_enter_getpgid")
int read_kconfig(void *ctx)
{
	out_version = LINUX_KERNEL_VERSION;
	out_hz = CONFIG_HZ;
	out_bpf = CONFIG_BPF_SYSCALL;
	out_preempt = CONFIG_PREEMPTION;
	out_missing = CONFIG_PARITY_NO_SUCH_OPTION;
	out_have_missing_sym = &bpf_parity_no_such_symbol != 0;
	out_vfs_read_addr = (u64)&vfs_read;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
