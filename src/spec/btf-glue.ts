import { Btf } from "../btf/btf.js";
import { fixupDatasecs } from "../btf/writer.js";
import { parseBtfExt } from "../btf/ext.js";
import { SymbolType, type ElfFile } from "../elf/index.js";
import type { SectionExtInfo } from "./programs.js";

/** The object's BTF (data sections fixed up), its raw bytes, and its .BTF.ext records by section. */
export interface ObjectBtf {
  btf?: Btf;
  btfBytes?: Uint8Array;
  ext?: Map<string, SectionExtInfo>;
}

/**
 * Parse `.BTF`, fix up DATASEC sizes and variable offsets from the ELF sections and symbols (clang
 * leaves them 0; libbpf does the same fix-up), and parse `.BTF.ext`.
 *
 * @throws {BtfError} when either section is malformed.
 */
export function readBtf(elf: ElfFile): ObjectBtf {
  const sec = elf.sectionByName(".BTF");
  if (!sec || sec.size === 0) return {};
  const raw = Btf.parse(sec.data.slice());
  const sizes = new Map<string, number>();
  for (const s of elf.sections) if (s.name && !sizes.has(s.name)) sizes.set(s.name, s.size);
  const offsets = new Map<string, number>();
  for (const sym of elf.symbols) {
    if (sym.index === 0 || !sym.name || sym.type === SymbolType.SECTION || sym.shndx === 0 || sym.shndx >= elf.sections.length) continue;
    const key = `${elf.sections[sym.shndx].name}\0${sym.name}`;
    if (!offsets.has(key)) offsets.set(key, sym.value);
  }
  const btfBytes = fixupDatasecs(raw, sizes, (secName, varName) => offsets.get(`${secName}\0${varName}`));
  const btf = Btf.parse(btfBytes);
  // Edits only the linkage of FUNC records, which neither the index nor any decoded type holds yet.
  hideHiddenFunctions(elf, btf, btfBytes);
  return { btf, btfBytes, ext: readExt(elf, btf) };
}

const STV_HIDDEN = 2;
const BTF_FUNC_STATIC = 0;

/**
 * Global functions with hidden visibility (`__hidden`, e.g. libbpf's usdt.bpf.h helpers) are
 * static as far as the kernel is concerned: libbpf rewrites their BTF linkage so the verifier
 * checks them in their callers' context instead of as independent global functions. Same here,
 * in place in `bytes` (the FUNC's vlen field holds the linkage), which `btf` was parsed from: it
 * must not have decoded any FUNC yet.
 */
function hideHiddenFunctions(elf: ElfFile, btf: Btf, bytes: Uint8Array): void {
  const hidden = new Set<string>();
  for (const sym of elf.symbols) {
    if (sym.type === SymbolType.FUNC && sym.visibility === STV_HIDDEN && sym.bind !== 0 /* not LOCAL */) hidden.add(sym.name);
  }
  if (hidden.size === 0) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Raw reads only (kind, name, info word): no type is decoded, so `btf` stays valid after the edit.
  for (let id = btf.firstId; id < btf.count; id++) {
    if (btf.kindOf(id) !== "func" || !hidden.has(btf.name(id))) continue;
    const at = btf.typeOffset(id) + 4;
    const info = view.getUint32(at, btf.littleEndian);
    if ((info & 0xffff) === BTF_FUNC_STATIC) continue;
    view.setUint32(at, (info & ~0xffff) | BTF_FUNC_STATIC, btf.littleEndian);
  }
}

function readExt(elf: ElfFile, btf: Btf): Map<string, SectionExtInfo> | undefined {
  const sec = elf.sectionByName(".BTF.ext");
  if (!sec || sec.size === 0) return undefined;
  const ext = parseBtfExt(sec.data, btf);
  const out = new Map<string, SectionExtInfo>();
  const get = (name: string) => {
    let e = out.get(name);
    if (!e) out.set(name, (e = { funcInfo: [], lineInfo: [], coreRelos: [] }));
    return e;
  };
  for (const [name, recs] of ext.funcInfo) get(name).funcInfo.push(...recs.map((r) => ({ insnOff: r.insnOff, typeId: r.typeId })));
  for (const [name, recs] of ext.lineInfo) {
    get(name).lineInfo.push(...recs.map((r) => ({
      insnOff: r.insnOff, fileNameOff: r.fileNameOff, lineOff: r.lineOff, lineCol: r.lineCol, fileName: r.fileName, text: r.lineText,
    })));
  }
  for (const [name, recs] of ext.coreRelos) {
    get(name).coreRelos.push(...recs.map((r) => ({ insnOff: r.insnOff, typeId: r.typeId, accessStr: r.accessStr, kind: r.kind })));
  }
  return out;
}
