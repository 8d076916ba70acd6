/**
 * tsbpf: load, attach and read eBPF programs from TypeScript.
 *
 * @example
 * ```ts
 * import { loadObject } from "tsbpf";
 * using obj = await loadObject("count.bpf.o");
 * obj.attachAll();
 * setTimeout(() => console.log([...obj.maps.counts.entries()]), 1000);
 * ```
 * @packageDocumentation
 */
export {
  BpfError, SyscallError, NotSupportedError, VerifierError, ElfError, BtfError, ObjectError, CoreError,
  ArgumentError, ClosedError, Errno, errnoName, errnoMessage,
} from "./errors.js";
export { loadObject, loadObjectSync, openObject, openObjectSync, loadCollection, BpfObject, runningKernelVersion, type LoadOptions } from "./collection/object.js";
export { Variable, setVariable, type VariableValue, type GlobalSection } from "./collection/variables.js";
export { TypedMap, type TypedMapOptions } from "./map/typed.js";
export { codecFor, codecForName, typeScriptType, type Codec, type EncodeInput, type EncodeOptions, type TypeScriptTypeOptions } from "./codec/index.js";
export type { AttachResult } from "./collection/attach.js";
export { BpfMap, BPF_F_LOCK, isPerCpu, splitPerCpu, readMapInfo, mapTypeName, type MapOptions, type MapInfo, type UpdateMode } from "./map/map.js";
export { decodeUint, type Raw } from "./map/bytes.js";
export { Program, readProgramInfo, progTypeName, type ProgramLoadOptions, type ProgramInfo, type TestRunResult } from "./prog/program.js";
export { Link, LinkGroup, readLinkInfo, type LinkInfo, type LinkParts } from "./link/link.js";
export { attachTracepoint, tracepointId, PerfEventLink } from "./link/tracepoint.js";
export { attachRawTracepoint } from "./link/raw-tracepoint.js";
export { attachKprobe, type KprobeOptions } from "./link/kprobe.js";
export { MapType, ProgramType, AttachType, LinkType } from "./spec/kernel-enums.js";
export { loadCollectionSpec } from "./spec/index.js";
export type { CollectionSpec, MapSpec, ProgramSpec, VariableSpec, InsnRelocation } from "./spec/types.js";
export { ensureBpffs, tracefs } from "./sys/fs.js";
export { possibleCpus, possibleCpuCount, onlineCpus } from "./sys/cpus.js";
export { openDescriptorCount } from "./sys/fd.js";
export { probeMapType, probeProgramType, probeHelper, probeBtfKind, probeAll, type ProbeResult } from "./features/probe.js";
export { probeAttachMechanisms, kernelLinkKinds } from "./features/attach.js";
export { Btf, loadKernelBtf, loadModuleBtf, formatBtfAsC, formatBtfRaw, readBtfFile } from "./btf/index.js";
export type { BtfType, BtfKind } from "./btf/index.js";
export { applyCoreRelocations, coreErrorForVerifier, CoreReloKind, type CoreFailure } from "./btf/core.js";
export type { AttachTargets } from "./collection/attach.js";
export { attachXdp, queryXdp, XdpLink, type XdpMode, type XdpOptions } from "./link/xdp.js";
export { attachTc, listTcFilters, TcLink, type TcDirection, type TcOptions } from "./link/tc.js";
export { attachCgroup, openCgroup, CgroupProgAttachLink, type CgroupOptions } from "./link/cgroup.js";
export { attachSocketFilter, detachSocketFilter, SocketFilterLink, type SocketLike } from "./link/socket.js";
export { attachSkLookup } from "./link/sk-lookup.js";
export { attachNetfilter, NfProto, NfHook, type NetfilterOptions } from "./link/netfilter.js";
export {
  attachTracing, attachTpBtf, attachFentry, attachFexit, attachFmodRet, attachFreplace, setAttachTarget, probeTrampolines,
  type TracingOptions, type AttachTarget,
} from "./link/tracing.js";
export { attachLsm } from "./link/lsm.js";
export { attachIter, IterLink, type IterOptions } from "./link/iter.js";
export { attachUprobe, attachUprobeAt, attachUprobeMulti, resolveUprobeTarget, type UprobeOptions, type UprobeMultiOptions } from "./link/uprobe.js";
export { attachUsdt, listUsdtProbes, UsdtLink, type UsdtProbe, type UsdtOptions } from "./link/usdt.js";
export { attachPerfEventSampling, PerfEventLinks, SoftwareEvent, HardwareEvent, type PerfSamplingOptions } from "./link/perf-event.js";
export { attachKprobeMulti, attachKsyscall, ksyscallName, type KprobeMultiOptions } from "./link/kprobe-multi.js";
export { linkDetails, type LinkDetails } from "./link/info.js";
export { NetlinkError, ifNameToIndex } from "./sys/net.js";
export {
  disassemble, disassembleLines, renderLines, disassembleInstruction, disassembleProgram, disassembleObject, disassembleObjectSections,
  type DisassembleOptions, type DisassembleObjectOptions, type DisasmLine, type DisasmSymbol, type DecodedInstruction,
} from "./asm/disasm.js";
export { asm, Assembler, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, REGISTERS, labelSymbols, linkBuiltProgram, type BuiltProgram, type Reg, type Operand } from "./asm/builder.js";
export { kernelConfig, parseKconfig, parseKconfigValue, linuxKernelVersion, type KernelConfig, type KconfigValue } from "./features/kconfig.js";
export { kallsyms, Kallsyms, type KernelSymbol } from "./features/kallsyms.js";
export type { KconfigSource } from "./collection/externs.js";
export {
  RingBuffer, RingBufferReader, Ring, UserRingBuffer, EventStream,
  type EventBatch, type RingBufferStats, type UserRingSample, type BatchCallback, type Decoder, type IterateOptions, type StreamOptions,
} from "./ringbuf/index.js";
export { PerfBuffer, PerfRing, type PerfBufferOptions, type PerfBufferStats } from "./perf/index.js";
export { tracePipe, TracePipe, parseTraceLine, splitLines, type TracePipeOptions, type TraceLine } from "./trace/index.js";
export {
  generateSkeleton, defineSkeleton,
  type GenerateSkeletonOptions, type Skeleton, type OpenSkeleton, type SkeletonTypes, type SkeletonDescriptor,
  type SkeletonDefinition, type SkeletonLoadOptions, type SkeletonAttachOptions, type SkeletonLinks, type GlobalsInput,
} from "./skel/index.js";
