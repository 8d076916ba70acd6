/**
 * A pure ELF64 reader: header, sections, symbols (static and dynamic) and relocations, in either
 * byte order. Every offset and count read from the file is bounds-checked; malformed input throws
 * {@link ElfError} naming what was wrong and where, never a RangeError.
 *
 * Used for BPF objects (EM_BPF) and for user-space executables and shared objects (uprobe symbol
 * lookup).
 */
export * from "./constants.js";
export * from "./reader.js";
