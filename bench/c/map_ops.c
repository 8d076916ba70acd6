// SPDX-License-Identifier: MIT
/*
 * map_ops: the C libbpf side of tsbpf's map benchmarks (bench/run.ts, issue 6 cases 1-3).
 * bench/map-ops.ts (tsbpf), bench/go/main.go (cilium/ebpf) and bench/python/map_ops.py (bcc)
 * do the same work and print the same JSON lines, one per measurement:
 *
 *   {"op":"hash8 lookup","ns":651.3}        mean ns per call
 *   {"op":"dump batch","s":0.061,"n":1000000}  seconds for the whole dump, entries seen
 *
 * Cases:
 *   map_ops ops [--iters N]
 *       On maps of 1024 entries with 4-byte keys: {hash,array}{8,64} (value bytes) x
 *       lookup / update / delete (hash only: an array cannot delete). Keys cycle over 0..1023,
 *       all present. Deletes run in rounds of 1024 with an untimed refill between rounds.
 *   map_ops percpu [--iters N]
 *       BPF_MAP_TYPE_PERCPU_ARRAY, 1024 entries, 8-byte values: one lookup returns the values of
 *       every possible CPU.
 *   map_ops fill PATH N
 *       Creates a hash map of N entries (4-byte key i, 8-byte value 3*i), fills it with
 *       BPF_MAP_UPDATE_BATCH and pins it at PATH (the dump case of every language reads it).
 *   map_ops dump PATH [--batch B]
 *       Reads every entry of the pinned map into arrays: "dump iterate" with
 *       bpf_map_get_next_key + bpf_map_lookup_elem, "dump batch" with bpf_map_lookup_batch
 *       (B entries per call, default 4096).
 *
 * Needs CAP_BPF (run as root). Build: make map_ops (cc -O2 ... -lbpf).
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
	fprintf(stderr, "map_ops: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void report_ns(const char *op, uint64_t iters, uint64_t elapsed)
{
	printf("{\"op\":\"%s\",\"ns\":%.1f}\n", op, (double)elapsed / (double)iters);
	fflush(stdout);
}

static int create(enum bpf_map_type type, uint32_t value_size, uint32_t entries)
{
	int fd = bpf_map_create(type, "bench", sizeof(uint32_t), value_size, entries, NULL);

	if (fd < 0)
		die("create map", errno);
	return fd;
}

static void fill(int fd, uint32_t value_size)
{
	uint8_t v[64] = { 0 };

	for (uint32_t k = 0; k < ENTRIES; k++) {
		memcpy(v, &k, sizeof(k));
		if (value_size < sizeof(k))
			die("fill map", EINVAL);
		if (bpf_map_update_elem(fd, &k, v, BPF_ANY))
			die("fill map", errno);
	}
}

static uint64_t time_lookups(int fd, void *v, uint64_t iters)
{
	uint64_t t0;

	for (uint32_t i = 0; i < WARMUP; i++) {
		uint32_t k = i % ENTRIES;

		bpf_map_lookup_elem(fd, &k, v);
	}
	t0 = now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		uint32_t k = (uint32_t)(i % ENTRIES);

		if (bpf_map_lookup_elem(fd, &k, v))
			die("lookup", errno);
	}
	return now_ns() - t0;
}

static uint64_t time_updates(int fd, void *v, uint64_t iters)
{
	uint64_t t0;

	for (uint32_t i = 0; i < WARMUP; i++) {
		uint32_t k = i % ENTRIES;

		bpf_map_update_elem(fd, &k, v, BPF_ANY);
	}
	t0 = now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		uint32_t k = (uint32_t)(i % ENTRIES);

		if (bpf_map_update_elem(fd, &k, v, BPF_ANY))
			die("update", errno);
	}
	return now_ns() - t0;
}

static uint64_t time_deletes(int fd, uint32_t value_size, uint64_t iters)
{
	uint64_t done = 0, elapsed = 0;

	while (done < iters) {
		uint64_t n = iters - done < ENTRIES ? iters - done : ENTRIES;
		uint64_t t0;

		fill(fd, value_size);
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

static void case_ops(uint64_t iters)
{
	static const struct {
		const char *name;
		enum bpf_map_type type;
		uint32_t value_size;
	} maps[] = {
		{ "hash8", BPF_MAP_TYPE_HASH, 8 },
		{ "hash64", BPF_MAP_TYPE_HASH, 64 },
		{ "array8", BPF_MAP_TYPE_ARRAY, 8 },
		{ "array64", BPF_MAP_TYPE_ARRAY, 64 },
	};
	char op[64];
	uint8_t v[64] = { 1 };

	for (size_t m = 0; m < sizeof(maps) / sizeof(maps[0]); m++) {
		int fd = create(maps[m].type, maps[m].value_size, ENTRIES);

		fill(fd, maps[m].value_size);
		snprintf(op, sizeof(op), "%s lookup", maps[m].name);
		report_ns(op, iters, time_lookups(fd, v, iters));
		snprintf(op, sizeof(op), "%s update", maps[m].name);
		report_ns(op, iters, time_updates(fd, v, iters));
		if (maps[m].type == BPF_MAP_TYPE_HASH) {
			snprintf(op, sizeof(op), "%s delete", maps[m].name);
			report_ns(op, iters, time_deletes(fd, maps[m].value_size, iters));
		}
		close(fd);
	}
}

static void case_percpu(uint64_t iters)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;
	int fd;

	if (ncpu < 1)
		die("possible CPUs", ncpu);
	v = calloc((size_t)ncpu, sizeof(uint64_t));
	fd = create(BPF_MAP_TYPE_PERCPU_ARRAY, 8, ENTRIES);
	report_ns("percpu lookup", iters, time_lookups(fd, v, iters));
	close(fd);
	free(v);
}

static void case_fill(const char *path, uint32_t n)
{
	uint32_t *keys = malloc((size_t)n * sizeof(*keys));
	uint64_t *values = malloc((size_t)n * sizeof(*values));
	uint32_t chunk = 65536;
	int fd;

	if (!keys || !values)
		die("allocate", ENOMEM);
	for (uint32_t i = 0; i < n; i++) {
		keys[i] = i;
		values[i] = 3ull * i;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_dump", 4, 8, n, NULL);
	if (fd < 0)
		die("create map", errno);
	for (uint32_t off = 0; off < n; off += chunk) {
		uint32_t count = n - off < chunk ? n - off : chunk;

		if (bpf_map_update_batch(fd, keys + off, values + off, &count, NULL))
			die("batch update", errno);
	}
	unlink(path);
	if (bpf_obj_pin(fd, path))
		die("pin", errno);
	close(fd);
	free(keys);
	free(values);
}

static void case_dump(const char *path, uint32_t batch)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info), n = 0, max, cur, next, token;
	uint32_t *keys;
	uint64_t *values, t0;
	int fd = bpf_obj_get(path), err;
	void *in = NULL;

	if (fd < 0)
		die("open pinned map", errno);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die("map info", errno);
	max = info.max_entries;
	keys = malloc((size_t)max * sizeof(*keys));
	values = malloc((size_t)max * sizeof(*values));

	/* get-next-key + lookup: two system calls per entry */
	t0 = now_ns();
	err = bpf_map_get_next_key(fd, NULL, &cur);
	while (!err && n < max) {
		if (bpf_map_lookup_elem(fd, &cur, &values[n]) == 0)
			keys[n++] = cur;
		err = bpf_map_get_next_key(fd, &cur, &next);
		cur = next;
	}
	if (err && errno != ENOENT)
		die("get next key", errno);
	printf("{\"op\":\"dump iterate\",\"s\":%.6f,\"n\":%u}\n", (double)(now_ns() - t0) / 1e9, n);
	fflush(stdout);

	/* batch lookup straight into the result arrays */
	n = 0;
	t0 = now_ns();
	for (;;) {
		uint32_t count = max - n < batch ? max - n : batch;

		if (count == 0)
			break;
		err = bpf_map_lookup_batch(fd, in, &token, keys + n, values + n, &count, NULL);
		if (err && errno != ENOENT)
			die("lookup batch", errno);
		n += count;
		if (err)
			break;
		in = &token;
	}
	printf("{\"op\":\"dump batch\",\"s\":%.6f,\"n\":%u}\n", (double)(now_ns() - t0) / 1e9, n);
	fflush(stdout);
	close(fd);
	free(keys);
	free(values);
}

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	if (*end || v == 0) {
		fprintf(stderr, "map_ops: %s needs a positive integer\n", what);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	uint64_t iters = 1000000, batch = 4096;
	const char *c = argc > 1 ? argv[1] : "";
	int first = 2;

	if (!strcmp(c, "fill") || !strcmp(c, "dump"))
		first = 3;
	if (argc < first) {
		fprintf(stderr, "usage: map_ops ops|percpu [--iters N] | fill PATH N | dump PATH [--batch B]\n");
		return 2;
	}
	if (!strcmp(c, "fill")) {
		if (argc != 4) {
			fprintf(stderr, "usage: map_ops fill PATH N\n");
			return 2;
		}
		case_fill(argv[2], (uint32_t)parse_u64(argv[3], "N"));
		return 0;
	}
	for (int i = first; i < argc; i++) {
		if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = parse_u64(argv[++i], "--iters");
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = parse_u64(argv[++i], "--batch");
		else {
			fprintf(stderr, "map_ops: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if (!strcmp(c, "ops"))
		case_ops(iters);
	else if (!strcmp(c, "percpu"))
		case_percpu(iters);
	else if (!strcmp(c, "dump"))
		case_dump(argv[2], (uint32_t)batch);
	else {
		fprintf(stderr, "map_ops: unknown case %s\n", c);
		return 2;
	}
	return 0;
}
