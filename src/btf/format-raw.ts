/**
 * BTF as a type listing, line for line what `bpftool btf dump file F` (format raw) prints:
 *
 * ```
 * [1] INT 'long unsigned int' size=8 bits_offset=0 nr_bits=64 encoding=(none)
 * [89] STRUCT '(anon)' size=4 vlen=1
 * 	'counter' type_id=21 bits_offset=0
 * ```
 */
import type { Btf } from "./btf.js";
import type { BtfType } from "./types.js";

/** Options for {@link formatBtfRaw}. */
export interface FormatRawOptions {
  /** List only these type ids. Default: the types this BTF defines (for split BTF, not the base's). */
  readonly ids?: Iterable<number>;
}

const q = (s: string) => `'${s === "" ? "(anon)" : s}'`;

function intEncoding(t: Extract<BtfType, { kind: "int" }>): string {
  const n = (t.signed ? 1 : 0) + (t.char ? 1 : 0) + (t.bool ? 1 : 0);
  if (n === 0) return "(none)";
  if (n > 1) return "UNKN";
  return t.signed ? "SIGNED" : t.char ? "CHAR" : "BOOL";
}

/** One type in bpftool's raw format, without a trailing newline (members on indented lines). */
export function formatBtfTypeRaw(btf: Btf, id: number): string {
  const t = btf.type(id);
  const head = `[${id}] ${t.kind.toUpperCase()} ${q(t.name)}`;
  switch (t.kind) {
    case "void": return `[0] VOID ${q("")}`;
    case "int":
      return `${head} size=${t.size} bits_offset=${t.offset} nr_bits=${t.bits} encoding=${intEncoding(t)}`;
    case "ptr": case "const": case "volatile": case "restrict": case "typedef": case "type_tag":
      return `${head} type_id=${t.typeId}`;
    case "array":
      return `${head} type_id=${t.elemTypeId} index_type_id=${t.indexTypeId} nr_elems=${t.nelems}`;
    case "struct": case "union": {
      let s = `${head} size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        s += `\n\t${q(m.name)} type_id=${m.typeId} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      return s;
    }
    case "enum": case "enum64": {
      let s = `${head} encoding=${t.signed ? "SIGNED" : "UNSIGNED"} size=${t.size} vlen=${t.values.length}`;
      const suffix = t.kind === "enum" ? "" : t.signed ? "LL" : "ULL";
      for (const v of t.values) s += `\n\t${q(v.name)} val=${v.value}${suffix}`;
      return s;
    }
    case "fwd": return `${head} fwd_kind=${t.union ? "union" : "struct"}`;
    case "func": return `${head} type_id=${t.typeId} linkage=${t.linkage}`;
    case "func_proto": {
      let s = `${head} ret_type_id=${t.returnTypeId} vlen=${t.params.length}`;
      for (const p of t.params) s += `\n\t${q(p.name)} type_id=${p.typeId}`;
      return s;
    }
    case "var": return `${head} type_id=${t.typeId}, linkage=${t.linkage}`;
    case "datasec": {
      let s = `${head} size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        s += `\n\ttype_id=${v.typeId} offset=${v.offset} size=${v.size}`;
        if (v.typeId < btf.count) {
          const vt = btf.type(v.typeId);
          s += ` (${vt.kind.toUpperCase()} ${q(vt.name)})`;
        }
      }
      return s;
    }
    case "float": return `${head} size=${t.size}`;
    case "decl_tag": return `${head} type_id=${t.typeId} component_idx=${t.componentIdx}`;
  }
}

/** Lists BTF types in bpftool's raw format, one type per entry, each followed by a newline. */
export function formatBtfRaw(btf: Btf, opts: FormatRawOptions = {}): string {
  const out: string[] = [];
  if (opts.ids) for (const id of opts.ids) out.push(formatBtfTypeRaw(btf, id), "\n");
  else for (let id = btf.firstId; id < btf.count; id++) out.push(formatBtfTypeRaw(btf, id), "\n");
  return out.join("");
}
