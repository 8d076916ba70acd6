/**
 * The assembler DSL: encodings of every form, labels (forward, backward, range checks), helpers by
 * name and id, relocations, linking map fds, and round trips: built -> disassembled text, and that
 * text -> llvm-mc -> the same bytes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArgumentError } from "../../src/errors.js";
import {
  asm, disassemble, disassembleInstruction, labelSymbols, linkBuiltProgram, InstructionView,
  R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, type Assembler, type Reg,
} from "../../src/asm/index.js";
import { loadCollectionSpec } from "../../src/spec/index.js";
import { parseElf } from "../../src/elf/index.js";

const root = new URL("../../../", import.meta.url).pathname;

/** The listing lines of a built program without the index column. */
function texts(bytes: Uint8Array, opts: { hex?: boolean; alu32?: boolean } = {}): string[] {
  return disassemble(bytes, opts).map((l) => l.replace(/^\s*\d+:\t/, ""));
}

test("the seed's XDP counter, built with the DSL, is the clang object's program byte for byte", () => {
  const built = asm()
    .mov64(R1, 0).stxw(R10, -4, R1)
    .mov64(R2, R10).add64(R2, -4)
    .ldMap(R1, "pkt_count")
    .call("map_lookup_elem")
    .jeq(R0, 0, "LBB0_2")
    .mov64(R1, 1).atomicAdd64(R0, 0, R1)
    .label("LBB0_2").mov64(R0, 2).exit()
    .build();
  const spec = loadCollectionSpec(new Uint8Array(readFileSync(join(root, "examples/xdp_counter/xdp_counter.bpf.o"))));
  const prog = spec.programs.count_packets!;
  assert.deepEqual(built.instructions, prog.instructions);
  assert.deepEqual(built.relocations, prog.relocations);
  assert.deepEqual(built.relocations, [{ insn: 4, kind: "map", map: "pkt_count" }]);
  assert.deepEqual(built.labels, { LBB0_2: 10 });
  const lines = disassemble(built.instructions, { name: "count_packets", symbols: labelSymbols(built), rawBytes: true });
  assert.equal(lines[7], "       7:\t15 00 02 00 00 00 00 00\tif r0 == 0 goto +2 <LBB0_2>");
  assert.equal(lines[11], "0000000000000050 <LBB0_2>:");
});

test("every form encodes to the instruction the disassembler names", () => {
  const p = asm();
  const expect: string[] = [];
  const add = (f: (a: Assembler) => unknown, text: string) => { f(p); expect.push(text); };
  const ops = ["add", "sub", "mul", "div", "or", "and", "lsh", "rsh", "mod", "xor", "mov", "arsh"] as const;
  const syms: Record<string, string> = { add: "+=", sub: "-=", mul: "*=", div: "/=", or: "|=", and: "&=", lsh: "<<=", rsh: ">>=", mod: "%=", xor: "^=", mov: "=", arsh: "s>>=" };
  for (const op of ops) {
    add((a) => a[`${op}64`](R3, R4), `r3 ${syms[op]} r4`);
    add((a) => a[`${op}64`](R3, -7), `r3 ${syms[op]} -7`);
    add((a) => a[`${op}32`](R5, R6), `w5 ${syms[op]} w6`);
    add((a) => a[`${op}32`](R5, 9), `w5 ${syms[op]} 9`);
  }
  add((a) => a.sdiv64(R1, R2), "r1 s/= r2");
  add((a) => a.sdiv32(R1, 3), "w1 s/= 3");
  add((a) => a.smod64(R1, 5), "r1 s%= 5");
  add((a) => a.smod32(R1, R2), "w1 s%= w2");
  add((a) => a.neg64(R7), "r7 = -r7");
  add((a) => a.neg32(R7), "w7 = -w7");
  add((a) => a.movsx64(R1, R2, 8), "r1 = (s8)r2");
  add((a) => a.movsx64(R1, R2, 32), "r1 = (s32)r2");
  add((a) => a.movsx32(R1, R2, 16), "w1 = (s16)w2");
  add((a) => a.le(R1, 16), "r1 = le16 r1");
  add((a) => a.be(R1, 32), "r1 = be32 r1");
  add((a) => a.bswap(R1, 64), "r1 = bswap64 r1");
  add((a) => a.addrSpaceCast(R1, R2, 1, 0), "r1 = addr_space_cast(r2, 1, 0)");
  add((a) => a.ldImm64(R1, 0x123456789abcdefn), "r1 = 81985529216486895 ll");
  add((a) => a.ldImm64(R1, -1), "r1 = -1 ll");
  add((a) => a.ldImm64(R1, 0xffffffffffffffffn), "r1 = -1 ll");
  add((a) => a.ldMap(R2, "m"), "r2 = 0 ll");
  add((a) => a.ldMapValue(R2, ".rodata", 16), "r2 = 68719476736 ll");
  add((a) => a.ldAbs("b", 12), "r0 = *(u8 *)skb[12]");
  add((a) => a.ldAbs("h", 14), "r0 = *(u16 *)skb[14]");
  add((a) => a.ldInd("w", R1, 0), "r0 = *(u32 *)skb[r1]");
  add((a) => a.ldxb(R1, R2, 1), "w1 = *(u8 *)(r2 + 1)");
  add((a) => a.ldxh(R1, R2, -2), "w1 = *(u16 *)(r2 - 2)");
  add((a) => a.ldxw(R1, R2, 32767), "w1 = *(u32 *)(r2 + 32767)");
  add((a) => a.ldxdw(R1, R2, -32768), "r1 = *(u64 *)(r2 - 32768)");
  add((a) => a.ldxsb(R1, R2, 0), "r1 = *(s8 *)(r2 + 0)");
  add((a) => a.ldxsh(R1, R2, 0), "r1 = *(s16 *)(r2 + 0)");
  add((a) => a.ldxsw(R1, R2, 0), "r1 = *(s32 *)(r2 + 0)");
  add((a) => a.stb(R10, -1, 5), "*(u8 *)(r10 - 1) = 5");
  add((a) => a.sth(R10, -2, -5), "*(u16 *)(r10 - 2) = -5");
  add((a) => a.stw(R10, -4, 5), "*(u32 *)(r10 - 4) = 5");
  add((a) => a.stdw(R10, -8, 5), "*(u64 *)(r10 - 8) = 5");
  add((a) => a.stxb(R10, -1, R1), "*(u8 *)(r10 - 1) = w1");
  add((a) => a.stxh(R10, -2, R1), "*(u16 *)(r10 - 2) = w1");
  add((a) => a.stxw(R10, -4, R1), "*(u32 *)(r10 - 4) = w1");
  add((a) => a.stxdw(R10, -8, R1), "*(u64 *)(r10 - 8) = r1");
  add((a) => a.atomicAdd64(R1, 8, R2), "lock *(u64 *)(r1 + 8) += r2");
  add((a) => a.atomicAnd64(R1, 0, R2), "lock *(u64 *)(r1 + 0) &= r2");
  add((a) => a.atomicOr64(R1, 0, R2), "lock *(u64 *)(r1 + 0) |= r2");
  add((a) => a.atomicXor64(R1, 0, R2), "lock *(u64 *)(r1 + 0) ^= r2");
  add((a) => a.atomicFetchAdd64(R1, 0, R2), "r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)");
  add((a) => a.atomicFetchAnd64(R1, 0, R2), "r2 = atomic_fetch_and((u64 *)(r1 + 0), r2)");
  add((a) => a.atomicFetchOr64(R1, 0, R2), "r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)");
  add((a) => a.atomicFetchXor64(R1, 0, R2), "r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)");
  add((a) => a.atomicXchg64(R1, 0, R2), "r2 = xchg_64(r1 + 0, r2)");
  add((a) => a.atomicCmpXchg64(R1, 0, R2), "r0 = cmpxchg_64(r1 + 0, r0, r2)");
  add((a) => a.atomicAdd32(R1, 0, R2), "lock *(u32 *)(r1 + 0) += w2");
  add((a) => a.atomicAnd32(R1, 0, R2), "lock *(u32 *)(r1 + 0) &= w2");
  add((a) => a.atomicOr32(R1, 0, R2), "lock *(u32 *)(r1 + 0) |= w2");
  add((a) => a.atomicXor32(R1, 0, R2), "lock *(u32 *)(r1 + 0) ^= w2");
  add((a) => a.atomicFetchAdd32(R1, 0, R2), "w2 = atomic_fetch_add((u32 *)(r1 + 0), w2)");
  add((a) => a.atomicFetchAnd32(R1, 0, R2), "w2 = atomic_fetch_and((u32 *)(r1 + 0), w2)");
  add((a) => a.atomicFetchOr32(R1, 0, R2), "w2 = atomic_fetch_or((u32 *)(r1 + 0), w2)");
  add((a) => a.atomicFetchXor32(R1, 0, R2), "w2 = atomic_fetch_xor((u32 *)(r1 + 0), w2)");
  add((a) => a.atomicXchg32(R1, 0, R2), "w2 = xchg32_32(r1 + 0, w2)");
  add((a) => a.atomicCmpXchg32(R1, 0, R2), "w0 = cmpxchg32_32(r1 + 0, w0, w2)");
  const jumps = ["jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle", "jset"] as const;
  const jsym: Record<string, string> = { jeq: "==", jne: "!=", jgt: ">", jge: ">=", jlt: "<", jle: "<=", jsgt: "s>", jsge: "s>=", jslt: "s<", jsle: "s<=", jset: "&" };
  for (const j of jumps) {
    add((a) => a[j](R1, R2, 0), `if r1 ${jsym[j]} r2 goto +0`);
    add((a) => a[j](R1, -3, 0), `if r1 ${jsym[j]} -3 goto +0`);
    add((a) => a[`${j}32`](R1, R2, 0), `if w1 ${jsym[j]} w2 goto +0`);
    add((a) => a[`${j}32`](R1, 7, 0), `if w1 ${jsym[j]} 7 goto +0`);
  }
  add((a) => a.ja(-1), "goto -1");
  add((a) => a.jal(100000), "gotol +100000");
  add((a) => a.mayGoto(0), "may_goto +0");
  add((a) => a.call("bpf_ktime_get_ns"), "call 5");
  add((a) => a.call("ktime_get_ns"), "call 5");
  add((a) => a.call(181), "call 181");
  add((a) => a.callSub(-2), "call -2");
  add((a) => a.callx(R3), "callx r3");
  add((a) => a.exit(), "exit");
  assert.deepEqual(texts(p.build().instructions, { alu32: true }), expect, "(alu32 decoding: 32-bit loads and stores name w registers)");
});

test("labels resolve forward and backward; undefined, duplicate and out-of-range labels are refused", () => {
  const b = asm()
    .label("top").mov64(R0, 0)
    .jeq(R1, 0, "done")             // forward over an ld_imm64
    .ldImm64(R2, 1n)
    .jne32(R1, R2, "top")           // backward
    .ja("done")
    .callSub("sub")
    .label("done").exit()
    .label("sub").mov64(R0, 1).ldFunc(R3, "top").jal("top").exit()
    .build();
  assert.deepEqual(b.labels, { top: 0, done: 7, sub: 8 });
  assert.deepEqual(texts(b.instructions), [
    "r0 = 0", "if r1 == 0 goto +5", "r2 = 1 ll", "if w1 != w2 goto -5", "goto +1", "call 1", "exit",
    "r0 = 1", "ld_pseudo\tr3, 4, 4294967285", "gotol -12", "exit",
  ]);
  const v = new InstructionView(b.instructions);
  assert.equal(v.src(6), 1, "callSub sets BPF_PSEUDO_CALL");
  assert.equal(v.imm(9), -11, "ldFunc: relative to the instruction after the ld_imm64");
  assert.throws(() => asm().ja("nowhere").build(), (e: unknown) => e instanceof ArgumentError && /label nowhere is not defined/.test(e.message));
  assert.throws(() => asm().label("a").label("a"), /defined twice/);
  const far = asm().jeq(R1, 0, "end");
  for (let i = 0; i < 0x8000; i++) far.mov64(R0, 0);
  assert.throws(() => far.label("end").exit().build(), /beyond the 16-bit range/);
  const ok = asm().jeq(R1, 0, "end");
  for (let i = 0; i < 0x7fff; i++) ok.mov64(R0, 0);
  assert.equal(new InstructionView(ok.label("end").exit().build().instructions).off(0), 0x7fff);
  const back = asm().label("b");
  for (let i = 0; i < 0x7fff; i++) back.mov64(R0, 0);
  assert.equal(new InstructionView(back.ja("b").build().instructions).off(0x7fff), -0x8000);
  const tooFarBack = asm().label("b").mov64(R0, 0);
  for (let i = 0; i < 0x7fff; i++) tooFarBack.mov64(R0, 0);
  assert.throws(() => tooFarBack.ja("b").build(), /16-bit range/);
});

test("bad operands are refused with the instruction index", () => {
  assert.throws(() => asm().mov64(R1, 2 ** 32), (e: unknown) => e instanceof ArgumentError && /instruction 0: immediate 4294967296/.test(e.message));
  assert.throws(() => asm().mov64(R1, 1.5), ArgumentError);
  assert.throws(() => asm().exit().ldxw(R1, R2, 40000), /instruction 1: offset 40000 does not fit in 16 bits/);
  assert.throws(() => asm().mov64({ reg: 11 } as Reg, 0), /must be a register R0..R10/);
  assert.throws(() => asm().mov64(5 as unknown as Reg, 0), /must be a register/);
  assert.throws(() => asm().call("no_such_helper"), /unknown helper no_such_helper/);
  assert.throws(() => asm().ldImm64(R1, 1n << 64n), /does not fit in 64 bits/);
  assert.throws(() => asm().movsx64(R1, R2, 4 as 8), /8, 16 or 32/);
  assert.throws(() => asm().be(R1, 8 as 16), /16, 32 or 64/);
  assert.equal(asm().mov32(R1, 0xffffffff).build().instructions[4], 0xff, "unsigned 32-bit immediates are accepted");
  assert.deepEqual([R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10].map(String), ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10"]);
});

test("relocations and linkBuiltProgram patch map fds; big-endian builds", () => {
  const b = asm().ldMap(R1, "counts").ldMapValue(R2, ".bss", 24).ldKsym(R3, "bpf_prog_active").callKfunc("bpf_rcu_read_lock").exit().build();
  assert.deepEqual(b.relocations, [
    { insn: 0, kind: "map", map: "counts" }, { insn: 2, kind: "mapValue", map: ".bss", offset: 24 },
    { insn: 4, kind: "ksym", name: "bpf_prog_active" }, { insn: 6, kind: "kfunc", name: "bpf_rcu_read_lock" },
  ]);
  const maps = { relocations: b.relocations.slice(0, 2), instructions: b.instructions };
  const linked = linkBuiltProgram(maps, { counts: 7, ".bss": { fd: { value: 9 } } });
  const v = new InstructionView(linked);
  assert.deepEqual([v.src(0), v.imm(0), v.imm(1), v.src(2), v.imm(2), v.imm(3)], [1, 7, 0, 2, 9, 24]);
  assert.equal(b.instructions[4], 0, "the built program itself is not modified");
  assert.deepEqual(texts(linked, { hex: true }).slice(0, 2), ["ld_pseudo\tr1, 0x1, 0x7", "ld_pseudo\tr2, 0x2, 0x9"]);
  assert.throws(() => linkBuiltProgram(maps, { counts: 7 }), /map .bss, which is not among the maps given \(counts\)/);
  assert.throws(() => linkBuiltProgram(b, new Map([["counts", 1], [".bss", 2]])), /ksym bpf_prog_active/);
  const be = asm().add64(R2, -4).build({ littleEndian: false });
  assert.deepEqual([...be.instructions], [0x07, 0x20, 0x00, 0x00, 0xff, 0xff, 0xff, 0xfc]);
  assert.equal(disassembleInstruction(be.instructions, 0, { littleEndian: false }).text, "r2 += -4");
});

const mcMissing = (() => { try { execFileSync("llvm-mc-19", ["--version"], { stdio: "ignore" }); return undefined; } catch { return "llvm-mc-19 is not installed"; } })();

test("round trip: the disassembly of a built program assembles (llvm-mc) back to the same bytes", { skip: mcMissing }, () => {
  const p = asm()
    .mov64(R1, 0).stxw(R10, -4, R1).mov64(R2, R10).add64(R2, -4).ldMap(R1, "m").call(1)
    .jeq(R0, 0, "out").mov64(R1, 1).atomicAdd64(R0, 0, R1).atomicFetchAdd64(R0, 8, R1).atomicXchg64(R0, 0, R1)
    .atomicCmpXchg64(R0, 0, R1).atomicFetchOr32(R0, 0, R1).atomicCmpXchg32(R0, 0, R2)
    .sdiv64(R1, R2).smod32(R3, 7).movsx64(R1, R2, 16).movsx32(R4, R5, 8).bswap(R1, 32).be(R2, 16).le(R3, 64)
    .ldxsw(R1, R2, -8).ldxb(R1, R2, 3).stdw(R10, -16, -1).stxh(R10, -2, R3).ldImm64(R6, 0x1234567890n)
    .arsh32(R1, R2).neg64(R3).jsle32(R1, -5, "out").jset(R1, R2, "out").ldAbs("h", 12).ldInd("b", R1, 0)
    .mayGoto("out").jal("out").callx(R2)
    .label("out").mov64(R0, 2).exit()
    .build();
  const listing = texts(p.instructions, { alu32: true }).map((l) => `\t${l.replace(/\t/g, " ")}`).join("\n");
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-asm-"));
  try {
    writeFileSync(join(dir, "p.s"), `${listing}\n`);
    execFileSync("llvm-mc-19", ["-triple", "bpfel", "-mcpu=v4", "-filetype=obj", join(dir, "p.s"), "-o", join(dir, "p.o")]);
    const text = parseElf(new Uint8Array(readFileSync(join(dir, "p.o")))).sectionByName(".text")!.data;
    assert.deepEqual([...text], [...p.instructions]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
