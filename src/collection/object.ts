/**
 * Loading a BPF object: create its maps, relocate and load its programs, and hand back one
 * disposable object that owns them all.
 *
 * @example
 * ```ts
 * import { loadObject } from "tsbpf";
 * using obj = await loadObject("readhist.bpf.o", { constants: { targ_pid: 1234 } });
 * const links = obj.attachAll();
 * for (const [pid, hist] of obj.maps.hists.entries()) console.log(pid, hist);
 * ```
 */
import { readFile } from "node:fs/promises";
import { readFileSync, existsSync } from "node:fs";
import { basename } from "node:path";
import { release } from "node:os";
import { ArgumentError, BpfError, ObjectError, NotSupportedError, VerifierError } from "../errors.js";
import { coreErrorForVerifier, CoreRelocationCache, relocateProgram } from "../btf/core.js";
import { loadKernelBtf } from "../btf/kernel.js";
import { Btf } from "../btf/btf.js";
import type { CollectionSpec, MapSpec, ProgramSpec } from "../spec/types.js";
import { loadCollectionSpec } from "../spec/index.js";
import { MapType } from "../spec/kernel-enums.js";
import { BpfMap } from "../map/map.js";
import "../map/typed.js"; // map.typed() for every loaded object
import { Program } from "../prog/program.js";
import type { SourceLine } from "../prog/verifier.js";
import { btfLoad } from "../sys/bpf.js";
import { sanitizeBtf } from "../btf/writer.js";
import { probeBtfKind } from "../features/probe.js";
import type { FD } from "../sys/fd.js";
import { ensureBpffs } from "../sys/fs.js";
import { possibleCpuCount } from "../sys/cpus.js";
import { encodeVariable, Variable, type VariableValue } from "./variables.js";
import { attachProgram, type AttachResult, type AttachTargets } from "./attach.js";
import { fillKconfig, kernelModuleBtfs, ProgramExterns, type KconfigSource } from "./externs.js";
import type { Link } from "../link/link.js";
import { resolveAttachBtf } from "../link/tracing.js";

/** BPF_F_MMAPABLE: global data maps are created mappable so variables are read and written in place. */
const BPF_F_MMAPABLE = 0x400;
const BPF_F_RDONLY_PROG = 0x80;

/** Options for {@link loadObject} and {@link loadCollection}. */
export interface LoadOptions {
  /** Object name (prefix of global data map names); defaults to the file name without `.bpf.o`. */
  name?: string;
  /** Values for `const volatile` globals (and other globals), written before load. */
  constants?: Record<string, VariableValue>;
  /** Per-map max_entries overrides. */
  maxEntries?: Record<string, number>;
  /** Load only these programs (by function name); default: all. */
  programs?: string[];
  /** Directory for maps with `pinning: LIBBPF_PIN_BY_NAME`; default /sys/fs/bpf. */
  pinPath?: string;
  /** Verifier log level for every program (1 or 2) when a log is wanted even on success. */
  logLevel?: number;
  /**
   * The BTF describing the target kernel, for CO-RE: a path (for kernels without
   * /sys/kernel/btf/vmlinux, e.g. a BTFHub file) of raw BTF or of an ELF file with a `.BTF`
   * section (a vmlinux image), or a parsed Btf. Default: the running kernel's.
   */
  kernelBtf?: string | Btf;
  /** Called with a message when tsbpf falls back (e.g. loads without BTF). Default: process warning. */
  onWarning?: (message: string) => void;
  /**
   * Values for `__kconfig` externs: the path of a kernel config file used instead of
   * /boot/config-$(uname -r) and /proc/config.gz, or values in config syntax
   * (`{ CONFIG_HZ: "250", CONFIG_BPF: "y" }`) that take precedence over the system's config.
   */
  kconfig?: KconfigSource;
}

/** Reads an object file (or takes its bytes) and returns its kernel-free CollectionSpec. */
export async function openObject(pathOrBytes: string | Uint8Array, opts: { name?: string } = {}): Promise<CollectionSpec> {
  if (typeof pathOrBytes === "string") {
    const bytes = await readFile(pathOrBytes).catch((e: NodeJS.ErrnoException) => {
      throw new ArgumentError(`open object ${pathOrBytes}: ${e.code === "ENOENT" ? "no such file" : e.message}`, { cause: e });
    });
    return loadCollectionSpec(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { name: opts.name ?? objectName(pathOrBytes) });
  }
  return loadCollectionSpec(pathOrBytes, { name: opts.name ?? "bpf_object" });
}

/** Synchronous {@link openObject}. */
export function openObjectSync(pathOrBytes: string | Uint8Array, opts: { name?: string } = {}): CollectionSpec {
  if (typeof pathOrBytes === "string") {
    if (!existsSync(pathOrBytes)) throw new ArgumentError(`open object ${pathOrBytes}: no such file`);
    const b = readFileSync(pathOrBytes);
    return loadCollectionSpec(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), { name: opts.name ?? objectName(pathOrBytes) });
  }
  return loadCollectionSpec(pathOrBytes, { name: opts.name ?? "bpf_object" });
}

function objectName(path: string): string {
  return basename(path).replace(/\.o$/, "").replace(/\.bpf$/, "");
}

/**
 * Opens and loads a BPF object file: maps are created, programs relocated and verified. Nothing is
 * attached yet (see {@link BpfObject.attachAll}). Throws ElfError/ObjectError for bad input,
 * VerifierError when the kernel rejects a program, SyscallError for privilege and resource errors.
 */
export async function loadObject(pathOrBytes: string | Uint8Array, opts: LoadOptions = {}): Promise<BpfObject> {
  return loadCollection(await openObject(pathOrBytes, opts), opts);
}

/** Synchronous {@link loadObject}. */
export function loadObjectSync(pathOrBytes: string | Uint8Array, opts: LoadOptions = {}): BpfObject {
  return loadCollection(openObjectSync(pathOrBytes, opts), opts);
}

/** LINUX_VERSION_CODE of the running kernel, as the kernel's `version` section wants it. */
export function runningKernelVersion(): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release());
  if (!m) return 0;
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(255, Number(m[3] ?? 0));
}

/** Kernel map names: at most 15 bytes of [A-Za-z0-9_.]. */
function kernelMapName(spec: CollectionSpec, m: MapSpec): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_.]/g, "_");
  if (m.definition !== "data") return clean(m.name).slice(0, 15);
  const prefix = clean(spec.name).slice(0, Math.max(0, Math.min(8, 15 - m.name.length)));
  return (prefix + clean(m.name)).slice(0, 15);
}

/**
 * Loads a (possibly edited) CollectionSpec into the kernel. On any failure everything created so
 * far is closed before the error is thrown.
 */
export function loadCollection(spec: CollectionSpec, opts: LoadOptions = {}): BpfObject {
  const warn = opts.onWarning ?? ((m: string) => process.emitWarning(m, "TsbpfWarning"));
  const owned: Array<{ close(): void }> = [];
  try {
    // Constants and max_entries overrides edit the spec's data before anything is created.
    const data = new Map<string, Uint8Array>();
    for (const m of Object.values(spec.maps)) if (m.data) data.set(m.name, m.data.slice());
    fillKconfig(spec, data.get(".kconfig"), { kconfig: opts.kconfig, warn });
    for (const [name, value] of Object.entries(opts.constants ?? {})) {
      const v = spec.variables[name];
      if (!v) {
        const known = Object.keys(spec.variables).join(", ") || "none";
        throw new ArgumentError(`set variable ${name}: the object has no global variable of that name (it has: ${known})`);
      }
      const buf = data.get(v.map);
      if (!buf) throw new ObjectError(`set variable ${name}: its section ${v.map} holds no data`);
      buf.set(encodeVariable(v, value, spec.btf), v.offset);
    }
    for (const name of Object.keys(opts.maxEntries ?? {})) {
      if (!spec.maps[name]) throw new ArgumentError(`set max_entries of map ${name}: the object has no such map (it has: ${Object.keys(spec.maps).join(", ")})`);
    }

    // The object's BTF goes to the kernel so maps and programs carry types and source lines.
    const btfFd = loadObjectBtf(spec, warn);
    if (btfFd) owned.push(btfFd);

    const maps: Record<string, BpfMap> = {};
    const wanted = opts.programs ? new Set(opts.programs) : undefined;
    if (wanted) {
      for (const p of wanted) if (!spec.programs[p]) throw new ArgumentError(`load program ${p}: the object has no such program (it has: ${Object.keys(spec.programs).join(", ")})`);
    }
    for (const m of Object.values(spec.maps)) {
      const map = createMap(spec, m, { btfFd, maxEntries: opts.maxEntries?.[m.name], pinPath: opts.pinPath, data: data.get(m.name), warn });
      owned.push(map);
      maps[m.name] = map;
    }

    const programs: Record<string, Program> = {};
    const kernVersion = runningKernelVersion();
    const coreCache = new CoreRelocationCache();
    for (const p of Object.values(spec.programs)) {
      if (wanted && !wanted.has(p.name)) continue;
      const prog = loadProgramSpec(spec, p, maps, { btfFd, kernVersion, logLevel: opts.logLevel, kernelBtf: opts.kernelBtf, coreCache });
      owned.push(prog);
      programs[p.name] = prog;
    }

    // Initial contents that refer to other objects: prog arrays and maps of maps.
    for (const m of Object.values(spec.maps)) {
      for (const c of m.contents ?? []) {
        const target = maps[m.name]!;
        if (c.value instanceof Uint8Array) target.update(c.key, c.value);
        else if ("program" in c.value) {
          const prog = programs[c.value.program];
          if (prog) target.update(c.key, prog.fd.value);
          else if (!spec.programs[c.value.program]) throw new ObjectError(`initialise map ${m.name}: slot ${c.key} names program ${c.value.program}, which the object does not define`);
          else warn(`initialise map ${m.name}: slot ${c.key} stays empty because program ${c.value.program} was not loaded (not in the programs option)`);
        } else {
          const inner = maps[c.value.map];
          if (!inner) throw new ObjectError(`initialise map ${m.name}: slot ${c.key} names map ${c.value.map}, which the object does not define`);
          target.update(c.key, inner.fd.value);
        }
      }
    }

    return new BpfObject(spec, maps, programs, btfFd);
  } catch (e) {
    for (const o of owned.reverse()) o.close();
    throw e;
  }
}

/**
 * Loads the object's BTF into the kernel. If the kernel refuses it, the BTF is sanitized for the
 * kinds this kernel lacks (probed) and tried again; failing that, the object loads without BTF.
 */
function loadObjectBtf(spec: CollectionSpec, warn: (m: string) => void): FD | undefined {
  if (!spec.btfBytes) return undefined;
  // No log first (a log that overflows fails the load with ENOSPC); a big log only to explain a refusal.
  let r = btfLoad(spec.btfBytes);
  if (!("errno" in r)) return r;
  r = btfLoad(spec.btfBytes, new Uint8Array(16 * 1024 * 1024));
  if (!("errno" in r)) return r;
  if (spec.btf) {
    const has = (k: Parameters<typeof probeBtfKind>[0]) => probeBtfKind(k).supported;
    const support = { declTag: has("decl_tag"), typeTag: has("type_tag"), float: has("float"), enum64: has("enum64"), funcLinkage: has("func_global"), func: has("func"), datasec: has("datasec") };
    if (Object.values(support).some((v) => !v)) {
      // Start from the bytes prepared for the kernel (extern entries already cleaned up).
      const again = btfLoad(sanitizeBtf(Btf.parse(spec.btfBytes), support), new Uint8Array(16 * 1024 * 1024));
      if (!("errno" in again)) {
        warn(`load BTF of ${spec.name}: the kernel lacks some BTF kinds (${Object.entries(support).filter(([, v]) => !v).map(([k]) => k).join(", ")}); loaded a sanitized copy`);
        return again;
      }
      r = again;
    }
  }
  warn(`load BTF of ${spec.name}: the kernel refused it (errno ${r.errno}); continuing without BTF, so maps have no type info and verifier messages no source lines${r.log ? `: ${r.log.trim().split("\n").slice(-2).join(" ")}` : ""}`);
  return undefined;
}

function createMap(spec: CollectionSpec, m: MapSpec, o: { btfFd?: FD; maxEntries?: number; pinPath?: string; data?: Uint8Array; warn: (m: string) => void }): BpfMap {
  const name = kernelMapName(spec, m);
  const maxEntries = o.maxEntries ?? m.maxEntries;
  const pinPath = m.pinning === "byName" ? `${o.pinPath ?? "/sys/fs/bpf"}/${m.name}` : undefined;
  if (pinPath) {
    if (pinPath.startsWith("/sys/fs/bpf")) ensureBpffs();
    if (existsSync(pinPath)) {
      const pinned = BpfMap.openPinned(pinPath);
      const i = pinned.info();
      if (i.type !== m.type || i.keySize !== m.keySize || i.valueSize !== m.valueSize || i.maxEntries !== maxEntries) {
        pinned.close();
        throw new ObjectError(`reuse pinned map ${m.name} at ${pinPath}: it differs from the object's definition (type ${i.type}/${m.type}, key ${i.keySize}/${m.keySize}, value ${i.valueSize}/${m.valueSize}, max_entries ${i.maxEntries}/${maxEntries}); remove the pin (rm ${pinPath}) to start afresh`);
      }
      return new BpfMap(pinned.fd, { name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries, flags: m.flags });
    }
  }
  let inner: BpfMap | undefined;
  // Perf event arrays sized 0 get one slot per possible CPU, as libbpf does.
  const maxEntriesFinal = m.type === MapType.PERF_EVENT_ARRAY && maxEntries === 0 ? possibleCpuCount() : maxEntries;
  if (m.innerMap) {
    inner = createMap(spec, { ...m.innerMap, pinning: "none", name: m.innerMap.name || `${m.name}.inner` }, { ...o, maxEntries: undefined, pinPath: undefined, data: undefined });
  }
  const isData = m.definition === "data";
  const flags = m.flags | (isData && m.type === MapType.ARRAY ? BPF_F_MMAPABLE : 0) | (isData && m.freeze ? BPF_F_RDONLY_PROG : 0);
  const base = {
    type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: maxEntriesFinal, mapFlags: flags, name,
    numaNode: m.numaNode, mapExtra: m.mapExtra, innerMapFd: inner?.fd.value,
  };
  let fd: FD;
  try {
    try {
      fd = o.btfFd && (m.btfKeyTypeId || m.btfValueTypeId) && !noBtfTypes.has(m.type)
        ? BpfMap.create({ ...base, btfFd: o.btfFd.value, btfKeyTypeId: m.btfKeyTypeId, btfValueTypeId: m.btfValueTypeId }).fd
        : BpfMap.create(base).fd;
    } catch (e) {
      if (!o.btfFd || !(m.btfKeyTypeId || m.btfValueTypeId) || noBtfTypes.has(m.type)) throw e;
      // Some map types take no BTF types (e.g. older kernels for certain types): retry without.
      fd = BpfMap.create(base).fd;
      o.warn(`create map ${m.name}: the kernel refused its BTF types (${(e as Error).message}); created it without type info`);
    }
  } finally {
    inner?.close();
  }
  const map = new BpfMap(fd, { name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: maxEntriesFinal, flags });
  try {
    if (isData && o.data && m.type === MapType.ARRAY) {
      if (o.data.some((b) => b !== 0)) map.update(0, o.data);
    } else if (o.data) {
      map.update(0, o.data);
    }
    // Read-only data (.rodata, .kconfig) is frozen before any program loads: only then does the
    // verifier treat its values as constants and prune the code they disable.
    if (isData && m.freeze) map.freeze();
    if (pinPath) map.pin(pinPath);
  } catch (e) {
    map.close();
    throw e;
  }
  return map;
}

/** Map types whose keys/values are fds or absent: the kernel takes no BTF types for them. */
const noBtfTypes = new Set<number>([
  MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.STACK_TRACE, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS,
  MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.SOCKHASH,
  MapType.QUEUE, MapType.STACK, MapType.REUSEPORT_SOCKARRAY, MapType.PROG_ARRAY,
]);

const BPF_PSEUDO_MAP_FD = 1;
const BPF_PSEUDO_MAP_VALUE = 2;

function loadProgramSpec(spec: CollectionSpec, p: ProgramSpec, maps: Record<string, BpfMap>, o: { btfFd?: FD; kernVersion: number; logLevel?: number; kernelBtf?: string | Btf; coreCache?: CoreRelocationCache }): Program {
  const insns = p.instructions.slice();
  // CO-RE: relocate against the kernel's BTF before map relocations; poisoned instructions are
  // remembered so a verifier rejection at one of them names the relocation.
  // Types vmlinux lacks are looked up in the loaded modules' BTF, unless a custom BTF was given.
  const kernelTarget = () => (o.kernelBtf instanceof Btf ? o.kernelBtf : loadKernelBtf(o.kernelBtf));
  const modules = o.kernelBtf === undefined ? () => kernelModuleBtfs(kernelTarget()).map((m) => m.btf) : undefined;
  const coreFailures = relocateProgram(p.name, insns, p.coreRelocations, spec.btf, kernelTarget, { littleEndian: spec.littleEndian, cache: o.coreCache, modules });
  const dv = new DataView(insns.buffer);
  const le = spec.littleEndian;
  const setSrc = (slot: number, src: number) => {
    const b = insns[slot * 8 + 1]!;
    insns[slot * 8 + 1] = le ? (b & 0x0f) | (src << 4) : (b & 0xf0) | src;
  };
  let externs: ProgramExterns | undefined;
  for (const r of p.relocations) {
    if (r.kind === "map" || r.kind === "mapValue") {
      const map = maps[r.map];
      if (!map) throw new ObjectError(`load program ${p.name}: instruction ${r.insn} refers to map ${r.map}, which was not created`);
      setSrc(r.insn, r.kind === "map" ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE);
      dv.setInt32(r.insn * 8 + 4, map.fd.value, le);
      dv.setInt32((r.insn + 1) * 8 + 4, r.kind === "mapValue" ? r.offset : 0, le);
    } else {
      // .kconfig / .ksyms externs and kfunc calls (module BTF fds are opened in prepareLoad).
      (externs ??= new ProgramExterns(spec, p.name, insns, maps)).apply(r);
    }
  }
  let funcInfo: Uint8Array | undefined;
  let lineInfo: Uint8Array | undefined;
  if (o.btfFd && p.funcInfo?.length) {
    funcInfo = new Uint8Array(p.funcInfo.length * 8);
    const f = new DataView(funcInfo.buffer);
    p.funcInfo.forEach((fi, i) => {
      f.setUint32(i * 8, fi.insnOff, true);
      f.setUint32(i * 8 + 4, fi.typeId, true);
    });
  }
  if (o.btfFd && p.lineInfo?.length) {
    lineInfo = new Uint8Array(p.lineInfo.length * 16);
    const l = new DataView(lineInfo.buffer);
    p.lineInfo.forEach((li, i) => {
      l.setUint32(i * 16, li.insnOff, true);
      l.setUint32(i * 16 + 4, li.fileNameOff, true);
      l.setUint32(i * 16 + 8, li.lineOff, true);
      l.setUint32(i * 16 + 12, li.lineCol, true);
    });
  }
  const sourceLines: SourceLine[] = (p.lineInfo ?? []).map((l) => ({ insnOff: l.insnOff, fileName: l.fileName, line: l.line, col: l.col, text: l.text }));
  // Tracing, LSM and freplace programs name their target at load time (attach_btf_id).
  const attach = resolveAttachBtf(p);
  try {
    return Program.load({
      name: p.name, type: p.type, expectedAttachType: p.expectedAttachType, instructions: insns,
      license: p.license || spec.license, kernelVersion: o.kernVersion, progFlags: p.sleepable ? 16 /* BPF_F_SLEEPABLE */ : 0,
      btfFd: o.btfFd?.value, funcInfo, lineInfo, sourceLines, logLevel: o.logLevel, fdArray: externs?.prepareLoad(),
      attachBtfId: attach?.attachBtfId, attachBtfObjFd: attach?.attachBtfObjFd?.value, attachProgFd: attach?.attachProgFd,
    });
  } catch (e) {
    throw (e instanceof VerifierError && coreErrorForVerifier(e, coreFailures)) || attach?.explainLoadError(e) || e;
  } finally {
    attach?.close();
    externs?.close();
  }
}

/** A loaded BPF object: its maps, programs and global variables. Disposable: closing it closes them all. */
export class BpfObject {
  /** The spec it was loaded from. */
  readonly spec: CollectionSpec;
  /** Maps by ELF name (`hists`, `.rodata`, `.bss`, ...). */
  readonly maps: Readonly<Record<string, BpfMap>>;
  /** Programs by function name. */
  readonly programs: Readonly<Record<string, Program>>;
  /** Global variables by name, read and written in place in the data maps' shared memory. */
  readonly variables: Readonly<Record<string, Variable>>;
  /**
   * Global variables by section (`.rodata`, `.data`, `.bss`, `.data.custom`, ...), as objects
   * whose properties read and write the variables by name, decoded by their BTF types:
   * `obj.sections[".data.custom"].calls`. See {@link bss}.
   */
  readonly sections: Readonly<Record<string, Record<string, any>>>;
  readonly #btf: FD | undefined;
  readonly #links: Link[] = [];
  #closed = false;

  constructor(spec: CollectionSpec, maps: Record<string, BpfMap>, programs: Record<string, Program>, btf?: FD) {
    this.spec = spec;
    this.maps = maps;
    this.programs = programs;
    this.#btf = btf;
    // Maps learn their key/value types from the object's BTF, for map.typed().
    if (spec.btf) {
      for (const m of Object.values(spec.maps)) {
        const map = maps[m.name];
        if (map && !map.btf && (m.btfKeyTypeId || m.btfValueTypeId)) map.setBtf(spec.btf, m.btfKeyTypeId, m.btfValueTypeId);
      }
    }
    const variables: Record<string, Variable> = {};
    const bySection: Record<string, Variable[]> = {};
    for (const v of Object.values(spec.variables)) {
      const map = maps[v.map];
      if (!map || map.type !== MapType.ARRAY) continue;
      const constant = v.constant;
      const variable = new Variable(v, () => map.memory({ writable: !constant }), spec.btf);
      variables[v.name] = variable;
      (bySection[v.map] ??= []).push(variable);
    }
    this.variables = variables;
    const sections: Record<string, Record<string, any>> = {};
    for (const name of [".rodata", ".data", ".bss", ...Object.keys(bySection)]) sections[name] ??= Variable.section(name, bySection[name] ?? []);
    this.sections = sections;
  }

  /**
   * The `.rodata` variables (`const volatile` globals) by name, decoded: `obj.rodata.targ_pid`.
   * Set them before load with the `constants` load option; assigning after load throws BpfError
   * E_READ_ONLY (the map is frozen).
   */
  get rodata(): Record<string, any> {
    return this.sections[".rodata"]!;
  }

  /** The `.data` variables (initialised globals) by name, read and written in place. */
  get data(): Record<string, any> {
    return this.sections[".data"]!;
  }

  /**
   * The `.bss` variables (zero-initialised globals) by name, read and written in place in the
   * map the program uses: `obj.bss.counter` reads the current value, `obj.bss.counter = 0n`
   * writes it. Values are decoded by BTF type (u64 as bigint, structs as objects, char[] as
   * strings); unknown names throw ArgumentError.
   */
  get bss(): Record<string, any> {
    return this.sections[".bss"]!;
  }

  /** The BTF descriptor loaded into the kernel for this object, if the kernel accepted it. */
  get btfFd(): FD | undefined {
    return this.#btf;
  }

  /** The map called `name`; throws ArgumentError listing the maps there are. */
  map(name: string): BpfMap {
    const m = this.maps[name];
    if (!m) throw new ArgumentError(`map ${name}: the object has no such map (it has: ${Object.keys(this.maps).join(", ")})`);
    return m;
  }

  /** The program called `name`; throws ArgumentError listing the programs there are. */
  program(name: string): Program {
    const p = this.programs[name];
    if (!p) throw new ArgumentError(`program ${name}: the object has no such program (it has: ${Object.keys(this.programs).join(", ")})`);
    return p;
  }

  /** The variable called `name`; throws ArgumentError listing the variables there are. */
  variable(name: string): Variable {
    const v = this.variables[name];
    if (!v) throw new ArgumentError(`variable ${name}: the object has no such global variable (it has: ${Object.keys(this.variables).join(", ")})`);
    return v;
  }

  /**
   * Attaches every program whose section name says where (tracepoint/..., raw_tracepoint/...,
   * kprobe/... where the kernel has kprobes, tp_btf/, fentry/, uprobe/..., usdt/...), and the
   * network programs whose targets are given (`{ xdp: { iface: "eth0" }, tc: {...}, cgroup: {...} }`).
   * Returns the links made and, per program that could not be attached, why. The links are closed
   * with the object.
   */
  attachAll(opts: { strict?: boolean } & AttachTargets = {}): AttachResult {
    const result: AttachResult = { links: [], skipped: [] };
    for (const [name, prog] of Object.entries(this.programs)) {
      const ps = this.spec.programs[name]!;
      try {
        const link = attachProgram(prog, ps, opts);
        if (link) {
          result.links.push(link);
          this.#links.push(link);
        } else {
          result.skipped.push({ program: name, reason: `section "${ps.section}" does not say where to attach (it needs an interface, cgroup, socket or CPU); attach it explicitly` });
        }
      } catch (e) {
        if (opts.strict) throw e;
        result.skipped.push({ program: name, reason: (e as Error).message, error: e as BpfError });
      }
    }
    return result;
  }

  /** Detaches links made by attachAll and closes every program, map and the BTF. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#links.splice(0)) l.close();
    for (const p of Object.values(this.programs)) p.close();
    for (const m of Object.values(this.maps)) m.close();
    this.#btf?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
