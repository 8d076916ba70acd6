/**
 * The .BTF.ext section of a BPF object: per-ELF-section function info, line info and CO-RE
 * relocation records. Instruction offsets in .BTF.ext are in BYTES from the section start; the
 * kernel's BPF_PROG_LOAD wants instruction indices, which the encoders below produce.
 */
import { BtfError } from "../errors.js";
import { type Btf, BTF_MAGIC, detectByteOrder } from "./btf.js";

/** A func_info record; `insnOff` is in bytes from the start of the ELF section (as stored). */
export interface FuncInfo { readonly insnOff: number; readonly typeId: number }

/** A line_info record; `insnOff` is in bytes. `line`/`col` are unpacked from line_col (line << 10 | col). */
export interface LineInfo {
  readonly insnOff: number;
  readonly fileNameOff: number; readonly lineOff: number; readonly lineCol: number;
  readonly fileName: string; readonly lineText: string; readonly line: number; readonly col: number;
}

/** A CO-RE relocation (`struct bpf_core_relo`); `insnOff` is in bytes, `kind` is `enum bpf_core_relo_kind`. */
export interface CoreRelo {
  readonly insnOff: number; readonly typeId: number; readonly accessStrOff: number;
  readonly accessStr: string; readonly kind: number;
}

/** Names of `enum bpf_core_relo_kind` values, indexed by value. */
export const CORE_RELO_KIND_NAMES: readonly string[] = [
  "field_byte_offset", "field_byte_size", "field_exists", "field_signed", "field_lshift_u64",
  "field_rshift_u64", "type_id_local", "type_id_target", "type_exists", "type_size",
  "enumval_exists", "enumval_value", "type_matches",
];

/** Parsed .BTF.ext: records grouped by ELF section name, in file order. */
export interface BtfExt {
  readonly littleEndian: boolean;
  readonly funcInfo: ReadonlyMap<string, readonly FuncInfo[]>;
  readonly lineInfo: ReadonlyMap<string, readonly LineInfo[]>;
  readonly coreRelos: ReadonlyMap<string, readonly CoreRelo[]>;
  /** Record sizes from the file (may exceed the known sizes for newer formats). */
  readonly funcInfoRecSize: number; readonly lineInfoRecSize: number; readonly coreReloRecSize: number;
}

const MIN_HDR = 24;

/**
 * Parses .BTF.ext bytes against the object's BTF (whose string table the records point into).
 * Record sizes come from the file; larger-than-known records are accepted and their extra bytes ignored.
 * Throws BtfError when the data is malformed or points outside the BTF.
 */
export function parseBtfExt(bytes: Uint8Array, btf: Btf): BtfExt {
  const le = detectByteOrder(bytes);
  if (bytes.length < 8) throw new BtfError(`parse .BTF.ext: header truncated (${bytes.length} bytes)`);
  if (le === undefined) throw new BtfError(`parse .BTF.ext: bad magic (expected 0x${BTF_MAGIC.toString(16)})`);
  if (bytes[2] !== 1) throw new BtfError(`parse .BTF.ext: unsupported version ${bytes[2]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = dv.getUint32(4, le);
  if (hdrLen < MIN_HDR || hdrLen > bytes.length) {
    throw new BtfError(`parse .BTF.ext: header length ${hdrLen} is out of range (minimum ${MIN_HDR}, data is ${bytes.length} bytes)`);
  }
  const field = (o: number) => dv.getUint32(o, le);
  const sub = (name: string, offField: number, minRec: number) => {
    if (hdrLen < offField + 8) return { start: 0, len: 0, name, minRec };
    const off = field(offField), len = field(offField + 4);
    if (hdrLen + off + len > bytes.length) {
      throw new BtfError(`parse .BTF.ext: ${name} [${off}, +${len}) runs past the end of the data (${bytes.length - hdrLen} bytes after the header)`);
    }
    return { start: hdrLen + off, len, name, minRec };
  };
  const fi = sub("func_info", 8, 8), li = sub("line_info", 16, 16), cr = sub("core_relo", 24, 16);

  // Records share their strings (every line_info record of a file names the same file, a source
  // line spans several instructions, relocations repeat access strings): decode each offset once.
  const strings = new Map<number, string>();
  const str = (off: number, what: string, sec: string) => {
    let v = strings.get(off);
    if (v !== undefined) return v;
    try { v = btf.string(off); } catch (e) {
      throw new BtfError(`parse .BTF.ext: ${what}${sec ? ` in ${sec}` : ""}: string offset ${off} is outside the BTF string table (${btf.stringsLength} bytes)`, { cause: e });
    }
    strings.set(off, v);
    return v;
  };

  function walk<T>(s: { start: number; len: number; name: string; minRec: number }, rec: (p: number, sec: string) => T): { recSize: number; map: Map<string, T[]> } {
    const map = new Map<string, T[]>();
    if (s.len === 0) return { recSize: s.minRec, map };
    if (s.len < 4) throw new BtfError(`parse .BTF.ext: ${s.name} is too short for its record size (${s.len} bytes)`);
    const end = s.start + s.len;
    const recSize = field(s.start);
    if (recSize < s.minRec || recSize % 4 !== 0) {
      throw new BtfError(`parse .BTF.ext: ${s.name} record size ${recSize} is invalid (minimum ${s.minRec}, multiple of 4)`);
    }
    let p = s.start + 4;
    while (p < end) {
      if (p + 8 > end) throw new BtfError(`parse .BTF.ext: ${s.name} section header at offset ${p - s.start} is truncated`);
      const secName = str(field(p), `${s.name} section name`, "");
      const num = field(p + 4);
      p += 8;
      if (num * recSize > end - p) {
        throw new BtfError(`parse .BTF.ext: ${s.name} for section ${secName} has ${num} records of ${recSize} bytes, more than the ${end - p} bytes left`);
      }
      let list = map.get(secName);
      if (!list) map.set(secName, (list = []));
      for (let j = 0; j < num; j++, p += recSize) list.push(rec(p, secName));
    }
    return { recSize, map };
  }

  const checkType = (id: number, what: string, sec: string) => {
    if (id >= btf.count) throw new BtfError(`parse .BTF.ext: ${what} in ${sec} refers to type ${id}, beyond the last id ${btf.count - 1}`);
    return id;
  };

  const f = walk<FuncInfo>(fi, (p, sec) => ({ insnOff: field(p), typeId: checkType(field(p + 4), "func_info", sec) }));
  const l = walk<LineInfo>(li, (p, sec) => {
    const fileNameOff = field(p + 4), lineOff = field(p + 8), lineCol = field(p + 12);
    return {
      insnOff: field(p), fileNameOff, lineOff, lineCol,
      fileName: str(fileNameOff, "line_info file name", sec), lineText: str(lineOff, "line_info line", sec),
      line: lineCol >>> 10, col: lineCol & 0x3ff,
    };
  });
  const c = walk<CoreRelo>(cr, (p, sec) => {
    const accessStrOff = field(p + 8);
    return {
      insnOff: field(p), typeId: checkType(field(p + 4), "core_relo", sec), accessStrOff,
      accessStr: str(accessStrOff, "core_relo access string", sec), kind: field(p + 12),
    };
  });
  return {
    littleEndian: le, funcInfo: f.map, lineInfo: l.map, coreRelos: c.map,
    funcInfoRecSize: f.recSize, lineInfoRecSize: l.recSize, coreReloRecSize: c.recSize,
  };
}

/**
 * The records whose byte offset lies in [fromByte, toByte), moved so that `fromByte` lands at
 * `toInsn` (an instruction index) — still in bytes. Use it to place a function's records where the
 * linker put the function in a program's instruction array.
 */
export function sliceExtInfo<T extends { readonly insnOff: number }>(
  records: readonly T[], fromByte: number, toByte: number, toInsn = 0,
): T[] {
  const out: T[] = [];
  for (const r of records) {
    if (r.insnOff >= fromByte && r.insnOff < toByte) out.push({ ...r, insnOff: r.insnOff - fromByte + toInsn * 8 });
  }
  return out;
}

function insnIndex(r: { insnOff: number }, what: string): number {
  if (r.insnOff % 8 !== 0 || r.insnOff < 0) throw new BtfError(`encode ${what}: instruction offset ${r.insnOff} is not a multiple of 8 bytes`);
  return r.insnOff / 8;
}

/**
 * Encodes func_info for BPF_PROG_LOAD: 8 bytes per record `{insn_off (instruction index), type_id}`.
 * Throws BtfError when a byte offset is not instruction-aligned.
 */
export function encodeFuncInfo(records: readonly Pick<FuncInfo, "insnOff" | "typeId">[], littleEndian = true): Uint8Array {
  const out = new Uint8Array(records.length * 8);
  const dv = new DataView(out.buffer);
  records.forEach((r, i) => {
    dv.setUint32(i * 8, insnIndex(r, "func_info"), littleEndian);
    dv.setUint32(i * 8 + 4, r.typeId, littleEndian);
  });
  return out;
}

/**
 * Encodes line_info for BPF_PROG_LOAD: 16 bytes per record `{insn_off (instruction index),
 * file_name_off, line_off, line_col}`. Throws BtfError when a byte offset is not instruction-aligned.
 */
export function encodeLineInfo(
  records: readonly Pick<LineInfo, "insnOff" | "fileNameOff" | "lineOff" | "lineCol">[], littleEndian = true,
): Uint8Array {
  const out = new Uint8Array(records.length * 16);
  const dv = new DataView(out.buffer);
  records.forEach((r, i) => {
    dv.setUint32(i * 16, insnIndex(r, "line_info"), littleEndian);
    dv.setUint32(i * 16 + 4, r.fileNameOff, littleEndian);
    dv.setUint32(i * 16 + 8, r.lineOff, littleEndian);
    dv.setUint32(i * 16 + 12, r.lineCol, littleEndian);
  });
  return out;
}
