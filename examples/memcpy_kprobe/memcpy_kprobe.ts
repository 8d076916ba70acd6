/**
 * memcpy_kprobe (learn-bpf): a kprobe on the kernel's memcpy() prints each copy size with
 * bpf_printk; this driver tails trace_pipe and prints those lines, as the seed does:
 *
 *   memcpy_kprobe-24908 [005] d... 151374.866218: : memcpy size 2
 *
 * Where the kernel has no kprobes (CONFIG_KPROBES unset), it attaches the object's fallback
 * instead, the syscalls/sys_enter_read tracepoint, which prints the size of every read(2)
 * ("read size 4096"), and says so on stderr. Only the program's own lines are printed (other
 * bpf_printk users share trace_pipe); the driver's own reads are ignored in the kernel
 * (rodata ignore_tgid).
 *
 *   sudo node dist/examples/memcpy_kprobe/memcpy_kprobe.js [--count N] [--duration S] [--pid PID]
 *
 * --count N: stop after N lines; --duration S: stop after S seconds; --pid PID: only lines of
 * that process (or thread). Ctrl-C stops too.
 */
import { parseArgs } from "node:util";
import { loadObject, tracePipe, type TraceLine } from "../../src/index.js";
import { attachWithFallback, exampleObject } from "../common.js";

const { values } = parseArgs({
  options: { count: { type: "string" }, duration: { type: "string" }, pid: { type: "string" } },
});
const number = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v)) {
    console.error(`memcpy_kprobe: ${name} takes a number, not ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return Number(v);
};
const count = number(values.count, "--count");
const duration = number(values.duration, "--duration");
const pid = number(values.pid, "--pid");

/** What the two programs print: "memcpy size N" (kprobe) and "read size N" (fallback). */
const OURS = /^(memcpy|read) size \d+$/;
const wanted = (l: TraceLine): boolean => OURS.test(l.message) && (pid === undefined || l.pid === pid || l.tgid === pid);

using obj = await loadObject(exampleObject(import.meta.url, "memcpy_kprobe"), { constants: { ignore_tgid: process.pid } });
using link = attachWithFallback(obj, "bpf_prog1", "read_size");
console.error(`attached ${link.kind} ${link.target} via ${link.mechanism}`);

const stop = new AbortController();
process.once("SIGINT", () => stop.abort());
process.once("SIGTERM", () => stop.abort());
const timer = duration ? setTimeout(() => stop.abort(), duration * 1000) : undefined;
let n = 0;
for await (const line of tracePipe({ signal: stop.signal, filter: wanted })) {
  console.log(line.raw);
  if (count !== undefined && ++n >= count) break;
}
clearTimeout(timer);
