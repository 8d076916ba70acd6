// SPDX-License-Identifier: GPL-2.0
/*
 * events_ringbuf: ring buffer producers with exact counts, for the RingBuffer tests.
 *
 * Program: tracepoint/syscalls/sys_enter_getpid (emit). For every getpid() call by the process
 * whose tgid is in rodata target_tgid (0 = every process), seq = calls++ and:
 *  - rb8 gets one 8-byte record {u32 tgid, u32 seq}; produced8++ (or dropped8++ if the ring is
 *    full and bpf_ringbuf_reserve fails);
 *  - rb256 gets one 256-byte record {u64 seq, u8 fill[248] = (u8)seq}; when discard_every != 0
 *    and seq % discard_every == 0 it is discarded (discarded256++) instead of submitted
 *    (produced256++); dropped256++ when reserve fails.
 * So after N calls: produced8 + dropped8 = N, produced256 + discarded256 + dropped256 = N.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;
const volatile __u32 discard_every = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb8 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} rb256 SEC(".maps");

struct rec8 {
	__u32 tgid;
	__u32 seq;
};

struct rec256 {
	__u64 seq;
	__u8 fill[248];
};

__u64 calls;
__u64 produced8, dropped8;
__u64 produced256, discarded256, dropped256;

SEC("tracepoint/syscalls/sys_enter_getpid")
int emit(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct rec8 *a;
	struct rec256 *b;
	__u64 seq;
	int i;

	if (target_tgid && tgid != target_tgid)
		return 0;
	seq = __sync_fetch_and_add(&calls, 1);

	a = bpf_ringbuf_reserve(&rb8, sizeof(*a), 0);
	if (a) {
		a->tgid = tgid;
		a->seq = (__u32)seq;
		bpf_ringbuf_submit(a, 0);
		__sync_fetch_and_add(&produced8, 1);
	} else {
		__sync_fetch_and_add(&dropped8, 1);
	}

	b = bpf_ringbuf_reserve(&rb256, sizeof(*b), 0);
	if (!b) {
		__sync_fetch_and_add(&dropped256, 1);
		return 0;
	}
	b->seq = seq;
	for (i = 0; i < (int)sizeof(b->fill); i++)
		b->fill[i] = (__u8)seq;
	if (discard_every && seq % discard_every == 0) {
		bpf_ringbuf_discard(b, 0);
		__sync_fetch_and_add(&discarded256, 1);
	} else {
		bpf_ringbuf_submit(b, 0);
		__sync_fetch_and_add(&produced256, 1);
	}
	return 0;
}

char _license[] SEC("license") = "GPL";
