// SPDX-License-Identifier: GPL-2.0
/*
 * libbpf_load: the per-program half of the parity harness's reference side.
 * bpftool prog loadall (the main reference) loads an object as a whole and stops at
 * the first program the kernel refuses, so it cannot say which of the other
 * programs would have loaded. This helper, linked against the same system libbpf
 * as bpftool, opens OBJ once per program, leaves only that program to autoload,
 * loads, and prints one JSON line per program:
 *   {"program":"name","section":"tp/...","ok":true}
 *   {"program":"name","section":"...","ok":false,"errno":22,"error":"last lines of libbpf's log"}
 * Build: cc -O2 -o libbpf_load libbpf_load.c -lbpf      Usage: libbpf_load OBJ
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

static char logbuf[1 << 16];
static size_t loglen;

static int collect(enum libbpf_print_level level, const char *fmt, va_list args)
{
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen, fmt, args);
	if (n > 0) {
		loglen += (size_t)n;
		if (loglen >= sizeof(logbuf))
			loglen = sizeof(logbuf) - 1;
	}
	return 0;
}

/* The last `keep` non-empty lines of the log, JSON-escaped, joined by " | ". */
static void print_tail(int keep)
{
	const char *lines[64];
	int count = 0, start, i;
	char *p, *save = NULL;

	for (p = strtok_r(logbuf, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		if (!*p || strstr(p, "-- END PROG LOAD LOG --") || strstr(p, "processed ") == p || strstr(p, "failed to load object"))
			continue;
		if (count == 64) {
			memmove(lines, lines + 1, sizeof(lines[0]) * 63);
			count = 63;
		}
		lines[count++] = p;
	}
	start = count > keep ? count - keep : 0;
	for (i = start; i < count; i++) {
		const char *c;

		if (i > start)
			fputs(" | ", stdout);
		for (c = lines[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				putchar('\\');
			if ((unsigned char)*c < 0x20)
				putchar(' ');
			else
				putchar(*c);
		}
	}
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog, *p;
	char **names = NULL;
	int n = 0, i, err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJ\n", argv[0]);
		return 2;
	}
	libbpf_set_print(collect);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		names = realloc(names, sizeof(*names) * (n + 1));
		names[n++] = strdup(bpf_program__name(prog));
	}
	bpf_object__close(obj);

	for (i = 0; i < n; i++) {
		loglen = 0;
		logbuf[0] = 0;
		obj = bpf_object__open_file(argv[1], NULL);
		if (!obj)
			return 1;
		prog = NULL;
		bpf_object__for_each_program(p, obj) {
			int mine = strcmp(bpf_program__name(p), names[i]) == 0;

			bpf_program__set_autoload(p, mine);
			if (mine)
				prog = p;
		}
		err = bpf_object__load(obj);
		printf("{\"program\":\"%s\",\"section\":\"%s\",\"ok\":%s", names[i], prog ? bpf_program__section_name(prog) : "",
		       err ? "false" : "true");
		if (err) {
			printf(",\"errno\":%d,\"error\":\"", -err);
			print_tail(3);
			putchar('"');
		}
		puts("}");
		fflush(stdout);
		bpf_object__close(obj);
	}
	return 0;
}
