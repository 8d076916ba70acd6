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
import { ArgumentError, BpfError, Errno } from "../errors.js";
import { linkCreate } from "../sys/bpf.js";
import { tracefs } from "../sys/fs.js";
import { PerfIoctl, PerfType, perfEventOpen, perfIoctl } from "../sys/perf.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link, isLinkUnsupported } from "./link.js";
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

/**
 * Attaches a program to a perf event fd: bpf_link first, PERF_EVENT_IOC_SET_BPF as the fallback.
 * Takes ownership of `perf`.
 */
export function attachPerfEvent(prog: Program, perf: FD, kind: string, target: string, opts: { cookie?: bigint; via?: string; onClose?: () => void } = {}): Link {
  const { cookie, onClose } = opts;
  const via = opts.via ? `${opts.via} + ` : "";
  try {
    const link = linkCreate({
      progFd: prog.fd.value, targetFd: perf.value, attachType: AttachType.PERF_EVENT,
      extra: cookie ? (a) => a.u64(16, cookie) : undefined,
    }, `${kind} ${target}`);
    return new Link({ kind, target, mechanism: `${via}bpf_link(perf_event)`, linkFd: link, owned: [perf], onClose });
  } catch (e) {
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
  return new Link({ kind, target, mechanism: `${via}perf_event ioctl`, owned: [perf], onClose });
}

/** Attaches a tracepoint program. Throws BpfError(E_NO_TRACEPOINT) when the tracepoint does not exist. */
export function attachTracepoint(prog: Program, category: string, name: string, opts: { cookie?: bigint } = {}): Link {
  if (prog.type !== ProgramType.TRACEPOINT) {
    throw new ArgumentError(`attach tracepoint ${category}/${name}: program ${prog.name} is not a tracepoint program (put it in SEC("tracepoint/${category}/${name}"))`);
  }
  const id = tracepointId(category, name);
  const perf = perfEventOpen({ type: PerfType.TRACEPOINT, config: BigInt(id), samplePeriod: 1n, wakeupEvents: 1 }, -1, 0, `tracepoint ${category}/${name}`);
  return attachPerfEvent(prog, perf, "tracepoint", `${category}/${name}`, { cookie: opts.cookie });
}
