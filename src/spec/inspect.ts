/**
 * What a BPF object file holds, in eBPF terms, for `tsbpf inspect`: the ELF sections and what the
 * loader makes of each, every function's relocation entries (map fds, global data, externs,
 * subprogram calls, callbacks and CO-RE accesses), a BTF summary and the global variables.
 * Kernel-free: reads the ELF (as readelf does) and the spec the loader would build from it.
 */
import type { Btf } from "../btf/btf.js";
import { parseBtfExt, CORE_RELO_KIND_NAMES } from "../btf/ext.js";
import { describeSpec, parseSpec } from "../btf/core-spec.js";
import { BpfRelocType, SectionFlags, SectionIndex, SectionType, SymbolType, parseElf, Machine, type ElfFile, type ElfSection, type ElfSymbol } from "../elf/index.js";
import { BPF_CALL_OP, INSN_SIZE } from "../asm/index.js";
import { loadCollectionSpec } from "./load.js";
import { isDataSection, objectSymbols } from "./maps.js";
import { elfFunctions, isProgramFunction, type ElfFunction } from "./programs.js";
import { mapTypeName, programTypeName } from "./kernel-enums.js";
import type { CollectionSpec } from "./types.js";

/** One ELF section: its header fields and its role for the loader. */
export interface SectionReport {
  index: number;
  name: string;
  /** `sh_type` as readelf names it without the SHT_ prefix (PROGBITS, NOBITS, REL, ...). */
  type: string;
  size: number;
  /** program | subprograms | maps | data | BTF | relocations | license | version | symbols | ignored */
  role: string;
  /** What is in it: program names, map names, record counts, or why it is ignored. */
  detail: string;
}

/**
 * One relocation of an instruction, section-relative like llvm-objdump's numbering:
 * `kind` is map fd | global data | kconfig extern | ksym extern | kfunc call | subprogram call |
 * callback | CO-RE; `loadsAs` is the ld_imm64/call form the loader gives the instruction.
 */
export interface RelocationReport {
  insn: number;
  kind: string;
  loadsAs: string;
  /** The map, `section+offset variable`, extern, function, or C access path (`task_struct.pid`). */
  target: string;
  /** The ELF symbol (as readelf -r names it), "" for CO-RE records. */
  symbol: string;
  /** The ELF relocation type (R_BPF_64_64, R_BPF_64_32), or the CO-RE relocation kind. */
  elfType: string;
  /** CO-RE only: the access string (`0:1`) and the root type (its id in the object's BTF, and its name). */
  accessStr?: string;
  typeId?: number;
  rootType?: string;
}

/** An entry program or a subprogram, with its relocations. */
export interface FunctionReport {
  name: string;
  section: string;
  /** The program type, or "subprogram" for functions of .text (and local functions). */
  type: string;
  /** First instruction, counted from the start of the section. */
  start: number;
  instructions: number;
  /** Entry programs: instructions once linked with their subprograms (what the kernel gets). */
  linkedInstructions?: number;
  autoAttach?: string | null;
  relocations: RelocationReport[];
}

/** Counts of the object's BTF and .BTF.ext. */
export interface BtfReport {
  types: number;
  byKind: Record<string, number>;
  stringBytes: number;
  funcInfo: number;
  lineInfo: number;
  coreRelocations: number;
}

/** A global variable of a data section (or a `.kconfig` extern). */
export interface VariableReport {
  section: string;
  name: string;
  offset: number;
  size: number;
  type: string;
  constant: boolean;
}

/** Everything `tsbpf inspect` reports about an object. */
export interface ObjectReport {
  name: string;
  license: string;
  kernelVersion?: number;
  littleEndian: boolean;
  sections: SectionReport[];
  maps: Array<{ name: string; type: string; keySize: number; valueSize: number; maxEntries: number; flags: number; definition: string; section: string }>;
  programs: FunctionReport[];
  btf?: BtfReport;
  variables: VariableReport[];
}

const SECTION_TYPE_NAMES = new Map<number, string>(Object.entries(SectionType).map(([k, v]) => [v, k]));
const RELOC_TYPE_NAMES = new Map<number, string>(Object.entries(BpfRelocType).map(([k, v]) => [v, k]));

/** Reads the ELF and the loader's spec of `bytes` and reports what is in it. Throws like loadCollectionSpec. */
export function inspectObject(bytes: Uint8Array, name = ""): ObjectReport {
  const spec = loadCollectionSpec(bytes, { name });
  const elf = parseElf(bytes, { machine: Machine.BPF });
  const fns = elfFunctions(elf);
  const ext = spec.btf ? elf.sectionByName(".BTF.ext") : undefined;
  const btfExt = ext && ext.size > 0 && spec.btf ? parseBtfExt(ext.data, spec.btf) : undefined;
  const count = (m: ReadonlyMap<string, readonly unknown[]> | undefined) => [...(m?.values() ?? [])].reduce((n, l) => n + l.length, 0);
  const btf = spec.btf ? btfSummary(spec.btf, count(btfExt?.funcInfo), count(btfExt?.lineInfo), count(btfExt?.coreRelos)) : undefined;

  const programs: FunctionReport[] = [];
  for (const [, list] of [...fns].sort((a, b) => a[0] - b[0])) {
    for (const fn of list) {
      const entry = isProgramFunction(fn) ? spec.programs[fn.name] : undefined;
      const relocations = [
        ...elfRelocations(elf, spec, fns, fn),
        ...(btfExt?.coreRelos.get(fn.section.name) ?? []).filter((r) => inFunction(fn, r.insnOff / INSN_SIZE)).map((r) => coreRelocation(spec.btf!, r)),
      ].sort((a, b) => a.insn - b.insn);
      programs.push({
        name: fn.name, section: fn.section.name, type: entry ? programTypeName(entry.type)?.toLowerCase() ?? "unknown" : "subprogram",
        start: fn.start, instructions: fn.len, relocations,
        ...(entry ? { linkedInstructions: entry.instructions.length / INSN_SIZE, autoAttach: entry.autoAttach } : {}),
      });
    }
  }
  const maps = Object.values(spec.maps).map((m) => ({
    name: m.name, type: mapTypeName(m.type)?.toLowerCase() ?? String(m.type), keySize: m.keySize, valueSize: m.valueSize,
    maxEntries: m.maxEntries, flags: m.flags, definition: m.definition, section: m.section,
  }));
  const variables = Object.values(spec.variables).map((v) => ({
    section: v.map, name: v.name, offset: v.offset, size: v.size, type: v.typeId && spec.btf ? spec.btf.typeName(v.typeId) : "", constant: v.constant,
  })).sort((a, b) => (a.section < b.section ? -1 : a.section > b.section ? 1 : a.offset - b.offset));
  const report: ObjectReport = {
    name: spec.name, license: spec.license, littleEndian: spec.littleEndian,
    sections: elf.sections.filter((s) => s.index > 0).map((s) => ({
      index: s.index, name: s.name, type: SECTION_TYPE_NAMES.get(s.type) ?? `0x${s.type.toString(16)}`, size: s.size,
      ...sectionRole(elf, spec, fns, s, btf),
    })),
    maps, programs, variables,
  };
  if (spec.kernelVersion !== undefined) report.kernelVersion = spec.kernelVersion;
  if (btf) report.btf = btf;
  return report;
}

function btfSummary(btf: Btf, funcInfo: number, lineInfo: number, coreRelocations: number): BtfReport {
  const byKind: Record<string, number> = {};
  for (let id = btf.firstId; id < btf.count; id++) {
    const k = btf.kindOf(id);
    byKind[k] = (byKind[k] ?? 0) + 1;
  }
  return { types: btf.count - btf.firstId, byKind, stringBytes: btf.layout.strLen, funcInfo, lineInfo, coreRelocations };
}

const inFunction = (fn: ElfFunction, slot: number) => slot >= fn.start && slot < fn.start + fn.len;

/** The function of `fns` that holds instruction `slot` of section `shndx`. */
function functionAt(fns: Map<number, ElfFunction[]>, shndx: number, slot: number): ElfFunction | undefined {
  return fns.get(shndx)?.find((f) => inFunction(f, slot));
}

/** What readelf -r shows as the symbol's name: the section's name for section symbols. */
function symbolName(elf: ElfFile, sym: ElfSymbol): string {
  if (sym.type === SymbolType.SECTION && sym.shndx > 0 && sym.shndx < elf.sections.length) return elf.sections[sym.shndx]!.name;
  return sym.name;
}

/** The named object of section `shndx` that covers byte `offset` (a map definition or a variable). */
function objectAt(elf: ElfFile, shndx: number, offset: number): ElfSymbol | undefined {
  return objectSymbols(elf.symbols, shndx).find((s) => s.value === offset || (offset > s.value && offset < s.value + s.size));
}

/** The relocation entries of the ELF that fall in `fn`, in eBPF terms. */
function elfRelocations(elf: ElfFile, spec: CollectionSpec, fns: Map<number, ElfFunction[]>, fn: ElfFunction): RelocationReport[] {
  const out: RelocationReport[] = [];
  const sec = fn.section;
  const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  for (const rs of elf.sections) {
    if ((rs.type !== SectionType.REL && rs.type !== SectionType.RELA) || rs.info !== sec.index) continue;
    for (const r of elf.relocations(rs)) {
      const slot = r.offset / INSN_SIZE;
      if (r.type === BpfRelocType.R_BPF_NONE || !Number.isInteger(slot) || !inFunction(fn, slot)) continue;
      const sym = elf.symbols[r.symbolIndex];
      if (!sym) continue;
      const imm = dv.getInt32(r.offset + 4, elf.littleEndian);
      const call = sec.data[r.offset] === BPF_CALL_OP;
      const base = { insn: slot, symbol: symbolName(elf, sym), elfType: RELOC_TYPE_NAMES.get(r.type) ?? String(r.type) };
      out.push({ ...base, ...classify(elf, spec, fns, sym, imm, call) });
    }
  }
  return out;
}

function classify(elf: ElfFile, spec: CollectionSpec, fns: Map<number, ElfFunction[]>, sym: ElfSymbol, imm: number, call: boolean): { kind: string; loadsAs: string; target: string } {
  if (sym.shndx === SectionIndex.UNDEF) {
    const weak = sym.bind === 2 ? " (weak)" : "";
    if (call) return { kind: "kfunc call", loadsAs: "kfunc_call", target: `${sym.name}${weak}` };
    const v = spec.variables[sym.name];
    if (v?.map === ".kconfig") return { kind: "kconfig extern", loadsAs: "map_value", target: `.kconfig+${v.offset} ${sym.name}${weak}` };
    return { kind: "ksym extern", loadsAs: "btf_id", target: `${sym.name}${weak}` };
  }
  const tsec = sym.shndx < elf.sections.length ? elf.sections[sym.shndx] : undefined;
  if (!tsec) return { kind: "unknown", loadsAs: "-", target: `section #${sym.shndx}` };
  if (fns.has(tsec.index)) {
    const slot = call ? sym.value / INSN_SIZE + imm + 1 : (sym.value + imm) / INSN_SIZE;
    const f = functionAt(fns, tsec.index, slot);
    const where = f ? `${f.name}${slot > f.start ? `+${slot - f.start}` : ""}` : `${tsec.name} instruction ${slot}`;
    return call ? { kind: "subprogram call", loadsAs: "call", target: where } : { kind: "callback", loadsAs: "func", target: where };
  }
  const offset = sym.value + (sym.type === SymbolType.SECTION ? imm : 0);
  if (isDataSection(tsec)) {
    const at = sym.value + imm;
    const v = sym.type === SymbolType.SECTION ? objectAt(elf, tsec.index, at) : sym;
    const name = v ? `${v.name}${at > v.value ? `+${at - v.value}` : ""}` : tsec.flags & SectionFlags.STRINGS ? "(string literal)" : "(no variable there)";
    return { kind: "global data", loadsAs: "map_value", target: `${tsec.name}+${at} ${name}` };
  }
  if (tsec.name === "maps" || tsec.name === ".maps") {
    const m = sym.type === SymbolType.SECTION ? objectAt(elf, tsec.index, offset) : sym;
    return { kind: "map fd", loadsAs: "map_fd", target: m?.name ?? `${tsec.name}+${offset}` };
  }
  return { kind: "unknown", loadsAs: "-", target: `${tsec.name}+${offset}` };
}

function coreRelocation(btf: Btf, r: { insnOff: number; typeId: number; accessStr: string; kind: number }): RelocationReport {
  const kind = CORE_RELO_KIND_NAMES[r.kind] ?? `kind ${r.kind}`;
  let target: string;
  try {
    target = describeSpec(parseSpec(btf, r.typeId, r.accessStr, r.kind));
  } catch (e) {
    target = `(${(e as Error).message})`;
  }
  return {
    insn: r.insnOff / INSN_SIZE, kind: "CO-RE", loadsAs: "-", target, symbol: "", elfType: kind,
    accessStr: r.accessStr, typeId: r.typeId, rootType: btf.typeName(r.typeId),
  };
}

/** What the loader makes of section `s`. */
function sectionRole(elf: ElfFile, spec: CollectionSpec, fns: Map<number, ElfFunction[]>, s: ElfSection, btf: BtfReport | undefined): { role: string; detail: string } {
  const names = (l: string[]) => l.join(", ");
  if (s.type === SectionType.PROGBITS && s.flags & SectionFlags.EXECINSTR) {
    const list = fns.get(s.index) ?? [];
    if (list.length === 0) return { role: "ignored", detail: "no instructions" };
    const entries = list.filter(isProgramFunction);
    if (entries.length === 0) return { role: "subprograms", detail: names(list.map((f) => f.name)) };
    return { role: "program", detail: names(entries.map((f) => `${f.name} (${programTypeName(spec.programs[f.name]!.type)?.toLowerCase() ?? "unknown type"})`)) };
  }
  if (s.name === "maps" || s.name === ".maps") {
    const maps = Object.values(spec.maps).filter((m) => m.section === s.name).map((m) => m.name);
    return { role: "maps", detail: `${s.name === "maps" ? "legacy" : "BTF"} map definitions: ${names(maps) || "none"}` };
  }
  if (isDataSection(s)) {
    if (s.size === 0) return { role: "ignored", detail: "empty data section" };
    const vars = Object.values(spec.variables).filter((v) => v.map === s.name).length;
    return { role: "data", detail: `map ${s.name}${spec.maps[s.name]?.freeze ? " (read-only)" : ""}, ${vars} variable${vars === 1 ? "" : "s"}` };
  }
  if (s.name === "license") return { role: "license", detail: JSON.stringify(spec.license) };
  if (s.name === "version") return { role: "version", detail: String(spec.kernelVersion ?? "") };
  if (s.name === ".BTF") return btf ? { role: "BTF", detail: `${btf.types} types, ${btf.stringBytes} bytes of strings` } : { role: "ignored", detail: "empty" };
  if (s.name === ".BTF.ext") return btf ? { role: "BTF", detail: `func_info ${btf.funcInfo}, line_info ${btf.lineInfo}, CO-RE ${btf.coreRelocations}` } : { role: "ignored", detail: "no .BTF" };
  if (s.type === SectionType.REL || s.type === SectionType.RELA) {
    const target = elf.sections[s.info];
    const used = target && (fns.has(target.index) || target.name === ".maps" || target.name === "maps");
    return { role: used ? "relocations" : "ignored", detail: `${elf.relocations(s).length} for ${target?.name ?? `section ${s.info}`}` };
  }
  if (s.type === SectionType.SYMTAB) return { role: "symbols", detail: `${elf.symbols.length - 1} symbols` };
  if (s.type === SectionType.STRTAB) {
    const symtab = elf.sections.some((x) => x.type === SectionType.SYMTAB && x.link === s.index);
    return { role: "symbols", detail: [...(s.index === elf.shstrndx ? ["section names"] : []), ...(symtab ? ["symbol names"] : [])].join(" and ") || "strings" };
  }
  if (s.name.startsWith(".debug_")) return { role: "ignored", detail: "DWARF debug info" };
  if (s.type === SectionType.LLVM_ADDRSIG) return { role: "ignored", detail: "address-significance table" };
  return { role: "ignored", detail: "not used by the loader" };
}
