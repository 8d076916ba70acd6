/**
 * Compiling a BTF type into a reader and a writer over a DataView. Each type is compiled once per
 * BTF (cached); structs get a specialised decode function (generated code that builds the object
 * in one literal, with integer members read inline), so decoding a struct costs about as much as
 * hand-written code. Where code generation is disallowed (--disallow-code-generation-from-strings)
 * the same closures are used without it.
 */
import type { Btf } from "../btf/btf.js";
import type { BtfArray, BtfComposite, BtfDatasec } from "../btf/types.js";
import { BtfError } from "../errors.js";
import { EncodeError, prepend, show } from "./errors.js";
import { bitfield, finisher, isCharInt, rawer, scalarOf, type Scalar } from "./scalar.js";

/** Reads a value at byte offset `o` of `dv`. */
export type Reader = (dv: DataView, o: number) => unknown;
/** Writes a value at byte offset `o`; throws EncodeError for a bad value. */
export type Writer = (dv: DataView, o: number, v: unknown) => void;

/** A compiled type. */
export interface Node {
  readonly size: number;
  readonly read: Reader;
  readonly write: Writer;
  /** A JavaScript expression reading the value, given the code of the byte offset (for generated code). */
  readonly expr?: (o: string) => string;
  /** For struct, union and datasec: the members. */
  readonly composite?: Composite;
}

/** A member of a composite, after flattening decisions. */
type Item =
  | { readonly t: "field"; readonly name: string; readonly off: number; readonly node: Node }
  | { readonly t: "bits"; readonly name: string; readonly read: Reader; readonly write: Writer }
  | { readonly t: "anon"; readonly off: number; readonly comp: Composite };

/** A struct, union or datasec: its members and its field names after anonymous members are flattened. */
export interface Composite {
  readonly kind: "struct" | "union" | "datasec";
  readonly cName: string;
  readonly items: readonly Item[];
  readonly names: readonly string[];
  readonly nameSet: ReadonlySet<string>;
  /** Writes the fields of `v` it knows (no check for unknown names). */
  writeFields(dv: DataView, o: number, v: Record<string, unknown>): void;
}

let codegen = (() => {
  try {
    return new Function("return 1")() === 1;
  } catch {
    return false;
  }
})();

/** Turns generated code on or off for types compiled afterwards (for tests). Returns the old setting. */
export function setCodegen(on: boolean): boolean {
  const old = codegen;
  codegen = on;
  return old;
}

const caches = new WeakMap<Btf, Map<number, Node>>();

/** The compiled node of a type (cached per BTF and id). Throws BtfError for types without a value. */
export function compile(btf: Btf, id: number): Node {
  let cache = caches.get(btf);
  if (!cache) caches.set(btf, (cache = new Map()));
  return new Compiler(btf, cache).node(id);
}

/** Most elements of an array whose elements have no bytes (`struct {} a[N]`). */
const MAX_EMPTY_ELEMENTS = 1 << 16;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

class Compiler {
  readonly #le: boolean;
  readonly #busy = new Set<number>();
  constructor(readonly btf: Btf, readonly cache: Map<number, Node>) {
    this.#le = btf.littleEndian;
  }

  node(id: number): Node {
    const hit = this.cache.get(id);
    if (hit) return hit;
    if (this.#busy.has(id)) throw new BtfError(`build codec for BTF type ${id} (${this.btf.typeName(id)}): the type contains itself`);
    this.#busy.add(id);
    try {
      const n = this.#build(id);
      this.cache.set(id, n);
      return n;
    } finally {
      this.#busy.delete(id);
    }
  }

  #build(id: number): Node {
    const btf = this.btf;
    const t = btf.type(id);
    switch (t.kind) {
      case "typedef": case "const": case "volatile": case "restrict": case "type_tag": case "var": {
        // Scalars behind a typedef get their own node so messages name the typedef (`__u32`).
        const s = t.kind === "typedef" ? scalarOf(btf, id) : undefined;
        return s ? this.#scalar(s) : this.node(t.typeId);
      }
      case "int": case "enum": case "enum64": case "ptr": case "float":
        return this.#scalar(scalarOf(btf, id)!);
      case "array": return this.#array(t);
      case "struct": case "union": return this.#composite(t);
      case "datasec": return this.#datasec(t);
      default:
        throw new BtfError(`build codec for BTF type ${id} (${btf.typeName(id)}): a ${t.kind === "fwd" ? "forward declaration (incomplete type)" : t.kind} has no value to decode`);
    }
  }

  // ---- scalars ----

  #scalar(s: Scalar): Node {
    const le = this.#le;
    const size = s.size;
    if (s.cls === "float") {
      if (size === 4 || size === 8) {
        const toRaw = rawer(s, size * 8);
        return size === 4
          ? { size, read: (dv, o) => dv.getFloat32(o, le), write: (dv, o, v) => dv.setFloat32(o, toRaw(v) as number, le), expr: (o) => `dv.getFloat32(${o}, ${le})` }
          : { size, read: (dv, o) => dv.getFloat64(o, le), write: (dv, o, v) => dv.setFloat64(o, toRaw(v) as number, le), expr: (o) => `dv.getFloat64(${o}, ${le})` };
      }
      return this.#bytes(size); // long double and other sizes: the raw bytes
    }
    if ((s.cls === "int" || s.cls === "bool") && (s.intOffset !== 0 || s.intBits !== size * 8)) {
      // An int whose encoding covers only some bits of its storage.
      const bf = bitfield(s, s.intOffset!, s.intBits!, le);
      return { size, read: bf.read, write: bf.write };
    }
    const width = size * 8;
    const fin = finisher(s, width), toRaw = rawer(s, width);
    const get = patternGetter(size, le), set = patternSetter(size, le);
    let read: Reader;
    let expr: ((o: string) => string) | undefined;
    if (s.cls === "int") {
      const signed = s.signed;
      switch (size) {
        case 1: read = signed ? (dv, o) => dv.getInt8(o) : (dv, o) => dv.getUint8(o); expr = (o) => `dv.get${signed ? "Int8" : "Uint8"}(${o})`; break;
        case 2: read = signed ? (dv, o) => dv.getInt16(o, le) : (dv, o) => dv.getUint16(o, le); expr = (o) => `dv.get${signed ? "Int16" : "Uint16"}(${o}, ${le})`; break;
        case 4: read = signed ? (dv, o) => dv.getInt32(o, le) : (dv, o) => dv.getUint32(o, le); expr = (o) => `dv.get${signed ? "Int32" : "Uint32"}(${o}, ${le})`; break;
        case 8: read = signed ? (dv, o) => dv.getBigInt64(o, le) : (dv, o) => dv.getBigUint64(o, le); expr = (o) => `dv.get${signed ? "BigInt64" : "BigUint64"}(${o}, ${le})`; break;
        default: read = (dv, o) => fin(get(dv, o));
      }
    } else if (s.cls === "ptr") {
      read = (dv, o) => dv.getBigUint64(o, le);
      expr = (o) => `dv.getBigUint64(${o}, ${le})`;
    } else if (s.cls === "bool" && size === 1) {
      read = (dv, o) => dv.getUint8(o) !== 0;
      expr = (o) => `(dv.getUint8(${o}) !== 0)`;
    } else {
      read = (dv, o) => fin(get(dv, o));
    }
    return { size, read, write: (dv, o, v) => set(dv, o, toRaw(v)), expr };
  }

  /** Raw bytes (u8 arrays, odd-sized floats): a Uint8Array copy on decode; bytes or numbers on encode. */
  #bytes(n: number): Node {
    return {
      size: n,
      // On-heap copies: allocating an ArrayBuffer per value (buffer.slice) costs microseconds.
      read: n <= 32
        ? (dv, o) => {
          const a = new Uint8Array(n);
          for (let i = 0; i < n; i++) a[i] = dv.getUint8(o + i);
          return a;
        }
        : (dv, o) => {
          const a = new Uint8Array(n);
          a.set(new Uint8Array(dv.buffer, dv.byteOffset + o, n));
          return a;
        },
      write: (dv, o, v) => {
        if (v instanceof Uint8Array) {
          if (v.length > n) throw new EncodeError(`${v.length} bytes given, at most ${n} fit`);
          new Uint8Array(dv.buffer, dv.byteOffset + o, n).set(v);
          return;
        }
        if (!isArrayLike(v)) throw new EncodeError(`expected a Uint8Array or an array of bytes, got ${show(v)}`);
        if (v.length > n) throw new EncodeError(`${v.length} bytes given, at most ${n} fit`);
        for (let i = 0; i < v.length; i++) {
          const b = v[i];
          if (b === undefined) continue;
          if (typeof b !== "number" || !Number.isInteger(b) || b < 0 || b > 255) {
            const e = new EncodeError(`${show(b)} is not a byte (0..255)`);
            e.parts.push(i);
            throw e;
          }
          dv.setUint8(o + i, b);
        }
      },
    };
  }

  // ---- arrays ----

  #array(t: BtfArray): Node {
    const btf = this.btf;
    const n = t.nelems;
    const elemId = btf.resolve(t.elemTypeId);
    const elemT = btf.type(elemId);
    if (isCharInt(elemT)) return this.#string(n);
    if (elemT.kind === "int" && elemT.size === 1 && !elemT.signed && !elemT.bool && elemT.bits === 8 && elemT.offset === 0) return this.#bytes(n);
    const elem = this.node(t.elemTypeId);
    const es = elem.size;
    // Decoding makes one element per slot: with zero-size elements that is not bounded by the bytes.
    if (es === 0 && n > MAX_EMPTY_ELEMENTS) {
      throw new BtfError(`build codec for ${btf.typeName(t.id)}: an array of ${n} zero-size elements; the BTF is malformed (at most ${MAX_EMPTY_ELEMENTS} are decoded)`);
    }
    let read: Reader | undefined;
    if (codegen && elem.expr) {
      const body = `const a = new Array(${n});\nfor (let i = 0; i < ${n}; i++) a[i] = ${elem.expr(`o + ${es} * i`)};\nreturn a;`;
      read = new Function("dv", "o", body) as Reader;
    }
    const er = elem.read, ew = elem.write;
    read ??= (dv, o) => {
      const a = new Array(n);
      for (let i = 0; i < n; i++) a[i] = er(dv, o + es * i);
      return a;
    };
    const write: Writer = (dv, o, v) => {
      if (!isArrayLike(v) || typeof v === "string") throw new EncodeError(`expected an array of up to ${n} elements, got ${show(v)}`);
      if (v.length > n) throw new EncodeError(`${v.length} elements given, at most ${n} fit`);
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (x === undefined) continue;
        try {
          ew(dv, o + es * i, x);
        } catch (e) {
          prepend(e, i);
        }
      }
    };
    return { size: es * n, read, write };
  }

  /** `char[N]`: a NUL-terminated UTF-8 string. */
  #string(n: number): Node {
    return {
      size: n,
      read: (dv, o) => {
        let end = 0, ascii = true;
        for (; end < n; end++) {
          const c = dv.getUint8(o + end);
          if (c === 0) break;
          if (c > 0x7f) ascii = false;
        }
        if (ascii) {
          if (end <= 32) {
            let s = "";
            for (let i = 0; i < end; i++) s += String.fromCharCode(dv.getUint8(o + i));
            return s;
          }
          return String.fromCharCode.apply(null, new Uint8Array(dv.buffer, dv.byteOffset + o, end) as unknown as number[]);
        }
        return decoder.decode(new Uint8Array(dv.buffer, dv.byteOffset + o, end).slice());
      },
      write: (dv, o, v) => {
        let b: Uint8Array;
        if (typeof v === "string") b = encoder.encode(v);
        else if (v instanceof Uint8Array) b = v;
        else throw new EncodeError(`expected a string (char[${n}]), got ${show(v)}`);
        if (b.length > n) throw new EncodeError(`the string is ${b.length} bytes in UTF-8, at most ${n} fit (char[${n}])`);
        const dst = new Uint8Array(dv.buffer, dv.byteOffset + o, n);
        dst.set(b);
        dst.fill(0, b.length);
      },
    };
  }

  // ---- structs, unions, data sections ----

  #composite(t: BtfComposite): Node {
    const btf = this.btf;
    const cName = `${t.kind} ${t.name || "(anonymous)"}`;
    const items: Item[] = [];
    for (const m of t.members) {
      const where = () => `build codec for ${btf.typeName(t.id)}: member ${m.name || "(anonymous)"}`;
      const resolved = btf.resolve(m.typeId);
      const rt = btf.type(resolved);
      const s = rt.kind === "int" || rt.kind === "enum" || rt.kind === "enum64" ? scalarOf(btf, m.typeId)! : undefined;
      // kind_flag layout: bitfieldSize; old layout: an int type whose encoding has fewer bits.
      const oldStyle = s !== undefined && m.bitfieldSize === 0 && rt.kind === "int" && (rt.bits !== rt.size * 8 || rt.offset !== 0);
      if (m.bitfieldSize !== 0 || oldStyle) {
        if (!s) throw new BtfError(`${where()}: a bitfield of type ${btf.typeName(m.typeId)} is not an integer or enum`);
        if (m.name === "") continue; // unnamed bitfield: padding
        const width = m.bitfieldSize || s.intBits!;
        const bitOff = m.bitOffset + (oldStyle ? s.intOffset! : 0);
        fits(where, bitOff + width, t.size * 8, t.kind);
        const bf = bitfield(m.bitfieldSize ? { ...s, intBits: undefined, intOffset: undefined } : s, bitOff, width, this.#le);
        items.push({ t: "bits", name: m.name, read: bf.read, write: bf.write });
        continue;
      }
      if (m.bitOffset % 8 !== 0) throw new BtfError(`${where()}: it is at bit ${m.bitOffset}, not on a byte boundary, and not a bitfield`);
      const off = m.bitOffset / 8;
      if (m.name === "") {
        if (rt.kind === "struct" || rt.kind === "union") {
          const n = this.node(resolved);
          fits(where, (off + n.size) * 8, t.size * 8, t.kind);
          items.push({ t: "anon", off, comp: n.composite! });
        }
        continue;
      }
      const node = this.node(m.typeId);
      fits(where, (off + node.size) * 8, t.size * 8, t.kind);
      items.push({ t: "field", name: m.name, off, node });
    }
    return this.#finish(t.kind, cName, t.size, items);
  }

  #datasec(t: BtfDatasec): Node {
    const btf = this.btf;
    const items: Item[] = [];
    for (const v of t.vars) {
      const vt = btf.type(v.typeId);
      if (vt.kind !== "var") continue; // functions in .ksyms
      const node = this.node(vt.typeId);
      fits(() => `build codec for section ${t.name}: variable ${vt.name}`, (v.offset + node.size) * 8, t.size * 8, "section");
      items.push({ t: "field", name: vt.name, off: v.offset, node });
    }
    return this.#finish("datasec", `section ${t.name}`, t.size, items);
  }

  #finish(kind: Composite["kind"], cName: string, size: number, items: Item[]): Node {
    const names: string[] = [];
    for (const it of items) {
      if (it.t === "anon") names.push(...it.comp.names);
      else names.push(it.name);
    }
    const nameSet = new Set(names);
    const writeFields = kind === "union" ? unionWriter(items) : structWriter(items);
    const comp: Composite = { kind, cName, items, names, nameSet, writeFields };
    const write: Writer = (dv, o, v) => {
      if (typeof v !== "object" || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) {
        throw new EncodeError(`expected an object for ${cName}, got ${show(v)}`);
      }
      for (const k of Object.keys(v)) {
        if (!nameSet.has(k)) {
          const e = new EncodeError(`${cName} has no field ${k} (it has: ${names.join(", ") || "none"})`);
          e.parts.push(k);
          throw e;
        }
      }
      writeFields(dv, o, v as Record<string, unknown>);
    };
    return { size, read: compositeReader(items), write, composite: comp };
  }
}

/**
 * Throws BtfError when a member ending at bit `end` does not fit in its `size`-bit container (the
 * kernel refuses such BTF; decoding it would read past the value).
 */
function fits(where: () => string, end: number, size: number, kind: string): void {
  if (end > size) {
    throw new BtfError(`${where()}: it ends at byte ${Math.ceil(end / 8)}, past the end of its ${size / 8}-byte ${kind}; the BTF is malformed (regenerate it, or decode the bytes without BTF)`);
  }
}

/** The fields of a composite with anonymous members flattened, each with a byte offset to add. */
function leaves(items: readonly Item[], base: number, out: Array<{ name: string; off: number; node?: Node; read: Reader }>): typeof out {
  for (const it of items) {
    if (it.t === "field") out.push({ name: it.name, off: base + it.off, node: it.node, read: it.node.read });
    else if (it.t === "bits") out.push({ name: it.name, off: base, read: it.read });
    else leaves(it.comp.items, base + it.off, out);
  }
  return out;
}

function compositeReader(items: readonly Item[]): Reader {
  const flat = leaves(items, 0, []);
  if (codegen) {
    const deps: Reader[] = [];
    const parts = flat.map((f) => {
      const key = f.name === "__proto__" ? `["__proto__"]` : JSON.stringify(f.name);
      const at = f.off === 0 ? "o" : `o + ${f.off}`;
      if (f.node?.expr) return `${key}: ${f.node.expr(at)}`;
      deps.push(f.read);
      return `${key}: d${deps.length - 1}(dv, ${at})`;
    });
    const decl = deps.length ? `const ${deps.map((_, i) => `d${i} = deps[${i}]`).join(", ")};\n` : "";
    const src = `"use strict";\n${decl}return function decode(dv, o) {\n  return {\n    ${parts.join(",\n    ")}\n  };\n};`;
    return new Function("deps", src)(deps) as Reader;
  }
  const n = flat.length;
  const names = flat.map((f) => f.name), offs = flat.map((f) => f.off), readers = flat.map((f) => f.read);
  const define = names.includes("__proto__");
  return (dv, o) => {
    const r: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const v = readers[i]!(dv, o + offs[i]!);
      if (define) Object.defineProperty(r, names[i]!, { value: v, enumerable: true, writable: true, configurable: true });
      else r[names[i]!] = v;
    }
    return r;
  };
}

function writeItem(it: Item, dv: DataView, o: number, v: Record<string, unknown>): void {
  if (it.t === "anon") {
    it.comp.writeFields(dv, o + it.off, v);
    return;
  }
  const x = v[it.name];
  if (x === undefined) return;
  try {
    if (it.t === "field") it.node.write(dv, o + it.off, x);
    else it.write(dv, o, x);
  } catch (e) {
    prepend(e, it.name);
  }
}

function structWriter(items: readonly Item[]): Composite["writeFields"] {
  return (dv, o, v) => {
    for (const it of items) writeItem(it, dv, o, v);
  };
}

/** A union writes the first member the value gives (an anonymous member counts as given if any of its fields is). */
function unionWriter(items: readonly Item[]): Composite["writeFields"] {
  const given = (it: Item, v: Record<string, unknown>): boolean =>
    it.t === "anon" ? it.comp.names.some((n) => v[n] !== undefined) : v[it.name] !== undefined;
  return (dv, o, v) => {
    for (const it of items) {
      if (given(it, v)) {
        writeItem(it, dv, o, v);
        return;
      }
    }
  };
}

function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

/** Reads the unsigned pattern of a whole scalar of 1..16 bytes. */
function patternGetter(size: number, le: boolean): (dv: DataView, o: number) => number | bigint {
  switch (size) {
    case 1: return (dv, o) => dv.getUint8(o);
    case 2: return (dv, o) => dv.getUint16(o, le);
    case 4: return (dv, o) => dv.getUint32(o, le);
    case 8: return (dv, o) => dv.getBigUint64(o, le);
    case 16: return (dv, o) => {
      const a = dv.getBigUint64(o, le), b = dv.getBigUint64(o + 8, le);
      return le ? (b << 64n) | a : (a << 64n) | b;
    };
    default: throw new BtfError(`build codec: a scalar of ${size} bytes is not supported`);
  }
}

function patternSetter(size: number, le: boolean): (dv: DataView, o: number, p: number | bigint) => void {
  switch (size) {
    case 1: return (dv, o, p) => dv.setUint8(o, p as number);
    case 2: return (dv, o, p) => dv.setUint16(o, p as number, le);
    case 4: return (dv, o, p) => dv.setUint32(o, p as number, le);
    case 8: return (dv, o, p) => dv.setBigUint64(o, p as bigint, le);
    case 16: return (dv, o, p) => {
      const lo = BigInt.asUintN(64, p as bigint), hi = (p as bigint) >> 64n;
      dv.setBigUint64(o, le ? lo : hi, le);
      dv.setBigUint64(o + 8, le ? hi : lo, le);
    };
    default: throw new BtfError(`build codec: a scalar of ${size} bytes is not supported`);
  }
}
