import { Btf } from "../btf/btf.js";
import { ObjectError } from "../errors.js";
import { ElfType, Machine, SectionIndex, SectionType, SymbolBind, SymbolType, parseElf, type ElfRelocation, type ElfSymbol } from "../elf/index.js";
import { readBtf } from "./btf-glue.js";
import { sanitizeExternBtf } from "../btf/writer.js";
import { btfMaps, dataMap, isDataSection, kconfigMap, legacyMaps, objectSymbols } from "./maps.js";
import { elfFunctions, isProgramFunction, linkProgram, type LinkContext } from "./programs.js";
import type { CollectionSpec, MapSpec, ProgramSpec, VariableSpec } from "./types.js";

/** Options for {@link loadCollectionSpec}. */
export interface LoadCollectionSpecOptions {
  /** The object's name (by convention the file name without `.bpf.o`); "" when not given. */
  name?: string;
}

/** Sections that never hold programs, maps or data the loader needs. */
function ignoredSection(name: string): boolean {
  return name.startsWith(".debug_") || name.startsWith(".rel") || name === ".BTF" || name === ".BTF.ext" ||
    name === ".llvm_addrsig" || name === ".symtab" || name === ".strtab" || name === ".shstrtab";
}

/**
 * Read a BPF ELF object (clang `-target bpf`, either byte order) into a {@link CollectionSpec}:
 * programs (one per global function in each program section, linked with the subprograms they call),
 * maps (`SEC("maps")` legacy definitions, `SEC(".maps")` BTF definitions, and one ARRAY map per
 * global data section and for `.kconfig` externs), variables, license and version. Kernel-free and
 * deterministic: the same bytes always give the same spec.
 *
 * @throws {ElfError} when the input is not a well-formed ELF64 EM_BPF relocatable object.
 * @throws {BtfError} when .BTF or .BTF.ext is malformed.
 * @throws {ObjectError} when the ELF is well-formed but its maps, programs or relocations are unusable.
 */
export function loadCollectionSpec(bytes: Uint8Array, opts: LoadCollectionSpecOptions = {}): CollectionSpec {
  const elf = parseElf(bytes, { machine: Machine.BPF });
  if (elf.type !== ElfType.REL) throw new ObjectError(`load BPF object: ELF type is ${elf.type}, expected a relocatable object (ET_REL) as produced by clang -c`);
  const le = elf.littleEndian;
  const symbols = elf.symbols;

  // license and version
  let license = "";
  const licSec = elf.sectionByName("license");
  if (licSec) {
    const d = licSec.data;
    const nul = d.indexOf(0);
    license = new TextDecoder().decode(nul >= 0 ? d.subarray(0, nul) : d);
  }
  let kernelVersion: number | undefined;
  const verSec = elf.sectionByName("version");
  // The loader passes the running kernel's version whatever the object says (kprobe programs on
  // kernels before 5.0 need it to match), so a version section of the wrong size is ignored.
  if (verSec && verSec.data.length === 4) {
    kernelVersion = new DataView(verSec.data.buffer, verSec.data.byteOffset, 4).getUint32(0, le);
  }

  // BTF, with data sections fixed up, and .BTF.ext
  const { btf, btfBytes, ext } = readBtf(elf);

  // relocations per target section
  const relocs = new Map<number, ElfRelocation[]>();
  for (const s of elf.sections) {
    if (s.type !== SectionType.REL && s.type !== SectionType.RELA) continue;
    if (s.info <= 0 || s.info >= elf.sections.length) continue;
    const target = elf.sections[s.info];
    if (ignoredSection(target.name)) continue;
    if (s.link !== 0 && s.link < elf.sections.length && elf.sections[s.link].type !== SectionType.SYMTAB) {
      throw new ObjectError(`load BPF object: relocation section ${s.name} does not use the symbol table`);
    }
    const list = relocs.get(s.info) ?? [];
    list.push(...elf.relocations(s));
    relocs.set(s.info, list);
  }

  // maps
  const maps: Record<string, MapSpec> = {};
  const variables: Record<string, VariableSpec> = {};
  const mapOffsets = new Map<number, Map<number, string>>();
  const addMap = (m: MapSpec, shndx: number, offset?: number) => {
    if (Object.hasOwn(maps, m.name)) throw new ObjectError(`load BPF object: map ${m.name} is defined twice`);
    maps[m.name] = m;
    if (offset !== undefined) {
      let byOff = mapOffsets.get(shndx);
      if (!byOff) mapOffsets.set(shndx, (byOff = new Map()));
      byOff.set(offset, m.name);
    }
  };
  const symbolOffsets = (shndx: number) => {
    const m = new Map<string, number>();
    for (const s of objectSymbols(symbols, shndx)) if (!m.has(s.name)) m.set(s.name, s.value);
    return m;
  };
  const dataSections = new Map<number, string>();
  const mapSections = new Set<number>();
  for (const sec of elf.sections) {
    if (sec.name === "maps" && sec.type === SectionType.PROGBITS) {
      mapSections.add(sec.index);
      const offs = symbolOffsets(sec.index);
      for (const m of legacyMaps(elf, sec)) addMap(m, sec.index, offs.get(m.name));
    } else if (sec.name === ".maps" && sec.type === SectionType.PROGBITS) {
      mapSections.add(sec.index);
      const offs = symbolOffsets(sec.index);
      for (const m of btfMaps(elf, sec, btf, relocs.get(sec.index) ?? [])) addMap(m, sec.index, offs.get(m.name));
    } else if (isDataSection(sec)) {
      if (sec.size === 0) continue;
      const { map, variables: vars } = dataMap(elf, sec, btf);
      addMap(map, sec.index);
      dataSections.set(sec.index, sec.name);
      for (const v of vars) if (!Object.hasOwn(variables, v.name)) variables[v.name] = v;
    }
  }
  const kconfig = kconfigMap(btf);
  const kconfigNames = new Set(kconfig?.variables.map((v) => v.name));
  if (kconfig) {
    addMap(kconfig.map, -1);
    const weak = new Set(symbols.filter((s) => s.shndx === SectionIndex.UNDEF && s.bind === SymbolBind.WEAK).map((s) => s.name));
    for (const v of kconfig.variables) {
      if (weak.has(v.name)) v.weak = true;
      if (!Object.hasOwn(variables, v.name)) variables[v.name] = v;
    }
  }
  const ksyms = new Set<string>();
  if (btf) {
    const id = btf.findByName(".ksyms", "datasec");
    const ds = id === undefined ? undefined : btf.type(id);
    if (ds?.kind === "datasec") for (const v of ds.vars) ksyms.add(btf.name(v.typeId));
  }

  // programs
  const fns = elfFunctions(elf);
  const ctx: LinkContext = {
    elf, btf, license, kernelVersion: kernelVersion ?? 0, relocs, dataSections, ext,
    mapAt: (shndx: number, offset: number, sym: ElfSymbol) => {
      if (!mapSections.has(shndx)) return undefined;
      if (sym.type !== SymbolType.SECTION && sym.name && Object.hasOwn(maps, sym.name) && maps[sym.name].section === elf.sections[shndx].name) return sym.name;
      return mapOffsets.get(shndx)?.get(offset);
    },
    externKind: (name: string) => {
      if (kconfigNames.has(name)) return "kconfig";
      if (ksyms.has(name)) return "ksym";
      return name.startsWith("CONFIG_") || name.startsWith("LINUX_") ? "kconfig" : "ksym";
    },
  };
  const programs: Record<string, ProgramSpec> = {};
  for (const [, list] of [...fns].sort((a, b) => a[0] - b[0])) {
    for (const fn of list) {
      if (!isProgramFunction(fn)) continue;
      if (Object.hasOwn(programs, fn.name)) throw new ObjectError(`load BPF object: program ${fn.name} is defined twice`);
      programs[fn.name] = linkProgram(ctx, fns, fn);
    }
  }

  const spec: CollectionSpec = { name: opts.name ?? "", maps, programs, variables, license, littleEndian: le };
  if (kernelVersion !== undefined) spec.kernelVersion = kernelVersion;
  if (btf) spec.btf = btf;
  // Extern VARs/FUNCs in .kconfig and .ksyms are not loadable as clang emits them: sanitize like libbpf.
  if (btfBytes) spec.btfBytes = btf && (kconfig || ksyms.size) ? sanitizeExternBtf(btf, new Map(kconfig?.variables.map((v) => [v.name, v.offset]))) : btfBytes;
  return spec;
}

