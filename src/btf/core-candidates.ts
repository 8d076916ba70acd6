/**
 * CO-RE candidate lookup: the target types whose essential name (flavour suffix stripped) equals
 * the local type's, with a compatible kind. Exact names come from the BTF's hashed name index;
 * names that carry a flavour themselves (vmlinux has a few, e.g. `nf_conn___init`) come from a small
 * per-BTF index of the types whose names contain `___`, which the BTF's index pass records.
 */
import type { Btf } from "./btf.js";
import type { BtfKind } from "./types.js";
import { essentialName, essentialNameLength } from "./core-compat.js";

/** Per target BTF: essential name -> the ids of flavoured types that reduce to it. Built lazily, once. */
const flavourIndex = new WeakMap<Btf, Map<string, number[]>>();

function flavoured(btf: Btf): Map<string, number[]> {
  let idx = flavourIndex.get(btf);
  if (idx) return idx;
  idx = new Map();
  for (const id of btf.flavouredTypeIds()) {
    const name = btf.name(id);
    const n = essentialNameLength(name);
    if (n === name.length) continue;
    const key = name.slice(0, n);
    const list = idx.get(key);
    if (list) list.push(id); else idx.set(key, [id]);
  }
  flavourIndex.set(btf, idx);
  return idx;
}

/** The kinds whose names {@link Btf.flavouredTypeIds} covers. */
const FLAVOUR_KINDS: ReadonlySet<BtfKind> = new Set(["int", "struct", "union", "enum", "enum64", "fwd", "typedef", "float", "var", "datasec"]);

/** Flavoured names of other kinds, found by scanning the string section (not needed by CO-RE in practice). */
function flavouredNamesByScan(btf: Btf, ess: string): string[] {
  const out: string[] = [];
  for (let b: Btf | undefined = btf; b; b = b.base) {
    const { strStart, strLen } = b.layout;
    const bytes = b.rawBytes;
    const baseLen = b.stringsLength - strLen;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset + strStart, strLen);
    const needle = Buffer.from(`\0${ess}___`);
    for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) {
      const name = b.string(baseLen + i + 1);
      if (essentialName(name) === ess && !out.includes(name)) out.push(name);
    }
  }
  return out;
}

/**
 * Candidate ids in `target` for a local type of this name and kind, ascending. `kind` enum and
 * enum64 find each other. An empty name has no candidates.
 */
export function findCandidates(target: Btf, name: string, kind: BtfKind): number[] {
  const ess = essentialName(name);
  if (ess === "") return [];
  const kinds: BtfKind[] = kind === "enum" || kind === "enum64" ? ["enum", "enum64"] : [kind];
  const out: number[] = [];
  for (const k of kinds) out.push(...target.findAllByName(ess, k));
  if (FLAVOUR_KINDS.has(kind)) {
    for (const id of flavoured(target).get(ess) ?? []) if (kinds.includes(target.kindOf(id))) out.push(id);
  } else {
    for (const n of flavouredNamesByScan(target, ess)) for (const k of kinds) out.push(...target.findAllByName(n, k));
  }
  return out.length > 1 ? [...new Set(out)].sort((a, b) => a - b) : out;
}

/** A CO-RE candidate: a type id and the BTF it belongs to (vmlinux, or a module's split BTF). */
export interface CoreCandidate {
  readonly btf: Btf;
  readonly id: number;
}

/**
 * Candidates the way libbpf looks for them in the running kernel: in `target` (vmlinux) first;
 * only when it has none, in each module's split BTF in the order given, keeping the types the
 * module defines itself (its base's types were already searched) with the module's type ids.
 * `modules` is called only when vmlinux has no candidate.
 */
export function findKernelCandidates(target: Btf, modules: (() => readonly Btf[]) | undefined, name: string, kind: BtfKind): CoreCandidate[] {
  const own = findCandidates(target, name, kind).map((id) => ({ btf: target, id }));
  if (own.length > 0 || !modules) return own;
  const out: CoreCandidate[] = [];
  for (const m of modules()) {
    const start = m.firstId;
    for (const id of findCandidates(m, name, kind)) if (id >= start) out.push({ btf: m, id });
  }
  return out;
}
