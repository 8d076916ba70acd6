/**
 * Link: a program attached somewhere. Closing the link detaches the program (unless the link is
 * pinned). Every link records which kernel mechanism tsbpf used (`mechanism`), so fallbacks are
 * visible.
 *
 * @example
 * ```ts
 * using link = attachTracepoint(obj.programs.count, "syscalls", "sys_enter_getpid");
 * console.log(link.mechanism); // "bpf_link(perf_event)"
 * ```
 */
import { ArgumentError, Errno } from "../errors.js";
import { FD } from "../sys/fd.js";
import { Cmd, getFdById, linkDetach, linkUpdate, objGet, objGetInfoByFd, objPin } from "../sys/bpf.js";
import { ensurePinPath } from "../sys/fs.js";
import { linkTypeName } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";

/** Decoded common fields of `struct bpf_link_info`. */
export interface LinkInfo {
  type: number;
  typeName: string;
  id: number;
  progId: number;
  /** The raw info struct, for kind-specific fields. */
  raw: Uint8Array;
}

export class Link {
  /** The attach kind, e.g. `tracepoint`, `raw_tracepoint`, `xdp`. */
  readonly kind: string;
  /** What it is attached to, e.g. `syscalls/sys_enter_getpid`. */
  readonly target: string;
  /** The kernel mechanism used, e.g. `bpf_link(perf_event)`, `perf_event ioctl`, `raw_tracepoint`. */
  readonly mechanism: string;
  /** The bpf_link descriptor, when the kernel gave one (pinnable, updatable). */
  readonly linkFd: FD | undefined;
  readonly #owned: FD[];
  #detachHook: (() => void) | undefined;
  #closed = false;

  constructor(p: { kind: string; target: string; mechanism: string; linkFd?: FD; owned?: FD[]; onClose?: () => void }) {
    this.kind = p.kind;
    this.target = p.target;
    this.mechanism = p.mechanism;
    this.linkFd = p.linkFd;
    this.#owned = [...(p.owned ?? []), ...(p.linkFd ? [p.linkFd] : [])];
    this.#detachHook = p.onClose;
  }

  /** Opens a link pinned on bpffs. */
  static openPinned(path: string): Link {
    const fd = objGet(path, 0, "pinned link");
    const info = readLinkInfo(fd.value);
    return new Link({ kind: info.typeName, target: path, mechanism: "bpf_link (pinned)", linkFd: fd });
  }

  /** Opens a link by id. */
  static fromId(id: number): Link {
    const fd = getFdById(Cmd.LINK_GET_FD_BY_ID, id, "link");
    const info = readLinkInfo(fd.value);
    return new Link({ kind: info.typeName, target: `link ${id}`, mechanism: "bpf_link", linkFd: fd });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Pins the link on bpffs so the attachment outlives this process. Needs a bpf_link. */
  pin(path: string): void {
    if (!this.linkFd) {
      throw new ArgumentError(`pin ${this.kind} link ${this.target}: it was attached with ${this.mechanism}, which has no link to pin (needs a kernel with bpf_link for this attach type)`);
    }
    ensurePinPath(path, `pin ${this.kind} link ${this.target}`);
    objPin(this.linkFd.value, path, `${this.kind} link ${this.target}`);
  }

  /** Replaces the attached program atomically (BPF_LINK_UPDATE), where the kernel allows it. */
  update(program: Program): void {
    if (!this.linkFd) throw new ArgumentError(`update ${this.kind} link ${this.target}: attached with ${this.mechanism}; only bpf_links can be updated`);
    linkUpdate(this.linkFd.value, program.fd.value);
  }

  /** Detaches the program but keeps the descriptor (BPF_LINK_DETACH), e.g. for a pinned link. */
  detach(): void {
    if (!this.linkFd) return this.close();
    linkDetach(this.linkFd.value);
  }

  /** The kernel's view of the link. */
  info(): LinkInfo {
    if (!this.linkFd) throw new ArgumentError(`read info of ${this.kind} link ${this.target}: attached with ${this.mechanism}, not a bpf_link`);
    return readLinkInfo(this.linkFd.value);
  }

  /** Detaches and releases everything. Idempotent. */
  close(): void {
    this.#closed = true;
    const hook = this.#detachHook;
    this.#detachHook = undefined;
    try {
      hook?.();
    } finally {
      for (const f of this.#owned) f.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Reads `struct bpf_link_info`. */
export function readLinkInfo(fd: number): LinkInfo {
  const buf = new Uint8Array(128);
  objGetInfoByFd(fd, buf, "link");
  const v = new DataView(buf.buffer);
  const type = v.getUint32(0, true);
  return { type, typeName: linkTypeName(type)?.toLowerCase() ?? `link type ${type}`, id: v.getUint32(4, true), progId: v.getUint32(8, true), raw: buf };
}

/** True for errors that mean "this kernel has no bpf_link for that": the caller falls back. */
export function isLinkUnsupported(e: unknown): boolean {
  const errno = (e as { errno?: number }).errno;
  return errno === Errno.EINVAL || errno === Errno.ENOTSUPP || errno === Errno.EOPNOTSUPP || errno === Errno.ENOSYS || errno === Errno.EBADF;
}
