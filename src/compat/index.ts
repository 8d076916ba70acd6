/** The nimbpf-compatible API: `import { bootBpf, getKeys, fetchUint64FromMap } from "tsbpf/compat"`. */
export {
  bootBpf, openPinnedMap, getKeys, fetchUint16FromMap, fetchUint64FromMap, fetchPerCpuFromMap, deleteFromMap,
  clearMap, fetchAllFromMap, updateMap, shutdownBpf, type BootResult, type KeyDecoder,
} from "./nimbpf.js";
