/** BPF instruction encoding constants (from the kernel's `include/uapi/linux/bpf.h` and `bpf_common.h`). */

// Instruction classes (opcode & 0x07).
/** Class: load immediate / legacy packet load. */
export const BPF_LD = 0x00;
/** Class: load from memory into a register. */
export const BPF_LDX = 0x01;
/** Class: store an immediate into memory. */
export const BPF_ST = 0x02;
/** Class: store a register into memory (and atomics). */
export const BPF_STX = 0x03;
/** Class: 32-bit ALU. */
export const BPF_ALU = 0x04;
/** Class: 64-bit jumps, calls and exit. */
export const BPF_JMP = 0x05;
/** Class: 32-bit jumps. */
export const BPF_JMP32 = 0x06;
/** Class: 64-bit ALU. */
export const BPF_ALU64 = 0x07;

// Size (opcode & 0x18) for load/store.
/** Size: 32-bit word. */
export const BPF_W = 0x00;
/** Size: 16-bit half word. */
export const BPF_H = 0x08;
/** Size: byte. */
export const BPF_B = 0x10;
/** Size: 64-bit double word. */
export const BPF_DW = 0x18;

// Mode (opcode & 0xe0) for load/store.
/** Mode: immediate (ld_imm64 when combined with BPF_LD | BPF_DW). */
export const BPF_IMM = 0x00;
/** Mode: legacy packet absolute load. */
export const BPF_ABS = 0x20;
/** Mode: legacy packet indirect load. */
export const BPF_IND = 0x40;
/** Mode: regular memory access. */
export const BPF_MEM = 0x60;
/** Mode: sign-extending memory load. */
export const BPF_MEMSX = 0x80;
/** Mode: atomic operation (BPF_STX). */
export const BPF_ATOMIC = 0xc0;

// Source (opcode & 0x08) for ALU/JMP.
/** Source operand is the 32-bit immediate. */
export const BPF_K = 0x00;
/** Source operand is the source register. */
export const BPF_X = 0x08;

// ALU operations (opcode & 0xf0).
/** ALU op: dst += src. */
export const BPF_ADD = 0x00;
/** ALU op: dst -= src. */
export const BPF_SUB = 0x10;
/** ALU op: dst *= src. */
export const BPF_MUL = 0x20;
/** ALU op: dst /= src (unsigned; signed with off=1). */
export const BPF_DIV = 0x30;
/** ALU op: dst |= src. */
export const BPF_OR = 0x40;
/** ALU op: dst &= src. */
export const BPF_AND = 0x50;
/** ALU op: dst <<= src. */
export const BPF_LSH = 0x60;
/** ALU op: dst >>= src (logical). */
export const BPF_RSH = 0x70;
/** ALU op: dst = -dst. */
export const BPF_NEG = 0x80;
/** ALU op: dst %= src. */
export const BPF_MOD = 0x90;
/** ALU op: dst ^= src. */
export const BPF_XOR = 0xa0;
/** ALU op: dst = src (sign-extending with off=8/16/32). */
export const BPF_MOV = 0xb0;
/** ALU op: dst >>= src (arithmetic). */
export const BPF_ARSH = 0xc0;
/** ALU op: byte swap (to/from le or be). */
export const BPF_END = 0xd0;

// Jump operations (opcode & 0xf0).
/** Jump op: goto (unconditional). */
export const BPF_JA = 0x00;
/** Jump op: jump if ==. */
export const BPF_JEQ = 0x10;
/** Jump op: jump if > (unsigned). */
export const BPF_JGT = 0x20;
/** Jump op: jump if >= (unsigned). */
export const BPF_JGE = 0x30;
/** Jump op: jump if dst & src. */
export const BPF_JSET = 0x40;
/** Jump op: jump if !=. */
export const BPF_JNE = 0x50;
/** Jump op: jump if > (signed). */
export const BPF_JSGT = 0x60;
/** Jump op: jump if >= (signed). */
export const BPF_JSGE = 0x70;
/** Jump op: call a helper, subprogram or kfunc. */
export const BPF_CALL = 0x80;
/** Jump op: return r0. */
export const BPF_EXIT = 0x90;
/** Jump op: jump if < (unsigned). */
export const BPF_JLT = 0xa0;
/** Jump op: jump if <= (unsigned). */
export const BPF_JLE = 0xb0;
/** Jump op: jump if < (signed). */
export const BPF_JSLT = 0xc0;
/** Jump op: jump if <= (signed). */
export const BPF_JSLE = 0xd0;

// Atomic operation modifiers (imm of BPF_STX | BPF_ATOMIC).
/** Atomic: also return the old value. */
export const BPF_FETCH = 0x01;
/** Atomic exchange. */
export const BPF_XCHG = 0xe0 | BPF_FETCH;
/** Atomic compare-and-exchange. */
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

// src_reg values of ld_imm64 (BPF_LD | BPF_IMM | BPF_DW).
/** ld_imm64 src: imm is a map fd. */
export const BPF_PSEUDO_MAP_FD = 1;
/** ld_imm64 src: imm is a map fd, next imm is an offset into its value. */
export const BPF_PSEUDO_MAP_VALUE = 2;
/** ld_imm64 src: imm is a kernel BTF id (ksym). */
export const BPF_PSEUDO_BTF_ID = 3;
/** ld_imm64 src: imm is a relative instruction offset to a function (callback). */
export const BPF_PSEUDO_FUNC = 4;
/** ld_imm64 src: imm is an index into fd_array. */
export const BPF_PSEUDO_MAP_IDX = 5;
/** ld_imm64 src: imm is an index into fd_array, next imm is a value offset. */
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

// src_reg values of BPF_CALL.
/** call src: imm is a relative instruction offset to a BPF subprogram. */
export const BPF_PSEUDO_CALL = 1;
/** call src: imm is a kernel function's BTF id. */
export const BPF_PSEUDO_KFUNC_CALL = 2;

/** The opcode of ld_imm64 (`BPF_LD | BPF_IMM | BPF_DW`), the only 16-byte instruction. */
export const BPF_LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW;
/** The opcode of a call (`BPF_JMP | BPF_CALL`). */
export const BPF_CALL_OP = BPF_JMP | BPF_CALL;
/** The opcode of exit (`BPF_JMP | BPF_EXIT`). */
export const BPF_EXIT_OP = BPF_JMP | BPF_EXIT;

/** Size of one instruction slot in bytes. */
export const INSN_SIZE = 8;

/** The class bits of an opcode. */
export function BPF_CLASS(op: number): number { return op & 0x07; }
/** The size bits of a load/store opcode. */
export function BPF_SIZE(op: number): number { return op & 0x18; }
/** The mode bits of a load/store opcode. */
export function BPF_MODE(op: number): number { return op & 0xe0; }
/** The operation bits of an ALU/JMP opcode. */
export function BPF_OP(op: number): number { return op & 0xf0; }
/** The source bit of an ALU/JMP opcode. */
export function BPF_SRC(op: number): number { return op & 0x08; }
