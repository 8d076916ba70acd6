/**
 * BTF-typed tracing programs: `SEC("tp_btf/<tracepoint>")`, and the BPF trampolines
 * `SEC("fentry/<func>")`, `fexit`, `fmod_ret` and `freplace`. Their target is fixed when the
 * program is LOADED (attach_btf_id, plus attach_btf_obj_fd for a function in a kernel module or
 * attach_prog_fd for a function in another BPF program); attaching then needs no argument.
 *
 * - {@link resolveAttachBtf} finds the BTF id the loader passes to BPF_PROG_LOAD;
 * - {@link setAttachTarget} re-targets a program spec before load (libbpf's
 *   `bpf_program__set_attach_target`): another BPF program's function (freplace, fentry on BPF),
 *   or a kernel function other than the one in the section name;
 * - {@link attachTracing} (and the aliases {@link attachFentry}, {@link attachFexit},
 *   {@link attachFmodRet}, {@link attachTpBtf}, {@link attachFreplace}) makes the link.
 *
 * Trampolines (fentry/fexit/fmod_ret/freplace, and LSM) need Linux 5.5+ on x86-64 (5.15+ arm64) built
 * with CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS and a kernel that allows them; when the kernel
 * refuses, loading throws NotSupportedError naming that feature.
 *
 * @example
 * ```ts
 * using obj = await loadObject("trace.bpf.o");           // SEC("fentry/do_nanosleep")
 * using link = attachTracing(obj.programs.on_sleep);
 * ```
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { ArgumentError, BpfError, Errno, NotSupportedError, VerifierError, errnoName } from "../errors.js";
import { Btf } from "../btf/btf.js";
import { loadKernelBtf, loadModuleBtf } from "../btf/kernel.js";
import { Cmd, getFdById, getNextId, linkCreate, objGetInfoByFd, pointerTo, rawTracepointOpen, cstringAt } from "../sys/bpf.js";
import { FD } from "../sys/fd.js";
import { missingCapabilities } from "../sys/caps.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import type { ProgramSpec } from "../spec/types.js";
import { Program as ProgramClass, readProgramInfo, type Program } from "../prog/program.js";
import { Link, isLinkUnsupported } from "./link.js";

/** What a program spec needs at BPF_PROG_LOAD to name its attach target. */
export interface AttachBtf {
  /** `attach_btf_id`: the target's BTF type id (in vmlinux, a module's BTF, or the target program's BTF). */
  attachBtfId: number;
  /** `attach_btf_obj_fd` for a target in a kernel module. The loader closes it (via {@link AttachBtf.close}) after loading. */
  attachBtfObjFd?: FD;
  /** `attach_prog_fd` for a target inside another BPF program (freplace, fentry/fexit on BPF). Not owned. */
  attachProgFd?: number;
  /** Human-readable target, e.g. `vmlinux:do_nanosleep`, `nf_conntrack:nf_confirm`, `program xdp_main:helper`. */
  target: string;
  /**
   * Turns a load failure into the error to throw (NotSupportedError when the kernel refuses
   * trampolines), or undefined to throw the original.
   */
  explainLoadError(e: unknown): Error | undefined;
  /** Releases the module BTF descriptor. Idempotent. */
  close(): void;
}

/** A target set with {@link setAttachTarget}. */
export interface AttachTarget {
  /** The function (or for tp_btf the tracepoint, for iter the iterator, for lsm the hook) name. */
  func: string;
  /** A loaded BPF program whose (global) function is the target: freplace, fentry/fexit on BPF code. */
  program?: Program;
}

const targets = new WeakMap<object, AttachTarget>();

/**
 * Sets where a tracing program attaches, before its object is loaded (libbpf's
 * `bpf_program__set_attach_target`). Needed for `SEC("freplace")` (a function of a loaded program)
 * and for sections without a target (`SEC("fentry")`). Overrides the section's target.
 */
export function setAttachTarget(spec: ProgramSpec, target: AttachTarget): void {
  if (!target.func || !/^[\w.:]+$/.test(target.func)) throw new ArgumentError(`set attach target of ${spec.name}: "${target.func}" is not a function name`);
  targets.set(spec, target);
}

/** The target previously set with {@link setAttachTarget}, if any. */
export function attachTargetOf(spec: ProgramSpec): AttachTarget | undefined {
  return targets.get(spec);
}

type SpecLike = Pick<ProgramSpec, "name" | "type" | "expectedAttachType" | "attachTo"> & { section?: string };

/** True for program kinds that run on a BPF trampoline (fentry/fexit/fmod_ret, freplace, LSM). */
export function usesTrampoline(type: number, expectedAttachType: number): boolean {
  if (type === ProgramType.EXT || type === ProgramType.LSM) return true;
  return type === ProgramType.TRACING && (expectedAttachType === AttachType.TRACE_FENTRY || expectedAttachType === AttachType.TRACE_FEXIT || expectedAttachType === AttachType.MODIFY_RETURN);
}

function kindName(type: number, eat: number): string {
  if (type === ProgramType.EXT) return "freplace";
  if (type === ProgramType.LSM) return eat === AttachType.LSM_CGROUP ? "lsm_cgroup" : "lsm";
  switch (eat) {
    case AttachType.TRACE_RAW_TP: return "tp_btf";
    case AttachType.TRACE_FENTRY: return "fentry";
    case AttachType.TRACE_FEXIT: return "fexit";
    case AttachType.MODIFY_RETURN: return "fmod_ret";
    case AttachType.TRACE_ITER: return "iter";
    default: return "tracing";
  }
}

/** The BTF name and kind that hold the target of a program kind: `btf_trace_<tp>` typedef, `bpf_iter_<name>`, `bpf_lsm_<hook>`, `<func>`. */
function btfTargetName(type: number, eat: number, name: string): { name: string; kind: "typedef" | "func" } {
  if (type === ProgramType.LSM) return { name: `bpf_lsm_${name}`, kind: "func" };
  if (eat === AttachType.TRACE_RAW_TP) return { name: `btf_trace_${name}`, kind: "typedef" };
  if (eat === AttachType.TRACE_ITER) return { name: `bpf_iter_${name}`, kind: "func" };
  return { name, kind: "func" };
}

/**
 * Finds the attach target BTF id for a tracing (tp_btf, fentry, fexit, fmod_ret, iter), LSM or
 * freplace program spec, for BPF_PROG_LOAD. Returns undefined for program kinds that need none.
 * The target comes from {@link setAttachTarget} or else from the section name
 * (`fentry/<func>`, `fentry/<module>:<func>`, `tp_btf/<tracepoint>`, `iter/<name>`, `lsm/<hook>`).
 *
 * Throws BpfError(E_NO_SYMBOL) when no BTF (vmlinux, modules, or the target program) has the
 * target; ArgumentError when the section names no target and none was set; BtfError when the
 * kernel has no BTF (CONFIG_DEBUG_INFO_BTF).
 */
export function resolveAttachBtf(spec: SpecLike): AttachBtf | undefined {
  const { type, expectedAttachType: eat } = spec;
  const isTracing = type === ProgramType.TRACING && [AttachType.TRACE_RAW_TP, AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN, AttachType.TRACE_ITER].includes(eat as 23);
  if (!isTracing && type !== ProgramType.LSM && type !== ProgramType.EXT) return undefined;
  const kind = kindName(type, eat);
  const set = targets.get(spec as object);
  const raw = set?.func ?? spec.attachTo;
  if (!raw) {
    throw new ArgumentError(`load program ${spec.name} (${kind}): the section "${spec.section ?? kind}" names no target; write SEC("${kind}/<target>") or call setAttachTarget(spec.programs.${spec.name}, { func${type === ProgramType.EXT ? ", program" : ""} }) before loading`);
  }
  const explain = (e: unknown) => explainLoadError(kind, type, eat, e);

  // A function inside another BPF program: its BTF, and attach_prog_fd.
  if (set?.program || type === ProgramType.EXT) {
    if (!set?.program) {
      throw new ArgumentError(`load program ${spec.name} (freplace/${raw}): freplace replaces a function of a loaded BPF program; call setAttachTarget(spec.programs.${spec.name}, { program, func: "${raw}" }) before loading`);
    }
    const prog = set.program;
    const btf = programBtf(prog);
    const id = btf?.findByName(raw, "func");
    if (!btf || id === undefined) {
      throw new BpfError("E_NO_SYMBOL", `load program ${spec.name} (${kind}): target program ${prog.name} ${btf ? `has no function ${raw} in its BTF (only global functions, i.e. not static, can be replaced)` : "was loaded without BTF, so its functions cannot be targeted (load it from an object built with -g)"}`);
    }
    return { attachBtfId: id, attachProgFd: prog.fd.value, target: `program ${prog.name}:${raw}`, explainLoadError: explain, close() {} };
  }

  // A kernel function: vmlinux first, then modules ("module:func" picks one).
  const colon = raw.indexOf(":");
  const module = colon > 0 ? raw.slice(0, colon) : undefined;
  const func = colon > 0 ? raw.slice(colon + 1) : raw;
  const want = btfTargetName(type, eat, func);
  if (!module) {
    const id = loadKernelBtf().findByName(want.name, want.kind);
    if (id !== undefined) return { attachBtfId: id, target: `vmlinux:${func}`, explainLoadError: explain, close() {} };
  }
  const modules = module ? [module] : listModulesWithBtf();
  for (const m of modules) {
    let btf: Btf;
    try {
      btf = loadModuleBtf(m);
    } catch (e) {
      if (module) throw e;
      continue;
    }
    const id = btf.findByName(want.name, want.kind);
    // Split BTF ids below the base's count belong to vmlinux: only ids of the module itself count.
    if (id === undefined || !ownsId(btf, id)) continue;
    const fd = moduleBtfFd(m);
    if (!fd) throw new BpfError("E_NO_SYMBOL", `load program ${spec.name} (${kind}/${raw}): module ${m} has ${want.name} in /sys/kernel/btf/${m} but the kernel lists no BTF object named ${m}`);
    let closed = false;
    return {
      attachBtfId: id, attachBtfObjFd: fd, target: `${m}:${func}`, explainLoadError: explain,
      close() {
        if (!closed) fd.close();
        closed = true;
      },
    };
  }
  const what = want.kind === "typedef" ? `tracepoint ${func} (no typedef ${want.name})` : `${kind === "fentry" || kind === "fexit" || kind === "fmod_ret" ? "function" : kind === "iter" ? "iterator" : "LSM hook"} ${func}${want.name !== func ? ` (no function ${want.name})` : ""}`;
  const where = module ? `module ${module}'s BTF` : `vmlinux BTF or the BTF of ${modules.length} loaded module(s)`;
  const hint = kind === "tp_btf"
    ? "the names are those of raw tracepoints (ls /sys/kernel/tracing/events/*/ without the category)"
    : kind === "iter"
      ? "the kernel's iterators are the bpf_iter_* functions in its BTF (e.g. task, task_file, bpf_map, bpf_map_elem, tcp, udp)"
      : "check the name with `bpftool btf dump file /sys/kernel/btf/vmlinux | grep`; static or inlined functions have no BTF entry";
  throw new BpfError("E_NO_SYMBOL", `load program ${spec.name} (${kind}/${raw}): the kernel has no ${what} in ${where}; ${hint}`);
}

function ownsId(btf: Btf, id: number): boolean {
  const base = btf.base;
  if (!base) return true;
  try {
    base.type(id);
    return false;
  } catch {
    return true;
  }
}

function listModulesWithBtf(): string[] {
  try {
    return readdirSync("/sys/kernel/btf").filter((n) => n !== "vmlinux").sort();
  } catch {
    return [];
  }
}

/** struct bpf_btf_info: btf@0 btf_size@8 id@12 name@16 name_len@24 kernel_btf@28. */
function btfInfo(fd: number, withData = false): { id: number; name: string; size: number; kernel: boolean; data?: Uint8Array } {
  const info = new Uint8Array(32);
  const v = new DataView(info.buffer);
  const name = new Uint8Array(64);
  v.setBigUint64(16, pointerTo(name), true);
  v.setUint32(24, name.length, true);
  objGetInfoByFd(fd, info, "BTF");
  const size = v.getUint32(8, true);
  const out = { id: v.getUint32(12, true), name: cstringAt(name), size, kernel: v.getUint32(28, true) !== 0 };
  if (!withData) return out;
  const data = new Uint8Array(size);
  const info2 = new Uint8Array(32);
  const v2 = new DataView(info2.buffer);
  v2.setBigUint64(0, pointerTo(data), true);
  v2.setUint32(8, size, true);
  objGetInfoByFd(fd, info2, "BTF");
  return { ...out, data };
}

/** A descriptor of the kernel BTF object of module `name` (for attach_btf_obj_fd), or undefined. */
export function moduleBtfFd(name: string): FD | undefined {
  let id = 0;
  for (;;) {
    const next = getNextId(Cmd.BTF_GET_NEXT_ID, id);
    if (next === undefined) return undefined;
    id = next;
    let fd: FD;
    try {
      fd = getFdById(Cmd.BTF_GET_FD_BY_ID, id, "BTF");
    } catch (e) {
      if ((e as { errno?: number }).errno === Errno.ENOENT) continue; // freed meanwhile
      throw e;
    }
    try {
      const i = btfInfo(fd.value);
      if (i.kernel && i.name === name) return fd;
    } catch {
      /* not readable: skip */
    }
    fd.close();
  }
}

/** The BTF a loaded program was verified with (its functions, for freplace and fentry-on-BPF), or undefined. */
export function programBtf(prog: Program): Btf | undefined {
  const { btfId } = readProgramInfo(prog.fd.value, `program ${prog.name}`);
  if (!btfId) return undefined;
  const fd = getFdById(Cmd.BTF_GET_FD_BY_ID, btfId, `BTF of program ${prog.name}`);
  try {
    const { data } = btfInfo(fd.value, true);
    return Btf.parse(data!);
  } finally {
    fd.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Errors: when the kernel refuses trampolines

let capsCache: boolean | undefined;
/** True when the process has CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON: an EPERM is then not about privileges. */
export function hasTracingPrivileges(): boolean {
  if (capsCache !== undefined) return capsCache;
  const missing = missingCapabilities(["CAP_BPF", "CAP_PERFMON"]);
  capsCache = missing === undefined ? process.getuid?.() === 0 : missing.length === 0;
  return capsCache;
}

/** A kernel config option from /proc/config.gz or /boot/config-$(uname -r): "y", "m", "n" (unset) or undefined (no config found). */
export function kernelConfigOption(name: string): string | undefined {
  let text: string | undefined;
  try {
    text = gunzipSync(readFileSync("/proc/config.gz")).toString("utf8");
  } catch {
    try {
      const rel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
      text = readFileSync(`/boot/config-${rel}`, "utf8");
    } catch {
      return undefined;
    }
  }
  const m = new RegExp(`^${name}=(.*)$`, "m").exec(text);
  return m ? m[1]!.replace(/^"|"$/g, "") : "n";
}

/** The NotSupportedError for a refused trampoline program. */
export function trampolineNotSupported(kind: string, errno: number, cause?: unknown): NotSupportedError {
  const lsm = kind === "lsm" || kind === "lsm_cgroup";
  const which = kind === "freplace" ? "freplace" : "fentry/fexit/fmod_ret";
  const feature = lsm ? "BPF LSM" : `BPF trampoline (${which})`;
  const plural = lsm ? "BPF LSM programs are" : `BPF trampolines (${which}) are`;
  const direct = kernelConfigOption("CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS");
  const bpfLsm = lsm ? kernelConfigOption("CONFIG_BPF_LSM") : undefined;
  const facts: string[] = [`the kernel refused to load the program (${errno === Errno.EPERM ? "EPERM" : errno === Errno.ENOTSUPP ? "ENOTSUPP" : `errno ${errno}`}) although this process has CAP_BPF/CAP_SYS_ADMIN`];
  if (direct === "n") facts.push("this kernel is built without CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS");
  else if (direct === "y") facts.push("its config has CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS, so a kernel policy (lockdown, a hardened or hypervisor kernel) forbids them here");
  if (bpfLsm === "n") facts.push("it is built without CONFIG_BPF_LSM");
  const alt = lsm
    ? "On a kernel with CONFIG_BPF_LSM and \"bpf\" in the lsm= boot parameter (cat /sys/kernel/security/lsm) it works; otherwise use a tracepoint"
    : "Run on a kernel that permits trampolines (e.g. a distribution kernel such as Debian's 6.1); on this one use tp_btf/raw_tracepoint or tracepoint programs instead";
  return new NotSupportedError(feature, {
    kernelConfig: lsm ? "CONFIG_BPF_LSM (and lsm=...,bpf)" : "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS",
    minimumKernel: lsm ? "5.7" : kind === "freplace" ? "5.6" : "5.5",
    hint: `${plural} not available here: ${facts.join("; ")}. ${alt}`,
    cause,
  });
}

function explainLoadError(kind: string, type: number, eat: number, e: unknown): Error | undefined {
  const errno = (e as { errno?: number }).errno;
  if (errno === undefined || !usesTrampoline(type, eat)) return undefined;
  // fmod_ret may only target functions open to error injection (ALLOW_ERROR_INJECTION) and
  // security_* hooks; kernels without CONFIG_FUNCTION_ERROR_INJECTION allow only the latter.
  if (kind === "fmod_ret" && e instanceof VerifierError && /is not modifiable/.test(e.log)) {
    const target = /([\w.]+)\(\) is not modifiable/.exec(e.log)?.[1] ?? "the target";
    return new NotSupportedError(`fmod_ret on ${target}`, {
      kernelConfig: "CONFIG_FUNCTION_ERROR_INJECTION",
      hint: `the verifier says ${target}() is not modifiable: fmod_ret can only modify functions marked ALLOW_ERROR_INJECTION (which needs CONFIG_FUNCTION_ERROR_INJECTION=${kernelConfigOption("CONFIG_FUNCTION_ERROR_INJECTION") ?? "?"} here) and security_* LSM hooks; use fexit to observe the return value instead`,
      cause: e,
    });
  }
  if ((errno === Errno.EPERM && hasTracingPrivileges()) || errno === Errno.ENOTSUPP || errno === Errno.EOPNOTSUPP) {
    return trampolineNotSupported(kind, errno, e);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Attaching

/** Options for {@link attachTracing}. */
export interface TracingOptions {
  /** A value the program reads with bpf_get_attach_cookie() (Linux 6.6+ for trampolines, 6.10+ for tp_btf). */
  cookie?: bigint;
  /**
   * Re-target (freplace, or fentry/fexit on a BPF program): attach to `func` of `program` instead
   * of the load-time target. The program must have been loaded against a function of the same
   * signature.
   */
  target?: { program: Program; func: string };
}

const tracingKinds = new Set<number>([AttachType.TRACE_RAW_TP, AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN]);

/**
 * Attaches a tp_btf, fentry, fexit, fmod_ret, freplace or LSM program to the target it was loaded
 * for: BPF_LINK_CREATE, falling back to BPF_RAW_TRACEPOINT_OPEN (Linux 5.5-5.x) where the kernel
 * has no link_create for it. Throws NotSupportedError when the kernel refuses trampolines.
 */
export function attachTracing(prog: Program, opts: TracingOptions = {}): Link {
  const { type } = prog;
  let eat = prog.expectedAttachType;
  const isTracing = type === ProgramType.TRACING && tracingKinds.has(eat);
  if (!isTracing && type !== ProgramType.EXT && type !== ProgramType.LSM) {
    throw new ArgumentError(`attach ${prog.name}: it is a ${type === ProgramType.TRACING && eat === AttachType.TRACE_ITER ? "bpf_iter program (use attachIter)" : `program of type ${type}`}, not a tp_btf, fentry, fexit, fmod_ret, freplace or lsm program`);
  }
  if (type === ProgramType.LSM && eat === AttachType.LSM_CGROUP) {
    throw new ArgumentError(`attach ${prog.name}: lsm_cgroup programs attach to a cgroup (attachCgroup), not globally`);
  }
  if (type === ProgramType.LSM) eat = AttachType.LSM_MAC;
  const kind = kindName(type, eat);
  let targetFd = 0;
  let targetBtfId = 0;
  let target = prog.name;
  if (opts.target) {
    const btf = programBtf(opts.target.program);
    const id = btf?.findByName(opts.target.func, "func");
    if (id === undefined) throw new BpfError("E_NO_SYMBOL", `attach ${kind} ${prog.name}: program ${opts.target.program.name} has no global function ${opts.target.func} in its BTF`);
    targetFd = opts.target.program.fd.value;
    targetBtfId = id;
    target = `program ${opts.target.program.name}:${opts.target.func}`;
  }
  const what = `${kind} ${prog.name}`;
  // link_create checks attach_type against the program's expected_attach_type (0 for freplace).
  try {
    const fd = linkCreate({
      progFd: prog.fd.value, targetFd, attachType: type === ProgramType.EXT ? 0 : eat,
      extra: (a) => {
        if (targetBtfId) a.u32(16, targetBtfId);
        if (opts.cookie) a.u64(24, opts.cookie);
      },
    }, what);
    return new Link({ kind, target, mechanism: "bpf_link(tracing)", linkFd: fd });
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    if (errno === Errno.EPERM && hasTracingPrivileges() && usesTrampoline(type, eat)) throw trampolineNotSupported(kind, errno, e);
    if (!isLinkUnsupported(e) || opts.cookie || targetFd) throw e;
  }
  try {
    const fd = rawTracepointOpen(prog.fd.value, null, what);
    return new Link({ kind, target, mechanism: "raw_tracepoint_open", linkFd: fd });
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    if (errno !== undefined && usesTrampoline(type, eat) && (errno === Errno.ENOTSUPP || errno === Errno.EOPNOTSUPP || (errno === Errno.EPERM && hasTracingPrivileges()))) {
      throw trampolineNotSupported(kind, errno, e);
    }
    throw e;
  }
}

/** Attaches a `SEC("tp_btf/<tracepoint>")` program (Linux 5.5+). */
export function attachTpBtf(prog: Program, opts: { cookie?: bigint } = {}): Link {
  if (prog.type !== ProgramType.TRACING || prog.expectedAttachType !== AttachType.TRACE_RAW_TP) {
    throw new ArgumentError(`attach tp_btf ${prog.name}: not a tp_btf program (SEC("tp_btf/<tracepoint>"))`);
  }
  return attachTracing(prog, opts);
}

/** Attaches a `SEC("fentry/<func>")` program. Throws NotSupportedError where the kernel refuses trampolines. */
export function attachFentry(prog: Program, opts: TracingOptions = {}): Link {
  return attachTracingKind(prog, AttachType.TRACE_FENTRY, "fentry", opts);
}

/** Attaches a `SEC("fexit/<func>")` program. Throws NotSupportedError where the kernel refuses trampolines. */
export function attachFexit(prog: Program, opts: TracingOptions = {}): Link {
  return attachTracingKind(prog, AttachType.TRACE_FEXIT, "fexit", opts);
}

/** Attaches a `SEC("fmod_ret/<func>")` program (the function must allow error injection). */
export function attachFmodRet(prog: Program, opts: TracingOptions = {}): Link {
  return attachTracingKind(prog, AttachType.MODIFY_RETURN, "fmod_ret", opts);
}

/**
 * Attaches a `SEC("freplace/<func>")` program, replacing a global function of another loaded
 * program (the one set with {@link setAttachTarget} at load, or `target`).
 */
export function attachFreplace(prog: Program, target?: { program: Program; func: string }): Link {
  if (prog.type !== ProgramType.EXT) throw new ArgumentError(`attach freplace ${prog.name}: not a freplace program (SEC("freplace/<func>"))`);
  return attachTracing(prog, { target });
}

function attachTracingKind(prog: Program, eat: number, kind: string, opts: TracingOptions): Link {
  if (prog.type !== ProgramType.TRACING || prog.expectedAttachType !== eat) {
    throw new ArgumentError(`attach ${kind} ${prog.name}: not a ${kind} program (SEC("${kind}/<func>"))`);
  }
  return attachTracing(prog, opts);
}

/** Cached result of {@link probeTrampolines}. */
let trampolineProbe: TrampolineProbe | undefined;

/** Result of {@link probeTrampolines}. */
export interface TrampolineProbe {
  supported: boolean;
  /** Why not, in one line. */
  reason?: string;
  /** The error the probe got (a NotSupportedError when the kernel refused trampolines). */
  error?: Error;
}

/** `r0 = 0; exit`. */
const RETURN_ZERO = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

/**
 * Whether this kernel lets BPF trampolines load and attach: loads a two-instruction fentry program
 * on a common kernel function and attaches it. `reason` says why not (the NotSupportedError's
 * message when the kernel refused). Cached per process.
 */
export function probeTrampolines(): TrampolineProbe {
  if (trampolineProbe) return trampolineProbe;
  let prog: Program | undefined;
  try {
    const btf = loadKernelBtf();
    const id = ["do_nanosleep", "vfs_read", "security_file_open"].map((n) => btf.findByName(n, "func")).find((x) => x !== undefined);
    if (id === undefined) return (trampolineProbe = { supported: false, reason: "no probe function (do_nanosleep, vfs_read) in the kernel BTF" });
    prog = ProgramClass.load({ name: "tsbpf_probe", type: ProgramType.TRACING, expectedAttachType: AttachType.TRACE_FENTRY, instructions: RETURN_ZERO, license: "GPL", attachBtfId: id });
    attachTracing(prog).close();
    trampolineProbe = { supported: true };
  } catch (e) {
    const err = (explainLoadError("fentry", ProgramType.TRACING, AttachType.TRACE_FENTRY, e) ?? e) as Error;
    const errno = (e as { errno?: number }).errno;
    const reason = err instanceof NotSupportedError
      ? `the kernel refused to load a probe fentry program (${errnoName(errno ?? 0)}) although the process is privileged`
      : `a probe fentry program failed: ${err.message.split("\n")[0]}`;
    trampolineProbe = { supported: false, reason, error: err };
  } finally {
    prog?.close();
  }
  return trampolineProbe;
}

/**
 * Whether the BPF LSM is active (`bpf` in /sys/kernel/security/lsm); undefined when securityfs
 * is not mounted, so it cannot be told.
 */
export function bpfLsmActive(): boolean | undefined {
  const p = "/sys/kernel/security/lsm";
  if (!existsSync(p)) return undefined;
  return readFileSync(p, "utf8").split(",").map((s) => s.trim()).includes("bpf");
}
