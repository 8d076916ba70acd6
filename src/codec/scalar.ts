/**
 * Scalars: how an int, bool, enum, pointer or float maps to a JavaScript value, read and written
 * whole or as a bitfield. A value's bits travel as an unsigned "pattern": a number when the width
 * is at most 32 bits, a bigint above.
 */
import type { Btf } from "../btf/btf.js";
import type { BtfEnum, BtfInt, BtfType } from "../btf/types.js";
import { BtfError } from "../errors.js";
import { EncodeError, show } from "./errors.js";

/** A scalar type, resolved through typedefs and modifiers. */
export interface Scalar {
  readonly cls: "int" | "bool" | "enum" | "float" | "ptr";
  /** Storage size in bytes. */
  readonly size: number;
  readonly signed: boolean;
  /** Values are bigints (64- and 128-bit ints, pointers, enum64). */
  readonly big: boolean;
  /** The C name for messages, e.g. `__u32`, `enum state`. */
  readonly cName: string;
  /** For enums. */
  readonly enumType?: BtfEnum;
  /** For ints: the int encoding's own bit offset and width (not a whole-storage int when they differ from 0/size*8). */
  readonly intBits?: number;
  readonly intOffset?: number;
}

/** Whether a resolved int is a C `char` (so that `char[N]` is a string). */
export function isCharInt(t: BtfType): boolean {
  return t.kind === "int" && t.size === 1 && !t.bool && (t.char || t.name === "char");
}

/** The scalar a type resolves to, or undefined for non-scalar types. */
export function scalarOf(btf: Btf, id: number): Scalar | undefined {
  const r = btf.resolve(id);
  const t = btf.type(r);
  const cName = btf.typeName(id).replace(/^(const |volatile )+/, "");
  switch (t.kind) {
    case "int": return intScalar(t, cName);
    case "enum": case "enum64":
      if (![1, 2, 4, 8].includes(t.size)) throw new BtfError(`build codec for ${btf.typeName(r)}: enum size ${t.size} is not 1, 2, 4 or 8`);
      return { cls: "enum", size: t.size, signed: t.signed, big: t.kind === "enum64", cName, enumType: t };
    case "ptr": return { cls: "ptr", size: 8, signed: false, big: true, cName };
    case "float": return { cls: "float", size: t.size, signed: true, big: false, cName };
    default: return undefined;
  }
}

function intScalar(t: BtfInt, cName: string): Scalar {
  if (![1, 2, 4, 8, 16].includes(t.size)) throw new BtfError(`build codec for ${cName}: int size ${t.size} is not 1, 2, 4, 8 or 16`);
  if (t.bits === 0 || t.offset + t.bits > t.size * 8) throw new BtfError(`build codec for ${cName}: int encoding of ${t.bits} bits at bit ${t.offset} does not fit in ${t.size} bytes`);
  if (t.bool) return { cls: "bool", size: t.size, signed: false, big: false, cName, intBits: t.bits, intOffset: t.offset };
  return { cls: "int", size: t.size, signed: t.signed, big: t.size > 4, cName, intBits: t.bits, intOffset: t.offset };
}

/** Turns the unsigned pattern of `width` bits into the scalar's JavaScript value. */
export function finisher(s: Scalar, width: number): (r: number | bigint) => unknown {
  switch (s.cls) {
    case "bool":
      return (r) => r !== 0 && r !== 0n;
    case "ptr":
      return (r) => BigInt(r);
    case "int":
      if (!s.big) {
        if (!s.signed) return (r) => r;
        const half = 2 ** (width - 1), full = 2 ** width;
        return (r) => ((r as number) >= half ? (r as number) - full : r);
      }
      if (!s.signed) return (r) => BigInt(r);
      return (r) => BigInt.asIntN(width, BigInt(r));
    case "enum": {
      const names = enumNames(s.enumType!, width);
      const numeric = (r: number | bigint): number | bigint => {
        const b = s.signed ? BigInt.asIntN(width, BigInt(r)) : BigInt(r);
        return s.big ? b : Number(b);
      };
      return (r) => names.get(r) ?? numeric(r);
    }
    case "float":
      throw new BtfError(`build codec for ${s.cName}: a float cannot be a bitfield`);
  }
}

/** Enumerator names keyed by their unsigned pattern of `width` bits (first name wins). */
function enumNames(t: BtfEnum, width: number): Map<number | bigint, string> {
  const m = new Map<number | bigint, string>();
  for (const v of t.values) {
    const p = BigInt.asUintN(width, v.value);
    const key = width <= 32 ? Number(p) : p;
    if (!m.has(key)) m.set(key, v.name);
  }
  return m;
}

/** Turns a JavaScript value into the unsigned pattern of `width` bits, or throws EncodeError. */
export function rawer(s: Scalar, width: number): (v: unknown) => number | bigint {
  const small = width <= 32;
  switch (s.cls) {
    case "bool":
      return (v) => {
        if (v === true || v === 1 || v === 1n) return small ? 1 : 1n;
        if (v === false || v === 0 || v === 0n) return small ? 0 : 0n;
        throw new EncodeError(`expected a boolean for ${s.cName}, got ${show(v)}`);
      };
    case "ptr":
      return (v) => {
        const b = toBigInt(v, s.cName);
        if (b < 0n || b >= 1n << 64n) throw new EncodeError(`${show(v)} is out of range for a pointer (0..2^64-1)`);
        return b;
      };
    case "int": {
      const lo = s.signed ? -(2 ** (width - 1)) : 0, hi = s.signed ? 2 ** (width - 1) - 1 : 2 ** width - 1;
      const range = () => (width > 32 ? `${s.signed ? `-2^${width - 1}` : "0"}..${s.signed ? `2^${width - 1}-1` : `2^${width}-1`}` : `${lo}..${hi}`);
      const what = width < s.size * 8 ? `a ${width}-bit ${s.signed ? "signed" : "unsigned"} bitfield` : s.cName;
      if (small) {
        return (v) => {
          let n: number;
          if (typeof v === "number") n = v;
          else if (typeof v === "bigint") n = Number(v);
          else if (typeof v === "boolean") n = v ? 1 : 0;
          else throw new EncodeError(`expected an integer for ${what}, got ${show(v)}`);
          if (!Number.isInteger(n)) throw new EncodeError(`${show(v)} is not an integer (${what})`);
          if (n < lo || n > hi) throw new EncodeError(`${show(v)} is out of range for ${what} (${range()})`);
          return n < 0 ? n + 2 ** width : n;
        };
      }
      const blo = BigInt(s.signed ? -1n << BigInt(width - 1) : 0n), bhi = s.signed ? (1n << BigInt(width - 1)) - 1n : (1n << BigInt(width)) - 1n;
      return (v) => {
        const b = toBigInt(v, what);
        if (b < blo || b > bhi) throw new EncodeError(`${show(v)} is out of range for ${what} (${range()})`);
        return BigInt.asUintN(width, b);
      };
    }
    case "enum": {
      const t = s.enumType!;
      const byName = new Map<string, bigint>();
      for (const e of t.values) if (!byName.has(e.name)) byName.set(e.name, e.value);
      const what = `enum ${t.name || "(anonymous)"}`;
      // Any bit pattern of the width is accepted as a number (C allows values without a name).
      const blo = -(1n << BigInt(width - 1)), bhi = (1n << BigInt(width)) - 1n;
      return (v) => {
        let b: bigint;
        if (typeof v === "string") {
          const x = byName.get(v);
          if (x === undefined) {
            const names = [...byName.keys()];
            throw new EncodeError(`${show(v)} is not a value of ${what} (it has: ${names.slice(0, 20).join(", ")}${names.length > 20 ? ", ..." : ""})`);
          }
          b = x;
        } else {
          b = toBigInt(v, what);
        }
        if (b < blo || b > bhi) throw new EncodeError(`${show(v)} is out of range for ${what} (${width} bits)`);
        const p = BigInt.asUintN(width, b);
        return small ? Number(p) : p;
      };
    }
    case "float":
      return (v) => {
        if (typeof v !== "number") throw new EncodeError(`expected a number for ${s.cName}, got ${show(v)}`);
        return v;
      };
  }
}

function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new EncodeError(`${show(v)} is not a safe integer (${what}); pass a bigint`);
    return BigInt(v);
  }
  if (typeof v === "boolean") return v ? 1n : 0n;
  throw new EncodeError(`expected an integer for ${what}, got ${show(v)}`);
}

/** Reads a bitfield's unsigned pattern and writes one back (read-modify-write of the covering bytes). */
export interface BitAccess {
  read(dv: DataView, o: number): unknown;
  write(dv: DataView, o: number, v: unknown): void;
}

/**
 * A bitfield of `width` bits at bit `bitOff` from the byte offset `o` it is given. Little-endian
 * data numbers bits from the least significant bit of the first byte; big-endian data from the
 * most significant bit (as compilers lay bitfields out, and as libbpf's btf_dump reads them).
 */
export function bitfield(s: Scalar, bitOff: number, width: number, le: boolean): BitAccess {
  if (width <= 0 || width > s.size * 8) throw new BtfError(`build codec for ${s.cName}: a bitfield of ${width} bits does not fit its ${s.size}-byte type`);
  if (s.cls === "float" || s.cls === "ptr") throw new BtfError(`build codec for ${s.cName}: a ${s.cls} cannot be a bitfield`);
  const byte = Math.floor(bitOff / 8), shift = bitOff % 8;
  const nbytes = Math.ceil((shift + width) / 8);
  const low = le ? shift : nbytes * 8 - shift - width; // bits below the field in the covering integer
  const fin = finisher(s, width), toRaw = rawer(s, width);
  let read: (dv: DataView, o: number) => unknown;
  if (shift + width <= 32) {
    const div = 2 ** low, mod = 2 ** width;
    if (nbytes === 1) {
      read = (dv, o) => fin(Math.floor(dv.getUint8(o + byte) / div) % mod);
    } else {
      read = (dv, o) => {
        const p = o + byte;
        let acc = 0;
        if (le) for (let i = nbytes - 1; i >= 0; i--) acc = acc * 256 + dv.getUint8(p + i);
        else for (let i = 0; i < nbytes; i++) acc = acc * 256 + dv.getUint8(p + i);
        return fin(Math.floor(acc / div) % mod);
      };
    }
  } else {
    // Up to 9 bytes: split the covering integer into a high part (up to 40 bits) and the low 32
    // bits as numbers, shift and mask there, and make one bigint at the end when the width needs it.
    const div = 2 ** low, up = 2 ** (32 - low);
    const hiMod = width > 32 ? 2 ** (width - 32) : 1, loMod = 2 ** Math.min(width, 32);
    const loBytes = Math.min(nbytes, 4), hiBytes = nbytes - loBytes;
    read = (dv, o) => {
      const p = o + byte;
      let hi = 0, lo = 0;
      if (le) {
        for (let i = nbytes - 1; i >= loBytes; i--) hi = hi * 256 + dv.getUint8(p + i);
        for (let i = loBytes - 1; i >= 0; i--) lo = lo * 256 + dv.getUint8(p + i);
      } else {
        for (let i = 0; i < hiBytes; i++) hi = hi * 256 + dv.getUint8(p + i);
        for (let i = hiBytes; i < nbytes; i++) lo = lo * 256 + dv.getUint8(p + i);
      }
      // (hi:lo) >> low
      const rlo = (hi % div) * up + Math.floor(lo / div);
      const rhi = Math.floor(hi / div);
      if (width <= 32) return fin(rlo % loMod);
      const h = rhi % hiMod;
      return fin(h < 2 ** 21 ? BigInt(h * 4294967296 + rlo) : (BigInt(h) << 32n) | BigInt(rlo));
    };
  }
  const bl = BigInt(low), mask = ((1n << BigInt(width)) - 1n) << bl;
  const write = (dv: DataView, o: number, v: unknown): void => {
    const pat = BigInt(toRaw(v));
    const p = o + byte;
    const acc = (readWide(dv, p, nbytes, le) & ~mask) | (pat << bl);
    for (let i = 0; i < nbytes; i++) {
      const sh = BigInt(8 * (le ? i : nbytes - 1 - i));
      dv.setUint8(p + i, Number((acc >> sh) & 0xffn));
    }
  };
  return { read, write };
}

function readWide(dv: DataView, p: number, n: number, le: boolean): bigint {
  let acc = 0n;
  if (le) for (let i = n - 1; i >= 0; i--) acc = (acc << 8n) | BigInt(dv.getUint8(p + i));
  else for (let i = 0; i < n; i++) acc = (acc << 8n) | BigInt(dv.getUint8(p + i));
  return acc;
}
