/**
 * Auto-attach: where a program's section name says it goes (libbpf's conventions), attach it.
 * Kinds that need more than the section name (xdp needs an interface, cgroup a cgroup) are left
 * to explicit calls.
 */
import { BpfError } from "../errors.js";
import type { ProgramSpec } from "../spec/types.js";
import type { Program } from "../prog/program.js";
import type { Link } from "../link/link.js";
import { attachTracepoint } from "../link/tracepoint.js";
import { attachRawTracepoint } from "../link/raw-tracepoint.js";
import { attachKprobe } from "../link/kprobe.js";
import { attachTracing } from "../link/tracing.js";
import { attachLsm } from "../link/lsm.js";
import { attachIter } from "../link/iter.js";
import { attachUprobe, attachUprobeMulti, parseUprobeSection } from "../link/uprobe.js";
import { attachUsdt, parseUsdtSection } from "../link/usdt.js";
import { attachKprobeMulti, attachKsyscall } from "../link/kprobe-multi.js";
import { attachXdp, type XdpOptions } from "../link/xdp.js";
import { attachTc, tcSectionDirection, type TcOptions } from "../link/tc.js";
import { attachCgroup, type CgroupOptions } from "../link/cgroup.js";
import { attachSkLookup } from "../link/sk-lookup.js";
import { attachNetfilter, type NetfilterOptions } from "../link/netfilter.js";

/**
 * Targets for the kinds whose section cannot name one, e.g.
 * `obj.attachAll({ xdp: { iface: "eth0" }, cgroup: { path: "/sys/fs/cgroup/app" } })`. A kind
 * without a target here is skipped as before.
 */
export interface AttachTargets {
  /** Every `SEC("xdp")` program goes on this interface. */
  xdp?: { iface: string | number } & XdpOptions;
  /** Every `SEC("tc")`/`tcx/...` program goes on this interface (direction from the section, else `direction`). */
  tc?: { iface: string | number } & TcOptions;
  /** Every cgroup program goes on this cgroup v2 directory. */
  cgroup?: { path: string | number } & CgroupOptions;
  /** Every sk_lookup program goes on this network namespace (a path such as /proc/self/ns/net or /run/netns/NAME). */
  skLookup?: { netns: string | number };
  /** Every netfilter program goes on this hook. */
  netfilter?: NetfilterOptions;
}

/** What attachAll did: the links it made, and each program it left unattached with the reason. */
export interface AttachResult {
  links: Link[];
  skipped: Array<{ program: string; reason: string; error?: BpfError }>;
}

/**
 * Attaches one program as its section name says. Returns undefined when the section carries no
 * target (e.g. `SEC("xdp")`). Throws NotSupportedError for kinds this version cannot attach yet.
 */
export function attachProgram(prog: Program, spec: ProgramSpec, targets: AttachTargets = {}): Link | undefined {
  const to = spec.attachTo;
  switch (spec.autoAttach) {
    case null:
    case undefined:
      return undefined;
    case "tracepoint": {
      const i = to.indexOf("/");
      if (i <= 0) throw new BpfError("E_SECTION", `attach ${spec.name}: section "${spec.section}" should name category/name, e.g. tracepoint/syscalls/sys_enter_read`);
      return attachTracepoint(prog, to.slice(0, i), to.slice(i + 1));
    }
    case "raw_tracepoint":
      return attachRawTracepoint(prog, to);
    case "kprobe":
    case "kretprobe": {
      const m = /^([^+]+)(?:\+(\d+|0x[0-9a-f]+))?$/i.exec(to);
      if (!m) throw new BpfError("E_SECTION", `attach ${spec.name}: section "${spec.section}" should name a function, e.g. kprobe/vfs_read`);
      return attachKprobe(prog, m[1]!, { retprobe: spec.autoAttach === "kretprobe", offset: m[2] ? Number(m[2]) : undefined });
    }
    // BTF-typed and trampoline programs: the target was fixed at load time.
    case "tp_btf":
    case "fentry":
    case "fexit":
    case "fmod_ret":
    case "freplace":
      return attachTracing(prog);
    case "lsm":
      return attachLsm(prog);
    case "iter":
      return attachIter(prog);
    case "uprobe":
    case "uretprobe": {
      const u = parseUprobeSection(to);
      if (!u.binary || (u.func === undefined && u.offset === undefined)) throw new BpfError("E_SECTION", `attach ${spec.name}: section "${spec.section}" should name a binary and a function, e.g. uprobe//usr/lib/x86_64-linux-gnu/libc.so.6:malloc or uprobe/libc.so.6:malloc+8`);
      return attachUprobe(prog, u.binary, u.func, { retprobe: spec.autoAttach === "uretprobe", offset: u.offset });
    }
    case "uprobe.multi":
    case "uretprobe.multi": {
      const u = parseUprobeSection(to);
      if (!u.binary || !u.func) throw new BpfError("E_SECTION", `attach ${spec.name}: section "${spec.section}" should name a binary and a function pattern, e.g. uprobe.multi/libc.so.6:str*`);
      return attachUprobeMulti(prog, u.binary, u.func, { retprobe: spec.autoAttach === "uretprobe.multi" });
    }
    case "usdt": {
      const u = parseUsdtSection(to);
      if (!u) throw new BpfError("E_SECTION", `attach ${spec.name}: section "${spec.section}" should name binary:provider:name, e.g. usdt/libc.so.6:libc:setjmp`);
      return attachUsdt(prog, u.binary, u.provider, u.name);
    }
    case "kprobe.multi":
    case "kretprobe.multi":
      return attachKprobeMulti(prog, to, { retprobe: spec.autoAttach === "kretprobe.multi" });
    case "ksyscall":
    case "kretsyscall":
      return attachKsyscall(prog, to, { retprobe: spec.autoAttach === "kretsyscall" });
    case "xdp":
      return targets.xdp ? attachXdp(prog, targets.xdp.iface, targets.xdp) : undefined;
    case "tc":
    case "tcx":
      return targets.tc ? attachTc(prog, targets.tc.iface, { ...targets.tc, direction: tcSectionDirection(prog) ?? targets.tc.direction }) : undefined;
    case "cgroup":
      return targets.cgroup ? attachCgroup(prog, targets.cgroup.path, targets.cgroup) : undefined;
    case "sk_lookup":
      return targets.skLookup ? attachSkLookup(prog, targets.skLookup.netns) : undefined;
    case "netfilter":
      return targets.netfilter ? attachNetfilter(prog, targets.netfilter) : undefined;
    case "socket":
    case "perf_event":
      // These need a target the section cannot name (an interface, a socket, a cgroup, a CPU set).
      return undefined;
    default:
      throw new BpfError("E_ATTACH_UNAVAILABLE", `attach ${spec.name} ("${spec.section}"): automatic attachment of ${spec.autoAttach} programs is not in this version of tsbpf yet (it attaches tracepoint, raw_tracepoint, tp_btf, fentry/fexit/fmod_ret/freplace, lsm, iter, kprobe/kretprobe(.multi), ksyscall, uprobe/uretprobe(.multi) and usdt sections); load the object and attach ${spec.name} yourself`);
  }
}
