/**
 * Turning user keys and values (numbers, bigints, byte arrays) into the exact bytes a map wants,
 * and checking their sizes with a message that says which map and what size it expects.
 */
import { ArgumentError } from "../errors.js";

/**
 * A key or value: bytes (a Uint8Array, any other typed array or DataView, or an ArrayBuffer) of
 * exactly the map's size, or a number/bigint written little-endian into 1, 2, 4 or 8 bytes.
 * Integers take the signed or the unsigned range of their size (-1 is all ones).
 */
export type Raw = Uint8Array | ArrayBufferView | ArrayBuffer | number | bigint;

/**
 * Writes `v` into `out` (whose length is the exact size wanted). Returns `out` or a view of `v`.
 * `what` names the operand in error messages (a string, or a function building it only on error).
 * Throws ArgumentError for bytes of another size, integers that do not fit, and numbers that are
 * not exact (fractions, or beyond 2^53: pass a bigint).
 */
export function encodeInto(v: Raw, out: Uint8Array, what: string | (() => string)): Uint8Array {
  const size = out.length;
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new ArgumentError(`${describe(what)}: ${v} is not an integer`);
    if (size !== 1 && size !== 2 && size !== 4 && size !== 8) {
      throw new ArgumentError(`${describe(what)}: a number can only stand for a 1, 2, 4 or 8 byte value, but the size is ${size} bytes; pass a Uint8Array of ${size} bytes`);
    }
    if (!Number.isSafeInteger(v)) throw new ArgumentError(`${describe(what)}: ${v} is beyond 2^53, where numbers are not exact; pass a bigint`);
    if (size === 8) return writeInt(BigInt(v), out, what);
    const bits = size * 8;
    if (v < -(2 ** (bits - 1)) || v > 2 ** bits - 1) throw new ArgumentError(`${describe(what)}: ${v} does not fit in ${size} byte${size === 1 ? "" : "s"}`);
    const dv = new DataView(out.buffer, out.byteOffset, size);
    if (size === 1) dv.setUint8(0, v & 0xff);
    else if (size === 2) dv.setUint16(0, v & 0xffff, true);
    else dv.setUint32(0, v >>> 0, true);
    return out;
  }
  if (typeof v === "bigint") {
    if (size !== 1 && size !== 2 && size !== 4 && size !== 8) {
      throw new ArgumentError(`${describe(what)}: a bigint can only stand for a 1, 2, 4 or 8 byte value, but the size is ${size} bytes; pass a Uint8Array of ${size} bytes`);
    }
    return writeInt(v, out, what);
  }
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
    const bytes = v instanceof Uint8Array ? v : v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (bytes.length !== size) {
      throw new ArgumentError(`${describe(what)}: it is ${bytes.length} bytes, the map wants ${size} bytes`);
    }
    return bytes;
  }
  throw new ArgumentError(`${describe(what)}: expected a Uint8Array, ArrayBuffer, number or bigint, got ${v === null ? "null" : typeof v}`);
}

/** Writes an integer into all of `out` (1, 2, 4 or 8 bytes), little-endian, after a range check. */
function writeInt(v: bigint, out: Uint8Array, what: string | (() => string)): Uint8Array {
  const bits = BigInt(out.length * 8);
  if (v < -(1n << (bits - 1n)) || v >= 1n << bits) {
    throw new ArgumentError(`${describe(what)}: ${v} does not fit in ${out.length} byte${out.length === 1 ? "" : "s"}`);
  }
  const dv = new DataView(out.buffer, out.byteOffset, out.length);
  if (out.length === 8) dv.setBigUint64(0, BigInt.asUintN(64, v), true);
  else if (out.length === 4) dv.setUint32(0, Number(BigInt.asUintN(32, v)), true);
  else if (out.length === 2) dv.setUint16(0, Number(BigInt.asUintN(16, v)), true);
  else dv.setUint8(0, Number(BigInt.asUintN(8, v)));
  return out;
}

/** Reads a little-endian unsigned integer of 1, 2, 4 or 8 bytes (8 as bigint). */
export function decodeUint(b: Uint8Array): number | bigint {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (b.length) {
    case 1: return b[0]!;
    case 2: return v.getUint16(0, true);
    case 4: return v.getUint32(0, true);
    case 8: return v.getBigUint64(0, true);
    default: throw new ArgumentError(`decode an integer: ${b.length} bytes is not an integer size`);
  }
}

function describe(what: string | (() => string)): string {
  return typeof what === "string" ? what : what();
}
