/**
 * The nimbpf API ("libbpf for nim") in TypeScript shape, over the full library. Maps are named by
 * strings, as in nimbpf: `bootBpf` registers every map of the object under its ELF name and
 * `openPinnedMap` under the name you give.
 *
 * @example
 * ```ts
 * import { bootBpf, getKeys, fetchUint64FromMap } from "tsbpf/compat";
 * bootBpf("ovfs.bpf.o");
 * for (const pid of getKeys("ovfs_read_bytes")) console.log(pid, fetchUint64FromMap("ovfs_read_bytes", pid));
 * ```
 */
import { ArgumentError, BpfError } from "../errors.js";
import { loadObjectSync, type BpfObject, type LoadOptions } from "../collection/object.js";
import type { AttachResult } from "../collection/attach.js";
import { BpfMap } from "../map/map.js";
import { decodeUint, type Raw } from "../map/bytes.js";

const registry = new Map<string, BpfMap>();
const booted: BpfObject[] = [];
const opened: BpfMap[] = [];

/** What bootBpf loaded and attached. */
export interface BootResult extends AttachResult {
  object: BpfObject;
}

/**
 * Loads every map and program of a clang-built ELF (legacy `SEC("maps")` or BTF `.maps`), with the
 * kernel version taken from the running kernel whatever the `version` section says, and attaches
 * each program its section name places (kprobe/, kretprobe/, tracepoint/, raw_tracepoint/).
 * Programs that cannot be attached are reported in `skipped` (e.g. kprobes on a kernel without
 * CONFIG_KPROBES); `strict: true` throws instead. Maps become reachable by name.
 */
export function bootBpf(elfFile: string, opts: LoadOptions & { strict?: boolean } = {}): BootResult {
  const object = loadObjectSync(elfFile, opts);
  let attached: AttachResult;
  try {
    attached = object.attachAll({ strict: opts.strict });
  } catch (e) {
    object.close();
    throw e;
  }
  booted.push(object);
  for (const [name, map] of Object.entries(object.maps)) registry.set(name, map);
  return { object, ...attached };
}

/**
 * Opens a map pinned at `filename` (on bpffs) and registers it as `map`. Returns the map, or
 * undefined when nothing is pinned there (nimbpf's `none`).
 */
export function openPinnedMap(map: string, filename: string): BpfMap | undefined {
  try {
    const m = BpfMap.openPinned(filename);
    closeIfOpenedHere(map);
    registry.set(map, m);
    opened.push(m);
    return m;
  } catch (e) {
    if (e instanceof BpfError && e.code === "E_NO_PIN") return undefined;
    throw e;
  }
}

function closeIfOpenedHere(name: string): void {
  const m = registry.get(name);
  const i = m ? opened.indexOf(m) : -1;
  if (m && i >= 0) {
    opened.splice(i, 1);
    m.close();
  }
}

function resolve(map: string | BpfMap): BpfMap {
  if (typeof map !== "string") return map;
  const m = registry.get(map);
  if (!m) {
    const known = [...registry.keys()].join(", ") || "none yet";
    throw new ArgumentError(`find map ${map}: no map of that name was loaded by bootBpf or opened by openPinnedMap (known: ${known})`);
  }
  return m;
}

/** How getKeys decodes keys: by default 1/2/4-byte keys as numbers, 8-byte keys as bigints, others as bytes. */
export type KeyDecoder<T> = (bytes: Uint8Array) => T;

function defaultKey(b: Uint8Array): number | bigint | Uint8Array {
  return b.length === 1 || b.length === 2 || b.length === 4 || b.length === 8 ? decodeUint(b) : b;
}

/** Iterates all keys of a map. */
export function getKeys(map: string | BpfMap): IterableIterator<number | bigint | Uint8Array>;
export function getKeys<T>(map: string | BpfMap, decode: KeyDecoder<T>): IterableIterator<T>;
export function* getKeys<T>(map: string | BpfMap, decode?: KeyDecoder<T>): IterableIterator<T | number | bigint | Uint8Array> {
  for (const k of resolve(map).keys()) yield decode ? decode(k) : defaultKey(k);
}

function fetchFixed(map: string | BpfMap, key: Raw, size: number, fn: string): Uint8Array | undefined {
  const m = resolve(map);
  if (m.valueSize !== size) {
    throw new ArgumentError(`${fn}(${m.name}): the map's values are ${m.valueSize} bytes, not ${size}; use ${m.valueSize === 8 ? "fetchUint64FromMap" : m.valueSize === 2 ? "fetchUint16FromMap" : "map.lookup()"}`);
  }
  if (m.perCpu) throw new ArgumentError(`${fn}(${m.name}): it is a per-CPU map; use fetchPerCpuFromMap`);
  return m.lookup(key);
}

/** The 16-bit value under `key`, or undefined when the key is absent. */
export function fetchUint16FromMap(map: string | BpfMap, key: Raw): number | undefined {
  const v = fetchFixed(map, key, 2, "fetchUint16FromMap");
  return v && (decodeUint(v) as number);
}

/** The 64-bit value under `key` (as a bigint), or undefined when the key is absent. */
export function fetchUint64FromMap(map: string | BpfMap, key: Raw): bigint | undefined {
  const v = fetchFixed(map, key, 8, "fetchUint64FromMap");
  return v && (decodeUint(v) as bigint);
}

/** Per-CPU maps: the value on each possible CPU, or undefined when absent. */
export function fetchPerCpuFromMap(map: string | BpfMap, key: Raw): Uint8Array[] | undefined {
  return resolve(map).lookupPerCpu(key);
}

/** Deletes `key`; returns false when it was absent. (nimbpf TODO: delete.) */
export function deleteFromMap(map: string | BpfMap, key: Raw): boolean {
  return resolve(map).delete(key);
}

/** Removes every entry (arrays are zeroed). Returns how many keys were cleared. (nimbpf TODO: clear.) */
export function clearMap(map: string | BpfMap): number {
  return resolve(map).clear();
}

/**
 * Reads a whole map in batches (BPF_MAP_LOOKUP_BATCH, falling back to key iteration), for large
 * maps. (nimbpf TODO: reading large maps.)
 */
export function* fetchAllFromMap(map: string | BpfMap, batchSize = 4096): IterableIterator<[Uint8Array, Uint8Array]> {
  const m = resolve(map);
  for (const b of m.lookupBatches(batchSize)) {
    for (let i = 0; i < b.count; i++) {
      yield [b.keys.slice(i * m.keySize, (i + 1) * m.keySize), b.values.slice(i * m.userValueSize, (i + 1) * m.userValueSize)];
    }
  }
}

/** Writes a value (nimbpf had none; here for symmetry and tests). */
export function updateMap(map: string | BpfMap, key: Raw, value: Raw): void {
  resolve(map).update(key, value);
}

/**
 * Detaches and closes everything bootBpf and openPinnedMap opened. (nimbpf leaves this to process
 * exit, which also works: the kernel frees it all.)
 */
export function shutdownBpf(): void {
  for (const o of booted.splice(0)) o.close();
  for (const m of opened.splice(0)) m.close();
  registry.clear();
}
