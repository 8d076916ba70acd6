/**
 * XDP (`SEC("xdp")`): a program at an interface's receive hook. tsbpf makes a bpf_link
 * (BPF_LINK_CREATE with BPF_XDP, Linux 5.9+) and falls back to rtnetlink (RTM_SETLINK with
 * IFLA_XDP, Linux 4.8+) on kernels without XDP links. `link.mechanism` says which was used:
 * `bpf_link(xdp)` or `netlink(IFLA_XDP)`.
 *
 * Modes: `generic` (XDP_FLAGS_SKB_MODE, any interface), `driver` (native, the driver must support
 * XDP), `offload` (the NIC runs it; the program must be loaded for that device). Without a mode the
 * kernel picks driver mode when the driver has it, generic otherwise.
 *
 * Replace semantics: by default an interface that already has a program is left alone (EBUSY).
 * `replace: true` replaces whatever netlink-attached program is there; `replace: oldProgram`
 * replaces exactly that program and fails with EEXIST when another one is attached
 * (XDP_FLAGS_REPLACE). A program attached through a bpf_link can only be replaced through its
 * link (`link.update(program)`).
 *
 * @example
 * ```ts
 * using obj = await loadObject("xdp_counter.bpf.o");
 * using link = attachXdp(obj.programs.count_packets, "eth0", { mode: "generic" });
 * console.log(link.mechanism); // "bpf_link(xdp)"
 * ```
 */
import { ArgumentError, Errno } from "../errors.js";
import { linkCreate } from "../sys/bpf.js";
import type { FD } from "../sys/fd.js";
import { NetlinkError, XdpFlags, dupFd, resolveInterface, xdpQuery, xdpSetLink, type XdpQuery } from "../sys/net.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link, isLinkUnsupported } from "./link.js";

/** Where the XDP program runs. */
export type XdpMode = "generic" | "driver" | "offload";

/** Options for {@link attachXdp}. */
export interface XdpOptions {
  /** Default: the kernel picks (driver mode when the driver supports XDP, generic otherwise). */
  mode?: XdpMode;
  /**
   * `auto` (default): a bpf_link, rtnetlink when the kernel has no XDP links (or when replacing a
   * netlink-attached program). `link` or `netlink` force one.
   */
  mechanism?: "auto" | "link" | "netlink";
  /**
   * false (default): fail with EBUSY when a program is already attached. true: replace the
   * netlink-attached program there. A Program: replace exactly that program (XDP_FLAGS_REPLACE).
   */
  replace?: boolean | Program;
}

const modeFlags: Record<XdpMode, number> = { generic: XdpFlags.SKB_MODE, driver: XdpFlags.DRV_MODE, offload: XdpFlags.HW_MODE };

/** An attached XDP program; `ifindex` and `iface` name the interface. */
export class XdpLink extends Link {
  readonly ifindex: number;
  readonly iface: string;
  readonly mode: XdpMode | undefined;
  /** For netlink attachment: a duplicate of the attached program's fd, used as the expected fd on detach and update. */
  #progDup: FD | undefined;
  #open = true;

  constructor(p: { ifindex: number; iface: string; mode?: XdpMode; mechanism: string; linkFd?: FD; progDup?: FD }) {
    const progDup = p.progDup;
    super({
      kind: "xdp", target: p.iface, mechanism: p.mechanism, linkFd: p.linkFd,
      onClose: () => {
        this.#open = false;
        this.#detachNetlink();
      },
    });
    this.ifindex = p.ifindex;
    this.iface = p.iface;
    this.mode = p.mode;
    this.#progDup = progDup;
  }

  override get closed(): boolean {
    return !this.#open;
  }

  #flags(): number {
    return this.mode ? modeFlags[this.mode] : 0;
  }

  #detachNetlink(): void {
    const dup = this.#progDup;
    if (!dup || dup.closed) return;
    try {
      xdpSetLink(this.ifindex, -1, this.#flags(), dup.value, `detach XDP program from ${this.iface}`);
    } catch (e) {
      // ENODEV: the interface is gone. EEXIST: someone replaced our program; theirs stays.
      const errno = (e as { errno?: number }).errno;
      if (errno !== Errno.ENODEV && errno !== Errno.EEXIST) throw e;
    } finally {
      dup.close();
    }
  }

  /** Replaces the program atomically: BPF_LINK_UPDATE for a bpf_link, IFLA_XDP with XDP_FLAGS_REPLACE for netlink. */
  override update(program: Program): void {
    if (this.linkFd) return super.update(program);
    const dup = this.#progDup;
    if (!this.#open || !dup || dup.closed) throw new ArgumentError(`update XDP program on ${this.iface}: the link is closed`);
    checkXdp(program, this.iface);
    const next = dupFd(program.fd.value, `XDP program ${program.name}`);
    try {
      xdpSetLink(this.ifindex, program.fd.value, this.#flags(), dup.value, `replace XDP program on ${this.iface}`);
    } catch (e) {
      next.close();
      throw e;
    }
    this.#progDup = next;
    dup.close();
  }

  /** What the kernel reports at this interface's XDP hook. */
  query(): XdpQuery {
    return xdpQuery(this.ifindex);
  }
}

function checkXdp(prog: Program, iface: string | number): void {
  if (prog.type !== ProgramType.XDP) {
    throw new ArgumentError(`attach XDP program ${prog.name} to ${iface}: it is not an XDP program (put it in SEC("xdp"))`);
  }
}

/**
 * Attaches an XDP program to interface `iface` (a name or an index in this network namespace).
 * Throws BpfError(E_NO_INTERFACE) for an unknown interface, SyscallError/NetlinkError EBUSY when a
 * program is already attached (see `replace`), NetlinkError EOPNOTSUPP with the kernel's reason
 * for a mode the driver lacks.
 */
export function attachXdp(prog: Program, iface: string | number, opts: XdpOptions = {}): XdpLink {
  checkXdp(prog, iface);
  const { ifindex, name } = resolveInterface(iface, `attach XDP program ${prog.name}`);
  const mechanism = opts.mechanism ?? "auto";
  if (opts.mode !== undefined && !(opts.mode in modeFlags)) throw new ArgumentError(`attach XDP program ${prog.name} to ${name}: mode must be generic, driver or offload, not ${String(opts.mode)}`);
  const flags = opts.mode ? modeFlags[opts.mode] : 0;
  // Replacing one given program is netlink's XDP_FLAGS_REPLACE; a link would attach to an empty hook too.
  const replacingProgram = typeof opts.replace === "object";
  if (mechanism === "link" && replacingProgram) {
    throw new ArgumentError(`attach XDP program ${prog.name} to ${name}: replace: <program> needs netlink; a bpf_link's program is replaced with link.update()`);
  }
  if (mechanism !== "netlink" && !replacingProgram) {
    try {
      const fd = linkCreate({ progFd: prog.fd.value, targetIfindex: ifindex, attachType: AttachType.XDP, flags }, `XDP program ${prog.name} to ${name}`);
      return new XdpLink({ ifindex, iface: name, mode: opts.mode, mechanism: "bpf_link(xdp)", linkFd: fd });
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      const replacing = opts.replace !== undefined && opts.replace !== false && errno === Errno.EBUSY;
      if (mechanism === "link" || (!isLinkUnsupported(e) && !replacing)) throw e;
    }
  }
  const dup = dupFd(prog.fd.value, `XDP program ${prog.name}`);
  try {
    let f = flags;
    let expected: number | undefined;
    if (opts.replace === undefined || opts.replace === false) f |= XdpFlags.UPDATE_IF_NOEXIST;
    else if (opts.replace !== true) expected = opts.replace.fd.value;
    xdpSetLink(ifindex, prog.fd.value, f, expected, `attach XDP program ${prog.name} to ${name}`);
  } catch (e) {
    dup.close();
    if (e instanceof NetlinkError && e.errno === Errno.EBUSY && !opts.replace) {
      throw new NetlinkError(e.command, e.errno, `attach XDP program ${prog.name} to ${name}: another XDP program is attached (pass replace: true to replace it)`, e.extack);
    }
    throw e;
  }
  return new XdpLink({ ifindex, iface: name, mode: opts.mode, mechanism: "netlink(IFLA_XDP)", progDup: dup });
}

/** What is attached at interface `iface`'s XDP hook (ids of the program per mode). */
export function queryXdp(iface: string | number): XdpQuery {
  return xdpQuery(resolveInterface(iface, "query XDP").ifindex);
}
