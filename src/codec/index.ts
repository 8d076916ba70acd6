/**
 * BTF-driven codecs (kernel-free): C values described by BTF to and from plain JavaScript values.
 * See {@link codecFor} for the mapping.
 */
export { codecFor, codecForName, type Codec, type EncodeInput, type EncodeOptions } from "./codec.js";
export { typeScriptType, type TypeScriptTypeOptions } from "./typescript.js";
