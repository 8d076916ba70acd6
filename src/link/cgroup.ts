/**
 * cgroup programs (`SEC("cgroup_skb/ingress")`, `cgroup/connect4`, `sockops`, `cgroup/sysctl`,
 * ...): a program on a cgroup v2 directory, run for the sockets and tasks in it and below it.
 * tsbpf makes a bpf_link (BPF_LINK_CREATE on the cgroup's directory fd, Linux 5.7+) and falls back
 * to BPF_PROG_ATTACH (with BPF_F_ALLOW_MULTI) on older kernels. A bpf_link on a cgroup is always
 * multi-attach (the kernel's design), so the `override` and `exclusive` flags are
 * BPF_PROG_ATTACH's: with them tsbpf uses BPF_PROG_ATTACH (and refuses `mechanism: "link"`).
 * `link.mechanism` says which: `bpf_link(cgroup)` or `prog_attach(multi)` /
 * `prog_attach(override)` / `prog_attach(exclusive)`.
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
import { readProgramInfo, type Program } from "../prog/program.js";
import { Link, isLinkUnsupported } from "./link.js";

const CGROUP2_SUPER_MAGIC = 0x63677270;
const BPF_F_ALLOW_OVERRIDE = 1;
const BPF_F_ALLOW_MULTI = 2;
const BPF_F_REPLACE = 4;
const flagBits = { multi: BPF_F_ALLOW_MULTI, override: BPF_F_ALLOW_OVERRIDE, exclusive: 0 } as const;

/** Options for {@link attachCgroup}. */
export interface CgroupOptions {
  /** A `BPF_CGROUP_*` attach type, or "ingress"/"egress" for cgroup_skb. Default: the program's (from its section). */
  attachType?: number | "ingress" | "egress";
  /**
   * `auto` (default): a bpf_link, BPF_PROG_ATTACH on kernels without cgroup links (and for the
   * flags `override` and `exclusive`). `link` or `prog_attach` force one.
   */
  mechanism?: "auto" | "link" | "prog_attach";
  /**
   * `multi` (default, BPF_F_ALLOW_MULTI: other programs on this hook and programs of child
   * cgroups run too; the only mode of a bpf_link), `override` (BPF_F_ALLOW_OVERRIDE: a child
   * cgroup's program replaces this one for the child), or `exclusive` (no flag: this is the only
   * program, and nothing may be attached below). The last two need BPF_PROG_ATTACH.
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
  const flagName = opts.flags ?? "multi";
  if (!(flagName in flagBits)) throw new ArgumentError(`${what}: flags must be multi, override or exclusive, not ${String(flagName)}`);
  if (mechanism === "link" && flagName !== "multi") {
    throw new ArgumentError(`${what}: a bpf_link on a cgroup is always multi-attach (other programs on the hook run too, child cgroups may attach more), so flags "${flagName}" cannot be a link; use mechanism "prog_attach" (or "auto") for BPF_PROG_ATTACH with ${flagName === "override" ? "BPF_F_ALLOW_OVERRIDE" : "no flag"}`);
  }
  const cg = typeof cgroup === "string" ? openCgroup(cgroup, what) : dupFd(cgroup, `cgroup fd ${cgroup}`);
  const target = `${where} ${typeName}`;
  if (mechanism !== "prog_attach" && flagName === "multi") {
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
  let dup: FD;
  try {
    dup = dupFd(prog.fd.value, `program ${prog.name}`);
  } catch (e) {
    cg.close();
    throw e;
  }
  try {
    progAttach(Cmd.PROG_ATTACH, cg.value, prog.fd.value, attachType, flagBits[flagName]);
  } catch (e) {
    dup.close();
    cg.close();
    throw e;
  }
  return new CgroupProgAttachLink(target, flagName, cg, dup, attachType);
}

/**
 * A program attached to a cgroup with BPF_PROG_ATTACH. Detaching needs the cgroup and the
 * program, so the link keeps a descriptor of each. `flags` is the attach mode.
 */
export class CgroupProgAttachLink extends Link {
  readonly flags: "multi" | "override" | "exclusive";
  readonly #cg: FD;
  readonly #attachType: number;
  #prog: FD;

  constructor(target: string, flags: "multi" | "override" | "exclusive", cg: FD, prog: FD, attachType: number) {
    super({
      kind: "cgroup", target, mechanism: `prog_attach(${flags})`,
      onClose: () => {
        try {
          progAttach(Cmd.PROG_DETACH, this.#cg.value, this.#prog.value, this.#attachType);
        } finally {
          this.#prog.close();
          this.#cg.close();
        }
      },
    });
    this.flags = flags;
    this.#cg = cg;
    this.#prog = prog;
    this.#attachType = attachType;
  }

  /**
   * Replaces the program atomically: BPF_PROG_ATTACH with BPF_F_REPLACE naming the old program
   * (multi), or with the same flag (override, exclusive: the hook's single program is replaced).
   */
  override update(program: Program): void {
    if (this.closed) throw new ArgumentError(`update cgroup program on ${this.target}: the link is closed`);
    if (!programTypes.has(program.type)) throw new ArgumentError(`update cgroup program on ${this.target}: ${program.name} is not a cgroup program`);
    const next = dupFd(program.fd.value, `program ${program.name}`);
    try {
      if (this.flags === "multi") progAttach(Cmd.PROG_ATTACH, this.#cg.value, program.fd.value, this.#attachType, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, this.#prog.value);
      else progAttach(Cmd.PROG_ATTACH, this.#cg.value, program.fd.value, this.#attachType, flagBits[this.flags]);
    } catch (e) {
      next.close();
      throw e;
    }
    this.#prog.close();
    this.#prog = next;
  }

  override attachedProgramId(): number | undefined {
    return this.closed ? undefined : readProgramInfo(this.#prog.value).id;
  }
}
