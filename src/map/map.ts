/**
 * BpfMap: a BPF map the process holds a descriptor for. Keys and values are bytes (or numbers and
 * bigints of the right size); `lookup` returns `undefined` for a missing key and never throws on
 * the hot path.
 *
 * @example
 * ```ts
 * using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 1024, name: "counts" });
 * m.update(42, 7n);
 * m.lookup(42);               // Uint8Array(8) [7, 0, ...]
 * for (const [k, v] of m.entries()) console.log(k, v);
 * ```
 */
import { ArgumentError, BpfError, Errno } from "../errors.js";
import { FD } from "../sys/fd.js";
import {
  Cmd, mapBatch, mapCreate, mapDeleteElem, mapFreeze, mapGetNextKey, mapLookupAndDeleteElem, mapLookupElem,
  mapUpdateElem, objGet, objGetInfoByFd, objPin, getFdById, syscallError, type MapCreateAttr,
} from "../sys/bpf.js";
import { ensurePinPath } from "../sys/fs.js";
import { possibleCpuCount } from "../sys/cpus.js";
import { PAGE_SIZE, PROT_READ, PROT_WRITE, mmapFd, unmap } from "../sys/mmap.js";
import { MapType, mapTypeName as enumMapTypeName } from "../spec/kernel-enums.js";

/** The name of a map type, e.g. `hash` for BPF_MAP_TYPE_HASH. */
export function mapTypeName(type: number): string {
  return enumMapTypeName(type)?.toLowerCase() ?? `map type ${type}`;
}
import { encodeInto, type Raw } from "./bytes.js";
import type { Btf } from "../btf/btf.js";
import type { TypedMap, TypedMapOptions } from "./typed.js";

type TypedFactory = (raw: BpfMap, btf: Btf | undefined, keyTypeId: number, valueTypeId: number, opts?: TypedMapOptions) => TypedMap<any, any>;
let typedFactory: TypedFactory | undefined;

/**
 * Called by ./typed.js when it loads (the package entry loads it): the codec and BTF modules stay
 * out of programs that only handle raw bytes, such as a CLI listing maps.
 * @internal
 */
export function registerTypedMaps(factory: TypedFactory): void {
  typedFactory = factory;
}

/** How `update` treats an existing key: `any` (create or replace), `noexist` (create only), `exist` (replace only). */
export type UpdateMode = "any" | "noexist" | "exist";

const updateFlags: Record<UpdateMode, number> = { any: 0, noexist: 1, exist: 2 };
/** BPF_F_LOCK: update or read a value's `struct bpf_spin_lock` protected part atomically. */
export const BPF_F_LOCK = 4;

const perCpuTypes = new Set<number>([
  MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE,
]);

/** Whether a map type keeps one value per possible CPU. */
export function isPerCpu(type: number): boolean {
  return perCpuTypes.has(type);
}

/** What `BpfMap.create` needs. Mirrors BPF_MAP_CREATE. */
export interface MapOptions extends Omit<MapCreateAttr, "mapType"> {
  type: number;
}

/** Decoded `struct bpf_map_info`. */
export interface MapInfo {
  type: number;
  typeName: string;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  ifindex: number;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  btfVmlinuxValueTypeId: number;
  mapExtra: bigint;
}

/** Reads `struct bpf_map_info` for a map descriptor. */
export function readMapInfo(fd: number, what = "map"): MapInfo {
  const buf = new Uint8Array(88);
  objGetInfoByFd(fd, buf, what);
  const v = new DataView(buf.buffer);
  const u32 = (o: number) => v.getUint32(o, true);
  const nameEnd = buf.subarray(24, 40).indexOf(0);
  return {
    type: u32(0), typeName: mapTypeName(u32(0)), id: u32(4), keySize: u32(8), valueSize: u32(12),
    maxEntries: u32(16), flags: u32(20),
    name: new TextDecoder().decode(buf.subarray(24, nameEnd < 0 ? 40 : 24 + nameEnd)),
    ifindex: u32(40), btfVmlinuxValueTypeId: u32(44), btfId: u32(64), btfKeyTypeId: u32(68),
    btfValueTypeId: u32(72), mapExtra: v.getBigUint64(80, true),
  };
}

export class BpfMap {
  /** The map's name (the ELF name for maps from an object, which may be longer than the kernel's 15 bytes). */
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  /** The size of one value as the program sees it (per CPU, for per-CPU maps). */
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** The owned descriptor. */
  readonly fd: FD;
  /** Bytes of a value as user space reads and writes it (per-CPU: 8-byte rounded value x possible CPUs). */
  readonly userValueSize: number;
  readonly perCpu: boolean;
  #keyScratch: Uint8Array;
  #keyView: DataView;
  #valueScratch: Uint8Array;
  #valueView: DataView;
  #pinnedAt: string | undefined;
  #mapped: { buf: ArrayBuffer; writable: boolean } | undefined;
  #btf: Btf | undefined;
  #btfKeyTypeId = 0;
  #btfValueTypeId = 0;
  #typed: TypedMap | undefined;

  /**
   * Wraps an open descriptor; the map takes ownership of `fd`. `btf` with `btfKeyTypeId` /
   * `btfValueTypeId` (ids in that BTF, 0 for none) describe keys and values for {@link typed}.
   */
  constructor(fd: FD, props: {
    name: string; type: number; keySize: number; valueSize: number; maxEntries: number; flags: number;
    btf?: Btf; btfKeyTypeId?: number; btfValueTypeId?: number;
  }) {
    this.fd = fd;
    this.name = props.name;
    this.type = props.type;
    this.keySize = props.keySize;
    this.valueSize = props.valueSize;
    this.maxEntries = props.maxEntries;
    this.flags = props.flags;
    this.perCpu = isPerCpu(props.type);
    this.userValueSize = this.perCpu ? ((props.valueSize + 7) & ~7) * possibleCpuCount() : props.valueSize;
    this.#keyScratch = new Uint8Array(props.keySize);
    this.#keyView = new DataView(this.#keyScratch.buffer);
    this.#valueScratch = new Uint8Array(this.userValueSize);
    this.#valueView = new DataView(this.#valueScratch.buffer);
    if (props.btf) this.setBtf(props.btf, props.btfKeyTypeId ?? 0, props.btfValueTypeId ?? 0);
  }

  /** The BTF describing keys and values, if known (set for maps of a loaded object whose spec has BTF). */
  get btf(): Btf | undefined {
    return this.#btf;
  }

  /** BTF type id of the key in {@link btf}, 0 when none. */
  get btfKeyTypeId(): number {
    return this.#btfKeyTypeId;
  }

  /** BTF type id of the value in {@link btf} (a DATASEC for global data), 0 when none. */
  get btfValueTypeId(): number {
    return this.#btfValueTypeId;
  }

  /**
   * Records the BTF types of keys and values (the object loader does this for its maps), so that
   * {@link typed} can decode them. Replaces what was set before.
   */
  setBtf(btf: Btf | undefined, keyTypeId: number, valueTypeId: number): void {
    this.#btf = btf;
    this.#btfKeyTypeId = btf ? keyTypeId : 0;
    this.#btfValueTypeId = btf ? valueTypeId : 0;
    this.#typed = undefined;
  }

  /**
   * A view that takes and returns decoded values (structs as objects, u64 as bigint, enums by
   * name, char arrays as strings; see codecFor), using the map's BTF key and value types. Per-CPU
   * maps return one value per possible CPU. `opts` supplies codecs, type ids or type names for maps
   * without BTF types (or overrides them). The raw methods stay as they are.
   * Throws ArgumentError when the map has no BTF types and `opts` gives none.
   *
   * @example
   * ```ts
   * obj.maps.hists.typed().lookup(pid); // { slots: [0, 3, ...] }
   * ```
   */
  typed<K = any, V = any>(opts?: TypedMapOptions): TypedMap<K, V> {
    const make = typedFactory;
    if (!make) {
      throw new BpfError("E_TYPED_NOT_LOADED", `typed view of map ${this.name}: the typed-map module is not loaded; import tsbpf through its package entry ("tsbpf"), which loads it`);
    }
    if (opts) return make(this, this.#btf, this.#btfKeyTypeId, this.#btfValueTypeId, opts) as TypedMap<K, V>;
    return (this.#typed ??= make(this, this.#btf, this.#btfKeyTypeId, this.#btfValueTypeId)) as TypedMap<K, V>;
  }

  /** Creates a new map (BPF_MAP_CREATE). Throws SyscallError (e.g. EINVAL for bad sizes, EPERM without privileges). */
  static create(opts: MapOptions): BpfMap {
    const fd = mapCreate({ ...opts, mapType: opts.type }, `map ${opts.name ?? mapTypeName(opts.type)}`);
    return new BpfMap(fd, {
      name: opts.name ?? "", type: opts.type, keySize: opts.keySize, valueSize: opts.valueSize,
      maxEntries: opts.maxEntries, flags: opts.mapFlags ?? 0,
    });
  }

  /**
   * Opens a map pinned on bpffs. Throws BpfError(E_NO_PIN) when nothing is pinned at `path`, and
   * ArgumentError when the object there is not a map.
   */
  static openPinned(path: string, opts: { readOnly?: boolean; writeOnly?: boolean } = {}): BpfMap {
    let fd: FD;
    try {
      fd = objGet(path, opts.readOnly ? 8 : opts.writeOnly ? 16 : 0, "pinned map");
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      if (errno === Errno.ENOENT) {
        throw new BpfError("E_NO_PIN", `open pinned map ${path}: nothing is pinned there. Check the path, that bpffs is mounted (mount -t bpf bpf /sys/fs/bpf) and that the program that pins it ran`, { cause: e });
      }
      throw e;
    }
    return BpfMap.fromFd(fd, path);
  }

  /** Opens a map by its kernel id (BPF_MAP_GET_FD_BY_ID). */
  static fromId(id: number): BpfMap {
    return BpfMap.fromFd(getFdById(Cmd.MAP_GET_FD_BY_ID, id, "map"));
  }

  /** Wraps a descriptor of unknown map, reading its properties from the kernel. Takes ownership. */
  static fromFd(fd: FD, where?: string): BpfMap {
    let info: MapInfo;
    try {
      info = readMapInfo(fd.value, where ? `object at ${where}` : "map");
    } catch (e) {
      fd.close();
      if ((e as { errno?: number }).errno === Errno.EINVAL) throw new ArgumentError(`open map${where ? ` ${where}` : ""}: the object is not a BPF map`, { cause: e });
      throw e;
    }
    return new BpfMap(fd, { ...info, name: info.name });
  }

  #what = (): string => `map ${this.name || mapTypeName(this.type)}`;
  /** Operand names for error messages, built once so the hot paths allocate nothing. */
  readonly #labels: Record<string, Record<string, string>> = {};
  #label(op: string, part: string): string {
    const byOp = (this.#labels[op] ??= {});
    return (byOp[part] ??= `${op} ${this.#what()}: ${part}`);
  }

  #key(key: Raw | null | undefined, op: string): Uint8Array | null {
    // Hot path (see bench/README.md): a number for a 4-byte key is written into the preallocated
    // scratch through a DataView made once, and bytes of the right size pass through; neither
    // allocates nor builds an error label. Everything else takes the general path below.
    if (typeof key === "number") {
      if (this.keySize === 4 && Number.isInteger(key) && key >= -0x80000000 && key <= 0xffffffff) {
        this.#keyView.setUint32(0, key >>> 0, true);
        return this.#keyScratch;
      }
    } else if (key instanceof Uint8Array && key.length === this.keySize && key.length !== 0) {
      return key;
    }
    if (this.keySize === 0) {
      if (key !== null && key !== undefined) throw new ArgumentError(`${op} ${this.#what()}: this ${mapTypeName(this.type)} map has no keys; pass null`);
      return null;
    }
    if (key === null || key === undefined) throw new ArgumentError(`${op} ${this.#what()}: a key of ${this.keySize} bytes is required`);
    return encodeInto(key, this.#keyScratch, this.#label(op, "key"));
  }

  #value(value: Raw | Raw[], op: string): Uint8Array {
    // Hot path, as for keys: bytes of the right size, and a number for an 8-byte value written as
    // two 32-bit halves (two's complement, like BigInt.asUintN(64, BigInt(v)), without a bigint).
    // Safe integers always fit in 8 bytes; others take the general path, which refuses them.
    if (value instanceof Uint8Array) {
      if (value.length === this.userValueSize) return value;
    } else if (typeof value === "number" && this.userValueSize === 8 && Number.isSafeInteger(value)) {
      const view = this.#valueView;
      view.setUint32(0, value >>> 0, true);
      view.setUint32(4, Math.floor(value / 4294967296) >>> 0, true);
      return this.#valueScratch;
    }
    if (Array.isArray(value)) return this.#perCpuValue(value, op);
    return encodeInto(value, this.#valueScratch, this.#label(op, this.perCpu ? "value (per-CPU maps take one value per possible CPU: pass an array of per-CPU values or all of them concatenated)" : "value"));
  }

  #perCpuValue(values: Raw[], op: string): Uint8Array {
    if (!this.perCpu) throw new ArgumentError(`${op} ${this.#what()}: an array of values is only for per-CPU maps`);
    const n = possibleCpuCount();
    if (values.length !== n) throw new ArgumentError(`${op} ${this.#what()}: ${values.length} per-CPU values given, there are ${n} possible CPUs`);
    const stride = (this.valueSize + 7) & ~7;
    const out = this.#valueScratch;
    out.fill(0);
    values.forEach((v, i) => {
      const slot = out.subarray(i * stride, i * stride + this.valueSize);
      const bytes = encodeInto(v, slot, () => `${op} ${this.#what()}: value for CPU ${i}`);
      if (bytes !== slot) slot.set(bytes);
    });
    return out;
  }

  #fail(op: string, errno: number): never {
    throw syscallError(
      { lookup: Cmd.MAP_LOOKUP_ELEM, update: Cmd.MAP_UPDATE_ELEM, delete: Cmd.MAP_DELETE_ELEM, "get next key of": Cmd.MAP_GET_NEXT_KEY, "lookup and delete in": Cmd.MAP_LOOKUP_AND_DELETE_ELEM }[op] ?? Cmd.MAP_LOOKUP_ELEM,
      errno,
      `${op} ${this.#what()}${errno === Errno.E2BIG ? ` (it holds at most ${this.maxEntries} entries)` : ""}`,
    );
  }

  /**
   * The value stored under `key`, as a new Uint8Array of `userValueSize` bytes, or `undefined` if
   * the key is absent. Throws ArgumentError for a key of the wrong size.
   */
  lookup(key: Raw | null, flags = 0): Uint8Array | undefined {
    // Read into the scratch buffer (whose memory the native layer already knows) and copy out: a
    // fresh small Uint8Array handed to the native layer would first have its bytes moved off the
    // V8 heap, which costs more than the copy.
    const scratch = this.#valueScratch;
    return this.lookupInto(key, scratch, flags) ? scratch.slice() : undefined;
  }

  /** Allocation-free lookup: fills `out` and returns true, or returns false if the key is absent. */
  lookupInto(key: Raw | null, out: Uint8Array, flags = 0): boolean {
    if (out.length !== this.userValueSize) throw new ArgumentError(`lookup ${this.#what()}: the output buffer is ${out.length} bytes, values are ${this.userValueSize} bytes`);
    const r = mapLookupElem(this.fd.value, this.#key(key, "lookup"), out, flags);
    if (r === 0) return true;
    if (r === -Errno.ENOENT) return false;
    this.#fail("lookup", -r);
  }

  /** Per-CPU maps: the value under `key` split into one view per possible CPU, or undefined. */
  lookupPerCpu(key: Raw | null): Uint8Array[] | undefined {
    if (!this.perCpu) throw new ArgumentError(`lookup ${this.#what()}: lookupPerCpu is for per-CPU maps; use lookup()`);
    const all = this.lookup(key);
    return all && splitPerCpu(all, this.valueSize);
  }

  /**
   * Stores `value` under `key`. `mode` is `any` (default), `noexist` or `exist`; pass a number to
   * add flags such as BPF_F_LOCK. Throws SyscallError: EEXIST (noexist and present), ENOENT (exist
   * and absent), E2BIG (map full).
   */
  update(key: Raw | null, value: Raw | Raw[], mode: UpdateMode | number = "any"): void {
    const flags = typeof mode === "number" ? mode : updateFlags[mode];
    const k = this.#key(key, "update");
    const r = mapUpdateElem(this.fd.value, k, this.#value(value, "update"), flags);
    if (r !== 0) this.#fail("update", -r);
  }

  /** Deletes `key`. Returns false if it was absent. */
  delete(key: Raw | null): boolean {
    const r = mapDeleteElem(this.fd.value, this.#key(key, "delete"));
    if (r === 0) return true;
    if (r === -Errno.ENOENT) return false;
    this.#fail("delete", -r);
  }

  /** Reads and removes `key` atomically (hash maps since 5.14); queues/stacks pop with a null key. */
  lookupAndDelete(key: Raw | null): Uint8Array | undefined {
    const out = this.#valueScratch;
    const r = mapLookupAndDeleteElem(this.fd.value, this.#key(key, "lookup and delete in"), out);
    if (r === 0) return out.slice();
    if (r === -Errno.ENOENT) return undefined;
    this.#fail("lookup and delete in", -r);
  }

  /** Queue/stack: pushes a value (BPF_EXIST overwrites the oldest when full). */
  push(value: Raw, overwrite = false): void {
    this.update(null, value, overwrite ? "exist" : "any");
  }

  /** Queue/stack: removes and returns the next value, or undefined when empty. */
  pop(): Uint8Array | undefined {
    return this.lookupAndDelete(null);
  }

  /** Queue/stack: the next value without removing it. */
  peek(): Uint8Array | undefined {
    return this.lookup(null);
  }

  /** The key after `key` (the first key when `key` is null), or undefined at the end. */
  nextKey(key: Raw | null): Uint8Array | undefined {
    const next = new Uint8Array(this.keySize);
    const k = key === null ? null : encodeInto(key, new Uint8Array(this.keySize), () => `get next key of ${this.#what()}: key`);
    const r = mapGetNextKey(this.fd.value, k, next);
    if (r === 0) return next;
    if (r === -Errno.ENOENT) return undefined;
    this.#fail("get next key of", -r);
  }

  /**
   * Iterates the keys with BPF_MAP_GET_NEXT_KEY. If the current key is deleted while iterating,
   * hash maps restart from the first key (kernel behaviour); use `entries`/`dump` for snapshots.
   */
  *keys(): IterableIterator<Uint8Array> {
    // Two scratch keys alternate as "current" and "next" (the native layer knows their memory
    // after the first call); each yielded key is a copy the caller may keep.
    let cur = new Uint8Array(this.keySize);
    let next = new Uint8Array(this.keySize);
    let r = mapGetNextKey(this.fd.value, null, cur);
    let guard = 0;
    const limit = Math.max(this.maxEntries, 1) * 4 + 16;
    while (r === 0) {
      yield cur.slice();
      if (++guard > limit) throw new BpfError("E_ITERATION", `iterate ${this.#what()}: more keys than the map can hold were returned; the map is being modified concurrently`);
      r = mapGetNextKey(this.fd.value, cur, next);
      const t = cur;
      cur = next;
      next = t;
    }
    if (r !== -Errno.ENOENT) this.#fail("get next key of", -r);
  }

  /** Iterates `[key, value]` pairs (keys that vanish between the two calls are skipped). */
  *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    // The walk and the lookups use scratch buffers whose memory the native layer already knows;
    // only the yielded pairs are new. (Passing each yielded key, a fresh small Uint8Array on the
    // V8 heap, back to the native layer made it copy the bytes off the heap: half the cost of a
    // 1M-entry walk, bench/README.md.)
    let cur = new Uint8Array(this.keySize);
    let next = new Uint8Array(this.keySize);
    const value = this.#valueScratch;
    let r = mapGetNextKey(this.fd.value, null, cur);
    let guard = 0;
    const limit = Math.max(this.maxEntries, 1) * 4 + 16;
    while (r === 0) {
      const found = mapLookupElem(this.fd.value, cur, value, 0);
      if (found === 0) yield [cur.slice(), value.slice()];
      else if (found !== -Errno.ENOENT) this.#fail("lookup", -found);
      if (++guard > limit) throw new BpfError("E_ITERATION", `iterate ${this.#what()}: more keys than the map can hold were returned; the map is being modified concurrently`);
      r = mapGetNextKey(this.fd.value, cur, next);
      const t = cur;
      cur = next;
      next = t;
    }
    if (r !== -Errno.ENOENT) this.#fail("get next key of", -r);
  }

  [Symbol.iterator](): IterableIterator<[Uint8Array, Uint8Array]> {
    return this.entries();
  }

  /**
   * Reads the map in batches of `batchSize` with BPF_MAP_LOOKUP_BATCH (Linux 5.6+), yielding
   * `{ keys, values, count }` with keys and values packed back to back. Falls back to
   * get-next-key iteration where the map type or kernel has no batch support.
   */
  *lookupBatches(batchSize = 4096, opts: { delete?: boolean } = {}): IterableIterator<{ keys: Uint8Array; values: Uint8Array; count: number }> {
    if (opts.delete && (this.type === MapType.ARRAY || this.type === MapType.PERCPU_ARRAY)) {
      throw new ArgumentError(`batch-read and delete ${this.#what()}: array maps cannot delete entries; read with lookupBatches() and zero them with clear()`);
    }
    const cmd = opts.delete ? Cmd.MAP_LOOKUP_AND_DELETE_BATCH : Cmd.MAP_LOOKUP_BATCH;
    const tokenSize = Math.max(this.keySize, 8);
    let inBatch: Uint8Array | null = null;
    let outBatch = new Uint8Array(tokenSize);
    let n = Math.max(1, batchSize);
    for (;;) {
      const keys = new Uint8Array(n * this.keySize);
      const values = new Uint8Array(n * this.userValueSize);
      const { err, count } = mapBatch(cmd, { mapFd: this.fd.value, inBatch, outBatch, keys, values, count: n });
      if (err === -Errno.ENOSPC && count === 0) {
        n *= 2; // a hash bucket holds more entries than fit: grow and retry
        continue;
      }
      if (err === -Errno.EINVAL || err === -Errno.ENOTSUPP || err === -Errno.EOPNOTSUPP || err === -Errno.ENOSYS) {
        if (inBatch === null) {
          yield* this.#batchesByIteration(n, opts.delete ?? false);
          return;
        }
      }
      if (err !== 0 && err !== -Errno.ENOENT) {
        throw syscallError(cmd, -err, `batch-read ${this.#what()}`);
      }
      if (count > 0) yield { keys: keys.subarray(0, count * this.keySize), values: values.subarray(0, count * this.userValueSize), count };
      if (err === -Errno.ENOENT) return;
      inBatch = outBatch;
      outBatch = new Uint8Array(tokenSize);
    }
  }

  *#batchesByIteration(n: number, del: boolean): IterableIterator<{ keys: Uint8Array; values: Uint8Array; count: number }> {
    const all = [...this.entries()];
    for (let i = 0; i < all.length; i += n) {
      const chunk = all.slice(i, i + n);
      const keys = new Uint8Array(chunk.length * this.keySize);
      const values = new Uint8Array(chunk.length * this.userValueSize);
      chunk.forEach(([k, v], j) => {
        keys.set(k, j * this.keySize);
        values.set(v, j * this.userValueSize);
        if (del) this.delete(k);
      });
      yield { keys, values, count: chunk.length };
    }
  }

  /** All entries as `[key, value]` pairs, read with batch lookups where the kernel supports them. */
  dump(batchSize = 4096): Array<[Uint8Array, Uint8Array]> {
    // Each key and value is a view into its batch's buffer (which nothing else holds), not a copy:
    // a copy costs a second allocation per entry, and for large maps the garbage collector's work
    // on millions of small objects is most of the time (bench/README.md). For big maps, prefer
    // lookupBatches(), which hands out the packed buffers.
    const out: Array<[Uint8Array, Uint8Array]> = [];
    const ks = this.keySize;
    const vs = this.userValueSize;
    for (const b of this.lookupBatches(batchSize)) {
      for (let i = 0; i < b.count; i++) {
        out.push([b.keys.subarray(i * ks, (i + 1) * ks), b.values.subarray(i * vs, (i + 1) * vs)]);
      }
    }
    return out;
  }

  /**
   * Updates many entries in one call (BPF_MAP_UPDATE_BATCH), falling back to one update each.
   * Per-CPU maps take, per key, an array of one value per possible CPU (as update does). Returns how
   * many were written.
   */
  updateBatch(keys: Raw[], values: Array<Raw | Raw[]>, mode: UpdateMode = "any"): number {
    if (keys.length !== values.length) throw new ArgumentError(`batch-update ${this.#what()}: ${keys.length} keys but ${values.length} values`);
    const kb = new Uint8Array(keys.length * this.keySize);
    const vb = new Uint8Array(values.length * this.userValueSize);
    keys.forEach((k, i) => kb.set(this.#key(k, "batch-update")!, i * this.keySize));
    values.forEach((v, i) => vb.set(this.#value(v, "batch-update"), i * this.userValueSize));
    const { err, count } = mapBatch(Cmd.MAP_UPDATE_BATCH, { mapFd: this.fd.value, inBatch: null, outBatch: null, keys: kb, values: vb, count: keys.length, elemFlags: updateFlags[mode] });
    if (err === 0) return count;
    if ((err === -Errno.EINVAL || err === -Errno.ENOTSUPP || err === -Errno.EOPNOTSUPP) && count === 0) {
      keys.forEach((k, i) => this.update(k, values[i]!, mode));
      return keys.length;
    }
    throw syscallError(Cmd.MAP_UPDATE_BATCH, -err, `batch-update ${this.#what()} (${count} of ${keys.length} written)`);
  }

  /**
   * Deletes many keys with BPF_MAP_DELETE_BATCH, falling back to one delete each where the map
   * type has no batch support. Absent keys are skipped. Returns how many keys were deleted.
   */
  deleteBatch(keys: Raw[]): number {
    const ks = this.keySize;
    const kb = new Uint8Array(keys.length * ks);
    keys.forEach((k, i) => kb.set(this.#key(k, "batch-delete")!, i * ks));
    let deleted = 0;
    let start = 0;
    while (start < keys.length) {
      const { err, count } = mapBatch(Cmd.MAP_DELETE_BATCH, { mapFd: this.fd.value, inBatch: null, outBatch: null, keys: kb.subarray(start * ks), values: null, count: keys.length - start });
      deleted += count;
      if (err === 0) return deleted;
      if (err === -Errno.ENOENT) {
        // The kernel stops at the first absent key (the one after the `count` it deleted): skip
        // it and go on with the rest.
        start += count + 1;
        continue;
      }
      if ((err === -Errno.EINVAL || err === -Errno.ENOTSUPP || err === -Errno.EOPNOTSUPP) && count === 0 && start === 0) {
        return keys.reduce<number>((n, k) => n + (this.delete(k) ? 1 : 0), 0);
      }
      throw syscallError(Cmd.MAP_DELETE_BATCH, -err, `batch-delete ${this.#what()} (${deleted} of ${keys.length} deleted)`);
    }
    return deleted;
  }

  /** Removes every entry (arrays cannot delete: their values are zeroed instead). Returns how many keys were cleared. */
  clear(): number {
    if (this.type === MapType.ARRAY || this.type === MapType.PERCPU_ARRAY) {
      const zero = new Uint8Array(this.userValueSize);
      for (let i = 0; i < this.maxEntries; i++) this.update(i, zero);
      return this.maxEntries;
    }
    let n = 0;
    for (;;) {
      const batch = [...this.keysSnapshot(4096)];
      if (batch.length === 0) return n;
      n += this.deleteBatch(batch);
    }
  }

  /** Up to `max` keys, read without holding the iteration across deletions. */
  *keysSnapshot(max: number): IterableIterator<Uint8Array> {
    let i = 0;
    for (const k of this.keys()) {
      if (i++ >= max) return;
      yield k.slice();
    }
  }

  /** Makes the map read-only for user space (BPF_MAP_FREEZE, Linux 5.2+). */
  freeze(): void {
    mapFreeze(this.fd.value, this.#what());
  }

  /** Pins the map at `path` on bpffs (mounting /sys/fs/bpf if needed). */
  pin(path: string): void {
    ensurePinPath(path, `pin ${this.#what()}`);
    objPin(this.fd.value, path, this.#what());
    this.#pinnedAt = path;
  }

  /** Where the map was pinned by this process, if it was. */
  get pinnedAt(): string | undefined {
    return this.#pinnedAt;
  }

  /** The kernel's view of the map (struct bpf_map_info). */
  info(): MapInfo {
    return readMapInfo(this.fd.value, this.#what());
  }

  /**
   * The map's memory, shared with the BPF program (array maps created with BPF_F_MMAPABLE, such as
   * global data). Writes are seen by the program at once. Frozen or read-only maps are mapped
   * read-only. The mapping is released by close().
   */
  memory(opts: { writable?: boolean } = {}): Uint8Array {
    const writable = opts.writable ?? true;
    if (!this.#mapped || (writable && !this.#mapped.writable)) {
      if (this.#mapped) unmap(this.#mapped.buf);
      const len = Math.max(PAGE_SIZE, Math.ceil((this.valueSize * this.maxEntries) / PAGE_SIZE) * PAGE_SIZE);
      const buf = mmapFd(this.fd.value, len, writable ? PROT_READ | PROT_WRITE : PROT_READ, this.#what());
      this.#mapped = { buf, writable };
    }
    return new Uint8Array(this.#mapped.buf, 0, this.valueSize * this.maxEntries);
  }

  /** Closes the descriptor (the kernel frees the map when nothing else holds it). Idempotent. */
  close(): void {
    if (this.#mapped) {
      unmap(this.#mapped.buf);
      this.#mapped = undefined;
    }
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `BpfMap(${this.name}, ${mapTypeName(this.type)}, key ${this.keySize}B, value ${this.valueSize}B, max ${this.maxEntries})`;
  }
}

/** Splits a per-CPU value buffer into one view per possible CPU (each `valueSize` bytes). */
export function splitPerCpu(all: Uint8Array, valueSize: number): Uint8Array[] {
  const stride = (valueSize + 7) & ~7;
  const out: Uint8Array[] = [];
  for (let off = 0; off + valueSize <= all.length; off += stride) out.push(all.subarray(off, off + valueSize));
  return out;
}

