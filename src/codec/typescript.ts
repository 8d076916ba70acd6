/**
 * The TypeScript type of a codec's values, as source text: what the skeleton generator writes for
 * a map's keys and values and for global variables.
 */
import type { Btf } from "../btf/btf.js";
import { BtfError } from "../errors.js";
import { isCharInt, scalarOf } from "./scalar.js";

/** Options of {@link typeScriptType}. */
export interface TypeScriptTypeOptions {
  /**
   * Called for every named struct, union and enum below the top level; return a type name to
   * refer to it (e.g. an interface the caller declares) instead of writing it inline.
   */
  readonly reference?: (typeId: number, kind: "struct" | "union" | "enum" | "enum64", name: string) => string | undefined;
  /** Indentation of one level for multi-line output; single-line output when omitted. */
  readonly indent?: string;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Renders the TypeScript type of the values {@link codecFor}(btf, id) decodes, e.g.
 * `{ slots: number[] }` for `struct hist { __u32 slots[15]; }`, `"A" | "B" | number` for an enum.
 * Throws BtfError like codecFor for types without a value.
 */
export function typeScriptType(btf: Btf, id: number, opts: TypeScriptTypeOptions = {}): string {
  return render(btf, id, opts, 0, true);
}

function render(btf: Btf, id: number, opts: TypeScriptTypeOptions, depth: number, top: boolean): string {
  if (depth > 64) throw new BtfError(`render TypeScript type of BTF type ${id}: types nest too deeply`);
  const r = btf.resolve(id);
  const t = btf.type(r);
  switch (t.kind) {
    case "int": {
      const s = scalarOf(btf, r)!;
      if (s.cls === "bool") return "boolean";
      return s.big ? "bigint" : "number";
    }
    case "ptr": return "bigint";
    case "float": return t.size === 4 || t.size === 8 ? "number" : "Uint8Array";
    case "enum": case "enum64": {
      const ref = !top && t.name ? opts.reference?.(r, t.kind, t.name) : undefined;
      if (ref) return ref;
      const names = [...new Set(t.values.map((v) => JSON.stringify(v.name)))];
      return [...names, t.kind === "enum64" ? "bigint" : "number"].join(" | ");
    }
    case "array": {
      const e = btf.type(btf.resolve(t.elemTypeId));
      if (isCharInt(e)) return "string";
      if (e.kind === "int" && e.size === 1 && !e.signed && !e.bool && e.bits === 8 && e.offset === 0) return "Uint8Array";
      const inner = render(btf, t.elemTypeId, opts, depth + 1, false);
      return /[|{ ]/.test(inner) && !inner.startsWith("{") ? `(${inner})[]` : `${inner}[]`;
    }
    case "struct": case "union": {
      const ref = !top && t.name ? opts.reference?.(r, t.kind, t.name) : undefined;
      if (ref) return ref;
      return objectType(fields(btf, r, opts, depth), opts, depth);
    }
    case "datasec": {
      const fs: Array<[string, string]> = [];
      for (const v of t.vars) {
        const vt = btf.type(v.typeId);
        if (vt.kind === "var") fs.push([vt.name, render(btf, vt.typeId, opts, depth + 1, false)]);
      }
      return objectType(fs, opts, depth);
    }
    default:
      throw new BtfError(`render TypeScript type of BTF type ${id} (${btf.typeName(id)}): a ${t.kind} has no value`);
  }
}

/** The fields of a struct or union as the codec decodes them: anonymous members flattened, unnamed bitfields skipped. */
function fields(btf: Btf, id: number, opts: TypeScriptTypeOptions, depth: number): Array<[string, string]> {
  const t = btf.type(id);
  if (t.kind !== "struct" && t.kind !== "union") return [];
  const out: Array<[string, string]> = [];
  for (const m of t.members) {
    if (m.name === "") {
      const inner = btf.resolve(m.typeId);
      const k = btf.kindOf(inner);
      if (m.bitfieldSize === 0 && (k === "struct" || k === "union")) out.push(...fields(btf, inner, opts, depth + 1));
      continue;
    }
    out.push([m.name, render(btf, m.typeId, opts, depth + 1, false)]);
  }
  return out;
}

function objectType(fs: Array<[string, string]>, opts: TypeScriptTypeOptions, depth: number): string {
  if (fs.length === 0) return "Record<string, never>";
  const key = (n: string) => (IDENT.test(n) ? n : JSON.stringify(n));
  if (opts.indent === undefined) return `{ ${fs.map(([n, ty]) => `${key(n)}: ${ty}`).join("; ")} }`;
  const pad = opts.indent.repeat(depth + 1), end = opts.indent.repeat(depth);
  return `{\n${fs.map(([n, ty]) => `${pad}${key(n)}: ${ty};`).join("\n")}\n${end}}`;
}
