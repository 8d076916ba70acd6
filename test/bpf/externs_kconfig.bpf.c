// SPDX-License-Identifier: GPL-2.0
/*
 * externs_kconfig: `__kconfig` externs filled by the loader into the `.kconfig` map.
 *
 * read_kconfig (SEC("syscall"), run with BPF_PROG_TEST_RUN) copies every extern into a .bss
 * global of the same name in lower case (out_kernel_version, out_bpf_syscall, ...), so a test can
 * compare them with what tsbpf parsed from the kernel config. Types cover every kind libbpf
 * supports: u32 (virtual LINUX_KERNEL_VERSION), bool (virtual LINUX_HAS_*, CONFIG_ bools),
 * enum libbpf_tristate, char ('y'/'n'/'m' as a character), int, u64 (hex), char[] (strings,
 * truncated to fit and NUL-terminated), and __weak externs absent from the config (0).
 * Returns 1.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern u32 LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig;
extern enum libbpf_tristate CONFIG_BPF_SYSCALL __kconfig;
extern bool CONFIG_BPF_JIT __kconfig;
extern char CONFIG_BPF_EVENTS __kconfig;
extern int CONFIG_HZ __kconfig;
extern u64 CONFIG_PHYSICAL_START __kconfig __weak;
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig;
extern char CONFIG_LOCALVERSION[4] __kconfig __weak;
extern int CONFIG_TSBPF_NO_SUCH_OPTION __kconfig __weak;
extern bool CONFIG_KPROBES __kconfig __weak;

u32 out_kernel_version;
bool out_has_syscall_wrapper;
bool out_has_bpf_cookie;
u32 out_bpf_syscall;
bool out_bpf_jit;
char out_bpf_events;
int out_hz;
u64 out_physical_start;
char out_default_hostname[16];
char out_localversion[4];
int out_no_such_option = -1;
bool out_kprobes = true;

SEC("syscall")
int read_kconfig(void *ctx)
{
	out_kernel_version = LINUX_KERNEL_VERSION;
	out_has_syscall_wrapper = LINUX_HAS_SYSCALL_WRAPPER;
	out_has_bpf_cookie = LINUX_HAS_BPF_COOKIE;
	out_bpf_syscall = CONFIG_BPF_SYSCALL;
	out_bpf_jit = CONFIG_BPF_JIT;
	out_bpf_events = CONFIG_BPF_EVENTS;
	out_hz = CONFIG_HZ;
	out_physical_start = CONFIG_PHYSICAL_START;
	__builtin_memcpy(out_default_hostname, CONFIG_DEFAULT_HOSTNAME, sizeof(out_default_hostname));
	__builtin_memcpy(out_localversion, CONFIG_LOCALVERSION, sizeof(out_localversion));
	out_no_such_option = CONFIG_TSBPF_NO_SUCH_OPTION;
	out_kprobes = CONFIG_KPROBES;
	return 1;
}

/*
 * Dead code behind a kconfig value: the .kconfig map is read-only to programs, so once it is
 * frozen the verifier reads CONFIG_TSBPF_NO_SUCH_OPTION (weak, 0) as a constant and skips the
 * invalid access. Loads only if the loader freezes .kconfig before loading programs (as libbpf
 * does). Returns 2.
 */
SEC("syscall")
int kconfig_dead_code(void *ctx)
{
	if (CONFIG_TSBPF_NO_SUCH_OPTION)
		return *(volatile int *)(long)CONFIG_HZ;
	return 2;
}

char LICENSE[] SEC("license") = "GPL";
