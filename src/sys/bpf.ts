/**
 * The bpf() system call, one function per command, with `union bpf_attr` layouts that match the
 * kernel's byte for byte (test/unit/sys-layout.test.ts checks every offset against the running
 * kernel's BTF). These functions do no policy: they encode, call, and turn -errno into
 * SyscallError. The public API (src/map, src/prog, src/link) builds on them.
 */
import { Errno, SyscallError } from "../errors.js";
import { permissionHint, type CapabilityName } from "./caps.js";
import { native, type Bytes } from "./native.js";
import { FD } from "./fd.js";

/** bpf() command numbers (enum bpf_cmd). */
export const Cmd = {
  MAP_CREATE: 0, MAP_LOOKUP_ELEM: 1, MAP_UPDATE_ELEM: 2, MAP_DELETE_ELEM: 3, MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5, OBJ_PIN: 6, OBJ_GET: 7, PROG_ATTACH: 8, PROG_DETACH: 9, PROG_TEST_RUN: 10,
  PROG_GET_NEXT_ID: 11, MAP_GET_NEXT_ID: 12, PROG_GET_FD_BY_ID: 13, MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15, PROG_QUERY: 16, RAW_TRACEPOINT_OPEN: 17, BTF_LOAD: 18,
  BTF_GET_FD_BY_ID: 19, TASK_FD_QUERY: 20, MAP_LOOKUP_AND_DELETE_ELEM: 21, MAP_FREEZE: 22,
  BTF_GET_NEXT_ID: 23, MAP_LOOKUP_BATCH: 24, MAP_LOOKUP_AND_DELETE_BATCH: 25, MAP_UPDATE_BATCH: 26,
  MAP_DELETE_BATCH: 27, LINK_CREATE: 28, LINK_UPDATE: 29, LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31, ENABLE_STATS: 32, ITER_CREATE: 33, LINK_DETACH: 34, PROG_BIND_MAP: 35,
  TOKEN_CREATE: 36,
} as const;

const cmdNames: Record<number, string> = Object.fromEntries(Object.entries(Cmd).map(([k, v]) => [v, `BPF_${k}`]));

/** The kernel name of a bpf() command, e.g. `BPF_MAP_CREATE`. */
export function cmdName(cmd: number): string {
  return cmdNames[cmd] ?? `bpf command ${cmd}`;
}

/**
 * Field offsets within `union bpf_attr`, per command. `size` is how many bytes tsbpf passes;
 * `anchor` is the first field of the command's anonymous struct (used by the layout test).
 */
export const Layout = {
  mapCreate: {
    anchor: "map_type", size: 80, map_type: 0, key_size: 4, value_size: 8, max_entries: 12, map_flags: 16,
    inner_map_fd: 20, numa_node: 24, map_name: 28, map_ifindex: 44, btf_fd: 48, btf_key_type_id: 52,
    btf_value_type_id: 56, btf_vmlinux_value_type_id: 60, map_extra: 64, value_type_btf_obj_fd: 72,
    map_token_fd: 76,
  },
  mapElem: { anchor: "map_fd", size: 32, map_fd: 0, key: 8, value: 16, next_key: 16, flags: 24 },
  batch: {
    anchor: "in_batch", size: 56, in_batch: 0, out_batch: 8, keys: 16, values: 24, count: 32, map_fd: 36,
    elem_flags: 40, flags: 48,
  },
  progLoad: {
    anchor: "prog_type", size: 148, prog_type: 0, insn_cnt: 4, insns: 8, license: 16, log_level: 24, log_size: 28,
    log_buf: 32, kern_version: 40, prog_flags: 44, prog_name: 48, prog_ifindex: 64, expected_attach_type: 68,
    prog_btf_fd: 72, func_info_rec_size: 76, func_info: 80, func_info_cnt: 88, line_info_rec_size: 92,
    line_info: 96, line_info_cnt: 104, attach_btf_id: 108, attach_prog_fd: 112, attach_btf_obj_fd: 112,
    core_relo_cnt: 116, fd_array: 120, core_relos: 128, core_relo_rec_size: 136, log_true_size: 140,
    prog_token_fd: 144,
  },
  objPin: { anchor: "pathname", size: 20, pathname: 0, bpf_fd: 8, file_flags: 12, path_fd: 16 },
  progAttach: {
    anchor: "target_fd", size: 32, target_fd: 0, attach_bpf_fd: 4, attach_type: 8, attach_flags: 12,
    replace_bpf_fd: 16, relative_fd: 20, expected_revision: 24,
  },
  testRun: {
    anchor: "prog_fd", size: 76, prog_fd: 0, retval: 4, data_size_in: 8, data_size_out: 12, data_in: 16,
    data_out: 24, repeat: 32, duration: 36, ctx_size_in: 40, ctx_size_out: 44, ctx_in: 48, ctx_out: 56,
    flags: 64, cpu: 68, batch_size: 72,
  },
  getId: { anchor: "start_id", size: 12, start_id: 0, next_id: 4, open_flags: 8 },
  info: { anchor: "bpf_fd", size: 16, bpf_fd: 0, info_len: 4, info: 8 },
  query: {
    anchor: "target_fd", size: 64, target_fd: 0, attach_type: 4, query_flags: 8, attach_flags: 12,
    prog_ids: 16, prog_cnt: 24, prog_attach_flags: 32, link_ids: 40, link_attach_flags: 48, revision: 56,
  },
  rawTracepoint: { anchor: "name", size: 16, name: 0, prog_fd: 8, cookie: 16 },
  btfLoad: {
    anchor: "btf", size: 40, btf: 0, btf_log_buf: 8, btf_size: 16, btf_log_size: 20, btf_log_level: 24,
    btf_log_true_size: 28, btf_flags: 32, btf_token_fd: 36,
  },
  linkCreate: {
    anchor: "prog_fd", size: 64, prog_fd: 0, map_fd: 0, target_fd: 4, target_ifindex: 4, attach_type: 8,
    flags: 12, target_btf_id: 16, iter_info: 16, iter_info_len: 24, perf_event_bpf_cookie: 16,
    kprobe_multi_flags: 16, kprobe_multi_cnt: 20, kprobe_multi_syms: 24, kprobe_multi_addrs: 32,
    kprobe_multi_cookies: 40, tracing_target_btf_id: 16, tracing_cookie: 24, netfilter_pf: 16,
    netfilter_hooknum: 20, netfilter_priority: 24, netfilter_flags: 28, tcx_relative_fd: 16,
    tcx_expected_revision: 24, uprobe_multi_path: 16, uprobe_multi_offsets: 24,
    uprobe_multi_ref_ctr_offsets: 32, uprobe_multi_cookies: 40, uprobe_multi_cnt: 48,
    uprobe_multi_flags: 52, uprobe_multi_pid: 56,
  },
  linkUpdate: { anchor: "link_fd", size: 16, link_fd: 0, new_prog_fd: 4, flags: 8, old_prog_fd: 12 },
  linkDetach: { anchor: "link_fd", size: 4, link_fd: 0 },
  enableStats: { anchor: "type", size: 4, type: 0 },
  iterCreate: { anchor: "link_fd", size: 8, link_fd: 0, flags: 4 },
  progBindMap: { anchor: "prog_fd", size: 12, prog_fd: 0, map_fd: 4, flags: 8 },
  taskFdQuery: {
    anchor: "pid", size: 48, pid: 0, fd: 4, flags: 8, buf_len: 12, buf: 16, prog_id: 24, fd_type: 28,
    probe_offset: 32, probe_addr: 40,
  },
} as const;

/** A zeroed attribute buffer with typed setters. Pointers are written as the buffer's address. */
export class Attr {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array((size + 7) & ~7);
    this.view = new DataView(this.bytes.buffer);
  }
  u32(off: number, v: number): this {
    this.view.setUint32(off, v >>> 0, true);
    return this;
  }
  i32(off: number, v: number): this {
    this.view.setInt32(off, v, true);
    return this;
  }
  u64(off: number, v: bigint | number): this {
    this.view.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), true);
    return this;
  }
  /** Writes the address of `buf` (0 for null). The caller keeps `buf` alive across the call. */
  ptr(off: number, buf: Bytes | null | undefined): this {
    this.view.setBigUint64(off, buf ? native().addressOf(buf) : 0n, true);
    return this;
  }
  /** Writes a NUL-padded string of at most `max - 1` bytes. */
  str(off: number, s: string, max: number): this {
    const enc = new TextEncoder().encode(s);
    this.bytes.set(enc.subarray(0, max - 1), off);
    return this;
  }
  getU32(off: number): number {
    return this.view.getUint32(off, true);
  }
}

/** Calls bpf(cmd, attr) and returns the result, throwing SyscallError on failure. */
export function bpfCall(cmd: number, attr: Attr, size: number, context?: string): number {
  const r = native().bpf(cmd, attr.bytes.subarray(0, size));
  if (r < 0) throw syscallError(cmd, -r, context);
  return r;
}

/** Calls bpf(cmd, attr) and returns the raw result (negative errno on failure). */
export function bpfTry(cmd: number, attr: Attr, size: number): number {
  return native().bpf(cmd, attr.bytes.subarray(0, size));
}

/**
 * A SyscallError for `cmd`, with `context` (e.g. `create map hists`) leading the message. An EPERM
 * from a bpf() command says what it is about: for element commands a read-only map, otherwise
 * which capability the process lacks (see {@link permissionError}).
 */
export function syscallError(cmd: number | string, errno: number, context?: string): SyscallError {
  if (typeof cmd === "number" && errno === Errno.EPERM) {
    if (readOnlyCommands.has(cmd)) {
      return new SyscallError(cmdName(cmd), errno, `${context ? `${context}: ` : ""}${cmdName(cmd)} failed: operation not permitted (EPERM). The map is read-only for user space: frozen (BPF_MAP_FREEZE, as .rodata is after load), opened read-only, or created with BPF_F_RDONLY`);
    }
    return permissionError(cmd, context, sysAdminCommands.has(cmd) ? ["CAP_SYS_ADMIN"] : ["CAP_BPF"], `${cmdName(cmd)} calls`);
  }
  const name = typeof cmd === "number" ? cmdName(cmd) : cmd;
  const base = new SyscallError(name, errno);
  return context ? new SyscallError(name, errno, `${context}: ${base.message}`) : base;
}

/**
 * The SyscallError for an EPERM from `cmd` when the operation needs `needed`: it names the
 * capabilities this process lacks (`what` says who needs them, e.g. "raw_tracepoint programs").
 */
export function permissionError(cmd: number, context: string | undefined, needed: readonly CapabilityName[], what: string): SyscallError {
  const name = cmdName(cmd);
  return new SyscallError(name, Errno.EPERM, `${context ? `${context}: ` : ""}${name} failed: operation not permitted (EPERM): ${permissionHint(needed, what)}`);
}

/** Element commands, whose EPERM means the map is read-only for user space, not missing privileges. */
const readOnlyCommands = new Set<number>([
  Cmd.MAP_UPDATE_ELEM, Cmd.MAP_DELETE_ELEM, Cmd.MAP_LOOKUP_AND_DELETE_ELEM, Cmd.MAP_UPDATE_BATCH,
  Cmd.MAP_DELETE_BATCH, Cmd.MAP_LOOKUP_AND_DELETE_BATCH,
]);

/** Commands that need CAP_SYS_ADMIN rather than CAP_BPF: walking and opening other processes' objects, stats. */
const sysAdminCommands = new Set<number>([
  Cmd.PROG_GET_NEXT_ID, Cmd.MAP_GET_NEXT_ID, Cmd.BTF_GET_NEXT_ID, Cmd.LINK_GET_NEXT_ID, Cmd.PROG_GET_FD_BY_ID,
  Cmd.MAP_GET_FD_BY_ID, Cmd.BTF_GET_FD_BY_ID, Cmd.LINK_GET_FD_BY_ID, Cmd.ENABLE_STATS,
]);

/** Map types whose creation needs CAP_NET_ADMIN besides CAP_BPF: devmap, devmap_hash, xskmap, sockmap, sockhash. */
const netAdminMapTypes = new Set<number>([14 /* DEVMAP */, 15 /* SOCKMAP */, 17 /* XSKMAP */, 18 /* SOCKHASH */, 25 /* DEVMAP_HASH */]);

const NUL = new Uint8Array(1);

/** The address of a buffer, for info structs that carry pointers. Keep `buf` alive while the kernel uses it. */
export function pointerTo(buf: Bytes): bigint {
  return native().addressOf(buf);
}

/** C string bytes for a pointer argument. */
export function cstring(s: string): Uint8Array {
  const enc = new TextEncoder().encode(s);
  const out = new Uint8Array(enc.length + 1);
  out.set(enc);
  return enc.length === 0 ? NUL : out;
}

// ---------------------------------------------------------------------------------------------
// Maps

export interface MapCreateAttr {
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags?: number;
  innerMapFd?: number;
  numaNode?: number;
  name?: string;
  ifindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  mapExtra?: bigint;
  valueTypeBtfObjFd?: number;
}

/** BPF_MAP_CREATE. Returns the new map's descriptor. */
export function mapCreate(a: MapCreateAttr, what = `map ${a.name ?? ""}`.trim()): FD {
  const L = Layout.mapCreate;
  const attr = new Attr(L.size)
    .u32(L.map_type, a.mapType).u32(L.key_size, a.keySize).u32(L.value_size, a.valueSize)
    .u32(L.max_entries, a.maxEntries).u32(L.map_flags, a.mapFlags ?? 0).u32(L.inner_map_fd, a.innerMapFd ?? 0)
    .u32(L.numa_node, a.numaNode ?? 0).str(L.map_name, a.name ?? "", 16).u32(L.map_ifindex, a.ifindex ?? 0)
    .u32(L.btf_fd, a.btfFd ?? 0).u32(L.btf_key_type_id, a.btfKeyTypeId ?? 0)
    .u32(L.btf_value_type_id, a.btfValueTypeId ?? 0).u32(L.btf_vmlinux_value_type_id, a.btfVmlinuxValueTypeId ?? 0)
    .u64(L.map_extra, a.mapExtra ?? 0n).u32(L.value_type_btf_obj_fd, a.valueTypeBtfObjFd ?? 0);
  // Pass only as much of the attr as was used, so older kernels (which reject unknown non-zero
  // tails but also unknown sizes with garbage) accept it.
  const size = a.valueTypeBtfObjFd ? L.value_type_btf_obj_fd + 4 : a.mapExtra ? L.map_extra + 8 : L.btf_vmlinux_value_type_id + 4;
  const r = bpfTry(Cmd.MAP_CREATE, attr, size);
  if (r >= 0) return new FD(r, what);
  if (-r === Errno.EPERM && netAdminMapTypes.has(a.mapType)) {
    throw permissionError(Cmd.MAP_CREATE, `create ${what}`, ["CAP_BPF", "CAP_NET_ADMIN"], "devmap, xskmap, sockmap and sockhash maps");
  }
  throw syscallError(Cmd.MAP_CREATE, -r, `create ${what}`);
}

/** BPF_MAP_LOOKUP_ELEM into `value`. Returns 0, or -errno (ENOENT when absent). */
export function mapLookupElem(fd: number, key: Bytes | null, value: Bytes, flags = 0): number {
  return native().mapLookup(fd, key, value, flags);
}

/** BPF_MAP_UPDATE_ELEM. Returns 0 or -errno. */
export function mapUpdateElem(fd: number, key: Bytes | null, value: Bytes, flags = 0): number {
  return native().mapUpdate(fd, key, value, flags);
}

/** BPF_MAP_DELETE_ELEM. Returns 0 or -errno. */
export function mapDeleteElem(fd: number, key: Bytes | null, flags = 0): number {
  return native().mapDelete(fd, key, null, flags);
}

/** BPF_MAP_LOOKUP_AND_DELETE_ELEM (also pops queues and stacks with a null key). */
export function mapLookupAndDeleteElem(fd: number, key: Bytes | null, value: Bytes | null, flags = 0): number {
  return native().mapLookupAndDelete(fd, key, value, flags);
}

/** BPF_MAP_GET_NEXT_KEY: `key` null asks for the first key. Returns 0 or -errno (ENOENT at the end). */
export function mapGetNextKey(fd: number, key: Bytes | null, next: Bytes): number {
  return native().mapNextKey(fd, key, next);
}

/** BPF_MAP_FREEZE: user space can no longer write the map. */
export function mapFreeze(fd: number, what = "map"): void {
  const attr = new Attr(8).u32(Layout.mapElem.map_fd, fd);
  bpfCall(Cmd.MAP_FREEZE, attr, 4, `freeze ${what}`);
}

export interface BatchAttr {
  mapFd: number;
  inBatch: Bytes | null;
  outBatch: Bytes | null;
  keys: Bytes | null;
  values: Bytes | null;
  count: number;
  elemFlags?: number;
  flags?: number;
}

/**
 * One of the MAP_*_BATCH commands. Returns `{ err, count }` where err is 0 or -errno (ENOENT
 * means the walk is complete) and count is how many elements the kernel processed.
 */
export function mapBatch(cmd: number, a: BatchAttr): { err: number; count: number } {
  const L = Layout.batch;
  const attr = new Attr(L.size)
    .ptr(L.in_batch, a.inBatch).ptr(L.out_batch, a.outBatch).ptr(L.keys, a.keys).ptr(L.values, a.values)
    .u32(L.count, a.count).u32(L.map_fd, a.mapFd).u64(L.elem_flags, a.elemFlags ?? 0).u64(L.flags, a.flags ?? 0);
  const err = bpfTry(cmd, attr, L.size);
  return { err: err < 0 ? err : 0, count: attr.getU32(L.count) };
}

// ---------------------------------------------------------------------------------------------
// Programs

export interface ProgLoadAttr {
  progType: number;
  insns: Uint8Array;
  license: string;
  logLevel?: number;
  logBuf?: Uint8Array;
  kernVersion?: number;
  progFlags?: number;
  name?: string;
  ifindex?: number;
  expectedAttachType?: number;
  progBtfFd?: number;
  funcInfo?: Uint8Array;
  funcInfoCnt?: number;
  lineInfo?: Uint8Array;
  lineInfoCnt?: number;
  attachBtfId?: number;
  attachProgFd?: number;
  attachBtfObjFd?: number;
  fdArray?: Uint8Array;
}

/** BPF_PROG_LOAD. Returns the descriptor, or `{ errno, logTrueSize }` so the caller can retry or report. */
export function progLoad(a: ProgLoadAttr): number | { errno: number; logTrueSize: number } {
  const L = Layout.progLoad;
  const license = cstring(a.license);
  const attr = new Attr(L.size)
    .u32(L.prog_type, a.progType).u32(L.insn_cnt, a.insns.length / 8).ptr(L.insns, a.insns)
    .ptr(L.license, license).u32(L.log_level, a.logBuf ? (a.logLevel ?? 1) : 0)
    .u32(L.log_size, a.logBuf ? a.logBuf.length : 0).ptr(L.log_buf, a.logBuf ?? null)
    .u32(L.kern_version, a.kernVersion ?? 0).u32(L.prog_flags, a.progFlags ?? 0).str(L.prog_name, a.name ?? "", 16)
    .u32(L.prog_ifindex, a.ifindex ?? 0).u32(L.expected_attach_type, a.expectedAttachType ?? 0)
    .u32(L.prog_btf_fd, a.progBtfFd ?? 0).u32(L.attach_btf_id, a.attachBtfId ?? 0)
    .u32(L.attach_prog_fd, a.attachProgFd ?? a.attachBtfObjFd ?? 0).ptr(L.fd_array, a.fdArray ?? null);
  if (a.funcInfo && a.funcInfoCnt) {
    attr.u32(L.func_info_rec_size, a.funcInfo.length / a.funcInfoCnt).ptr(L.func_info, a.funcInfo).u32(L.func_info_cnt, a.funcInfoCnt);
  }
  if (a.lineInfo && a.lineInfoCnt) {
    attr.u32(L.line_info_rec_size, a.lineInfo.length / a.lineInfoCnt).ptr(L.line_info, a.lineInfo).u32(L.line_info_cnt, a.lineInfoCnt);
  }
  const r = native().bpf(Cmd.PROG_LOAD, attr.bytes.subarray(0, L.log_true_size + 4));
  if (r >= 0) return r;
  return { errno: -r, logTrueSize: attr.getU32(L.log_true_size) };
}

export interface TestRunAttr {
  progFd: number;
  dataIn?: Uint8Array;
  dataOut?: Uint8Array;
  ctxIn?: Uint8Array;
  ctxOut?: Uint8Array;
  repeat?: number;
  flags?: number;
  cpu?: number;
  batchSize?: number;
}

export interface TestRunResult {
  retval: number;
  duration: number;
  dataSizeOut: number;
  ctxSizeOut: number;
}

/** BPF_PROG_TEST_RUN. Throws SyscallError on failure. */
export function progTestRun(a: TestRunAttr, what = "program"): TestRunResult {
  const L = Layout.testRun;
  const attr = new Attr(L.size)
    .u32(L.prog_fd, a.progFd).u32(L.data_size_in, a.dataIn?.length ?? 0).u32(L.data_size_out, a.dataOut?.length ?? 0)
    .ptr(L.data_in, a.dataIn ?? null).ptr(L.data_out, a.dataOut ?? null).u32(L.repeat, a.repeat ?? 0)
    .u32(L.ctx_size_in, a.ctxIn?.length ?? 0).u32(L.ctx_size_out, a.ctxOut?.length ?? 0)
    .ptr(L.ctx_in, a.ctxIn ?? null).ptr(L.ctx_out, a.ctxOut ?? null).u32(L.flags, a.flags ?? 0)
    .u32(L.cpu, a.cpu ?? 0).u32(L.batch_size, a.batchSize ?? 0);
  bpfCall(Cmd.PROG_TEST_RUN, attr, a.batchSize ? L.size : L.cpu + 4, `test-run ${what}`);
  return {
    retval: attr.getU32(L.retval) | 0,
    duration: attr.getU32(L.duration),
    dataSizeOut: attr.getU32(L.data_size_out),
    ctxSizeOut: attr.getU32(L.ctx_size_out),
  };
}

// ---------------------------------------------------------------------------------------------
// Pins, ids, info

/** BPF_OBJ_PIN: pins `fd` at `path` on a bpf file system. */
export function objPin(fd: number, path: string, what = "object"): void {
  const L = Layout.objPin;
  const p = cstring(path);
  bpfCall(Cmd.OBJ_PIN, new Attr(L.size).ptr(L.pathname, p).u32(L.bpf_fd, fd), L.size, `pin ${what} at ${path}`);
}

/** BPF_OBJ_GET: opens the object pinned at `path`. `fileFlags` may be BPF_F_RDONLY (8) / BPF_F_WRONLY (16). */
export function objGet(path: string, fileFlags = 0, what = "pinned object"): FD {
  const L = Layout.objPin;
  const p = cstring(path);
  const fd = bpfCall(Cmd.OBJ_GET, new Attr(L.size).ptr(L.pathname, p).u32(L.file_flags, fileFlags), L.size, `open ${what} ${path}`);
  return new FD(fd, `${what} ${path}`);
}

/** BPF_OBJ_GET_INFO_BY_FD into `info` (whose length is the size asked for). Returns the size the kernel filled. */
export function objGetInfoByFd(fd: number, info: Uint8Array, what = "object"): number {
  const L = Layout.info;
  const attr = new Attr(L.size).u32(L.bpf_fd, fd).u32(L.info_len, info.length).ptr(L.info, info);
  bpfCall(Cmd.OBJ_GET_INFO_BY_FD, attr, L.size, `get info of ${what}`);
  return attr.getU32(L.info_len);
}

/** One of the *_GET_NEXT_ID commands. Returns the next id, or undefined at the end. */
export function getNextId(cmd: number, startId: number): number | undefined {
  const L = Layout.getId;
  const attr = new Attr(L.size).u32(L.start_id, startId);
  const r = bpfTry(cmd, attr, L.size);
  if (r < 0) {
    if (-r === 2) return undefined;
    throw syscallError(cmd, -r);
  }
  return attr.getU32(L.next_id);
}

/** One of the *_GET_FD_BY_ID commands. */
export function getFdById(cmd: number, id: number, what: string, openFlags = 0): FD {
  const L = Layout.getId;
  const attr = new Attr(L.size).u32(L.start_id, id).u32(L.open_flags, openFlags);
  return new FD(bpfCall(cmd, attr, L.size, `open ${what} id ${id}`), `${what} id ${id}`);
}

// ---------------------------------------------------------------------------------------------
// BTF, links, attach

/** BPF_BTF_LOAD. Returns the descriptor, or `{ errno, log }` when the kernel refused it. */
export function btfLoad(btf: Uint8Array, logBuf?: Uint8Array): FD | { errno: number; log: string } {
  const L = Layout.btfLoad;
  const attr = new Attr(L.size).ptr(L.btf, btf).u32(L.btf_size, btf.length)
    .ptr(L.btf_log_buf, logBuf ?? null).u32(L.btf_log_size, logBuf?.length ?? 0).u32(L.btf_log_level, logBuf ? 1 : 0);
  const r = bpfTry(Cmd.BTF_LOAD, attr, L.btf_log_level + 4);
  if (r >= 0) return new FD(r, "BTF");
  return { errno: -r, log: logBuf ? cstringAt(logBuf) : "" };
}

/** Decodes a NUL-terminated string from the start of `buf`. */
export function cstringAt(buf: Uint8Array, off = 0, max = buf.length - off): string {
  let end = off;
  while (end < off + max && buf[end] !== 0) end++;
  return new TextDecoder().decode(buf.subarray(off, end));
}

export interface LinkCreateAttr {
  progFd: number;
  targetFd?: number;
  targetIfindex?: number;
  attachType: number;
  flags?: number;
  /** Bytes written at offset 16 (the command-specific union), already laid out by the caller. */
  extra?: (attr: Attr) => void;
}

/** BPF_LINK_CREATE. */
export function linkCreate(a: LinkCreateAttr, what: string): FD {
  const L = Layout.linkCreate;
  const attr = new Attr(L.size).u32(L.prog_fd, a.progFd).u32(L.target_fd, a.targetFd ?? a.targetIfindex ?? 0)
    .u32(L.attach_type, a.attachType).u32(L.flags, a.flags ?? 0);
  a.extra?.(attr);
  return new FD(bpfCall(Cmd.LINK_CREATE, attr, L.size, `attach ${what}`), `link ${what}`);
}

/** BPF_LINK_UPDATE: replaces the program of a link. */
export function linkUpdate(linkFd: number, newProgFd: number, oldProgFd = 0): void {
  const L = Layout.linkUpdate;
  const attr = new Attr(L.size).u32(L.link_fd, linkFd).u32(L.new_prog_fd, newProgFd)
    .u32(L.flags, oldProgFd ? 4 /* BPF_F_REPLACE */ : 0).u32(L.old_prog_fd, oldProgFd);
  bpfCall(Cmd.LINK_UPDATE, attr, L.size, "update link");
}

/** BPF_LINK_DETACH: detaches the link's program while keeping the link fd. */
export function linkDetach(linkFd: number): void {
  bpfCall(Cmd.LINK_DETACH, new Attr(8).u32(0, linkFd), Layout.linkDetach.size, "detach link");
}

/** BPF_RAW_TRACEPOINT_OPEN: attaches a raw tracepoint (or, with name null, a BTF-typed program). */
export function rawTracepointOpen(progFd: number, name: string | null, what: string): FD {
  const L = Layout.rawTracepoint;
  const n = name === null ? null : cstring(name);
  const attr = new Attr(24).ptr(L.name, n).u32(L.prog_fd, progFd);
  return new FD(bpfCall(Cmd.RAW_TRACEPOINT_OPEN, attr, L.size, `attach ${what}`), `link ${what}`);
}

/** BPF_PROG_ATTACH / BPF_PROG_DETACH (legacy cgroup, sockmap, flow dissector, lirc attachment). */
export function progAttach(cmd: number, targetFd: number, progFd: number, attachType: number, flags = 0, replaceFd = 0): void {
  const L = Layout.progAttach;
  const attr = new Attr(L.size).u32(L.target_fd, targetFd).u32(L.attach_bpf_fd, progFd)
    .u32(L.attach_type, attachType).u32(L.attach_flags, flags).u32(L.replace_bpf_fd, replaceFd);
  bpfCall(cmd, attr, L.replace_bpf_fd + 4, cmd === Cmd.PROG_ATTACH ? "attach program" : "detach program");
}

/** BPF_ENABLE_STATS (BPF_STATS_RUN_TIME = 0): returns an fd; stats stay on while it is open. */
export function enableStats(type = 0): FD {
  return new FD(bpfCall(Cmd.ENABLE_STATS, new Attr(8).u32(0, type), 4, "enable BPF run-time stats"), "stats");
}

/** BPF_ITER_CREATE: a readable fd that runs the iterator program of `linkFd`. */
export function iterCreate(linkFd: number): FD {
  return new FD(bpfCall(Cmd.ITER_CREATE, new Attr(8).u32(0, linkFd), 8, "create iterator"), "iterator");
}

/** BPF_PROG_BIND_MAP: keeps `mapFd` alive as long as the program. */
export function progBindMap(progFd: number, mapFd: number): void {
  const L = Layout.progBindMap;
  bpfCall(Cmd.PROG_BIND_MAP, new Attr(L.size).u32(L.prog_fd, progFd).u32(L.map_fd, mapFd), L.size, "bind map to program");
}
