/**
 * CO-RE ("compile once, run everywhere") relocation: a pure function of the program's
 * instructions, its CO-RE relocation records, the object's BTF and a target BTF (normally the
 * running kernel's). Semantics follow libbpf's relo_core.c: candidates by essential name,
 * libbpf's field/type compatibility and type-match rules, agreement between candidates, and
 * poisoning (`call 0xbad2310`) of instructions whose relocation cannot be satisfied, so the
 * verifier complains only if that code is reachable.
 *
 * @example
 * ```ts
 * const { applied, poisoned } = applyCoreRelocations(insns, prog.coreRelocations, spec.btf!, loadKernelBtf(), { program: prog.name });
 * ```
 */
import { CoreError, type VerifierError } from "../errors.js";
import type { Btf } from "./btf.js";
import { CORE_RELO_KIND_NAMES } from "./ext.js";
import { findKernelCandidates, type CoreCandidate } from "./core-candidates.js";
import { essentialName } from "./core-compat.js";
import {
  CoreReloKind, CoreSpecError, describeSpec, enumValue, fieldValue, isEnumvalKind, isFieldKind, isTypeKind,
  matchSpec, parseSpec, typeValue, type CoreSpec,
} from "./core-spec.js";
import { CORE_POISON_HELPER, CorePatchError, Insns, patchInstruction, type CoreReloResult } from "./core-patch.js";

export { CoreReloKind } from "./core-spec.js";
export { CORE_POISON_HELPER } from "./core-patch.js";
export { essentialName, typesAreCompat, typesMatch, fieldsAreCompat } from "./core-compat.js";

/** One CO-RE relocation of a program: `insnOff` is an instruction slot index (as in `ProgramSpec.coreRelocations`). */
export interface CoreRelocation {
  readonly insnOff: number;
  readonly typeId: number;
  readonly accessStr: string;
  readonly kind: number;
}

/** What one relocation computed, shared by identical relocations of other programs. */
interface CachedOutcome {
  /** The candidate list the result was computed from (reused only while it is still current). */
  readonly cands: readonly CoreCandidate[] | undefined;
  readonly res: CoreReloResult;
  readonly what: string;
  readonly matches: number;
  readonly detail: string;
}

interface PairCache {
  /** Candidate ids per local type id; narrowed to the matching ones as relocations are computed. */
  readonly cands: Map<number, CoreCandidate[]>;
  /** Outcomes by `typeId:kind:accessStr:byteOrder`. */
  readonly outcomes: Map<string, CachedOutcome>;
}

/**
 * CO-RE work shared across the programs of one object load, as libbpf shares its candidate cache
 * per object: the candidate types of each local type (narrowed, as in libbpf, to those that matched
 * earlier relocations) and the computed value of each distinct relocation (type, kind, access
 * string), which programs built from the same source repeat. Pass one to every
 * {@link applyCoreRelocations} call of an object; results do not depend on the order of the calls
 * beyond what libbpf's shared candidate cache implies. Holds references to both BTFs.
 */
export class CoreRelocationCache {
  readonly #pairs = new Map<Btf, Map<Btf, PairCache>>();

  /** @internal The cache for one (object BTF, target BTF) pair. */
  pair(local: Btf, target: Btf): PairCache {
    let byTarget = this.#pairs.get(local);
    if (!byTarget) this.#pairs.set(local, (byTarget = new Map()));
    let c = byTarget.get(target);
    if (!c) byTarget.set(target, (c = { cands: new Map(), outcomes: new Map() }));
    return c;
  }
}

/** Options for {@link applyCoreRelocations}. */
export interface CoreRelocateOptions {
  /** Work shared with the other programs of the same object (see {@link CoreRelocationCache}). */
  readonly cache?: CoreRelocationCache;
  /** Byte order of the instructions (default: little-endian). Also decides bitfield shifts. */
  readonly littleEndian?: boolean;
  /** Program name, for messages. */
  readonly program?: string;
  /** How to call the target in messages (default "kernel BTF"). */
  readonly targetName?: string;
  /**
   * The loaded modules' split BTF (on top of `targetBtf`), searched, as libbpf does, only for
   * local types that have no candidate in `targetBtf`; module candidates keep the module's type
   * ids. Called at most once per local type. Omit it when the target is not the running kernel.
   */
  readonly modules?: () => readonly Btf[];
}

/** A relocation that could not be satisfied: its instruction was poisoned. */
export interface CoreFailure {
  readonly program: string;
  /** The poisoned instruction slot. */
  readonly instruction: number;
  /** Index of the relocation in the list given. */
  readonly relocation: number;
  /** `enum bpf_core_relo_kind` value and name (e.g. "field_byte_offset"). */
  readonly kind: number;
  readonly kindName: string;
  /** The accessed thing in C terms, e.g. `task_struct.__state`, `enum pid_type::PIDTYPE_FOO`. */
  readonly what: string;
  /** "not-found": no candidate has it; "size-mismatch": the load/store size cannot be adjusted safely. */
  readonly reason: "not-found" | "size-mismatch";
  /** Why, in more detail (which type lacks which member, or the sizes involved). */
  readonly detail: string;
  /** One line: "`task_struct.__state` not found in kernel BTF (relocation kind field_byte_offset, program X, instruction N)". */
  readonly description: string;
}

/** What happened to one relocation. */
export interface CoreRelocationOutcome {
  readonly relocation: number;
  readonly instruction: number;
  readonly kindName: string;
  readonly what: string;
  /** Value computed against the local BTF (what the instruction held). */
  readonly local: bigint;
  /** Value written (undefined when poisoned). */
  readonly target: bigint | undefined;
  readonly poisoned: boolean;
  /** Number of target candidates that matched. */
  readonly matches: number;
}

/** Result of {@link applyCoreRelocations}. */
export interface CoreRelocateResult {
  /** Relocations whose instruction was patched with a value. */
  readonly applied: number;
  /** Relocations whose instruction was poisoned. */
  readonly poisoned: CoreFailure[];
  /** Every relocation's outcome, in input order. */
  readonly outcomes: CoreRelocationOutcome[];
}

const kindName = (k: number) => CORE_RELO_KIND_NAMES[k] ?? `kind ${k}`;

/**
 * Applies CO-RE relocations to `insns` (8-byte instruction slots; mutated in place, nothing else
 * is). For each relocation, the local access spec is matched against every target type with the
 * same essential name; all matching candidates must agree. Unsatisfiable FIELD_EXISTS,
 * TYPE_EXISTS, TYPE_MATCHES and ENUMVAL_EXISTS yield 0, TYPE_ID_TARGET and TYPE_SIZE yield 0 (as in
 * libbpf); any other unsatisfiable relocation poisons its instruction and is reported in `poisoned`.
 *
 * Throws CoreError when a relocation is malformed (bad access string or type id), refers to an
 * anonymous type, candidates disagree (ambiguity), or the instruction does not hold the value the
 * object's BTF implies (validation) or cannot take the new value.
 */
export function applyCoreRelocations(
  insns: Uint8Array, relos: readonly CoreRelocation[], localBtf: Btf, targetBtf: Btf, opts: CoreRelocateOptions = {},
): CoreRelocateResult {
  const le = opts.littleEndian ?? true;
  const program = opts.program ?? "(unnamed)";
  const targetName = opts.targetName ?? "kernel BTF";
  const nslots = insns.length >>> 3;
  const view = new Insns(insns, le);
  const shared = (opts.cache ?? new CoreRelocationCache()).pair(localBtf, targetBtf);
  const candCache = shared.cands;
  const poisoned: CoreFailure[] = [];
  const outcomes: CoreRelocationOutcome[] = [];
  let applied = 0;

  relos.forEach((r, ri) => {
    const where = `relocate program ${program}: CO-RE relocation #${ri} (${kindName(r.kind)} at instruction ${r.insnOff}`;
    const fail = (cause: string, what?: string): never => {
      throw new CoreError(`${where}${what ? `, ${what}` : ""}): ${cause}`);
    };
    if (!Number.isInteger(r.insnOff) || r.insnOff < 0 || r.insnOff >= nslots) fail(`the instruction is out of range (the program has ${nslots})`);
    if (!(r.kind >= 0 && r.kind <= 12)) fail(`unknown relocation kind ${r.kind}`);
    const key = `${r.typeId}:${r.kind}:${r.accessStr}:${le ? "le" : "be"}`;
    const hit = shared.outcomes.get(key);
    let res: CoreReloResult;
    let matches = 0;
    let detail = "";
    let what: string;
    if (hit && hit.cands === candCache.get(r.typeId)) {
      ({ res, what, matches, detail } = hit);
    } else {
      let local: CoreSpec;
      try {
        local = parseSpec(localBtf, r.typeId, r.accessStr, r.kind);
      } catch (e) {
        if (e instanceof CoreSpecError) return fail(`${e.message}; the object's BTF or .BTF.ext is inconsistent`);
        throw e;
      }
      what = describeSpec(local);
      try {
        if (r.kind === CoreReloKind.TYPE_ID_LOCAL) {
          // The local id can change when objects are linked, so it is not validated.
          const id = BigInt(local.rootTypeId);
          res = { poison: false, origVal: id, newVal: id, validate: false, origSize: 0, newSize: 0, failMemszAdjust: false };
        } else {
          const localName = localBtf.name(r.typeId);
          if (localName === "") fail("CO-RE relocations against anonymous types are not supported (give the type a name)", what);
          let cands = candCache.get(r.typeId);
          if (!cands) {
            cands = findKernelCandidates(targetBtf, opts.modules, localName, localBtf.kindOf(r.typeId));
            candCache.set(r.typeId, cands);
          }
          let best: { res: CoreReloResult; spec: CoreSpec; id: number } | undefined;
          const kept: CoreCandidate[] = [];
          for (const c of cands) {
            const { id } = c;
            const ts = matchSpec(local, c.btf, id);
            if (!ts) continue;
            const cr = calc(local, ts, le);
            if (!best) {
              best = { res: cr, spec: ts, id };
            } else if (isFieldKind(r.kind) && ts.bitOffset !== best.spec.bitOffset) {
              fail(`field offset ambiguity: ${targetName} types ${best.id} and ${id} (${c.btf.typeName(id)}) both match, at bit offsets ${best.spec.bitOffset} and ${ts.bitOffset}`, what);
            } else if (cr.poison !== best.res.poison || cr.newVal !== best.res.newVal) {
              fail(`relocation ambiguity: ${targetName} types ${best.id} and ${id} (${c.btf.typeName(id)}) both match but give ${best.res.poison ? "failure" : best.res.newVal} and ${cr.poison ? "failure" : cr.newVal}`, what);
            }
            kept.push(c);
          }
          matches = kept.length;
          // Later relocations against the same local type only consider the candidates that matched.
          if (kept.length > 0 && kept.length !== cands.length) candCache.set(r.typeId, kept);
          if (best) {
            res = best.res;
          } else {
            res = calc(local, undefined, le);
            if (res.poison) detail = explainMissing(local, cands, localName, targetName);
          }
        }
      } catch (e) {
        if (e instanceof CoreSpecError) return fail(e.message, what);
        throw e;
      }
      shared.outcomes.set(key, { cands: candCache.get(r.typeId), res, what, matches, detail });
    }

    let outcome: "patched" | "poisoned";
    try {
      outcome = patchInstruction(view, r.insnOff, res);
    } catch (e) {
      if (e instanceof CorePatchError) return fail(e.message, what);
      throw e;
    }
    if (outcome === "poisoned") {
      const sizeMismatch = !res.poison;
      const reason = sizeMismatch ? "size-mismatch" : "not-found";
      if (sizeMismatch) {
        detail = `the field is ${res.newSize} bytes in ${targetName} but ${res.origSize} bytes in the program, and only unsigned integers and pointers can be read with an adjusted size`;
      }
      const description = sizeMismatch
        ? `\`${what}\` cannot be accessed with its size in ${targetName} (relocation kind ${kindName(r.kind)}, program ${program}, instruction ${r.insnOff})`
        : `\`${what}\` not found in ${targetName} (relocation kind ${kindName(r.kind)}, program ${program}, instruction ${r.insnOff})`;
      poisoned.push({ program, instruction: r.insnOff, relocation: ri, kind: r.kind, kindName: kindName(r.kind), what, reason, detail, description });
    } else {
      applied++;
    }
    outcomes.push({
      relocation: ri, instruction: r.insnOff, kindName: kindName(r.kind), what, local: res.origVal,
      target: outcome === "poisoned" ? undefined : res.newVal, poisoned: outcome === "poisoned", matches,
    });
  });
  return { applied, poisoned, outcomes };
}

/** libbpf `bpf_core_calc_relo`: local and target values for one candidate (or none). */
function calc(local: CoreSpec, target: CoreSpec | undefined, le: boolean): CoreReloResult {
  const res: CoreReloResult = { poison: false, origVal: 0n, newVal: 0n, validate: true, origSize: 0, newSize: 0, failMemszAdjust: false };
  const k = local.kind;
  if (isFieldKind(k)) {
    if (k === CoreReloKind.FIELD_EXISTS) {
      res.origVal = 1n;
      res.newVal = target ? 1n : 0n;
      return res;
    }
    const lv = fieldValue(local, le);
    res.origVal = lv.value;
    res.origSize = lv.size;
    res.validate = lv.validate;
    if (!target) {
      res.poison = true;
      return res;
    }
    const tv = fieldValue(target, le);
    res.newVal = tv.value;
    res.newSize = tv.size;
    if (res.origSize !== res.newSize) {
      const ot = local.btf.type(lv.typeId), nt = target.btf.type(tv.typeId);
      const safe = (ot.kind === "ptr" && nt.kind === "ptr") || (ot.kind === "int" && nt.kind === "int" && !ot.signed && !nt.signed);
      res.failMemszAdjust = !safe;
    }
    return res;
  }
  if (isTypeKind(k)) {
    res.origVal = typeValue(local);
    res.validate = k !== CoreReloKind.TYPE_ID_TARGET;
    res.newVal = target ? typeValue(target) : 0n;
    return res;
  }
  if (isEnumvalKind(k)) {
    if (k === CoreReloKind.ENUMVAL_EXISTS) {
      res.origVal = 1n;
      res.newVal = target ? 1n : 0n;
      return res;
    }
    res.origVal = enumValue(local);
    if (!target) res.poison = true;
    else res.newVal = enumValue(target);
    return res;
  }
  throw new CoreSpecError(`unknown relocation kind ${k}`);
}

/** Says, in C terms, why no candidate matched: no type of that name, or which step is missing. */
function explainMissing(local: CoreSpec, cands: readonly CoreCandidate[], localName: string, targetName: string): string {
  const kind = local.btf.kindOf(local.rootTypeId);
  const ess = essentialName(localName);
  const kindWord = kind === "struct" || kind === "union" || kind === "enum" || kind === "enum64" ? `${kind === "enum64" ? "enum" : kind} ` : "";
  if (cands.length === 0) return `${targetName} has no ${kindWord || `${kind} `}named ${ess}`;
  if (isEnumvalKind(local.kind)) return `no enum ${ess} in ${targetName} has an enumerator ${essentialName(local.acc[0]!.name!)}`;
  // Find the first accessor no candidate can follow.
  for (let n = 1; n <= local.acc.length; n++) {
    const prefix: CoreSpec = { ...local, acc: local.acc.slice(0, n) };
    let ok = false;
    try {
      ok = cands.some((c) => matchSpec(prefix, c.btf, c.id) !== undefined);
    } catch {
      ok = false;
    }
    if (!ok) {
      const a = local.acc[n - 1]!;
      const pk = local.btf.kindOf(a.typeId);
      const parent = `${pk === "struct" || pk === "union" ? `${pk} ` : ""}${essentialName(local.btf.name(a.typeId)) || "(anon)"}`;
      if (a.name !== undefined) return `${parent} in ${targetName} has no field ${a.name} of a compatible type`;
      return `index [${a.idx}] is out of bounds or not an array in ${targetName}`;
    }
  }
  return `no ${kindWord}${ess} in ${targetName} matches`;
}

/**
 * Maps a verifier rejection to the CO-RE relocation that caused it: when the verifier stopped at a
 * poisoned instruction (or complained about the poison helper id), returns a CoreError naming the
 * relocation in C terms with the VerifierError as its cause; otherwise undefined.
 */
export function coreErrorForVerifier(err: VerifierError, failures: readonly CoreFailure[]): CoreError | undefined {
  if (failures.length === 0) return undefined;
  let f = err.instruction !== undefined ? failures.find((x) => x.instruction === err.instruction) : undefined;
  if (!f && err.log.includes(`unknown#${CORE_POISON_HELPER}`)) {
    // The instruction line of the poisoned call: "N: (85) call unknown#195896080".
    const m = [...err.log.matchAll(new RegExp(`^(\\d+): \\(85\\) call unknown#${CORE_POISON_HELPER}`, "gm"))].pop();
    f = m ? failures.find((x) => x.instruction === Number(m[1])) : undefined;
    if (!f && failures.length === 1) f = failures[0];
  }
  if (!f) return undefined;
  const hint = f.reason === "not-found"
    ? `guard the access with bpf_core_field_exists()/bpf_core_type_exists()/bpf_core_enum_value_exists(), or use a ___flavour type that matches this kernel`
    : `read the field with BPF_CORE_READ into a variable of the kernel's type, or use an unsigned integer type`;
  return new CoreError(
    `load program ${f.program}: CO-RE relocation failed: ${f.description}: ${f.detail}. The verifier reached the poisoned instruction; ${hint}`,
    { cause: err },
  );
}

/**
 * Loader glue: relocates a program's instructions against `targetBtf`, wrapping a missing object
 * BTF in a CoreError. Pass the same `opts.cache` for every program of one object. Returns the poisoned relocations (to map verifier errors with
 * {@link coreErrorForVerifier}).
 */
export function relocateProgram(
  program: string, insns: Uint8Array, relos: readonly CoreRelocation[], localBtf: Btf | undefined, targetBtf: () => Btf,
  opts: { littleEndian?: boolean; targetName?: string; cache?: CoreRelocationCache; modules?: () => readonly Btf[] } = {},
): CoreFailure[] {
  if (relos.length === 0) return [];
  if (!localBtf) throw new CoreError(`relocate program ${program}: it has ${relos.length} CO-RE relocations but the object has no BTF`);
  let target: Btf;
  try {
    target = targetBtf();
  } catch (e) {
    throw new CoreError(`relocate program ${program}: CO-RE needs the kernel's BTF: ${(e as Error).message}`, { cause: e });
  }
  return applyCoreRelocations(insns, relos, localBtf, target, { program, littleEndian: opts.littleEndian, targetName: opts.targetName, cache: opts.cache, modules: opts.modules }).poisoned;
}
