/**
 * Link: a program attached somewhere. Closing the link detaches the program (unless the link is
 * pinned). Every link records which kernel mechanism tsbpf used (`mechanism`), so fallbacks are
 * visible. A {@link LinkGroup} is one attachment made of several links (one per function, per
 * CPU, ...) that is pinned, updated and closed as one.
 *
 * @example
 * ```ts
 * using link = attachTracepoint(obj.programs.count, "syscalls", "sys_enter_getpid");
 * console.log(link.mechanism); // "bpf_link(perf_event)"
 * ```
 */
import { mkdirSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ArgumentError, BpfError, Errno } from "../errors.js";
import { FD } from "../sys/fd.js";
import { Cmd, getFdById, linkDetach, linkUpdate, objGet, objGetInfoByFd, objPin } from "../sys/bpf.js";
import { ensurePinPath } from "../sys/fs.js";
import { linkTypeName } from "../spec/kernel-enums.js";
import { Program } from "../prog/program.js";

/** Decoded common fields of `struct bpf_link_info`. */
export interface LinkInfo {
  type: number;
  typeName: string;
  id: number;
  progId: number;
  /** The raw info struct, for kind-specific fields. */
  raw: Uint8Array;
  /** For a {@link LinkGroup}: each member's info, in the order of `links` (the group itself has id 0). */
  members?: LinkInfo[];
}

/** What a Link is made from (see the Link constructor). */
export interface LinkParts {
  kind: string;
  target: string;
  mechanism: string;
  linkFd?: FD;
  /** Descriptors the link owns besides `linkFd` (closed with it). */
  owned?: FD[];
  /** Detaches, before the descriptors are closed (they are still valid here). */
  onClose?: () => void;
  /**
   * Cleans up after the descriptors are closed (e.g. removes a tracefs probe event, which the
   * kernel refuses while a perf event uses it). Its error is thrown from close().
   */
  afterClose?: (link: Link) => void;
}

export class Link {
  /** The attach kind, e.g. `tracepoint`, `raw_tracepoint`, `xdp`. */
  readonly kind: string;
  /** What it is attached to, e.g. `syscalls/sys_enter_getpid`. */
  readonly target: string;
  /** The kernel mechanism used, e.g. `bpf_link(perf_event)`, `perf_event ioctl`, `raw_tracepoint`. */
  readonly mechanism: string;
  #linkFd: FD | undefined;
  #owned: FD[];
  #detachHook: (() => void) | undefined;
  #afterClose: ((link: Link) => void) | undefined;
  #pinnedAt: string | undefined;
  #closed = false;

  constructor(p: LinkParts) {
    this.kind = p.kind;
    this.target = p.target;
    this.mechanism = p.mechanism;
    this.#linkFd = p.linkFd;
    this.#owned = p.owned ?? [];
    this.#detachHook = p.onClose;
    this.#afterClose = p.afterClose;
  }

  /** Opens a link pinned on bpffs (for a pinned {@link LinkGroup}, one member; see LinkGroup.openPinned). */
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

  /** The bpf_link descriptor, when the kernel gave one (pinnable, updatable). */
  get linkFd(): FD | undefined {
    return this.#linkFd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Where {@link pin} pinned this link, if it did. */
  get pinnedAt(): string | undefined {
    return this.#pinnedAt;
  }

  /** Records a pin made by a subclass's own pin(). */
  protected notePinned(path: string): void {
    this.#pinnedAt = path;
  }

  /**
   * Swaps in new descriptors (a subclass that re-attached, e.g. a perf event link in update()),
   * closing the old ones.
   */
  protected replaceDescriptors(linkFd: FD | undefined, owned: FD[]): void {
    const old = [...this.#owned, ...(this.#linkFd ? [this.#linkFd] : [])];
    this.#linkFd = linkFd;
    this.#owned = owned;
    for (const f of old) f.close();
  }

  /**
   * Pins the link on bpffs so the attachment outlives this process and close(): it stays until
   * the pin is removed (unlink) and no descriptor of it is left. Needs a bpf_link.
   */
  pin(path: string): void {
    if (!this.#linkFd) {
      throw new ArgumentError(`pin ${this.kind} link ${this.target}: it was attached with ${this.mechanism}, which has no link to pin (needs a kernel with bpf_link for this attach type)`);
    }
    ensurePinPath(path, `pin ${this.kind} link ${this.target}`);
    objPin(this.#linkFd.value, path, `${this.kind} link ${this.target}`);
    this.#pinnedAt = path;
  }

  /** Replaces the attached program atomically (BPF_LINK_UPDATE), where the kernel allows it. */
  update(program: Program): void {
    if (!this.#linkFd) throw new ArgumentError(`update ${this.kind} link ${this.target}: attached with ${this.mechanism}; only bpf_links can be updated`);
    linkUpdate(this.#linkFd.value, program.fd.value);
  }

  /** The id of the program attached through this link, when it can be told (undefined otherwise). */
  attachedProgramId(): number | undefined {
    return this.#linkFd && !this.#closed ? readLinkInfo(this.#linkFd.value).progId : undefined;
  }

  /** Detaches the program but keeps the descriptor (BPF_LINK_DETACH), e.g. for a pinned link. */
  detach(): void {
    if (!this.#linkFd) return this.close();
    linkDetach(this.#linkFd.value);
  }

  /** The kernel's view of the link. */
  info(): LinkInfo {
    if (!this.#linkFd) throw new ArgumentError(`read info of ${this.kind} link ${this.target}: attached with ${this.mechanism}, not a bpf_link`);
    return readLinkInfo(this.#linkFd.value);
  }

  /**
   * Detaches and releases everything: the detach hook, then the descriptors, then the clean-up
   * that needs them closed. Throws the first failure (after doing the rest). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const hook = this.#detachHook;
    const after = this.#afterClose;
    this.#detachHook = undefined;
    this.#afterClose = undefined;
    let failure: unknown;
    try {
      hook?.();
    } catch (e) {
      failure = e;
    }
    this.replaceDescriptors(undefined, []);
    try {
      after?.(this);
    } catch (e) {
      failure ??= e;
    }
    if (failure !== undefined) throw failure;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A bpffs file name for a member: no '.' or '/' (bpffs refuses dots), unique within the group. */
function memberFileNames(names: string[]): string[] {
  const seen = new Set<string>();
  return names.map((n, i) => {
    let f = n.replace(/[^\w-]/g, "_") || String(i);
    if (seen.has(f)) f = `${f}-${i}`;
    seen.add(f);
    return f;
  });
}

/**
 * Several links that make one attachment: one uprobe or kprobe per function (the uprobe.multi and
 * kprobe.multi fallbacks), one perf event per CPU. `links` are the members; info(), pin(),
 * update() and close() act on each of them.
 */
export class LinkGroup<L extends Link = Link> extends Link {
  /** The member links, in attach order. */
  readonly links: readonly L[];
  /** The file name of each member under a directory pinned with {@link pin}. */
  readonly memberNames: readonly string[];

  /** `names`: one per member (a function, `cpu3`, ...), used as its pin file name; default its index. */
  constructor(p: { kind: string; target: string; mechanism: string; links: L[]; names?: string[] }) {
    const links = [...p.links];
    super({
      kind: p.kind, target: p.target, mechanism: p.mechanism,
      onClose: () => {
        let failure: unknown;
        for (const l of links) {
          try {
            l.close();
          } catch (e) {
            failure ??= e;
          }
        }
        if (failure !== undefined) throw failure;
      },
    });
    this.links = links;
    this.memberNames = memberFileNames(p.names ?? links.map((_l, i) => String(i)));
  }

  /**
   * Opens the members pinned in directory `dir` by {@link pin} (in file name order) as a group.
   * Each member can also be opened alone with Link.openPinned(`${dir}/${name}`).
   */
  static override openPinned(dir: string): LinkGroup {
    let names: string[];
    try {
      names = readdirSync(dir).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    } catch (e) {
      throw new BpfError("E_NO_PIN", `open pinned link group ${dir}: cannot list it (${(e as NodeJS.ErrnoException).code}); give the directory that LinkGroup.pin() made`, { cause: e });
    }
    if (names.length === 0) throw new BpfError("E_NO_PIN", `open pinned link group ${dir}: the directory is empty`);
    const links: Link[] = [];
    try {
      for (const n of names) links.push(Link.openPinned(join(dir, n)));
    } catch (e) {
      for (const l of links) l.close();
      throw e;
    }
    return new LinkGroup({ kind: links[0]!.kind, target: dir, mechanism: `${links.length} pinned bpf_links`, links, names });
  }

  /** The members' info in `members`; type and program are the members' when they agree (id is 0: the group has none). */
  override info(): LinkInfo {
    const members = this.links.map((l) => l.info());
    const first = members[0];
    const same = <K extends "type" | "progId">(k: K) => (first && members.every((m) => m[k] === first[k]) ? first[k] : 0);
    return { type: same("type"), typeName: first && same("type") === first.type ? first.typeName : "group", id: 0, progId: same("progId"), raw: new Uint8Array(0), members };
  }

  /**
   * Pins every member in directory `dir` (created; it may exist if empty), one file per member
   * named as in {@link memberNames}. On failure the pins made so far are removed.
   */
  override pin(dir: string): void {
    ensurePinPath(dir, `pin ${this.kind} links ${this.target}`, true);
    let created = false;
    try {
      mkdirSync(dir);
      created = true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EEXIST") throw new BpfError("E_PIN", `pin ${this.kind} link group ${this.target}: cannot create directory ${dir} (${code}); give a new directory on a bpf file system (mount -t bpf bpf /sys/fs/bpf)`, { cause: e });
      if (readdirSync(dir).length > 0) throw new ArgumentError(`pin ${this.kind} link group ${this.target}: ${dir} exists and is not empty; give a new or empty directory`);
    }
    const done: string[] = [];
    try {
      this.links.forEach((l, i) => {
        const p = join(dir, this.memberNames[i]!);
        l.pin(p);
        done.push(p);
      });
    } catch (e) {
      for (const p of done) rmSync(p, { force: true });
      if (created) rmdirSync(dir);
      throw e;
    }
    this.notePinned(dir);
  }

  /**
   * Puts `program` on every member, each as its kind allows (BPF_LINK_UPDATE is atomic per
   * member; the group as a whole is not). If a member refuses, the members already updated are
   * put back on their previous programs and BpfError(E_LINK_UPDATE) says which one refused.
   */
  override update(program: Program): void {
    const before = this.links.map((l) => l.attachedProgramId());
    const done: number[] = [];
    for (let i = 0; i < this.links.length; i++) {
      try {
        this.links[i]!.update(program);
        done.push(i);
      } catch (e) {
        const notRestored: string[] = [];
        for (const j of done.reverse()) {
          const member = this.links[j]!;
          try {
            if (before[j] === undefined) throw new Error("its previous program is unknown");
            using old = Program.fromId(before[j]!);
            member.update(old);
          } catch (r) {
            notRestored.push(`${member.target} (${(r as Error).message})`);
          }
        }
        const rollback = done.length === 0 ? "no member was changed"
          : notRestored.length ? `rolling back failed for ${notRestored.join("; ")}`
          : `the ${done.length} member(s) updated before it were put back on their previous program`;
        throw new BpfError("E_LINK_UPDATE", `update ${this.kind} ${this.target} to program ${program.name}: member ${i} (${this.links[i]!.target}) refused it: ${(e as Error).message}; ${rollback}`, { cause: e });
      }
    }
  }

  /** The members' common program id, when they all have the same one. */
  override attachedProgramId(): number | undefined {
    const ids = this.links.map((l) => l.attachedProgramId());
    return ids.length > 0 && ids.every((id) => id !== undefined && id === ids[0]) ? ids[0] : undefined;
  }

  /** Detaches every member (BPF_LINK_DETACH where a member is a bpf_link). */
  override detach(): void {
    for (const l of this.links) l.detach();
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
