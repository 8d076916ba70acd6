/**
 * Tracepoints (`SEC("tracepoint/<category>/<name>")`): a perf event of type TRACEPOINT with the
 * program attached through a bpf_link (Linux 5.15+) or, on older kernels, PERF_EVENT_IOC_SET_BPF.
 *
 * @example
 * ```ts
 * using link = attachTracepoint(prog, "syscalls", "sys_enter_getpid");
 * ```
 */
import { readFileSync, existsSync } from "node:fs";
import { ArgumentError, BpfError, Errno, NotSupportedError } from "../errors.js";
import { linkCreate } from "../sys/bpf.js";
import { tracefs } from "../sys/fs.js";
import { PerfIoctl, PerfType, perfEventOpen, perfIoctl } from "../sys/perf.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link, isLinkUnsupported, type LinkParts } from "./link.js";
import type { FD } from "../sys/fd.js";

/** The numeric id of a tracepoint from tracefs (`events/<category>/<name>/id`). */
export function tracepointId(category: string, name: string): number {
  if (!/^[\w.-]+$/.test(category) || !/^[\w.-]+$/.test(name)) {
    throw new ArgumentError(`attach tracepoint ${category}/${name}: category and name may hold only letters, digits, '_', '.' and '-'`);
  }
  const root = tracefs();
  const path = `${root}/events/${category}/${name}/id`;
  if (!existsSync(path)) {
    const hint = existsSync(`${root}/events/${category}`) ? `; ls ${root}/events/${category} lists its tracepoints` : `; the category ${category} does not exist (ls ${root}/events)`;
    throw new BpfError("E_NO_TRACEPOINT", `attach tracepoint ${category}/${name}: the kernel has no such tracepoint${hint}`);
  }
  return Number(readFileSync(path, "utf8").trim());
}

function tracefsFormatPath(target: string): string {
  try {
    return `${tracefs()}/events/${target}/format`;
  } catch {
    return `/sys/kernel/tracing/events/${target}/format`;
  }
}

/** Options for {@link attachPerfEvent}. */
export interface PerfAttachOptions {
  /** A value the program reads with bpf_get_attach_cookie() (bpf_link only). */
  cookie?: bigint;
  /** How the perf event was made, put before the attach mechanism, e.g. `uprobe PMU`. */
  via?: string;
  /** The perf event's pid and cpu arguments (-1: any), recorded on the link. Default -1 and 0. */
  pid?: number;
  cpu?: number;
  /** Clean-up after the descriptors are closed (see LinkParts.afterClose). */
  afterClose?: (link: Link) => void;
}

/** Attaches `prog` to the open perf event `perf`: a bpf_link, else PERF_EVENT_IOC_SET_BPF. Closes `perf` on failure. */
function attachToPerfFd(prog: Program, perf: FD, kind: string, target: string, cookie: bigint | undefined): { linkFd?: FD; how: string } {
  try {
    const linkFd = linkCreate({
      progFd: prog.fd.value, targetFd: perf.value, attachType: AttachType.PERF_EVENT,
      extra: cookie ? (a) => a.u64(16, cookie) : undefined,
    }, `${kind} ${target}`);
    return { linkFd, how: "bpf_link(perf_event)" };
  } catch (e) {
    if (cookie && isLinkUnsupported(e)) {
      // PERF_EVENT_IOC_SET_BPF has no cookie: the program would read 0, not what it was given.
      perf.close();
      throw new NotSupportedError(`a BPF cookie on ${kind} ${target}`, {
        minimumKernel: "5.15",
        hint: `the kernel refused a perf_event bpf_link for program ${prog.name} (${(e as Error).message}), and the older attach (PERF_EVENT_IOC_SET_BPF) cannot carry a cookie; attach without one`,
        cause: e,
      });
    }
    if (!isLinkUnsupported(e)) {
      perf.close();
      if ((e as { errno?: number }).errno === Errno.EACCES && kind === "tracepoint") {
        throw new BpfError("E_CTX_ACCESS", `attach program ${prog.name} to tracepoint ${target}: the kernel refused it (EACCES). A tracepoint program may only read its event's record: the program reads past its end (or below offset 8); compare the struct the program uses with ${tracefsFormatPath(target)}. (Without root or CAP_PERFMON the same error means missing privileges.)`, { cause: e });
      }
      throw e;
    }
  }
  try {
    perfIoctl(perf.value, PerfIoctl.SET_BPF, prog.fd.value, `attach ${kind} ${target}`);
    perfIoctl(perf.value, PerfIoctl.ENABLE, 0, `enable ${kind} ${target}`);
  } catch (e) {
    perf.close();
    throw e;
  }
  return { how: "perf_event ioctl" };
}

/**
 * A program on a perf event (tracepoint, kprobe, uprobe, sampling event). `pid` and `cpu` are
 * the perf event's (-1: any).
 */
export class PerfEventLink extends Link {
  readonly pid: number;
  readonly cpu: number;
  readonly #open: () => FD;
  readonly #cookie: bigint | undefined;
  #progId: number | undefined;

  constructor(p: LinkParts & { pid: number; cpu: number; open: () => FD; cookie?: bigint; progId?: number }) {
    super(p);
    this.pid = p.pid;
    this.cpu = p.cpu;
    this.#open = p.open;
    this.#cookie = p.cookie;
    this.#progId = p.progId;
  }

  /**
   * Puts `program` on this event. The kernel cannot update a perf event's program in place (no
   * BPF_LINK_UPDATE for perf links, a second PERF_EVENT_IOC_SET_BPF is EEXIST), so a new perf
   * event with the same attributes gets `program` and the old one is closed after: no event is
   * missed, but for that moment both programs may run.
   */
  override update(program: Program): void {
    if (this.closed) throw new ArgumentError(`update ${this.kind} link ${this.target}: the link is closed`);
    const perf = this.#open();
    const { linkFd } = attachToPerfFd(program, perf, this.kind, this.target, this.#cookie);
    this.#progId = linkFd ? undefined : program.info().id;
    this.replaceDescriptors(linkFd, [perf]);
  }

  override attachedProgramId(): number | undefined {
    return this.linkFd ? super.attachedProgramId() : this.closed ? undefined : this.#progId;
  }
}

/**
 * Attaches a program to the perf event `open()` opens (called again by update()): bpf_link
 * first, PERF_EVENT_IOC_SET_BPF as the fallback.
 */
export function attachPerfEvent(prog: Program, open: () => FD, kind: string, target: string, opts: PerfAttachOptions = {}): PerfEventLink {
  const perf = open();
  const { linkFd, how } = attachToPerfFd(prog, perf, kind, target, opts.cookie);
  return new PerfEventLink({
    kind, target, mechanism: `${opts.via ? `${opts.via} + ` : ""}${how}`, linkFd, owned: [perf], afterClose: opts.afterClose,
    pid: opts.pid ?? -1, cpu: opts.cpu ?? 0, open, cookie: opts.cookie, progId: linkFd ? undefined : prog.info().id,
  });
}

/** Attaches a tracepoint program. Throws BpfError(E_NO_TRACEPOINT) when the tracepoint does not exist. */
export function attachTracepoint(prog: Program, category: string, name: string, opts: { cookie?: bigint } = {}): Link {
  if (prog.type !== ProgramType.TRACEPOINT) {
    throw new ArgumentError(`attach tracepoint ${category}/${name}: program ${prog.name} is not a tracepoint program (put it in SEC("tracepoint/${category}/${name}"))`);
  }
  const id = tracepointId(category, name);
  const open = () => perfEventOpen({ type: PerfType.TRACEPOINT, config: BigInt(id), samplePeriod: 1n, wakeupEvents: 1 }, -1, 0, `tracepoint ${category}/${name}`);
  return attachPerfEvent(prog, open, "tracepoint", `${category}/${name}`, { cookie: opts.cookie });
}
