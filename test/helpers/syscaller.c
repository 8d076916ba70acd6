/*
 * A child process for kernel tests: prints its pid, waits for a line on stdin, then makes an
 * exact number of system calls and exits, so a test knows whom to filter on and what to expect.
 *   syscaller [-s] getpid N | getppid N | read N SIZE [FILE] (reads SIZE bytes N times from FILE,
 *   default /dev/zero, reopening it when it ends)
 * With -s it waits for SIGUSR1 instead (sigwait), so it makes no read(2) of its own and none is
 * in progress when a probe is attached.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int on_signal = argc > 1 && !strcmp(argv[1], "-s");
  if (on_signal) argv++, argc--;
  if (argc < 3) return 2;
  long n = atol(argv[2]);
  char line[16];
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  if (on_signal) sigprocmask(SIG_BLOCK, &usr1, NULL); /* pending until sigwait */
  printf("%d\n", getpid());
  fflush(stdout);
  if (on_signal) {
    int sig;
    if (sigwait(&usr1, &sig)) return 3;
  } else if (!fgets(line, sizeof line, stdin)) {
    return 3;
  }
  if (!strcmp(argv[1], "getpid")) {
    for (long i = 0; i < n; i++) syscall(SYS_getpid);
  } else if (!strcmp(argv[1], "getppid")) {
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
  } else if (!strcmp(argv[1], "read") && argc > 3) {
    size_t size = (size_t)atol(argv[3]);
    char *buf = malloc(size ? size : 1);
    const char *path = argc > 4 ? argv[4] : "/dev/zero";
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 4;
    for (long i = 0; i < n; i++) {
      ssize_t r = read(fd, buf, size);
      if (r < 0) return 4;
      if (r == 0) { /* end of file: start over */
        close(fd);
        fd = open(path, O_RDONLY);
        if (fd < 0 || read(fd, buf, size) < 0) return 4;
      }
    }
    close(fd);
  } else {
    return 2;
  }
  return 0;
}
