/**
 * The BTF type model: plain readonly objects discriminated by `kind`. Type id 0 is `void`.
 * The format itself is described in the kernel's Documentation/bpf/btf.rst and include/uapi/linux/btf.h.
 */

/** The kind of a BTF type, as a lowercase name (`BTF_KIND_STRUCT` is `"struct"`). `"void"` is id 0 only. */
export type BtfKind =
  | "void" | "int" | "ptr" | "array" | "struct" | "union" | "enum" | "fwd" | "typedef" | "volatile"
  | "const" | "restrict" | "func" | "func_proto" | "var" | "datasec" | "float" | "decl_tag"
  | "type_tag" | "enum64";

/** Kind names indexed by the numeric `BTF_KIND_*` value (index 0 is `"void"`, `BTF_KIND_UNKN`). */
export const BTF_KIND_NAMES: readonly BtfKind[] = [
  "void", "int", "ptr", "array", "struct", "union", "enum", "fwd", "typedef", "volatile", "const",
  "restrict", "func", "func_proto", "var", "datasec", "float", "decl_tag", "type_tag", "enum64",
];

/** Numeric `BTF_KIND_*` value of a kind name, e.g. `btfKindNumber("struct") === 4`. */
export function btfKindNumber(kind: BtfKind): number {
  return BTF_KIND_NAMES.indexOf(kind);
}

/** Linkage of a FUNC or VAR: `static` (0), `global` (1, "global allocated" for vars), `extern` (2). */
export type BtfLinkage = "static" | "global" | "extern";

/** Linkage names indexed by their numeric value. */
export const BTF_LINKAGE_NAMES: readonly BtfLinkage[] = ["static", "global", "extern"];

interface Base { readonly id: number; readonly name: string }

/** Id 0: the `void` type. */
export interface BtfVoid extends Base { readonly kind: "void" }

/** An integer (`BTF_KIND_INT`). `bits`/`offset` are the int encoding's bit width and bit offset. */
export interface BtfInt extends Base {
  readonly kind: "int"; readonly size: number; readonly bits: number; readonly offset: number;
  readonly signed: boolean; readonly char: boolean; readonly bool: boolean;
}

/** A type that refers to another type and has no other data. `name` is set for typedefs and type tags. */
export interface BtfRefType extends Base {
  readonly kind: "ptr" | "typedef" | "const" | "volatile" | "restrict";
  readonly typeId: number;
}

/** A `TYPE_TAG` (`btf_type_tag("...")`); `name` is the tag value, `attribute` is the kind_flag. */
export interface BtfTypeTag extends Base { readonly kind: "type_tag"; readonly typeId: number; readonly attribute: boolean }

/** An array. */
export interface BtfArray extends Base {
  readonly kind: "array"; readonly elemTypeId: number; readonly indexTypeId: number; readonly nelems: number;
}

/** A struct or union member. `bitfieldSize` is 0 unless the member is a bitfield declared with kind_flag. */
export interface BtfMember {
  readonly name: string; readonly typeId: number; readonly bitOffset: number; readonly bitfieldSize: number;
}

/** A struct or union. */
export interface BtfComposite extends Base {
  readonly kind: "struct" | "union"; readonly size: number; readonly members: readonly BtfMember[];
}

/** One enumerator. */
export interface BtfEnumValue { readonly name: string; readonly value: bigint }

/** An enum (`ENUM`, 32-bit values) or `ENUM64`. `signed` is the kind_flag. */
export interface BtfEnum extends Base {
  readonly kind: "enum" | "enum64"; readonly size: number; readonly signed: boolean;
  readonly values: readonly BtfEnumValue[];
}

/** A forward declaration of a struct (`union: false`) or union. */
export interface BtfFwd extends Base { readonly kind: "fwd"; readonly union: boolean }

/** A function; `typeId` is its FUNC_PROTO. */
export interface BtfFunc extends Base { readonly kind: "func"; readonly typeId: number; readonly linkage: BtfLinkage }

/** A function parameter; a trailing `{ name: "", typeId: 0 }` marks a variadic function. */
export interface BtfParam { readonly name: string; readonly typeId: number }

/** A function prototype. */
export interface BtfFuncProto extends Base {
  readonly kind: "func_proto"; readonly returnTypeId: number; readonly params: readonly BtfParam[];
}

/** A variable. */
export interface BtfVar extends Base { readonly kind: "var"; readonly typeId: number; readonly linkage: BtfLinkage }

/** A variable (or function, for `.ksyms`) placed in a data section. */
export interface BtfVarSecinfo { readonly typeId: number; readonly offset: number; readonly size: number }

/** A data section (`.bss`, `.data`, `.rodata`, `.maps`, ...). */
export interface BtfDatasec extends Base {
  readonly kind: "datasec"; readonly size: number; readonly vars: readonly BtfVarSecinfo[];
}

/** A floating point type. */
export interface BtfFloat extends Base { readonly kind: "float"; readonly size: number }

/**
 * A `DECL_TAG` (`btf_decl_tag("...")`); `name` is the tag value. `componentIdx` is -1 for the type
 * itself, else the member or parameter index. `attribute` is the kind_flag.
 */
export interface BtfDeclTag extends Base {
  readonly kind: "decl_tag"; readonly typeId: number; readonly componentIdx: number; readonly attribute: boolean;
}

/** Any BTF type. */
export type BtfType =
  | BtfVoid | BtfInt | BtfRefType | BtfTypeTag | BtfArray | BtfComposite | BtfEnum | BtfFwd | BtfFunc
  | BtfFuncProto | BtfVar | BtfDatasec | BtfFloat | BtfDeclTag;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A type given to the writer: like {@link BtfType}, with `id` optional (ids come from positions). */
export type BtfTypeInit = DistributiveOmit<Exclude<BtfType, BtfVoid>, "id"> & { readonly id?: number };
