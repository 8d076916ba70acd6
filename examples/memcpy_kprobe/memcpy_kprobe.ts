/**
 * memcpy_kprobe (learn-bpf): a kprobe on the kernel's memcpy() prints each copy size with
 * bpf_printk; this driver tails trace_pipe and prints those lines, as the seed does:
 *
 *   memcpy_kprobe-24908 [005] d... 151374.866218: : memcpy size 2
 *
 * Where the kernel refuses a kprobe on memcpy (recent x86 kernels), it probes
 * __check_object_size instead, which sees the size of each user copy ("usercopy size 123");
 * where it has no kprobes (CONFIG_KPROBES unset), the syscalls/sys_enter_read tracepoint, which
 * prints the size of every read(2) ("read size 4096"). A note on stderr says which and why. Only
 * the program's own lines are printed (other bpf_printk users share trace_pipe); the driver's
 * own copies are ignored in the kernel (rodata ignore_tgid).
 *
 *   sudo node dist/examples/memcpy_kprobe/memcpy_kprobe.js [--count N] [--duration S] [--pid PID]
 *
 * --count N: stop after N lines; --duration S: stop after S seconds; --pid PID: only lines of
 * that process (or thread). Ctrl-C stops too.
 */
import { loadObject, tracePipe, type TraceLine } from "../../src/index.js";
import { attachWithFallback, exampleObject, parseOptions } from "../common.js";

const { count, duration, pid } = parseOptions("memcpy_kprobe", {
  count: { kind: "count" },
  duration: { kind: "seconds" },
  pid: { kind: "pid" },
});

/** What the programs print: "memcpy size N", "usercopy size N" (kprobes) and "read size N" (fallback). */
const OURS = /^(memcpy|usercopy|read) size \d+$/;
const wanted = (l: TraceLine): boolean => OURS.test(l.message) && (pid === undefined || l.pid === pid || l.tgid === pid);

using obj = await loadObject(exampleObject(import.meta.url, "memcpy_kprobe"), { constants: { ignore_tgid: process.pid } });
using link = attachWithFallback(obj, "bpf_prog1", "usercopy_size", "read_size");
console.error(`attached ${link.kind} ${link.target} via ${link.mechanism}`);

const stop = new AbortController();
process.once("SIGINT", () => stop.abort());
process.once("SIGTERM", () => stop.abort());
const timer = duration ? setTimeout(() => stop.abort(), duration * 1000) : undefined;
let n = 0;
for await (const line of tracePipe({ signal: stop.signal, filter: wanted })) {
  console.log(line.raw);
  if (count && ++n >= count) break;
}
clearTimeout(timer);
