/**
 * Turning user keys and values (numbers, bigints, byte arrays) into the exact bytes a map wants,
 * and checking their sizes with a message that says which map and what size it expects.
 */
import { ArgumentError } from "../errors.js";

/** A key or value as raw bytes, or a number/bigint encoded little-endian into the map's size. */
export type Raw = Uint8Array | ArrayBufferView | number | bigint;

/**
 * Writes `v` into `out` (whose length is the exact size wanted). Returns `out` or a view of `v`.
 * `what` names the operand in error messages (a string, or a function building it only on error).
 */
export function encodeInto(v: Raw, out: Uint8Array, what: string | (() => string)): Uint8Array {
  const size = out.length;
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new ArgumentError(`${describe(what)}: ${v} is not an integer`);
    switch (size) {
      case 1: out[0] = v; return out;
      case 2: new DataView(out.buffer, out.byteOffset, 2).setUint16(0, v, true); return out;
      case 4:
        if (v < -0x80000000 || v > 0xffffffff) throw new ArgumentError(`${describe(what)}: ${v} does not fit in 4 bytes`);
        new DataView(out.buffer, out.byteOffset, 4).setUint32(0, v >>> 0, true);
        return out;
      case 8: new DataView(out.buffer, out.byteOffset, 8).setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true); return out;
      default:
        throw new ArgumentError(`${describe(what)}: a number can only stand for a 1, 2, 4 or 8 byte value, but the size is ${size} bytes; pass a Uint8Array of ${size} bytes`);
    }
  }
  if (typeof v === "bigint") {
    if (size === 8) { new DataView(out.buffer, out.byteOffset, 8).setBigUint64(0, BigInt.asUintN(64, v), true); return out; }
    if (size === 4) { new DataView(out.buffer, out.byteOffset, 4).setUint32(0, Number(BigInt.asUintN(32, v)), true); return out; }
    throw new ArgumentError(`${describe(what)}: a bigint can only stand for a 4 or 8 byte value, but the size is ${size} bytes`);
  }
  if (ArrayBuffer.isView(v)) {
    const bytes = v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (bytes.length !== size) {
      throw new ArgumentError(`${describe(what)}: it is ${bytes.length} bytes, the map wants ${size} bytes`);
    }
    return bytes;
  }
  throw new ArgumentError(`${describe(what)}: expected a Uint8Array, number or bigint, got ${v === null ? "null" : typeof v}`);
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
