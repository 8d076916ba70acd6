/*
 * A target for uprobe, uretprobe and USDT tests: prints its pid, waits for a line on stdin, then
 * makes an exact number of calls and exits.
 *   uprobe_target N
 * does, N times each:
 *   - uprobe_target_add(i, 1000), a non-inlined function in this binary (returns i + 1000);
 *   - second_target(i), another one (returns i * 3);
 *   - getpid() through the C library (a call into libc.so.6's getpid, not the raw syscall);
 *   - the USDT probe tsbpf:tick(i, i * 2), unconditionally (its semaphore is not checked);
 *   - the USDT probe tsbpf:guarded(i), which fires only while its semaphore is non-zero, i.e.
 *     while a tracer (the kernel's uprobe reference counter) has it enabled.
 * It prints "guarded N" at the end with the number of times the semaphore was seen enabled.
 */
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>
#include <unistd.h>

unsigned short tsbpf_tick_semaphore __attribute__((unused)) __attribute__((section(".probes")));
unsigned short tsbpf_guarded_semaphore __attribute__((unused)) __attribute__((section(".probes")));

__attribute__((noinline, used)) int uprobe_target_add(int a, int b) {
  __asm__ volatile("" ::: "memory");
  return a + b;
}

__attribute__((noinline, used)) int second_target(int a) {
  __asm__ volatile("" ::: "memory");
  return a * 3;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  long n = atol(argv[1]);
  char line[16];
  long guarded = 0;
  volatile long sink = 0;
  printf("%d\n", getpid());
  fflush(stdout);
  if (!fgets(line, sizeof line, stdin)) return 3;
  for (long i = 0; i < n; i++) sink += uprobe_target_add((int)i, 1000);
  for (long i = 0; i < n; i++) sink += second_target((int)i);
  for (long i = 0; i < n; i++) sink += getpid();
  for (long i = 0; i < n; i++) {
    long twice = i * 2;
    DTRACE_PROBE2(tsbpf, tick, i, twice);
  }
  for (long i = 0; i < n; i++) {
    if (tsbpf_guarded_semaphore) {
      guarded++;
      DTRACE_PROBE1(tsbpf, guarded, i);
    }
  }
  printf("guarded %ld\n", guarded);
  return sink == 0 ? 5 : 0;
}
