// SPDX-License-Identifier: MIT
/*
 * map_lookup: the C libbpf side of tsbpf's map benchmarks.
 *
 * Times single-element map syscalls through libbpf's low-level API (one
 * bpf() syscall per call, no batching) and prints one JSON line per
 * operation, with the mean cost per call in nanoseconds:
 *
 *   {"op":"lookup","map":"hash","iters":1000000,"ns":651.3}
 *
 * Operations, on maps of 1024 entries with a 4-byte key and 8-byte value:
 *   lookup        BPF_MAP_TYPE_HASH, keys cycling over 0..1023 (all present)
 *   update        BPF_MAP_TYPE_HASH, BPF_ANY on existing keys
 *   delete        BPF_MAP_TYPE_HASH, existing keys: timed in rounds of 1024
 *                 deletes, refilling the map (untimed) between rounds
 *   array_lookup  BPF_MAP_TYPE_ARRAY, indexes cycling over 0..1023
 *   array_update  BPF_MAP_TYPE_ARRAY, BPF_ANY
 *
 * Usage: map_lookup [--iters N] (default 1000000 calls per operation).
 * Needs CAP_BPF (run as root). Build: make (cc -O2 ... -lbpf).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define ENTRIES 1024u
#define WARMUP 10000u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "map_lookup: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int create(enum bpf_map_type type, const char *name)
{
	int fd = bpf_map_create(type, name, sizeof(uint32_t), sizeof(uint64_t), ENTRIES, NULL);

	if (fd < 0)
		die("create map", errno);
	return fd;
}

static void fill(int fd)
{
	for (uint32_t k = 0; k < ENTRIES; k++) {
		uint64_t v = k;
		int err = bpf_map_update_elem(fd, &k, &v, BPF_ANY);

		if (err)
			die("fill map", errno);
	}
}

static void report(const char *op, const char *map, uint64_t iters, uint64_t elapsed)
{
	printf("{\"op\":\"%s\",\"map\":\"%s\",\"iters\":%llu,\"ns\":%.1f}\n", op, map,
	       (unsigned long long)iters, (double)elapsed / (double)iters);
	fflush(stdout);
}

/* Mean ns per lookup over iters calls, keys cycling over the map. */
static uint64_t time_lookups(int fd, uint64_t iters)
{
	uint64_t v, t0;

	for (uint32_t i = 0; i < WARMUP; i++) {
		uint32_t k = i % ENTRIES;

		bpf_map_lookup_elem(fd, &k, &v);
	}
	t0 = now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		uint32_t k = (uint32_t)(i % ENTRIES);

		if (bpf_map_lookup_elem(fd, &k, &v))
			die("lookup", errno);
	}
	return now_ns() - t0;
}

static uint64_t time_updates(int fd, uint64_t iters)
{
	uint64_t t0;

	for (uint32_t i = 0; i < WARMUP; i++) {
		uint32_t k = i % ENTRIES;
		uint64_t v = i;

		bpf_map_update_elem(fd, &k, &v, BPF_ANY);
	}
	t0 = now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		uint32_t k = (uint32_t)(i % ENTRIES);
		uint64_t v = i;

		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			die("update", errno);
	}
	return now_ns() - t0;
}

/* Deletes need present keys: delete all 1024, refill untimed, repeat. */
static uint64_t time_deletes(int fd, uint64_t iters)
{
	uint64_t done = 0, elapsed = 0;

	while (done < iters) {
		uint64_t n = iters - done < ENTRIES ? iters - done : ENTRIES;
		uint64_t t0;

		fill(fd);
		t0 = now_ns();
		for (uint32_t k = 0; k < n; k++) {
			if (bpf_map_delete_elem(fd, &k))
				die("delete", errno);
		}
		elapsed += now_ns() - t0;
		done += n;
	}
	return elapsed;
}

int main(int argc, char **argv)
{
	uint64_t iters = 1000000;
	int hash, array;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
			char *end;

			iters = strtoull(argv[++i], &end, 10);
			if (*end || iters == 0) {
				fprintf(stderr, "map_lookup: --iters needs a positive integer\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: %s [--iters N]\n", argv[0]);
			return 2;
		}
	}

	hash = create(BPF_MAP_TYPE_HASH, "bench_hash");
	fill(hash);
	report("lookup", "hash", iters, time_lookups(hash, iters));
	report("update", "hash", iters, time_updates(hash, iters));
	report("delete", "hash", iters, time_deletes(hash, iters));
	close(hash);

	array = create(BPF_MAP_TYPE_ARRAY, "bench_array");
	fill(array);
	report("array_lookup", "array", iters, time_lookups(array, iters));
	report("array_update", "array", iters, time_updates(array, iters));
	close(array);
	return 0;
}
