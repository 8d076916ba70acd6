/**
 * Program: a BPF program loaded into the kernel (it passed the verifier).
 *
 * @example
 * ```ts
 * using obj = await loadObject("test_run.bpf.o");
 * const { retval, data } = obj.programs.xdp_swap.testRun({ data: packet });
 * ```
 */
import { ArgumentError, BpfError, Errno, SyscallError, VerifierError } from "../errors.js";
import { FD } from "../sys/fd.js";
import { Cmd, getFdById, pointerTo, objGet, objGetInfoByFd, objPin, permissionError, progLoad, progTestRun, syscallError } from "../sys/bpf.js";
import type { CapabilityName } from "../sys/caps.js";
import { ensurePinPath } from "../sys/fs.js";
import { ProgramType, programTypeName } from "../spec/kernel-enums.js";

/** The name of a program type, e.g. `xdp` for BPF_PROG_TYPE_XDP. */
export function progTypeName(type: number): string {
  return programTypeName(type)?.toLowerCase() ?? `program type ${type}`;
}
import { formatSource, summarizeLog, type SourceLine } from "./verifier.js";

/** What the kernel needs to load one program. */
export interface ProgramLoadOptions {
  name: string;
  type: number;
  expectedAttachType?: number;
  /** Instructions, 8 bytes each, relocated (map fds in place). */
  instructions: Uint8Array;
  license: string;
  kernelVersion?: number;
  progFlags?: number;
  btfFd?: number;
  /** func_info records (8 bytes each: insn_off, type_id) for the kernel. */
  funcInfo?: Uint8Array;
  /** line_info records (16 bytes each) for the kernel. */
  lineInfo?: Uint8Array;
  /** Source lines used to point verifier errors at C code. */
  sourceLines?: readonly SourceLine[];
  attachBtfId?: number;
  attachBtfObjFd?: number;
  attachProgFd?: number;
  ifindex?: number;
  fdArray?: Uint8Array;
  /** Verifier log level when a log is wanted (1 = errors, 2 = every state). Default: 1, only on failure. */
  logLevel?: number;
  /** Initial log buffer size in bytes; grown on ENOSPC up to `maxLogSize`. */
  logSize?: number;
  maxLogSize?: number;
}

/** Result of BPF_PROG_TEST_RUN. */
export interface TestRunResult {
  /** The program's return value. */
  retval: number;
  /** Output packet data (as modified by the program). */
  data: Uint8Array;
  /** Output context, when a context was passed. */
  ctx?: Uint8Array;
  /** Average run time per repetition in nanoseconds. */
  duration: number;
}

/** Decoded fields of `struct bpf_prog_info`. */
export interface ProgramInfo {
  type: number;
  typeName: string;
  id: number;
  tag: string;
  name: string;
  jitedLength: number;
  xlatedLength: number;
  loadTime: bigint;
  createdByUid: number;
  mapIds: number[];
  btfId: number;
  runTimeNs: bigint;
  runCount: bigint;
  verifiedInstructions: number;
  gplCompatible: boolean;
}

const DEFAULT_LOG = 256 * 1024;
const MAX_LOG = 64 * 1024 * 1024;

/** Loads a program, retrying with a verifier log on failure. Returns the fd or throws VerifierError/SyscallError. */
export function loadProgramFd(o: ProgramLoadOptions): FD {
  const base = {
    progType: o.type, insns: o.instructions, license: o.license, kernVersion: o.kernelVersion ?? 0,
    progFlags: o.progFlags ?? 0, name: o.name.slice(0, 15), expectedAttachType: o.expectedAttachType ?? 0,
    progBtfFd: o.btfFd ?? 0, attachBtfId: o.attachBtfId, attachBtfObjFd: o.attachBtfObjFd,
    attachProgFd: o.attachProgFd, ifindex: o.ifindex, fdArray: o.fdArray,
    ...(o.btfFd && o.funcInfo?.length ? { funcInfo: o.funcInfo, funcInfoCnt: o.funcInfo.length / 8 } : {}),
    ...(o.btfFd && o.lineInfo?.length ? { lineInfo: o.lineInfo, lineInfoCnt: o.lineInfo.length / 16 } : {}),
  };
  if (o.instructions.length === 0 || o.instructions.length % 8 !== 0) {
    throw new ArgumentError(`load program ${o.name}: ${o.instructions.length} bytes of instructions is not a whole number of 8-byte instructions`);
  }
  let r = attempt(() => progLoad(o.logLevel ? { ...base, logLevel: o.logLevel, logBuf: new Uint8Array(o.logSize ?? DEFAULT_LOG) } : base));
  if (typeof r === "number") return new FD(r, `program ${o.name}`);
  // Failed: load again with a log, growing the buffer until the whole log fits.
  let size = o.logSize ?? DEFAULT_LOG;
  const max = o.maxLogSize ?? MAX_LOG;
  let log = "";
  for (;;) {
    const buf = new Uint8Array(size);
    r = attempt(() => progLoad({ ...base, logLevel: o.logLevel ?? 1, logBuf: buf }));
    if (typeof r === "number") return new FD(r, `program ${o.name}`); // passed with a log: fine
    log = decodeLog(buf);
    if (r.errno === Errno.ENOSPC && size < max) {
      size = Math.min(max, Math.max(size * 4, r.logTrueSize + 1));
      continue;
    }
    break;
  }
  throw programError(o, r.errno, log);
}

function attempt(load: () => ReturnType<typeof progLoad>): ReturnType<typeof progLoad> {
  // The kernel may answer EAGAIN when a signal interrupted verification: retry a few times.
  let r = load();
  for (let i = 0; i < 5 && typeof r !== "number" && r.errno === Errno.EAGAIN; i++) r = load();
  return r;
}

function decodeLog(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

/** Program types that need CAP_PERFMON besides CAP_BPF (they can read kernel memory). */
const perfmonTypes = new Set<number>([
  ProgramType.KPROBE, ProgramType.TRACEPOINT, ProgramType.PERF_EVENT, ProgramType.RAW_TRACEPOINT,
  ProgramType.RAW_TRACEPOINT_WRITABLE, ProgramType.TRACING, ProgramType.LSM, ProgramType.STRUCT_OPS, ProgramType.EXT,
]);

/** Program types that need CAP_NET_ADMIN besides CAP_BPF (socket filters and cgroup_skb need only CAP_BPF). */
const netAdminTypes = new Set<number>([
  ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.XDP, ProgramType.LWT_IN, ProgramType.LWT_OUT,
  ProgramType.LWT_XMIT, ProgramType.LWT_SEG6LOCAL, ProgramType.SK_SKB, ProgramType.SK_MSG, ProgramType.LIRC_MODE2,
  ProgramType.FLOW_DISSECTOR, ProgramType.CGROUP_DEVICE, ProgramType.CGROUP_SOCK, ProgramType.CGROUP_SOCK_ADDR,
  ProgramType.CGROUP_SOCKOPT, ProgramType.CGROUP_SYSCTL, ProgramType.SOCK_OPS, ProgramType.EXT, ProgramType.NETFILTER,
]);

/** The capabilities the kernel checks before loading a program of `type` (CAP_SYS_ADMIN covers them all). */
export function capabilitiesFor(type: number): CapabilityName[] {
  const caps: CapabilityName[] = ["CAP_BPF"];
  if (perfmonTypes.has(type)) caps.push("CAP_PERFMON");
  if (netAdminTypes.has(type)) caps.push("CAP_NET_ADMIN");
  return caps;
}

function programError(o: ProgramLoadOptions, errno: number, log: string): BpfError {
  if (!log.trim()) {
    if (errno === Errno.EPERM) {
      return permissionError(Cmd.PROG_LOAD, `load program ${o.name} (${progTypeName(o.type)})`, capabilitiesFor(o.type), `${progTypeName(o.type)} programs`);
    }
    if (errno === Errno.EACCES) return syscallError(Cmd.PROG_LOAD, errno, `load program ${o.name} (${progTypeName(o.type)})`);
    if (errno === Errno.EINVAL && o.license === "") {
      return new SyscallError("BPF_PROG_LOAD", errno, `load program ${o.name}: the kernel refused it (EINVAL) and the object has no license section; add char LICENSE[] SEC("license") = "GPL";`);
    }
    return syscallError(Cmd.PROG_LOAD, errno, `load program ${o.name} (${progTypeName(o.type)})`);
  }
  const s = summarizeLog(log, o.sourceLines);
  const where = s.source ? ` at ${formatSource(s.source)}` : s.instruction !== undefined ? ` at instruction ${s.instruction}` : "";
  const summary = `${s.lines.join(": ")}${where}. The full verifier log is on the error's .log property`;
  return new VerifierError(o.name, errno, log, summary, {
    instruction: s.instruction,
    sourceLine: s.source ? formatSource(s.source) : undefined,
  });
}

export class Program {
  readonly name: string;
  readonly type: number;
  readonly expectedAttachType: number;
  readonly fd: FD;
  #pinnedAt: string | undefined;

  /** Wraps a loaded program's descriptor (takes ownership). */
  constructor(fd: FD, props: { name: string; type: number; expectedAttachType?: number }) {
    this.fd = fd;
    this.name = props.name;
    this.type = props.type;
    this.expectedAttachType = props.expectedAttachType ?? 0;
  }

  /**
   * Loads a program into the kernel. Throws VerifierError (message: the decisive log lines and the
   * C source line; `.log`: the whole log) or SyscallError (EPERM: missing privileges).
   */
  static load(o: ProgramLoadOptions): Program {
    return new Program(loadProgramFd(o), { name: o.name, type: o.type, expectedAttachType: o.expectedAttachType });
  }

  /** Opens a program pinned on bpffs. */
  static openPinned(path: string): Program {
    let fd: FD;
    try {
      fd = objGet(path, 0, "pinned program");
    } catch (e) {
      if ((e as { errno?: number }).errno === Errno.ENOENT) throw new BpfError("E_NO_PIN", `open pinned program ${path}: nothing is pinned there; check the path and that bpffs is mounted`, { cause: e });
      throw e;
    }
    return Program.fromFd(fd);
  }

  /** Opens a loaded program by id (BPF_PROG_GET_FD_BY_ID). */
  static fromId(id: number): Program {
    return Program.fromFd(getFdById(Cmd.PROG_GET_FD_BY_ID, id, "program"));
  }

  /** Wraps a descriptor of unknown program, reading its type and name. Takes ownership. */
  static fromFd(fd: FD): Program {
    try {
      const info = readProgramInfo(fd.value);
      return new Program(fd, { name: info.name, type: info.type });
    } catch (e) {
      fd.close();
      if ((e as { errno?: number }).errno === Errno.EINVAL) throw new ArgumentError("open program: the object is not a BPF program", { cause: e });
      throw e;
    }
  }

  /**
   * Runs the program once (or `repeat` times) on `data` and/or `ctx` with BPF_PROG_TEST_RUN, for
   * program types that support it (XDP, TC, socket filter, flow dissector, raw_tp, syscall, ...).
   */
  testRun(opts: { data?: Uint8Array; ctx?: Uint8Array; repeat?: number; dataOutSize?: number; ctxOutSize?: number; flags?: number; cpu?: number } = {}): TestRunResult {
    const dataOut = opts.data ? new Uint8Array(opts.dataOutSize ?? opts.data.length + 256) : undefined;
    // SYSCALL programs write their context back in place (ctx_in) and refuse a separate ctx_out;
    // raw tracepoint, tracing and struct_ops test runs take a context in but none out.
    const inPlace = this.type === ProgramType.SYSCALL;
    const noCtxOut = inPlace || this.type === ProgramType.RAW_TRACEPOINT || this.type === ProgramType.TRACING || this.type === ProgramType.STRUCT_OPS;
    const ctxIn = opts.ctx && inPlace ? opts.ctx.slice() : opts.ctx;
    const ctxOut = opts.ctx && !noCtxOut ? new Uint8Array(opts.ctxOutSize ?? opts.ctx.length) : undefined;
    const r = progTestRun({ progFd: this.fd.value, dataIn: opts.data, dataOut, ctxIn, ctxOut, repeat: opts.repeat, flags: opts.flags, cpu: opts.cpu }, `program ${this.name}`);
    if (inPlace) return { retval: r.retval, duration: r.duration, data: new Uint8Array(0), ctx: ctxIn };
    return {
      retval: r.retval,
      duration: r.duration,
      data: dataOut ? dataOut.subarray(0, Math.min(r.dataSizeOut, dataOut.length)) : new Uint8Array(0),
      ctx: ctxOut ? ctxOut.subarray(0, Math.min(r.ctxSizeOut, ctxOut.length)) : undefined,
    };
  }

  /** Pins the program at `path` on bpffs. */
  pin(path: string): void {
    ensurePinPath(path, `pin program ${this.name}`);
    objPin(this.fd.value, path, `program ${this.name}`);
    this.#pinnedAt = path;
  }

  get pinnedAt(): string | undefined {
    return this.#pinnedAt;
  }

  /** The kernel's view of the program (struct bpf_prog_info). */
  info(): ProgramInfo {
    return readProgramInfo(this.fd.value, this.name);
  }

  /** Closes the descriptor; attached links keep the program alive. Idempotent. */
  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Reads `struct bpf_prog_info` (with the ids of the maps the program uses). */
export function readProgramInfo(fd: number, what = "program"): ProgramInfo {
  const buf = new Uint8Array(232);
  objGetInfoByFd(fd, buf, what);
  const v = new DataView(buf.buffer);
  const nrMaps = v.getUint32(52, true);
  let mapIds: number[] = [];
  if (nrMaps > 0) {
    // Ask again with room for the map ids.
    const ids = new Uint32Array(nrMaps);
    const buf2 = new Uint8Array(232);
    const v2 = new DataView(buf2.buffer);
    v2.setUint32(52, nrMaps, true);
    v2.setBigUint64(56, pointerTo(ids), true);
    objGetInfoByFd(fd, buf2, what);
    mapIds = [...ids];
  }
  const nameEnd = buf.subarray(64, 80).indexOf(0);
  return {
    type: v.getUint32(0, true),
    typeName: progTypeName(v.getUint32(0, true)),
    id: v.getUint32(4, true),
    tag: [...buf.subarray(8, 16)].map((b) => b.toString(16).padStart(2, "0")).join(""),
    jitedLength: v.getUint32(16, true),
    xlatedLength: v.getUint32(20, true),
    loadTime: v.getBigUint64(40, true),
    createdByUid: v.getUint32(48, true),
    mapIds,
    name: new TextDecoder().decode(buf.subarray(64, nameEnd < 0 ? 80 : 64 + nameEnd)),
    gplCompatible: (v.getUint32(84, true) & 1) === 1,
    btfId: v.getUint32(128, true),
    runTimeNs: v.getBigUint64(192, true),
    runCount: v.getBigUint64(200, true),
    verifiedInstructions: v.getUint32(216, true),
  };
}
