/**
 * Pure BTF: a lazy, indexed parser, the type model, a writer (datasec fixup, sanitizing), and
 * .BTF.ext records. Never touches the kernel except to read files the caller names (or sysfs
 * defaults in {@link loadKernelBtf}).
 */
export { Btf, type BtfParseOptions, type BtfMemberLookup, type BtfLayout } from "./btf.js";
export {
  BTF_KIND_NAMES, BTF_LINKAGE_NAMES, btfKindNumber,
  type BtfKind, type BtfLinkage, type BtfType, type BtfTypeInit, type BtfVoid, type BtfInt, type BtfRefType,
  type BtfTypeTag, type BtfArray, type BtfMember, type BtfComposite, type BtfEnumValue, type BtfEnum,
  type BtfFwd, type BtfFunc, type BtfParam, type BtfFuncProto, type BtfVar, type BtfVarSecinfo,
  type BtfDatasec, type BtfFloat, type BtfDeclTag,
} from "./types.js";
export {
  BtfBuilder, writeBtf, rewriteBtf, fixupDatasecs, sanitizeBtf, convertBtfByteOrder,
  type BtfWriteOptions, type BtfFeatureSupport,
} from "./writer.js";
export {
  parseBtfExt, sliceExtInfo, encodeFuncInfo, encodeLineInfo, CORE_RELO_KIND_NAMES,
  type BtfExt, type FuncInfo, type LineInfo, type CoreRelo,
} from "./ext.js";
export { loadKernelBtf, loadModuleBtf, KERNEL_BTF_PATH, type ModuleBtfOptions } from "./kernel.js";
export { formatBtfAsC } from "./format-c.js";
export { formatBtfRaw, formatBtfTypeRaw } from "./format-raw.js";
export { readBtfFile } from "./format-file.js";
