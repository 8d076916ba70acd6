/**
 * The tsbpf side of the map benchmark: the same operations as bench/c/map_lookup.c, on maps of
 * 1024 entries with 4-byte keys and 8-byte values, timed per call.
 */
import { BpfMap, MapType } from "../src/index.js";

const ENTRIES = 1024;
const WARMUP = 10000;

export interface OpResult {
  op: string;
  ns: number;
}

function time(iters: number, body: (i: number) => void): number {
  for (let i = 0; i < WARMUP; i++) body(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) body(i);
  return Number(process.hrtime.bigint() - t0) / iters;
}

function fill(m: BpfMap): void {
  for (let k = 0; k < ENTRIES; k++) m.update(k, BigInt(k));
}

/** Runs every operation `iters` times and returns ns per call. */
export function runMapOps(iters: number): OpResult[] {
  const out: OpResult[] = [];
  using hash = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: ENTRIES, name: "bench_hash" });
  using array = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: ENTRIES, name: "bench_array" });
  fill(hash);
  fill(array);
  const value = new Uint8Array(8);
  const key = new Uint8Array(4);
  const keyView = new DataView(key.buffer);
  out.push({ op: "hash lookupInto (number key)", ns: time(iters, (i) => hash.lookupInto(i & (ENTRIES - 1), value)) });
  out.push({
    op: "hash lookupInto (byte key)",
    ns: time(iters, (i) => {
      keyView.setUint32(0, i & (ENTRIES - 1), true);
      hash.lookupInto(key, value);
    }),
  });
  out.push({ op: "hash lookup (allocating)", ns: time(iters, (i) => hash.lookup(i & (ENTRIES - 1))) });
  out.push({ op: "hash update", ns: time(iters, (i) => hash.update(i & (ENTRIES - 1), value)) });
  // Deletes run in rounds of ENTRIES with an untimed refill between rounds, as the C side does.
  let deleteNs = 0;
  let done = 0;
  while (done < iters) {
    fill(hash);
    const n = Math.min(ENTRIES, iters - done);
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < n; k++) hash.delete(k);
    deleteNs += Number(process.hrtime.bigint() - t0);
    done += n;
  }
  out.push({ op: "hash delete", ns: deleteNs / iters });
  out.push({ op: "array lookupInto", ns: time(iters, (i) => array.lookupInto(i & (ENTRIES - 1), value)) });
  out.push({ op: "array update", ns: time(iters, (i) => array.update(i & (ENTRIES - 1), value)) });
  return out;
}
