/** ELF constants used by tsbpf (a subset of `<elf.h>`). */

/** Section header types (`sh_type`). */
export const SectionType = {
  NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, HASH: 5, DYNAMIC: 6, NOTE: 7, NOBITS: 8,
  REL: 9, SHLIB: 10, DYNSYM: 11, INIT_ARRAY: 14, FINI_ARRAY: 15, PREINIT_ARRAY: 16, GROUP: 17,
  SYMTAB_SHNDX: 18, LLVM_ADDRSIG: 0x6fff4c03, GNU_HASH: 0x6ffffff6, GNU_VERDEF: 0x6ffffffd,
  GNU_VERNEED: 0x6ffffffe, GNU_VERSYM: 0x6fffffff,
} as const;

/** Section header flags (`sh_flags`). */
export const SectionFlags = {
  WRITE: 0x1, ALLOC: 0x2, EXECINSTR: 0x4, MERGE: 0x10, STRINGS: 0x20, INFO_LINK: 0x40, TLS: 0x400,
} as const;

/** Special section indexes (`st_shndx`). */
export const SectionIndex = {
  UNDEF: 0, LORESERVE: 0xff00, ABS: 0xfff1, COMMON: 0xfff2, XINDEX: 0xffff,
} as const;

/** Symbol binding (`ST_BIND(st_info)`). */
export const SymbolBind = { LOCAL: 0, GLOBAL: 1, WEAK: 2, GNU_UNIQUE: 10 } as const;

/** Symbol type (`ST_TYPE(st_info)`). */
export const SymbolType = {
  NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5, TLS: 6, GNU_IFUNC: 10,
} as const;

/** Symbol visibility (`st_other & 3`). */
export const SymbolVisibility = { DEFAULT: 0, INTERNAL: 1, HIDDEN: 2, PROTECTED: 3 } as const;

/** ELF file types (`e_type`). */
export const ElfType = { NONE: 0, REL: 1, EXEC: 2, DYN: 3, CORE: 4 } as const;

/** Machine numbers (`e_machine`) tsbpf cares about. */
export const Machine = { NONE: 0, X86_64: 62, AARCH64: 183, RISCV: 243, BPF: 247 } as const;

/** BPF relocation types (`ELF64_R_TYPE` for EM_BPF). */
export const BpfRelocType = {
  R_BPF_NONE: 0, R_BPF_64_64: 1, R_BPF_64_ABS64: 2, R_BPF_64_ABS32: 3, R_BPF_64_NODYLD32: 4,
  R_BPF_64_32: 10,
} as const;
