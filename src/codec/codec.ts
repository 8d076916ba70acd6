/**
 * Codecs: BTF-described bytes to JavaScript values and back.
 *
 * | C                                  | JavaScript                                   |
 * |------------------------------------|----------------------------------------------|
 * | int up to 32 bits, char            | number                                       |
 * | 64- and 128-bit int, pointer       | bigint                                       |
 * | _Bool                              | boolean                                      |
 * | float, double                      | number                                       |
 * | enum / enum64                      | the enumerator's name, else the number / bigint |
 * | char[N]                            | string (NUL-terminated UTF-8)                |
 * | unsigned char / __u8 [N]           | Uint8Array (a copy)                          |
 * | other T[N]                         | T[]                                          |
 * | struct, union, data section        | plain object; anonymous members flattened    |
 *
 * typedef/const/volatile/restrict/type_tag/var are transparent; bitfields (both BTF layouts) are
 * read and written exactly. Encoding takes partial objects (missing fields and elements are zero)
 * and rejects unknown field names and out-of-range values with an ArgumentError naming the path.
 *
 * @example
 * ```ts
 * const hist = codecFor<{ slots: number[] }>(spec.btf!, spec.btf!.findByName("hist", "struct")!);
 * hist.decode(bytes).slots[3];
 * hist.encode({ slots: [1, 2, 3] }); // Uint8Array(60)
 * ```
 */
import type { Btf } from "../btf/btf.js";
import { ArgumentError, BtfError } from "../errors.js";
import { compile, type Node } from "./compile.js";
import { EncodeError, toArgumentError } from "./errors.js";

/** What `encode` takes for a decoded type: the same shape, every field optional. */
export type EncodeInput<T> =
  T extends string | number | bigint | boolean | Uint8Array ? T | (T extends Uint8Array ? readonly number[] : never)
    : T extends readonly (infer E)[] ? readonly (EncodeInput<E> | undefined)[]
      : T extends object ? { readonly [K in keyof T]?: EncodeInput<T[K]> }
        : T;

/** Options of {@link Codec.encode} for error messages. */
export interface EncodeOptions {
  /** The start of error messages, default `encode <C type>`. */
  readonly what?: string;
  /** The root of paths in error messages, default the type's name (`hist` in `hist.slots[3]`). */
  readonly root?: string;
}

/** Decodes and encodes values of one BTF type. Built once per (BTF, type id) by {@link codecFor}. */
export interface Codec<T = unknown> {
  /** The BTF and type id it was built for. */
  readonly btf: Btf;
  readonly typeId: number;
  /** The C name of the type, e.g. `struct hist`. */
  readonly typeName: string;
  /** Bytes of one value. */
  readonly size: number;
  /**
   * Decodes the value at `offset` of `bytes`. Throws ArgumentError when fewer than `size` bytes
   * are there. The result shares nothing with `bytes`.
   */
  decode(bytes: Uint8Array, offset?: number): T;
  /**
   * Encodes `value` into `out` at `offset` (a new buffer of `size` bytes when `out` is omitted)
   * and returns `out`. The `size` bytes are zeroed first, so padding and missing fields are 0.
   * Throws ArgumentError naming the path of a bad value (`hist.slots[3]: -1 is out of range ...`).
   */
  encode(value: EncodeInput<T>, out?: Uint8Array, offset?: number, opts?: EncodeOptions): Uint8Array;
}

// One cached DataView, over the most recently used Uint8Array: decoding in a loop over one buffer
// (a map view's scratch buffer, a mmapped data section) creates no views. Typed array getters
// (.buffer, .byteOffset) are not free, so the cache is keyed by the array itself.
let lastBytes: Uint8Array | undefined;
let lastView: DataView | undefined;

/** A DataView over exactly `bytes` (cached for the most recent array). */
export function viewOf(bytes: Uint8Array): DataView {
  if (bytes !== lastBytes) {
    lastView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    lastBytes = bytes;
  }
  return lastView!;
}

class CodecImpl<T> implements Codec<T> {
  readonly typeName: string;
  readonly size: number;
  readonly #read: Node["read"];
  readonly #write: Node["write"];
  readonly #root: string;

  constructor(readonly btf: Btf, readonly typeId: number, node: Node) {
    this.typeName = btf.typeName(typeId);
    this.size = node.size;
    this.#read = node.read;
    this.#write = node.write;
    this.#root = rootName(btf, typeId, node);
  }

  decode(bytes: Uint8Array, offset = 0): T {
    if (!(offset >= 0 && offset + this.size <= bytes.length && offset % 1 === 0)) this.#badDecode(bytes, offset);
    return this.#read(viewOf(bytes), offset) as T;
  }

  #badDecode(bytes: unknown, offset: number): never {
    if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`decode ${this.typeName}: expected a Uint8Array, got ${bytes === null ? "null" : typeof bytes}`);
    throw new ArgumentError(`decode ${this.typeName}: it needs ${this.size} bytes at offset ${offset}, the buffer has ${bytes.length}`);
  }

  encode(value: EncodeInput<T>, out?: Uint8Array, offset = 0, opts?: EncodeOptions): Uint8Array {
    const what = opts?.what ?? `encode ${this.typeName}`;
    if (out === undefined) out = new Uint8Array(this.size);
    else if (!(out instanceof Uint8Array)) throw new ArgumentError(`${what}: the output must be a Uint8Array`);
    if (!(offset >= 0 && offset + this.size <= out.length && offset % 1 === 0)) {
      throw new ArgumentError(`${what}: it needs ${this.size} bytes at offset ${offset}, the output has ${out.length}`);
    }
    out.fill(0, offset, offset + this.size);
    try {
      this.#write(viewOf(out), offset, value);
    } catch (e) {
      if (e instanceof EncodeError) throw toArgumentError(e, what, opts?.root ?? this.#root);
      throw e;
    }
    return out;
  }

  toString(): string {
    return `Codec(${this.typeName}, ${this.size} bytes)`;
  }
}

/** Paths start with the type's name for composites and arrays (`hist.slots[3]`), and are empty for scalars. */
function rootName(btf: Btf, id: number, node: Node): string {
  const peeled = btf.skipModifiers(id);
  const t = btf.type(peeled);
  const r = btf.type(btf.resolve(id));
  if (!node.composite && r.kind !== "array") return "";
  if (t.kind === "var") return t.name;
  return t.name || "value";
}

const codecs = new WeakMap<Btf, Map<number, Codec>>();

/**
 * The codec of type `typeId` in `btf` (built once, then cached per BTF and id). Decoded values
 * have the TypeScript type {@link typeScriptType} renders. Throws BtfError for a type id out of
 * range or a type without a value (void, functions, forward declarations).
 */
export function codecFor<T = any>(btf: Btf, typeId: number): Codec<T> {
  let m = codecs.get(btf);
  if (!m) codecs.set(btf, (m = new Map()));
  let c = m.get(typeId);
  if (!c) {
    if (!Number.isInteger(typeId) || typeId <= 0 || typeId >= btf.count) {
      throw new BtfError(`build codec: type id ${typeId} is out of range (valid ids are 1..${btf.count - 1})`);
    }
    c = new CodecImpl<unknown>(btf, typeId, compile(btf, typeId));
    m.set(typeId, c);
  }
  return c as Codec<T>;
}

/**
 * The codec of the type named `name` (a struct, union, enum or typedef, in that order of
 * preference; or any kind when `kind` is given). Throws BtfError when there is no such type.
 */
export function codecForName<T = any>(btf: Btf, name: string, kind?: "struct" | "union" | "enum" | "enum64" | "typedef" | "int" | "datasec"): Codec<T> {
  const id = kind ? btf.findByName(name, kind)
    : btf.findByName(name, "struct") ?? btf.findByName(name, "union") ?? btf.findByName(name, "enum")
      ?? btf.findByName(name, "enum64") ?? btf.findByName(name, "typedef") ?? btf.findByName(name);
  if (id === undefined) throw new BtfError(`build codec: no ${kind ?? "type"} named ${JSON.stringify(name)} in the BTF`);
  return codecFor<T>(btf, id);
}
