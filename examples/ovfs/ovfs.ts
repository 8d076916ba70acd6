/**
 * ovfs (the nimbpf seed): bytes read and written through overlayfs per process, from kprobes on
 * ovl_read_iter/ovl_write_iter, driven entirely through the nimbpf-compatible API.
 *
 *   sudo node dist/examples/ovfs/ovfs.js [--interval S] [--count N] [--pin DIR]
 *   sudo node dist/examples/ovfs/ovfs.js --pinned DIR [--interval S] [--count N]
 *
 * --pin DIR pins the two byte-count maps at DIR/ovfs_read_bytes and DIR/ovfs_write_bytes (DIR on
 * bpffs, e.g. /sys/fs/bpf/ovfs); the pins outlive the process. --pinned DIR loads and attaches
 * nothing: it opens those pins with openPinnedMap and prints the same table, e.g. the totals of
 * an earlier --pin run. `rm -r DIR` frees the maps.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { bootBpf, getKeys, fetchUint64FromMap, openPinnedMap, shutdownBpf } from "../../src/compat/index.js";
import { ensureBpffs } from "../../src/index.js";
import { exampleObject, parseOptions, usageError } from "../common.js";

const MAPS = ["ovfs_read_bytes", "ovfs_write_bytes"] as const;
const opts = parseOptions("ovfs", {
  interval: { kind: "seconds", default: 2 },
  count: { kind: "count", default: 0 },
  pin: { kind: "text", arg: "DIR" },
  pinned: { kind: "text", arg: "DIR" },
});

if (opts.pinned !== undefined) {
  if (opts.pin !== undefined) usageError("ovfs", "--pin starts tracing and --pinned reads an earlier run's maps; give one of them");
  for (const name of MAPS) {
    const path = join(opts.pinned, name);
    if (!openPinnedMap(name, path)) {
      console.error(`ovfs: nothing is pinned at ${path}; run ovfs --pin ${opts.pinned} first`);
      process.exit(1);
    }
  }
  console.error(`reading the maps pinned under ${opts.pinned}`);
} else {
  const boot = bootBpf(exampleObject(import.meta.url, "ovfs"));
  for (const l of boot.links) console.error(`attached ${l.kind} ${l.target} via ${l.mechanism}`);
  for (const s of boot.skipped) console.error(`not attached: ${s.program}: ${s.reason}`);
  if (boot.links.length === 0) {
    console.error("nothing to trace on this kernel: overlayfs kprobes could not be attached");
    shutdownBpf();
    process.exit(1);
  }
  if (opts.pin !== undefined) {
    if (opts.pin.startsWith("/sys/fs/bpf")) ensureBpffs();
    mkdirSync(opts.pin, { recursive: true });
    for (const name of MAPS) boot.object.map(name).pin(join(opts.pin, name));
    console.error(`pinned ${MAPS.join(" and ")} under ${opts.pin}; read them later with --pinned ${opts.pin}`);
  }
}

let stop = false;
process.once("SIGINT", () => { stop = true; });
for (let n = 0; !stop && (opts.count === 0 || n < opts.count); n++) {
  await new Promise((r) => setTimeout(r, opts.interval * 1000));
  const pids = new Set<number>();
  for (const name of MAPS) for (const k of getKeys(name)) pids.add(Number(k));
  console.log(`${"PID".padStart(8)}  ${"READ BYTES".padStart(14)}  ${"WRITE BYTES".padStart(14)}`);
  for (const pid of [...pids].sort((a, b) => a - b)) {
    const [r, w] = MAPS.map((name) => fetchUint64FromMap(name, pid) ?? 0n);
    console.log(`${String(pid).padStart(8)}  ${String(r).padStart(14)}  ${String(w).padStart(14)}`);
  }
}
shutdownBpf();
