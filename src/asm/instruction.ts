import { ArgumentError } from "../errors.js";
import {
  BPF_ALU, BPF_ALU64, BPF_CALL, BPF_CALL_OP, BPF_CLASS, BPF_EXIT_OP, BPF_JMP, BPF_JMP32, BPF_LD_IMM64,
  BPF_LDX, BPF_MODE, BPF_OP, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_SIZE, BPF_SRC,
  BPF_ST, BPF_STX, BPF_X, INSN_SIZE,
} from "./opcodes.js";
import { helperName } from "./helpers.js";

/**
 * One decoded instruction slot. For ld_imm64 (`opcode === BPF_LD_IMM64`), `imm2` holds the second
 * slot's imm (the upper 32 bits of the constant) and the instruction occupies two slots.
 */
export interface Instruction {
  opcode: number;
  /** Destination register, 0..15. */
  dst: number;
  /** Source register, 0..15 (or a BPF_PSEUDO_* marker). */
  src: number;
  /** Signed 16-bit offset. */
  off: number;
  /** Signed 32-bit immediate. */
  imm: number;
  /** ld_imm64 only: the second slot's imm. */
  imm2?: number;
}

/**
 * A mutable view over raw instruction bytes (8-byte slots) in a given byte order. Indexes are slot
 * indexes; an ld_imm64 spans slots i and i+1. Setters write through to the underlying bytes.
 */
export class InstructionView {
  readonly bytes: Uint8Array;
  readonly littleEndian: boolean;
  private readonly dv: DataView;

  /** @throws {ArgumentError} when `bytes.length` is not a multiple of 8. */
  constructor(bytes: Uint8Array, littleEndian = true) {
    if (bytes.length % INSN_SIZE !== 0) throw new ArgumentError(`instruction buffer length ${bytes.length} is not a multiple of ${INSN_SIZE}`);
    this.bytes = bytes;
    this.littleEndian = littleEndian;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Number of 8-byte slots. */
  get length(): number { return this.bytes.length / INSN_SIZE; }

  private check(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new ArgumentError(`instruction index ${i} is out of range (${this.length} slots)`);
    return i * INSN_SIZE;
  }

  /** The opcode byte of slot `i`. */
  opcode(i: number): number { return this.bytes[this.check(i)]; }
  /** The destination register of slot `i`. */
  dst(i: number): number { const b = this.bytes[this.check(i) + 1]; return this.littleEndian ? b & 0xf : b >> 4; }
  /** The source register of slot `i`. */
  src(i: number): number { const b = this.bytes[this.check(i) + 1]; return this.littleEndian ? b >> 4 : b & 0xf; }
  /** The signed 16-bit offset of slot `i`. */
  off(i: number): number { return this.dv.getInt16(this.check(i) + 2, this.littleEndian); }
  /** The signed 32-bit immediate of slot `i`. */
  imm(i: number): number { return this.dv.getInt32(this.check(i) + 4, this.littleEndian); }

  /** Set the opcode of slot `i`. */
  setOpcode(i: number, v: number): void { this.bytes[this.check(i)] = v & 0xff; }
  /** Set the destination register of slot `i`. */
  setDst(i: number, v: number): void { this.setRegs(i, v, this.src(i)); }
  /** Set the source register of slot `i`. */
  setSrc(i: number, v: number): void { this.setRegs(i, this.dst(i), v); }
  private setRegs(i: number, dst: number, src: number): void {
    this.bytes[this.check(i) + 1] = this.littleEndian ? ((src & 0xf) << 4) | (dst & 0xf) : ((dst & 0xf) << 4) | (src & 0xf);
  }
  /** Set the offset of slot `i` (must fit in a signed 16-bit integer). @throws {ArgumentError} */
  setOff(i: number, v: number): void {
    if (!Number.isInteger(v) || v < -0x8000 || v > 0x7fff) throw new ArgumentError(`instruction offset ${v} does not fit in 16 bits`);
    this.dv.setInt16(this.check(i) + 2, v, this.littleEndian);
  }
  /** Set the immediate of slot `i` (signed or unsigned 32-bit). @throws {ArgumentError} */
  setImm(i: number, v: number): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) throw new ArgumentError(`instruction immediate ${v} does not fit in 32 bits`);
    this.dv.setInt32(this.check(i) + 4, v | 0, this.littleEndian);
  }

  /** True when slot `i` is the first half of an ld_imm64. */
  isLdImm64(i: number): boolean { return this.opcode(i) === BPF_LD_IMM64; }
  /** True when slot `i` is a call (helper, bpf-to-bpf or kfunc). */
  isCall(i: number): boolean { return this.opcode(i) === BPF_CALL_OP; }

  /** Decode slot `i` (and `i+1` for an ld_imm64 when present). */
  get(i: number): Instruction {
    const insn: Instruction = { opcode: this.opcode(i), dst: this.dst(i), src: this.src(i), off: this.off(i), imm: this.imm(i) };
    if (insn.opcode === BPF_LD_IMM64 && i + 1 < this.length) insn.imm2 = this.imm(i + 1);
    return insn;
  }

  /** Encode `insn` into slot `i` (and the second slot of an ld_imm64 when `imm2` is given). */
  set(i: number, insn: Instruction): void {
    this.setOpcode(i, insn.opcode);
    this.setRegs(i, insn.dst, insn.src);
    this.setOff(i, insn.off);
    this.setImm(i, insn.imm);
    if (insn.imm2 !== undefined) {
      this.set(i + 1, { opcode: 0, dst: 0, src: 0, off: 0, imm: insn.imm2 });
    }
  }
}

/**
 * Decode a whole program into instructions; each ld_imm64 becomes one entry (with `imm2`). The
 * returned entries carry their slot index in `slot`.
 *
 * @throws {ArgumentError} when the length is not a multiple of 8 or the last ld_imm64 is cut in half.
 */
export function decodeInstructions(bytes: Uint8Array, littleEndian = true): (Instruction & { slot: number })[] {
  const v = new InstructionView(bytes, littleEndian);
  const out: (Instruction & { slot: number })[] = [];
  for (let i = 0; i < v.length; i++) {
    const insn = v.get(i);
    if (insn.opcode === BPF_LD_IMM64) {
      if (i + 1 >= v.length) throw new ArgumentError(`ld_imm64 at instruction ${i} is missing its second half`);
      out.push({ ...insn, slot: i });
      i++;
    } else {
      out.push({ ...insn, slot: i });
    }
  }
  return out;
}

/** Encode instructions (ld_imm64 entries with `imm2` take two slots) into a new byte array. */
export function encodeInstructions(insns: readonly Instruction[], littleEndian = true): Uint8Array {
  let slots = 0;
  for (const i of insns) slots += i.opcode === BPF_LD_IMM64 ? 2 : 1;
  const v = new InstructionView(new Uint8Array(slots * INSN_SIZE), littleEndian);
  let s = 0;
  for (const i of insns) {
    if (i.opcode === BPF_LD_IMM64) { v.set(s, { ...i, imm2: i.imm2 ?? 0 }); s += 2; } else { v.set(s, i); s += 1; }
  }
  return v.bytes;
}

/** The 64-bit constant of an ld_imm64 instruction. */
export function ldImm64Value(insn: Instruction): bigint {
  return (BigInt(insn.imm2 ?? 0) << 32n) | BigInt(insn.imm >>> 0);
}

const ALU_NAMES: Record<number, string> = {
  0x00: "+=", 0x10: "-=", 0x20: "*=", 0x30: "/=", 0x40: "|=", 0x50: "&=", 0x60: "<<=", 0x70: ">>=",
  0x90: "%=", 0xa0: "^=", 0xb0: "=", 0xc0: "s>>=",
};
const JMP_NAMES: Record<number, string> = {
  0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=", 0x60: "s>", 0x70: "s>=", 0xa0: "<",
  0xb0: "<=", 0xc0: "s<", 0xd0: "s<=",
};
const SIZE_NAMES: Record<number, string> = { 0x00: "u32", 0x08: "u16", 0x10: "u8", 0x18: "u64" };

/**
 * A short, llvm-objdump-like rendering of one instruction for error messages, e.g.
 * `r1 = map[0] ll`, `call bpf_map_lookup_elem#1`, `if r0 == 0x0 goto +2`. Not a full disassembler.
 */
export function formatInstruction(insn: Instruction): string {
  const { opcode, dst, src, off, imm } = insn;
  const cls = BPF_CLASS(opcode);
  const offs = off >= 0 ? `+${off}` : `${off}`;
  const immHex = imm < 0 ? `-0x${(-imm).toString(16)}` : `0x${imm.toString(16)}`;
  if (opcode === BPF_LD_IMM64) {
    const v = ldImm64Value(insn);
    const kinds: Record<number, string> = { 1: "map_fd", 2: "map_value", 3: "btf_id", 4: "func", 5: "map_idx", 6: "map_idx_value" };
    return src ? `r${dst} = ${kinds[src] ?? `pseudo${src}`}(${imm})${insn.imm2 ? ` + ${insn.imm2}` : ""} ll` : `r${dst} = 0x${v.toString(16)} ll`;
  }
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      const r = cls === BPF_ALU64 ? "r" : "w";
      const op = BPF_OP(opcode);
      if (op === 0x80) return `${r}${dst} = -${r}${dst}`;
      if (op === 0xd0) return `${r}${dst} = ${BPF_SRC(opcode) ? "be" : "le"}${imm}(${r}${dst})`;
      const sym = ALU_NAMES[op] ?? `alu${op.toString(16)}`;
      return `${r}${dst} ${sym} ${BPF_SRC(opcode) === BPF_X ? `${r}${src}` : immHex}`;
    }
    case BPF_JMP:
    case BPF_JMP32: {
      if (opcode === BPF_EXIT_OP) return "exit";
      if (opcode === (BPF_JMP | BPF_CALL)) {
        if (src === BPF_PSEUDO_CALL) return `call pc${imm >= 0 ? "+" : ""}${imm}`;
        if (src === BPF_PSEUDO_KFUNC_CALL) return `call kfunc#${imm}`;
        const n = helperName(imm);
        return n ? `call ${n}#${imm}` : `call ${imm}`;
      }
      const op = BPF_OP(opcode);
      if (op === 0x00) return cls === BPF_JMP ? `goto ${offs}` : `gotol ${imm >= 0 ? "+" : ""}${imm}`;
      const r = cls === BPF_JMP ? "r" : "w";
      return `if ${r}${dst} ${JMP_NAMES[op] ?? `jmp${op.toString(16)}`} ${BPF_SRC(opcode) === BPF_X ? `${r}${src}` : immHex} goto ${offs}`;
    }
    case BPF_LDX:
      return `r${dst} = *(${SIZE_NAMES[BPF_SIZE(opcode)]} *)(r${src} ${off >= 0 ? "+" : "-"} ${Math.abs(off)})`;
    case BPF_ST:
      return `*(${SIZE_NAMES[BPF_SIZE(opcode)]} *)(r${dst} ${off >= 0 ? "+" : "-"} ${Math.abs(off)}) = ${immHex}`;
    case BPF_STX:
      if (BPF_MODE(opcode) === 0xc0) return `atomic${imm.toString(16)} *(${SIZE_NAMES[BPF_SIZE(opcode)]} *)(r${dst} ${off >= 0 ? "+" : "-"} ${Math.abs(off)}), r${src}`;
      return `*(${SIZE_NAMES[BPF_SIZE(opcode)]} *)(r${dst} ${off >= 0 ? "+" : "-"} ${Math.abs(off)}) = r${src}`;
    default:
      return `op 0x${opcode.toString(16)} dst=r${dst} src=r${src} off=${off} imm=${imm}`;
  }
}

/** True when `insn` is a bpf-to-bpf call or a ld_imm64 function pointer (src BPF_PSEUDO_FUNC). */
export function isSubprogReference(insn: Instruction): boolean {
  return (insn.opcode === BPF_CALL_OP && insn.src === BPF_PSEUDO_CALL) || (insn.opcode === BPF_LD_IMM64 && insn.src === BPF_PSEUDO_FUNC);
}
