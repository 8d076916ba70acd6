// SPDX-License-Identifier: MIT
/*
 * ringbuf_producer: drives the events_bench BPF program (test/bpf/events_bench.bpf.c), which
 * writes a batch of records per getpid() call of this process.
 *
 *   ringbuf_producer calls N      prints its pid, waits for a line on stdin, makes N getpid calls
 *   ringbuf_producer seconds S    same, but calls getpid in a tight loop for S seconds
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char line[16];

	if (argc < 3)
		return 2;
	printf("%d\n", getpid());
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return 3;
	if (!strcmp(argv[1], "calls")) {
		long n = atol(argv[2]);
		for (long i = 0; i < n; i++)
			syscall(SYS_getpid);
	} else {
		double end = now() + atof(argv[2]);
		do {
			for (int i = 0; i < 256; i++)
				syscall(SYS_getpid);
		} while (now() < end);
	}
	return 0;
}
