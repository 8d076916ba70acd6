import type { Btf } from "../btf/btf.js";
import { ObjectError } from "../errors.js";
import {
  BpfRelocType, SectionFlags, SectionIndex, SectionType, SymbolBind, SymbolType,
  type ElfFile, type ElfRelocation, type ElfSection, type ElfSymbol,
} from "../elf/index.js";
import {
  BPF_CALL_OP, BPF_LD_IMM64, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, INSN_SIZE,
  InstructionView,
} from "../asm/index.js";
import { programSectionInfo } from "./sections.js";
import type { InsnRelocation, ProgramSpec } from "./types.js";

/** A function in an executable section: `[start, start + len)` in instruction slots. */
export interface ElfFunction { name: string; section: ElfSection; start: number; len: number; symbol?: ElfSymbol }

/** .BTF.ext records of one section, with byte offsets relative to the section. */
export interface SectionExtInfo {
  funcInfo: { insnOff: number; typeId: number }[];
  lineInfo: { insnOff: number; fileNameOff: number; lineOff: number; lineCol: number; fileName: string; text: string }[];
  coreRelos: { insnOff: number; typeId: number; accessStr: string; kind: number }[];
}

/** Everything the linker needs to know about the object. */
export interface LinkContext {
  elf: ElfFile;
  btf?: Btf;
  license: string;
  kernelVersion: number;
  /** Relocations per target section index. */
  relocs: Map<number, ElfRelocation[]>;
  /** Cache: relocations per section index by instruction slot (built on first use). */
  relocsBySlot?: Map<number, Map<number, ElfRelocation>>;
  /** Map name at (section index, byte offset) for maps sections (legacy and BTF). */
  mapAt: (shndx: number, offset: number, sym: ElfSymbol) => string | undefined;
  /** Data section names by index (global data maps). */
  dataSections: Map<number, string>;
  /** Extern variable classification. */
  externKind: (name: string) => "kconfig" | "ksym";
  ext?: Map<string, SectionExtInfo>;
}

/**
 * The functions of every executable section, from STT_FUNC symbols (a section without any becomes
 * one function named after the section).
 *
 * @throws {ObjectError} when a function symbol is misaligned or outside its section.
 */
export function elfFunctions(elf: ElfFile): Map<number, ElfFunction[]> {
  const out = new Map<number, ElfFunction[]>();
  const syms = elf.symbols;
  const funcsBySection = new Map<number, ElfSymbol[]>();
  for (const s of syms) {
    if (s.index === 0 || s.type !== SymbolType.FUNC) continue;
    let list = funcsBySection.get(s.shndx);
    if (!list) funcsBySection.set(s.shndx, (list = []));
    list.push(s);
  }
  for (const sec of elf.sections) {
    if (sec.type !== SectionType.PROGBITS || !(sec.flags & SectionFlags.EXECINSTR) || sec.size === 0) continue;
    if (sec.size % INSN_SIZE !== 0) throw new ObjectError(`read programs: section ${sec.name} size ${sec.size} is not a multiple of ${INSN_SIZE}`);
    const nslots = sec.size / INSN_SIZE;
    const fsyms = (funcsBySection.get(sec.index) ?? []).sort((a, b) => a.value - b.value || a.index - b.index);
    const fns: ElfFunction[] = [];
    for (let i = 0; i < fsyms.length; i++) {
      const s = fsyms[i];
      if (s.value % INSN_SIZE !== 0 || s.size % INSN_SIZE !== 0 || s.value >= sec.size || s.value + s.size > sec.size) {
        throw new ObjectError(`read program ${s.name}: symbol (offset ${s.value}, size ${s.size}) is misaligned or outside section ${sec.name} (${sec.size} bytes)`);
      }
      if (i > 0 && fns[fns.length - 1].start === s.value / INSN_SIZE) continue; // alias
      const next = i + 1 < fsyms.length ? fsyms[i + 1].value : sec.size;
      const end = s.size > 0 ? s.value + s.size : next;
      fns.push({ name: s.name, section: sec, start: s.value / INSN_SIZE, len: (end - s.value) / INSN_SIZE, symbol: s });
    }
    if (fns.length === 0) {
      const named = syms.find((s) => s.shndx === sec.index && s.value === 0 && s.name !== "" && s.type !== SymbolType.SECTION && s.bind !== SymbolBind.LOCAL);
      fns.push({ name: named?.name ?? sec.name.replace(/[^A-Za-z0-9_]/g, "_"), section: sec, start: 0, len: nslots });
    }
    for (let i = 0; i < fns.length; i++) {
      const f = fns[i];
      if (i + 1 < fns.length && f.start + f.len > fns[i + 1].start) {
        throw new ObjectError(`read program ${f.name}: it overlaps ${fns[i + 1].name} in section ${sec.name}`);
      }
      if (f.len === 0) throw new ObjectError(`read program ${f.name}: it is empty`);
    }
    out.set(sec.index, fns);
  }
  return out;
}

/** True when a function is an entry program: a non-local function in an executable section other than .text. */
export function isProgramFunction(f: ElfFunction): boolean {
  return f.section.name !== ".text" && (!f.symbol || f.symbol.bind !== SymbolBind.LOCAL);
}

interface Chunk { fn: ElfFunction; base: number }

/**
 * Build one ProgramSpec: copy the program's instructions, then append every subprogram it reaches
 * through bpf-to-bpf calls and callback pointers (each once), fixing call and pointer offsets, and
 * translate ELF relocations and .BTF.ext records to indexes in the linked program.
 *
 * @throws {ObjectError} when a relocation or call target is invalid.
 */
export function linkProgram(ctx: LinkContext, fns: Map<number, ElfFunction[]>, prog: ElfFunction): ProgramSpec {
  const { elf } = ctx;
  const le = elf.littleEndian;
  const where = `program ${prog.name}`;
  const chunks: Chunk[] = [{ fn: prog, base: 0 }];
  const placed = new Map<ElfFunction, number>([[prog, 0]]);
  let total = prog.len;
  const relocations: InsnRelocation[] = [];
  const pieces: Uint8Array[] = [];

  const place = (fn: ElfFunction): number => {
    let b = placed.get(fn);
    if (b === undefined) {
      b = total;
      placed.set(fn, b);
      chunks.push({ fn, base: b });
      total += fn.len;
      if (total > 1_000_000) throw new ObjectError(`link ${where}: it grows past 1,000,000 instructions`);
    }
    return b;
  };

  const findFunction = (sec: ElfSection, slot: number, what: string): ElfFunction => {
    const list = fns.get(sec.index) ?? [];
    let lo = 0, hi = list.length - 1, f: ElfFunction | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].start <= slot) { f = list[mid]; lo = mid + 1; } else hi = mid - 1;
    }
    if (f && slot >= f.start + f.len) f = undefined;
    if (!f) throw new ObjectError(`link ${where}: ${what} targets instruction ${slot} of section ${sec.name}, which is not in any function`);
    return f;
  };

  const symbolAt = (r: ElfRelocation): ElfSymbol => {
    const syms = elf.symbols;
    if (r.symbolIndex <= 0 || r.symbolIndex >= syms.length) throw new ObjectError(`link ${where}: relocation at offset ${r.offset} refers to symbol ${r.symbolIndex}, which does not exist`);
    return syms[r.symbolIndex];
  };

  const execSection = (shndx: number): ElfSection | undefined => {
    if (shndx <= 0 || shndx >= elf.sections.length || shndx >= SectionIndex.LORESERVE) return undefined;
    return fns.has(shndx) ? elf.sections[shndx] : undefined;
  };

  for (let c = 0; c < chunks.length; c++) {
    const { fn, base } = chunks[c];
    const sec = fn.section;
    const code = new Uint8Array(sec.data.subarray(fn.start * INSN_SIZE, (fn.start + fn.len) * INSN_SIZE));
    const v = new InstructionView(code, le);
    const relocs = relocsBySlot(ctx, sec);
    for (let i = 0; i < fn.len; i++) {
      const op = v.opcode(i);
      const r = relocs.get(fn.start + i);
      const at = base + i;
      if (op === BPF_CALL_OP) {
        let target: { sec: ElfSection; slot: number } | undefined;
        if (r) {
          const sym = symbolAt(r);
          if (r.type !== BpfRelocType.R_BPF_64_32) throw new ObjectError(`link ${where}: call at instruction ${at} has relocation type ${r.type}, expected R_BPF_64_32`);
          if (sym.shndx === SectionIndex.UNDEF) {
            if (!sym.name) throw new ObjectError(`link ${where}: call at instruction ${at} refers to an unnamed extern`);
            v.setSrc(i, BPF_PSEUDO_KFUNC_CALL);
            v.setImm(i, 0);
            relocations.push({ insn: at, kind: "kfunc", name: sym.name, ...(sym.bind === SymbolBind.WEAK ? { weak: true } : {}) });
            continue;
          }
          const tsec = execSection(sym.shndx);
          if (!tsec) throw new ObjectError(`link ${where}: call at instruction ${at} targets ${sym.name || "symbol " + sym.index}, which is not in an executable section`);
          if (sym.value % INSN_SIZE !== 0) throw new ObjectError(`link ${where}: call at instruction ${at} targets a misaligned symbol ${sym.name}`);
          target = { sec: tsec, slot: sym.value / INSN_SIZE + v.imm(i) + 1 };
        } else if (v.src(i) === BPF_PSEUDO_CALL) {
          target = { sec, slot: fn.start + i + v.imm(i) + 1 };
        }
        if (target) {
          const callee = findFunction(target.sec, target.slot, `call at instruction ${at}`);
          const cb = place(callee);
          v.setSrc(i, BPF_PSEUDO_CALL);
          v.setImm(i, cb + (target.slot - callee.start) - (at + 1));
        }
        continue;
      }
      if (op === BPF_LD_IMM64) {
        if (i + 1 >= fn.len) throw new ObjectError(`link ${where}: ld_imm64 at instruction ${at} is cut off by the end of the function`);
        if (r) {
          if (r.type !== BpfRelocType.R_BPF_64_64) throw new ObjectError(`link ${where}: ld_imm64 at instruction ${at} has relocation type ${r.type}, expected R_BPF_64_64`);
          const sym = symbolAt(r);
          const imm = v.imm(i);
          if (sym.shndx === SectionIndex.UNDEF) {
            if (!sym.name) throw new ObjectError(`link ${where}: ld_imm64 at instruction ${at} refers to an unnamed extern`);
            relocations.push({ insn: at, kind: ctx.externKind(sym.name), name: sym.name, ...(sym.bind === SymbolBind.WEAK ? { weak: true } : {}) });
          } else if (execSection(sym.shndx)) {
            const tsec = elf.sections[sym.shndx];
            const byteOff = sym.value + imm;
            if (byteOff % INSN_SIZE !== 0) throw new ObjectError(`link ${where}: function pointer at instruction ${at} is misaligned`);
            const slot = byteOff / INSN_SIZE;
            const callee = findFunction(tsec, slot, `function pointer at instruction ${at}`);
            const cb = place(callee);
            v.setSrc(i, BPF_PSEUDO_FUNC);
            v.setImm(i, cb + (slot - callee.start) - (at + 1));
            v.setImm(i + 1, 0);
          } else if (ctx.dataSections.has(sym.shndx)) {
            const map = ctx.dataSections.get(sym.shndx)!;
            v.setImm(i, 0);
            relocations.push({ insn: at, kind: "mapValue", map, offset: sym.value + imm });
          } else {
            const map = sym.shndx < elf.sections.length ? ctx.mapAt(sym.shndx, sym.value + (sym.type === SymbolType.SECTION ? imm : 0), sym) : undefined;
            if (map === undefined) {
              const secName = sym.shndx < elf.sections.length ? elf.sections[sym.shndx].name : `#${sym.shndx}`;
              throw new ObjectError(`link ${where}: instruction ${at} refers to ${sym.name || "symbol " + sym.index} in section ${secName}, which is neither a map nor global data`);
            }
            v.setImm(i, 0);
            relocations.push({ insn: at, kind: "map", map });
          }
        }
        i++;
        continue;
      }
      if (r && r.type !== BpfRelocType.R_BPF_NONE) {
        throw new ObjectError(`link ${where}: relocation of type ${r.type} on instruction ${at} (opcode 0x${op.toString(16)}), which is neither a call nor ld_imm64`);
      }
    }
    pieces.push(code);
  }

  const instructions = new Uint8Array(total * INSN_SIZE);
  for (let c = 0; c < chunks.length; c++) instructions.set(pieces[c], chunks[c].base * INSN_SIZE);
  relocations.sort((a, b) => a.insn - b.insn);

  const info = programSectionInfo(prog.section.name);
  const spec: ProgramSpec = {
    name: prog.name,
    section: prog.section.name,
    type: info?.type ?? 0,
    expectedAttachType: info?.expectedAttachType ?? 0,
    attachTo: info?.attachTo ?? "",
    sleepable: info?.sleepable ?? false,
    autoAttach: info?.autoAttach ?? null,
    instructions,
    relocations,
    license: ctx.license,
    kernelVersion: ctx.kernelVersion,
    coreRelocations: [],
  };

  if (ctx.ext) {
    const funcInfo: NonNullable<ProgramSpec["funcInfo"]> = [];
    const lineInfo: NonNullable<ProgramSpec["lineInfo"]> = [];
    for (const { fn, base } of chunks) {
      const e = ctx.ext.get(fn.section.name);
      if (!e) continue;
      const rebase = (byteOff: number): number | undefined => {
        if (byteOff % INSN_SIZE !== 0) return undefined;
        const slot = byteOff / INSN_SIZE;
        return slot >= fn.start && slot < fn.start + fn.len ? base + slot - fn.start : undefined;
      };
      for (const f of e.funcInfo) {
        const o = rebase(f.insnOff);
        if (o !== undefined) funcInfo.push({ insnOff: o, typeId: f.typeId });
      }
      for (const l of e.lineInfo) {
        const o = rebase(l.insnOff);
        if (o === undefined) continue;
        lineInfo.push({
          insnOff: o, fileNameOff: l.fileNameOff, lineOff: l.lineOff, lineCol: l.lineCol,
          fileName: l.fileName, line: l.lineCol >>> 10, col: l.lineCol & 0x3ff, text: l.text,
        });
      }
      for (const cr of e.coreRelos) {
        const o = rebase(cr.insnOff);
        if (o !== undefined) spec.coreRelocations.push({ insnOff: o, typeId: cr.typeId, accessStr: cr.accessStr, kind: cr.kind });
      }
    }
    if (funcInfo.length) spec.funcInfo = funcInfo;
    if (lineInfo.length) spec.lineInfo = lineInfo;
  }
  return spec;
}

function relocsBySlot(ctx: LinkContext, sec: ElfSection): Map<number, ElfRelocation> {
  ctx.relocsBySlot ??= new Map();
  let m = ctx.relocsBySlot.get(sec.index);
  if (!m) {
    m = new Map();
    for (const r of ctx.relocs.get(sec.index) ?? []) {
      if (r.type === BpfRelocType.R_BPF_NONE) continue;
      if (r.offset % INSN_SIZE !== 0 || r.offset >= sec.size) {
        throw new ObjectError(`read relocations of ${sec.name}: offset ${r.offset} is not an instruction in the section (${sec.size} bytes)`);
      }
      const slot = r.offset / INSN_SIZE;
      if (m.has(slot)) throw new ObjectError(`read relocations of ${sec.name}: two relocations for instruction ${slot}`);
      m.set(slot, r);
    }
    ctx.relocsBySlot.set(sec.index, m);
  }
  return m;
}
