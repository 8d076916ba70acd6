// SPDX-License-Identifier: MIT
/*
 * C libbpf side of bench/btf.ts, (c) and (d): bpf_object__open_file + bpf_object__load of a
 * CO-RE object, timed as a whole and split into phases by watching libbpf's bpf(2) calls.
 *
 * libbpf 1.1 has no relocation-only entry point (bpf_object__prepare came later), so this file
 * defines syscall(): libbpf reaches the kernel through syscall(__NR_bpf, ...), and a definition
 * in the executable takes precedence over libc's for the shared library. Every bpf() call is
 * timed; the "relocation phase" is the time from the return of the object's last
 * BPF_MAP_CREATE to the start of its first BPF_PROG_LOAD of one of the object's programs
 * (libbpf relocates between the two: CO-RE against the already-parsed vmlinux BTF, including
 * the candidate search, then map, global-data and subprogram relocations), less the time of any
 * other bpf() call (a feature probe) made inside that window. "prog_load_ms" is the
 * time spent inside BPF_PROG_LOAD (the verifier), the same work for any loader.
 *
 *   btf_object OBJ [ROUNDS]   -> one JSON line per round; round 0 is the cold one (fresh process)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct {
	int active;
	double last_map_create_end;
	double first_prog_load_start;
	double prog_load_ms;
	double btf_load_ms;
	double map_create_ms;
	double other_bpf_ms;
	double window_bpf_ms; /* bpf() time (feature probes) inside the relocation window */
	int prog_loads;
	int bpf_calls;
	char names[64][BPF_OBJ_NAME_LEN];
	int nnames;
} st;

typedef long (*syscall_fn)(long, ...);

long syscall(long number, ...)
{
	static syscall_fn real;
	long a[6];
	va_list ap;
	double t0, t1;
	long r;
	int i;

	va_start(ap, number);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!real)
		real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	if (number != __NR_bpf || !st.active)
		return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);

	t0 = now_ms();
	r = real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
	t1 = now_ms();
	st.bpf_calls++;
	switch (a[0]) {
	case BPF_PROG_LOAD: {
		const union bpf_attr *attr = (const union bpf_attr *)a[1];
		int ours = 0;

		for (i = 0; i < st.nnames; i++)
			if (strncmp(attr->prog_name, st.names[i], BPF_OBJ_NAME_LEN - 1) == 0)
				ours = 1;
		if (ours) {
			if (!st.first_prog_load_start)
				st.first_prog_load_start = t0;
			st.prog_load_ms += t1 - t0;
			st.prog_loads++;
		} else {
			st.other_bpf_ms += t1 - t0;
		}
		break;
	}
	case BPF_MAP_CREATE:
		st.map_create_ms += t1 - t0;
		if (!st.first_prog_load_start) {
			st.last_map_create_end = t1;
			st.window_bpf_ms = 0;
		}
		break;
	case BPF_BTF_LOAD:
		st.btf_load_ms += t1 - t0;
		break;
	default:
		st.other_bpf_ms += t1 - t0;
	}
	if (a[0] != BPF_MAP_CREATE && st.last_map_create_end && !st.first_prog_load_start)
		st.window_bpf_ms += t1 - t0;
	return r;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 1;
	struct bpf_program *p;
	int round;

	if (argc < 2) {
		fprintf(stderr, "usage: %s OBJ [ROUNDS]\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet);
	for (round = 0; round < rounds; round++) {
		struct bpf_object *obj;
		double t0, t1, t2, t3;

		memset(&st, 0, sizeof(st));
		t0 = now_ms();
		obj = bpf_object__open_file(argv[1], NULL);
		t1 = now_ms();
		if (!obj) {
			fprintf(stderr, "open %s failed\n", argv[1]);
			return 1;
		}
		bpf_object__for_each_program(p, obj) {
			if (st.nnames < 64)
				snprintf(st.names[st.nnames++], BPF_OBJ_NAME_LEN, "%s", bpf_program__name(p));
		}
		st.active = 1;
		t2 = now_ms();
		if (bpf_object__load(obj)) {
			fprintf(stderr, "load %s failed\n", argv[1]);
			return 1;
		}
		t3 = now_ms();
		st.active = 0;
		printf("{\"round\":%d,\"open_ms\":%.3f,\"load_ms\":%.3f,\"total_ms\":%.3f,\"reloc_ms\":%.3f,\"prog_load_ms\":%.3f,"
		       "\"btf_load_ms\":%.3f,\"map_create_ms\":%.3f,\"other_bpf_ms\":%.3f,\"prog_loads\":%d,\"bpf_calls\":%d}\n",
		       round, t1 - t0, t3 - t2, (t1 - t0) + (t3 - t2),
		       st.first_prog_load_start && st.last_map_create_end ? st.first_prog_load_start - st.last_map_create_end - st.window_bpf_ms : -1,
		       st.prog_load_ms, st.btf_load_ms, st.map_create_ms, st.other_bpf_ms, st.prog_loads, st.bpf_calls);
		fflush(stdout);
		bpf_object__close(obj);
	}
	return 0;
}
