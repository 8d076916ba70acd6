// SPDX-License-Identifier: GPL-2.0
/*
 * events_user_ringbuf: a BPF consumer of a user ring buffer, for the UserRingBuffer tests.
 *
 * Program: syscall (drain), run with BPF_PROG_TEST_RUN. Drains `requests` with
 * bpf_user_ringbuf_drain(); each sample is {u64 value, u32 tag, u32 pad}: samples += 1,
 * sum += value, last_tag = tag, and a sample shorter than 16 bytes counts in short_samples.
 * The program returns what bpf_user_ringbuf_drain returned (the number of samples drained).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 16 * 1024);
} requests SEC(".maps");

struct req {
	__u64 value;
	__u32 tag;
	__u32 pad;
};

__u64 samples, sum, short_samples;
__u32 last_tag;

static long on_sample(struct bpf_dynptr *dynptr, void *ctx)
{
	struct req r;

	if (bpf_dynptr_read(&r, sizeof(r), dynptr, 0, 0)) {
		short_samples++;
		return 0;
	}
	samples++;
	sum += r.value;
	last_tag = r.tag;
	return 0;
}

SEC("syscall")
int drain(void *ctx)
{
	return bpf_user_ringbuf_drain(&requests, on_sample, NULL, 0);
}

char _license[] SEC("license") = "GPL";
