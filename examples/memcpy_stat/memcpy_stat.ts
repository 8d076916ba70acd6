/**
 * memcpy_stat (learn-bpf): a kernel-side histogram of memcpy() sizes in 64-byte buckets, printed
 * every 2 seconds. Where the kernel has no kprobes, the same histogram is built over read(2)
 * request sizes from the syscalls/sys_enter_read tracepoint.
 *
 *   sudo node dist/examples/memcpy_stat/memcpy_stat.js [--interval S] [--count N]
 */
import { parseArgs } from "node:util";
import { loadObject } from "../../src/index.js";
import { attachWithFallback, exampleObject } from "../common.js";

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

const { values } = parseArgs({ options: { interval: { type: "string", default: "2" }, count: { type: "string", default: "0" } } });
using obj = await loadObject(exampleObject(import.meta.url, "memcpy_stat"));
using link = attachWithFallback(obj, "bpf_prog1", "read_stat");
console.error(`attached ${link.kind} ${link.target} via ${link.mechanism}`);
const hist = obj.map("size_hist");
const value = new Uint8Array(8);
const dv = new DataView(value.buffer);
const rounds = Number(values.count);
let stop = false;
process.once("SIGINT", () => { stop = true; });
for (let n = 0; !stop && (rounds === 0 || n < rounds); n++) {
  await new Promise((r) => setTimeout(r, Number(values.interval) * 1000));
  const counts: bigint[] = [];
  for (let i = 0; i < BUCKETS; i++) counts.push(hist.lookupInto(i, value) ? dv.getBigUint64(0, true) : 0n);
  console.log(formatTable(counts));
}
