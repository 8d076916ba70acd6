/**
 * CO-RE type relations, with the semantics of libbpf's relo_core.c: "essential" names (flavours
 * stripped), field compatibility, type compatibility (TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET
 * candidates) and the stricter type match (TYPE_MATCHES). Pure functions over two parsed BTFs.
 */
import type { Btf } from "./btf.js";
import type { BtfType } from "./types.js";

/** Recursion limit for type relations (libbpf uses 32 as well). */
const MAX_DEPTH = 32;

/** Thrown inside the relations for malformed or too deeply nested types; converted by the caller. */
export class CoreTypeError extends Error {}

/**
 * Length of the essential part of a name: everything before the last `___` flavour separator
 * (`X___Y` where X and Y are not underscores). `task_struct___old` -> 11; `nf_conn` -> 7.
 */
export function essentialNameLength(name: string): number {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name.charCodeAt(i) !== 95 && name.charCodeAt(i + 1) === 95 && name.charCodeAt(i + 2) === 95
      && name.charCodeAt(i + 3) === 95 && name.charCodeAt(i + 4) !== 95) return i + 1;
  }
  return name.length;
}

/** The name without its `___flavour` suffix. */
export function essentialName(name: string): string {
  return name.slice(0, essentialNameLength(name));
}

/** True when two names are equal ignoring flavours, or either is empty (libbpf `bpf_core_names_match`). */
export function namesMatch(a: string, b: string): boolean {
  if (a === "" || b === "") return true;
  return essentialName(a) === essentialName(b);
}

/** Same kind, or enum vs enum64 (libbpf `btf_kind_core_compat`). */
export function kindsCoreCompat(a: BtfType["kind"], b: BtfType["kind"]): boolean {
  return a === b || ((a === "enum" || a === "enum64") && (b === "enum" || b === "enum64"));
}

const isComposite = (k: string) => k === "struct" || k === "union";
const isEnum = (k: string) => k === "enum" || k === "enum64";

function skip(btf: Btf, id: number): number {
  try {
    return btf.resolve(id);
  } catch (e) {
    throw new CoreTypeError(`type ${id}: ${(e as Error).message}`);
  }
}

/**
 * Whether a local field type and a target field type are compatible (libbpf
 * `bpf_core_fields_are_compat`): composites always, same-kind scalars with matching enum/fwd names,
 * ints without a bit offset, pointers and floats always, arrays by their element types.
 */
export function fieldsAreCompat(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    localId = skip(local, localId);
    targetId = skip(target, targetId);
    const lt = local.type(localId), tt = target.type(targetId);
    if (isComposite(lt.kind) && isComposite(tt.kind)) return true;
    if (!kindsCoreCompat(lt.kind, tt.kind)) return false;
    switch (lt.kind) {
      case "ptr": case "float": return true;
      case "fwd": case "enum": case "enum64": {
        const ln = essentialName(lt.name), tn = essentialName(tt.name);
        return ln === "" || tn === "" || ln === tn;
      }
      case "int": return lt.offset === 0 && (tt as typeof lt).offset === 0;
      case "array":
        localId = lt.elemTypeId;
        targetId = (tt as typeof lt).elemTypeId;
        continue;
      default: return false;
    }
  }
  throw new CoreTypeError(`field types ${localId} and ${targetId} nest too deeply`);
}

/**
 * Whether two types are compatible for type-based relocations (libbpf `bpf_core_types_are_compat`):
 * modifiers and typedefs are skipped; composites, enums and fwds are compatible by kind alone
 * (names were matched by candidate lookup); ints unless bitfield-like; pointers and arrays by their
 * targets; function prototypes by arity, parameter and return types.
 */
export function typesAreCompat(local: Btf, localId: number, target: Btf, targetId: number, level = MAX_DEPTH): boolean {
  if (!kindsCoreCompat(local.kindOf(localId), target.kindOf(targetId))) return false;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    localId = skip(local, localId);
    targetId = skip(target, targetId);
    const lt = local.type(localId), tt = target.type(targetId);
    if (!kindsCoreCompat(lt.kind, tt.kind)) return false;
    switch (lt.kind) {
      case "void": case "struct": case "union": case "enum": case "enum64": case "fwd": return true;
      case "int": return lt.offset === 0 && (tt as typeof lt).offset === 0;
      case "ptr":
        localId = lt.typeId;
        targetId = (tt as typeof lt).typeId;
        continue;
      case "array":
        localId = lt.elemTypeId;
        targetId = (tt as typeof lt).elemTypeId;
        continue;
      case "func_proto": {
        const tp = tt as typeof lt;
        if (lt.params.length !== tp.params.length) return false;
        for (let i = 0; i < lt.params.length; i++) {
          if (level <= 0) throw new CoreTypeError("function prototypes nest too deeply");
          const ok = typesAreCompat(local, skip(local, lt.params[i]!.typeId), target, skip(target, tp.params[i]!.typeId), level - 1);
          if (!ok) return false;
        }
        localId = lt.returnTypeId;
        targetId = tp.returnTypeId;
        continue;
      }
      default: return false;
    }
  }
  throw new CoreTypeError(`types ${localId} and ${targetId} nest too deeply`);
}

/**
 * The TYPE_MATCHES relation (libbpf `bpf_core_types_match`), stricter than compatibility:
 * modifiers and typedefs are skipped; names must match (flavours ignored, anonymous matches any);
 * ints match by size and signedness; enums by size and by every local enumerator name existing in
 * the target; structs/unions by every local member existing in the target by name with a matching
 * type (only name and kind behind a pointer, where a struct may also match a forward declaration);
 * arrays by length and element; function prototypes by arity, parameters and return type.
 */
export function typesMatch(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  return match(local, localId, target, targetId, false, MAX_DEPTH);
}

function match(local: Btf, localId: number, target: Btf, targetId: number, behindPtr: boolean, level: number): boolean {
  if (level <= 0) throw new CoreTypeError("types nest too deeply for a type match");
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    localId = skip(local, localId);
    targetId = skip(target, targetId);
    const lt = local.type(localId), tt = target.type(targetId);
    if (!namesMatch(lt.name, tt.name)) return false;
    switch (lt.kind) {
      case "void": return tt.kind === "void";
      case "fwd":
        if (behindPtr) {
          if (tt.kind === "fwd") return lt.union === tt.union;
          return (tt.kind === "struct" && !lt.union) || (tt.kind === "union" && lt.union);
        }
        return tt.kind === "fwd" && lt.union === tt.union;
      case "enum": case "enum64":
        if (!isEnum(tt.kind)) return false;
        return enumsMatch(lt, tt as typeof lt);
      case "struct": case "union":
        if (behindPtr) {
          if (lt.kind === tt.kind) return true;
          if (tt.kind !== "fwd") return false;
          return (lt.kind === "union") === tt.union;
        }
        if (lt.kind !== tt.kind) return false;
        return compositesMatch(local, lt, target, tt as typeof lt, behindPtr, level);
      case "int":
        if (tt.kind !== "int") return false;
        return lt.size === tt.size && lt.signed === tt.signed;
      case "ptr":
        if (tt.kind !== "ptr") return false;
        behindPtr = true;
        localId = lt.typeId;
        targetId = tt.typeId;
        continue;
      case "array":
        if (tt.kind !== "array" || lt.nelems !== tt.nelems) return false;
        localId = lt.elemTypeId;
        targetId = tt.elemTypeId;
        continue;
      case "func_proto": {
        if (tt.kind !== "func_proto" || lt.params.length !== tt.params.length) return false;
        for (let i = 0; i < lt.params.length; i++) {
          if (!match(local, lt.params[i]!.typeId, target, tt.params[i]!.typeId, behindPtr, level - 1)) return false;
        }
        localId = lt.returnTypeId;
        targetId = tt.returnTypeId;
        continue;
      }
      default: return false;
    }
  }
  throw new CoreTypeError(`types ${localId} and ${targetId} nest too deeply`);
}

function enumsMatch(lt: BtfType & { kind: "enum" | "enum64" }, tt: BtfType & { kind: "enum" | "enum64" }): boolean {
  if (lt.size !== tt.size || lt.values.length > tt.values.length) return false;
  return lt.values.every((lv) => tt.values.some((tv) => namesMatch(lv.name, tv.name)));
}

function compositesMatch(local: Btf, lt: BtfType & { kind: "struct" | "union" }, target: Btf, tt: BtfType & { kind: "struct" | "union" }, behindPtr: boolean, level: number): boolean {
  if (lt.members.length > tt.members.length) return false;
  for (const lm of lt.members) {
    let found = false;
    for (const tm of tt.members) {
      if (!namesMatch(lm.name, tm.name)) continue;
      if (match(local, lm.typeId, target, tm.typeId, behindPtr, level - 1)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}
