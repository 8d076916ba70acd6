/**
 * An assembler DSL: build BPF programs in TypeScript, without clang. Chain one method per
 * instruction, name jump targets with labels, reference maps by name and helpers by name or id;
 * `build()` resolves the labels into relative jumps (checking their range) and returns the
 * instructions with the map relocations a loader applies, in the same shape as a `ProgramSpec`'s.
 *
 * Registers are the constants `R0` ... `R10` (objects, so that `mov64(R1, R2)` and `mov64(R1, 2)`
 * cannot be confused). Method names follow the kernel's instruction macros: `64`/`32` suffixes pick
 * ALU64/ALU (and JMP/JMP32), `b h w dw` the access size.
 *
 * @example The XDP packet counter of the seed, instruction for instruction:
 * ```ts
 * import { asm, R0, R1, R2, R10, linkBuiltProgram } from "tsbpf";
 * const built = asm()
 *   .mov64(R1, 0).stxw(R10, -4, R1)              // __u32 key = 0
 *   .mov64(R2, R10).add64(R2, -4)                // r2 = &key
 *   .ldMap(R1, "pkt_count")                      // r1 = &pkt_count
 *   .call("map_lookup_elem")                     // r0 = bpf_map_lookup_elem(r1, r2)
 *   .jeq(R0, 0, "out")                           // if (!r0) goto out
 *   .mov64(R1, 1).atomicAdd64(R0, 0, R1)         // __sync_fetch_and_add(r0, 1)
 *   .label("out").mov64(R0, 2).exit()            // return XDP_PASS
 *   .build();
 * // built.relocations: [{ insn: 4, kind: "map", map: "pkt_count" }]
 * const insns = linkBuiltProgram(built, { pkt_count: map }); // map fds patched in
 * ```
 */
import { ArgumentError } from "../errors.js";
import type { InsnRelocation } from "../spec/types.js";
import { InstructionView, type Instruction } from "./instruction.js";
import { helperId } from "./helpers.js";
import type { DisasmSymbol } from "./disasm.js";
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_CMPXCHG, BPF_DIV,
  BPF_DW, BPF_END, BPF_EXIT, BPF_FETCH, BPF_H, BPF_IMM, BPF_IND, BPF_ABS, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT,
  BPF_JLE, BPF_JLT, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_K,
  BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR,
  BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_BTF_ID, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB,
  BPF_W, BPF_X, BPF_XCHG, BPF_XOR, INSN_SIZE,
} from "./opcodes.js";

/** A BPF register, r0 ... r10. Use the `R0` ... `R10` constants. */
export interface Reg {
  readonly reg: number;
}

function mkReg(n: number): Reg {
  return Object.freeze({ reg: n, toString: () => `r${n}` });
}
/** r0: return value, helper results. */
export const R0: Reg = mkReg(0);
/** r1: first argument (the context on entry). */
export const R1: Reg = mkReg(1);
/** r2: second argument. */
export const R2: Reg = mkReg(2);
/** r3: third argument. */
export const R3: Reg = mkReg(3);
/** r4: fourth argument. */
export const R4: Reg = mkReg(4);
/** r5: fifth argument. */
export const R5: Reg = mkReg(5);
/** r6: callee-saved. */
export const R6: Reg = mkReg(6);
/** r7: callee-saved. */
export const R7: Reg = mkReg(7);
/** r8: callee-saved. */
export const R8: Reg = mkReg(8);
/** r9: callee-saved. */
export const R9: Reg = mkReg(9);
/** r10: read-only frame pointer. */
export const R10: Reg = mkReg(10);
/** All registers by number. */
export const REGISTERS: readonly Reg[] = [R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10];

/** A jump target: a label name, or a raw relative offset in instructions. */
export type Target = string | number;
/** A source operand: a register or a 32-bit immediate. */
export type Operand = Reg | number;

/** The result of {@link Assembler.build}. */
export interface BuiltProgram {
  /** The instructions, 8-byte slots in the chosen byte order (ld_imm64 takes two). */
  instructions: Uint8Array;
  /** Map and extern references, by slot index, as a loader applies them (see `InsnRelocation`). */
  relocations: InsnRelocation[];
  /** Labels by name: the slot index each one marks. */
  labels: Record<string, number>;
  littleEndian: boolean;
}

interface Pending {
  insn: Instruction;
  /** Label to resolve into `off` (16-bit) or `imm` (32-bit). */
  target?: { label: string; field: "off" | "imm" };
  reloc?: { kind: "map"; map: string } | { kind: "mapValue"; map: string; offset: number } | { kind: "kconfig" | "ksym" | "kfunc"; name: string };
  slot: number;
}

const isReg = (o: unknown): o is Reg => typeof o === "object" && o !== null && typeof (o as Reg).reg === "number";

const ALU_OPS = { add: BPF_ADD, sub: BPF_SUB, mul: BPF_MUL, div: BPF_DIV, or: BPF_OR, and: BPF_AND, lsh: BPF_LSH, rsh: BPF_RSH, mod: BPF_MOD, xor: BPF_XOR, mov: BPF_MOV, arsh: BPF_ARSH } as const;
const SIZES = { b: BPF_B, h: BPF_H, w: BPF_W, dw: BPF_DW } as const;

/**
 * The assembler. Every instruction method appends and returns `this`; {@link Assembler.build}
 * resolves labels. Errors (bad register, immediate out of range, unknown helper, undefined or
 * duplicate label, jump out of range) are thrown as `ArgumentError`, naming the instruction.
 */
export class Assembler {
  readonly #insns: Pending[] = [];
  readonly #labels = new Map<string, number>();
  #slot = 0;

  /** The number of 8-byte slots emitted so far (the index the next instruction gets). */
  get length(): number { return this.#slot; }

  #reg(r: Reg, what: string): number {
    if (!isReg(r) || !Number.isInteger(r.reg) || r.reg < 0 || r.reg > 10) throw new ArgumentError(`assemble instruction ${this.#slot}: ${what} must be a register R0..R10, got ${String(r)}`);
    return r.reg;
  }
  #imm(v: number, what: string): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) throw new ArgumentError(`assemble instruction ${this.#slot}: ${what} ${v} is not a 32-bit integer`);
    return v | 0;
  }
  #off(v: number, what = "offset"): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < -0x8000 || v > 0x7fff) throw new ArgumentError(`assemble instruction ${this.#slot}: ${what} ${v} does not fit in 16 bits`);
    return v;
  }
  #push(insn: Instruction, extra: Omit<Pending, "insn" | "slot"> = {}): this {
    this.#insns.push({ insn, slot: this.#slot, ...extra });
    this.#slot += insn.opcode === (BPF_LD | BPF_IMM | BPF_DW) ? 2 : 1;
    return this;
  }
  #target(t: Target, field: "off" | "imm", insn: Instruction): this {
    if (typeof t === "string") return this.#push(insn, { target: { label: t, field } });
    if (field === "off") insn.off = this.#off(t, "jump offset");
    else insn.imm = this.#imm(t, "jump offset");
    return this.#push(insn);
  }

  /** Appends a raw instruction (for ld_imm64, set `imm2`). */
  raw(insn: Instruction): this {
    return this.#push({ ...insn });
  }

  /** Marks the next instruction with `name`, for jumps, calls and `ldFunc`. */
  label(name: string): this {
    if (!name) throw new ArgumentError("assemble: a label needs a name");
    if (this.#labels.has(name)) throw new ArgumentError(`assemble: label ${name} is defined twice (instructions ${this.#labels.get(name)} and ${this.#slot})`);
    this.#labels.set(name, this.#slot);
    return this;
  }

  // ALU -----------------------------------------------------------------------------------------

  #alu(cls: number, op: number, dst: Reg, src: Operand, off = 0): this {
    const d = this.#reg(dst, "destination");
    if (isReg(src)) return this.#push({ opcode: cls | op | BPF_X, dst: d, src: this.#reg(src, "source"), off, imm: 0 });
    return this.#push({ opcode: cls | op | BPF_K, dst: d, src: 0, off, imm: this.#imm(src, "immediate") });
  }
  /** dst += src (64-bit). */ add64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.add, dst, src); }
  /** dst += src (32-bit, upper half zeroed). */ add32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.add, dst, src); }
  /** dst -= src (64-bit). */ sub64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.sub, dst, src); }
  /** dst -= src (32-bit). */ sub32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.sub, dst, src); }
  /** dst *= src (64-bit). */ mul64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.mul, dst, src); }
  /** dst *= src (32-bit). */ mul32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.mul, dst, src); }
  /** dst /= src, unsigned (64-bit). */ div64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.div, dst, src); }
  /** dst /= src, unsigned (32-bit). */ div32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.div, dst, src); }
  /** dst s/= src, signed (64-bit; cpu v4, kernel 6.6). */ sdiv64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.div, dst, src, 1); }
  /** dst s/= src, signed (32-bit; cpu v4). */ sdiv32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.div, dst, src, 1); }
  /** dst %= src, unsigned (64-bit). */ mod64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.mod, dst, src); }
  /** dst %= src, unsigned (32-bit). */ mod32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.mod, dst, src); }
  /** dst s%= src, signed (64-bit; cpu v4). */ smod64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.mod, dst, src, 1); }
  /** dst s%= src, signed (32-bit; cpu v4). */ smod32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.mod, dst, src, 1); }
  /** dst |= src (64-bit). */ or64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.or, dst, src); }
  /** dst |= src (32-bit). */ or32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.or, dst, src); }
  /** dst &= src (64-bit). */ and64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.and, dst, src); }
  /** dst &= src (32-bit). */ and32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.and, dst, src); }
  /** dst <<= src (64-bit). */ lsh64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.lsh, dst, src); }
  /** dst <<= src (32-bit). */ lsh32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.lsh, dst, src); }
  /** dst >>= src, logical (64-bit). */ rsh64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.rsh, dst, src); }
  /** dst >>= src, logical (32-bit). */ rsh32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.rsh, dst, src); }
  /** dst s>>= src, arithmetic (64-bit). */ arsh64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.arsh, dst, src); }
  /** dst s>>= src, arithmetic (32-bit). */ arsh32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.arsh, dst, src); }
  /** dst ^= src (64-bit). */ xor64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.xor, dst, src); }
  /** dst ^= src (32-bit). */ xor32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.xor, dst, src); }
  /** dst = src (64-bit; an immediate is sign-extended). */ mov64(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU64, ALU_OPS.mov, dst, src); }
  /** dst = src (32-bit, upper half zeroed). */ mov32(dst: Reg, src: Operand): this { return this.#alu(BPF_ALU, ALU_OPS.mov, dst, src); }
  /** dst = -dst (64-bit). */
  neg64(dst: Reg): this { return this.#push({ opcode: BPF_ALU64 | BPF_NEG | BPF_K, dst: this.#reg(dst, "destination"), src: 0, off: 0, imm: 0 }); }
  /** dst = -dst (32-bit). */
  neg32(dst: Reg): this { return this.#push({ opcode: BPF_ALU | BPF_NEG | BPF_K, dst: this.#reg(dst, "destination"), src: 0, off: 0, imm: 0 }); }
  /** dst = (s8|s16|s32)src: sign-extending move (64-bit; cpu v4, kernel 6.6). */
  movsx64(dst: Reg, src: Reg, bits: 8 | 16 | 32): this {
    if (bits !== 8 && bits !== 16 && bits !== 32) throw new ArgumentError(`assemble instruction ${this.#slot}: movsx64 takes 8, 16 or 32 bits, got ${bits}`);
    return this.#alu(BPF_ALU64, BPF_MOV, dst, src, bits);
  }
  /** dst = (s8|s16)src: sign-extending move (32-bit; cpu v4). */
  movsx32(dst: Reg, src: Reg, bits: 8 | 16): this {
    if (bits !== 8 && bits !== 16) throw new ArgumentError(`assemble instruction ${this.#slot}: movsx32 takes 8 or 16 bits, got ${bits}`);
    return this.#alu(BPF_ALU, BPF_MOV, dst, src, bits);
  }
  /** dst = addr_space_cast(src, dstAs, srcAs) (arena pointers; kernel 6.9). */
  addrSpaceCast(dst: Reg, src: Reg, dstAs: number, srcAs: number): this {
    if (!Number.isInteger(dstAs) || !Number.isInteger(srcAs) || dstAs < 0 || srcAs < 0 || dstAs > 0xffff || srcAs > 0xffff) throw new ArgumentError(`assemble instruction ${this.#slot}: address spaces must be 16-bit`);
    return this.#push({ opcode: BPF_ALU64 | BPF_MOV | BPF_X, dst: this.#reg(dst, "destination"), src: this.#reg(src, "source"), off: 1, imm: ((dstAs << 16) | srcAs) | 0 });
  }
  #end(cls: number, srcBit: number, dst: Reg, bits: number, what: string): this {
    if (bits !== 16 && bits !== 32 && bits !== 64) throw new ArgumentError(`assemble instruction ${this.#slot}: ${what} takes 16, 32 or 64 bits, got ${bits}`);
    return this.#push({ opcode: cls | BPF_END | srcBit, dst: this.#reg(dst, "destination"), src: 0, off: 0, imm: bits });
  }
  /** dst = le16/le32/le64 dst: convert to little-endian. */ le(dst: Reg, bits: 16 | 32 | 64): this { return this.#end(BPF_ALU, BPF_K, dst, bits, "le"); }
  /** dst = be16/be32/be64 dst: convert to big-endian (network order). */ be(dst: Reg, bits: 16 | 32 | 64): this { return this.#end(BPF_ALU, BPF_X, dst, bits, "be"); }
  /** dst = bswap16/32/64 dst: unconditional byte swap (cpu v4). */ bswap(dst: Reg, bits: 16 | 32 | 64): this { return this.#end(BPF_ALU64, BPF_K, dst, bits, "bswap"); }

  // Loads and stores ------------------------------------------------------------------------------

  #ldImm64(dst: Reg, src: number, imm: number, imm2: number, extra: Omit<Pending, "insn" | "slot"> = {}): this {
    return this.#push({ opcode: BPF_LD | BPF_IMM | BPF_DW, dst: this.#reg(dst, "destination"), src, off: 0, imm, imm2 }, extra);
  }
  /** dst = a 64-bit constant (ld_imm64, two slots). */
  ldImm64(dst: Reg, value: bigint | number): this {
    const v = BigInt(value);
    if (v < -(1n << 63n) || v >= 1n << 64n) throw new ArgumentError(`assemble instruction ${this.#slot}: ${value} does not fit in 64 bits`);
    const u = BigInt.asUintN(64, v);
    return this.#ldImm64(dst, 0, Number(BigInt.asIntN(32, u)), Number(BigInt.asIntN(32, u >> 32n)));
  }
  /** dst = the map `name` (ld_imm64 with a `map` relocation; the loader puts the map's fd in). */
  ldMap(dst: Reg, name: string): this {
    if (!name) throw new ArgumentError(`assemble instruction ${this.#slot}: ldMap needs a map name`);
    return this.#ldImm64(dst, 0, 0, 0, { reloc: { kind: "map", map: name } });
  }
  /** dst = address of byte `offset` in the value of the array map `name` (e.g. ".rodata"; a `mapValue` relocation). */
  ldMapValue(dst: Reg, name: string, offset = 0): this {
    if (!name) throw new ArgumentError(`assemble instruction ${this.#slot}: ldMapValue needs a map name`);
    return this.#ldImm64(dst, 0, 0, this.#imm(offset, "map value offset"), { reloc: { kind: "mapValue", map: name, offset } });
  }
  /** dst = address of the kernel variable `name` (`ksym` relocation, BPF_PSEUDO_BTF_ID). */
  ldKsym(dst: Reg, name: string): this {
    return this.#ldImm64(dst, BPF_PSEUDO_BTF_ID, 0, 0, { reloc: { kind: "ksym", name } });
  }
  /** dst = address of the `.kconfig` extern `name` (`kconfig` relocation). */
  ldKconfig(dst: Reg, name: string): this {
    return this.#ldImm64(dst, 0, 0, 0, { reloc: { kind: "kconfig", name } });
  }
  /** dst = pointer to the subprogram at `target` (BPF_PSEUDO_FUNC, for callbacks such as bpf_loop's). */
  ldFunc(dst: Reg, target: Target): this {
    const insn: Instruction = { opcode: BPF_LD | BPF_IMM | BPF_DW, dst: this.#reg(dst, "destination"), src: BPF_PSEUDO_FUNC, off: 0, imm: 0, imm2: 0 };
    return this.#target(target, "imm", insn);
  }
  /** r0 = *(size *)skb[imm]: legacy packet load (socket filters). */
  ldAbs(size: "b" | "h" | "w", imm: number): this {
    return this.#push({ opcode: BPF_LD | BPF_ABS | SIZES[size], dst: 0, src: 0, off: 0, imm: this.#imm(imm, "packet offset") });
  }
  /** r0 = *(size *)skb[src + imm]: legacy indirect packet load. */
  ldInd(size: "b" | "h" | "w", src: Reg, imm = 0): this {
    return this.#push({ opcode: BPF_LD | BPF_IND | SIZES[size], dst: 0, src: this.#reg(src, "source"), off: 0, imm: this.#imm(imm, "packet offset") });
  }
  #ldx(mode: number, size: number, dst: Reg, src: Reg, off: number): this {
    return this.#push({ opcode: BPF_LDX | mode | size, dst: this.#reg(dst, "destination"), src: this.#reg(src, "source"), off: this.#off(off), imm: 0 });
  }
  /** dst = *(u8 *)(src + off). */ ldxb(dst: Reg, src: Reg, off: number): this { return this.#ldx(BPF_MEM, BPF_B, dst, src, off); }
  /** dst = *(u16 *)(src + off). */ ldxh(dst: Reg, src: Reg, off: number): this { return this.#ldx(BPF_MEM, BPF_H, dst, src, off); }
  /** dst = *(u32 *)(src + off). */ ldxw(dst: Reg, src: Reg, off: number): this { return this.#ldx(BPF_MEM, BPF_W, dst, src, off); }
  /** dst = *(u64 *)(src + off). */ ldxdw(dst: Reg, src: Reg, off: number): this { return this.#ldx(BPF_MEM, BPF_DW, dst, src, off); }
  /** dst = *(s8 *)(src + off), sign-extended (cpu v4). */ ldxsb(dst: Reg, src: Reg, off: number): this { return this.#ldx(BPF_MEMSX, BPF_B, dst, src, off); }
  /** dst = *(s16 *)(src + off), sign-extended (cpu v4). */ ldxsh(dst: Reg, src: Reg, off: number): this { return this.#ldx(BPF_MEMSX, BPF_H, dst, src, off); }
  /** dst = *(s32 *)(src + off), sign-extended (cpu v4). */ ldxsw(dst: Reg, src: Reg, off: number): this { return this.#ldx(BPF_MEMSX, BPF_W, dst, src, off); }
  #st(size: number, dst: Reg, off: number, imm: number): this {
    return this.#push({ opcode: BPF_ST | BPF_MEM | size, dst: this.#reg(dst, "destination"), src: 0, off: this.#off(off), imm: this.#imm(imm, "immediate") });
  }
  /** *(u8 *)(dst + off) = imm. */ stb(dst: Reg, off: number, imm: number): this { return this.#st(BPF_B, dst, off, imm); }
  /** *(u16 *)(dst + off) = imm. */ sth(dst: Reg, off: number, imm: number): this { return this.#st(BPF_H, dst, off, imm); }
  /** *(u32 *)(dst + off) = imm. */ stw(dst: Reg, off: number, imm: number): this { return this.#st(BPF_W, dst, off, imm); }
  /** *(u64 *)(dst + off) = imm (sign-extended). */ stdw(dst: Reg, off: number, imm: number): this { return this.#st(BPF_DW, dst, off, imm); }
  #stx(mode: number, size: number, dst: Reg, off: number, src: Reg, imm = 0): this {
    return this.#push({ opcode: BPF_STX | mode | size, dst: this.#reg(dst, "destination"), src: this.#reg(src, "source"), off: this.#off(off), imm });
  }
  /** *(u8 *)(dst + off) = src. */ stxb(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_MEM, BPF_B, dst, off, src); }
  /** *(u16 *)(dst + off) = src. */ stxh(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_MEM, BPF_H, dst, off, src); }
  /** *(u32 *)(dst + off) = src. */ stxw(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_MEM, BPF_W, dst, off, src); }
  /** *(u64 *)(dst + off) = src. */ stxdw(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_MEM, BPF_DW, dst, off, src); }

  // Atomics ---------------------------------------------------------------------------------------

  /** lock *(u64 *)(dst + off) += src. */ atomicAdd64(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_DW, dst, off, src, BPF_ADD); }
  /** lock *(u32 *)(dst + off) += src. */ atomicAdd32(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_W, dst, off, src, BPF_ADD); }
  /** lock *(u64 *)(dst + off) &= src (kernel 5.12). */ atomicAnd64(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_DW, dst, off, src, BPF_AND); }
  /** lock *(u32 *)(dst + off) &= src. */ atomicAnd32(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_W, dst, off, src, BPF_AND); }
  /** lock *(u64 *)(dst + off) |= src. */ atomicOr64(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_DW, dst, off, src, BPF_OR); }
  /** lock *(u32 *)(dst + off) |= src. */ atomicOr32(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_W, dst, off, src, BPF_OR); }
  /** lock *(u64 *)(dst + off) ^= src. */ atomicXor64(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_DW, dst, off, src, BPF_XOR); }
  /** lock *(u32 *)(dst + off) ^= src. */ atomicXor32(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_W, dst, off, src, BPF_XOR); }
  /** src = atomic_fetch_add((u64 *)(dst + off), src). */ atomicFetchAdd64(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_DW, dst, off, src, BPF_ADD | BPF_FETCH); }
  /** src = atomic_fetch_add((u32 *)(dst + off), src). */ atomicFetchAdd32(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_W, dst, off, src, BPF_ADD | BPF_FETCH); }
  /** src = atomic_fetch_and((u64 *)(dst + off), src). */ atomicFetchAnd64(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_DW, dst, off, src, BPF_AND | BPF_FETCH); }
  /** src = atomic_fetch_and((u32 *)(dst + off), src). */ atomicFetchAnd32(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_W, dst, off, src, BPF_AND | BPF_FETCH); }
  /** src = atomic_fetch_or((u64 *)(dst + off), src). */ atomicFetchOr64(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_DW, dst, off, src, BPF_OR | BPF_FETCH); }
  /** src = atomic_fetch_or((u32 *)(dst + off), src). */ atomicFetchOr32(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_W, dst, off, src, BPF_OR | BPF_FETCH); }
  /** src = atomic_fetch_xor((u64 *)(dst + off), src). */ atomicFetchXor64(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_DW, dst, off, src, BPF_XOR | BPF_FETCH); }
  /** src = atomic_fetch_xor((u32 *)(dst + off), src). */ atomicFetchXor32(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_W, dst, off, src, BPF_XOR | BPF_FETCH); }
  /** src = xchg_64(dst + off, src). */ atomicXchg64(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_DW, dst, off, src, BPF_XCHG); }
  /** src = xchg32_32(dst + off, src). */ atomicXchg32(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_W, dst, off, src, BPF_XCHG); }
  /** r0 = cmpxchg_64(dst + off, r0, src): compares with r0, stores src on match, r0 gets the old value. */
  atomicCmpXchg64(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_DW, dst, off, src, BPF_CMPXCHG); }
  /** w0 = cmpxchg32_32(dst + off, w0, src). */
  atomicCmpXchg32(dst: Reg, off: number, src: Reg): this { return this.#stx(BPF_ATOMIC, BPF_W, dst, off, src, BPF_CMPXCHG); }

  // Jumps and calls -------------------------------------------------------------------------------

  #jcc(cls: number, op: number, dst: Reg, src: Operand, target: Target): this {
    const d = this.#reg(dst, "destination");
    const insn: Instruction = isReg(src)
      ? { opcode: cls | op | BPF_X, dst: d, src: this.#reg(src, "source"), off: 0, imm: 0 }
      : { opcode: cls | op | BPF_K, dst: d, src: 0, off: 0, imm: this.#imm(src, "immediate") };
    return this.#target(target, "off", insn);
  }
  /** goto target (16-bit offset). */
  ja(target: Target): this { return this.#target(target, "off", { opcode: BPF_JMP | BPF_JA, dst: 0, src: 0, off: 0, imm: 0 }); }
  /** gotol target: unconditional jump with a 32-bit offset (cpu v4). */
  jal(target: Target): this { return this.#target(target, "imm", { opcode: BPF_JMP32 | BPF_JA, dst: 0, src: 0, off: 0, imm: 0 }); }
  /** may_goto target: taken once the loop budget runs out (kernel 6.9). */
  mayGoto(target: Target): this { return this.#target(target, "off", { opcode: BPF_JMP | 0xe0, dst: 0, src: 0, off: 0, imm: 0 }); }
  /** if dst == src goto target. */ jeq(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP, BPF_JEQ, dst, src, target); }
  /** if dst != src goto target. */ jne(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP, BPF_JNE, dst, src, target); }
  /** if dst > src (unsigned) goto target. */ jgt(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP, BPF_JGT, dst, src, target); }
  /** if dst >= src (unsigned) goto target. */ jge(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP, BPF_JGE, dst, src, target); }
  /** if dst < src (unsigned) goto target. */ jlt(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP, BPF_JLT, dst, src, target); }
  /** if dst <= src (unsigned) goto target. */ jle(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP, BPF_JLE, dst, src, target); }
  /** if dst s> src goto target. */ jsgt(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP, BPF_JSGT, dst, src, target); }
  /** if dst s>= src goto target. */ jsge(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP, BPF_JSGE, dst, src, target); }
  /** if dst s< src goto target. */ jslt(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP, BPF_JSLT, dst, src, target); }
  /** if dst s<= src goto target. */ jsle(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP, BPF_JSLE, dst, src, target); }
  /** if dst & src goto target. */ jset(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP, BPF_JSET, dst, src, target); }
  /** if wdst == wsrc goto target (32-bit compare). */ jeq32(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP32, BPF_JEQ, dst, src, target); }
  /** if wdst != wsrc goto target. */ jne32(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP32, BPF_JNE, dst, src, target); }
  /** if wdst > wsrc (unsigned) goto target. */ jgt32(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP32, BPF_JGT, dst, src, target); }
  /** if wdst >= wsrc (unsigned) goto target. */ jge32(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP32, BPF_JGE, dst, src, target); }
  /** if wdst < wsrc (unsigned) goto target. */ jlt32(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP32, BPF_JLT, dst, src, target); }
  /** if wdst <= wsrc (unsigned) goto target. */ jle32(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP32, BPF_JLE, dst, src, target); }
  /** if wdst s> wsrc goto target. */ jsgt32(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP32, BPF_JSGT, dst, src, target); }
  /** if wdst s>= wsrc goto target. */ jsge32(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP32, BPF_JSGE, dst, src, target); }
  /** if wdst s< wsrc goto target. */ jslt32(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP32, BPF_JSLT, dst, src, target); }
  /** if wdst s<= wsrc goto target. */ jsle32(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP32, BPF_JSLE, dst, src, target); }
  /** if wdst & wsrc goto target. */ jset32(dst: Reg, src: Operand, target: Target): this { return this.#jcc(BPF_JMP32, BPF_JSET, dst, src, target); }

  /**
   * Calls a helper by name (`"map_lookup_elem"` or `"bpf_map_lookup_elem"`, from the generated
   * helper table) or by id.
   */
  call(helper: string | number): this {
    let id: number | undefined;
    if (typeof helper === "number") id = helper;
    else {
      id = helperId(helper);
      if (id === undefined) throw new ArgumentError(`assemble instruction ${this.#slot}: unknown helper ${helper}; use a name from enum bpf_func_id (e.g. "map_lookup_elem") or a numeric id`);
    }
    return this.#push({ opcode: BPF_JMP | BPF_CALL, dst: 0, src: 0, off: 0, imm: this.#imm(id, "helper id") });
  }
  /** Calls the subprogram at `target` (a bpf-to-bpf call, BPF_PSEUDO_CALL). */
  callSub(target: Target): this {
    return this.#target(target, "imm", { opcode: BPF_JMP | BPF_CALL, dst: 0, src: BPF_PSEUDO_CALL, off: 0, imm: 0 });
  }
  /** Calls the kernel function `name` (a `kfunc` relocation; the loader puts its BTF id in). */
  callKfunc(name: string): this {
    return this.#push({ opcode: BPF_JMP | BPF_CALL, dst: 0, src: BPF_PSEUDO_KFUNC_CALL, off: 0, imm: 0 }, { reloc: { kind: "kfunc", name } });
  }
  /** callx reg: indirect call through a register. */
  callx(reg: Reg): this {
    return this.#push({ opcode: BPF_JMP | BPF_CALL | BPF_X, dst: this.#reg(reg, "call target"), src: 0, off: 0, imm: 0 });
  }
  /** exit: return r0. */
  exit(): this { return this.#push({ opcode: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 }); }

  /**
   * Resolves labels and encodes the program.
   *
   * @throws {ArgumentError} for an undefined label or a jump whose offset does not fit its field.
   */
  build(opts: { littleEndian?: boolean } = {}): BuiltProgram {
    const le = opts.littleEndian ?? true;
    const view = new InstructionView(new Uint8Array(this.#slot * INSN_SIZE), le);
    const relocations: InsnRelocation[] = [];
    for (const p of this.#insns) {
      const insn = { ...p.insn };
      if (p.target) {
        const at = this.#labels.get(p.target.label);
        if (at === undefined) {
          const known = [...this.#labels.keys()];
          throw new ArgumentError(`assemble instruction ${p.slot}: label ${p.target.label} is not defined${known.length ? ` (labels: ${known.join(", ")})` : ""}`);
        }
        const size = insn.opcode === (BPF_LD | BPF_IMM | BPF_DW) ? 2 : 1;
        const rel = at - (p.slot + size);
        if (p.target.field === "off") {
          if (rel < -0x8000 || rel > 0x7fff) throw new ArgumentError(`assemble instruction ${p.slot}: jump to ${p.target.label} spans ${rel} instructions, beyond the 16-bit range; use jal (gotol) or restructure`);
          insn.off = rel;
        } else {
          insn.imm = rel;
        }
      }
      view.set(p.slot, insn);
      if (p.reloc) relocations.push({ insn: p.slot, ...p.reloc } as InsnRelocation);
    }
    return { instructions: view.bytes, relocations, labels: Object.fromEntries(this.#labels), littleEndian: le };
  }
}

/** Starts a new program: `asm().mov64(R0, 0).exit().build()`. */
export function asm(): Assembler {
  return new Assembler();
}

/**
 * The labels of a built program as disassembler symbols (NOTYPE, like clang's `LBB0_2`), so that
 * `disassemble(built.instructions, { name, symbols: labelSymbols(built) })` shows them as objdump
 * shows local labels: a header line and `<label>` jump targets.
 */
export function labelSymbols(built: Pick<BuiltProgram, "labels">): DisasmSymbol[] {
  return Object.entries(built.labels).map(([name, index]) => ({ name, index, type: 0 }));
}

/** Something with a map descriptor: a `BpfMap`, `{ fd: number }`, or the fd itself. */
export type MapFdLike = number | { fd: number | { value: number } };

function fdOf(m: MapFdLike): number {
  if (typeof m === "number") return m;
  return typeof m.fd === "number" ? m.fd : m.fd.value;
}

/**
 * Applies a built program's map relocations: a copy of its instructions with each `map`
 * reference's ld_imm64 set to BPF_PSEUDO_MAP_FD and the map's fd, and each `mapValue` to
 * BPF_PSEUDO_MAP_VALUE, fd and offset — ready for `Program.load({ instructions })`.
 *
 * @throws {ArgumentError} when a referenced map is missing from `maps`, or for kconfig, ksym and
 *   kfunc references, which need kernel BTF (load such programs through a collection).
 */
export function linkBuiltProgram(built: Pick<BuiltProgram, "instructions" | "relocations"> & { littleEndian?: boolean }, maps: Record<string, MapFdLike> | ReadonlyMap<string, MapFdLike>): Uint8Array {
  const out = built.instructions.slice();
  const view = new InstructionView(out, built.littleEndian ?? true);
  const get = (name: string) => (maps instanceof Map ? maps.get(name) : (maps as Record<string, MapFdLike>)[name]);
  for (const r of built.relocations) {
    if (r.kind !== "map" && r.kind !== "mapValue") throw new ArgumentError(`link program: instruction ${r.insn} references ${r.kind} ${r.name}, which linkBuiltProgram cannot resolve; load the program through a collection`);
    const m = get(r.map);
    if (m === undefined) throw new ArgumentError(`link program: instruction ${r.insn} references map ${r.map}, which is not among the maps given (${[...(maps instanceof Map ? maps.keys() : Object.keys(maps))].join(", ") || "none"})`);
    view.setSrc(r.insn, r.kind === "map" ? 1 : 2);
    view.setImm(r.insn, fdOf(m));
    view.setImm(r.insn + 1, r.kind === "mapValue" ? r.offset : 0);
  }
  return out;
}
