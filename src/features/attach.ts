/**
 * Attach mechanism probes: whether the running kernel has kprobes, uprobes, BPF trampolines
 * (fentry), kprobe.multi links, tcx and netkit, and which bpf_link kinds it knows. Each answer
 * comes with its evidence (the file that is there, or the errno the kernel gave). Results are
 * cached per process.
 *
 * @example
 * ```ts
 * import { probeAttachMechanisms } from "tsbpf";
 * probeAttachMechanisms().fentry;   // { supported: false, detail: "EPERM: ..." } where trampolines are refused
 * ```
 */
import { existsSync, readFileSync } from "node:fs";
import { Errno, errnoName } from "../errors.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import { Attr, Cmd, Layout, bpfTry, cstring, pointerTo } from "../sys/bpf.js";
import { native } from "../sys/native.js";
import { loadKernelBtf } from "../btf/kernel.js";
import { PROBE_KERNEL_FUNCTIONS, kernelBtfFunction, loadFailure, loadProbeProgram, type ProbeResult } from "./probe.js";

/** Where tracefs is mounted (either is enough); the probes only look, they do not mount it. */
const TRACEFS_DIRS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** Whether `kind` probes can be created: the perf PMU /sys/bus/event_source/devices/<kind>, or tracefs <kind>_events. */
function probeEvents(kind: "kprobe" | "uprobe"): ProbeResult {
  const found = [`/sys/bus/event_source/devices/${kind}`, ...TRACEFS_DIRS.map((d) => `${d}/${kind}_events`)].filter((p) => existsSync(p));
  if (found.length) return { supported: true, detail: found.join(", ") };
  return { supported: false, detail: `no ${kind} PMU and no tracefs ${kind}_events (kernel built without CONFIG_${kind.toUpperCase()}S)` };
}

/**
 * Runs `fn` on a loaded probe program and closes it; a failed load is the answer (`meaning`
 * explains the errnos that say something about the mechanism).
 */
function withProbeProgram(type: number, expectedAttachType: number, meaning: Partial<Record<number, string>>, fn: (fd: number) => ProbeResult): ProbeResult {
  const r = loadProbeProgram(type, undefined, expectedAttachType);
  if (r.fd === undefined) return meaning[r.errno] ? refused(r.errno, meaning) : loadFailure(r);
  try {
    return fn(r.fd);
  } finally {
    native().close(r.fd);
  }
}

/** The kernel's errno as a "no" with what it means here. */
function refused(errno: number, meaning: Partial<Record<number, string>>): ProbeResult {
  return { supported: false, detail: `${errnoName(errno)}${meaning[errno] ? `: ${meaning[errno]}` : ""}` };
}

/** BPF trampolines: an fentry program on a kernel function is loaded and attached (then detached). */
function probeTrampoline(): ProbeResult {
  const target = kernelBtfFunction(PROBE_KERNEL_FUNCTIONS);
  if (!target) return { supported: false, detail: "no kernel BTF with a probe function (CONFIG_DEBUG_INFO_BTF)" };
  const meaning = { [Errno.EPERM]: "the kernel refused to load an fentry program (a kernel policy such as lockdown forbids trampolines here, or the process lacks CAP_BPF and CAP_PERFMON)" };
  return withProbeProgram(ProgramType.TRACING, AttachType.TRACE_FENTRY, meaning, (fd) => {
    const L = Layout.rawTracepoint;
    const link = bpfTry(Cmd.RAW_TRACEPOINT_OPEN, new Attr(L.size).u32(L.prog_fd, fd), L.size);
    if (link < 0) return refused(-link, { [Errno.ENOTSUPP]: "the kernel has no trampolines for this architecture or configuration" });
    native().close(link);
    return { supported: true, detail: `fentry on ${target.name} loaded and attached` };
  });
}

/** kprobe.multi: a kprobe program loaded as kprobe.multi is linked to one kernel function (then detached). */
function probeKprobeMulti(): ProbeResult {
  const target = kernelBtfFunction(PROBE_KERNEL_FUNCTIONS);
  if (!target) return { supported: false, detail: "no kernel BTF to find a probe function in" };
  const unknown = { [Errno.EINVAL]: "the kernel does not know the kprobe.multi attach type (Linux 5.18+)" };
  return withProbeProgram(ProgramType.KPROBE, AttachType.TRACE_KPROBE_MULTI, unknown, (fd) => {
    const sym = cstring(target.name);
    const syms = new BigUint64Array([pointerTo(sym)]);
    const L = Layout.linkCreate;
    const attr = new Attr(L.size).u32(L.prog_fd, fd).u32(L.attach_type, AttachType.TRACE_KPROBE_MULTI)
      .u32(L.kprobe_multi_cnt, 1).ptr(L.kprobe_multi_syms, syms);
    const link = bpfTry(Cmd.LINK_CREATE, attr, L.size);
    void sym;
    if (link < 0) {
      return refused(-link, {
        [Errno.EOPNOTSUPP]: "kernel built without CONFIG_FPROBE",
        ...unknown,
        [Errno.ESRCH]: `${target.name} cannot be probed`,
      });
    }
    native().close(link);
    return { supported: true, detail: `kprobe.multi link on ${target.name} created` };
  });
}

/** The loopback device's ifindex in this network namespace. */
function loopbackIfindex(): number {
  try {
    return Number(readFileSync("/sys/class/net/lo/ifindex", "utf8").trim()) || 1;
  } catch {
    return 1;
  }
}

/**
 * tcx and netkit: BPF_PROG_QUERY of their attach type on lo. A kernel without them rejects the
 * attach type (EINVAL); one with them answers (tcx: the empty list; netkit: ENXIO, lo is not a
 * netkit device).
 */
function probeQuery(attachType: number, what: string, since: string, answers: number[]): ProbeResult {
  const L = Layout.query;
  const r = bpfTry(Cmd.PROG_QUERY, new Attr(L.size).u32(L.target_fd, loopbackIfindex()).u32(L.attach_type, attachType), L.size);
  if (r >= 0 || answers.includes(-r)) return { supported: true, detail: `BPF_PROG_QUERY of ${what} on lo answered${r < 0 ? ` ${errnoName(-r)}` : ""}` };
  return refused(-r, { [Errno.EINVAL]: `the kernel does not know the ${what} attach type (${since})` });
}

/** Every attach mechanism, probed once per process. */
let mechanisms: Record<string, ProbeResult> | undefined;

/**
 * Whether the kernel has each attach mechanism: `kprobe` and `uprobe` (perf PMU or tracefs
 * events), `fentry` (BPF trampolines: an fentry program loaded and attached), `kprobe.multi`,
 * `tcx` and `netkit`.
 */
export function probeAttachMechanisms(): Record<string, ProbeResult> {
  mechanisms ??= {
    kprobe: probeEvents("kprobe"),
    uprobe: probeEvents("uprobe"),
    fentry: probeTrampoline(),
    "kprobe.multi": probeKprobeMulti(),
    tcx: probeQuery(AttachType.TCX_INGRESS, "tcx_ingress", "tcx: Linux 6.6+", []),
    netkit: probeQuery(AttachType.NETKIT_PRIMARY, "netkit_primary", "netkit: Linux 6.7+ with CONFIG_NETKIT", [Errno.ENXIO, Errno.ENODEV]),
  };
  return mechanisms;
}

/**
 * The bpf_link kinds the kernel knows: the enumerators of its `enum bpf_link_type` (kernel BTF),
 * lower case without the prefix (`tracing`, `kprobe_multi`, `tcx`, ...). Empty without kernel BTF.
 */
export function kernelLinkKinds(): string[] {
  try {
    const btf = loadKernelBtf();
    const id = btf.findByName("bpf_link_type", "enum");
    const t = id === undefined ? undefined : btf.type(id);
    if (!t || (t.kind !== "enum" && t.kind !== "enum64")) return [];
    return t.values.map((v) => v.name).filter((n) => n.startsWith("BPF_LINK_TYPE_") && n !== "BPF_LINK_TYPE_UNSPEC" && !n.startsWith("__"))
      .map((n) => n.slice("BPF_LINK_TYPE_".length).toLowerCase());
  } catch {
    return [];
  }
}
