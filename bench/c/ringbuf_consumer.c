// SPDX-License-Identifier: MIT
/*
 * ringbuf_consumer: the C libbpf side of tsbpf's event-stream benchmarks (bench/ringbuf.ts).
 *
 * Opens an existing BPF_MAP_TYPE_RINGBUF or PERF_EVENT_ARRAY map by id and consumes it with
 * libbpf's ring_buffer__* or perf_buffer__* API. The per-record callback reads the first 8 bytes
 * of the record (as the tsbpf side does). Prints one JSON line:
 *   {"kind":"ringbuf","mode":"drain","events":2097152,"ns":41000000,"cpu_ns":40000000}
 * (ns: wall-clock time; cpu_ns: CPU time of the process, CLOCK_PROCESS_CPUTIME_ID, over the same span)
 *
 *   ringbuf_consumer KIND MODE MAP_ID [SECONDS] [PAGES]
 *     KIND    ringbuf | perf
 *     MODE    drain: set up, print "ready", wait for a line on stdin, then time
 *             ring_buffer__consume / perf_buffer__consume until the ring is empty (a ring filled
 *             while waiting);
 *             live: set up, print "ready", wait for a line, then ring_buffer__poll /
 *             perf_buffer__poll (100 ms timeout) for SECONDS while a producer runs.
 *     PAGES   perf only: data pages per CPU ring (power of two, default 64).
 * The mapped rings are touched page by page before "ready", so page faults are not timed.
 * Needs root. Build: make -C bench/c ringbuf_consumer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static uint64_t events, sum, lost;

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static int on_ring(void *ctx, void *data, size_t size)
{
	uint64_t v;

	(void)ctx;
	(void)size;
	memcpy(&v, data, sizeof v);
	sum += v;
	events++;
	return 0;
}

static void on_perf(void *ctx, int cpu, void *data, __u32 size)
{
	uint64_t v;

	(void)ctx;
	(void)cpu;
	(void)size;
	memcpy(&v, data, sizeof v);
	sum += v;
	events++;
}

static void on_lost(void *ctx, int cpu, __u64 n)
{
	(void)ctx;
	(void)cpu;
	lost += n;
}

/*
 * Touches every page of this process's BPF map and perf mappings, so that page faults on fresh
 * mappings are not timed (the tsbpf side does the same through its mapped views).
 */
static void prefault(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	volatile unsigned char z = 0;
	char line[512], perms[8];
	unsigned long a, b;

	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (!strstr(line, "bpf-map") && !strstr(line, "perf_event"))
			continue;
		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) != 3 || perms[0] != 'r')
			continue;
		for (unsigned long p = a; p < b; p += 4096)
			z += *(volatile unsigned char *)p;
	}
	(void)z;
	fclose(f);
}

static void wait_go(void)
{
	char line[16];

	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		exit(3);
}

int main(int argc, char **argv)
{
	struct ring_buffer *rb = NULL;
	struct perf_buffer *pb = NULL;
	uint64_t t0, t1, c0, c1, deadline;
	double seconds;
	int fd, perf, live, pages, r;

	if (argc < 4) {
		fprintf(stderr, "usage: ringbuf_consumer ringbuf|perf drain|live MAP_ID [SECONDS] [PAGES]\n");
		return 2;
	}
	perf = !strcmp(argv[1], "perf");
	live = !strcmp(argv[2], "live");
	seconds = argc > 4 ? atof(argv[4]) : 2.0;
	pages = argc > 5 ? atoi(argv[5]) : 64;
	fd = bpf_map_get_fd_by_id((__u32)atoi(argv[3]));
	if (fd < 0) {
		fprintf(stderr, "map id %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	if (perf)
		pb = perf_buffer__new(fd, pages, on_perf, on_lost, NULL, NULL);
	else
		rb = ring_buffer__new(fd, on_ring, NULL, NULL);
	if (!pb && !rb) {
		fprintf(stderr, "open %s buffer: %s\n", argv[1], strerror(errno));
		return 1;
	}
	prefault();
	wait_go();
	c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	t0 = now_ns();
	if (live) {
		deadline = t0 + (uint64_t)(seconds * 1e9);
		while (now_ns() < deadline) {
			r = perf ? perf_buffer__poll(pb, 100) : ring_buffer__poll(rb, 100);
			if (r < 0 && r != -EINTR)
				break;
		}
	} else if (perf) {
		/* perf_buffer__consume returns 0 on success, not a count: drain until no progress */
		uint64_t before;
		do {
			before = events;
			r = perf_buffer__consume(pb);
		} while (r >= 0 && events != before);
	} else {
		do
			r = ring_buffer__consume(rb);
		while (r > 0);
	}
	t1 = now_ns();
	c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	printf("{\"kind\":\"%s\",\"mode\":\"%s\",\"events\":%llu,\"lost\":%llu,\"ns\":%llu,\"cpu_ns\":%llu,\"sum\":%llu}\n",
	       argv[1], argv[2], (unsigned long long)events, (unsigned long long)lost, (unsigned long long)(t1 - t0),
	       (unsigned long long)(c1 - c0), (unsigned long long)sum);
	ring_buffer__free(rb);
	perf_buffer__free(pb);
	close(fd);
	return 0;
}
