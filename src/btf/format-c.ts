/**
 * BTF as a C header: what `bpftool btf dump file F format c` prints, i.e. vmlinux.h.
 *
 * Every named struct, union, enum and typedef is emitted, in an order that C accepts (the rules
 * libbpf's btf_dump follows):
 * - types are visited in id order, each pulling in what it needs first (post-order DFS);
 * - a type is defined before anything embeds it by value (members, array elements, typedefs used
 *   by value); anonymous structs, unions and enums are written inline where they are used;
 * - a struct or union reached only through a pointer needs only a forward declaration
 *   (`struct foo;`), emitted when first needed, which is also how pointer cycles are broken: a
 *   struct first completes what its members embed by value, then declares what they point to
 *   (itself excepted). A typedef used through a pointer while its target is being defined
 *   (`typedef struct S T; struct S { T *next; }`) is written before the target.
 *
 * Layouts are reproduced exactly (see format-layout.ts): natural C layout with unnamed-bitfield
 * padding where possible, else `__attribute__((packed))`. Enums whose BTF size differs from what
 * C would choose get `mode(byte)`/`mode(HI)`/`mode(word)`. The typedef `__builtin_va_list` is
 * predefined by clang with a different layout for BPF, so uses of it are written as the BTF's
 * definition (`typedef struct __va_list_tag va_list[1];`). Name conflicts (two different
 * `struct foo`) get libbpf's `___2`, `___3` suffixes in order of first use; enumerators share
 * the typedef namespace, as in C.
 */
import { BtfError } from "../errors.js";
import type { Btf } from "./btf.js";
import { CLayouts } from "./format-layout.js";
import type { BtfComposite, BtfEnum } from "./types.js";

/** Options for {@link formatBtfAsC}. */
export interface FormatCOptions {
  /**
   * Wrap the output in the `__VMLINUX_H__` include guard and the
   * `#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)`
   * block (disabled by defining `BPF_NO_PRESERVE_ACCESS_INDEX`), like bpftool. Default true.
   */
  readonly header?: boolean;
  /** Include guard macro. Default `__VMLINUX_H__`. */
  readonly guard?: string;
  /**
   * Emit only these types and what they need. Default: every type. Ids of kinds that are never
   * emitted on their own (func, var, datasec, pointers, ...) are ignored.
   */
  readonly ids?: Iterable<number>;
  /**
   * Write `__attribute__((btf_type_tag("...")))` on pointee types (`int __tag *p`), the only place
   * clang accepts it. Default true.
   */
  readonly typeTags?: boolean;
  /**
   * Write `__attribute__((btf_decl_tag("...")))` on structs, unions, their members and typedefs.
   * Tags on functions, parameters and variables are dropped (those are not emitted). Default true.
   */
  readonly declTags?: boolean;
  /**
   * Largest output, in characters, before formatting stops with a BtfError. Default 2^28 (256 Mi;
   * the kernel's vmlinux.h is a few MiB). Bounds what malformed BTF can make: an anonymous struct
   * is written out at every use, so nesting them multiplies the text.
   */
  readonly maxLength?: number;
}

/** Default {@link FormatCOptions.maxLength}. */
export const FORMAT_C_MAX_LENGTH = 2 ** 28;

// Emission state bits, per type id.
const EMITTING = 1; // a struct/union/typedef definition is being emitted (its dependencies first)
const DECLARED = 2; // typedef written, or struct/union forward-declared, or enum/fwd written
const DEFINED = 4;  // struct/union definition written; typedef written and its target complete

const MAX_DEPTH = 2000;

const QUALIFIER = /^(const|volatile|restrict)\b/;

/** C literal of an enumerator value. */
function enumLiteral(t: BtfEnum, v: bigint): string {
  if (t.kind === "enum") return v.toString();
  if (!t.signed) return `${BigInt.asUintN(64, v)}ULL`;
  if (v === -(2n ** 63n)) return "(-9223372036854775807LL - 1)";
  return `${v}LL`;
}

class CFormatter {
  readonly #btf: Btf;
  readonly #typeTags: boolean;
  readonly #declTags: boolean;
  readonly #state: Uint8Array;
  /** 1: referenced by another type (an anonymous enum then is written inline, not on its own). */
  readonly #referenced: Uint8Array;
  readonly #names: (string | undefined)[] = [];
  readonly #tagNames = new Map<string, number>();
  readonly #identNames = new Map<string, number>();
  readonly #layouts: CLayouts;
  /** decl tags by target id: [componentIdx, value]. */
  readonly #declTagIndex = new Map<number, Array<[number, string]>>();
  readonly #out: string[] = [];
  readonly #maxLength: number;
  /** Characters in #out. */
  #length = 0;
  #depth = 0;

  constructor(btf: Btf, opts: FormatCOptions) {
    this.#btf = btf;
    this.#typeTags = opts.typeTags ?? true;
    this.#declTags = opts.declTags ?? true;
    this.#maxLength = opts.maxLength ?? FORMAT_C_MAX_LENGTH;
    this.#state = new Uint8Array(btf.count);
    this.#referenced = new Uint8Array(btf.count);
    this.#layouts = new CLayouts(btf);
    this.#markReferenced();
  }

  /**
   * Marks every type that another type refers to. As in libbpf, any reference counts (also from
   * functions and variables, which are not emitted): an anonymous enum referenced by something
   * is never emitted on its own.
   */
  #markReferenced(): void {
    const r = this.#referenced;
    const btf = this.#btf;
    for (let id = 1; id < btf.count; id++) {
      // A function refers only to its prototype, which is never an anonymous enum: skip decoding
      // the ~half of vmlinux's types that are functions.
      const kind = btf.kindOf(id);
      if (kind === "func") continue;
      const t = btf.type(id);
      switch (t.kind) {
        case "ptr": case "typedef": case "const": case "volatile": case "restrict": case "type_tag":
        case "var":
          r[t.typeId] = 1; break;
        case "decl_tag":
          r[t.typeId] = 1;
          if (this.#declTags) {
            let l = this.#declTagIndex.get(t.typeId);
            if (!l) this.#declTagIndex.set(t.typeId, (l = []));
            l.push([t.componentIdx, t.name]);
          }
          break;
        case "array": r[t.elemTypeId] = 1; r[t.indexTypeId] = 1; break;
        case "struct": case "union": for (const m of t.members) r[m.typeId] = 1; break;
        case "func_proto": r[t.returnTypeId] = 1; for (const p of t.params) r[p.typeId] = 1; break;
        case "datasec": for (const v of t.vars) r[v.typeId] = 1; break;
        default: break;
      }
    }
  }

  /** Throws when `n` more characters would make the output longer than maxLength. */
  #fit(n: number): void {
    if (this.#length + n > this.#maxLength) {
      throw new BtfError(`format BTF as C: the header would be longer than ${this.#maxLength} characters (anonymous types nested in each other many times, or BTF that is not a kernel's); select fewer types with the ids option, or raise maxLength`);
    }
  }

  /** Appends `a + b`, checked against maxLength before the string is built. */
  #cat(a: string, b: string): string {
    this.#fit(a.length + b.length);
    return a + b;
  }

  #emit(s: string): void {
    this.#fit(s.length);
    this.#out.push(s);
    this.#length += s.length;
  }

  run(ids: Iterable<number> | undefined, header: boolean, guard: string): string {
    const out = this.#out;
    if (header) {
      this.#emit(`#ifndef ${guard}\n#define ${guard}\n\n`);
      this.#emit("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n");
    }
    if (ids) {
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id >= this.#btf.count) throw new BtfError(`format BTF as C: type id ${id} is out of range (BTF has ${this.#btf.count} types)`);
        this.#top(id);
      }
    } else {
      for (let id = 1; id < this.#btf.count; id++) this.#top(id);
    }
    if (header) {
      this.#emit("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n");
      this.#emit(`#endif /* ${guard} */\n`);
    }
    return out.join("");
  }

  /** A type visited by the top-level loop: named types are emitted with what they need first. */
  #top(id: number): void {
    const k = this.#btf.kindOf(id);
    if (k !== "struct" && k !== "union" && k !== "enum" && k !== "enum64" && k !== "fwd" && k !== "typedef") return;
    const t = this.#btf.type(id);
    switch (t.kind) {
      case "struct": case "union":
        if (t.name !== "") this.#need(id, true, 0);
        break;
      case "enum": case "enum64":
        if (t.name !== "") this.#need(id, true, 0);
        else if (!this.#referenced[id] && !(this.#state[id]! & DECLARED)) {
          this.#state[id]! |= DECLARED;
          this.#emit(`${this.#enumBody(t, 0)};\n\n`);
        }
        break;
      case "fwd": case "typedef":
        this.#need(id, true, 0);
        break;
      default:
        break;
    }
  }

  // ---- ordering: emit what a use of a type needs ----

  /**
   * Makes type `id` usable: declared (`full` false: enough behind a pointer or in a prototype) or
   * complete (`full` true: enough to embed by value). `cont` is the named struct whose definition
   * is being emitted around this use (it needs no forward declaration inside itself), or 0.
   */
  #need(id: number, full: boolean, cont: number): void {
    const st = this.#state;
    const s = st[id]!;
    if (s & DEFINED) return;
    if (++this.#depth > MAX_DEPTH) throw new BtfError(`format BTF as C: types nest more than ${MAX_DEPTH} deep at type ${id} (a loop?)`);
    try {
      const t = this.#btf.type(id);
      switch (t.kind) {
        case "void": case "int": case "float":
          st[id] = DECLARED | DEFINED;
          return;
        case "ptr":
          this.#need(t.typeId, false, cont);
          return;
        case "const": case "volatile": case "restrict": case "type_tag":
          this.#need(t.typeId, full, cont);
          return;
        case "array":
          this.#need(t.elemTypeId, true, cont);
          return;
        case "func_proto":
          this.#need(t.returnTypeId, false, cont);
          for (const p of t.params) this.#need(p.typeId, false, cont);
          return;
        case "struct": case "union": {
          if (t.name === "") {
            // Written inline: whatever its members need, it needs. Anonymous types cannot form
            // cycles in valid BTF; EMITTING catches malformed input.
            if (s & EMITTING) throw new BtfError(`format BTF as C: anonymous ${t.kind} ${id} contains itself`);
            st[id] = s | EMITTING;
            for (const m of t.members) this.#need(m.typeId, true, cont);
            st[id]! &= ~EMITTING;
            return;
          }
          if (!full) {
            if (s & DECLARED || ((s & EMITTING) && cont === id)) return;
            this.#emit(`${t.kind} ${this.#tagName(id)};\n\n`);
            st[id] = s | DECLARED;
            return;
          }
          if (s & EMITTING) throw new BtfError(`format BTF as C: ${t.kind} ${t.name} (type ${id}) contains itself by value`);
          st[id] = s | EMITTING;
          // First what the members embed by value, then declarations for what they point to:
          // a struct defined in the first pass needs no forward declaration in the second.
          for (const m of t.members) this.#byValue(m.typeId, id);
          for (const m of t.members) this.#need(m.typeId, true, id);
          this.#emit(`${this.#structBody(t, 0)}${this.#typeDeclTags(id)};\n\n`);
          st[id] = DECLARED | DEFINED;
          return;
        }
        case "enum": case "enum64":
          if (t.name !== "" && !(s & DECLARED)) this.#emit(`${this.#enumBody(t, 0)};\n\n`);
          st[id] = DECLARED | DEFINED;
          return;
        case "fwd":
          this.#emit(`${t.union ? "union" : "struct"} ${t.name};\n\n`);
          st[id] = DECLARED | DEFINED;
          return;
        case "typedef": {
          if (s & EMITTING) {
            // Used again while its target is being completed: only legal through a pointer
            // (`typedef struct S T; struct S { T *next; }`). Declare it now, before the target.
            if (full) throw new BtfError(`format BTF as C: typedef ${t.name} (type ${id}) contains itself by value`);
            if (!(s & DECLARED)) {
              this.#need(t.typeId, false, id);
              this.#emitTypedef(id, t.typeId);
              st[id]! |= DECLARED;
            }
            return;
          }
          if (!(s & DECLARED)) {
            st[id] = s | EMITTING;
            // Complete the target first when the typedef is used by value (so `struct foo` is
            // defined before `typedef struct foo foo_t`), else only what the declaration needs.
            this.#need(t.typeId, full, id);
            if (!(st[id]! & DECLARED)) this.#emitTypedef(id, t.typeId);
            st[id] = DECLARED | (full ? DEFINED : 0);
            return;
          }
          if (full) {
            st[id] = s | EMITTING;
            this.#need(t.typeId, true, id);
            st[id] = DECLARED | DEFINED;
          }
          return;
        }
        default:
          // func, var, datasec, decl_tag: not part of a C type.
          return;
      }
    } finally {
      this.#depth--;
    }
  }

  /** Completes the types that `id` embeds by value, without following pointers or prototypes. */
  #byValue(id: number, cont: number): void {
    if (this.#depth > MAX_DEPTH) throw new BtfError(`format BTF as C: types nest more than ${MAX_DEPTH} deep at type ${id} (a loop?)`);
    for (let i = 0; i < MAX_DEPTH; i++) {
      const t = this.#btf.type(id);
      switch (t.kind) {
        case "const": case "volatile": case "restrict": case "type_tag": id = t.typeId; continue;
        case "array": id = t.elemTypeId; continue;
        case "struct": case "union":
          if (t.name !== "") this.#need(id, true, cont);
          else {
            this.#depth++;
            try {
              for (const m of t.members) this.#byValue(m.typeId, cont);
            } finally {
              this.#depth--;
            }
          }
          return;
        case "typedef": case "enum": case "enum64":
          this.#need(id, true, cont);
          return;
        default:
          return;
      }
    }
  }

  #emitTypedef(id: number, target: number): void {
    if (this.#isBuiltinVaList(id)) return;
    const name = this.#identName(id);
    this.#emit(`typedef ${this.#decl(target, name, 0, false)}${this.#typeDeclTags(id)};\n\n`);
  }

  // ---- names ----

  #resolve(id: number, name: string, map: Map<string, number>): string {
    const cached = this.#names[id];
    if (cached !== undefined) return cached;
    const n = (map.get(name) ?? 0) + 1;
    map.set(name, n);
    const r = n > 1 ? `${name}___${n}` : name;
    this.#names[id] = r;
    return r;
  }

  /** Tag name of a struct/union/enum, with a `___N` suffix when an earlier different type took it. */
  #tagName(id: number): string {
    const t = this.#btf.type(id);
    if (t.kind === "fwd" || ((t.kind === "enum" || t.kind === "enum64") && t.values.length === 0)) return t.name;
    return this.#resolve(id, t.name, this.#tagNames);
  }

  #identName(id: number): string {
    return this.#resolve(id, this.#btf.type(id).name, this.#identNames);
  }

  /** Enumerator names share the ordinary identifier namespace with typedefs; each use counts. */
  #enumerator(name: string): string {
    const n = (this.#identNames.get(name) ?? 0) + 1;
    this.#identNames.set(name, n);
    return n > 1 ? `${name}___${n}` : name;
  }

  // ---- declarations ----

  /**
   * The typedef `__builtin_va_list` is predefined by clang, differently per target (`char *` for
   * BPF, `struct __va_list_tag [1]` in x86-64 kernel BTF). It is never defined; uses of it are
   * written as the BTF's own definition, so layouts stay the kernel's.
   */
  #isBuiltinVaList(id: number): boolean {
    return this.#btf.kindOf(id) === "typedef" && this.#btf.type(id).name === "__builtin_va_list";
  }

  #declTagAttrs(id: number, component: number): string {
    const tags = this.#declTagIndex.get(id);
    if (!tags) return "";
    let s = "";
    for (const [c, v] of tags) if (c === component) s += ` __attribute__((btf_decl_tag(${JSON.stringify(v)})))`;
    return s;
  }

  #typeDeclTags(id: number): string { return this.#declTags ? this.#declTagAttrs(id, -1) : ""; }

  /** True when `id`, after qualifiers and type tags, is a pointer. */
  #isPointer(id: number): boolean {
    for (let i = 0; i < MAX_DEPTH; i++) {
      const t = this.#btf.type(id);
      if (t.kind === "ptr") return true;
      if (t.kind === "const" || t.kind === "volatile" || t.kind === "restrict" || t.kind === "type_tag") { id = t.typeId; continue; }
      return false;
    }
    return false;
  }

  /**
   * The C declaration of `inner` (a declarator: a name, `*name`, `(*name)[4]`, ...) with type `id`,
   * e.g. `#decl(ptr to char, "p")` is `char *p`. `underPtr`: `id` is the target of a pointer;
   * `fnRet`: `id` is a function's return type (libbpf writes `char * (*fn)(void)`).
   */
  #decl(id: number, inner: string, lvl: number, underPtr: boolean, fnRet = false): string {
    const t = this.#btf.type(id);
    const join = (base: string) => (inner === "" ? base : `${base} ${inner}`);
    const paren = () => (inner.startsWith("*") || inner.startsWith("__attribute__") ? `(${inner})` : inner);
    switch (t.kind) {
      case "void": return join("void");
      case "int": case "float": return join(t.name);
      case "typedef":
        if (this.#isBuiltinVaList(id)) return this.#decl((t as { typeId: number }).typeId, inner, lvl, underPtr, fnRet);
        return join(this.#identName(id));
      case "struct": case "union":
        return join(t.name !== "" ? `${t.kind} ${this.#tagName(id)}` : this.#structBody(t, lvl));
      case "enum": case "enum64":
        return join(t.name !== "" ? `enum ${this.#tagName(id)}` : this.#enumBody(t, lvl));
      case "fwd": return join(`${t.union ? "union" : "struct"} ${t.name}`);
      case "ptr":
        // `char *p`, `char * const p`, and libbpf's `char * (*fn)(void)` for a returned pointer.
        return this.#decl(t.typeId, inner === "" ? "*" : QUALIFIER.test(inner) || (fnRet && inner.startsWith("(")) ? `* ${inner}` : `*${inner}`, lvl, true);
      case "const": case "volatile": case "restrict":
        // A qualified pointer: the qualifier goes after the `*` (`char * const p`).
        if (this.#isPointer(t.typeId)) return this.#decl(t.typeId, inner === "" ? t.kind : `${t.kind} ${inner}`, lvl, underPtr, fnRet);
        {
          // `const` on an array qualifies its elements, which may already be const: say it once.
          const r = this.#decl(t.typeId, inner, lvl, underPtr);
          const lead = /^((?:const|volatile|restrict) )*/.exec(r)![0];
          return lead.includes(`${t.kind} `) ? r : `${t.kind} ${r}`;
        }
      case "type_tag": {
        if (!this.#typeTags || !underPtr) return this.#decl(t.typeId, inner, lvl, underPtr, fnRet);
        const attr = `__attribute__((btf_type_tag(${JSON.stringify(t.name)})))`;
        return this.#decl(t.typeId, inner === "" ? attr : `${attr} ${inner}`, lvl, underPtr);
      }
      case "array":
        return this.#decl(t.elemTypeId, `${paren()}[${t.nelems}]`, lvl, false);
      case "func_proto": {
        const ps = t.params;
        let params: string;
        if (ps.length === 0) params = "void";
        else {
          const parts: string[] = [];
          let len = 0;
          for (let i = 0; i < ps.length; i++) {
            const p = ps[i]!;
            const part = p.typeId === 0 && i === ps.length - 1 && i > 0 ? "..." : this.#decl(p.typeId, p.name, lvl, false);
            len += part.length + 2;
            this.#fit(len);
            parts.push(part);
          }
          params = parts.join(", ");
        }
        return this.#decl(t.returnTypeId, `${paren()}(${params})`, lvl, false, true);
      }
      default:
        throw new BtfError(`format BTF as C: type ${id} (${t.kind}) cannot appear in a declaration`);
    }
  }

  #enumBody(t: BtfEnum, lvl: number): string {
    let s = t.name !== "" ? `enum ${this.#tagName(t.id)}` : "enum";
    if (t.values.length === 0) return s;
    s += " {";
    const ind = "\t".repeat(lvl + 1);
    let fits32 = true;
    for (const v of t.values) {
      s = this.#cat(s, `\n${ind}${this.#enumerator(v.name)} = ${enumLiteral(t, v.value)},`);
      if (v.value < -(2n ** 31n) || v.value >= 2n ** 32n) fits32 = false;
    }
    s += `\n${"\t".repeat(lvl)}}`;
    // C sizes an enum by its values; force the BTF size when it differs.
    if (t.size === 1) s += " __attribute__((mode(byte)))";
    else if (t.size === 2) s += " __attribute__((mode(HI)))";
    else if (t.size === 8 && fits32) s += " __attribute__((mode(word)))";
    return s;
  }

  #structBody(t: BtfComposite, lvl: number): string {
    const L = this.#layouts.layout(t.id);
    const ind = "\t".repeat(lvl + 1);
    let s = t.name !== "" ? `${t.kind} ${this.#tagName(t.id)} {` : `${t.kind} {`;
    const tags = this.#declTags ? this.#declTagIndex.get(t.id) : undefined;
    const ms = t.members;
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i]!;
      const pad = L.before[i];
      if (pad) for (const p of pad) s = this.#cat(s, `\n${ind}${p};`);
      s = this.#cat(s, `\n${ind}${this.#decl(m.typeId, m.name, lvl + 1, false)}${m.bitfieldSize ? `: ${m.bitfieldSize}` : ""}${tags ? this.#declTagAttrs(t.id, i) : ""};`);
    }
    for (const p of L.tail) s = this.#cat(s, `\n${ind}${p};`);
    s += ms.length || L.tail.length ? `\n${"\t".repeat(lvl)}}` : "}";
    if (L.packed) s += " __attribute__((packed))";
    return s;
  }
}

/**
 * Writes BTF as a C header that clang compiles (vmlinux.h): every named struct, union, enum and
 * typedef, in dependency order, with forward declarations where a type is used only through a
 * pointer, the exact BTF layout (bitfields, padding, `packed`), and `___N` suffixes for
 * conflicting names. Functions, variables and data sections are not written.
 *
 * ```ts
 * writeFileSync("vmlinux.h", formatBtfAsC(loadKernelBtf()));
 * ```
 *
 * Throws BtfError on BTF that has no C equivalent (a struct containing itself by value, a type
 * loop); the parser's own errors for malformed BTF pass through.
 */
export function formatBtfAsC(btf: Btf, opts: FormatCOptions = {}): string {
  return new CFormatter(btf, opts).run(opts.ids, opts.header ?? true, opts.guard ?? "__VMLINUX_H__");
}
