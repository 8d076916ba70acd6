/**
 * Kernel feature probes: which map types, program types, helpers and BTF kinds the running kernel
 * accepts, found by asking it (creating a tiny map, loading a two-instruction program, loading a
 * one-type BTF). Results are cached per process.
 *
 * @example
 * ```ts
 * import { probeMapType, probeHelper, MapType, ProgramType } from "tsbpf";
 * probeMapType(MapType.RINGBUF);                       // true on Linux 5.8+
 * probeHelper(ProgramType.XDP, "ktime_get_ns");        // true
 * ```
 */
import { Errno, errnoName } from "../errors.js";
import { summarizeLog } from "../prog/verifier.js";
import { AttachType, MapType, ProgramType } from "../spec/kernel-enums.js";
import { helperId } from "../asm/helpers.js";
import { BtfBuilder } from "../btf/writer.js";
import { loadKernelBtf } from "../btf/kernel.js";
import { btfLoad, mapCreate, progLoad } from "../sys/bpf.js";
import { native } from "../sys/native.js";
import type { FD } from "../sys/fd.js";

/** A probe's answer: supported, or not with the kernel's reason (errno name or verifier line). */
export interface ProbeResult {
  supported: boolean;
  detail: string;
}

const cache = new Map<string, ProbeResult>();
function cached(key: string, run: () => ProbeResult): ProbeResult {
  let r = cache.get(key);
  if (!r) cache.set(key, (r = run()));
  return r;
}

/** A BTF with `int` (id 1) and `struct { int }` (id 2), for map types that require BTF. The caller closes it. */
function probeBtf(): FD | undefined {
  const b = new BtfBuilder();
  const int = b.add({ kind: "int", name: "int", size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false });
  b.add({ kind: "struct", name: "probe_val", size: 4, members: [{ name: "v", typeId: int, bitOffset: 0, bitfieldSize: 0 }] });
  const r = btfLoad(b.toBytes());
  return "errno" in r ? undefined : r;
}

const NO_PREALLOC = 1;

/** Whether the kernel can create maps of `type` (BPF_MAP_CREATE with minimal, valid attributes). */
export function probeMapType(type: number): ProbeResult {
  return cached(`map:${type}`, () => {
    let keySize = 4, valueSize = 4, maxEntries = 1, flags = 0, btfKey = 0, btfValue = 0;
    let mapExtra = 0n;
    let inner: FD | undefined;
    let btf: FD | undefined;
    switch (type) {
      case MapType.LPM_TRIE: keySize = 8; flags = NO_PREALLOC; break;
      case MapType.STACK_TRACE: valueSize = 8; break;
      case MapType.QUEUE: case MapType.STACK: keySize = 0; break;
      case MapType.BLOOM_FILTER: keySize = 0; mapExtra = 1n; break;
      case MapType.RINGBUF: case MapType.USER_RINGBUF: keySize = 0; valueSize = 0; maxEntries = 4096; break;
      case MapType.CGROUP_STORAGE: case MapType.PERCPU_CGROUP_STORAGE: keySize = 16; maxEntries = 0; break;
      case MapType.SK_STORAGE: case MapType.INODE_STORAGE: case MapType.TASK_STORAGE: case MapType.CGRP_STORAGE:
        flags = NO_PREALLOC; maxEntries = 0; btf = probeBtf(); btfKey = 1; btfValue = 2; break;
      case MapType.ARRAY_OF_MAPS: case MapType.HASH_OF_MAPS:
        try {
          inner = mapCreate({ mapType: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: "probe_inner" });
        } catch (e) {
          return { supported: false, detail: `inner array map: ${(e as Error).message}` };
        }
        break;
      case MapType.STRUCT_OPS:
        return { supported: false, detail: "struct_ops maps need a kernel struct type; probe by loading a struct_ops object" };
      case MapType.ARENA: flags = 0x400; maxEntries = 1; keySize = 0; valueSize = 0; break;
    }
    try {
      const fd = mapCreate({ mapType: type, keySize, valueSize, maxEntries, mapFlags: flags, innerMapFd: inner?.value, btfFd: btf?.value, btfKeyTypeId: btfKey, btfValueTypeId: btfValue, mapExtra, name: "probe" });
      fd.close();
      return { supported: true, detail: "created" };
    } catch (e) {
      const errno = (e as { errno?: number }).errno ?? 0;
      return { supported: false, detail: errno === Errno.EINVAL ? "EINVAL: unknown map type or unsupported attributes" : (e as Error).message };
    } finally {
      inner?.close();
      btf?.close();
    }
  });
}

/** r0 = 0; exit */
const RETURN_ZERO = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

/**
 * The expected_attach_type a probe program of each type is loaded with. BPF_PROG_LOAD rejects
 * these types with EINVAL unless it names one of their attach points (cgroup_sock and
 * sk_reuseport would be given a default by the kernel; named here so every probe says what it
 * asked for).
 */
const PROBE_ATTACH_TYPE: Partial<Record<number, number>> = {
  [ProgramType.CGROUP_SOCK]: AttachType.CGROUP_INET_SOCK_CREATE,
  [ProgramType.CGROUP_SOCK_ADDR]: AttachType.CGROUP_INET4_CONNECT,
  [ProgramType.CGROUP_SOCKOPT]: AttachType.CGROUP_GETSOCKOPT,
  [ProgramType.LIRC_MODE2]: AttachType.LIRC_MODE2,
  [ProgramType.SK_REUSEPORT]: AttachType.SK_REUSEPORT_SELECT,
  [ProgramType.SK_LOOKUP]: AttachType.SK_LOOKUP,
  [ProgramType.NETFILTER]: AttachType.NETFILTER,
  [ProgramType.TRACING]: AttachType.TRACE_FENTRY,
  [ProgramType.LSM]: AttachType.LSM_MAC,
};

/**
 * Kernel functions a probe fentry program targets, first one the kernel's BTF has wins:
 * bpf_fentry_test1 exists for the kernel's own trampoline tests and nothing else calls it.
 */
export const PROBE_KERNEL_FUNCTIONS = ["bpf_fentry_test1", "do_nanosleep", "vfs_read"];
/** The LSM hook a probe LSM program targets. */
const PROBE_LSM_HOOK = "bpf_lsm_file_open";

/** The first of `names` that is a function in the kernel's BTF, with its id; undefined without kernel BTF. */
export function kernelBtfFunction(names: readonly string[]): { name: string; id: number } | undefined {
  let btf;
  try {
    btf = loadKernelBtf();
  } catch {
    return undefined;
  }
  for (const name of names) {
    const id = btf.findByName(name, "func");
    if (id !== undefined) return { name, id };
  }
  return undefined;
}

/** Types that need an attach target at load time that a probe cannot name (a BPF program, a struct_ops type). */
const needsTarget = new Set<number>([ProgramType.EXT, ProgramType.STRUCT_OPS]);

/** What BPF_PROG_LOAD said to a probe program: the descriptor (caller closes it) or the errno and log. */
export interface ProbeLoad {
  fd?: number;
  errno: number;
  log: string;
}

/**
 * Loads a probe program of `type` (`r0 = 0; exit` unless `insns` is given) with the attach type
 * and, for tracing and LSM, the kernel BTF target that type needs. `expectedAttachType` overrides
 * the attach type (e.g. kprobe.multi for a kprobe program).
 */
export function loadProbeProgram(type: number, insns: Uint8Array = RETURN_ZERO, expectedAttachType = PROBE_ATTACH_TYPE[type] ?? 0): ProbeLoad {
  let attachBtfId = 0;
  if (type === ProgramType.TRACING || type === ProgramType.LSM) {
    const target = kernelBtfFunction(type === ProgramType.LSM ? [PROBE_LSM_HOOK] : PROBE_KERNEL_FUNCTIONS);
    if (!target) return { errno: Errno.ENOENT, log: `no ${type === ProgramType.LSM ? PROBE_LSM_HOOK : "probe target function"} in the kernel's BTF (/sys/kernel/btf/vmlinux)` };
    attachBtfId = target.id;
  }
  const log = new Uint8Array(4096);
  // SYSCALL programs must be sleepable (BPF_F_SLEEPABLE).
  const progFlags = type === ProgramType.SYSCALL ? 16 : 0;
  const r = progLoad({ progType: type, insns, license: "GPL", logBuf: log, logLevel: 1, expectedAttachType, attachBtfId, name: "probe", progFlags });
  const text = new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0))));
  if (typeof r === "number") return { fd: r, errno: 0, log: text };
  return { errno: r.errno, log: text };
}

/** A failed probe load as a ProbeResult: the verifier's decisive line, else the errno. */
export function loadFailure(r: ProbeLoad): ProbeResult {
  if (r.errno === Errno.EPERM) return { supported: false, detail: "EPERM: not permitted (privileges, or the kernel refuses this type here)" };
  return { supported: false, detail: summarizeLog(r.log).lines.join(": ") || errnoName(r.errno) };
}

/**
 * Whether the kernel can load programs of `type`. Each type is loaded with an attach type it
 * accepts (cgroup_sock_addr as inet4_connect, sk_lookup, netfilter, tracing as fentry on a kernel
 * function, LSM on file_open, ...); ext and struct_ops, which need a BPF program or a struct_ops
 * type as their target, are reported as needing one rather than guessed.
 */
export function probeProgramType(type: number): ProbeResult {
  return cached(`prog:${type}`, () => {
    if (needsTarget.has(type)) {
      return { supported: false, detail: "needs an attach target at load time (a BPF program or struct_ops type); probed when such a program is loaded" };
    }
    const r = loadProbeProgram(type);
    if (r.fd !== undefined) {
      native().close(r.fd);
      return { supported: true, detail: "loaded" };
    }
    return loadFailure(r);
  });
}

/**
 * Whether programs of `progType` may call helper `helper` (a name without the `bpf_` prefix, or an
 * id): loads `call helper; r0 = 0; exit` and reads the verifier's answer, as libbpf does.
 */
export function probeHelper(progType: number, helper: string | number): ProbeResult {
  const id = typeof helper === "number" ? helper : helperId(helper.replace(/^bpf_/, ""));
  if (id === undefined) return { supported: false, detail: `no helper called ${helper}` };
  return cached(`helper:${progType}:${id}`, () => {
    const insns = new Uint8Array(24);
    insns.set([0x85, 0, 0, 0], 0);
    new DataView(insns.buffer).setInt32(4, id, true);
    insns.set(RETURN_ZERO, 8);
    const r = loadProbeProgram(progType, insns);
    if (r.fd !== undefined) {
      native().close(r.fd);
      return { supported: true, detail: "loaded" };
    }
    const unknown = /invalid func|unknown func|program of this type cannot use helper|helper call is not allowed|cannot call GPL-restricted/.exec(r.log);
    if (unknown) return { supported: false, detail: r.log.trim().split("\n").find((l) => unknown && l.includes(unknown[0])) ?? unknown[0] };
    if (r.errno === Errno.EPERM) return { supported: false, detail: "EPERM" };
    // Rejected for another reason (e.g. arguments): the helper itself exists for this type.
    return { supported: true, detail: `known to the verifier (probe program rejected for its arguments: ${summarizeLog(r.log).lines.join(": ")})` };
  });
}

/**
 * Whether the kernel's BTF loader accepts a BTF kind (loads a minimal BTF that uses it). `func` is
 * a static FUNC and its FUNC_PROTO (Linux 5.0); `func_global` a FUNC with global linkage (5.6).
 */
export function probeBtfKind(kind: "func" | "func_global" | "datasec" | "float" | "decl_tag" | "type_tag" | "enum64"): ProbeResult {
  return cached(`btf:${kind}`, () => {
    const b = new BtfBuilder();
    const int = b.add({ kind: "int", name: "int", size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false });
    switch (kind) {
      case "func": case "func_global": {
        const proto = b.add({ kind: "func_proto", name: "", returnTypeId: int, params: [] });
        b.add({ kind: "func", name: "f", typeId: proto, linkage: kind === "func" ? "static" : "global" });
        break;
      }
      case "datasec": {
        const v = b.add({ kind: "var", name: "x", typeId: int, linkage: "global" });
        b.add({ kind: "datasec", name: ".data", size: 4, vars: [{ typeId: v, offset: 0, size: 4 }] });
        break;
      }
      case "float": b.add({ kind: "float", name: "float", size: 4 }); break;
      case "decl_tag": {
        const st = b.add({ kind: "struct", name: "s", size: 4, members: [{ name: "v", typeId: int, bitOffset: 0, bitfieldSize: 0 }] });
        b.add({ kind: "decl_tag", name: "tag", typeId: st, componentIdx: -1, attribute: false });
        break;
      }
      case "type_tag": {
        const tag = b.add({ kind: "type_tag", name: "tag", typeId: int, attribute: false });
        b.add({ kind: "ptr", name: "", typeId: tag });
        break;
      }
      case "enum64": b.add({ kind: "enum64", name: "e", size: 8, signed: false, values: [{ name: "A", value: 1n << 40n }] }); break;
    }
    const r = btfLoad(b.toBytes(), new Uint8Array(4096));
    if ("errno" in r) return { supported: false, detail: r.log.trim().split("\n").pop() || `errno ${r.errno}` };
    r.close();
    return { supported: true, detail: "loaded" };
  });
}

/** Every map type, program type and BTF kind, probed. */
export function probeAll(): { mapTypes: Record<string, ProbeResult>; programTypes: Record<string, ProbeResult>; btfKinds: Record<string, ProbeResult> } {
  const mapTypes: Record<string, ProbeResult> = {};
  for (const [name, id] of Object.entries(MapType)) if (id !== MapType.UNSPEC) mapTypes[name.toLowerCase()] = probeMapType(id);
  const programTypes: Record<string, ProbeResult> = {};
  for (const [name, id] of Object.entries(ProgramType)) if (id !== ProgramType.UNSPEC) programTypes[name.toLowerCase()] = probeProgramType(id);
  const btfKinds: Record<string, ProbeResult> = {};
  for (const k of ["func", "func_global", "datasec", "float", "decl_tag", "type_tag", "enum64"] as const) btfKinds[k] = probeBtfKind(k);
  return { mapTypes, programTypes, btfKinds };
}

