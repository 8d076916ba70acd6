/**
 * The BPF disassembler: instructions as text in llvm-objdump's BPF syntax, byte for byte what
 * `llvm-objdump-19 -d` prints (`r1 = 0 ll`, `call 1`, `lock *(u64 *)(r0 + 0) += r1`,
 * `if r0 == 0 goto +2 <LBB0_2>`), including its treatment of invalid encodings (`<unknown>`), runs
 * of zero bytes (`...`), symbol headers and jump-target labels. On top of that, an annotated mode
 * names what objdump leaves as numbers (helpers, maps, subprograms) and a source mode prints the C
 * line from .BTF.ext above each block, as `llvm-objdump -S` does from DWARF.
 *
 * Pure: no kernel, no file system.
 *
 * @example
 * ```ts
 * import { disassemble } from "tsbpf";
 * for (const line of disassemble(prog.instructions, { name: prog.name, annotate: true })) console.log(line);
 * //
 * // 0000000000000000 <count_packets>:
 * //        0:	r1 = 0
 * //        ...
 * //        6:	call 1 ; bpf_map_lookup_elem
 * ```
 */
import { ArgumentError } from "../errors.js";
import { parseElf, Machine, SectionFlags, SectionType, SymbolType, SectionIndex, type ElfFile, type ElfSection, type ElfSymbol } from "../elf/index.js";
import { Btf } from "../btf/btf.js";
import { parseBtfExt } from "../btf/ext.js";
import type { InsnRelocation, ProgramSpec } from "../spec/types.js";
import { helperName } from "./helpers.js";

/** How instructions are rendered. */
export interface DisasmFormatOptions {
  /**
   * Immediates and offsets in hex (`r1 = 0x1`, `goto +0x2`), which is llvm-objdump 19's default
   * (`--print-imm-hex`). Default false: decimal, as `--no-print-imm-hex` and older objdumps print
   * (`r1 = 1`, `goto +2`).
   */
  hex?: boolean;
  /**
   * Decode as `llvm-objdump --mattr=+alu32` does: 32-bit loads, stores and atomics name w
   * registers (`w1 = *(u32 *)(r2 + 0)`, `w2 = atomic_fetch_add((u32 *)(r1 + 0), w2)`). Default
   * false, which is what a plain `llvm-objdump -d` prints (it cannot know the object's -mcpu):
   * r registers, and 32-bit atomics other than add shown as `<unknown>`.
   */
  alu32?: boolean;
}

/** One instruction decoded to text. */
export interface DecodedInstruction {
  /** Bytes consumed: 8, 16 for ld_imm64, or 1 when fewer bytes remain than the instruction needs (objdump then steps one byte). */
  size: number;
  /** The instruction in objdump syntax, without a jump-target label; `<unknown>` when invalid. */
  text: string;
  valid: boolean;
  /** Jumps only: the target's byte offset relative to the instruction stream's start (may lie outside it). */
  target?: number;
}

const UNKNOWN = "<unknown>";
const SIZE_NAMES = ["u32", "u16", "u8", "u64"] as const;
const ALU_OPS: Record<number, string> = {
  0x00: "+=", 0x10: "-=", 0x20: "*=", 0x30: "/=", 0x40: "|=", 0x50: "&=", 0x60: "<<=", 0x70: ">>=",
  0x90: "%=", 0xa0: "^=", 0xc0: "s>>=",
};
const JMP_OPS: Record<number, string> = {
  0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=", 0x60: "s>", 0x70: "s>=", 0xa0: "<",
  0xb0: "<=", 0xc0: "s<", 0xd0: "s<=",
};
const ATOMIC_FETCH: Record<number, string> = { 0x01: "add", 0x41: "or", 0x51: "and", 0xa1: "xor" };
const ATOMIC_NOFETCH: Record<number, string> = { 0x00: "+=", 0x40: "|=", 0x50: "&=", 0xa0: "^=" };

function fmt(v: number | bigint, hex: boolean): string {
  if (!hex) return v.toString();
  return v < 0 ? `-0x${(-BigInt(v)).toString(16)}` : `0x${v.toString(16)}`;
}

/**
 * Decodes one instruction at byte `offset` of `bytes` into llvm-objdump's text. Mirrors LLVM 19's
 * BPF decoder: fields the encoding reserves are checked exactly where LLVM checks them (for
 * example `exit` with a nonzero imm, or a register above r11, is `<unknown>`), and ignored where
 * LLVM ignores them.
 */
export function disassembleInstruction(bytes: Uint8Array, offset = 0, opts: DisasmFormatOptions & { littleEndian?: boolean } = {}): DecodedInstruction {
  const avail = bytes.length - offset;
  if (avail < 8) return { size: 1, text: UNKNOWN, valid: false };
  const le = opts.littleEndian ?? true;
  const hex = opts.hex ?? false;
  const alu32 = opts.alu32 ?? false;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, Math.min(avail, 16));
  const op = bytes[offset]!;
  const regs = bytes[offset + 1]!;
  const dst = le ? regs & 0xf : regs >> 4;
  const src = le ? regs >> 4 : regs & 0xf;
  const off = dv.getInt16(2, le);
  const imm = dv.getInt32(4, le);
  const f = (v: number | bigint) => fmt(v, hex);
  const ok = (text: string, target?: number): DecodedInstruction => ({ size: 8, text, valid: true, target });
  const bad: DecodedInstruction = { size: 8, text: UNKNOWN, valid: false };
  const regOk = (r: number) => r <= 11;
  const mem = (base: number) => `(r${base} ${off >= 0 ? "+" : "-"} ${f(Math.abs(off))})`;
  const rel = (v: number) => `${v >= 0 ? "+" : ""}${f(v)}`;
  const cls = op & 7;

  switch (cls) {
    case 0x04: // ALU
    case 0x07: { // ALU64
      const r = cls === 0x07 ? "r" : "w";
      const aop = op & 0xf0;
      const x = (op & 0x08) !== 0;
      if (!regOk(dst)) return bad;
      if (aop === 0x80) return x ? bad : ok(`${r}${dst} = -${r}${dst}`); // NEG: src, off, imm ignored
      if (aop === 0xd0) {
        if (imm !== 16 && imm !== 32 && imm !== 64) return bad;
        if (cls === 0x04) return ok(`r${dst} = ${x ? "be" : "le"}${imm} r${dst}`);
        return x ? bad : ok(`r${dst} = bswap${imm} r${dst}`);
      }
      if (aop === 0xe0 || aop === 0xf0) return bad;
      if (x && !regOk(src)) return bad;
      const rhs = x ? `${r}${src}` : f(imm);
      if (aop === 0xb0) {
        if (off === 0) return ok(`${r}${dst} = ${rhs}`);
        if (!x) return bad;
        if (off === 8 || off === 16 || (off === 32 && cls === 0x07)) return ok(`${r}${dst} = (s${off})${r}${src}`);
        if (off === 1 && cls === 0x07) return ok(`r${dst} = addr_space_cast(r${src}, ${f(imm >>> 16)}, ${f(imm & 0xffff)})`);
        return bad;
      }
      if (aop === 0x30 || aop === 0x90) {
        if (off !== 0 && off !== 1) return bad;
        return ok(`${r}${dst} ${off ? "s" : ""}${ALU_OPS[aop]} ${rhs}`);
      }
      if (off !== 0) return bad;
      return ok(`${r}${dst} ${ALU_OPS[aop]} ${rhs}`);
    }
    case 0x05: // JMP
    case 0x06: { // JMP32
      const jop = op & 0xf0;
      const x = (op & 0x08) !== 0;
      if (cls === 0x05) {
        if (op === 0x05) return ok(`goto ${rel(off)}`, offset + 8 + off * 8);
        if (op === 0x85) return ok(`call ${f(imm)}`);
        if (op === 0x8d) return regOk(dst) ? ok(`callx r${dst}`) : bad;
        if (op === 0x95) return imm === 0 ? ok("exit") : bad;
        if (op === 0xe5) return ok(`may_goto ${rel(off)}`, offset + 8 + off * 8);
      } else if (op === 0x06) {
        return ok(`gotol ${rel(imm)}`, offset + 8 + imm * 8);
      }
      const sym = JMP_OPS[jop];
      if (!sym) return bad;
      const r = cls === 0x05 ? "r" : "w";
      if (!regOk(dst) || (x && !regOk(src))) return bad;
      return ok(`if ${r}${dst} ${sym} ${x ? `${r}${src}` : f(imm)} goto ${rel(off)}`, offset + 8 + off * 8);
    }
    case 0x00: { // LD
      if (op === 0x18) {
        if (off !== 0 || !regOk(dst)) return bad;
        if (avail < 16) return { size: 1, text: UNKNOWN, valid: false };
        const hi = dv.getInt32(12, le);
        if (src !== 0) return { size: 16, text: `ld_pseudo\tr${dst}, ${f(src)}, ${f(imm >>> 0)}`, valid: true };
        const v = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(imm >>> 0));
        return { size: 16, text: `r${dst} = ${f(v)} ll`, valid: true };
      }
      const mode = op & 0xe0;
      const size = (op & 0x18) >> 3;
      if (size === 3) return bad;
      if (mode === 0x20) return ok(`r0 = *(${SIZE_NAMES[size]} *)skb[${f(imm)}]`);
      if (mode === 0x40) return regOk(src) ? ok(`r0 = *(${SIZE_NAMES[size]} *)skb[r${src}]`) : bad;
      return bad;
    }
    case 0x01: { // LDX
      const mode = op & 0xe0;
      const size = (op & 0x18) >> 3;
      if (!regOk(dst) || !regOk(src)) return bad;
      if (mode === 0x60) return ok(`${alu32 && size !== 3 ? "w" : "r"}${dst} = *(${SIZE_NAMES[size]} *)${mem(src)}`);
      if (mode === 0x80 && size !== 3) return ok(`r${dst} = *(${SIZE_NAMES[size]!.replace("u", "s")} *)${mem(src)}`);
      return bad;
    }
    case 0x02: { // ST
      if ((op & 0xe0) !== 0x60 || !regOk(dst)) return bad;
      return ok(`*(${SIZE_NAMES[(op & 0x18) >> 3]} *)${mem(dst)} = ${f(imm)}`);
    }
    case 0x03: { // STX
      const mode = op & 0xe0;
      const size = (op & 0x18) >> 3;
      if (!regOk(dst) || !regOk(src)) return bad;
      if (mode === 0x60) return ok(`*(${SIZE_NAMES[size]} *)${mem(dst)} = ${alu32 && size !== 3 ? "w" : "r"}${src}`);
      if (mode !== 0xc0 || (size !== 0 && size !== 3)) return bad;
      const w = size === 0;
      const low = imm & 0xff;
      if (w && !alu32) {
        // Without alu32, LLVM knows only the 32-bit lock add (imm bits 7-4 zero; the rest ignored).
        return (imm & 0xf0) === 0 ? ok(`lock *(u32 *)${mem(dst)} += r${src}`) : bad;
      }
      const r = w ? "w" : "r";
      const ty = w ? "u32" : "u64";
      if (ATOMIC_FETCH[low]) return ok(`${r}${src} = atomic_fetch_${ATOMIC_FETCH[low]}((${ty} *)${mem(dst)}, ${r}${src})`);
      if (low === 0xe1) return ok(`${r}${src} = xchg${w ? "32_32" : "_64"}(${mem(dst).slice(1, -1)}, ${r}${src})`);
      if (low === 0xf1) return ok(`${r}0 = cmpxchg${w ? "32_32" : "_64"}(${mem(dst).slice(1, -1)}, ${r}0, ${r}${src})`);
      const nofetch = ATOMIC_NOFETCH[imm & 0xf0];
      return nofetch ? ok(`lock *(${ty} *)${mem(dst)} ${nofetch} ${r}${src}`) : bad;
    }
  }
  return bad;
}

// ---------------------------------------------------------------------------------------------
// Listings

/** A name for an instruction index: a function, or a label inside one. */
export interface DisasmSymbol {
  /** Instruction (slot) index. */
  index: number;
  name: string;
  /** ELF symbol type (`SymbolType.*`); decides which of several symbols at one index is shown, as objdump does. Default FUNC. */
  type?: number;
}

/** Source lines to show above instructions (from .BTF.ext line info; `insnOff` is an instruction index). */
export interface DisasmLineInfo {
  insnOff: number;
  text: string;
  fileName?: string;
  line?: number;
}

/** Options of {@link disassemble} and {@link disassembleLines}. */
export interface DisassembleOptions extends DisasmFormatOptions {
  /** Byte order of the instructions. Default little-endian. */
  littleEndian?: boolean;
  /** Show each instruction's bytes, as objdump does by default. Default false (`--no-show-raw-insn`). */
  rawBytes?: boolean;
  /**
   * Named instruction indexes (functions, labels). Each gets an objdump header
   * (`0000000000000050 <LBB0_2>:`) and jump targets are labelled from them (`<LBB0_2>`,
   * `<count_packets+0x50>`). Without symbols and without `name`, no headers or target labels.
   */
  symbols?: readonly DisasmSymbol[];
  /** Name of the header at instruction 0 when no symbol is there (objdump uses the section's name). */
  name?: string;
  /**
   * Add comments naming what the instruction refers to: helper names (`call 1 ; bpf_map_lookup_elem`),
   * maps of `relocations` (`r1 = 0 ll ; map pkt_count`), subprograms of bpf-to-bpf calls, and what
   * a `<unknown>` is when only alu32 decoding knows it (`; alu32: w0 = atomic_fetch_or(...)`).
   * Comments only ever append ` ; ...` to objdump's line.
   */
  annotate?: boolean;
  /** Relocations (as in a `ProgramSpec`) whose map and extern names the annotations show. */
  relocations?: readonly InsnRelocation[];
  /** Extra comments by instruction index (shown with `annotate`). */
  comments?: ReadonlyMap<number, string>;
  /** Line info; with `source`, each line's text is printed above its first instruction as `; text`. */
  lineInfo?: readonly DisasmLineInfo[];
  /** Print source lines from `lineInfo`. Default false. */
  source?: boolean;
}

/** One line of a listing, structured (for `--json` and tooling). */
export type DisasmLine =
  | { kind: "header"; index: number; /** Byte offset (objdump prints it in hex). */ address: number; name: string }
  | { kind: "source"; index: number; text: string; fileName?: string; line?: number }
  | { kind: "skip"; index: number; bytes: number }
  /** Bytes under an OBJECT symbol in code, which objdump dumps as data (up to 8 per line). */
  | { kind: "data"; index: number; address: number; bytes: Uint8Array }
  | {
    kind: "insn";
    /** Instruction index (byte offset / 8, as objdump numbers them). */
    index: number;
    bytes: Uint8Array;
    text: string;
    valid: boolean;
    /** Jump target label, e.g. `LBB0_2` or `count_packets+0x50`. */
    label?: string;
    comment?: string;
  };

interface SortedSym { addr: bigint; name: string; type: number }

function sortSymbols(syms: SortedSym[]): SortedSym[] {
  // objdump's order: (address, ELF type, name); at one address the last one is shown.
  return syms.slice().sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.type - b.type || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
}

const U64 = (1n << 64n) - 1n;

function targetLabel(syms: readonly SortedSym[], target: bigint): string | undefined {
  const t = target & U64;
  let lo = 0, hi = syms.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (syms[mid]!.addr <= t) lo = mid + 1; else hi = mid;
  }
  if (lo === 0) return undefined;
  const s = syms[lo - 1]!;
  const disp = t - s.addr;
  return disp === 0n ? s.name : `${s.name}+0x${disp.toString(16)}`;
}

function countZeros(bytes: Uint8Array, from: number, to: number): number {
  let n = 0;
  while (from + n < to && bytes[from + n] === 0) n++;
  return n < 8 ? 0 : n & ~3;
}

interface RangeContext {
  bytes: Uint8Array;
  opts: DisassembleOptions;
  syms: SortedSym[];
  comments: Map<number, string>;
  source: Map<number, DisasmLineInfo>;
  lastSource: { key?: string };
}

function annotationFor(ctx: RangeContext, index: number, d: DecodedInstruction, byteOff: number): string | undefined {
  const extra = ctx.comments.get(index);
  if (extra !== undefined) return extra;
  if (!d.valid) {
    // objdump without alu32 cannot decode clang's 32-bit atomics (-mcpu=v3+); say what they are.
    if (ctx.opts.alu32) return undefined;
    const a = disassembleInstruction(ctx.bytes, byteOff, { ...ctx.opts, alu32: true });
    return a.valid ? `alu32: ${a.text}` : undefined;
  }
  const le = ctx.opts.littleEndian ?? true;
  const op = ctx.bytes[byteOff]!;
  const regs = ctx.bytes[byteOff + 1]!;
  const src = le ? regs >> 4 : regs & 0xf;
  const imm = new DataView(ctx.bytes.buffer, ctx.bytes.byteOffset + byteOff + 4, 4).getInt32(0, le);
  if (op === 0xc3 && !ctx.opts.alu32 && (imm & 0x0f) === 1) {
    // objdump shows a 32-bit fetch-add as a plain lock add unless it decodes with alu32.
    return `alu32: ${disassembleInstruction(ctx.bytes, byteOff, { ...ctx.opts, alu32: true }).text}`;
  }
  const symAt = (slot: number) => {
    const addr = BigInt(slot) * 8n;
    for (let i = ctx.syms.length - 1; i >= 0; i--) if (ctx.syms[i]!.addr === addr) return ctx.syms[i]!.name;
    return undefined;
  };
  if (op === 0x85) {
    if (src === 0) return helperName(imm);
    if (src === 1) return symAt(index + 1 + imm) ?? `insn ${index + 1 + imm}`;
    return undefined;
  }
  if (op === 0x18 && src === 4) return symAt(index + 1 + imm) ?? `insn ${index + 1 + imm}`;
  return undefined;
}

function relocationComment(r: InsnRelocation): string {
  switch (r.kind) {
    case "map": return `map ${r.map}`;
    case "mapValue": return r.offset ? `map ${r.map} + ${r.offset}` : `map ${r.map}`;
    case "kconfig": return `kconfig ${r.name}`;
    case "ksym": return `ksym ${r.name}`;
    case "kfunc": return `kfunc ${r.name}`;
  }
}

/** Decodes bytes [start, end) of `ctx.bytes` as objdump does one symbol's range. */
function listRange(ctx: RangeContext, start: number, end: number, out: DisasmLine[]): void {
  const { bytes, opts } = ctx;
  let i = start;
  while (i < end) {
    const index = Math.floor(i / 8);
    if (opts.source && i % 8 === 0) {
      const li = ctx.source.get(index);
      if (li && li.text) {
        const key = `${li.fileName ?? ""}:${li.line ?? li.text}`;
        if (key !== ctx.lastSource.key) {
          ctx.lastSource.key = key;
          out.push({ kind: "source", index, text: li.text, fileName: li.fileName, line: li.line });
        }
      }
    }
    const z = countZeros(bytes, i, end);
    if (z) {
      out.push({ kind: "skip", index, bytes: z });
      i += z;
      continue;
    }
    const d = disassembleInstruction(bytes, i, opts);
    const line: DisasmLine = { kind: "insn", index, bytes: bytes.subarray(i, i + d.size), text: d.text, valid: d.valid };
    if (d.target !== undefined && ctx.syms.length) line.label = targetLabel(ctx.syms, BigInt(d.target));
    if (opts.annotate) {
      const c = annotationFor(ctx, index, d, i);
      if (c) line.comment = c;
    }
    out.push(line);
    i += d.size;
  }
}

function rangeContext(bytes: Uint8Array, opts: DisassembleOptions, syms: SortedSym[], extraComments?: ReadonlyMap<number, string>): RangeContext {
  const comments = new Map<number, string>();
  for (const r of opts.relocations ?? []) comments.set(r.insn, relocationComment(r));
  for (const [k, v] of extraComments ?? []) comments.set(k, v);
  for (const [k, v] of opts.comments ?? []) comments.set(k, v);
  const source = new Map<number, DisasmLineInfo>();
  for (const l of opts.lineInfo ?? []) if (!source.has(l.insnOff)) source.set(l.insnOff, l);
  return { bytes, opts, syms, comments, source, lastSource: {} };
}

interface Block { start: number; end: number; sym: SortedSym; data: boolean }

/**
 * Groups sorted symbols into objdump's blocks: [start, end) with the one symbol shown (the last at
 * its address, or the first OBJECT one, whose block objdump dumps as data).
 */
function blocks(syms: readonly SortedSym[], size: number): Block[] {
  const out: Block[] = [];
  for (let i = 0; i < syms.length;) {
    let j = i;
    while (j + 1 < syms.length && syms[j + 1]!.addr === syms[i]!.addr) j++;
    const start = syms[i]!.addr;
    const end = j + 1 < syms.length ? syms[j + 1]!.addr : BigInt(size);
    const obj = syms.slice(i, j + 1).find((s) => s.type === SymbolType.OBJECT || s.type === SymbolType.COMMON);
    if (start < BigInt(size)) out.push({ start: Number(start), end: Number(end < BigInt(size) ? end : BigInt(size)), sym: obj ?? syms[j]!, data: !!obj });
    i = j + 1;
  }
  return out;
}

function listData(bytes: Uint8Array, start: number, end: number, out: DisasmLine[]): void {
  for (let i = start; i < end; i += 8) {
    out.push({ kind: "data", index: Math.floor(i / 8), address: i, bytes: bytes.subarray(i, Math.min(end, i + 8)) });
  }
}

/**
 * Disassembles a program into structured lines (headers, source lines, instructions). See
 * {@link disassemble} for the rendered form.
 *
 * @throws {ArgumentError} when a symbol index is negative or not an integer.
 */
export function disassembleLines(insns: Uint8Array, opts: DisassembleOptions = {}): DisasmLine[] {
  const syms: SortedSym[] = [];
  for (const s of opts.symbols ?? []) {
    if (!Number.isInteger(s.index) || s.index < 0) throw new ArgumentError(`disassemble: symbol ${s.name} has invalid instruction index ${s.index}`);
    syms.push({ addr: BigInt(s.index) * 8n, name: s.name, type: s.type ?? SymbolType.FUNC });
  }
  if (opts.name !== undefined && !syms.some((s) => s.addr === 0n)) syms.push({ addr: 0n, name: opts.name, type: SymbolType.FUNC });
  const sorted = sortSymbols(syms);
  const ctx = rangeContext(insns, opts, sorted);
  const out: DisasmLine[] = [];
  if (!sorted.length) {
    listRange(ctx, 0, insns.length, out);
    return out;
  }
  for (const b of blocks(sorted, insns.length)) {
    out.push({ kind: "header", index: Math.floor(b.start / 8), address: b.start, name: b.sym.name });
    if (b.data) listData(insns, b.start, b.end, out);
    else listRange(ctx, b.start, b.end, out);
  }
  return out;
}

const hexByte = (b: number) => b.toString(16).padStart(2, "0");

/** Renders structured lines exactly as llvm-objdump prints them (headers preceded by a blank line). */
export function renderLines(lines: readonly DisasmLine[], opts: { rawBytes?: boolean; annotate?: boolean } = {}): string[] {
  const out: string[] = [];
  for (const l of lines) {
    switch (l.kind) {
      case "header":
        out.push("", `${l.address.toString(16).padStart(16, "0")} <${l.name}>:`);
        break;
      case "source":
        out.push(`; ${l.text}`);
        break;
      case "skip":
        out.push("\t\t...");
        break;
      case "data": {
        const ascii = [...l.bytes].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
        out.push(`${l.address.toString(16).padStart(8)}:${[...l.bytes].map((b) => ` ${hexByte(b)}`).join("")}${" ".repeat(3 * (8 - l.bytes.length) + 9)}${ascii}`);
        break;
      }
      case "insn": {
        let s = `${String(l.index).padStart(8)}:\t`;
        if (opts.rawBytes) s += `${[...l.bytes].map(hexByte).join(" ")}\t`;
        s += l.text;
        if (l.label !== undefined) s += ` <${l.label}>`;
        if (opts.annotate !== false && l.comment !== undefined) s += ` ; ${l.comment}`;
        out.push(s);
        break;
      }
    }
  }
  return out;
}

/**
 * Disassembles a program (8-byte instruction slots) into lines in llvm-objdump-19's BPF syntax:
 * `       0:\tr1 = 0` (with `rawBytes`, the bytes column too), header lines (`""`,
 * `0000000000000000 <name>:`) for `name` and each of `symbols`, jump targets labelled as objdump
 * does, and with `annotate`, `; comment` at the end of lines it can name (helpers, maps, subprograms).
 *
 * @example
 * ```ts
 * disassemble(bytes, { name: "count_packets", symbols: [{ index: 10, name: "LBB0_2" }] });
 * // ["", "0000000000000000 <count_packets>:", "       0:\tr1 = 0", ..., "       7:\tif r0 == 0 goto +2 <LBB0_2>", ...]
 * ```
 */
export function disassemble(insns: Uint8Array, opts: DisassembleOptions = {}): string[] {
  const lines = renderLines(disassembleLines(insns, opts), { rawBytes: opts.rawBytes, annotate: opts.annotate });
  // A listing starts with its first header, not with the blank line that separates blocks.
  if (lines[0] === "") lines.shift();
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Programs and objects

/**
 * Disassembles a linked program from a {@link CollectionSpec}: its own instructions and the
 * subprograms appended to it (named from BTF func info when `btf` is given), annotated with its
 * map and extern relocations, and with `source`, the C lines from its line info.
 */
export function disassembleProgram(prog: ProgramSpec, opts: Omit<DisassembleOptions, "relocations" | "lineInfo" | "name"> & { btf?: { type(id: number): { name?: string } } } = {}): string[] {
  const symbols: DisasmSymbol[] = [...(opts.symbols ?? [])];
  if (opts.btf) {
    for (const fi of prog.funcInfo ?? []) {
      if (fi.insnOff === 0) continue;
      let name: string | undefined;
      try { name = opts.btf.type(fi.typeId).name; } catch { name = undefined; }
      if (name) symbols.push({ index: fi.insnOff, name });
    }
  }
  return disassemble(prog.instructions, {
    ...opts, name: prog.name, symbols, relocations: prog.relocations, lineInfo: prog.lineInfo,
    annotate: opts.annotate ?? true,
  });
}

/** Options of {@link disassembleObject}. */
export interface DisassembleObjectOptions extends DisasmFormatOptions {
  /** Show instruction bytes. Default true, like `llvm-objdump -d`. */
  rawBytes?: boolean;
  /** Name helpers, maps, globals, subprograms and externs in `; comments`. Default false (objdump's exact output). */
  annotate?: boolean;
  /** Print C source lines from .BTF.ext above the instructions they produced. Default false. */
  source?: boolean;
  /** The file name for the first line (`FILE:\tfile format elf64-bpf`); omitted when not given. */
  fileName?: string;
  /** Only these symbols (like `llvm-objdump --disassemble-symbols=`). */
  symbols?: readonly string[];
}

/** One section of a disassembled object, structured. */
export interface DisassembledSection {
  name: string;
  lines: DisasmLine[];
}

function isExec(s: ElfSection): boolean {
  return (s.flags & SectionFlags.EXECINSTR) !== 0 && s.type !== SectionType.NOBITS;
}

function objectAnnotations(elf: ElfFile, sec: ElfSection, syms: ElfSymbol[]): Map<number, string> {
  const out = new Map<number, string>();
  const le = elf.littleEndian;
  const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  const funcAt = (shndx: number, addr: number) => {
    const c = syms.filter((s) => s.shndx === shndx && s.value === addr && s.name && s.type !== SymbolType.SECTION);
    return (c.find((s) => s.type === SymbolType.FUNC) ?? c[0])?.name;
  };
  for (const rs of elf.sections) {
    if ((rs.type !== SectionType.REL && rs.type !== SectionType.RELA) || rs.info !== sec.index) continue;
    let relocs;
    try { relocs = elf.relocations(rs); } catch { continue; }
    for (const r of relocs) {
      if (r.offset % 8 !== 0 || r.offset + 8 > sec.size) continue;
      const sym = syms[r.symbolIndex];
      if (!sym) continue;
      const index = r.offset / 8;
      const op = sec.data[r.offset]!;
      const imm = dv.getInt32(r.offset + 4, le);
      const target = sym.shndx > 0 && sym.shndx < elf.sections.length ? elf.sections[sym.shndx]! : undefined;
      const addend = r.addend ?? 0;
      if (op === 0x85) {
        if (sym.shndx === SectionIndex.UNDEF) out.set(index, `kfunc ${sym.name}`);
        else if (target) {
          const addr = (sym.type === SymbolType.SECTION ? 0 : sym.value) + (imm + 1) * 8 + addend;
          const name = funcAt(sym.shndx, addr) ?? (sym.type === SymbolType.SECTION ? `${target.name}+${addr}` : sym.name);
          out.set(index, name);
        }
      } else if (op === 0x18) {
        if (sym.shndx === SectionIndex.UNDEF) { out.set(index, `extern ${sym.name}`); continue; }
        if (!target) continue;
        if (target.name === ".maps" || target.name === "maps") {
          const name = sym.type === SymbolType.SECTION ? funcAt(sym.shndx, imm + addend) : sym.name;
          out.set(index, `map ${name ?? `${target.name}+${imm + addend}`}`);
        } else if (isExec(target)) {
          const addr = (sym.type === SymbolType.SECTION ? 0 : sym.value) + imm + addend;
          out.set(index, funcAt(sym.shndx, addr) ?? `${target.name}+${addr}`);
        } else {
          const base = sym.type === SymbolType.SECTION ? target.name : sym.name;
          const o = imm + addend;
          out.set(index, o ? `${base} + ${o}` : base);
        }
      }
    }
  }
  return out;
}

function sectionLineInfo(elf: ElfFile): Map<string, DisasmLineInfo[]> {
  const out = new Map<string, DisasmLineInfo[]>();
  const btfSec = elf.sectionByName(".BTF");
  const extSec = elf.sectionByName(".BTF.ext");
  if (!btfSec || !extSec || !btfSec.size || !extSec.size) return out;
  const btf = Btf.parse(btfSec.data.slice());
  const ext = parseBtfExt(extSec.data, btf);
  for (const [name, recs] of ext.lineInfo) {
    out.set(name, recs.filter((r) => r.insnOff % 8 === 0).map((r) => ({ insnOff: r.insnOff / 8, text: r.lineText, fileName: r.fileName, line: r.line })));
  }
  return out;
}

/**
 * Disassembles every executable section of a BPF ELF object as `llvm-objdump -d` does, structured:
 * per section, symbol headers (the last of several symbols at one address; the section's name when
 * no symbol starts it) and instructions with jump targets labelled from the section's symbols.
 *
 * @throws {ElfError} when the bytes are not a well-formed ELF64 EM_BPF object.
 * @throws {BtfError} with `source` when .BTF or .BTF.ext is malformed.
 */
export function disassembleObjectSections(bytes: Uint8Array, opts: DisassembleObjectOptions = {}): DisassembledSection[] {
  const elf = parseElf(bytes, { machine: Machine.BPF });
  const syms = elf.symbols;
  const lineInfo = opts.source ? sectionLineInfo(elf) : new Map<string, DisasmLineInfo[]>();
  const out: DisassembledSection[] = [];
  for (const sec of elf.sections) {
    if (!isExec(sec) || sec.size === 0) continue;
    const own: SortedSym[] = [];
    for (const s of syms) {
      if (s.index === 0 || s.shndx !== sec.index || !s.name || s.type === SymbolType.SECTION) continue;
      own.push({ addr: s.value64, name: s.name, type: s.type });
    }
    if (!own.some((s) => s.addr === 0n)) own.push({ addr: 0n, name: sec.name, type: SymbolType.FUNC });
    const sorted = sortSymbols(own);
    const fopts: DisassembleOptions = {
      hex: opts.hex, alu32: opts.alu32, littleEndian: elf.littleEndian, rawBytes: opts.rawBytes ?? true,
      annotate: opts.annotate, source: opts.source, lineInfo: lineInfo.get(sec.name),
    };
    const ctx = rangeContext(sec.data, fopts, sorted, opts.annotate ? objectAnnotations(elf, sec, syms) : undefined);
    const lines: DisasmLine[] = [];
    for (const b of blocks(sorted, sec.size)) {
      if (opts.symbols && !opts.symbols.includes(b.sym.name)) continue;
      lines.push({ kind: "header", index: Math.floor(b.start / 8), address: b.start, name: b.sym.name });
      ctx.lastSource = {};
      if (b.data) listData(sec.data, b.start, b.end, lines);
      else listRange(ctx, b.start, b.end, lines);
    }
    if (opts.symbols && !lines.length) continue;
    out.push({ name: sec.name, lines });
  }
  return out;
}

/**
 * Disassembles a BPF ELF object into the text `llvm-objdump -d` prints for it (with
 * `rawBytes: false`, `--no-show-raw-insn`; with `hex`, llvm-objdump 19's default hex immediates).
 *
 * @throws {ElfError} when the bytes are not a well-formed ELF64 EM_BPF object.
 */
export function disassembleObject(bytes: Uint8Array, opts: DisassembleObjectOptions = {}): string {
  const out: string[] = [];
  if (opts.fileName !== undefined) out.push("", `${opts.fileName}:\tfile format elf64-bpf`);
  for (const s of disassembleObjectSections(bytes, opts)) {
    out.push("", `Disassembly of section ${s.name}:`);
    for (const l of renderLines(s.lines, { rawBytes: opts.rawBytes ?? true, annotate: opts.annotate })) out.push(l);
  }
  return out.join("\n") + "\n";
}
