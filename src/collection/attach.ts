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

/** What attachAll did: the links it made, and each program it left unattached with the reason. */
export interface AttachResult {
  links: Link[];
  skipped: Array<{ program: string; reason: string; error?: BpfError }>;
}

/**
 * Attaches one program as its section name says. Returns undefined when the section carries no
 * target (e.g. `SEC("xdp")`). Throws NotSupportedError for kinds this version cannot attach yet.
 */
export function attachProgram(prog: Program, spec: ProgramSpec): Link | undefined {
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
    case "xdp":
    case "tc":
    case "tcx":
    case "socket":
    case "cgroup":
    case "sk_lookup":
    case "perf_event":
      // These need a target the section cannot name (an interface, a socket, a cgroup, a CPU set).
      return undefined;
    default:
      throw new BpfError("E_ATTACH_UNAVAILABLE", `attach ${spec.name} ("${spec.section}"): automatic attachment of ${spec.autoAttach} programs is not in this version of tsbpf yet (it attaches tracepoint, raw_tracepoint, kprobe and kretprobe sections); load the object and attach ${spec.name} yourself`);
  }
}
