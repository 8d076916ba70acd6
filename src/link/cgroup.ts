/**
 * cgroup programs (`SEC("cgroup_skb/ingress")`, `cgroup/connect4`, `sockops`, `cgroup/sysctl`,
 * ...): a program on a cgroup v2 directory, run for the sockets and tasks in it and below it.
 * tsbpf makes a bpf_link (BPF_LINK_CREATE on the cgroup's directory fd, Linux 5.7+) and falls back
 * to BPF_PROG_ATTACH (with BPF_F_ALLOW_MULTI by default) on older kernels. `link.mechanism` says
 * which: `bpf_link(cgroup)` or `prog_attach(multi)` / `prog_attach(override)` / `prog_attach`.
 *
 * The attach type comes from the program's section (`cgroup/skb`, which names none, attaches on
 * ingress as with libbpf); `attachType` overrides it.
 *
 * @example
 * ```ts
 * using link = attachCgroup(obj.programs.cg_egress, "/sys/fs/cgroup/my.slice");
 * ```
 */
import { constants, openSync, statfsSync } from "node:fs";
import { ArgumentError, BpfError } from "../errors.js";
import { Cmd, linkCreate, progAttach } from "../sys/bpf.js";
import { FD } from "../sys/fd.js";
import { dupFd } from "../sys/net.js";
import { AttachType, ProgramType, attachTypeName } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link, isLinkUnsupported } from "./link.js";

const CGROUP2_SUPER_MAGIC = 0x63677270;
const BPF_F_ALLOW_OVERRIDE = 1;
const BPF_F_ALLOW_MULTI = 2;

/** Options for {@link attachCgroup}. */
export interface CgroupOptions {
  /** A `BPF_CGROUP_*` attach type, or "ingress"/"egress" for cgroup_skb. Default: the program's (from its section). */
  attachType?: number | "ingress" | "egress";
  /** `auto` (default): a bpf_link, BPF_PROG_ATTACH on kernels without cgroup links. `link` or `prog_attach` force one. */
  mechanism?: "auto" | "link" | "prog_attach";
  /**
   * BPF_PROG_ATTACH only: `multi` (default, BPF_F_ALLOW_MULTI: programs of child cgroups run
   * too), `override` (BPF_F_ALLOW_OVERRIDE: a child cgroup's program replaces this one), or
   * `exclusive` (no flag: nothing may be attached below).
   */
  flags?: "multi" | "override" | "exclusive";
}

const programTypes = new Set<number>([
  ProgramType.CGROUP_SKB, ProgramType.CGROUP_SOCK, ProgramType.CGROUP_SOCK_ADDR, ProgramType.SOCK_OPS,
  ProgramType.CGROUP_DEVICE, ProgramType.CGROUP_SYSCTL, ProgramType.CGROUP_SOCKOPT, ProgramType.LSM,
]);

/** Opens a cgroup v2 directory. Throws ArgumentError when the path is not one. */
export function openCgroup(path: string, what: string): FD {
  let magic: number;
  try {
    magic = Number(statfsSync(path).type);
  } catch (e) {
    throw new BpfError("E_NO_CGROUP", `${what}: cannot read ${path} (${(e as NodeJS.ErrnoException).code}); give the directory of a cgroup v2 group`, { cause: e });
  }
  if (magic !== CGROUP2_SUPER_MAGIC) {
    throw new ArgumentError(`${what}: ${path} is not on a cgroup v2 file system (cgroup2 is mounted where /proc/mounts lists type cgroup2, e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified)`);
  }
  return new FD(openSync(path, constants.O_RDONLY | constants.O_DIRECTORY), `cgroup ${path}`);
}

/**
 * Attaches a cgroup program to the cgroup v2 directory `cgroup` (a path, or an open directory
 * fd which stays the caller's). Throws ArgumentError for a program that is not a cgroup program
 * or has no attach type, SyscallError when the kernel refuses (e.g. EPERM when an exclusive
 * program is attached above).
 */
export function attachCgroup(prog: Program, cgroup: string | number, opts: CgroupOptions = {}): Link {
  const where = typeof cgroup === "string" ? cgroup : `cgroup fd ${cgroup}`;
  const what = `attach cgroup program ${prog.name} to ${where}`;
  if (!programTypes.has(prog.type)) {
    throw new ArgumentError(`${what}: it is not a cgroup program (sections such as cgroup_skb/ingress, cgroup/connect4, sockops, cgroup/sysctl)`);
  }
  // CGROUP_INET_INGRESS is 0, so a cgroup_skb program from SEC("cgroup/skb") attaches on ingress, as with libbpf.
  const attachType = opts.attachType === "ingress" ? AttachType.CGROUP_INET_INGRESS
    : opts.attachType === "egress" ? AttachType.CGROUP_INET_EGRESS
    : opts.attachType ?? prog.expectedAttachType;
  const typeName = attachTypeName(attachType)?.toLowerCase() ?? `attach type ${attachType}`;
  const mechanism = opts.mechanism ?? "auto";
  const cg = typeof cgroup === "string" ? openCgroup(cgroup, what) : dupFd(cgroup, `cgroup fd ${cgroup}`);
  const target = `${where} ${typeName}`;
  if (mechanism !== "prog_attach") {
    try {
      // The link holds its own reference to the cgroup.
      const fd = linkCreate({ progFd: prog.fd.value, targetFd: cg.value, attachType }, `cgroup program ${prog.name} to ${target}`);
      cg.close();
      return new Link({ kind: "cgroup", target, mechanism: "bpf_link(cgroup)", linkFd: fd });
    } catch (e) {
      if (mechanism === "link" || !isLinkUnsupported(e)) {
        cg.close();
        throw e;
      }
    }
  }
  // BPF_PROG_ATTACH: detaching later needs the cgroup and the program, so the link keeps both.
  const flagName = opts.flags ?? "multi";
  const flags = flagName === "multi" ? BPF_F_ALLOW_MULTI : flagName === "override" ? BPF_F_ALLOW_OVERRIDE : 0;
  let progDup: FD | undefined;
  try {
    progDup = dupFd(prog.fd.value, `program ${prog.name}`);
    progAttach(Cmd.PROG_ATTACH, cg.value, prog.fd.value, attachType, flags);
  } catch (e) {
    progDup?.close();
    cg.close();
    throw e;
  }
  const dup = progDup;
  return new Link({
    kind: "cgroup", target,
    mechanism: flagName === "exclusive" ? "prog_attach" : `prog_attach(${flagName})`,
    owned: [cg, dup],
    onClose: () => progAttach(Cmd.PROG_DETACH, cg.value, dup.value, attachType),
  });
}
