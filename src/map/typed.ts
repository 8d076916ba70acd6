/**
 * TypedMap: a view of a BpfMap that takes and returns decoded values, using the codecs of the
 * map's BTF key and value types. The raw BpfMap is untouched: the view encodes into scratch
 * buffers, calls the raw byte methods and decodes what they return.
 *
 * @example
 * ```ts
 * using obj = await loadObject("readhist.bpf.o");
 * const hists = obj.maps.hists.typed<number, { slots: number[] }>();
 * hists.lookup(pid);                    // { slots: [0, 3, 12, ...] }
 * for (const [pid, h] of hists) console.log(pid, h.slots);
 * ```
 */
import type { Btf } from "../btf/btf.js";
import { codecFor, codecForName, type Codec, type EncodeInput } from "../codec/codec.js";
import { ArgumentError } from "../errors.js";
import type { Raw } from "./bytes.js";
import { registerTypedMaps, type BpfMap, type UpdateMode } from "./map.js";

/** Options of {@link BpfMap.typed}: codecs for maps without BTF types, or to override them. */
export interface TypedMapOptions {
  /** The BTF that type ids and names refer to (default: the map's own BTF). */
  readonly btf?: Btf;
  /** The key's codec, BTF type id or type name. */
  readonly key?: Codec | number | string;
  /** The value's codec, BTF type id or type name. */
  readonly value?: Codec | number | string;
}

/**
 * A map seen through codecs. Keys and values are decoded JavaScript values (see codecFor); a side
 * without a BTF type stays raw (Uint8Array out; Uint8Array, number or bigint in). Per-CPU maps
 * take and return one value per possible CPU: `V` is then the array type, e.g. `typed<number, Stat[]>()`.
 */
export class TypedMap<K = any, V = any> {
  /** The raw map. */
  readonly raw: BpfMap;
  /** The key's codec, undefined when keys stay raw bytes. */
  readonly keyCodec: Codec | undefined;
  /** The value's codec, undefined when values stay raw bytes. */
  readonly valueCodec: Codec | undefined;
  readonly #keyBuf: Uint8Array;
  readonly #valueBuf: Uint8Array;
  readonly #stride: number;
  readonly #cpus: number;

  constructor(raw: BpfMap, keyCodec: Codec | undefined, valueCodec: Codec | undefined) {
    this.raw = raw;
    if (keyCodec && keyCodec.size !== raw.keySize) {
      throw new ArgumentError(`typed view of map ${raw.name}: the key type ${keyCodec.typeName} is ${keyCodec.size} bytes, the map's keys are ${raw.keySize} bytes`);
    }
    if (valueCodec && valueCodec.size !== raw.valueSize) {
      throw new ArgumentError(`typed view of map ${raw.name}: the value type ${valueCodec.typeName} is ${valueCodec.size} bytes, the map's values are ${raw.valueSize} bytes`);
    }
    this.keyCodec = keyCodec;
    this.valueCodec = valueCodec;
    this.#keyBuf = new Uint8Array(raw.keySize);
    this.#valueBuf = new Uint8Array(raw.userValueSize);
    this.#stride = raw.perCpu ? (raw.valueSize + 7) & ~7 : raw.valueSize;
    this.#cpus = raw.perCpu ? raw.userValueSize / this.#stride : 1;
  }

  /** Builds the view for {@link BpfMap.typed}. Throws ArgumentError when neither side has a type. */
  static of<K, V>(raw: BpfMap, btf: Btf | undefined, keyTypeId: number, valueTypeId: number, opts: TypedMapOptions = {}): TypedMap<K, V> {
    const b = opts.btf ?? btf;
    const pick = (given: Codec | number | string | undefined, id: number, side: string): Codec | undefined => {
      if (given !== undefined && typeof given === "object") return given;
      if (given === undefined && id === 0) return undefined;
      if (!b) throw new ArgumentError(`typed view of map ${raw.name}: a ${side} type ${typeof given === "string" ? JSON.stringify(given) : `id ${given}`} needs BTF; pass { btf }`);
      if (typeof given === "string") return codecForName(b, given);
      return codecFor(b, given ?? id);
    };
    const k = raw.keySize === 0 ? undefined : pick(opts.key, keyTypeId, "key");
    const v = pick(opts.value, valueTypeId, "value");
    if (!k && !v) {
      throw new ArgumentError(`typed view of map ${raw.name}: the map has no BTF key or value type (it was defined without __type(key, ...)/__type(value, ...), e.g. a legacy SEC("maps") map, or created without BTF); use the raw byte methods (lookup, update, ...) or pass codecs: map.typed({ btf, key: "u32", value: "struct_name" })`);
    }
    return new TypedMap<K, V>(raw, k, v);
  }

  #key(key: K, op: string): Raw | null {
    if (this.raw.keySize === 0) return null;
    if (!this.keyCodec) return key as Raw;
    return this.keyCodec.encode(key as EncodeInput<unknown>, this.#keyBuf, 0, { what: `${op} map ${this.raw.name}`, root: "key" });
  }

  #decodeKey(bytes: Uint8Array, offset = 0): K {
    return (this.keyCodec ? this.keyCodec.decode(bytes, offset) : bytes.slice(offset, offset + this.raw.keySize)) as K;
  }

  #decodeValue(bytes: Uint8Array, offset = 0): V {
    const c = this.valueCodec;
    if (!this.raw.perCpu) return (c ? c.decode(bytes, offset) : bytes.slice(offset, offset + this.raw.valueSize)) as V;
    const out = new Array(this.#cpus);
    for (let i = 0; i < this.#cpus; i++) {
      const at = offset + i * this.#stride;
      out[i] = c ? c.decode(bytes, at) : bytes.slice(at, at + this.raw.valueSize);
    }
    return out as V;
  }

  #encodeValue(value: V | EncodeInput<V>, op: string): Raw {
    const c = this.valueCodec;
    const what = `${op} map ${this.raw.name}`;
    if (!this.raw.perCpu) {
      if (!c) return value as Raw;
      return c.encode(value as EncodeInput<unknown>, this.#valueBuf, 0, { what, root: "value" });
    }
    if (!Array.isArray(value) || value.length !== this.#cpus) {
      throw new ArgumentError(`${what}: a per-CPU map takes an array of ${this.#cpus} values (one per possible CPU), got ${Array.isArray(value) ? `${value.length}` : typeof value}`);
    }
    const buf = this.#valueBuf;
    buf.fill(0);
    for (let i = 0; i < this.#cpus; i++) {
      const at = i * this.#stride;
      if (c) c.encode(value[i], buf, at, { what, root: `value[${i}]` });
      else buf.set(value[i] as Uint8Array, at);
    }
    return buf;
  }

  /** The decoded value under `key`, or undefined when absent. Throws ArgumentError for a bad key. */
  lookup(key: K): V | undefined {
    return this.raw.lookupInto(this.#key(key, "lookup"), this.#valueBuf) ? this.#decodeValue(this.#valueBuf) : undefined;
  }

  /** Whether `key` is present. */
  has(key: K): boolean {
    return this.raw.lookupInto(this.#key(key, "lookup"), this.#valueBuf);
  }

  /**
   * Stores `value` (a partial object is fine: missing fields are zero) under `key`. Throws
   * ArgumentError naming the path of a bad field, SyscallError like BpfMap.update.
   */
  update(key: K, value: V | EncodeInput<V>, mode: UpdateMode | number = "any"): void {
    const k = this.#key(key, "update");
    this.raw.update(k, this.#encodeValue(value, "update"), mode);
  }

  /** Deletes `key`; false if it was absent. */
  delete(key: K): boolean {
    return this.raw.delete(this.#key(key, "delete"));
  }

  /** Reads and removes `key` atomically (hash maps since 5.14). */
  lookupAndDelete(key: K): V | undefined {
    const b = this.raw.lookupAndDelete(this.#key(key, "lookup and delete in"));
    return b && this.#decodeValue(b);
  }

  /** Iterates the decoded keys (see BpfMap.keys for iteration under concurrent deletes). */
  *keys(): IterableIterator<K> {
    for (const k of this.raw.keys()) yield this.#decodeKey(k);
  }

  /** Iterates decoded `[key, value]` pairs. */
  *entries(): IterableIterator<[K, V]> {
    for (const k of this.raw.keys()) {
      if (this.raw.lookupInto(k, this.#valueBuf)) yield [this.#decodeKey(k), this.#decodeValue(this.#valueBuf)];
    }
  }

  /** Iterates decoded values. */
  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** All entries, decoded, read with batch lookups where the kernel has them. */
  dump(batchSize = 4096): Array<[K, V]> {
    const out: Array<[K, V]> = [];
    const ks = this.raw.keySize, vs = this.raw.userValueSize;
    for (const b of this.raw.lookupBatches(batchSize)) {
      for (let i = 0; i < b.count; i++) out.push([this.#decodeKey(b.keys, i * ks), this.#decodeValue(b.values, i * vs)]);
    }
    return out;
  }

  toString(): string {
    return `TypedMap(${this.raw.name}, key ${this.keyCodec?.typeName ?? "raw"}, value ${this.valueCodec?.typeName ?? "raw"})`;
  }
}

registerTypedMaps((raw, btf, keyTypeId, valueTypeId, opts) => TypedMap.of(raw, btf, keyTypeId, valueTypeId, opts));
