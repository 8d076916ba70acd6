/**
 * memcpy_stat (learn-bpf): a kernel-side histogram of memcpy() sizes in 64-byte buckets, printed
 * every 2 seconds. Where the kernel refuses a kprobe on memcpy (noinstr on x86 since 5.x), the
 * histogram is of user copy sizes (kprobe on __check_object_size); where it has no kprobes, of
 * read(2) request sizes (tracepoint syscalls/sys_enter_read). A note on stderr says which.
 *
 *   sudo node dist/examples/memcpy_stat/memcpy_stat.js [--interval S] [--count N]
 */
import { loadObject } from "../../src/index.js";
import { attachWithFallback, exampleObject, parseOptions } from "../common.js";

const BUCKETS = 17;

/** The seed's table: "Size / Count" rows, 0, 1-64, ..., 961-1024*. */
export function formatTable(counts: bigint[]): string {
  const lines = ["        Size            Count"];
  lines.push(`${"   0".padEnd(24)}${counts[0]}`);
  for (let i = 1; i < BUCKETS; i++) {
    const lo = 64 * (i - 1) + 1;
    const hi = 64 * i;
    const label = `${String(lo).padStart(4)} - ${String(hi).padStart(4)}${i === BUCKETS - 1 ? "*" : ""}`;
    lines.push(`${label.padEnd(24)}${counts[i]}`);
  }
  lines.push("* Size > 1024 have been counted in this interval");
  return lines.join("\n");
}

const opts = parseOptions("memcpy_stat", { interval: { kind: "seconds", default: 2 }, count: { kind: "count", default: 0 } });
using obj = await loadObject(exampleObject(import.meta.url, "memcpy_stat"));
using link = attachWithFallback(obj, "bpf_prog1", "usercopy_stat", "read_stat");
console.error(`attached ${link.kind} ${link.target} via ${link.mechanism}`);
const hist = obj.map("size_hist");
const value = new Uint8Array(8);
const dv = new DataView(value.buffer);
let stop = false;
process.once("SIGINT", () => { stop = true; });
const start = Date.now();
for (let n = 1; !stop && (opts.count === 0 || n <= opts.count); n++) {
  // Deadlines from the start, so the period does not drift by the time a table takes.
  await new Promise((r) => setTimeout(r, start + n * opts.interval * 1000 - Date.now()));
  const counts: bigint[] = [];
  for (let i = 0; i < BUCKETS; i++) counts.push(hist.lookupInto(i, value) ? dv.getBigUint64(0, true) : 0n);
  console.log(formatTable(counts));
}
