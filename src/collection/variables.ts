/**
 * Global variables (`.rodata`, `.data`, `.bss`, custom `.data.*`/`.rodata.*` sections): encoding
 * a user value into a variable's bytes, and the `Variable` handle of a loaded object.
 */
import { ArgumentError, BpfError, ObjectError } from "../errors.js";
import type { Btf } from "../btf/btf.js";
import type { CollectionSpec, VariableSpec } from "../spec/types.js";
import { decodeUint } from "../map/bytes.js";
import { codecFor, type Codec } from "../codec/codec.js";

/**
 * A value for a global variable: an integer, a boolean, a string for char arrays, or raw bytes;
 * with BTF also a struct or union as an object, an array, an enum by name (see codecFor).
 */
export type VariableValue = number | bigint | boolean | string | Uint8Array | readonly unknown[] | { readonly [field: string]: unknown };

/** The codec of a variable's type, when there is BTF for it and its size matches. */
export function variableCodec(v: VariableSpec, btf: Btf | undefined): Codec | undefined {
  if (!btf || !v.typeId) return undefined;
  const c = codecFor(btf, v.typeId);
  return c.size === v.size ? c : undefined;
}

/**
 * Encodes `value` into exactly `v.size` bytes. With `btf` (the object's, holding `v.typeId`) the
 * variable's type decides the encoding (structs as objects, enums by name, strings for char
 * arrays, range checks naming the field: ArgumentError `set variable cfg: cfg.port: ...`);
 * without it integers are little-endian and strings NUL-padded. Raw bytes are always accepted.
 */
export function encodeVariable(v: VariableSpec, value: VariableValue, btf?: Btf): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    const c = variableCodec(v, btf);
    if (c) return c.encode(value as never, undefined, 0, { what: `set variable ${v.name} (${v.map})`, root: v.name });
  }
  const out = new Uint8Array(v.size);
  const dv = new DataView(out.buffer);
  const what = `set variable ${v.name} (${v.size} bytes in ${v.map})`;
  if (typeof value === "boolean") value = value ? 1 : 0;
  if (typeof value === "number" || typeof value === "bigint") {
    if (typeof value === "number" && !Number.isInteger(value)) throw new ArgumentError(`${what}: ${value} is not an integer`);
    const big = BigInt(value);
    const bits = BigInt(v.size * 8);
    if (v.size > 8 || ![1, 2, 4, 8].includes(v.size)) throw new ArgumentError(`${what}: an integer cannot fill a ${v.size}-byte variable; pass a Uint8Array`);
    if (big >= 1n << bits || big < -(1n << (bits - 1n))) throw new ArgumentError(`${what}: ${value} does not fit in ${v.size} bytes`);
    const u = BigInt.asUintN(Number(bits), big);
    if (v.size === 8) dv.setBigUint64(0, u, true);
    else if (v.size === 4) dv.setUint32(0, Number(u), true);
    else if (v.size === 2) dv.setUint16(0, Number(u), true);
    else out[0] = Number(u);
    return out;
  }
  if (typeof value === "string") {
    const enc = new TextEncoder().encode(value);
    if (enc.length > v.size) throw new ArgumentError(`${what}: the string is ${enc.length} bytes, at most ${v.size} fit`);
    out.set(enc);
    return out;
  }
  if (value instanceof Uint8Array) {
    if (value.length !== v.size) throw new ArgumentError(`${what}: ${value.length} bytes given, the variable is ${v.size} bytes`);
    out.set(value);
    return out;
  }
  throw new ArgumentError(`${what}: unsupported value of type ${typeof value}${btf ? "" : " (structs and arrays need the object's BTF)"}`);
}

/**
 * Sets a global variable in a spec before load (a `const volatile` constant, or the initial value
 * of a .data/.bss variable), encoding typed values with the spec's BTF. The same as the
 * `constants` load option, for code that edits a spec between open and load.
 * Throws ArgumentError for an unknown name or a bad value.
 *
 * @example
 * ```ts
 * const spec = await openObject("prog.bpf.o");
 * setVariable(spec, "cfg", { tgid: 42, color: "GREEN", tag: "x" });
 * using obj = loadCollection(spec);
 * ```
 */
export function setVariable(spec: CollectionSpec, name: string, value: VariableValue): void {
  const v = spec.variables[name];
  if (!v) throw new ArgumentError(`set variable ${name}: the object has no global variable of that name (it has: ${Object.keys(spec.variables).join(", ") || "none"})`);
  const m = spec.maps[v.map];
  if (!m?.data) throw new ObjectError(`set variable ${name}: its section ${v.map} holds no data`);
  m.data.set(encodeVariable(v, value, spec.btf), v.offset);
}

/** A global variable of a loaded object, read and written through the data map's shared memory. */
export class Variable {
  readonly name: string;
  readonly map: string;
  readonly offset: number;
  readonly size: number;
  /** True for `.rodata` variables: fixed at load, read-only afterwards. */
  readonly constant: boolean;
  readonly #spec: VariableSpec;
  readonly #memory: () => Uint8Array;
  readonly #btf: Btf | undefined;
  #codec: Codec | undefined | null = null;

  /** `btf` (the object's) lets {@link value} decode and encode by the variable's type. */
  constructor(spec: VariableSpec, memory: () => Uint8Array, btf?: Btf) {
    this.#spec = spec;
    this.#btf = btf;
    this.name = spec.name;
    this.map = spec.map;
    this.offset = spec.offset;
    this.size = spec.size;
    this.constant = spec.constant;
    this.#memory = memory;
  }

  /** The variable's current bytes (a copy). */
  bytes(): Uint8Array {
    return this.#memory().slice(this.offset, this.offset + this.size);
  }

  /** The value as an unsigned integer (1, 2, 4 bytes as number; 8 bytes as bigint). */
  get(): number | bigint {
    return decodeUint(this.#memory().subarray(this.offset, this.offset + this.size));
  }

  /** The value as a NUL-terminated string (for char arrays). */
  getString(): string {
    const b = this.#memory().subarray(this.offset, this.offset + this.size);
    const end = b.indexOf(0);
    return new TextDecoder().decode(b.subarray(0, end < 0 ? b.length : end));
  }

  /** The {@link GlobalSection} of section `section` over `vars` (see {@link globalSection}). */
  static section(section: string, vars: readonly Variable[]): GlobalSection {
    return globalSection(section, vars);
  }

  /** The codec of the variable's type, undefined without BTF. */
  get codec(): Codec | undefined {
    if (this.#codec === null) this.#codec = variableCodec(this.#spec, this.#btf);
    return this.#codec;
  }

  /**
   * The current value decoded by the variable's BTF type (a number, bigint, string, object, ...;
   * see codecFor), or a copy of its bytes without BTF. Assigning writes it like {@link set}.
   */
  get value(): any {
    const c = this.codec;
    return c ? c.decode(this.#memory(), this.offset) : this.bytes();
  }

  set value(v: VariableValue) {
    this.set(v);
  }

  /**
   * Writes the variable (typed values need BTF, see encodeVariable); the program sees the new
   * value at once. Throws BpfError E_READ_ONLY for constants (.rodata) after load, ArgumentError
   * for a bad value (nothing is written then).
   */
  set(value: VariableValue): void {
    if (this.constant) {
      throw new BpfError("E_READ_ONLY", `set variable ${this.name}: it is in ${this.map}, which is frozen after load; set it before load with { constants: { ${this.name}: ... } }`);
    }
    this.#memory().set(encodeVariable(this.#spec, value, this.#btf), this.offset);
  }
}

/**
 * The variables of one data section as properties: reading one decodes its current value from
 * the map's shared memory, assigning encodes and writes it. Unknown names throw ArgumentError.
 */
export type GlobalSection = Record<string, any>;

// Names probed by the runtime and common tools (promises, JSON, inspection) that read as undefined.
const probed = new Set(["then", "toJSON", "constructor", "toString", "valueOf", "toLocaleString", "hasOwnProperty",
  "isPrototypeOf", "propertyIsEnumerable", "__proto__", "inspect", "asymmetricMatch", "$$typeof", "nodeType", "@@__IMMUTABLE_ITERABLE__@@"]);

/** Builds the {@link GlobalSection} of section `section` over its variables. */
export function globalSection(section: string, vars: readonly Variable[]): GlobalSection {
  const names = () => vars.map((v) => v.name).join(", ") || "none";
  const guard = new Proxy(Object.create(null) as object, {
    get(_t, key) {
      if (typeof key === "symbol" || probed.has(key)) return undefined;
      throw new ArgumentError(`read variable ${key}: section ${section} has no variable of that name (it has: ${names()})`);
    },
    set(_t, key) {
      throw new ArgumentError(`set variable ${String(key)}: section ${section} has no variable of that name (it has: ${names()})`);
    },
  });
  const obj = Object.create(guard) as GlobalSection;
  for (const v of vars) {
    Object.defineProperty(obj, v.name, {
      enumerable: true,
      get: () => v.value,
      set: (x: VariableValue) => v.set(x),
    });
  }
  return obj;
}
