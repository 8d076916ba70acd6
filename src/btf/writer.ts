/**
 * Writing BTF: a builder that encodes the type model into a fresh blob, and raw-preserving edits
 * (datasec fixup, sanitizing for older kernels) that keep every type id and string offset of the
 * input, so .BTF.ext data that points into it stays valid.
 */
import { BtfError } from "../errors.js";
import {
  Btf, BTF_HEADER_LEN, BTF_MAGIC, K_CONST, K_DATASEC, K_DECL_TAG, K_ENUM, K_ENUM64, K_FLOAT, K_FUNC, K_FUNC_PROTO,
  K_INT, K_STRUCT, K_TYPEDEF, K_TYPE_TAG, K_UNION, K_VAR,
} from "./btf.js";
import { encodeString } from "./strings.js";
import { BTF_LINKAGE_NAMES, btfKindNumber, type BtfTypeInit } from "./types.js";

const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Options for encoding BTF. */
export interface BtfWriteOptions {
  /** Byte order of the output; defaults to the host's. */
  readonly littleEndian?: boolean;
}

function u32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new BtfError(`write BTF: ${what} ${v} does not fit in 32 bits`);
  return v;
}

function info(kind: number, vlen: number, kflag: boolean, what: string): number {
  if (!Number.isInteger(vlen) || vlen < 0 || vlen > 0xffff) throw new BtfError(`write BTF: ${what} has ${vlen} entries, more than BTF allows (65535)`);
  return ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;
}

/** Assembles a BTF blob from type-section words (host numbers) and string bytes. */
function assemble(words: ArrayLike<number>, strings: Uint8Array, le: boolean): Uint8Array {
  const typeLen = words.length * 4;
  const out = new Uint8Array(BTF_HEADER_LEN + typeLen + strings.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, BTF_MAGIC, le);
  out[2] = 1; // version
  out[3] = 0; // flags
  dv.setUint32(4, BTF_HEADER_LEN, le);
  dv.setUint32(8, 0, le);
  dv.setUint32(12, typeLen, le);
  dv.setUint32(16, typeLen, le);
  dv.setUint32(20, strings.length, le);
  for (let i = 0; i < words.length; i++) dv.setUint32(BTF_HEADER_LEN + 4 * i, words[i]!, le);
  out.set(strings, BTF_HEADER_LEN + typeLen);
  return out;
}

/** A growable, de-duplicating string table. `base` is the size of the base's strings (split BTF). */
class StringTable {
  readonly #index = new Map<string, number>();
  readonly #chunks: Uint8Array[] = [];
  #length = 0;
  constructor(readonly base: number, initial?: Uint8Array) {
    if (initial && initial.length) { this.#chunks.push(initial); this.#length = initial.length; } else this.add("", true);
  }
  /** Offset of `s`, appending it when new. */
  add(s: string, force = false): number {
    if (s === "" && !force) return 0;
    let off = this.#index.get(s);
    if (off !== undefined) return off;
    if (s.includes("\0")) throw new BtfError(`write BTF: string ${JSON.stringify(s)} contains a NUL byte`);
    const b = encodeString(s);
    off = this.base + this.#length;
    const chunk = new Uint8Array(b.length + 1);
    chunk.set(b);
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    this.#index.set(s, off);
    return off;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let p = 0;
    for (const c of this.#chunks) { out.set(c, p); p += c.length; }
    return out;
  }
}

/**
 * Builds BTF from type objects. Ids are assigned in order of {@link add}, starting at 1 (or at the
 * base's `count` for split BTF); references between types are written as given.
 */
export class BtfBuilder {
  /** The base BTF for split BTF, if any. */
  readonly base: Btf | undefined;
  readonly #strings: StringTable;
  readonly #words: number[] = [];
  #next: number;

  /** Starts an empty blob, split on top of `opts.base` when given. */
  constructor(opts: { base?: Btf } = {}) {
    this.base = opts.base;
    this.#strings = new StringTable(opts.base ? opts.base.stringsLength : 0);
    this.#next = opts.base ? opts.base.count : 1;
  }

  /** The id the next added type will get. */
  get nextId(): number { return this.#next; }

  /** Adds a string to the string table and returns its offset (de-duplicated; "" is offset 0). */
  addString(s: string): number { return this.#strings.add(s); }

  /** Encodes a type and returns its id. Throws BtfError when a field does not fit the format. */
  add(t: BtfTypeInit): number {
    const w = this.#words;
    const what = `type ${this.#next} (${t.kind} ${t.name})`;
    const name = this.#strings.add(t.name ?? "");
    const kind = btfKindNumber(t.kind);
    if (kind <= 0) throw new BtfError(`write BTF: ${what} has unknown kind ${String(t.kind)}`);
    switch (t.kind) {
      case "int": {
        const enc = (t.signed ? 1 : 0) | (t.char ? 2 : 0) | (t.bool ? 4 : 0);
        if (t.bits > 128 || t.offset > 255 || t.bits < 0 || t.offset < 0) throw new BtfError(`write BTF: ${what} has bad bits/offset`);
        w.push(name, info(kind, 0, false, what), u32(t.size, "size"), ((enc << 24) | (t.offset << 16) | t.bits) >>> 0);
        break;
      }
      case "ptr": case "typedef": case "const": case "volatile": case "restrict":
        w.push(name, info(kind, 0, false, what), u32(t.typeId, "type id"));
        break;
      case "type_tag":
        w.push(name, info(kind, 0, t.attribute, what), u32(t.typeId, "type id"));
        break;
      case "array":
        w.push(name, info(kind, 0, false, what), 0, u32(t.elemTypeId, "type id"), u32(t.indexTypeId, "type id"), u32(t.nelems, "nelems"));
        break;
      case "struct": case "union": {
        const kflag = t.members.some((m) => m.bitfieldSize !== 0);
        w.push(name, info(kind, t.members.length, kflag, what), u32(t.size, "size"));
        for (const m of t.members) {
          let off = u32(m.bitOffset, "member bit offset");
          if (kflag) {
            if (off > 0xffffff || m.bitfieldSize < 0 || m.bitfieldSize > 255) {
              throw new BtfError(`write BTF: ${what}: member ${m.name} bitfield (offset ${off}, size ${m.bitfieldSize}) does not fit the encoding`);
            }
            off = ((m.bitfieldSize << 24) | off) >>> 0;
          }
          w.push(this.#strings.add(m.name), u32(m.typeId, "type id"), off);
        }
        break;
      }
      case "enum": case "enum64": {
        w.push(name, info(kind, t.values.length, t.signed, what), u32(t.size, "size"));
        for (const v of t.values) {
          const raw = BigInt.asUintN(64, v.value);
          const fits = t.kind === "enum64" || (t.signed ? v.value >= -(2n ** 31n) && v.value < 2n ** 31n : v.value >= 0n && v.value < 2n ** 32n);
          if (!fits) throw new BtfError(`write BTF: ${what}: enumerator ${v.name} = ${v.value} does not fit in 32 bits`);
          w.push(this.#strings.add(v.name), Number(raw & 0xffffffffn));
          if (t.kind === "enum64") w.push(Number(raw >> 32n));
        }
        break;
      }
      case "fwd":
        w.push(name, info(kind, 0, t.union, what), 0);
        break;
      case "func":
        w.push(name, info(kind, BTF_LINKAGE_NAMES.indexOf(t.linkage), false, what), u32(t.typeId, "type id"));
        break;
      case "func_proto":
        w.push(name, info(kind, t.params.length, false, what), u32(t.returnTypeId, "type id"));
        for (const p of t.params) w.push(this.#strings.add(p.name), u32(p.typeId, "type id"));
        break;
      case "var": {
        const l = BTF_LINKAGE_NAMES.indexOf(t.linkage);
        if (l < 0) throw new BtfError(`write BTF: ${what} has unknown linkage ${String(t.linkage)}`);
        w.push(name, info(kind, 0, false, what), u32(t.typeId, "type id"), l);
        break;
      }
      case "datasec":
        w.push(name, info(kind, t.vars.length, false, what), u32(t.size, "size"));
        for (const v of t.vars) w.push(u32(v.typeId, "type id"), u32(v.offset, "offset"), u32(v.size, "size"));
        break;
      case "float":
        w.push(name, info(kind, 0, false, what), u32(t.size, "size"));
        break;
      case "decl_tag":
        if (!Number.isInteger(t.componentIdx) || t.componentIdx < -1) throw new BtfError(`write BTF: ${what} has bad component index ${t.componentIdx}`);
        w.push(name, info(kind, 0, t.attribute, what), u32(t.typeId, "type id"), t.componentIdx >>> 0);
        break;
    }
    return this.#next++;
  }

  /** Serializes header, types and strings. */
  toBytes(opts: BtfWriteOptions = {}): Uint8Array {
    return assemble(this.#words, this.#strings.bytes(), opts.littleEndian ?? HOST_LE);
  }
}

/**
 * Encodes a list of types into BTF bytes: the first type gets id 1 (or the base's `count`), and so on.
 * Throws BtfError when a field does not fit the format.
 */
export function writeBtf(types: Iterable<BtfTypeInit>, opts: BtfWriteOptions & { base?: Btf } = {}): Uint8Array {
  const b = new BtfBuilder({ base: opts.base });
  for (const t of types) b.add(t);
  return b.toBytes(opts);
}

/** Re-encodes parsed BTF (its own types, not the base's), e.g. to change its byte order. */
export function rewriteBtf(btf: Btf, opts: BtfWriteOptions = {}): Uint8Array {
  return writeBtf(btf.types() as Iterable<BtfTypeInit>, { base: btf.base, littleEndian: opts.littleEndian ?? btf.littleEndian });
}

// ---- raw-preserving edits ----

/** A mutable copy of a blob's type words (host numbers) and string bytes, re-assembled at the end. */
class RawEdit {
  readonly words: Uint32Array;
  readonly extraWords: number[] = [];
  readonly extraStrings: number[] = [];
  readonly strings: Uint8Array;
  constructor(readonly btf: Btf) {
    const { typeStart, typeEnd, strStart, strLen } = btf.layout;
    const dv = new DataView(btf.rawBytes.buffer, btf.rawBytes.byteOffset, btf.rawBytes.byteLength);
    const n = (typeEnd - typeStart) >>> 2;
    this.words = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.words[i] = dv.getUint32(typeStart + 4 * i, btf.littleEndian);
    this.strings = btf.rawBytes.subarray(strStart, strStart + strLen);
  }
  /** Word index of a local type's record. */
  at(id: number): number { return (this.btf.typeOffset(id) - this.btf.layout.typeStart) >>> 2; }
  addString(s: string): number {
    const off = this.btf.stringsLength + this.extraStrings.length;
    for (const b of encodeString(s)) this.extraStrings.push(b);
    this.extraStrings.push(0);
    return off;
  }
  addType(words: number[]): number {
    const id = this.btf.count + countTypes(this.extraWords);
    this.extraWords.push(...words);
    return id;
  }
  finish(le: boolean): Uint8Array {
    const words = this.extraWords.length ? [...this.words, ...this.extraWords] : this.words;
    let strings = this.strings;
    if (this.extraStrings.length) {
      strings = new Uint8Array(this.strings.length + this.extraStrings.length);
      strings.set(this.strings);
      strings.set(this.extraStrings, this.strings.length);
    }
    return assemble(words, strings, le);
  }
}

function countTypes(words: number[]): number {
  // Only fixed-size records (INT: 4 words) are appended by the edits below.
  return words.length / 4;
}

/**
 * Returns BTF bytes ready for BPF_BTF_LOAD: every DATASEC of `btf` gets its section's real size
 * (from `sectionSizes`, keyed by section name) and each variable its offset from
 * `symbolOffsets(section, variable)`; variables are sorted by offset. Sections or variables the
 * callbacks do not know keep their values. Type ids and string offsets are unchanged.
 * Throws BtfError if the BTF is malformed.
 */
export function fixupDatasecs(
  btf: Btf,
  sectionSizes: ReadonlyMap<string, number>,
  symbolOffsets: (section: string, variable: string) => number | undefined,
  opts: BtfWriteOptions = {},
): Uint8Array {
  const e = new RawEdit(btf);
  for (let id = btf.firstId; id < btf.count; id++) {
    if (btf.kindOf(id) !== "datasec") continue;
    const t = btf.type(id);
    if (t.kind !== "datasec") continue;
    const w = e.at(id);
    const size = sectionSizes.get(t.name);
    if (size !== undefined) e.words[w + 2] = u32(size, `size of section ${t.name}`);
    const vars = t.vars.map((v) => {
      const off = symbolOffsets(t.name, btf.name(v.typeId));
      return { typeId: v.typeId, offset: off === undefined ? v.offset : u32(off, `offset of ${btf.name(v.typeId)}`), size: v.size };
    });
    vars.sort((a, b) => a.offset - b.offset);
    vars.forEach((v, j) => {
      e.words[w + 3 + 3 * j] = v.typeId;
      e.words[w + 4 + 3 * j] = v.offset;
      e.words[w + 5 + 3 * j] = v.size;
    });
  }
  return e.finish(opts.littleEndian ?? btf.littleEndian);
}

/** Which BTF features the target kernel supports (see `features/`), for {@link sanitizeBtf}. */
export interface BtfFeatureSupport {
  /** BTF_KIND_DECL_TAG (Linux 5.16). */ readonly declTag: boolean;
  /** BTF_KIND_TYPE_TAG (Linux 5.17). */ readonly typeTag: boolean;
  /** BTF_KIND_FLOAT (Linux 5.13). */ readonly float: boolean;
  /** BTF_KIND_ENUM64 and signed enums (Linux 6.0). */ readonly enum64: boolean;
  /** Global FUNC linkage (Linux 5.6). */ readonly funcLinkage: boolean;
  /** BTF_KIND_FUNC and BTF_KIND_FUNC_PROTO at all (Linux 5.0). Default true. */ readonly func?: boolean;
  /** BTF_KIND_VAR and BTF_KIND_DATASEC (Linux 5.2). */ readonly datasec: boolean;
}

/**
 * Rewrites BTF for a kernel that lacks some kinds, replacing each with a compatible one of the same
 * size: DECL_TAG → INT, TYPE_TAG → CONST, FLOAT → empty STRUCT named `float_<name>` (e.g.
 * `float_long_double`: a valid identifier, which the kernel requires of struct names), ENUM64 →
 * UNION of placeholder ints (signed ENUMs lose the flag), global FUNC → static, VAR → INT and
 * DATASEC → STRUCT; without FUNC support at all, FUNC → TYPEDEF and FUNC_PROTO → 4-byte ENUM with
 * one enumerator per parameter (the records have the same size).
 * Type ids and existing string offsets are kept (a placeholder type and new strings are appended).
 * Pure: returns new bytes. Throws BtfError if the BTF is malformed.
 */
export function sanitizeBtf(btf: Btf, supported: BtfFeatureSupport, opts: BtfWriteOptions = {}): Uint8Array {
  const e = new RawEdit(btf);
  const wd = e.words;
  let placeholder = 0;
  const INT_BYTE = 8; // int encoding: no flags, offset 0, 8 bits
  for (let id = btf.firstId; id < btf.count; id++) {
    const w = e.at(id);
    const inf = wd[w + 1]!;
    const kind = (inf >>> 24) & 0x1f, vlen = inf & 0xffff;
    // A tag on a function (or one of its parameters) goes with FUNC: a TYPEDEF has no components.
    if (kind === K_DECL_TAG && (!supported.declTag || (supported.func === false && btf.kindOf(wd[w + 2]!) === "func"))) {
      wd[w] = 0; wd[w + 1] = info(K_INT, 0, false, ""); wd[w + 2] = 1; wd[w + 3] = INT_BYTE;
    } else if (!supported.typeTag && kind === K_TYPE_TAG) {
      wd[w] = 0; wd[w + 1] = info(K_CONST, 0, false, "");
    } else if (!supported.float && kind === K_FLOAT) {
      wd[w] = e.addString(`float_${btf.name(id).replace(/[^A-Za-z0-9_]/g, "_")}`);
      wd[w + 1] = info(K_STRUCT, 0, false, "");
    } else if (supported.func === false && kind === K_FUNC_PROTO) {
      wd[w + 1] = info(K_ENUM, vlen, false, ""); wd[w + 2] = 4;
    } else if (supported.func === false && kind === K_FUNC) {
      wd[w + 1] = info(K_TYPEDEF, 0, false, "");
    } else if (!supported.enum64 && kind === K_ENUM) {
      wd[w + 1] = info(K_ENUM, vlen, false, "");
    } else if (!supported.enum64 && kind === K_ENUM64) {
      if (placeholder === 0) {
        placeholder = e.addType([e.addString("enum64_placeholder"), info(K_INT, 0, false, ""), 1, INT_BYTE]);
      }
      wd[w + 1] = info(K_UNION, vlen, false, "");
      for (let j = 0; j < vlen; j++) { wd[w + 4 + 3 * j] = placeholder; wd[w + 5 + 3 * j] = 0; }
    } else if (!supported.funcLinkage && kind === K_FUNC) {
      wd[w + 1] = info(K_FUNC, 0, false, "");
    } else if (!supported.datasec && kind === K_VAR) {
      wd[w + 1] = info(K_INT, 0, false, ""); wd[w + 2] = 1; wd[w + 3] = INT_BYTE;
    } else if (!supported.datasec && kind === K_DATASEC) {
      const t = btf.type(id);
      if (t.kind !== "datasec") continue;
      const clean = t.name.replace(/[^A-Za-z0-9_]/g, "_");
      wd[w] = clean === t.name ? wd[w]! : e.addString(clean);
      wd[w + 1] = info(K_STRUCT, vlen, false, "");
      t.vars.forEach((v, j) => {
        // The member's name is the variable's; its type is the variable (now a 1-byte INT).
        const varName = btf.kindOf(v.typeId) === "var" && v.typeId >= btf.firstId ? wd[e.at(v.typeId)]! : 0;
        wd[w + 3 + 3 * j] = varName;
        wd[w + 4 + 3 * j] = v.typeId;
        wd[w + 5 + 3 * j] = u32(v.offset * 8, "member bit offset");
      });
    }
  }
  return e.finish(opts.littleEndian ?? btf.littleEndian);
}

/**
 * Converts raw BTF bytes to the given byte order without re-encoding (ids and string offsets are
 * kept; the header is normalized to 24 bytes). Throws BtfError if the input is malformed.
 */
export function convertBtfByteOrder(bytes: Uint8Array, littleEndian: boolean, opts: { base?: Btf } = {}): Uint8Array {
  return new RawEdit(Btf.parse(bytes, opts)).finish(littleEndian);
}

/**
 * Returns BTF bytes the kernel accepts for an object with extern variables and kfuncs (libbpf
 * does the same at open): in the `.kconfig` DATASEC every VAR becomes an allocated global at the
 * offset `kconfigOffsets` gives it (its place in the `.kconfig` map); in `.ksyms` every VAR becomes
 * an allocated 4-byte int, every FUNC a global function represented in the DATASEC by a dummy
 * `dummy_ksym` VAR (unnamed parameters of its prototype are named after it), each entry 4 bytes
 * apart. Type ids and existing string offsets are kept (an int and the dummy VAR may be appended).
 * Pure: returns new bytes; `btf` is unchanged. Throws BtfError if the BTF is malformed.
 */
export function sanitizeExternBtf(btf: Btf, kconfigOffsets: ReadonlyMap<string, number>, opts: BtfWriteOptions = {}): Uint8Array {
  const e = new RawEdit(btf);
  const wd = e.words;
  const LINKAGE_ALLOCATED = 1, FUNC_GLOBAL = 1;
  let int32 = 0;
  const intId = () => {
    if (int32) return int32;
    for (let id = btf.firstId; id < btf.count && !int32; id++) {
      const t = btf.kindOf(id) === "int" ? btf.type(id) : undefined;
      if (t?.kind === "int" && t.size === 4 && t.bits === 32 && t.offset === 0 && !t.bool && !t.char) int32 = id;
    }
    if (!int32) int32 = e.addType([e.addString("int"), info(K_INT, 0, false, ""), 4, 0x01000020 /* signed, 32 bits */]);
    return int32;
  };
  let dummy = 0, dummyName = 0;
  for (let id = btf.firstId; id < btf.count; id++) {
    if (btf.kindOf(id) !== "datasec") continue;
    const t = btf.type(id);
    if (t.kind !== "datasec" || (t.name !== ".ksyms" && t.name !== ".kconfig")) continue;
    const w = e.at(id);
    if (t.name === ".kconfig") {
      let end = 0;
      t.vars.forEach((v, j) => {
        if (btf.kindOf(v.typeId) !== "var" || v.typeId < btf.firstId) return;
        const off = kconfigOffsets.get(btf.name(v.typeId));
        if (off === undefined) return;
        wd[e.at(v.typeId) + 3] = LINKAGE_ALLOCATED;
        wd[w + 4 + 3 * j] = u32(off, `offset of ${btf.name(v.typeId)}`);
        end = Math.max(end, off + v.size);
      });
      wd[w + 2] = u32(Math.max(end, wd[w + 2]!), "size of .kconfig");
      continue;
    }
    t.vars.forEach((v, j) => {
      if (v.typeId < btf.firstId) return;
      const kind = btf.kindOf(v.typeId);
      const vw = e.at(v.typeId);
      if (kind === "var") {
        wd[vw + 2] = intId();
        wd[vw + 3] = LINKAGE_ALLOCATED;
      } else if (kind === "func") {
        if (!dummy) {
          dummyName = e.addString("dummy_ksym");
          dummy = e.addType([dummyName, info(K_VAR, 0, false, ""), intId(), LINKAGE_ALLOCATED]);
        }
        const fn = btf.type(v.typeId);
        if (fn.kind === "func" && fn.typeId >= btf.firstId && btf.kindOf(fn.typeId) === "func_proto") {
          const proto = btf.type(fn.typeId);
          const pw = e.at(fn.typeId);
          if (proto.kind === "func_proto") proto.params.forEach((p, k) => { if (p.typeId && !wd[pw + 3 + 2 * k]) wd[pw + 3 + 2 * k] = dummyName; });
        }
        wd[vw + 1] = info(K_FUNC, FUNC_GLOBAL, false, "");
        wd[w + 3 + 3 * j] = dummy;
      } else {
        return;
      }
      wd[w + 4 + 3 * j] = 4 * j;
      wd[w + 5 + 3 * j] = 4;
    });
    wd[w + 2] = 4 * t.vars.length;
  }
  return e.finish(opts.littleEndian ?? btf.littleEndian);
}
