/**
 * readhist: the CO-RE seed's tool. A per-PID log2 histogram of the bytes each successful read
 * returns, kept in the kernel (`hists`, struct hist { u32 slots[15]; }), for a few seconds,
 * then printed as bars. `targ_pid` (.rodata) limits it to one pid, set before load.
 * Attaches kretprobe/vfs_read where the kernel has kprobes, else tp/syscalls/sys_exit_read.
 *
 *   sudo node dist/examples/readhist/readhist.js [--pid PID] [--duration S] [--top N] [--raw]
 *
 * Without options (`npm run demo`) it traces every process for 3 seconds.
 */
import { loadObject } from "../../src/index.js";
import { attachWithFallback, exampleObject, parseOptions } from "../common.js";

interface Hist {
  slots: number[];
}

/** A bcc-style log2 histogram: one line per slot from the first to the last non-empty one. */
export function renderHistogram(slots: readonly number[], width = 40): string {
  const max = Math.max(...slots, 1);
  let first = slots.findIndex((n) => n > 0);
  let last = slots.length - 1 - [...slots].reverse().findIndex((n) => n > 0);
  if (first < 0) first = last = 0;
  // The ':' of the header is in the rows' column: 12 + " -> ".length + 12.
  const lines = [`${"bytes".padStart(19)}${" ".repeat(9)}: count     distribution`];
  for (let i = first; i <= last; i++) {
    const lo = i === 0 ? 0 : 2 ** i;
    const hi = i === slots.length - 1 ? "inf" : String(2 ** (i + 1) - 1);
    const bar = "*".repeat(Math.round((slots[i]! / max) * width));
    lines.push(`${String(lo).padStart(12)} -> ${hi.padEnd(12)}: ${String(slots[i]).padEnd(9)} |${bar.padEnd(width)}|`);
  }
  return lines.join("\n");
}

const opts = parseOptions("readhist", {
  pid: { kind: "pid" },
  duration: { kind: "seconds", default: 3 },
  top: { kind: "count", default: 5 },
  raw: { kind: "flag" },
});

using obj = await loadObject(exampleObject(import.meta.url, "readhist"), { constants: { targ_pid: opts.pid ?? -1 } });
using link = attachWithFallback(obj, "vfs_read", "sys_exit_read");
console.error(`attached ${link.kind} ${link.target} via ${link.mechanism}`);
console.log(`Tracing vfs_read in ${opts.duration} secs.`);
for (let left = opts.duration; left > 0; left -= 1) {
  await new Promise((r) => setTimeout(r, Math.min(left, 1) * 1000));
  console.log(".");
}
console.log("----");

const hists = obj.map("hists").typed<number, Hist>();
const rows = [...hists.entries()]
  .map(([pid, h]) => ({ pid, slots: h.slots, total: h.slots.reduce((a, b) => a + b, 0) }))
  .sort((a, b) => b.total - a.total || a.pid - b.pid);
for (const r of rows.slice(0, opts.top)) {
  console.log(`pid: ${r.pid}`);
  if (opts.raw) {
    r.slots.forEach((n, i) => console.log(`\tvalue: hist[${i}] = ${n}`));
  } else {
    console.log(renderHistogram(r.slots));
  }
}
if (rows.length === 0) console.log("no reads seen");
else if (rows.length > opts.top) console.log(`(${rows.length - opts.top} more pids; --top N shows more)`);
