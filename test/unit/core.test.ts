/**
 * CO-RE relocation as a pure function: hand-built local/target BTF pairs for each relocation kind,
 * flavours, anonymous members, arrays, bitfields, ambiguity, poisoning, validation and the failure
 * text; clang-built objects from the repo; timing against the kernel's BTF when it is readable.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { Btf, BtfBuilder, type BtfTypeInit } from "../../src/btf/index.js";
import {
  applyCoreRelocations, coreErrorForVerifier, CoreReloKind as K, CORE_POISON_HELPER, essentialName,
  typesAreCompat, typesMatch, type CoreRelocation,
} from "../../src/btf/core.js";
import { encodeInstructions, InstructionView, type Instruction } from "../../src/asm/index.js";
import { CoreError, VerifierError } from "../../src/errors.js";
import { loadCollectionSpec } from "../../src/spec/index.js";
import { loadKernelBtf } from "../../src/btf/kernel.js";

// ---- helpers ----

/** A BTF under construction: each method adds one type and returns its id. */
class B {
  readonly b = new BtfBuilder();
  add(t: BtfTypeInit): number { return this.b.add(t); }
  int(name = "int", size = 4, signed = true): number {
    return this.add({ kind: "int", name, size, bits: size * 8, offset: 0, signed, char: false, bool: false });
  }
  struct(name: string, size: number, members: [string, number, number, number?][], union = false): number {
    return this.add({ kind: union ? "union" : "struct", name, size, members: members.map(([n, typeId, bitOffset, bitfieldSize]) => ({ name: n, typeId, bitOffset, bitfieldSize: bitfieldSize ?? 0 })) });
  }
  ptr(typeId: number): number { return this.add({ kind: "ptr", name: "", typeId }); }
  typedef(name: string, typeId: number): number { return this.add({ kind: "typedef", name, typeId }); }
  array(elem: number, n: number, index: number): number { return this.add({ kind: "array", name: "", elemTypeId: elem, indexTypeId: index, nelems: n }); }
  enum(name: string, values: [string, bigint][], opts: { size?: number; signed?: boolean; e64?: boolean } = {}): number {
    return this.add({ kind: opts.e64 ? "enum64" : "enum", name, size: opts.size ?? (opts.e64 ? 8 : 4), signed: opts.signed ?? false, values: values.map(([n, value]) => ({ name: n, value })) });
  }
  fwd(name: string, union = false): number { return this.add({ kind: "fwd", name, union }); }
  proto(ret: number, params: number[]): number { return this.add({ kind: "func_proto", name: "", returnTypeId: ret, params: params.map((typeId) => ({ name: "", typeId })) }); }
  done(): Btf { return Btf.parse(this.b.toBytes()); }
}

const MOV64_IMM = 0xb7, ADD64_IMM = 0x07, MOV32_IMM = 0xb4, MOV64_REG = 0xbf;
const LDX_W = 0x61, LDX_H = 0x69, LDX_DW = 0x79, LDX_B = 0x71, ST_W = 0x62, STX_W = 0x63, STX_DW = 0x7b, LD_IMM64 = 0x18, EXIT = 0x95;
const I = (opcode: number, o: Partial<Instruction> = {}): Instruction => ({ opcode, dst: o.dst ?? 1, src: o.src ?? 0, off: o.off ?? 0, imm: o.imm ?? 0, ...(o.imm2 !== undefined ? { imm2: o.imm2 } : {}) });
const prog = (...insns: Instruction[]) => encodeInstructions([...insns, I(EXIT, { dst: 0 })]);
const view = (bytes: Uint8Array, le = true) => new InstructionView(bytes, le);
const R = (insnOff: number, typeId: number, accessStr: string, kind: number): CoreRelocation => ({ insnOff, typeId, accessStr, kind });
const ldImm = (v: InstructionView, i: number) => (BigInt(v.imm(i + 1) >>> 0) << 32n) | BigInt(v.imm(i) >>> 0);
const isPoison = (v: InstructionView, i: number) => v.opcode(i) === 0x85 && v.imm(i) === CORE_POISON_HELPER && v.src(i) === 0 && v.dst(i) === 0 && v.off(i) === 0;

// ---- names ----

test("essential names strip the last ___flavour (X___Y with X, Y not underscores)", () => {
  assert.equal(essentialName("task_struct___old"), "task_struct");
  assert.equal(essentialName("a___b___c"), "a___b");
  assert.equal(essentialName("nf_conn___init"), "nf_conn");
  for (const n of ["____fput", "___slab_alloc", "foo___", "x__y", "a____b", "plain"]) assert.equal(essentialName(n), n, n);
});

// ---- field offsets and patching ----

test("FIELD_BYTE_OFFSET of reordered fields patches ALU imm, LDX/ST/STX offsets", () => {
  const l = new B(); const li = l.int(); const ls = l.struct("s", 8, [["a", li, 0], ["b", li, 32]]);
  const t = new B(); const ti = t.int(); const tl = t.int("long", 8); t.struct("s", 16, [["x", tl, 0], ["b", ti, 64], ["a", ti, 96]]);
  const insns = prog(I(MOV64_IMM, { imm: 4 }), I(LDX_W, { dst: 2, src: 1, off: 4 }), I(ST_W, { off: 0, imm: 7 }), I(STX_W, { src: 2, off: 4 }), I(ADD64_IMM, { imm: 0 }));
  const r = applyCoreRelocations(insns, [
    R(0, ls, "0:1", K.FIELD_BYTE_OFFSET), R(1, ls, "0:1", K.FIELD_BYTE_OFFSET), R(2, ls, "0:0", K.FIELD_BYTE_OFFSET),
    R(3, ls, "0:1", K.FIELD_BYTE_OFFSET), R(4, ls, "0:0", K.FIELD_BYTE_OFFSET),
  ], l.done(), t.done(), { program: "p" });
  const v = view(insns);
  assert.equal(r.applied, 5);
  assert.deepEqual(r.poisoned, []);
  assert.equal(v.imm(0), 8);
  assert.equal(v.off(1), 8);
  assert.equal(v.opcode(1), LDX_W, "same size: opcode unchanged");
  assert.equal(v.off(2), 12);
  assert.equal(v.imm(2), 7, "ST keeps its immediate");
  assert.equal(v.off(3), 8);
  assert.equal(v.imm(4), 12);
  assert.deepEqual(r.outcomes.map((o) => [o.what, o.local, o.target]), [
    ["s.b", 4n, 8n], ["s.b", 4n, 8n], ["s.a", 0n, 12n], ["s.b", 4n, 8n], ["s.a", 0n, 12n],
  ]);
});

test("load/store size is adjusted for unsigned ints and pointers, and poisoned otherwise", () => {
  const l = new B();
  const u32 = l.int("unsigned int", 4, false), s64 = l.int("long", 8), vp = l.ptr(0), u64 = l.int("unsigned long", 8, false);
  const ls = l.struct("s", 32, [["u", u32, 0], ["n", s64, 64], ["p", vp, 128], ["w", u64, 192]]);
  const t = new B();
  const u16 = t.int("unsigned short", 2, false), i32 = t.int("int", 4), tp = t.ptr(0), tu32 = t.int("unsigned int", 4, false);
  t.struct("s", 24, [["n", i32, 0], ["u", u16, 32], ["p", tp, 64], ["w", tu32, 128]]);
  const insns = prog(I(LDX_W, { off: 0 }), I(LDX_DW, { off: 8 }), I(LDX_DW, { off: 16 }), I(STX_DW, { off: 24 }));
  const r = applyCoreRelocations(insns, [
    R(0, ls, "0:0", K.FIELD_BYTE_OFFSET), R(1, ls, "0:1", K.FIELD_BYTE_OFFSET), R(2, ls, "0:2", K.FIELD_BYTE_OFFSET), R(3, ls, "0:3", K.FIELD_BYTE_OFFSET),
  ], l.done(), t.done(), { program: "sz" });
  const v = view(insns);
  assert.equal(v.opcode(0), LDX_H, "u32 -> u16: narrowed to a 2-byte load");
  assert.equal(v.off(0), 4);
  assert.ok(isPoison(v, 1), "long -> int (signed): poisoned");
  assert.equal(v.opcode(2), LDX_DW, "pointer -> pointer: unchanged size");
  assert.equal(v.off(2), 8);
  assert.equal(v.opcode(3), STX_W, "u64 -> u32 store: narrowed");
  assert.equal(v.off(3), 16);
  assert.equal(r.applied, 3);
  assert.equal(r.poisoned.length, 1);
  const f = r.poisoned[0]!;
  assert.equal(f.reason, "size-mismatch");
  assert.equal(f.description, "`s.n` cannot be accessed with its size in kernel BTF (relocation kind field_byte_offset, program sz, instruction 1)");
  assert.match(f.detail, /4 bytes in kernel BTF but 8 bytes in the program/);
});

test("FIELD_BYTE_SIZE, FIELD_EXISTS and FIELD_SIGNED", () => {
  const l = new B(); const li = l.int(); const lu = l.int("unsigned int", 4, false);
  const le = l.enum("e", [["E", 1n]], { signed: true });
  const ls = l.struct("s", 16, [["a", li, 0], ["gone", li, 32], ["u", lu, 64], ["e", le, 96]]);
  const t = new B(); const ti = t.int(); const tl = t.int("long", 8); const tu = t.int("unsigned char", 1, false);
  const te = t.enum("e", [["E", 1n]], { signed: false });
  t.struct("s", 24, [["a", tl, 0], ["u", tu, 64], ["e", te, 96], ["x", ti, 128]]);
  const insns = prog(I(MOV64_IMM, { imm: 4 }), I(MOV64_IMM, { imm: 1 }), I(MOV64_IMM, { imm: 1 }), I(MOV64_IMM, { imm: 1 }), I(MOV64_IMM, { imm: 0 }), I(MOV32_IMM, { imm: 1 }), I(MOV64_IMM, { imm: 4 }));
  const r = applyCoreRelocations(insns, [
    R(0, ls, "0:0", K.FIELD_BYTE_SIZE), R(1, ls, "0:0", K.FIELD_EXISTS), R(2, ls, "0:1", K.FIELD_EXISTS),
    R(3, ls, "0:0", K.FIELD_SIGNED), R(4, ls, "0:2", K.FIELD_SIGNED), R(5, ls, "0:3", K.FIELD_SIGNED), R(6, ls, "0:2", K.FIELD_BYTE_SIZE),
  ], l.done(), t.done());
  assert.deepEqual(r.outcomes.map((o) => o.target), [8n, 1n, 0n, 1n, 0n, 0n, 1n]);
  assert.deepEqual(r.poisoned, [], "a missing field for FIELD_EXISTS is 0, not a failure");
  assert.equal(view(insns).imm(2), 0);
});

test("bitfields: byte offset, byte size and shifts follow the target layout (both byte orders)", () => {
  const l = new B(); const lu64 = l.int("u64", 8, false);
  const ls = l.struct("bf", 8, [["c", lu64, 0, 20], ["b", lu64, 20, 7]]);
  const t = new B(); const tu32 = t.int("u32", 4, false); const tu8 = t.int("u8", 1, false);
  t.struct("bf", 8, [["a", tu32, 0, 3], ["b", tu32, 3, 7], ["c", tu32, 12, 20], ["x", tu8, 36, 6]]);
  const ls2 = l.struct("bf", 8, [["x", lu64, 0, 6]]);
  const local = l.done(), target = t.done();
  const relos = [
    R(0, ls, "0:0", K.FIELD_BYTE_OFFSET), R(1, ls, "0:0", K.FIELD_BYTE_SIZE), R(2, ls, "0:0", K.FIELD_LSHIFT_U64),
    R(3, ls, "0:0", K.FIELD_RSHIFT_U64), R(4, ls, "0:1", K.FIELD_LSHIFT_U64), R(5, ls, "0:1", K.FIELD_RSHIFT_U64),
    R(6, ls2, "0:0", K.FIELD_BYTE_OFFSET), R(7, ls2, "0:0", K.FIELD_BYTE_SIZE), R(8, ls2, "0:0", K.FIELD_LSHIFT_U64),
  ];
  // Local values (little-endian): c at 0..20 of a u64, b at 20..27; x at 0..6.
  const mk = () => prog(...[0, 8, 44, 44, 37, 57, 0, 8, 58].map((imm) => I(MOV64_IMM, { imm })));
  const insns = mk();
  const r = applyCoreRelocations(insns, relos, local, target);
  // Target c: bits 12..32 of a u32 -> offset 0, size 4, lshift 64-32 = 32, rshift 64-20 = 44.
  // Target b: bits 3..10 -> lshift 64-10 = 54, rshift 57. x: u8 bits 36..42 straddle a byte -> u16 at 4, lshift 64-(36+6-32) = 54.
  assert.deepEqual(r.outcomes.map((o) => o.target), [0n, 4n, 32n, 44n, 54n, 57n, 4n, 2n, 54n]);
  // Big-endian: lshift = (8 - byte_size) * 8 + (bit_off - byte_off * 8).
  const be = encodeInstructions([...[0, 8, 0, 44, 20, 57, 0, 8, 0].map((imm) => I(MOV64_IMM, { imm })), I(EXIT)], false);
  const rb = applyCoreRelocations(be, relos, local, target, { littleEndian: false });
  assert.deepEqual(rb.outcomes.map((o) => o.target), [0n, 4n, 44n, 44n, 35n, 57n, 4n, 2n, 52n]);
  assert.equal(new InstructionView(be, false).imm(2), 44);
});

// ---- types ----

test("type relocations: local/target ids, existence, size, matches (ALU and ld_imm64)", () => {
  const l = new B(); const li = l.int(); const ll = l.int("long", 8);
  const ls = l.struct("s", 4, [["a", li, 0]]);
  const lgone = l.struct("gone", 4, [["a", li, 0]]);
  const lbad = l.struct("s___bad", 8, [["a", ll, 0]]);
  const ltd = l.typedef("s_t", ls);
  const t = new B(); t.int("char", 1); const ti = t.int(); const ts = t.struct("s", 12, [["z", ti, 0], ["a", ti, 32], ["y", ti, 64]]);
  const ttd = t.typedef("s_t", ts);
  const local = l.done(), target = t.done();
  const insns = prog(
    I(LD_IMM64, { imm: ls, imm2: 0 }), I(LD_IMM64, { imm: ls, imm2: 0 }), I(MOV64_IMM, { imm: 1 }), I(MOV64_IMM, { imm: 1 }),
    I(MOV64_IMM, { imm: 4 }), I(MOV64_IMM, { imm: 4 }), I(MOV64_IMM, { imm: 1 }), I(MOV64_IMM, { imm: 1 }), I(MOV64_IMM, { imm: 1 }),
    I(LD_IMM64, { imm: 999, imm2: 0 }), I(MOV64_IMM, { imm: 4 }),
  );
  const r = applyCoreRelocations(insns, [
    R(0, ls, "0", K.TYPE_ID_LOCAL), R(2, ls, "0", K.TYPE_ID_TARGET), R(4, ls, "0", K.TYPE_EXISTS), R(5, lgone, "0", K.TYPE_EXISTS),
    R(6, ls, "0", K.TYPE_SIZE), R(7, lgone, "0", K.TYPE_SIZE), R(8, ls, "0", K.TYPE_MATCHES), R(9, lbad, "0", K.TYPE_MATCHES),
    R(10, lbad, "0", K.TYPE_EXISTS), R(11, ltd, "0", K.TYPE_ID_TARGET), R(13, ltd, "0", K.TYPE_SIZE),
  ], local, target);
  const v = view(insns);
  assert.deepEqual(r.poisoned, [], "unsatisfied type relocations yield 0, never poison");
  assert.equal(ldImm(v, 0), BigInt(ls));
  assert.equal(ldImm(v, 2), BigInt(ts));
  assert.deepEqual(r.outcomes.slice(2).map((o) => o.target), [1n, 0n, 12n, 0n, 1n, 0n, 1n, BigInt(ttd), 12n]);
  assert.equal(ldImm(v, 11), BigInt(ttd), "TYPE_ID_TARGET is not validated (ids change when objects are linked)");
});

test("TYPE_MATCHES rules: names, int size/sign, enum names, members, pointers to fwd, arrays, prototypes", () => {
  const l = new B(), t = new B();
  const li = l.int(), lu = l.int("unsigned int", 4, false), lc = l.int("char", 1);
  const ti = t.int(), tu = t.int("unsigned int", 4, false), tc = t.int("char", 1, false);
  const lfwd = l.fwd("opaque"), topaque = t.struct("opaque", 4, [["q", ti, 0]]);
  const lsub = l.struct("s", 4, [["a", li, 0]]), ts = t.struct("s", 8, [["b", ti, 0], ["a", ti, 32]]);
  const lwrong = l.struct("w", 4, [["a", lu, 0]]), tw = t.struct("w", 4, [["a", ti, 0]]);
  const lp = l.struct("p", 8, [["o", l.ptr(lfwd), 0]]), tp = t.struct("p", 8, [["o", t.ptr(topaque), 0]]);
  const lpu = l.struct("pu", 8, [["o", l.ptr(l.fwd("opaque", true)), 0]]), tpu = t.struct("pu", 8, [["o", t.ptr(topaque), 0]]);
  const le = l.enum("e", [["B", 7n]]), te = t.enum("e", [["A", 1n], ["B", 2n]]);
  const le2 = l.enum("e", [["C", 7n]]);
  const le8 = l.enum("e", [["B", 7n]], { size: 8, e64: true });
  const la = l.struct("arr", 16, [["x", l.array(li, 4, li), 0]]), ta = t.struct("arr", 20, [["x", t.array(ti, 5, ti), 0]]);
  const lfn = l.proto(li, [li, lu]), tfn = t.proto(ti, [ti, tu]), tfn1 = t.proto(ti, [ti]);
  const lcarr = l.struct("c", 16, [["s", l.array(lc, 16, li), 0]]), tcarr = t.struct("c", 16, [["s", t.array(tc, 16, ti), 0]]);
  const local = l.done(), target = t.done();
  assert.equal(typesMatch(local, lsub, target, ts), true, "a subset of members, in another order");
  assert.equal(typesMatch(local, lwrong, target, tw), false, "signedness differs");
  assert.equal(typesMatch(local, lp, target, tp), true, "a fwd behind a pointer matches the struct");
  assert.equal(typesMatch(local, lpu, target, tpu), false, "a union fwd does not match a struct");
  assert.equal(typesMatch(local, lfwd, target, topaque), false, "not behind a pointer, a fwd needs a fwd");
  assert.equal(typesMatch(local, le, target, te), true, "enum names subset, values ignored");
  assert.equal(typesMatch(local, le2, target, te), false);
  assert.equal(typesMatch(local, le8, target, te), false, "enum sizes differ");
  assert.equal(typesMatch(local, la, target, ta), false, "array lengths differ");
  assert.equal(typesAreCompat(local, la, target, ta), true, "compat is by kind only for structs");
  assert.equal(typesMatch(local, lfn, target, tfn), true);
  assert.equal(typesMatch(local, lfn, target, tfn1), false);
  assert.equal(typesAreCompat(local, lfn, target, tfn1), false, "prototype arity");
  assert.equal(typesMatch(local, lcarr, target, tcarr), false, "char signedness differs (the kernel uses -funsigned-char)");
});

// ---- enums ----

test("enum value relocations: flavoured enumerators, signed, enum64 through ld_imm64", () => {
  const l = new B();
  const le = l.enum("e___mine", [["A___mine", 1n], ["NEG___mine", 2n], ["GONE___mine", 3n]]);
  const l64 = l.enum("big___mine", [["BIG___mine", 5n]]);
  const t = new B();
  t.enum("e", [["A", 10n], ["NEG", -5n]], { signed: true });
  t.enum("big", [["BIG", 0x1_2345_6789n]], { e64: true });
  const insns = prog(I(MOV64_IMM, { imm: 1 }), I(MOV64_IMM, { imm: 2 }), I(MOV64_IMM, { imm: 1 }), I(MOV64_IMM, { imm: 1 }), I(LD_IMM64, { imm: 5, imm2: 0 }), I(LD_IMM64, { imm: 3, imm2: 0 }));
  const r = applyCoreRelocations(insns, [
    R(0, le, "0", K.ENUMVAL_VALUE), R(1, le, "1", K.ENUMVAL_VALUE), R(2, le, "0", K.ENUMVAL_EXISTS), R(3, le, "2", K.ENUMVAL_EXISTS),
    R(4, l64, "0", K.ENUMVAL_VALUE), R(6, le, "2", K.ENUMVAL_VALUE),
  ], l.done(), t.done(), { program: "en" });
  const v = view(insns);
  assert.equal(v.imm(0), 10);
  assert.equal(v.imm(1), -5);
  assert.equal(v.imm(2), 1);
  assert.equal(v.imm(3), 0);
  assert.equal(ldImm(v, 4), 0x1_2345_6789n, "a 32-bit local enum relocated to a 64-bit value");
  assert.ok(isPoison(v, 6) && isPoison(v, 7), "both halves of a poisoned ld_imm64");
  assert.equal(r.poisoned.length, 1);
  assert.equal(r.poisoned[0]!.description, "`enum e___mine::GONE___mine` not found in kernel BTF (relocation kind enumval_value, program en, instruction 6)");
  assert.equal(r.poisoned[0]!.detail, "no enum e in kernel BTF has an enumerator GONE");
});

// ---- candidates ----

test("flavours: local ___flavours find the target type, target flavours are candidates too", () => {
  const l = new B(); const li = l.int();
  const lnew = l.struct("task___new", 4, [["f", li, 0]]);
  const lold = l.struct("task___old", 4, [["g", li, 0]]);
  const t = new B(); const ti = t.int();
  const tbase = t.struct("task", 8, [["pad", ti, 0], ["g", ti, 32]]);
  t.struct("task___init", 12, [["pad", ti, 0], ["pad2", ti, 32], ["f", ti, 64]]);
  const insns = prog(I(MOV64_IMM, { imm: 0 }), I(MOV64_IMM, { imm: 0 }), I(MOV64_IMM, { imm: 4 }));
  const r = applyCoreRelocations(insns, [R(0, lnew, "0:0", K.FIELD_BYTE_OFFSET), R(1, lold, "0:0", K.FIELD_BYTE_OFFSET), R(2, lold, "0", K.TYPE_SIZE)], l.done(), t.done());
  assert.deepEqual(r.outcomes.map((o) => [o.target, o.matches]), [[8n, 1], [4n, 1], [8n, 1]],
    "f only exists in task___init; after the field relocation, task___old's candidates are pruned to task");
  assert.ok(tbase > 0);
});

test("ambiguity: candidates that disagree are an error, candidates that agree are fine", () => {
  const l = new B(); const li = l.int(); const ls = l.struct("s", 8, [["a", li, 0]]);
  const t = new B(); const ti = t.int();
  t.struct("s", 8, [["a", ti, 0]]);
  t.struct("s___dup", 8, [["a", ti, 0]]);
  const agree = prog(I(MOV64_IMM, { imm: 0 }));
  const ra = applyCoreRelocations(agree, [R(0, ls, "0:0", K.FIELD_BYTE_OFFSET)], l.done(), t.done());
  assert.equal(ra.outcomes[0]!.matches, 2);
  t.struct("s___other", 8, [["pad", ti, 0], ["a", ti, 32]]);
  assert.throws(() => applyCoreRelocations(prog(I(MOV64_IMM, { imm: 0 })), [R(0, ls, "0:0", K.FIELD_BYTE_OFFSET)], l.done(), t.done(), { program: "amb" }),
    (e: unknown) => e instanceof CoreError && /relocate program amb: CO-RE relocation #0 \(field_byte_offset at instruction 0, s\.a\): field offset ambiguity/.test(e.message));
  // Two target ids for TYPE_ID_TARGET disagree too (as in libbpf).
  assert.throws(() => applyCoreRelocations(prog(I(LD_IMM64, { imm: ls, imm2: 0 })), [R(0, ls, "0", K.TYPE_ID_TARGET)], l.done(), t.done()),
    (e: unknown) => e instanceof CoreError && /relocation ambiguity/.test(e.message));
});

// ---- anonymous members and arrays ----

test("fields inside anonymous structs/unions, array elements and flexible arrays", () => {
  const l = new B(); const li = l.int();
  const lpt = l.struct("pt", 8, [["x", li, 0], ["y", li, 32]]);
  const larr = l.array(li, 4, li), lpts = l.array(lpt, 2, li), lflex = l.array(li, 0, li);
  const ls = l.struct("s", 56, [["c", li, 0], ["a", li, 32], ["arr", larr, 64], ["pts", lpts, 192], ["n", li, 320], ["data", lflex, 352]]);
  const t = new B(); const ti = t.int(); const tl = t.int("long", 8);
  const tpt = t.struct("pt", 8, [["y", ti, 0], ["x", ti, 32]]);
  const anon = t.struct("", 8, [["a", ti, 0], ["b", tl, 0]], true);
  const tarr = t.array(ti, 3, ti), tpts = t.array(tpt, 2, ti), tflex = t.array(ti, 0, ti);
  t.struct("s", 64, [["c", ti, 0], ["", anon, 64], ["arr", tarr, 128], ["pts", tpts, 224], ["n", ti, 352], ["data", tflex, 384]]);
  const relos = [
    R(0, ls, "0:1", K.FIELD_BYTE_OFFSET), // a: in an anonymous union at 8
    R(1, ls, "0:2:2", K.FIELD_BYTE_OFFSET), // arr[2]: 16 + 8
    R(2, ls, "0:3:1:1", K.FIELD_BYTE_OFFSET), // pts[1].y: 28 + 8 + 0 (local 24 + 8 + 4)
    R(3, ls, "0:5:5", K.FIELD_BYTE_OFFSET), // data[5] of a flexible array: 48 + 20
    R(4, ls, "0:2:3", K.FIELD_BYTE_OFFSET), // arr[3]: the target array has 3 elements
    R(5, ls, "1:0", K.FIELD_BYTE_OFFSET), // (&s)[1].c: sizeof(s) in the target
    R(6, ls, "0:2", K.FIELD_BYTE_SIZE), // sizeof arr
  ];
  const insns = prog(...[4, 16, 36, 64, 20, 56, 16].map((imm) => I(MOV64_IMM, { imm })));
  const r = applyCoreRelocations(insns, relos, l.done(), t.done(), { program: "arr" });
  assert.deepEqual(r.outcomes.map((o) => o.target), [8n, 24n, 36n, 68n, undefined, 64n, 12n]);
  assert.deepEqual(r.outcomes.map((o) => o.what), ["s.a", "s.arr[2]", "s.pts[1].y", "s.data[5]", "s.arr[3]", "s[1].c", "s.arr"]);
  assert.equal(r.poisoned.length, 1);
  assert.match(r.poisoned[0]!.detail, /index \[3\] is out of bounds/);
});

// ---- poisoning, validation, errors ----

test("a missing field poisons its instruction with call 0xbad2310 and says why in C terms", () => {
  const l = new B(); const li = l.int(); const ls = l.struct("task_struct", 8, [["pid", li, 0], ["__state", li, 32]]);
  const t = new B(); const ti = t.int(); t.struct("task_struct", 8, [["pid", ti, 0], ["state", ti, 32]]);
  const insns = prog(I(MOV64_IMM, { imm: 0 }), I(LDX_W, { off: 4 }), I(MOV64_REG, { src: 2 }));
  const r = applyCoreRelocations(insns, [R(0, ls, "0:0", K.FIELD_BYTE_OFFSET), R(1, ls, "0:1", K.FIELD_BYTE_OFFSET)], l.done(), t.done(), { program: "X" });
  const v = view(insns);
  assert.ok(isPoison(v, 1));
  assert.equal(v.imm(1), 0xbad2310);
  assert.equal(v.opcode(2), MOV64_REG, "neighbours untouched");
  assert.deepEqual(r.poisoned, [{
    program: "X", instruction: 1, relocation: 1, kind: 0, kindName: "field_byte_offset", what: "task_struct.__state", reason: "not-found",
    detail: "struct task_struct in kernel BTF has no field __state of a compatible type",
    description: "`task_struct.__state` not found in kernel BTF (relocation kind field_byte_offset, program X, instruction 1)",
  }]);
  // No type of that name at all.
  const t2 = new B(); t2.int();
  const r2 = applyCoreRelocations(prog(I(LDX_W, { off: 4 })), [R(0, ls, "0:1", K.FIELD_BYTE_OFFSET)], l.done(), t2.done(), { targetName: "target BTF" });
  assert.equal(r2.poisoned[0]!.detail, "target BTF has no struct named task_struct");
  assert.match(r2.poisoned[0]!.description, /not found in target BTF/);
});

test("the instruction must hold the value the object's BTF implies (validation), and other malformed input is a CoreError", () => {
  const l = new B(); const li = l.int(); const ls = l.struct("s", 8, [["a", li, 0], ["b", li, 32]]);
  const anonS = l.struct("", 4, [["x", li, 0]]);
  const t = new B(); const ti = t.int(); t.struct("s", 8, [["b", ti, 0], ["a", ti, 32]]);
  const local = l.done(), target = t.done();
  const bad = (insns: Uint8Array, relo: CoreRelocation, re: RegExp) =>
    assert.throws(() => applyCoreRelocations(insns, [relo], local, target, { program: "v" }), (e: unknown) => e instanceof CoreError && e.code === "E_CORE" && re.test(e.message), re.source);
  bad(prog(I(MOV64_IMM, { imm: 3 })), R(0, ls, "0:1", K.FIELD_BYTE_OFFSET), /instruction 0 \(ALU\) holds 3, expected 4/);
  bad(prog(I(LDX_W, { off: 2 })), R(0, ls, "0:1", K.FIELD_BYTE_OFFSET), /offset 2, expected 4/);
  bad(prog(I(LD_IMM64, { imm: 4, imm2: 0, src: 1 })), R(0, ls, "0:1", K.FIELD_BYTE_OFFSET), /LD_IMM64\) has an unexpected form/);
  bad(prog(I(0x0f /* r1 += r2 */, { src: 2 })), R(0, ls, "0:1", K.FIELD_BYTE_OFFSET), /register operand/);
  bad(prog(I(0x85, { imm: 1 })), R(0, ls, "0:1", K.FIELD_BYTE_OFFSET), /cannot carry a CO-RE relocation/);
  bad(prog(I(MOV64_IMM, { imm: 4 })), R(0, ls, "0:x", K.FIELD_BYTE_OFFSET), /malformed access string "0:x"/);
  bad(prog(I(MOV64_IMM, { imm: 4 })), R(0, ls, "0:7", K.FIELD_BYTE_OFFSET), /member index 7 is out of range/);
  bad(prog(I(MOV64_IMM, { imm: 4 })), R(0, ls, "0:1", K.TYPE_SIZE), /type-based relocation with access string "0:1"/);
  bad(prog(I(MOV64_IMM, { imm: 4 })), R(0, 999, "0", K.TYPE_SIZE), /type id 999 is out of range/);
  bad(prog(I(MOV64_IMM, { imm: 4 })), R(9, ls, "0:1", K.FIELD_BYTE_OFFSET), /instruction is out of range/);
  bad(prog(I(MOV64_IMM, { imm: 4 })), R(0, ls, "0:1", 13), /unknown relocation kind 13/);
  bad(prog(I(MOV64_IMM, { imm: 0 })), R(0, anonS, "0:0", K.FIELD_BYTE_OFFSET), /anonymous types are not supported/);
  bad(prog(I(MOV64_IMM, { imm: 0 })), R(0, ls, "0:0:1", K.FIELD_BYTE_OFFSET), /not a struct, union or array/);
  // TYPE_ID_LOCAL: the local id, not validated.
  const insns = prog(I(MOV64_IMM, { imm: 12345 }));
  applyCoreRelocations(insns, [R(0, ls, "0", K.TYPE_ID_LOCAL)], local, target);
  assert.equal(view(insns).imm(0), ls);
});

test("coreErrorForVerifier names the poisoned relocation the verifier reached", () => {
  const l = new B(); const li = l.int(); const ls = l.struct("task_struct", 4, [["gone", li, 0]]);
  const t = new B(); t.struct("task_struct", 0, []);
  const r = applyCoreRelocations(prog(I(MOV64_IMM, { imm: 1 }), I(LDX_W, { off: 0 })), [R(1, ls, "0:0", K.FIELD_BYTE_OFFSET)], l.done(), t.done(), { program: "tp" });
  const log = `0: R1=ctx()\n0: (b7) r1 = 1\n1: (85) call unknown#${0xbad2310}\ninvalid func unknown#195896080\n`;
  const ve = new VerifierError("tp", 22, log, "1: (85) call unknown#195896080: invalid func unknown#195896080", { instruction: 1 });
  const ce = coreErrorForVerifier(ve, r.poisoned);
  assert.ok(ce instanceof CoreError);
  assert.equal(ce.cause, ve);
  assert.match(ce.message, /^load program tp: CO-RE relocation failed: `task_struct\.gone` not found in kernel BTF \(relocation kind field_byte_offset, program tp, instruction 1\): struct task_struct in kernel BTF has no field gone/);
  assert.match(ce.message, /bpf_core_field_exists/);
  // Found through the log when the summary's instruction is elsewhere.
  assert.ok(coreErrorForVerifier(new VerifierError("tp", 22, log, "x", { instruction: 7 }), r.poisoned));
  // An unrelated rejection is left alone.
  assert.equal(coreErrorForVerifier(new VerifierError("tp", 13, "5: (61) r0 = *(u32 *)(r9 +0)\nR9 !read_ok\n", "x", { instruction: 5 }), r.poisoned), undefined);
  assert.equal(coreErrorForVerifier(ve, []), undefined);
});

// ---- clang-built objects ----

const repo = (p: string) => new URL(`../../../${p}`, import.meta.url);

test("clang output: readhist relocated against its own BTF is the identity (every value validates)", () => {
  const spec = loadCollectionSpec(new Uint8Array(readFileSync(repo("examples/readhist/readhist.bpf.o"))), { name: "readhist" });
  for (const p of Object.values(spec.programs)) {
    const insns = p.instructions.slice();
    const r = applyCoreRelocations(insns, p.coreRelocations, spec.btf!, spec.btf!, { program: p.name });
    assert.equal(r.applied, p.coreRelocations.length);
    assert.deepEqual(insns, p.instructions, p.name);
  }
});

test("clang output: core_task's ___flavours are ambiguous against a BTF that holds them all", () => {
  const spec = loadCollectionSpec(new Uint8Array(readFileSync(repo("test/bpf/core_task.bpf.o"))), { name: "core_task" });
  const p = spec.programs.on_getpid!;
  assert.ok(p.coreRelocations.length > 100);
  assert.throws(() => applyCoreRelocations(p.instructions.slice(), p.coreRelocations, spec.btf!, spec.btf!, { program: p.name }),
    (e: unknown) => e instanceof CoreError && /ambiguity/.test(e.message));
});

test("timing: 50 relocations against the kernel's BTF", (t) => {
  if (!existsSync("/sys/kernel/btf/vmlinux")) { t.skip("/sys/kernel/btf/vmlinux is absent"); return; }
  const kernel = loadKernelBtf();
  const spec = loadCollectionSpec(new Uint8Array(readFileSync(repo("test/bpf/core_task.bpf.o"))), { name: "core_task" });
  const p = spec.programs.on_getpid!;
  const relos = p.coreRelocations.slice(0, 50);
  const run = () => {
    const insns = p.instructions.slice();
    const t0 = performance.now();
    const r = applyCoreRelocations(insns, relos, spec.btf!, kernel, { program: p.name });
    const ms = performance.now() - t0;
    assert.equal(r.applied + r.poisoned.length, 50);
    return ms;
  };
  const first = run();
  const warm = Array.from({ length: 21 }, run).sort((a, b) => a - b);
  t.diagnostic(`first run (name index, flavour scan, decoding): ${first.toFixed(2)} ms; warm median ${warm[10]!.toFixed(3)} ms, max ${warm[20]!.toFixed(3)} ms`);
  assert.ok(warm[10]! < 5, `warm median ${warm[10]} ms is under 5 ms`);
});

// ---- module BTF (split BTF on top of vmlinux) ----

test("candidates: vmlinux first; only types vmlinux lacks are looked up in modules, with the module's ids", () => {
  // "vmlinux": int, struct both { int a; int b; }.
  const vm = new B(); const vi = vm.int(); vm.struct("both", 8, [["a", vi, 0], ["b", vi, 32]]);
  const vmlinux = vm.done();
  // Module A defines mod_s { int pad; int v; } and another `both` (ignored: vmlinux has one).
  const ma = new BtfBuilder({ base: vmlinux });
  ma.add({ kind: "struct", name: "both", size: 12, members: [{ name: "pad", typeId: vi, bitOffset: 0, bitfieldSize: 0 }, { name: "b", typeId: vi, bitOffset: 64, bitfieldSize: 0 }] });
  const modA = ma.add({ kind: "struct", name: "mod_s", size: 8, members: [{ name: "pad", typeId: vi, bitOffset: 0, bitfieldSize: 0 }, { name: "v", typeId: vi, bitOffset: 32, bitfieldSize: 0 }] });
  const modABtf = Btf.parse(ma.toBytes(), { base: vmlinux });
  // Module B has an empty BTF of its own (only vmlinux's types through its base).
  const modBBtf = Btf.parse(new BtfBuilder({ base: vmlinux }).toBytes(), { base: vmlinux });
  // The program: both.b, mod_s.v (field offset, existence, target type id), gone_s.x (nowhere).
  const l = new B(); const li = l.int();
  const lb = l.struct("both", 8, [["a", li, 0], ["b", li, 32]]);
  const lm = l.struct("mod_s", 4, [["v", li, 0]]);
  const lg = l.struct("gone_s", 4, [["x", li, 0]]);
  const insns = prog(I(MOV64_IMM, { imm: 4 }), I(MOV64_IMM, { imm: 0 }), I(MOV64_IMM, { imm: 1 }), I(LD_IMM64, { imm: lm, imm2: 0 }), I(MOV64_IMM, { imm: 0 }));
  const relos = [R(0, lb, "0:1", K.FIELD_BYTE_OFFSET), R(1, lm, "0:0", K.FIELD_BYTE_OFFSET), R(2, lm, "0:0", K.FIELD_EXISTS), R(3, lm, "0", K.TYPE_ID_TARGET), R(5, lg, "0:0", K.FIELD_BYTE_OFFSET)];
  let calls = 0;
  const modules = () => { calls++; return [modBBtf, modABtf]; };
  const r = applyCoreRelocations(insns, relos, l.done(), vmlinux, { program: "m", modules });
  const v = view(insns);
  assert.equal(v.imm(0), 4, "both.b from vmlinux (offset 4), not module A's copy (offset 8)");
  assert.equal(v.imm(1), 4, "mod_s.v from module A");
  assert.equal(v.imm(2), 1, "mod_s.v exists");
  assert.equal(Number(ldImm(v, 3)), modA, "the target type id is module A's id");
  assert.ok(modA >= vmlinux.count, "module ids continue after vmlinux's");
  assert.equal(r.applied, 4);
  assert.deepEqual(r.poisoned.map((p) => [p.what, p.detail]), [["gone_s.x", "kernel BTF has no struct named gone_s"]]);
  assert.equal(calls, 2, "modules are listed only for local types vmlinux has no candidate for (mod_s, gone_s)");
  // Without the modules option (a custom target BTF), mod_s is not found.
  const again = prog(I(MOV64_IMM, { imm: 0 }));
  const r2 = applyCoreRelocations(again, [R(0, lm, "0:0", K.FIELD_BYTE_OFFSET)], l.done(), vmlinux, { program: "m" });
  assert.deepEqual(r2.poisoned.map((p) => p.what), ["mod_s.v"]);
});

test("candidates in two modules that disagree are ambiguous, as within one BTF", () => {
  const vm = new B(); const vi = vm.int();
  const vmlinux = vm.done();
  const mk = (off: number) => {
    const m = new BtfBuilder({ base: vmlinux });
    m.add({ kind: "struct", name: "dup_s", size: 8, members: [{ name: "v", typeId: vi, bitOffset: off, bitfieldSize: 0 }] });
    return Btf.parse(m.toBytes(), { base: vmlinux });
  };
  const l = new B(); const li = l.int(); const ld = l.struct("dup_s", 4, [["v", li, 0]]);
  assert.throws(() => applyCoreRelocations(prog(I(MOV64_IMM, { imm: 0 })), [R(0, ld, "0:0", K.FIELD_BYTE_OFFSET)], l.done(), vmlinux, { program: "d", modules: () => [mk(0), mk(32)] }),
    (e: unknown) => e instanceof CoreError && /field offset ambiguity/.test(e.message));
  // Two modules with the same layout agree.
  const insns = prog(I(MOV64_IMM, { imm: 0 }));
  applyCoreRelocations(insns, [R(0, ld, "0:0", K.FIELD_BYTE_OFFSET)], l.done(), vmlinux, { program: "d", modules: () => [mk(32), mk(32)] });
  assert.equal(view(insns).imm(0), 4);
});
