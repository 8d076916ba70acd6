/**
 * ovfs (the nimbpf seed): bytes read and written through overlayfs per process, from kprobes on
 * ovl_read_iter/ovl_write_iter, driven entirely through the nimbpf-compatible API.
 *
 *   sudo node dist/examples/ovfs/ovfs.js [--interval S] [--count N]
 */
import { parseArgs } from "node:util";
import { bootBpf, getKeys, fetchUint64FromMap, shutdownBpf } from "../../src/compat/index.js";
import { exampleObject } from "../common.js";

const { values } = parseArgs({ options: { interval: { type: "string", default: "2" }, count: { type: "string", default: "0" } } });
const boot = bootBpf(exampleObject(import.meta.url, "ovfs"));
for (const l of boot.links) console.error(`attached ${l.kind} ${l.target} via ${l.mechanism}`);
for (const s of boot.skipped) console.error(`not attached: ${s.program}: ${s.reason}`);
if (boot.links.length === 0) {
  console.error("nothing to trace on this kernel: overlayfs kprobes could not be attached");
  shutdownBpf();
  process.exit(1);
}
let stop = false;
process.once("SIGINT", () => { stop = true; });
const rounds = Number(values.count);
for (let n = 0; !stop && (rounds === 0 || n < rounds); n++) {
  await new Promise((r) => setTimeout(r, Number(values.interval) * 1000));
  const pids = new Set<number>();
  for (const k of getKeys("ovfs_read_bytes")) pids.add(Number(k));
  for (const k of getKeys("ovfs_write_bytes")) pids.add(Number(k));
  console.log(`${"PID".padStart(8)}  ${"READ BYTES".padStart(14)}  ${"WRITE BYTES".padStart(14)}`);
  for (const pid of [...pids].sort((a, b) => a - b)) {
    const r = fetchUint64FromMap("ovfs_read_bytes", pid) ?? 0n;
    const w = fetchUint64FromMap("ovfs_write_bytes", pid) ?? 0n;
    console.log(`${String(pid).padStart(8)}  ${String(r).padStart(14)}  ${String(w).padStart(14)}`);
  }
}
shutdownBpf();
