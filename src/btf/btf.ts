/**
 * The BTF parser. Parsing makes one pass over the type section, recording each type's byte offset
 * and kind; types are decoded into objects only when asked for, and cached. The name index is a
 * typed-array hash table over the raw name bytes, built on the first name lookup.
 */
import { BtfError } from "../errors.js";
import { cStringEquals, decodeString, encodeString, hashBytes, hashCString } from "./strings.js";
import {
  BTF_KIND_NAMES, BTF_LINKAGE_NAMES, btfKindNumber,
  type BtfKind, type BtfLinkage, type BtfMember, type BtfType,
} from "./types.js";

/** The BTF magic number (`BTF_MAGIC`), read in the data's byte order. */
export const BTF_MAGIC = 0xeb9f;
/** Size of `struct btf_header`. */
export const BTF_HEADER_LEN = 24;

/** Numeric `BTF_KIND_*` values (include/uapi/linux/btf.h), for code that reads raw type records. */
export const K_INT = 1, K_PTR = 2, K_ARRAY = 3, K_STRUCT = 4, K_UNION = 5, K_ENUM = 6, K_FWD = 7,
  K_TYPEDEF = 8, K_VOLATILE = 9, K_CONST = 10, K_RESTRICT = 11, K_FUNC = 12, K_FUNC_PROTO = 13,
  K_VAR = 14, K_DATASEC = 15, K_FLOAT = 16, K_DECL_TAG = 17, K_TYPE_TAG = 18, K_ENUM64 = 19;

const VOID: BtfType = Object.freeze({ id: 0, kind: "void", name: "" });
const MAX_DEPTH = 256;
// Words after the 12-byte btf_type: a fixed part and a part per vlen item, by kind (-1: unknown kind).
const FIXED_WORDS = new Int8Array(32).fill(-1);
const VLEN_WORDS = new Uint8Array(32);
// 3 (the btf_type words) + FIXED_WORDS, and 0 for an unknown kind.
const HEADER_PLUS_FIXED = new Uint8Array(32);
for (let k = 1; k <= K_ENUM64; k++) {
  const one = trailingBytes(k, 1), zero = trailingBytes(k, 0);
  FIXED_WORDS[k] = zero / 4;
  VLEN_WORDS[k] = (one - zero) / 4;
  HEADER_PLUS_FIXED[k] = 3 + zero / 4;
}
const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Bytes of data that follow the 12-byte `btf_type` for a kind, or -1 for an unknown kind. */
export function trailingBytes(kind: number, vlen: number): number {
  switch (kind) {
    case K_INT: case K_VAR: case K_DECL_TAG: return 4;
    case K_ARRAY: return 12;
    case K_STRUCT: case K_UNION: case K_DATASEC: case K_ENUM64: return vlen * 12;
    case K_ENUM: case K_FUNC_PROTO: return vlen * 8;
    case K_PTR: case K_FWD: case K_TYPEDEF: case K_VOLATILE: case K_CONST: case K_RESTRICT:
    case K_FUNC: case K_FLOAT: case K_TYPE_TAG: return 0;
    default: return -1;
  }
}

/**
 * Kinds whose names are hashed during the index pass, as a bit mask: the ones CO-RE candidate
 * lookup and most callers ask for (about 20,000 of vmlinux's 127,000 types). Functions, the bulk of
 * vmlinux, and the other kinds are hashed on the first lookup that needs them.
 */
const EAGER_KINDS = (1 << K_INT) | (1 << K_STRUCT) | (1 << K_UNION) | (1 << K_ENUM) | (1 << K_FWD)
  | (1 << K_TYPEDEF) | (1 << K_FLOAT) | (1 << K_ENUM64) | (1 << K_VAR) | (1 << K_DATASEC);

/**
 * The index pass: records the word offset and kind of each type, and for the named types of
 * {@link EAGER_KINDS} their index in `eager` and the FNV-1a hash of their name (| 1, so 0 means "not
 * computed": names outside this blob's strings, i.e. in a base's) in `hashes`. `counts[0]` receives
 * the number of eager entries; `separated` the indices of those whose names contain `___` (CO-RE
 * flavours, see {@link Btf.flavouredTypeIds}), `counts[1]` their number. Returns the number of types, or -1 - n when type n has an unknown
 * kind or its header runs past `end`. The caller checks that the last type's trailing data fits.
 * `str` is the string section, which the caller checked ends with a NUL. Kept small and
 * monomorphic: it runs over every vmlinux type, mostly before V8 has optimized it.
 */
function indexTypes(
  words: Uint32Array, end: number, offsets: Uint32Array, kinds: Uint8Array,
  str: Uint8Array, strBase: number, hashes: Uint32Array, eager: Int32Array, counts: Int32Array, separated: Int32Array,
): number {
  // Locals rather than module constants: the loop runs mostly in V8's baseline tiers, where every
  // bytecode counts.
  const step3 = HEADER_PLUS_FIXED, vlenWords = VLEN_WORDS, strLen = str.length, last = end - 3;
  let w = 0, n = 0, m = 0, s = 0;
  while (w <= last) {
    const info = words[w + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const step = step3[kind]!;
    if (step === 0) break;
    offsets[n] = w;
    kinds[n] = kind;
    if ((EAGER_KINDS >>> kind) & 1) {
      const nameOff = words[w]!;
      if (nameOff !== 0) {
        eager[m++] = n;
        let j = nameOff - strBase;
        if (j >= 0 && j < strLen) {
          // `sep` becomes 1 at a third underscore in a row. Every operation that needs V8 type
          // feedback runs often (underscores and "__" are common): code that has never run when
          // V8 optimizes the loop mid-way (OSR) has no feedback, and reaching it later
          // deoptimizes the whole loop. (`sep = 1` needs none.) Looking back past the start of
          // the name can only add false positives, which flavouredTypeIds' users filter out.
          let h = 0x811c9dc5, c = str[j]!, sep = 0;
          while (c !== 0) {
            h = Math.imul(h ^ c, 0x01000193);
            if (c === 95 && str[j - 1] === 95 && str[j - 2] === 95) sep = 1;
            c = str[++j]!;
          }
          hashes[n] = (h | 1) >>> 0;
          separated[s] = n;
          s += sep;
        }
      }
    }
    n++;
    w += step + (info & 0xffff) * vlenWords[kind]!;
  }
  counts[0] = m;
  counts[1] = s;
  return w < end ? -1 - n : n;
}

/** Indices of the named types whose kinds are not in EAGER_KINDS. */
function collectOthers(words: Uint32Array, offsets: Uint32Array, kinds: Uint8Array): Int32Array {
  const n = offsets.length;
  let m = 0;
  for (let i = 0; i < n; i++) if (!((EAGER_KINDS >>> kinds[i]!) & 1) && words[offsets[i]!]! !== 0) m++;
  const list = new Int32Array(m);
  m = 0;
  for (let i = 0; i < n; i++) if (!((EAGER_KINDS >>> kinds[i]!) & 1) && words[offsets[i]!]! !== 0) list[m++] = i;
  return list;
}

/** Hashes the names of the listed types that lie in this blob's strings `str` (as indexTypes does). */
function hashNames(str: Uint8Array, strBase: number, words: Uint32Array, offsets: Uint32Array, list: Int32Array, hashes: Uint32Array): void {
  const strLen = str.length;
  for (let e = 0; e < list.length; e++) {
    const i = list[e]!;
    const j0 = words[offsets[i]!]! - strBase;
    if (j0 < 0 || j0 >= strLen || hashes[i] !== 0) continue;
    let h = 0x811c9dc5, j = j0, c = str[j]!;
    while (c !== 0) {
      h = Math.imul(h ^ c, 0x01000193);
      c = str[++j]!;
    }
    hashes[i] = (h | 1) >>> 0;
  }
}

/** Reads the byte order of BTF or .BTF.ext data from its magic; `undefined` if neither order matches. */
export function detectByteOrder(bytes: Uint8Array): boolean | undefined {
  if (bytes.length < 2) return undefined;
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) return true;
  if (bytes[0] === 0xeb && bytes[1] === 0x9f) return false;
  return undefined;
}

/** Options for {@link Btf.parse}. */
export interface BtfParseOptions {
  /** Base BTF for split BTF (kernel module BTF is split on top of vmlinux). */
  readonly base?: Btf;
}

/** Where the sections of a parsed BTF blob lie in its bytes. Internal, used by the writer. */
export interface BtfLayout {
  readonly hdrLen: number; readonly typeStart: number; readonly typeEnd: number;
  readonly strStart: number; readonly strLen: number;
}

/** A member found by {@link Btf.findMember}; `bitOffset` is from the start of the outer type. */
export interface BtfMemberLookup {
  readonly member: BtfMember;
  readonly bitOffset: number;
  /** Member indices from the outer type down through anonymous members to this one. */
  readonly path: readonly number[];
}

/**
 * Parsed BTF: a lazy, indexed view of the raw bytes. Type ids run from 0 (void) to `count - 1`;
 * with a base (split BTF) ids below `firstId` belong to the base.
 */
export class Btf {
  /** The bytes this BTF was parsed from (not copied; do not modify them). */
  readonly rawBytes: Uint8Array;
  /** Byte order of the data. */
  readonly littleEndian: boolean;
  /** The base BTF of split BTF, else undefined. */
  readonly base: Btf | undefined;
  /** The first type id defined by this blob (1, or the base's `count` for split BTF). */
  readonly firstId: number;
  /** Number of type ids, including void and all base types. */
  readonly count: number;
  /** Total size of the string table seen from this BTF (base strings plus own strings). */
  readonly stringsLength: number;

  readonly #dv: DataView;
  readonly #layout: BtfLayout;
  readonly #strBase: number;
  readonly #words: Uint32Array;
  /** Word index in #words of each local type's btf_type record. */
  readonly #offsets: Uint32Array;
  readonly #kinds: Uint8Array;
  readonly #cache = new Map<number, BtfType>();
  /** Name hash tables: [0] for the named types of EAGER_KINDS, [1] for all other named types. */
  readonly #nameTables: (Int32Array | undefined)[] = [];
  /** FNV-1a hash | 1 of each type's name, 0 until computed. */
  readonly #nameHashes: Uint32Array;
  /** Indices of the named types of EAGER_KINDS. */
  readonly #eager: Int32Array;
  /** Indices of the types of EAGER_KINDS whose names (in this blob's strings) contain `___`. */
  readonly #separated: number[];
  #flavoured: number[] | undefined;

  private constructor(bytes: Uint8Array, base: Btf | undefined) {
    if (!(bytes instanceof Uint8Array)) throw new BtfError("parse BTF: input is not a Uint8Array");
    this.rawBytes = bytes;
    this.base = base;
    const le = detectByteOrder(bytes);
    if (bytes.length < BTF_HEADER_LEN) {
      throw new BtfError(`parse BTF: header truncated: ${bytes.length} bytes, the header needs ${BTF_HEADER_LEN}`);
    }
    if (le === undefined) {
      throw new BtfError(`parse BTF: bad magic 0x${(bytes[0]! << 8 | bytes[1]!).toString(16).padStart(4, "0")} (expected 0xeb9f in either byte order)`);
    }
    this.littleEndian = le;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#dv = dv;
    const version = bytes[2]!;
    if (version !== 1) throw new BtfError(`parse BTF: unsupported version ${version} (only version 1 exists)`);
    const hdrLen = dv.getUint32(4, le);
    if (hdrLen < BTF_HEADER_LEN || hdrLen > bytes.length) {
      throw new BtfError(`parse BTF: header length ${hdrLen} is out of range (minimum ${BTF_HEADER_LEN}, data is ${bytes.length} bytes)`);
    }
    const typeOff = dv.getUint32(8, le), typeLen = dv.getUint32(12, le);
    const strOff = dv.getUint32(16, le), strLen = dv.getUint32(20, le);
    const body = bytes.length - hdrLen;
    if (typeOff + typeLen > body) {
      throw new BtfError(`parse BTF: type section [${typeOff}, +${typeLen}) runs past the end of the data (${body} bytes after the header)`);
    }
    if (strOff + strLen > body) {
      throw new BtfError(`parse BTF: string section [${strOff}, +${strLen}) runs past the end of the data (${body} bytes after the header)`);
    }
    if (typeLen > 0 && strLen > 0 && typeOff < strOff + strLen && strOff < typeOff + typeLen) {
      throw new BtfError(`parse BTF: type section [${typeOff}, +${typeLen}) overlaps string section [${strOff}, +${strLen})`);
    }
    const strStart = hdrLen + strOff;
    if (strLen > 0 && bytes[strStart + strLen - 1] !== 0) {
      throw new BtfError("parse BTF: the string section does not end with a NUL byte");
    }
    if (!base && strLen > 0 && bytes[strStart] !== 0) {
      throw new BtfError("parse BTF: the string section does not start with an empty string");
    }
    const layout: BtfLayout = { hdrLen, typeStart: hdrLen + typeOff, typeEnd: hdrLen + typeOff + typeLen, strStart, strLen };
    this.#layout = layout;
    this.#strBase = base ? base.stringsLength : 0;
    this.stringsLength = this.#strBase + strLen;
    this.firstId = base ? base.count : 1;

    // Index pass: offsets and kinds, with structural bounds checks. The type section is made of
    // 32-bit words only, so it is read through a Uint32Array in host order (a swapped copy when the
    // data is in the other byte order or unaligned).
    const { typeStart, typeEnd } = layout;
    const nWords = typeLen >>> 2;
    let words: Uint32Array;
    if (le === HOST_LE && (bytes.byteOffset + typeStart) % 4 === 0) {
      words = new Uint32Array(bytes.buffer, bytes.byteOffset + typeStart, nWords);
    } else {
      words = new Uint32Array(nWords);
      for (let i = 0; i < nWords; i++) words[i] = dv.getUint32(typeStart + 4 * i, le);
    }
    this.#words = words;
    const cap = Math.floor(typeLen / 12);
    const offsets = new Uint32Array(cap);
    const kinds = new Uint8Array(cap);
    const hashes = new Uint32Array(cap);
    const eager = new Int32Array(cap);
    const counts = new Int32Array(2);
    // Written at every eager entry (kept only where the name has a `___`), hence the size.
    const separated = new Int32Array(cap + 1);
    const r = indexTypes(words, nWords, offsets, kinds, bytes.subarray(strStart, strStart + strLen), this.#strBase, hashes, eager, counts, separated);
    this.#separated = Array.from(separated.subarray(0, counts[1]!));
    this.#nameHashes = hashes;
    this.#eager = eager.subarray(0, counts[0]!);
    const n = r < 0 ? -1 - r : r;
    const endOf = (i: number) => offsets[i]! + 3 + FIXED_WORDS[kinds[i]!]! + (words[offsets[i]! + 1]! & 0xffff) * VLEN_WORDS[kinds[i]!]!;
    const endW = n > 0 ? endOf(n - 1) : 0;
    if (r < 0 || endW * 4 !== typeLen) {
      // Say which type is wrong: the one the pass stopped at, or the last one.
      const overrun = r >= 0 && endW * 4 > typeLen;
      const w = overrun ? offsets[n - 1]! : endW;
      const id = this.firstId + (overrun ? n - 1 : n);
      if (!overrun && (w + 3) * 4 > typeLen) {
        throw new BtfError(`parse BTF: type ${id} at type section offset ${4 * w} is truncated (needs 12 bytes, ${typeLen - 4 * w} left)`);
      }
      const info = words[w + 1]!, kind = (info >>> 24) & 0x1f, vlen = info & 0xffff;
      if (FIXED_WORDS[kind]! < 0) {
        throw new BtfError(`parse BTF: type ${id} at type section offset ${4 * w} has unknown kind ${kind}`);
      }
      throw new BtfError(`parse BTF: type ${id} (${BTF_KIND_NAMES[kind]}) at type section offset ${4 * w} needs ${4 * (3 + FIXED_WORDS[kind]! + vlen * VLEN_WORDS[kind]!)} bytes but only ${typeLen - 4 * w} remain (vlen ${vlen})`);
    }
    this.#offsets = n === cap ? offsets : offsets.subarray(0, n);
    this.#kinds = n === cap ? kinds : kinds.subarray(0, n);
    this.count = this.firstId + n;

  }

  /**
   * Parses BTF bytes (either byte order). With `opts.base`, parses split BTF whose ids and string
   * offsets continue after the base's. Throws BtfError when the data is malformed.
   */
  static parse(bytes: Uint8Array, opts: BtfParseOptions = {}): Btf {
    return new Btf(bytes, opts.base);
  }

  /** Section positions in `rawBytes` (for the writer). */
  get layout(): BtfLayout { return this.#layout; }

  /** Byte offset in `rawBytes` of a type's `btf_type` record; the id must belong to this blob. */
  typeOffset(id: number): number {
    this.#checkId(id, "locate BTF type");
    if (id < this.firstId) throw new BtfError(`locate BTF type: id ${id} belongs to the base BTF`);
    return this.#layout.typeStart + 4 * this.#offsets[id - this.firstId]!;
  }

  #checkId(id: number, what: string): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.count) {
      throw new BtfError(`${what}: type id ${id} is out of range (valid ids are 0..${this.count - 1})`);
    }
  }

  /** The kind of a type without decoding it. Throws BtfError for an id out of range. */
  kindOf(id: number): BtfKind {
    this.#checkId(id, "read BTF kind");
    if (id === 0) return "void";
    if (id < this.firstId) return this.base!.kindOf(id);
    return BTF_KIND_NAMES[this.#kinds[id - this.firstId]!]!;
  }

  /** The decoded type with this id (cached). Throws BtfError for a bad id or a malformed type. */
  type(id: number): BtfType {
    this.#checkId(id, "look up BTF type");
    if (id === 0) return VOID;
    if (id < this.firstId) return this.base!.type(id);
    const i = id - this.firstId;
    let t = this.#cache.get(i);
    if (t === undefined) {
      t = this.#decode(id, i);
      this.#cache.set(i, t);
    }
    return t;
  }

  /** Iterates over the types defined by this blob (not the base), in id order. */
  *types(): IterableIterator<BtfType> {
    for (let id = this.firstId; id < this.count; id++) yield this.type(id);
  }

  /** The name of a type ("" when anonymous). Throws BtfError for a bad id. */
  name(id: number): string {
    this.#checkId(id, "read BTF type name");
    if (id === 0) return "";
    if (id < this.firstId) return this.base!.name(id);
    return this.string(this.#words[this.#offsets[id - this.firstId]!]!);
  }

  /** The string at an offset of the string table (base strings first for split BTF). Throws BtfError when out of range. */
  string(offset: number): string {
    if (offset < this.#strBase) return this.base!.string(offset);
    const rel = offset - this.#strBase;
    const { strStart, strLen } = this.#layout;
    if (!Number.isInteger(rel) || rel < 0 || rel >= strLen) {
      if (offset === 0 && strLen === 0) return "";
      throw new BtfError(`read BTF string: offset ${offset} is outside the string section (${this.stringsLength} bytes)`);
    }
    const start = strStart + rel, end = strStart + strLen;
    let e = this.rawBytes.indexOf(0, start);
    if (e < 0 || e > end) e = end;
    return decodeString(this.rawBytes, start, e);
  }

  #u32(w: number): number { return this.#words[w]!; }

  #ref(id: number, ref: number, what: string): number {
    if (ref >= this.count) {
      throw new BtfError(`decode BTF type ${id} (${this.kindOf(id)}): ${what} refers to type ${ref}, beyond the last id ${this.count - 1}`);
    }
    return ref;
  }

  #linkage(id: number, v: number): BtfLinkage {
    const l = BTF_LINKAGE_NAMES[v];
    if (l === undefined) throw new BtfError(`decode BTF type ${id} (${this.kindOf(id)}): unknown linkage ${v}`);
    return l;
  }

  #decode(id: number, i: number): BtfType {
    const p = this.#offsets[i]!;
    const name = this.string(this.#u32(p));
    const info = this.#u32(p + 1);
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const sizeOrType = this.#u32(p + 2);
    const q = p + 3;
    const kind = this.#kinds[i]!;
    switch (kind) {
      case K_INT: {
        const enc = this.#u32(q);
        const e = (enc >>> 24) & 0x0f;
        return { id, kind: "int", name, size: sizeOrType, bits: enc & 0xff, offset: (enc >>> 16) & 0xff, signed: (e & 1) !== 0, char: (e & 2) !== 0, bool: (e & 4) !== 0 };
      }
      case K_PTR: case K_TYPEDEF: case K_VOLATILE: case K_CONST: case K_RESTRICT:
        return { id, kind: BTF_KIND_NAMES[kind] as "ptr", name, typeId: this.#ref(id, sizeOrType, "its target") };
      case K_TYPE_TAG:
        return { id, kind: "type_tag", name, typeId: this.#ref(id, sizeOrType, "its target"), attribute: kflag };
      case K_ARRAY:
        return {
          id, kind: "array", name, elemTypeId: this.#ref(id, this.#u32(q), "the element type"),
          indexTypeId: this.#ref(id, this.#u32(q + 1), "the index type"), nelems: this.#u32(q + 2),
        };
      case K_STRUCT: case K_UNION: {
        const members: BtfMember[] = new Array(vlen);
        for (let j = 0, m = q; j < vlen; j++, m += 3) {
          const off = this.#u32(m + 2);
          members[j] = {
            name: this.string(this.#u32(m)), typeId: this.#ref(id, this.#u32(m + 1), `member ${j}`),
            bitOffset: kflag ? off & 0xffffff : off, bitfieldSize: kflag ? off >>> 24 : 0,
          };
        }
        return { id, kind: kind === K_STRUCT ? "struct" : "union", name, size: sizeOrType, members };
      }
      case K_ENUM: {
        const values = new Array(vlen);
        for (let j = 0, m = q; j < vlen; j++, m += 2) {
          const raw = this.#u32(m + 1);
          values[j] = { name: this.string(this.#u32(m)), value: BigInt(kflag ? raw | 0 : raw) };
        }
        return { id, kind: "enum", name, size: sizeOrType, signed: kflag, values };
      }
      case K_ENUM64: {
        const values = new Array(vlen);
        for (let j = 0, m = q; j < vlen; j++, m += 3) {
          const v = (BigInt(this.#u32(m + 2)) << 32n) | BigInt(this.#u32(m + 1));
          values[j] = { name: this.string(this.#u32(m)), value: kflag ? BigInt.asIntN(64, v) : v };
        }
        return { id, kind: "enum64", name, size: sizeOrType, signed: kflag, values };
      }
      case K_FWD:
        return { id, kind: "fwd", name, union: kflag };
      case K_FUNC:
        return { id, kind: "func", name, typeId: this.#ref(id, sizeOrType, "its prototype"), linkage: this.#linkage(id, vlen) };
      case K_FUNC_PROTO: {
        const params = new Array(vlen);
        for (let j = 0, m = q; j < vlen; j++, m += 2) {
          params[j] = { name: this.string(this.#u32(m)), typeId: this.#ref(id, this.#u32(m + 1), `parameter ${j}`) };
        }
        return { id, kind: "func_proto", name, returnTypeId: this.#ref(id, sizeOrType, "the return type"), params };
      }
      case K_VAR:
        return { id, kind: "var", name, typeId: this.#ref(id, sizeOrType, "its type"), linkage: this.#linkage(id, this.#u32(q)) };
      case K_DATASEC: {
        const vars = new Array(vlen);
        for (let j = 0, m = q; j < vlen; j++, m += 3) {
          vars[j] = { typeId: this.#ref(id, this.#u32(m), `variable ${j}`), offset: this.#u32(m + 1), size: this.#u32(m + 2) };
        }
        return { id, kind: "datasec", name, size: sizeOrType, vars };
      }
      case K_FLOAT:
        return { id, kind: "float", name, size: sizeOrType };
      case K_DECL_TAG:
        return { id, kind: "decl_tag", name, typeId: this.#ref(id, sizeOrType, "its target"), componentIdx: this.#u32(q) | 0, attribute: kflag };
      default:
        throw new BtfError(`decode BTF type ${id}: unknown kind ${kind}`);
    }
  }

  // ---- names ----

  #hashAt(off: number): number {
    if (off < this.#strBase) return this.base!.#hashAt(off);
    const { strStart, strLen } = this.#layout;
    return hashCString(this.rawBytes, strStart + off - this.#strBase, strStart + strLen);
  }

  #equalsAt(off: number, q: Uint8Array): boolean {
    if (off < this.#strBase) return this.base!.#equalsAt(off, q);
    const { strStart, strLen } = this.#layout;
    return cStringEquals(this.rawBytes, strStart + off - this.#strBase, strStart + strLen, q);
  }

  /** The name hash of local type i (| 1), computing and caching it when the index pass did not. */
  #hashOf(i: number): number {
    let h = this.#nameHashes[i]!;
    if (h === 0) {
      h = (this.#hashAt(this.#words[this.#offsets[i]!]!) | 1) >>> 0;
      this.#nameHashes[i] = h;
    }
    return h;
  }

  /**
   * Builds a name hash table (open addressing over local type indices + 1, keyed by the FNV-1a
   * hash of the raw name bytes): t = 0 for the types of EAGER_KINDS, whose hashes the index pass
   * computed, t = 1 for every other named type (hashed now, once).
   */
  #buildNameTable(t: number): Int32Array {
    let list: Int32Array;
    if (t === 0) {
      list = this.#eager;
    } else {
      list = collectOthers(this.#words, this.#offsets, this.#kinds);
      hashNames(this.rawBytes.subarray(this.#layout.strStart, this.#layout.strStart + this.#layout.strLen), this.#strBase,
        this.#words, this.#offsets, list, this.#nameHashes);
    }
    let size = 16;
    while (size < list.length * 2) size <<= 1;
    const mask = size - 1;
    const table = new Int32Array(size);
    const hashes = this.#nameHashes;
    for (let e = 0; e < list.length; e++) {
      const i = list[e]!;
      const h = hashes[i] || this.#hashOf(i);
      let slot = h & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = i + 1;
    }
    this.#nameTables[t] = table;
    return table;
  }

  #probe(table: Int32Array, q: Uint8Array, h: number, kind: number, out: number[]): void {
    const hashes = this.#nameHashes, kinds = this.#kinds;
    const mask = table.length - 1;
    let slot = h & mask, v: number;
    while ((v = table[slot]!) !== 0) {
      const i = v - 1;
      if (hashes[i] === h && (kind < 0 || kinds[i] === kind) && this.#equalsAt(this.#u32(this.#offsets[i]!), q)) {
        out.push(this.firstId + i);
      }
      slot = (slot + 1) & mask;
    }
  }

  #findLocal(q: Uint8Array, h: number, kind: number, firstOnly: boolean, out: number[]): void {
    const start = out.length;
    const eager = kind >= 0 && ((EAGER_KINDS >>> kind) & 1) === 1;
    if (kind < 0 || eager) this.#probe(this.#nameTables[0] ?? this.#buildNameTable(0), q, h, kind, out);
    if (!eager) this.#probe(this.#nameTables[1] ?? this.#buildNameTable(1), q, h, kind, out);
    if (out.length - start > 1) {
      const mine = out.splice(start).sort((a, b) => a - b);
      out.push(...(firstOnly ? mine.slice(0, 1) : mine));
    }
  }

  #find(name: string, kind: BtfKind | undefined, firstOnly: boolean): number[] {
    const out: number[] = [];
    if (name === "") return out;
    const k = kind === undefined ? -1 : btfKindNumber(kind);
    if (kind !== undefined && k < 0) throw new BtfError(`find BTF type ${name}: unknown kind ${String(kind)}`);
    if (kind === "void") return out;
    const q = encodeString(name);
    const h = (hashBytes(q) | 1) >>> 0;
    const chain: Btf[] = [];
    for (let b: Btf | undefined = this; b; b = b.base) chain.unshift(b);
    for (const b of chain) {
      b.#findLocal(q, h, k, firstOnly, out);
      if (firstOnly && out.length) break;
    }
    return out;
  }

  /**
   * Ids (ascending, base types first) of the types whose names contain `___`, the CO-RE flavour
   * separator, among the kinds CO-RE looks up by name: int, struct, union, enum, enum64, fwd,
   * typedef, float (and var, datasec). Found during the index pass, so this costs no scan of the
   * strings; CO-RE candidate lookup uses it to find `name___flavour` types.
   */
  flavouredTypeIds(): readonly number[] {
    if (this.#flavoured) return this.#flavoured;
    const out = this.base ? [...this.base.flavouredTypeIds()] : [];
    for (const i of this.#separated) out.push(this.firstId + i);
    if (this.#strBase > 0) {
      // Names of split BTF that live in the base's strings were not seen by the index pass.
      const words = this.#words, offsets = this.#offsets, strBase = this.#strBase;
      for (const i of this.#eager) {
        if (words[offsets[i]!]! < strBase && this.name(this.firstId + i).includes("___")) out.push(this.firstId + i);
      }
      out.sort((a, b) => a - b);
    }
    this.#flavoured = out;
    return out;
  }

  /** The lowest type id with this name (and kind, if given), or undefined. Builds the name index on first use. */
  findByName(name: string, kind?: BtfKind): number | undefined {
    return this.#find(name, kind, true)[0];
  }

  /** All type ids with this name (and kind, if given), in ascending order. */
  findAllByName(name: string, kind?: BtfKind): number[] {
    return this.#find(name, kind, false);
  }

  /**
   * Like {@link findByName} but throws BtfError naming what is missing when there is no such type.
   */
  getByName(name: string, kind?: BtfKind): BtfType {
    const id = this.findByName(name, kind);
    if (id === undefined) throw new BtfError(`find BTF type: no ${kind ?? "type"} named ${JSON.stringify(name)}`);
    return this.type(id);
  }

  // ---- resolution and layout ----

  #skip(id: number, typedefs: boolean): number {
    let cur = id;
    for (let steps = 0; steps <= this.count; steps++) {
      const k = this.kindOf(cur);
      if (k === "const" || k === "volatile" || k === "restrict" || k === "type_tag" || (typedefs && k === "typedef")) {
        cur = (this.type(cur) as { typeId: number }).typeId;
        continue;
      }
      return cur;
    }
    throw new BtfError(`resolve BTF type ${id}: the chain of modifiers and typedefs loops`);
  }

  /** Follows typedef/const/volatile/restrict/type_tag to the underlying type id. Throws BtfError on a loop or bad id. */
  resolve(id: number): number { return this.#skip(id, true); }

  /** Follows const/volatile/restrict/type_tag only (not typedefs). Throws BtfError on a loop or bad id. */
  skipModifiers(id: number): number { return this.#skip(id, false); }

  /**
   * Size in bytes of a type (arrays multiply, typedefs and modifiers are followed, pointers are 8).
   * Throws BtfError for types without a size (void, func, func_proto, fwd, decl_tag) or on a loop.
   */
  sizeof(id: number): number {
    let mult = 1, cur = id;
    for (let steps = 0; steps <= this.count; steps++) {
      const t = this.type(cur);
      switch (t.kind) {
        case "int": case "enum": case "enum64": case "struct": case "union": case "float": case "datasec":
          return mult * t.size;
        case "ptr": return mult * 8;
        case "typedef": case "const": case "volatile": case "restrict": case "type_tag": case "var":
          cur = t.typeId; continue;
        case "array": mult *= t.nelems; cur = t.elemTypeId; continue;
        default:
          throw new BtfError(`size of BTF type ${id} (${this.typeName(id)}): a ${t.kind} has no size`);
      }
    }
    throw new BtfError(`size of BTF type ${id}: the type chain loops`);
  }

  /** Alignment in bytes of a type (1 for packed structs). Throws BtfError like {@link sizeof}. */
  alignof(id: number): number { return this.#alignof(id, id, 0); }

  #alignof(id: number, top: number, depth: number): number {
    if (depth > MAX_DEPTH) throw new BtfError(`alignment of BTF type ${top}: types nest too deeply (loop?)`);
    const t = this.type(id);
    switch (t.kind) {
      case "int": case "enum": case "enum64": case "float": return Math.max(1, Math.min(t.size, 8));
      case "ptr": return 8;
      case "typedef": case "const": case "volatile": case "restrict": case "type_tag": case "var":
        return this.#alignof(t.typeId, top, depth + 1);
      case "array": return this.#alignof(t.elemTypeId, top, depth + 1);
      case "struct": case "union": {
        let max = 1;
        for (const m of t.members) {
          const a = this.#alignof(m.typeId, top, depth + 1);
          if (a > max) max = a;
          if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
        }
        return t.size % max === 0 ? max : 1;
      }
      default:
        throw new BtfError(`alignment of BTF type ${top}: a ${t.kind} has no alignment`);
    }
  }

  /**
   * Finds a member by name in a struct or union (through typedefs/modifiers), descending into
   * anonymous struct/union members. Returns undefined when absent; throws BtfError if `id` is not a struct or union.
   */
  findMember(id: number, name: string): BtfMemberLookup | undefined {
    const r = this.resolve(id);
    const t = this.type(r);
    if (t.kind !== "struct" && t.kind !== "union") {
      throw new BtfError(`find member ${name} of BTF type ${id} (${this.typeName(id)}): not a struct or union`);
    }
    return this.#findMember(r, name, 0, [], 0);
  }

  #findMember(id: number, name: string, base: number, path: number[], depth: number): BtfMemberLookup | undefined {
    if (depth > MAX_DEPTH) throw new BtfError(`find member ${name}: anonymous members nest too deeply (loop?)`);
    const t = this.type(id);
    if (t.kind !== "struct" && t.kind !== "union") return undefined;
    for (let j = 0; j < t.members.length; j++) {
      const m = t.members[j]!;
      if (m.name === name) return { member: m, bitOffset: base + m.bitOffset, path: [...path, j] };
      if (m.name === "") {
        const inner = this.resolve(m.typeId);
        const found = this.#findMember(inner, name, base + m.bitOffset, [...path, j], depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  }

  /**
   * A C-like name for messages, e.g. `struct task_struct *`, `const char [16]`, `int (*)(void *)`.
   * Throws BtfError for an id out of range.
   */
  typeName(id: number): string { return this.#declare(id, "", 0); }

  #declare(id: number, inner: string, depth: number): string {
    const join = (base: string) => (inner ? `${base} ${inner}` : base);
    if (depth > 64) return join("...");
    const t = this.type(id);
    switch (t.kind) {
      case "void": return join("void");
      case "int": case "float": case "typedef": return join(t.name || `(anon ${t.kind})`);
      case "struct": case "union": return join(`${t.kind} ${t.name || "(anon)"}`);
      case "enum": case "enum64": return join(`enum ${t.name || "(anon)"}`);
      case "fwd": return join(`${t.union ? "union" : "struct"} ${t.name}`);
      case "ptr": return this.#declare(t.typeId, `*${inner}`, depth + 1);
      case "const": case "volatile": case "restrict": {
        const target = this.type(t.typeId);
        if (target.kind === "ptr") return this.#declare(t.typeId, inner ? `${t.kind} ${inner}` : t.kind, depth + 1);
        return `${t.kind} ${this.#declare(t.typeId, inner, depth + 1)}`;
      }
      case "type_tag": return this.#declare(t.typeId, inner, depth + 1);
      case "array": {
        const d = inner.startsWith("*") ? `(${inner})` : inner;
        return this.#declare(t.elemTypeId, `${d}[${t.nelems}]`, depth + 1);
      }
      case "func_proto": {
        const d = inner.startsWith("*") ? `(${inner})` : inner;
        const params = t.params.length === 0 ? "void" : t.params
          .map((p) => (p.typeId === 0 && p.name === "" ? "..." : this.#declare(p.typeId, p.name, depth + 1))).join(", ");
        return this.#declare(t.returnTypeId, `${d}(${params})`, depth + 1);
      }
      case "func": return this.#declare(t.typeId, t.name, depth + 1);
      case "var": return this.#declare(t.typeId, t.name, depth + 1);
      case "datasec": return join(`datasec ${t.name}`);
      case "decl_tag": return join(`decl_tag ${t.name}`);
    }
  }
}
