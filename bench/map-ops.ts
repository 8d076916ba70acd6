/**
 * The tsbpf side of the map benchmarks (issue 6 cases 1-3): the same work as bench/c/map_ops.c,
 * bench/go/main.go and bench/python/map_ops.py, printing the same JSON lines. bench/run.ts runs it
 * as a child process, alternating with the other languages.
 *
 *   node dist/bench/map-ops.js ops [--iters N]      hash/array, 8/64-byte values
 *   node dist/bench/map-ops.js percpu [--iters N]   per-CPU array, all CPUs per lookup
 *   node dist/bench/map-ops.js dump PATH            the pinned 1M-entry hash map (map_ops fill)
 *
 * Operation names: "<map> lookup" is the allocation-free `lookupInto` with a number key (the
 * form the goal is about); "<map> lookup bytes" passes a Uint8Array key; "<map> lookup alloc" is
 * `lookup`, which returns a new Uint8Array.
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { BpfMap, MapType } from "../src/index.js";

const ENTRIES = 1024;
const WARMUP = 10000;

function emit(op: string, fields: Record<string, number>): void {
  process.stdout.write(`${JSON.stringify({ op, ...fields })}\n`);
}

function time(iters: number, body: (i: number) => unknown): number {
  for (let i = 0; i < WARMUP; i++) body(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) body(i);
  return Number(process.hrtime.bigint() - t0) / iters;
}

function fill(m: BpfMap, value: Uint8Array): void {
  for (let k = 0; k < ENTRIES; k++) m.update(k, value);
}

function caseOps(iters: number): void {
  const maps = [
    { name: "hash8", type: MapType.HASH, valueSize: 8 },
    { name: "hash64", type: MapType.HASH, valueSize: 64 },
    { name: "array8", type: MapType.ARRAY, valueSize: 8 },
    { name: "array64", type: MapType.ARRAY, valueSize: 64 },
  ];
  let sink = 0;
  for (const { name, type, valueSize } of maps) {
    using m = BpfMap.create({ type, keySize: 4, valueSize, maxEntries: ENTRIES, name: "bench" });
    const value = new Uint8Array(valueSize);
    value[0] = 1;
    fill(m, value);
    const key = new Uint8Array(4);
    const keyView = new DataView(key.buffer);
    emit(`${name} lookup`, { ns: time(iters, (i) => m.lookupInto(i & (ENTRIES - 1), value)) });
    emit(`${name} lookup bytes`, {
      ns: time(iters, (i) => {
        keyView.setUint32(0, i & (ENTRIES - 1), true);
        return m.lookupInto(key, value);
      }),
    });
    emit(`${name} lookup alloc`, { ns: time(iters, (i) => (sink += m.lookup(i & (ENTRIES - 1))!.length)) });
    emit(`${name} update`, { ns: time(iters, (i) => m.update(i & (ENTRIES - 1), value)) });
    if (type === MapType.HASH) {
      // Deletes run in rounds of ENTRIES with an untimed refill between rounds, as in C.
      let ns = 0;
      for (let done = 0; done < iters; ) {
        const n = Math.min(ENTRIES, iters - done);
        fill(m, value);
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < n; k++) m.delete(k);
        ns += Number(process.hrtime.bigint() - t0);
        done += n;
      }
      emit(`${name} delete`, { ns: ns / iters });
    }
  }
  if (sink === -1) console.error(sink);
}

function casePercpu(iters: number): void {
  using m = BpfMap.create({ type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: ENTRIES, name: "bench" });
  const out = new Uint8Array(m.userValueSize);
  let sink = 0;
  emit("percpu lookup", { ns: time(iters, (i) => m.lookupInto(i & (ENTRIES - 1), out)) });
  // One Uint8Array view per CPU, newly allocated: the convenient form.
  emit("percpu lookup alloc", { ns: time(iters, (i) => (sink += m.lookupPerCpu(i & (ENTRIES - 1))!.length)) });
  if (sink === -1) console.error(sink);
}

function caseDump(path: string, batch: number): void {
  using m = BpfMap.openPinned(path);
  // Iterator: get-next-key + lookup per entry, each key and value a new Uint8Array.
  let t0 = process.hrtime.bigint();
  let n = 0;
  for (const [k, v] of m.entries()) n += k.length > 0 && v.length > 0 ? 1 : 0;
  emit("dump iterate", { s: Number(process.hrtime.bigint() - t0) / 1e9, n });
  // Batch lookups: packed key and value buffers per batch (the C form).
  t0 = process.hrtime.bigint();
  n = 0;
  for (const b of m.lookupBatches(batch)) n += b.count;
  emit("dump batch", { s: Number(process.hrtime.bigint() - t0) / 1e9, n });
  // dump(): batch lookups split into [key, value] pairs, one Uint8Array each.
  t0 = process.hrtime.bigint();
  n = m.dump(batch).length;
  emit("dump pairs", { s: Number(process.hrtime.bigint() - t0) / 1e9, n });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { iters: { type: "string", default: "1000000" }, batch: { type: "string", default: "4096" } },
  });
  const [which, path] = positionals;
  if (which === "ops") caseOps(Number(values.iters));
  else if (which === "percpu") casePercpu(Number(values.iters));
  else if (which === "dump" && path) caseDump(path, Number(values.batch));
  else {
    console.error("usage: map-ops.js ops|percpu [--iters N] | dump PATH [--batch B]");
    process.exitCode = 2;
  }
}
