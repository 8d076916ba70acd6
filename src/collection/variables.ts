/**
 * Global variables (`.rodata`, `.data`, `.bss`, custom `.data.*`/`.rodata.*` sections): encoding
 * a user value into a variable's bytes, and the `Variable` handle of a loaded object.
 */
import { ArgumentError, BpfError } from "../errors.js";
import type { VariableSpec } from "../spec/types.js";
import { decodeUint } from "../map/bytes.js";

/** A value for a global variable: an integer, a boolean, a string for char arrays, or raw bytes. */
export type VariableValue = number | bigint | boolean | string | Uint8Array;

/** Encodes `value` into exactly `v.size` bytes (little-endian integers, NUL-padded strings). */
export function encodeVariable(v: VariableSpec, value: VariableValue): Uint8Array {
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
  throw new ArgumentError(`${what}: unsupported value of type ${typeof value}`);
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

  constructor(spec: VariableSpec, memory: () => Uint8Array) {
    this.#spec = spec;
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

  /** Writes the variable; the program sees the new value at once. Constants cannot be written after load. */
  set(value: VariableValue): void {
    if (this.constant) {
      throw new BpfError("E_READ_ONLY", `set variable ${this.name}: it is in ${this.map}, which is frozen after load; set it before load with { constants: { ${this.name}: ... } }`);
    }
    this.#memory().set(encodeVariable(this.#spec, value), this.offset);
  }
}
