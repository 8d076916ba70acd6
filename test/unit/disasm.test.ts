/**
 * The disassembler against llvm-objdump-19: every BPF object in the repository, an exhaustive
 * sweep of opcodes and fields, and random bytes with random symbols, in both byte orders, with and
 * without hex immediates, raw bytes and alu32 decoding. Plus hand-encoded instructions of every
 * class (no objdump needed), annotations and source lines.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import {
  disassemble, disassembleInstruction, disassembleLines, disassembleObject, disassembleObjectSections,
  disassembleProgram, encodeInstructions, type Instruction,
} from "../../src/asm/index.js";
import { loadCollectionSpec } from "../../src/spec/index.js";

const root = new URL("../../../", import.meta.url).pathname;
const OBJDUMP = "llvm-objdump-19";
const inCI = process.env.CI === "true" || process.env.CI === "1";
const objdumpMissing = (() => {
  try { execFileSync(OBJDUMP, ["--version"], { stdio: "ignore" }); return undefined; } catch { return `${OBJDUMP} is not installed (apt install llvm-19)`; }
})();
// Outside CI, a missing llvm-objdump skips the comparisons with a reason; in CI it fails them.
const cmpSkip = inCI ? undefined : objdumpMissing;
if (cmpSkip) console.log(`# objdump comparisons skipped: ${cmpSkip}`);

function objdump(files: string | string[], flags: string[]): string {
  return execFileSync(OBJDUMP, ["-d", ...flags, ...[files].flat()], { encoding: "utf8", maxBuffer: 1 << 30 });
}

/** Directories the object walk skips: dependencies, build output and git's own files. */
const SKIP_DIRS = new Set(["node_modules", "build", "dist", ".git"]);
const EM_BPF = 247;

/** The byte order of `file` when it is an ELF file for EM_BPF, else undefined. */
function bpfElfOrder(file: string): "le" | "be" | undefined {
  const b = readFileSync(file);
  if (b.length < 20 || b[0] !== 0x7f || b.toString("latin1", 1, 4) !== "ELF") return undefined;
  const be = b[5] === 2;
  if ((be ? b.readUInt16BE(18) : b.readUInt16LE(18)) !== EM_BPF) return undefined;
  return be ? "be" : "le";
}

/** Every BPF object (*.o that is an EM_BPF ELF file) anywhere in the repository. */
function repoObjects(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) { if (!SKIP_DIRS.has(e)) walk(p); } else if (e.endsWith(".o") && bpfElfOrder(p)) out.push(p);
    }
  };
  walk(root);
  return out.sort();
}

const norm = (s: string) => s.replace(/\s+/g, " ").trim();
const isInsnLine = (l: string) => /^\s*\d+:/.test(l);

/**
 * Compares our listing with objdump's, line by line (whitespace normalised; instruction lines,
 * headers, section titles and `...` runs all count). Returns the number of instruction lines.
 */
function compare(t: TestContext | undefined, label: string, want: string, got: string): number {
  const w = want.split("\n").map(norm).filter((l) => l !== "");
  const g = got.split("\n").map(norm).filter((l) => l !== "");
  const diffs: string[] = [];
  for (let i = 0; i < Math.max(w.length, g.length); i++) {
    if (w[i] !== g[i] && diffs.length < 10) diffs.push(`line ${i}:\n  objdump: ${w[i]}\n  tsbpf:   ${g[i]}`);
  }
  assert.equal(diffs.length, 0, `${label}: listing differs from llvm-objdump:\n${diffs.join("\n")}`);
  // Byte-exact as well, whitespace included (objdump's tabs and blank lines).
  assert.equal(got, want, `${label}: same instructions but different whitespace`);
  t?.diagnostic?.(`${label}: ${w.filter(isInsnLine).length} instructions`);
  return w.filter(isInsnLine).length;
}

function ours(file: string, flags: string[]): string {
  return disassembleObject(new Uint8Array(readFileSync(file)), {
    fileName: file, rawBytes: !flags.includes("--no-show-raw-insn"), hex: !flags.includes("--no-print-imm-hex"),
    alu32: flags.includes("--mattr=+alu32"),
  });
}

test("every BPF object in the repository disassembles exactly as llvm-objdump-19 -d prints it", { skip: cmpSkip }, (t) => {
  const objects = repoObjects();
  assert.ok(objects.length >= 19, `expected the repository's objects, found ${objects.length}`);
  for (const must of ["test/parity/runqlat.bpf.o", "test/fixtures/elf/globals.bpfeb.o"]) assert.ok(objects.includes(join(root, must)), `the walk finds ${must}`);
  // One objdump run per mode and byte order: its output is the concatenation of each file's. (Given
  // files of both byte orders, llvm-objdump decodes them all in the first file's order.)
  const byOrder = [objects.filter((f) => bpfElfOrder(f) === "le"), objects.filter((f) => bpfElfOrder(f) === "be")].filter((g) => g.length > 0);
  const modes = [["--no-show-raw-insn"], [], ["--no-print-imm-hex"], ["--no-show-raw-insn", "--no-print-imm-hex", "--mattr=+alu32"]];
  let insns = 0;
  for (const flags of modes) {
    for (const group of byOrder) {
      const n = compare(undefined, `${group.length} objects ${flags.join(" ")}`, objdump(group, flags), group.map((f) => ours(f, flags)).join(""));
      if (flags === modes[0]) insns += n;
    }
  }
  t.diagnostic(`${objects.length} objects, ${insns} instructions, identical to llvm-objdump-19 in ${modes.length} modes (hex without bytes, hex with bytes, decimal with bytes, decimal alu32)`);
  console.log(`# disasm: ${objects.length} objects, ${insns} instructions matched llvm-objdump-19 (x${modes.length} modes)`);
});

// --- synthetic objects --------------------------------------------------------------------------

interface Sym { name: string; value: number; type?: number; bind?: number }

/** A minimal ELF64 relocatable EM_BPF object: one executable section and a symbol table. */
function writeElf(text: Uint8Array, symbols: Sym[], le = true): Uint8Array {
  const enc = new TextEncoder();
  const strtab: number[] = [0];
  const addStr = (s: string) => { const o = strtab.length; strtab.push(...enc.encode(s), 0); return o; };
  const shstr: number[] = [0];
  const shName = (s: string) => { const o = shstr.length; shstr.push(...enc.encode(s), 0); return o; };
  const names = [0, shName(".text"), shName(".symtab"), shName(".strtab"), shName(".shstrtab")];
  const sorted = [...symbols].sort((a, b) => (a.bind ?? 1) - (b.bind ?? 1));
  const firstGlobal = 1 + sorted.filter((s) => (s.bind ?? 1) === 0).length;
  const syms = new Uint8Array(24 * (sorted.length + 1));
  const sdv = new DataView(syms.buffer);
  sorted.forEach((s, i) => {
    const o = 24 * (i + 1);
    sdv.setUint32(o, addStr(s.name), le);
    syms[o + 4] = ((s.bind ?? 1) << 4) | (s.type ?? 2);
    sdv.setUint16(o + 6, 1, le);
    sdv.setBigUint64(o + 8, BigInt(s.value), le);
  });
  const parts = [text, syms, Uint8Array.from(strtab), Uint8Array.from(shstr)];
  const offs: number[] = [];
  let off = 64;
  for (const p of parts) { off = (off + 7) & ~7; offs.push(off); off += p.length; }
  const shoff = (off + 7) & ~7;
  const out = new Uint8Array(shoff + 64 * 5);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, le ? 1 : 2, 1]);
  dv.setUint16(16, 1, le); dv.setUint16(18, 247, le); dv.setUint32(20, 1, le); dv.setBigUint64(40, BigInt(shoff), le);
  dv.setUint16(52, 64, le); dv.setUint16(58, 64, le); dv.setUint16(60, 5, le); dv.setUint16(62, 4, le);
  parts.forEach((p, i) => out.set(p, offs[i]!));
  const sh = (i: number, type: number, flags: number, size: number, link: number, info: number, align: number, entsize: number) => {
    const b = shoff + 64 * i;
    dv.setUint32(b, names[i]!, le); dv.setUint32(b + 4, type, le); dv.setBigUint64(b + 8, BigInt(flags), le);
    dv.setBigUint64(b + 24, BigInt(offs[i - 1]!), le); dv.setBigUint64(b + 32, BigInt(size), le);
    dv.setUint32(b + 40, link, le); dv.setUint32(b + 44, info, le); dv.setBigUint64(b + 48, BigInt(align), le); dv.setBigUint64(b + 56, BigInt(entsize), le);
  };
  sh(1, 1, 6, text.length, 0, 0, 8, 0);
  sh(2, 2, 0, syms.length, 3, firstGlobal, 8, 24);
  sh(3, 3, 0, strtab.length, 0, 0, 1, 0);
  sh(4, 3, 0, shstr.length, 0, 0, 1, 0);
  return out;
}

function compareSynthetic(t: TestContext, label: string, elf: Uint8Array, modes: string[][]): number {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-disasm-"));
  try {
    const file = join(dir, "synthetic.o");
    writeFileSync(file, elf);
    let n = 0;
    for (const flags of modes) n = compare(undefined, `${label} ${flags.join(" ")}`, objdump(file, flags), ours(file, flags));
    t.diagnostic(`${label}: ${n} instructions identical in ${modes.length} modes`);
    return n;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("every opcode with every interesting field value decodes as llvm-objdump decodes it", { skip: cmpSkip }, (t) => {
  // An exit between cases keeps runs of zero bytes from merging across cases.
  const slots: number[][] = [];
  const fields = {
    src: [0, 1, 2, 4, 11, 12, 15], dst: [0, 1, 10, 11, 15], off: [0, 1, -1, 8, 16, 32, 0x7fff, -0x8000],
    imm: [0, 1, -1, 2, 3, 15, 16, 32, 64, 0x40, 0x41, 0x42, 0x50, 0x51, 0xa0, 0xa1, 0xe0, 0xe1, 0xf0, 0xf1, 0x101, 0x1f1, 0x10000, 0x10001, -0x80000000],
  };
  const insn = (op: number, src: number, dst: number, off: number, imm: number) => {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    b[0] = op; b[1] = (src << 4) | dst; dv.setInt16(2, off, true); dv.setInt32(4, imm, true);
    return [...b];
  };
  for (let op = 0; op < 256; op++) {
    const cases: [number, number, number, number][] = [];
    for (const src of fields.src) for (const dst of fields.dst) cases.push([src, dst, 0, 0]);
    for (const off of fields.off) for (const imm of fields.imm) cases.push([1, 2, off, imm]);
    for (const [src, dst, off, imm] of cases) {
      slots.push(insn(0x95, 0, 0, 0, 0), insn(op, src, dst, off, imm));
      if (op === 0x18) slots.push(insn(off === 8 ? 0x95 : 0, 0, 0, 0, imm === 3 ? -7 : 0x12345));
    }
  }
  const text = Uint8Array.from(slots.flat());
  const n = compareSynthetic(t, "opcode sweep", writeElf(text, [{ name: "sweep", value: 0 }]), [[], ["--no-print-imm-hex", "--no-show-raw-insn", "--mattr=+alu32"]]);
  assert.ok(n > 100000);
});

test("random bytes with random symbols (misaligned, duplicate, OBJECT data, absent at 0) match llvm-objdump in both byte orders", { skip: cmpSkip }, (t) => {
  const common = [0x18, 0x85, 0x95, 0x05, 0x06, 0xe5, 0x15, 0x1d, 0x16, 0xc3, 0xdb, 0xbf, 0xbc, 0x61, 0x79, 0x00, 0x07, 0xd4, 0xdc, 0xd7, 0x8d];
  for (const [seed, le] of [[1, true], [2, false], [3, true], [4, false]] as const) {
    let s = seed * 7919;
    const rnd = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const n = 4000;
    const b = new Uint8Array(n * 8);
    for (let i = 0; i < b.length; i++) b[i] = rnd() < 0.35 ? 0 : Math.floor(rnd() * 256);
    for (let i = 0; i < n; i++) if (rnd() < 0.5) b[i * 8] = common[Math.floor(rnd() * common.length)]!;
    for (let i = 0; i < n; i++) if (rnd() < 0.08) b.fill(0, i * 8, Math.min(b.length, i * 8 + 8 + Math.floor(rnd() * 12)));
    const syms: Sym[] = [];
    for (let i = 0; i < 25; i++) {
      syms.push({ name: `s${Math.floor(rnd() * 12)}`, value: Math.floor(rnd() * b.length) & ~(rnd() < 0.8 ? 7 : 0), type: [0, 1, 2][Math.floor(rnd() * 3)], bind: Math.floor(rnd() * 2) });
    }
    const text = b.subarray(0, b.length - Math.floor(rnd() * 7));
    compareSynthetic(t, `random seed ${seed} ${le ? "LE" : "BE"}`, writeElf(text, syms, le), [[], ["--no-print-imm-hex", "--mattr=+alu32"]]);
  }
});

// --- hand-encoded instructions, no objdump needed -------------------------------------------------

const I = (opcode: number, dst = 0, src = 0, off = 0, imm = 0, imm2?: number): Instruction => ({ opcode, dst, src, off, imm, imm2 });
function text(insn: Instruction, opts: { hex?: boolean; alu32?: boolean } = {}): string {
  return disassembleInstruction(encodeInstructions([insn]), 0, opts).text;
}

test("every instruction class, hand-encoded, in decimal and hex", () => {
  const cases: [Instruction, string, string?][] = [
    // ALU64 / ALU
    [I(0xb7, 1, 0, 0, 0), "r1 = 0", "r1 = 0x0"],
    [I(0xb4, 1, 0, 0, -1), "w1 = -1", "w1 = -0x1"],
    [I(0xbf, 2, 10), "r2 = r10"],
    [I(0x07, 2, 0, 0, -4), "r2 += -4", "r2 += -0x4"],
    [I(0x0c, 0, 2), "w0 += w2"],
    [I(0x1f, 1, 8), "r1 -= r8"],
    [I(0x24, 0, 0, 0, 10), "w0 *= 10", "w0 *= 0xa"],
    [I(0x3f, 1, 2), "r1 /= r2"],
    [I(0x3f, 1, 2, 1), "r1 s/= r2"],
    [I(0x34, 1, 0, 1, 3), "w1 s/= 3"],
    [I(0x9f, 1, 2, 1), "r1 s%= r2"],
    [I(0x97, 1, 0, 0, 7), "r1 %= 7"],
    [I(0x4f, 1, 2), "r1 |= r2"],
    [I(0x57, 1, 0, 0, 0xff), "r1 &= 255", "r1 &= 0xff"],
    [I(0x67, 1, 0, 0, 32), "r1 <<= 32", "r1 <<= 0x20"],
    [I(0x7f, 1, 7), "r1 >>= r7"],
    [I(0xc7, 1, 0, 0, 32), "r1 s>>= 32"],
    [I(0xa7, 1, 0, 0, -1), "r1 ^= -1"],
    [I(0x87, 1), "r1 = -r1"],
    [I(0x84, 1), "w1 = -w1"],
    [I(0xbf, 1, 2, 8), "r1 = (s8)r2"],
    [I(0xbf, 1, 2, 32), "r1 = (s32)r2"],
    [I(0xbc, 1, 2, 16), "w1 = (s16)w2"],
    [I(0xdc, 1, 0, 0, 16), "r1 = be16 r1"],
    [I(0xd4, 1, 0, 0, 64), "r1 = le64 r1"],
    [I(0xd7, 1, 0, 0, 32), "r1 = bswap32 r1"],
    [I(0xbf, 1, 2, 1, 1), "r1 = addr_space_cast(r2, 0, 1)"],
    // LD
    [I(0x18, 1, 0, 0, 0, 0), "r1 = 0 ll", "r1 = 0x0 ll"],
    [I(0x18, 1, 0, 0, -1, -1), "r1 = -1 ll", "r1 = -0x1 ll"],
    [I(0x18, 1, 0, 0, 0x89abcdef | 0, 0x01234567), "r1 = 81985529216486895 ll", "r1 = 0x123456789abcdef ll"],
    [I(0x18, 1, 1, 0, 5, 0), "ld_pseudo\tr1, 1, 5", "ld_pseudo\tr1, 0x1, 0x5"],
    [I(0x30, 0, 0, 0, 12), "r0 = *(u8 *)skb[12]"],
    [I(0x28, 0, 0, 0, -1), "r0 = *(u16 *)skb[-1]"],
    [I(0x40, 0, 3), "r0 = *(u32 *)skb[r3]"],
    // LDX
    [I(0x61, 1, 2, 4), "r1 = *(u32 *)(r2 + 4)", "r1 = *(u32 *)(r2 + 0x4)"],
    [I(0x79, 1, 10, -8), "r1 = *(u64 *)(r10 - 8)", "r1 = *(u64 *)(r10 - 0x8)"],
    [I(0x91, 1, 2), "r1 = *(s8 *)(r2 + 0)"],
    [I(0x89, 1, 2, -32768), "r1 = *(s16 *)(r2 - 32768)"],
    [I(0x81, 1, 2), "r1 = *(s32 *)(r2 + 0)"],
    // ST / STX
    [I(0x62, 10, 0, -4, 7), "*(u32 *)(r10 - 4) = 7"],
    [I(0x7a, 10, 0, -8, -1), "*(u64 *)(r10 - 8) = -1"],
    [I(0x63, 10, 1, -4), "*(u32 *)(r10 - 4) = r1"],
    [I(0x73, 1, 2, 1), "*(u8 *)(r1 + 1) = r2"],
    // atomics
    [I(0xdb, 0, 1, 0, 0x00), "lock *(u64 *)(r0 + 0) += r1"],
    [I(0xdb, 0, 1, 0, 0x50), "lock *(u64 *)(r0 + 0) &= r1"],
    [I(0xdb, 0, 1, 0, 0x40), "lock *(u64 *)(r0 + 0) |= r1"],
    [I(0xdb, 0, 1, 0, 0xa0), "lock *(u64 *)(r0 + 0) ^= r1"],
    [I(0xdb, 0, 1, 8, 0x01), "r1 = atomic_fetch_add((u64 *)(r0 + 8), r1)"],
    [I(0xdb, 0, 1, 0, 0x51), "r1 = atomic_fetch_and((u64 *)(r0 + 0), r1)"],
    [I(0xdb, 0, 1, 0, 0xe1), "r1 = xchg_64(r0 + 0, r1)"],
    [I(0xdb, 5, 1, 0, 0xf1), "r0 = cmpxchg_64(r5 + 0, r0, r1)"],
    [I(0xc3, 0, 1, 0, 0x00), "lock *(u32 *)(r0 + 0) += r1"],
    [I(0xc3, 0, 1, 0, 0x50), "<unknown>"], // objdump without alu32
    [I(0xdb, 0, 1, 0, 0xe0), "<unknown>"],
    // JMP / JMP32
    [I(0x05, 0, 0, -3), "goto -3", "goto -0x3"],
    [I(0x06, 0, 0, 0, 40000), "gotol +40000", "gotol +0x9c40"],
    [I(0x15, 0, 0, 2, 0), "if r0 == 0 goto +2", "if r0 == 0x0 goto +0x2"],
    [I(0x5d, 1, 2, -1), "if r1 != r2 goto -1"],
    [I(0xa5, 1, 0, 0, 5), "if r1 < 5 goto +0"],
    [I(0x45, 1, 0, 1, 4), "if r1 & 4 goto +1"],
    [I(0xd6, 1, 0, 1, -5), "if w1 s<= -5 goto +1"],
    [I(0x7e, 1, 2, 1), "if w1 s>= w2 goto +1"],
    [I(0x85, 0, 0, 0, 1), "call 1", "call 0x1"],
    [I(0x85, 0, 1, 0, -1), "call -1", "call -0x1"],
    [I(0x8d, 1), "callx r1"],
    [I(0xe5, 0, 0, 7), "may_goto +7"],
    [I(0x95), "exit"],
    // invalid
    [I(0x95, 0, 0, 0, 1), "<unknown>"],
    [I(0xb7, 12), "<unknown>"],
    [I(0x07, 1, 0, 1, 1), "<unknown>"],
    [I(0x38), "<unknown>"],
  ];
  for (const [insn, dec, hex] of cases) {
    assert.equal(text(insn), dec, `opcode 0x${insn.opcode.toString(16)}`);
    if (hex) assert.equal(text(insn, { hex: true }), hex, `opcode 0x${insn.opcode.toString(16)} (hex)`);
  }
  // alu32 decoding names w registers where LLVM's alu32 decoder does.
  assert.equal(text(I(0x61, 1, 2), { alu32: true }), "w1 = *(u32 *)(r2 + 0)");
  assert.equal(text(I(0x63, 10, 1, -4), { alu32: true }), "*(u32 *)(r10 - 4) = w1");
  assert.equal(text(I(0xc3, 0, 1, 0, 0x50), { alu32: true }), "lock *(u32 *)(r0 + 0) &= w1");
  assert.equal(text(I(0xc3, 0, 1, 0, 0x01), { alu32: true }), "w1 = atomic_fetch_add((u32 *)(r0 + 0), w1)");
  assert.equal(text(I(0xc3, 0, 1, 0, 0xe1), { alu32: true }), "w1 = xchg32_32(r0 + 0, w1)");
  assert.equal(text(I(0xc3, 2, 1, 0, 0xf1), { alu32: true }), "w0 = cmpxchg32_32(r2 + 0, w0, w1)");
  assert.equal(text(I(0x79, 1, 2), { alu32: true }), "r1 = *(u64 *)(r2 + 0)");
  // Big-endian encoding: registers swap nibbles, fields are big-endian.
  const be = Uint8Array.from([0x07, 0x20, 0x00, 0x00, 0xff, 0xff, 0xff, 0xfc]);
  assert.equal(disassembleInstruction(be, 0, { littleEndian: false }).text, "r2 += -4");
  // Truncated input: one byte at a time, as objdump steps.
  assert.deepEqual(disassembleInstruction(new Uint8Array(4)), { size: 1, text: "<unknown>", valid: false });
  assert.equal(disassembleInstruction(encodeInstructions([I(0x18, 1, 0, 0, 0, 0)]).subarray(0, 8)).size, 1);
});

// The seed's listing (xdp-packet-counter.txt), instruction for instruction.
const SEED = `
0:       b7 01 00 00 00 00 00 00 r1 = 0
1:       63 1a fc ff 00 00 00 00 *(u32 *)(r10 - 4) = r1
2:       bf a2 00 00 00 00 00 00 r2 = r10
3:       07 02 00 00 fc ff ff ff r2 += -4
4:       18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 r1 = 0 ll
6:       85 00 00 00 01 00 00 00 call 1
7:       15 00 02 00 00 00 00 00 if r0 == 0 goto +2 <LBB0_2>
8:       b7 01 00 00 01 00 00 00 r1 = 1
9:       db 10 00 00 00 00 00 00 lock *(u64 *)(r0 + 0) += r1
0000000000000050 <LBB0_2>:
10:       b7 00 00 00 02 00 00 00 r0 = 2
11:       95 00 00 00 00 00 00 00 exit`.trim().split("\n").map(norm);

test("the seed's xdp counter: labels from symbols, as objdump shows clang's LBB0_2", () => {
  const spec = loadCollectionSpec(new Uint8Array(readFileSync(join(root, "examples/xdp_counter/xdp_counter.bpf.o"))));
  const prog = spec.programs.count_packets!;
  const lines = disassemble(prog.instructions, { name: "count_packets", rawBytes: true, symbols: [{ index: 10, name: "LBB0_2", type: 0 }] });
  assert.deepEqual(lines.filter((l) => l && !l.includes("<count_packets>:")).map(norm), SEED);
  assert.equal(lines[0], "0000000000000000 <count_packets>:");
  // Without a symbol at the target, objdump writes <function+offset>.
  assert.match(disassemble(prog.instructions, { name: "count_packets" }).join("\n"), /goto \+2 <count_packets\+0x50>$/m);
  // Without any symbols: plain instructions.
  assert.equal(disassemble(prog.instructions)[6], "       7:\tif r0 == 0 goto +2");
});

test("annotations name helpers, maps, globals and subprograms; --source prints BTF line info", () => {
  const bytes = new Uint8Array(readFileSync(join(root, "examples/xdp_counter/xdp_counter.bpf.o")));
  const spec = loadCollectionSpec(bytes);
  const lines = disassembleProgram(spec.programs.count_packets!, { source: true, btf: spec.btf });
  assert.deepEqual(lines.slice(0, 4), ["0000000000000000 <count_packets>:", "; int count_packets(struct xdp_md *ctx)", "       0:\tr1 = 0", "; \t__u32 key = 0;"]);
  assert.ok(lines.includes("       4:\tr1 = 0 ll ; map pkt_count"), lines.join("\n"));
  assert.ok(lines.includes("       6:\tcall 1 ; bpf_map_lookup_elem"));
  assert.ok(lines.includes("; \treturn XDP_PASS;"));

  // Whole object, annotated: bpf-to-bpf calls by name (resolved in .text and through relocations), globals, maps.
  const sub = new Uint8Array(readFileSync(join(root, "test/bpf/subprogs.bpf.o")));
  const text = disassembleObject(sub, { rawBytes: false, annotate: true });
  assert.match(text, /call 13 ; square$/m);
  assert.match(text, /call 14 ; bpf_get_current_pid_tgid$/m);
  assert.match(text, /r1 = 0 ll ; target_tgid$/m);
  assert.match(text, /call 3 ; sum_of_squares$/m);
  assert.match(text, /call -1 ; global_mix$/m);
  assert.match(text, /r2 = 88 ll ; square_cb$/m);
  // The linked program: subprograms appended and named from BTF func info; calls resolved.
  const sspec = loadCollectionSpec(sub);
  const linked = disassembleProgram(sspec.programs.tp_getpid!, { btf: sspec.btf }).join("\n");
  assert.match(linked, /^[0-9a-f]{16} <sum_of_squares>:$/m);
  assert.match(linked, /call \d+ ; sum_of_squares$/m);
  // --prog: one symbol only, like --disassemble-symbols.
  const only = disassembleObjectSections(sub, { symbols: ["square"] });
  assert.deepEqual(only.map((s) => s.name), [".text"]);
  assert.deepEqual(only[0]!.lines.filter((l) => l.kind === "header").map((l) => (l as { name: string }).name), ["square"]);
  assert.equal(disassembleLines(new Uint8Array(16)).length, 1, "zero runs collapse to one `...` line");
});
