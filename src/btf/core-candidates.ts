/**
 * CO-RE candidate lookup: the target types whose essential name (flavour suffix stripped) equals
 * the local type's, with a compatible kind. Exact names come from the BTF's hashed name index; names
 * that carry a flavour themselves (vmlinux has a few, e.g. `nf_conn___init`) come from a small
 * per-BTF index built once by scanning the string section for `___`.
 */
import type { Btf } from "./btf.js";
import type { BtfKind } from "./types.js";
import { essentialName, essentialNameLength } from "./core-compat.js";

/** Per target BTF: essential name -> the flavoured names that reduce to it. Built lazily, once. */
const flavourIndex = new WeakMap<Btf, Map<string, string[]>>();
const SEP = Buffer.from("___");

function flavoured(btf: Btf): Map<string, string[]> {
  let idx = flavourIndex.get(btf);
  if (idx) return idx;
  idx = btf.base ? new Map([...flavoured(btf.base)].map(([k, v]) => [k, [...v]])) : new Map();
  const { strStart, strLen } = btf.layout;
  const bytes = btf.rawBytes;
  const baseLen = btf.stringsLength - strLen;
  const seen = new Set<number>();
  // Find every "___" in the string section (a native substring search), back up to the start of
  // its string, keep the strings that really have a flavour (X___Y, X and Y not underscores).
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset + strStart, strLen);
  for (let i = buf.indexOf(SEP); i >= 0; i = buf.indexOf(SEP, i + 3)) {
    let s = i;
    while (s > 0 && buf[s - 1] !== 0) s--;
    if (seen.has(s)) continue;
    seen.add(s);
    const name = btf.string(baseLen + s);
    const n = essentialNameLength(name);
    if (n === name.length) continue;
    const key = name.slice(0, n);
    const list = idx.get(key);
    if (list) { if (!list.includes(name)) list.push(name); } else idx.set(key, [name]);
  }
  flavourIndex.set(btf, idx);
  return idx;
}

/**
 * Candidate ids in `target` for a local type of this name and kind, ascending. `kind` enum and
 * enum64 find each other. An empty name has no candidates.
 */
export function findCandidates(target: Btf, name: string, kind: BtfKind): number[] {
  const ess = essentialName(name);
  if (ess === "") return [];
  const kinds: BtfKind[] = kind === "enum" || kind === "enum64" ? ["enum", "enum64"] : [kind];
  const names = [ess, ...(flavoured(target).get(ess) ?? [])];
  const out: number[] = [];
  for (const n of names) for (const k of kinds) out.push(...target.findAllByName(n, k));
  return out.length > 1 ? [...new Set(out)].sort((a, b) => a - b) : out;
}
