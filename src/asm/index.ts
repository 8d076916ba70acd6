/**
 * Pure BPF instruction handling: opcode constants, an 8-byte-slot codec in either byte order, the
 * llvm-objdump-compatible disassembler, the assembler DSL,
 * helper names by id, and a minimal formatter for error messages.
 */
export * from "./opcodes.js";
export * from "./instruction.js";
export * from "./helpers.js";
export * from "./disasm.js";
export * from "./builder.js";
