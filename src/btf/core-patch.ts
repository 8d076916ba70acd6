/**
 * Patching instructions for CO-RE (libbpf `bpf_core_patch_insn`): ALU/ALU64 immediates, LDX/ST/STX
 * offsets (with memory size adjustment), ld_imm64 values, and poisoning.
 */
import {
  BPF_ALU, BPF_ALU64, BPF_B, BPF_CALL, BPF_CLASS, BPF_DW, BPF_H, BPF_JMP, BPF_K, BPF_LD, BPF_LD_IMM64, BPF_LDX,
  BPF_MODE, BPF_SIZE, BPF_SRC, BPF_ST, BPF_STX, BPF_W,
} from "../asm/opcodes.js";

/** The helper id of a poisoned instruction: `call 0xbad2310` ("bad relo"), which the verifier rejects if reached. */
export const CORE_POISON_HELPER = 0xbad2310;

/** The outcome of computing one relocation, ready to patch. */
export interface CoreReloResult {
  poison: boolean;
  /** The value the instruction should hold now (computed against the local BTF). */
  origVal: bigint;
  /** The value to write. */
  newVal: bigint;
  /** Check the instruction's value against origVal before patching. */
  validate: boolean;
  /** Field sizes (BYTE_OFFSET of non-bitfields), local and target, 0 when not applicable. */
  origSize: number;
  newSize: number;
  /** A load/store whose size would have to change but the types make that unsafe. */
  failMemszAdjust: boolean;
}

/** Thrown when an instruction cannot be patched (unexpected form or value). */
export class CorePatchError extends Error {}

const SIZE_BYTES: Record<number, number> = { [BPF_DW]: 8, [BPF_W]: 4, [BPF_H]: 2, [BPF_B]: 1 };
const BYTES_SIZE: Record<number, number> = { 8: BPF_DW, 4: BPF_W, 2: BPF_H, 1: BPF_B };

/** Instruction accessors over raw bytes in a given byte order (create once per program). */
export class Insns {
  readonly dv: DataView;
  constructor(readonly bytes: Uint8Array, readonly le: boolean) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length(): number { return this.bytes.length >>> 3; }
  code(i: number): number { return this.bytes[i * 8]!; }
  regs(i: number): number { return this.bytes[i * 8 + 1]!; }
  src(i: number): number { const b = this.regs(i); return this.le ? b >> 4 : b & 0xf; }
  off(i: number): number { return this.dv.getInt16(i * 8 + 2, this.le); }
  imm(i: number): number { return this.dv.getInt32(i * 8 + 4, this.le); }
  setCode(i: number, v: number): void { this.bytes[i * 8] = v; }
  setOff(i: number, v: number): void { this.dv.setInt16(i * 8 + 2, v, this.le); }
  setImm(i: number, v: number): void { this.dv.setInt32(i * 8 + 4, v | 0, this.le); }
  poison(i: number): void {
    this.bytes[i * 8] = BPF_JMP | BPF_CALL;
    this.bytes[i * 8 + 1] = 0;
    this.setOff(i, 0);
    this.setImm(i, CORE_POISON_HELPER);
  }
}

/**
 * Applies `res` to instruction slot `i` of `ins`. Returns "poisoned" when the instruction was
 * replaced by an invalid helper call (also when a load/store size cannot be adjusted safely),
 * otherwise "patched". Throws CorePatchError for an instruction of unexpected form or value.
 */
export function patchInstruction(ins: Insns, i: number, res: CoreReloResult): "patched" | "poisoned" {
  if (i < 0 || i >= ins.length) throw new CorePatchError(`instruction ${i} is out of range (the program has ${ins.length})`);
  const code = ins.code(i);
  const poison = (): "poisoned" => {
    if (code === BPF_LD_IMM64 && i + 1 < ins.length) ins.poison(i + 1);
    ins.poison(i);
    return "poisoned";
  };
  if (res.poison) return poison();
  const { origVal, newVal } = res;
  const cls = BPF_CLASS(code);
  switch (cls) {
    case BPF_ALU: case BPF_ALU64: {
      if (BPF_SRC(code) !== BPF_K) throw new CorePatchError(`instruction ${i} (ALU) takes a register operand, not an immediate`);
      const imm = ins.imm(i);
      if (res.validate && BigInt.asUintN(32, BigInt(imm)) !== BigInt.asUintN(32, origVal)) {
        throw new CorePatchError(`instruction ${i} (ALU) holds ${imm}, expected ${origVal} (the value computed from the program's own BTF)`);
      }
      if (newVal < -(2n ** 31n) || newVal >= 2n ** 32n) throw new CorePatchError(`instruction ${i} (ALU): value ${newVal} does not fit a 32-bit immediate`);
      ins.setImm(i, Number(BigInt.asIntN(32, newVal)));
      return "patched";
    }
    case BPF_LDX: case BPF_ST: case BPF_STX: {
      const off = ins.off(i);
      if (res.validate && BigInt(off) !== origVal) {
        throw new CorePatchError(`instruction ${i} (LDX/ST/STX) has offset ${off}, expected ${origVal} (the value computed from the program's own BTF)`);
      }
      if (newVal > 0x7fffn || newVal < 0n) throw new CorePatchError(`instruction ${i} (LDX/ST/STX): offset ${newVal} does not fit the 16-bit offset field`);
      if (res.failMemszAdjust) return poison();
      ins.setOff(i, Number(newVal));
      if (res.newSize !== res.origSize) {
        const cur = SIZE_BYTES[BPF_SIZE(code)]!;
        if (cur !== res.origSize) throw new CorePatchError(`instruction ${i} (LDX/ST/STX) accesses ${cur} bytes, expected ${res.origSize} (the field's size in the program's own BTF)`);
        const sz = BYTES_SIZE[res.newSize];
        if (sz === undefined) throw new CorePatchError(`instruction ${i} (LDX/ST/STX): the target field's size ${res.newSize} is not 1, 2, 4 or 8 bytes`);
        ins.setCode(i, BPF_MODE(code) | sz | cls);
      }
      return "patched";
    }
    case BPF_LD: {
      if (code !== BPF_LD_IMM64 || i + 1 >= ins.length || ins.src(i) !== 0 || ins.off(i) !== 0
        || ins.code(i + 1) !== 0 || ins.regs(i + 1) !== 0 || ins.off(i + 1) !== 0) {
        throw new CorePatchError(`instruction ${i} (LD_IMM64) has an unexpected form`);
      }
      const imm = (BigInt(ins.imm(i + 1) >>> 0) << 32n) | BigInt(ins.imm(i) >>> 0);
      if (res.validate && imm !== BigInt.asUintN(64, origVal)) {
        throw new CorePatchError(`instruction ${i} (LD_IMM64) holds ${imm}, expected ${BigInt.asUintN(64, origVal)} (the value computed from the program's own BTF)`);
      }
      const v = BigInt.asUintN(64, newVal);
      ins.setImm(i, Number(v & 0xffffffffn));
      ins.setImm(i + 1, Number(v >> 32n));
      return "patched";
    }
    default:
      throw new CorePatchError(`instruction ${i} (opcode 0x${code.toString(16).padStart(2, "0")}) is not an ALU, load/store or ld_imm64 instruction and cannot carry a CO-RE relocation`);
  }
}
