/**
 * CO-RE access specs: parsing an access string ("0:1:2") against the local BTF, matching it to a
 * candidate target type, and computing the value a relocation kind asks for. Mirrors libbpf's
 * relo_core.c (bpf_core_parse_spec, bpf_core_spec_match, bpf_core_calc_*_relo).
 */
import type { Btf } from "./btf.js";
import type { BtfComposite, BtfEnum } from "./types.js";
import { CoreTypeError, essentialName, fieldsAreCompat, typesAreCompat, typesMatch } from "./core-compat.js";

/** `enum bpf_core_relo_kind`. */
export const CoreReloKind = {
  FIELD_BYTE_OFFSET: 0, FIELD_BYTE_SIZE: 1, FIELD_EXISTS: 2, FIELD_SIGNED: 3, FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5, TYPE_ID_LOCAL: 6, TYPE_ID_TARGET: 7, TYPE_EXISTS: 8, TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10, ENUMVAL_VALUE: 11, TYPE_MATCHES: 12,
} as const;
const K = CoreReloKind;

export const isFieldKind = (k: number) => k >= K.FIELD_BYTE_OFFSET && k <= K.FIELD_RSHIFT_U64;
export const isTypeKind = (k: number) => (k >= K.TYPE_ID_LOCAL && k <= K.TYPE_SIZE) || k === K.TYPE_MATCHES;
export const isEnumvalKind = (k: number) => k === K.ENUMVAL_EXISTS || k === K.ENUMVAL_VALUE;

/** Longest access string accepted (libbpf BPF_CORE_SPEC_MAX_LEN). */
const SPEC_MAX_LEN = 64;

/** One high-level step of a spec: a named member (`name` set) or an array index / the root. */
export interface Accessor { typeId: number; idx: number; name?: string }

/** A parsed or matched spec. `bitOffset` is from the start of the root object. */
export interface CoreSpec {
  btf: Btf;
  rootTypeId: number;
  kind: number;
  raw: number[];
  acc: Accessor[];
  bitOffset: number;
}

/** A spec that cannot be parsed or matched because the BTF or the relocation is malformed. */
export class CoreSpecError extends Error {}

function sizeOf(btf: Btf, id: number): number {
  try {
    return btf.sizeof(id);
  } catch (e) {
    throw new CoreSpecError(`type ${id} has no size (${(e as Error).message})`);
  }
}

function resolve(btf: Btf, id: number): number {
  try {
    return btf.resolve(id);
  } catch (e) {
    throw new CoreSpecError((e as Error).message);
  }
}

/** A flexible array: zero elements, and the last named member of its struct. */
function isFlexArray(btf: Btf, parent: Accessor | undefined, nelems: number): boolean {
  if (!parent?.name || nelems > 0) return false;
  const t = btf.type(parent.typeId) as BtfComposite;
  return parent.idx === t.members.length - 1;
}

/** Parses `accessStr` for relocation `kind` rooted at `typeId` in `btf`. Throws CoreSpecError. */
export function parseSpec(btf: Btf, typeId: number, accessStr: string, kind: number): CoreSpec {
  if (!/^\d+(:\d+)*$/.test(accessStr)) throw new CoreSpecError(`malformed access string "${accessStr}"`);
  const raw = accessStr.split(":").map(Number);
  if (raw.length > SPEC_MAX_LEN) throw new CoreSpecError(`access string "${accessStr}" is longer than ${SPEC_MAX_LEN} steps`);
  if (typeId <= 0 || typeId >= btf.count) throw new CoreSpecError(`type id ${typeId} is out of range`);
  const spec: CoreSpec = { btf, rootTypeId: typeId, kind, raw, acc: [], bitOffset: 0 };
  if (isTypeKind(kind)) {
    if (accessStr !== "0") throw new CoreSpecError(`type-based relocation with access string "${accessStr}" (expected "0")`);
    return spec;
  }
  let id = resolve(btf, typeId);
  let t = btf.type(id);
  let idx = raw[0]!;
  spec.acc.push({ typeId: id, idx });
  if (isEnumvalKind(kind)) {
    if ((t.kind !== "enum" && t.kind !== "enum64") || raw.length > 1 || idx >= t.values.length) {
      throw new CoreSpecError(`enum value relocation "${accessStr}" does not name an enumerator of ${btf.typeName(typeId)}`);
    }
    spec.acc[0]!.name = t.values[idx]!.name;
    return spec;
  }
  if (!isFieldKind(kind)) throw new CoreSpecError(`unknown relocation kind ${kind}`);
  spec.bitOffset = idx * sizeOf(btf, id) * 8;
  for (let i = 1; i < raw.length; i++) {
    id = resolve(btf, id);
    t = btf.type(id);
    idx = raw[i]!;
    if (t.kind === "struct" || t.kind === "union") {
      if (idx >= t.members.length) throw new CoreSpecError(`member index ${idx} is out of range for ${btf.typeName(id)} (${t.members.length} members)`);
      const m = t.members[idx]!;
      spec.bitOffset += m.bitOffset;
      if (m.name !== "") spec.acc.push({ typeId: id, idx, name: m.name });
      id = m.typeId;
    } else if (t.kind === "array") {
      const elem = resolve(btf, t.elemTypeId);
      const flex = isFlexArray(btf, spec.acc[spec.acc.length - 1], t.nelems);
      if (!flex && idx >= t.nelems) throw new CoreSpecError(`array index ${idx} is out of range for ${btf.typeName(id)}`);
      spec.acc.push({ typeId: elem, idx });
      spec.bitOffset += idx * sizeOf(btf, elem) * 8;
      id = elem;
    } else {
      throw new CoreSpecError(`access string "${accessStr}" step ${i} reaches ${btf.typeName(id)}, which is not a struct, union or array`);
    }
  }
  return spec;
}

/**
 * Matches a local spec against candidate `targetId` in `target`. Returns the target spec, or
 * undefined when the candidate does not match. Throws CoreSpecError for malformed BTF.
 */
export function matchSpec(local: CoreSpec, target: Btf, targetId: number): CoreSpec | undefined {
  const ts: CoreSpec = { btf: target, rootTypeId: targetId, kind: local.kind, raw: [], acc: [], bitOffset: 0 };
  try {
    if (isTypeKind(local.kind)) {
      const ok = local.kind === K.TYPE_MATCHES
        ? typesMatch(local.btf, local.rootTypeId, target, targetId)
        : typesAreCompat(local.btf, local.rootTypeId, target, targetId);
      return ok ? ts : undefined;
    }
    if (isEnumvalKind(local.kind)) {
      const id = resolve(target, targetId);
      const t = target.type(id);
      if (t.kind !== "enum" && t.kind !== "enum64") return undefined;
      const want = essentialName(local.acc[0]!.name!);
      const i = t.values.findIndex((v) => essentialName(v.name) === want);
      if (i < 0) return undefined;
      ts.acc.push({ typeId: id, idx: i, name: t.values[i]!.name });
      ts.raw.push(i);
      return ts;
    }
    let id = targetId;
    for (let i = 0; i < local.acc.length; i++) {
      const la = local.acc[i]!;
      id = resolve(target, id);
      if (la.name !== undefined) {
        const next = matchMember(local.btf, la, target, id, ts);
        if (next === undefined) return undefined;
        id = next;
      } else {
        if (i > 0) {
          const t = target.type(id);
          if (t.kind !== "array") return undefined;
          const flex = isFlexArray(target, ts.acc[ts.acc.length - 1], t.nelems);
          if (!flex && la.idx >= t.nelems) return undefined;
          id = resolve(target, t.elemTypeId);
        }
        if (ts.raw.length === SPEC_MAX_LEN) throw new CoreSpecError("target spec is too deep");
        ts.acc.push({ typeId: id, idx: la.idx });
        ts.raw.push(la.idx);
        ts.bitOffset += la.idx * sizeOf(target, id) * 8;
      }
    }
    return ts;
  } catch (e) {
    if (e instanceof CoreTypeError) throw new CoreSpecError(e.message);
    throw e;
  }
}

/**
 * Finds the local accessor's member by name in target composite `targetId`, descending into
 * anonymous members; on success pushes the accessor onto `ts` and returns the member's type id.
 */
function matchMember(local: Btf, la: Accessor, target: Btf, targetId: number, ts: CoreSpec, depth = 0): number | undefined {
  if (depth > SPEC_MAX_LEN) throw new CoreSpecError("anonymous members nest too deeply");
  targetId = resolve(target, targetId);
  const tt = target.type(targetId);
  if (tt.kind !== "struct" && tt.kind !== "union") return undefined;
  const lm = (local.type(la.typeId) as BtfComposite).members[la.idx]!;
  for (let i = 0; i < tt.members.length; i++) {
    const m = tt.members[i]!;
    if (ts.raw.length === SPEC_MAX_LEN) throw new CoreSpecError("target spec is too deep");
    ts.bitOffset += m.bitOffset;
    ts.raw.push(i);
    if (m.name === "") {
      const found = matchMember(local, la, target, m.typeId, ts, depth + 1);
      if (found !== undefined) return found;
    } else if (m.name === lm.name) {
      if (!fieldsAreCompat(local, lm.typeId, target, m.typeId)) return undefined;
      ts.acc.push({ typeId: targetId, idx: i, name: m.name });
      return m.typeId;
    }
    ts.bitOffset -= m.bitOffset;
    ts.raw.pop();
  }
  return undefined;
}

/** The value a field relocation yields for a spec, with what the loader needs for size checks. */
export interface FieldValue {
  value: bigint;
  /** Byte size of the field for BYTE_OFFSET of a non-bitfield (0 otherwise). */
  size: number;
  /** Type id of the field (modifiers and typedefs skipped), with `size`. */
  typeId: number;
  /** Whether the instruction's current value is checked against the local result. */
  validate: boolean;
}

/** libbpf `bpf_core_calc_field_relo` for an existing spec. Throws CoreSpecError. */
export function fieldValue(spec: CoreSpec, littleEndian: boolean): FieldValue {
  const btf = spec.btf;
  const acc = spec.acc[spec.acc.length - 1]!;
  if (acc.name === undefined) {
    // The root or an array element.
    if (spec.kind === K.FIELD_BYTE_OFFSET) {
      return { value: BigInt(Math.floor(spec.bitOffset / 8)), size: sizeOf(btf, acc.typeId), typeId: acc.typeId, validate: true };
    }
    if (spec.kind === K.FIELD_BYTE_SIZE) return { value: BigInt(sizeOf(btf, acc.typeId)), size: 0, typeId: 0, validate: true };
    throw new CoreSpecError("this relocation kind cannot be applied to an array element");
  }
  const t = btf.type(acc.typeId) as BtfComposite;
  const m = t.members[acc.idx]!;
  const fieldTypeId = resolve(btf, m.typeId);
  const mt = btf.type(fieldTypeId);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number, byteOff: number;
  if (bitfield) {
    if (!("size" in mt) || typeof mt.size !== "number" || mt.size <= 0) throw new CoreSpecError(`bitfield ${m.name} has a type without a size`);
    byteSz = mt.size;
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) throw new CoreSpecError(`bitfield ${m.name} cannot be read with a 64-bit load`);
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = sizeOf(btf, fieldTypeId);
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  // For bitfields the compiler and we may legitimately disagree, so only signedness and the right
  // shift are validated.
  let validate = !bitfield;
  let value: number;
  let size = 0, typeId = 0;
  switch (spec.kind) {
    case K.FIELD_BYTE_OFFSET:
      value = byteOff;
      if (!bitfield) { size = byteSz; typeId = fieldTypeId; }
      break;
    case K.FIELD_BYTE_SIZE:
      value = byteSz;
      break;
    case K.FIELD_SIGNED:
      value = ((mt.kind === "enum" || mt.kind === "enum64") && mt.signed) || (mt.kind === "int" && mt.signed) ? 1 : 0;
      validate = true;
      break;
    case K.FIELD_LSHIFT_U64:
      value = littleEndian ? 64 - (bitOff + bitSz - byteOff * 8) : (8 - byteSz) * 8 + (bitOff - byteOff * 8);
      break;
    case K.FIELD_RSHIFT_U64:
      value = 64 - bitSz;
      validate = true;
      break;
    default:
      throw new CoreSpecError(`unknown field relocation kind ${spec.kind}`);
  }
  return { value: BigInt(value), size, typeId, validate };
}

/** libbpf `bpf_core_calc_type_relo` for an existing spec. */
export function typeValue(spec: CoreSpec): bigint {
  switch (spec.kind) {
    case K.TYPE_ID_TARGET: case K.TYPE_ID_LOCAL: return BigInt(spec.rootTypeId);
    case K.TYPE_EXISTS: case K.TYPE_MATCHES: return 1n;
    case K.TYPE_SIZE: return BigInt(sizeOf(spec.btf, spec.rootTypeId));
    default: throw new CoreSpecError(`unknown type relocation kind ${spec.kind}`);
  }
}

/** The enumerator value of an enum spec (ENUMVAL_VALUE). */
export function enumValue(spec: CoreSpec): bigint {
  const t = spec.btf.type(spec.acc[0]!.typeId) as BtfEnum;
  return t.values[spec.acc[0]!.idx]!.value;
}

/** A C-like rendering of a field spec's access path, e.g. `task_struct.__state`, `x[1].arr[3]`. */
export function describeSpec(spec: CoreSpec): string {
  const btf = spec.btf;
  const rootName = btf.name(spec.rootTypeId) || "(anon)";
  if (isTypeKind(spec.kind)) return btf.typeName(spec.rootTypeId);
  if (isEnumvalKind(spec.kind)) return `enum ${btf.name(spec.acc[0]!.typeId) || rootName}::${spec.acc[0]!.name}`;
  let s = rootName;
  spec.acc.forEach((a, i) => {
    if (a.name !== undefined) s += `.${a.name}`;
    else if (i > 0 || a.idx > 0) s += `[${a.idx}]`;
  });
  return s;
}
