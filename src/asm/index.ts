/**
 * Pure BPF instruction handling: opcode constants, an 8-byte-slot codec in either byte order,
 * helper names by id, and a minimal formatter for error messages.
 */
export * from "./opcodes.js";
export * from "./instruction.js";
export * from "./helpers.js";
