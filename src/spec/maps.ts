import type { Btf } from "../btf/btf.js";
import type { BtfType } from "../btf/types.js";
import { ObjectError } from "../errors.js";
import { SectionType, SymbolType, type ElfFile, type ElfSection, type ElfSymbol } from "../elf/index.js";
import { MapType } from "./kernel-enums.js";
import type { MapSpec, VariableSpec } from "./types.js";

/** `BPF_F_RDONLY_PROG`: the program may only read the map (set on .rodata and .kconfig maps). */
export const BPF_F_RDONLY_PROG = 0x80;
/** libbpf's `LIBBPF_PIN_BY_NAME` value of the `pinning` field. */
export const LIBBPF_PIN_BY_NAME = 1;

/** True for ELF sections that libbpf turns into global data maps (.data*, .rodata*, .bss*). */
export function isDataSection(sec: ElfSection): boolean {
  const n = sec.name;
  if (sec.type === SectionType.NOBITS) return n === ".bss" || n.startsWith(".bss.");
  if (sec.type !== SectionType.PROGBITS) return false;
  return n === ".data" || n.startsWith(".data.") || n === ".rodata" || n.startsWith(".rodata.");
}

/** Largest global data section accepted (far above what the kernel allows for an array value). */
const MAX_DATA_SECTION = 64 << 20;

function newMap(name: string, section: string, definition: MapSpec["definition"]): MapSpec {
  return {
    name, type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, pinning: "none", numaNode: 0,
    mapExtra: 0n, btfKeyTypeId: 0, btfValueTypeId: 0, freeze: false, definition, section,
  };
}

const symbolIndex = new WeakMap<readonly ElfSymbol[], Map<number, ElfSymbol[]>>();

/** Symbols naming objects in section `shndx`, sorted by value then name (the null and section symbols excluded). */
export function objectSymbols(symbols: readonly ElfSymbol[], shndx: number): ElfSymbol[] {
  let bySection = symbolIndex.get(symbols);
  if (!bySection) {
    bySection = new Map();
    for (const s of symbols) {
      if (s.index === 0 || s.name === "" || s.type === SymbolType.SECTION || s.type === SymbolType.FILE) continue;
      let list = bySection.get(s.shndx);
      if (!list) bySection.set(s.shndx, (list = []));
      list.push(s);
    }
    for (const list of bySection.values()) list.sort((a, b) => a.value - b.value || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    symbolIndex.set(symbols, bySection);
  }
  return bySection.get(shndx) ?? [];
}

/**
 * Legacy `SEC("maps")` definitions (`struct bpf_map_def`: type, key_size, value_size, max_entries,
 * map_flags, then optionally inner_map_idx and numa_node as samples/bpf's loader had). Each symbol in
 * the section is one map; the definition size is the section size divided by the symbol count.
 *
 * @throws {ObjectError} when the section cannot be split into definitions.
 */
export function legacyMaps(elf: ElfFile, sec: ElfSection): MapSpec[] {
  const syms = objectSymbols(elf.symbols, sec.index);
  if (syms.length === 0) {
    if (sec.size === 0) return [];
    throw new ObjectError(`read legacy maps: section ${sec.name} has ${sec.size} bytes but no map symbols`);
  }
  const defSize = Math.floor(sec.size / syms.length);
  if (sec.size % syms.length !== 0 || defSize < 16) {
    throw new ObjectError(`read legacy maps: section ${sec.name} size ${sec.size} does not divide into ${syms.length} map definitions of at least 16 bytes`);
  }
  const data = sec.data;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = elf.littleEndian;
  const maps: MapSpec[] = [];
  const innerIdx: number[] = [];
  for (const sym of syms) {
    const off = sym.value;
    if (off % 4 !== 0 || off + defSize > sec.size) {
      throw new ObjectError(`read legacy map ${sym.name}: definition at offset ${off} is misaligned or runs past section ${sec.name} (${sec.size} bytes)`);
    }
    const field = (i: number) => (i * 4 + 4 <= defSize ? dv.getUint32(off + i * 4, le) : 0);
    const m = newMap(sym.name, sec.name, "legacy");
    m.type = field(0);
    m.keySize = field(1);
    m.valueSize = field(2);
    m.maxEntries = field(3);
    m.flags = field(4);
    innerIdx.push(defSize >= 24 ? field(5) : 0);
    m.numaNode = defSize >= 28 ? field(6) : 0;
    maps.push(m);
  }
  // inner_map_idx (samples/bpf): the index of the inner map template among the section's maps.
  maps.forEach((m, i) => {
    if ((m.type === MapType.ARRAY_OF_MAPS || m.type === MapType.HASH_OF_MAPS) && innerIdx[i] < maps.length && innerIdx[i] !== i) {
      m.innerMap = { ...maps[innerIdx[i]] };
      m.valueSize = 4;
    }
  });
  return maps;
}

interface BtfMapDef { spec: MapSpec; valuesBitOffset?: number; valuesKind?: "map" | "program" }

function skipMods(btf: Btf, id: number): BtfType {
  return btf.type(btf.resolve(id));
}

function uintField(btf: Btf, map: string, field: string, typeId: number): number {
  const p = skipMods(btf, typeId);
  if (p.kind === "ptr") {
    const a = skipMods(btf, p.typeId);
    if (a.kind === "array") return a.nelems;
  }
  throw new ObjectError(`read map ${map}: field ${field} is not declared with __uint(${field}, N) (its type is ${p.kind})`);
}

function typeField(btf: Btf, map: string, field: string, typeId: number): { id: number; size: number } {
  const p = skipMods(btf, typeId);
  if (p.kind !== "ptr") throw new ObjectError(`read map ${map}: field ${field} is not declared with __type(${field}, T) (its type is ${p.kind})`);
  return { id: p.typeId, size: btf.sizeof(p.typeId) };
}

/**
 * Decode one BTF map definition (the struct behind a `.maps` variable, or the inner struct of
 * `__array(values, ...)`).
 *
 * @throws {ObjectError} for unknown fields, fields of the wrong shape, or inconsistent sizes.
 */
export function btfMapDef(btf: Btf, name: string, typeId: number, inner = false): BtfMapDef {
  const t = skipMods(btf, typeId);
  if (t.kind !== "struct") throw new ObjectError(`read map ${name}: its definition is a ${t.kind}, not a struct`);
  const m = newMap(name, ".maps", "btf");
  const def: BtfMapDef = { spec: m };
  let keySize: number | undefined, valueSize: number | undefined;
  let key: { id: number; size: number } | undefined, value: { id: number; size: number } | undefined;
  let valuesType: number | undefined;
  for (const mem of t.members) {
    switch (mem.name) {
      case "type": m.type = uintField(btf, name, mem.name, mem.typeId); break;
      case "max_entries": m.maxEntries = uintField(btf, name, mem.name, mem.typeId); break;
      case "map_flags": m.flags = uintField(btf, name, mem.name, mem.typeId); break;
      case "numa_node": m.numaNode = uintField(btf, name, mem.name, mem.typeId); break;
      case "map_extra": m.mapExtra = BigInt(uintField(btf, name, mem.name, mem.typeId)); break;
      case "key_size": keySize = uintField(btf, name, mem.name, mem.typeId); break;
      case "value_size": valueSize = uintField(btf, name, mem.name, mem.typeId); break;
      case "key": key = typeField(btf, name, mem.name, mem.typeId); break;
      case "value": value = typeField(btf, name, mem.name, mem.typeId); break;
      case "pinning": {
        const p = uintField(btf, name, mem.name, mem.typeId);
        if (p !== 0 && p !== LIBBPF_PIN_BY_NAME) throw new ObjectError(`read map ${name}: unsupported pinning ${p} (use LIBBPF_PIN_NONE or LIBBPF_PIN_BY_NAME)`);
        m.pinning = p === LIBBPF_PIN_BY_NAME ? "byName" : "none";
        break;
      }
      case "values": {
        if (inner) throw new ObjectError(`read map ${name}: an inner map cannot have values`);
        const a = skipMods(btf, mem.typeId);
        if (a.kind !== "array") throw new ObjectError(`read map ${name}: field values is not declared with __array(values, ...)`);
        const p = skipMods(btf, a.elemTypeId);
        if (p.kind !== "ptr") throw new ObjectError(`read map ${name}: field values is not an array of pointers`);
        valuesType = p.typeId;
        def.valuesBitOffset = mem.bitOffset;
        break;
      }
      default:
        throw new ObjectError(`read map ${name}: unknown field ${mem.name === "" ? "(anonymous)" : mem.name} in its definition`);
    }
  }
  if (key) {
    if (keySize !== undefined && keySize !== key.size) throw new ObjectError(`read map ${name}: key_size ${keySize} conflicts with the key type's size ${key.size}`);
    m.keySize = key.size;
    m.btfKeyTypeId = key.id;
  } else if (keySize !== undefined) m.keySize = keySize;
  if (value) {
    if (valueSize !== undefined && valueSize !== value.size) throw new ObjectError(`read map ${name}: value_size ${valueSize} conflicts with the value type's size ${value.size}`);
    m.valueSize = value.size;
    m.btfValueTypeId = value.id;
  } else if (valueSize !== undefined) m.valueSize = valueSize;

  if (valuesType !== undefined) {
    const target = skipMods(btf, valuesType);
    if (m.type === MapType.ARRAY_OF_MAPS || m.type === MapType.HASH_OF_MAPS) {
      if (target.kind !== "struct") throw new ObjectError(`read map ${name}: values of a map-in-map must be __array(values, struct {...})`);
      if (value) throw new ObjectError(`read map ${name}: a map-in-map declares both value and values`);
      m.innerMap = btfMapDef(btf, `${name}.inner`, valuesType, true).spec;
      m.valueSize = 4;
      def.valuesKind = "map";
    } else if (m.type === MapType.PROG_ARRAY) {
      if (target.kind !== "func_proto") throw new ObjectError(`read map ${name}: values of a program array must be __array(values, int (void *))`);
      if (m.valueSize === 0) m.valueSize = 4;
      if (m.keySize === 0) m.keySize = 4;
      def.valuesKind = "program";
    } else {
      throw new ObjectError(`read map ${name}: only map-in-map and program array maps can have values (type ${m.type})`);
    }
  }
  return def;
}

/**
 * BTF-defined `SEC(".maps")` maps, with `values` initialisers resolved from the section's
 * relocations.
 *
 * @throws {ObjectError} when BTF is missing, a definition is malformed, or an initialiser is invalid.
 */
export function btfMaps(elf: ElfFile, sec: ElfSection, btf: Btf | undefined, relocs: { offset: number; symbolIndex: number }[]): MapSpec[] {
  const syms = objectSymbols(elf.symbols, sec.index);
  if (!btf) {
    if (syms.length === 0) return [];
    throw new ObjectError(`read maps: section ${sec.name} holds BTF-defined maps but the object has no .BTF section (compile with clang -g)`);
  }
  const dsId = btf.findByName(sec.name, "datasec");
  if (dsId === undefined) {
    if (syms.length === 0) return [];
    throw new ObjectError(`read maps: the object's BTF has no DATASEC ${sec.name}`);
  }
  const ds = btf.type(dsId);
  if (ds.kind !== "datasec") throw new ObjectError(`read maps: BTF type ${dsId} is not a DATASEC`);
  const byName = new Map(syms.map((s) => [s.name, s]));
  const out: { def: BtfMapDef; offset: number; size: number }[] = [];
  for (const v of ds.vars) {
    const vt = btf.type(v.typeId);
    if (vt.kind !== "var") throw new ObjectError(`read maps: DATASEC ${sec.name} entry ${v.typeId} is a ${vt.kind}, not a variable`);
    const sym = byName.get(vt.name);
    const offset = sym ? sym.value : v.offset;
    const def = btfMapDef(btf, vt.name, vt.typeId);
    out.push({ def, offset, size: sym?.size || v.size || btf.sizeof(vt.typeId) });
  }
  out.sort((a, b) => a.offset - b.offset || (a.def.spec.name < b.def.spec.name ? -1 : 1));
  // Initialisers: each relocation in .rel.maps points one `values` slot at a map or a program.
  for (const r of relocs) {
    let lo = 0, hi = out.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (out[mid].offset <= r.offset) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    const entry = found >= 0 && r.offset < out[found].offset + out[found].size ? out[found] : undefined;
    if (!entry) throw new ObjectError(`read maps: relocation at offset ${r.offset} in ${sec.name} is outside every map definition`);
    const m = entry.def.spec;
    if (entry.def.valuesBitOffset === undefined) throw new ObjectError(`read map ${m.name}: relocation at offset ${r.offset} but the map has no values field`);
    const rel = r.offset - entry.offset - entry.def.valuesBitOffset / 8;
    if (rel < 0 || rel % 8 !== 0) throw new ObjectError(`read map ${m.name}: relocation at offset ${r.offset} does not point at a values slot`);
    const key = rel / 8;
    if (m.maxEntries && key >= m.maxEntries) throw new ObjectError(`read map ${m.name}: initial value for key ${key} is past max_entries ${m.maxEntries}`);
    if (r.symbolIndex <= 0 || r.symbolIndex >= elf.symbols.length) throw new ObjectError(`read map ${m.name}: relocation refers to symbol ${r.symbolIndex}, which does not exist`);
    const sym = elf.symbols[r.symbolIndex];
    let value: { map: string } | { program: string };
    if (entry.def.valuesKind === "map") {
      if (sym.shndx !== sec.index) throw new ObjectError(`read map ${m.name}: values[${key}] refers to ${sym.name || "symbol " + sym.index}, which is not a map`);
      value = { map: sym.name };
    } else {
      if (sym.type !== SymbolType.FUNC) throw new ObjectError(`read map ${m.name}: values[${key}] refers to ${sym.name || "symbol " + sym.index}, which is not a program`);
      value = { program: sym.name };
    }
    (m.contents ??= []).push({ key, value });
  }
  for (const e of out) e.def.spec.contents?.sort((a, b) => a.key - b.key);
  return out.map((e) => e.def.spec);
}

/**
 * A global data map for `.data`, `.rodata*`, `.bss*` and friends (ARRAY, one entry, value = the
 * section), plus the variables it holds (from the BTF DATASEC, else from ELF symbols).
 */
export function dataMap(elf: ElfFile, sec: ElfSection, btf: Btf | undefined): { map: MapSpec; variables: VariableSpec[] } {
  const m = newMap(sec.name, sec.name, "data");
  const rodata = sec.name === ".rodata" || sec.name.startsWith(".rodata.");
  m.type = MapType.ARRAY;
  m.keySize = 4;
  m.valueSize = sec.size;
  m.maxEntries = 1;
  m.flags = rodata ? BPF_F_RDONLY_PROG : 0;
  m.freeze = rodata;
  if (sec.size > MAX_DATA_SECTION) throw new ObjectError(`read global data ${sec.name}: section size ${sec.size} is larger than ${MAX_DATA_SECTION} bytes`);
  m.data = sec.type === SectionType.NOBITS ? new Uint8Array(sec.size) : sec.data.slice();
  const syms = objectSymbols(elf.symbols, sec.index);
  const symByName = new Map(syms.map((s) => [s.name, s]));
  const variables: VariableSpec[] = [];
  const dsId = btf?.findByName(sec.name, "datasec");
  if (btf && dsId !== undefined) {
    const ds = btf.type(dsId);
    if (ds.kind === "datasec") {
      m.btfValueTypeId = dsId;
      for (const v of ds.vars) {
        const vt = btf.type(v.typeId);
        if (vt.kind !== "var") continue;
        const sym = symByName.get(vt.name);
        const offset = sym ? sym.value : v.offset;
        const size = v.size || sym?.size || 0;
        if (offset + size > sec.size) throw new ObjectError(`read variable ${vt.name}: offset ${offset} + size ${size} is past the end of ${sec.name} (${sec.size} bytes)`);
        variables.push({ name: vt.name, map: sec.name, offset, size, typeId: vt.typeId, constant: rodata });
      }
    }
  } else {
    for (const s of syms) {
      if (s.type !== SymbolType.OBJECT && s.type !== SymbolType.NOTYPE) continue;
      if (s.value + s.size > sec.size) throw new ObjectError(`read variable ${s.name}: offset ${s.value} + size ${s.size} is past the end of ${sec.name} (${sec.size} bytes)`);
      variables.push({ name: s.name, map: sec.name, offset: s.value, size: s.size, typeId: 0, constant: rodata });
    }
  }
  variables.sort((a, b) => a.offset - b.offset || (a.name < b.name ? -1 : 1));
  return { map: m, variables };
}

/**
 * The `.kconfig` map for extern `__kconfig` variables declared in the BTF DATASEC `.kconfig`:
 * laid out in declaration order at their natural alignment, zero-filled (the loader fills values).
 */
export function kconfigMap(btf: Btf | undefined): { map: MapSpec; variables: VariableSpec[] } | undefined {
  const dsId = btf?.findByName(".kconfig", "datasec");
  if (!btf || dsId === undefined) return undefined;
  const ds = btf.type(dsId);
  if (ds.kind !== "datasec" || ds.vars.length === 0) return undefined;
  const variables: VariableSpec[] = [];
  let off = 0;
  for (const v of ds.vars) {
    const vt = btf.type(v.typeId);
    if (vt.kind !== "var") continue;
    const size = btf.sizeof(vt.typeId);
    const align = size >= 8 ? 8 : size >= 4 ? 4 : size >= 2 ? 2 : 1;
    off = Math.ceil(off / align) * align;
    variables.push({ name: vt.name, map: ".kconfig", offset: off, size, typeId: vt.typeId, constant: true });
    off += size;
  }
  if (off > MAX_DATA_SECTION) throw new ObjectError(`read .kconfig: its variables take ${off} bytes, more than ${MAX_DATA_SECTION}`);
  const m = newMap(".kconfig", ".kconfig", "data");
  m.type = MapType.ARRAY;
  m.keySize = 4;
  m.valueSize = Math.max(8, Math.ceil(off / 8) * 8);
  m.maxEntries = 1;
  m.flags = BPF_F_RDONLY_PROG;
  m.freeze = true;
  m.data = new Uint8Array(m.valueSize);
  return { map: m, variables };
}
