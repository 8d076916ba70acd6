/**
 * Traffic control (`SEC("tc")`, `SEC("tcx/ingress")`, `SEC("tcx/egress")`): a classifier on an
 * interface's ingress or egress path. tsbpf makes a tcx link (BPF_LINK_CREATE with
 * BPF_TCX_INGRESS/EGRESS, Linux 6.6+) and falls back to rtnetlink on older kernels: a clsact qdisc
 * (created when missing) and a cls_bpf filter in direct-action mode. `link.mechanism` says which:
 * `bpf_link(tcx)` or `netlink(clsact+cls_bpf)`.
 *
 * `priority` and `handle` only exist for netlink filters; giving either selects netlink. Closing a
 * netlink link deletes its filter, and the clsact qdisc too when tsbpf created it and no filter is
 * left on it.
 *
 * @example
 * ```ts
 * using link = attachTc(obj.programs.tc_count, "eth0", { direction: "ingress" });
 * console.log(link.mechanism); // "bpf_link(tcx)" on Linux 6.6+
 * ```
 */
import { ArgumentError, Errno, NotSupportedError } from "../errors.js";
import { linkCreate } from "../sys/bpf.js";
import {
  TcH, tcClsactAdd, tcClsactDel, tcFilterAdd, tcFilterDel, tcFilterList, tcHandle, resolveInterface, type TcFilter,
} from "../sys/net.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link, isLinkUnsupported } from "./link.js";

export type TcDirection = "ingress" | "egress";

/** Options for {@link attachTc}. */
export interface TcOptions {
  /** Default: from the section (`tcx/ingress`, `tc/egress`, ...); required for plain `SEC("tc")`. */
  direction?: TcDirection;
  /** `auto` (default): tcx, then netlink on kernels without tcx. `tcx` or `netlink` force one. */
  mechanism?: "auto" | "tcx" | "netlink";
  /** Filter priority (1-65535; netlink only). Default: the kernel picks one. */
  priority?: number;
  /** Filter handle (netlink only). Default: the kernel picks one. */
  handle?: number;
  /** Netlink only: replace the filter at (priority, handle) instead of failing with EEXIST. */
  replace?: boolean;
}

/** How many live tsbpf links use a clsact qdisc that tsbpf created, per ifindex. */
const ownedQdiscs = new Map<number, number>();

/** An attached TC program. For netlink filters, `priority` and `handle` are what the kernel assigned. */
export class TcLink extends Link {
  readonly ifindex: number;
  readonly iface: string;
  readonly direction: TcDirection;
  readonly priority: number | undefined;
  readonly handle: number | undefined;
  #progName: string;
  #open = true;

  constructor(p: { ifindex: number; iface: string; direction: TcDirection; mechanism: string; linkFd?: ReturnType<typeof linkCreate>; priority?: number; handle?: number; progName: string; onClose?: () => void }) {
    const onClose = p.onClose;
    super({
      kind: "tc", target: `${p.iface} ${p.direction}`, mechanism: p.mechanism, linkFd: p.linkFd,
      onClose: () => {
        this.#open = false;
        onClose?.();
      },
    });
    this.ifindex = p.ifindex;
    this.iface = p.iface;
    this.direction = p.direction;
    this.priority = p.priority;
    this.handle = p.handle;
    this.#progName = p.progName;
  }

  override get closed(): boolean {
    return !this.#open;
  }

  /** Replaces the program: BPF_LINK_UPDATE for tcx, a filter replace (same priority and handle) for netlink. */
  override update(program: Program): void {
    if (this.linkFd) return super.update(program);
    if (this.closed) throw new ArgumentError(`update TC program on ${this.target}: the link is closed`);
    checkTc(program, this.target);
    tcFilterAdd({
      ifindex: this.ifindex, parent: parentOf(this.direction), handle: this.handle!, priority: this.priority!,
      progFd: program.fd.value, name: program.name, replace: true,
    }, `replace TC program ${this.#progName} on ${this.target} with ${program.name}`);
    this.#progName = program.name;
  }

  /** The filters on this link's hook, as the kernel lists them (netlink; empty with tcx). */
  filters(): TcFilter[] {
    return tcFilterList(this.ifindex, parentOf(this.direction));
  }
}

/** The direction a program's section names (`tcx/ingress`, `tc/egress`, ...), if any. */
export function tcSectionDirection(prog: Program): TcDirection | undefined {
  return prog.expectedAttachType === AttachType.TCX_INGRESS ? "ingress" : prog.expectedAttachType === AttachType.TCX_EGRESS ? "egress" : undefined;
}

function parentOf(direction: TcDirection): number {
  return tcHandle(TcH.CLSACT, direction === "ingress" ? TcH.MIN_INGRESS : TcH.MIN_EGRESS);
}

function checkTc(prog: Program, target: string): void {
  if (prog.type !== ProgramType.SCHED_CLS) {
    throw new ArgumentError(`attach TC program ${prog.name} to ${target}: it is not a classifier program (put it in SEC("tc"), SEC("tcx/ingress") or SEC("tcx/egress"))`);
  }
}

/**
 * Attaches a classifier program to interface `iface` (name or index) on ingress or egress.
 * Throws ArgumentError without a direction, BpfError(E_NO_INTERFACE) for an unknown interface,
 * NetlinkError (with the kernel's reason) when the netlink filter is refused.
 */
export function attachTc(prog: Program, iface: string | number, opts: TcOptions = {}): TcLink {
  const direction = opts.direction ?? tcSectionDirection(prog);
  if (direction !== "ingress" && direction !== "egress") {
    throw new ArgumentError(`attach TC program ${prog.name} to ${iface}: say which direction, { direction: "ingress" } or { direction: "egress" } (or use SEC("tcx/ingress") / SEC("tcx/egress"))`);
  }
  checkTc(prog, `${iface} ${direction}`);
  const { ifindex, name } = resolveInterface(iface, `attach TC program ${prog.name}`);
  const target = `${name} ${direction}`;
  let mechanism = opts.mechanism ?? "auto";
  if (mechanism === "auto" && (opts.priority !== undefined || opts.handle !== undefined)) mechanism = "netlink";
  if (mechanism === "tcx" && (opts.priority !== undefined || opts.handle !== undefined)) {
    throw new ArgumentError(`attach TC program ${prog.name} to ${target}: tcx links have no priority or handle; drop them or use mechanism: "netlink"`);
  }
  if (opts.priority !== undefined && (!Number.isInteger(opts.priority) || opts.priority < 1 || opts.priority > 0xffff)) {
    throw new ArgumentError(`attach TC program ${prog.name} to ${target}: priority must be an integer from 1 to 65535`);
  }
  if (mechanism !== "netlink") {
    try {
      const fd = linkCreate({
        progFd: prog.fd.value, targetIfindex: ifindex,
        attachType: direction === "ingress" ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS,
      }, `TC program ${prog.name} to ${target}`);
      return new TcLink({ ifindex, iface: name, direction, mechanism: "bpf_link(tcx)", linkFd: fd, progName: prog.name });
    } catch (e) {
      if (mechanism === "tcx" && (e as { errno?: number }).errno === Errno.EINVAL) {
        throw new NotSupportedError("tcx links", { minimumKernel: "6.6", hint: `BPF_LINK_CREATE with BPF_TCX_${direction.toUpperCase()} returned EINVAL; leave mechanism at "auto" to use a netlink cls_bpf filter`, cause: e });
      }
      if (mechanism === "tcx" || !isLinkUnsupported(e)) throw e;
    }
  }
  return attachNetlink(prog, ifindex, name, direction, opts);
}

function attachNetlink(prog: Program, ifindex: number, name: string, direction: TcDirection, opts: TcOptions): TcLink {
  const target = `${name} ${direction}`;
  const created = tcClsactAdd(ifindex, `add clsact qdisc to ${name}`);
  const owned = created || ownedQdiscs.has(ifindex);
  if (owned) ownedQdiscs.set(ifindex, (ownedQdiscs.get(ifindex) ?? 0) + 1);
  const parent = parentOf(direction);
  let got: { handle: number; priority: number };
  try {
    got = tcFilterAdd({
      ifindex, parent, handle: opts.handle ?? 0, priority: opts.priority ?? 0, progFd: prog.fd.value,
      name: prog.name, replace: opts.replace,
    }, `attach TC program ${prog.name} to ${target}`);
  } catch (e) {
    if (owned) releaseQdisc(ifindex, name);
    throw e;
  }
  const onClose = () => {
    try {
      tcFilterDel({ ifindex, parent, handle: got.handle, priority: got.priority }, `detach TC program ${prog.name} from ${target}`);
    } catch (e) {
      // The filter, its qdisc or the interface is already gone.
      const errno = (e as { errno?: number }).errno;
      if (errno !== Errno.ENOENT && errno !== Errno.ENODEV && errno !== Errno.EINVAL) throw e;
    } finally {
      if (owned) releaseQdisc(ifindex, name);
    }
  };
  return new TcLink({ ifindex, iface: name, direction, mechanism: "netlink(clsact+cls_bpf)", priority: got.priority, handle: got.handle, progName: prog.name, onClose });
}

/** Drops one reference to a tsbpf-created clsact qdisc; deletes it when unused and empty. */
function releaseQdisc(ifindex: number, name: string): void {
  const n = (ownedQdiscs.get(ifindex) ?? 1) - 1;
  if (n > 0) {
    ownedQdiscs.set(ifindex, n);
    return;
  }
  ownedQdiscs.delete(ifindex);
  try {
    const left = tcFilterList(ifindex, parentOf("ingress")).length + tcFilterList(ifindex, parentOf("egress")).length;
    if (left === 0) tcClsactDel(ifindex, `delete clsact qdisc of ${name}`);
  } catch {
    // The interface is gone (and its qdisc with it).
  }
}

/** The cls_bpf filters on interface `iface`'s ingress or egress hook (netlink). */
export function listTcFilters(iface: string | number, direction: TcDirection): TcFilter[] {
  return tcFilterList(resolveInterface(iface, "list TC filters").ifindex, parentOf(direction));
}
