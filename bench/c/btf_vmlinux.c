// SPDX-License-Identifier: MIT
/*
 * C libbpf side of bench/btf.ts, (a) and (b): time to open and index the kernel's BTF with
 * btf__load_vmlinux_btf() plus the first btf__find_by_name_kind(), and the resident memory it
 * adds (VmRSS from /proc/self/status before and after). One measurement per process, so every
 * run is a cold start as a fresh tool's would be (the file itself is in the page cache).
 *   btf_vmlinux            -> {"load_ms":..,"find_ms":..,"rss_before_kb":..,"rss_after_kb":..}
 *   btf_vmlinux --read     -> {"read_ms":..,"bytes":..}: only read(2) the file into a fresh buffer
 *                             (sysfs returns 4 KiB per call): how much of (a) is the read itself
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int read_only(void)
{
	double t0 = now_ms();
	long total = 0, size;
	ssize_t n;
	char *buf;
	int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY);

	if (fd < 0) {
		perror("open /sys/kernel/btf/vmlinux");
		return 1;
	}
	/* Into a fresh buffer of the file's size, as libbpf's btf__parse_raw does (first-touch
	 * page faults included: they are a large part of the cost in a VM). */
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, 0, SEEK_SET);
	buf = malloc(size);
	if (!buf)
		return 1;
	while (total < size && (n = read(fd, buf + total, size - total)) > 0)
		total += n;
	close(fd);
	printf("{\"read_ms\":%.3f,\"bytes\":%ld}\n", now_ms() - t0, total);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	struct btf *btf;
	double t0, t1, t2;
	long before, after;
	int id;

	if (argc > 1 && strcmp(argv[1], "--read") == 0)
		return read_only();
	before = rss_kb();
	t0 = now_ms();
	btf = btf__load_vmlinux_btf();
	t1 = now_ms();
	if (!btf) {
		fprintf(stderr, "btf__load_vmlinux_btf failed\n");
		return 1;
	}
	id = btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT);
	t2 = now_ms();
	after = rss_kb();
	if (id <= 0) {
		fprintf(stderr, "task_struct not found\n");
		return 1;
	}
	printf("{\"load_ms\":%.3f,\"find_ms\":%.3f,\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,\"types\":%u}\n", t1 - t0, t2 - t1,
	       before, after, btf__type_cnt(btf));
	btf__free(btf);
	return 0;
}
