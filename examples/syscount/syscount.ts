/**
 * syscount: counts system calls per process for a few seconds with a tracepoint on
 * raw_syscalls/sys_enter, then prints the busiest processes.
 *
 *   sudo node dist/examples/syscount/syscount.js [--duration SECONDS] [--pid PID] [--top N]
 */
import { loadObject } from "../../src/index.js";
import { exampleObject, parseOptions } from "../common.js";

const objectPath = exampleObject(import.meta.url, "syscount");
const opts = parseOptions("syscount", {
  duration: { kind: "seconds", default: 3 },
  pid: { kind: "pid" },
  top: { kind: "count", default: 15 },
});

const seconds = opts.duration;
using obj = await loadObject(objectPath, {
  constants: { target_tgid: opts.pid ?? 0, ignore_tgid: process.pid },
});
obj.attachAll({ strict: true });
console.log(`Counting system calls${opts.pid ? ` of process ${opts.pid}` : " of every process"} for ${seconds} s...`);
await new Promise((r) => setTimeout(r, seconds * 1000));

const rows: Array<{ pid: number; comm: string; count: bigint }> = [];
for (const [key, value] of obj.map("counts").entries()) {
  const v = new DataView(value.buffer, value.byteOffset);
  const commBytes = value.subarray(8, 24);
  const end = commBytes.indexOf(0);
  rows.push({
    pid: new DataView(key.buffer, key.byteOffset).getUint32(0, true),
    comm: new TextDecoder().decode(commBytes.subarray(0, end < 0 ? 16 : end)),
    count: v.getBigUint64(0, true),
  });
}
rows.sort((a, b) => (b.count > a.count ? 1 : b.count < a.count ? -1 : a.pid - b.pid));
const total = rows.reduce((s, r) => s + r.count, 0n);
console.log(`${"PID".padStart(8)}  ${"COMM".padEnd(16)}  ${"SYSCALLS".padStart(10)}`);
for (const r of rows.slice(0, opts.top)) {
  console.log(`${String(r.pid).padStart(8)}  ${r.comm.padEnd(16)}  ${String(r.count).padStart(10)}`);
}
console.log(`${rows.length} processes, ${total} system calls in ${seconds} s`);
