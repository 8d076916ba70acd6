import { ElfError } from "../errors.js";
import { SectionIndex, SectionType } from "./constants.js";

/** One section header, with its contents (`data` is empty for SHT_NOBITS and SHT_NULL). */
export interface ElfSection {
  /** Index in the section header table. */
  index: number;
  name: string;
  type: number;
  /** `sh_flags` (the ELF64 field is 64-bit; flags above bit 52 are not representable and are dropped). */
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** The section's bytes: a view into the input, not a copy. Empty for NOBITS. */
  data: Uint8Array;
}

/** One symbol table entry. */
export interface ElfSymbol {
  /** Index in its symbol table (0 is the null symbol). */
  index: number;
  name: string;
  /** `st_value` as a number (exact up to 2^53; see `value64`). */
  value: number;
  /** `st_value` exactly. */
  value64: bigint;
  size: number;
  /** `SymbolBind.*` */
  bind: number;
  /** `SymbolType.*` */
  type: number;
  /** `SymbolVisibility.*` */
  visibility: number;
  /** Section index, `SectionIndex.*` special values, or the extended index from SHT_SYMTAB_SHNDX. */
  shndx: number;
}

/** One relocation entry. `addend` is present for SHT_RELA sections only. */
export interface ElfRelocation {
  offset: number;
  type: number;
  symbolIndex: number;
  addend?: number;
}

/** A parsed ELF64 file. Sections are read eagerly; symbol tables and relocations on demand. */
export interface ElfFile {
  littleEndian: boolean;
  /** `EI_OSABI`. */
  osabi: number;
  abiVersion: number;
  /** `e_type` (`ElfType.*`). */
  type: number;
  /** `e_machine` (`Machine.*`). */
  machine: number;
  version: number;
  entry: bigint;
  flags: number;
  shstrndx: number;
  sections: ElfSection[];
  /** The first section with this name, or undefined. */
  sectionByName(name: string): ElfSection | undefined;
  /** The SHT_SYMTAB symbols (index 0 included), or [] when there is no symbol table. Throws ElfError when malformed. */
  readonly symbols: ElfSymbol[];
  /** The SHT_DYNSYM symbols (index 0 included), or []. Throws ElfError when malformed. */
  readonly dynamicSymbols: ElfSymbol[];
  /** The entries of a SHT_REL or SHT_RELA section. Throws ElfError for other sections or when malformed. */
  relocations(section: ElfSection): ElfRelocation[];
  /** A NUL-terminated string at `offset` in the string table section `strtab`. Throws ElfError. */
  stringAt(strtab: ElfSection, offset: number, what?: string): string;
}

/** Options for {@link parseElf}. */
export interface ParseElfOptions {
  /** Require this `e_machine` (e.g. `Machine.BPF`); otherwise any machine is accepted. */
  machine?: number;
}

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
/** Upper bound on sections, far above anything real, to bound work on hostile input. */
const MAX_SECTIONS = 1 << 20;

const utf8 = new TextDecoder("utf-8");

function hex(n: number | bigint): string {
  return "0x" + n.toString(16);
}

function toNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`parse ELF: ${what} ${hex(v)} is too large`);
  return Number(v);
}

/**
 * Parse an ELF64 file. Both byte orders are supported. The returned sections' `data` are views into
 * `bytes`, so `bytes` must not be modified afterwards.
 *
 * @throws {ElfError} when the input is not ELF64, is truncated, or any header, offset, size, count
 *   or string is out of bounds or inconsistent; or when `opts.machine` is given and differs.
 */
export function parseElf(bytes: Uint8Array, opts: ParseElfOptions = {}): ElfFile {
  if (!(bytes instanceof Uint8Array)) throw new ElfError("parse ELF: input is not a Uint8Array");
  if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError("parse ELF: not an ELF file (bad magic)");
  }
  const cls = bytes[4];
  if (cls !== 2) throw new ElfError(`parse ELF: unsupported class ${cls} (only ELFCLASS64 is supported)`);
  const dataEnc = bytes[5];
  if (dataEnc !== 1 && dataEnc !== 2) throw new ElfError(`parse ELF: bad byte order ${dataEnc} in e_ident[EI_DATA]`);
  const le = dataEnc === 1;
  if (bytes[6] !== 1) throw new ElfError(`parse ELF: bad ELF version ${bytes[6]} in e_ident`);
  if (bytes.length < EHDR_SIZE) throw new ElfError(`parse ELF: truncated header (${bytes.length} bytes, need ${EHDR_SIZE})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => dv.getUint16(o, le);
  const u32 = (o: number) => dv.getUint32(o, le);
  const u64 = (o: number) => dv.getBigUint64(o, le);

  const type = u16(16);
  const machine = u16(18);
  if (opts.machine !== undefined && machine !== opts.machine) {
    throw new ElfError(`parse ELF: machine is ${machine}, expected ${opts.machine}${opts.machine === 247 ? " (EM_BPF: compile with clang -target bpf)" : ""}`);
  }
  const version = u32(20);
  const entry = u64(24);
  const shoff64 = u64(40);
  const flags = u32(48);
  const ehsize = u16(52);
  const shentsize = u16(58);
  let shnum = u16(60);
  let shstrndx = u16(62);
  if (ehsize !== 0 && ehsize < EHDR_SIZE) throw new ElfError(`parse ELF: e_ehsize ${ehsize} is smaller than ${EHDR_SIZE}`);

  const sections: ElfSection[] = [];
  const len = bytes.length;
  if (shoff64 !== 0n) {
    if (shentsize !== SHDR_SIZE) throw new ElfError(`parse ELF: e_shentsize is ${shentsize}, expected ${SHDR_SIZE}`);
    if (shoff64 > BigInt(len) - BigInt(SHDR_SIZE)) {
      throw new ElfError(`parse ELF: section header table at ${hex(shoff64)} is past the end of the file (${len} bytes)`);
    }
    const shoff = Number(shoff64);
    if (shnum === 0) {
      // Extended numbering: the real count is in section 0's sh_size.
      shnum = toNumber(u64(shoff + 32), "extended section count");
    }
    if (shstrndx === SectionIndex.XINDEX) shstrndx = u32(shoff + 40);
    if (shnum > MAX_SECTIONS) throw new ElfError(`parse ELF: section count ${shnum} is too large`);
    if (shoff + shnum * SHDR_SIZE > len) {
      throw new ElfError(`parse ELF: section header table (${shnum} entries at ${hex(shoff)}) runs past the end of the file (${len} bytes)`);
    }
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * SHDR_SIZE;
      const stype = u32(o + 4);
      const offset = toNumber(u64(o + 24), `section ${i} offset`);
      const size = toNumber(u64(o + 32), `section ${i} size`);
      const flags64 = u64(o + 8);
      let data: Uint8Array;
      if (stype === SectionType.NOBITS || stype === SectionType.NULL) {
        data = new Uint8Array(0);
      } else {
        if (offset > len || size > len - offset) {
          throw new ElfError(`parse ELF: section ${i} (offset ${hex(offset)}, size ${hex(size)}) runs past the end of the file (${len} bytes)`);
        }
        data = bytes.subarray(offset, offset + size);
      }
      sections.push({
        index: i,
        name: "",
        type: stype,
        flags: Number(flags64 & 0xfffffffffffffn),
        addr: Number(u64(o + 16)),
        offset,
        size,
        link: u32(o + 40),
        info: u32(o + 44),
        addralign: Number(u64(o + 48)),
        entsize: Number(u64(o + 56)),
        data,
      });
      (sections[i] as { nameOff?: number }).nameOff = u32(o);
    }
  } else {
    shnum = 0;
  }

  const stringAt = (strtab: ElfSection, offset: number, what = "string"): string => {
    const d = strtab.data;
    if (offset >= d.length) {
      if (offset === 0 && d.length === 0) return "";
      throw new ElfError(`parse ELF: ${what} offset ${offset} is past the end of string table ${strtab.name || "#" + strtab.index} (${d.length} bytes)`);
    }
    const end = d.indexOf(0, offset);
    if (end < 0) throw new ElfError(`parse ELF: ${what} at offset ${offset} in string table ${strtab.name || "#" + strtab.index} is not NUL-terminated`);
    return utf8.decode(d.subarray(offset, end));
  };

  if (shnum > 0) {
    if (shstrndx !== SectionIndex.UNDEF) {
      if (shstrndx >= shnum) throw new ElfError(`parse ELF: e_shstrndx ${shstrndx} is out of range (${shnum} sections)`);
      const shstr = sections[shstrndx];
      if (shstr.type !== SectionType.STRTAB) throw new ElfError(`parse ELF: e_shstrndx ${shstrndx} is not a string table (type ${shstr.type})`);
      for (const s of sections) {
        const off = (s as { nameOff?: number }).nameOff ?? 0;
        s.name = s.index === 0 && off === 0 ? "" : stringAt(shstr, off, `name of section ${s.index}`);
      }
    }
  }
  for (const s of sections) delete (s as { nameOff?: number }).nameOff;

  const byName = new Map<string, ElfSection>();
  for (const s of sections) if (!byName.has(s.name)) byName.set(s.name, s);

  const readSymbols = (table: ElfSection | undefined): ElfSymbol[] => {
    if (!table) return [];
    const where = `symbol table ${table.name || "#" + table.index}`;
    if (table.entsize !== 0 && table.entsize !== SYM_SIZE) throw new ElfError(`parse ELF: ${where} has entry size ${table.entsize}, expected ${SYM_SIZE}`);
    if (table.size % SYM_SIZE !== 0) throw new ElfError(`parse ELF: ${where} size ${table.size} is not a multiple of ${SYM_SIZE}`);
    if (table.link >= sections.length) throw new ElfError(`parse ELF: ${where} links to string table ${table.link}, which does not exist`);
    const strtab = sections[table.link];
    if (strtab.type !== SectionType.STRTAB) throw new ElfError(`parse ELF: ${where} links to section ${table.link}, which is not a string table`);
    let xindex: DataView | undefined;
    for (const s of sections) {
      if (s.type === SectionType.SYMTAB_SHNDX && s.link === table.index) {
        xindex = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
      }
    }
    const d = table.data;
    const tv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const n = d.length / SYM_SIZE;
    const out: ElfSymbol[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const o = i * SYM_SIZE;
      const nameOff = tv.getUint32(o, le);
      const info = tv.getUint8(o + 4);
      const other = tv.getUint8(o + 5);
      let shndx = tv.getUint16(o + 6, le);
      const value64 = tv.getBigUint64(o + 8, le);
      const size64 = tv.getBigUint64(o + 16, le);
      if (shndx === SectionIndex.XINDEX && xindex) {
        if ((i + 1) * 4 > xindex.byteLength) throw new ElfError(`parse ELF: ${where} symbol ${i} has no SHT_SYMTAB_SHNDX entry`);
        shndx = xindex.getUint32(i * 4, le);
      }
      out[i] = {
        index: i,
        name: nameOff === 0 ? "" : stringAt(strtab, nameOff, `name of symbol ${i}`),
        value: Number(value64),
        value64,
        size: Number(size64),
        bind: info >> 4,
        type: info & 0xf,
        visibility: other & 3,
        shndx,
      };
    }
    return out;
  };

  let symtab: ElfSymbol[] | undefined;
  let dynsym: ElfSymbol[] | undefined;

  const relocations = (sec: ElfSection): ElfRelocation[] => {
    const rela = sec.type === SectionType.RELA;
    if (!rela && sec.type !== SectionType.REL) throw new ElfError(`parse ELF: section ${sec.name} is not a relocation section (type ${sec.type})`);
    const esz = rela ? 24 : 16;
    if (sec.entsize !== 0 && sec.entsize !== esz) throw new ElfError(`parse ELF: relocation section ${sec.name} has entry size ${sec.entsize}, expected ${esz}`);
    if (sec.size % esz !== 0) throw new ElfError(`parse ELF: relocation section ${sec.name} size ${sec.size} is not a multiple of ${esz}`);
    const d = sec.data;
    const rv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const n = d.length / esz;
    const out: ElfRelocation[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const o = i * esz;
      const offset = rv.getBigUint64(o, le);
      // ELF64_R_SYM / ELF64_R_TYPE, read as two 32-bit halves of r_info.
      const infoLo = rv.getUint32(o + 8 + (le ? 0 : 4), le);
      const infoHi = rv.getUint32(o + 8 + (le ? 4 : 0), le);
      const r: ElfRelocation = { offset: toNumber(offset, `offset of relocation ${i} in ${sec.name}`), type: infoLo, symbolIndex: infoHi };
      if (rela) r.addend = Number(rv.getBigInt64(o + 16, le));
      out[i] = r;
    }
    return out;
  };

  return {
    littleEndian: le,
    osabi: bytes[7],
    abiVersion: bytes[8],
    type,
    machine,
    version,
    entry,
    flags,
    shstrndx,
    sections,
    sectionByName: (name) => byName.get(name),
    get symbols() {
      symtab ??= readSymbols(sections.find((s) => s.type === SectionType.SYMTAB));
      return symtab;
    },
    get dynamicSymbols() {
      dynsym ??= readSymbols(sections.find((s) => s.type === SectionType.DYNSYM));
      return dynsym;
    },
    relocations,
    stringAt,
  };
}
