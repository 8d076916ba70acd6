/**
 * kprobes and kretprobes (`SEC("kprobe/<func>[+<offset>]")`, `SEC("kretprobe/<func>")`): the
 * perf kprobe PMU (Linux 4.17+) first, the tracefs `kprobe_events` interface as the fallback
 * (`mechanism: "tracefs"` forces it). Kernels built without CONFIG_KPROBES have neither:
 * attaching then throws NotSupportedError naming it.
 *
 * @example
 * ```ts
 * using link = attachKprobe(prog, "vfs_read", { retprobe: true });
 * using at = attachKprobe(prog, "vfs_read", { offset: 5, mechanism: "tracefs" });
 * ```
 */
import { existsSync, readFileSync } from "node:fs";
import { ArgumentError, BpfError, Errno, NotSupportedError } from "../errors.js";
import { perfEventOpen } from "../sys/perf.js";
import { ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { attachPerfEvent } from "./tracepoint.js";
import { defineProbeEvent } from "./probe-events.js";
import type { Link } from "./link.js";

const PMU_DIR = "/sys/bus/event_source/devices/kprobe";
const EILSEQ = 84;

/** Options for {@link attachKprobe}. */
export interface KprobeOptions {
  /** Attach to the function's return (kretprobe). */
  retprobe?: boolean;
  /** Byte offset into the function (kprobes only); it must be the start of an instruction. */
  offset?: number;
  /** A value the program reads with bpf_get_attach_cookie(). */
  cookie?: bigint;
  /**
   * `auto` (default): the kprobe perf PMU, tracefs kprobe_events where the kernel has no PMU.
   * `pmu` or `tracefs` force one. A tracefs event is removed by close() (which throws
   * BpfError(E_PROBE_EVENT) if the kernel refuses); a pinned link keeps its event, named in
   * `mechanism`, for whoever removes the pin to delete.
   */
  mechanism?: "auto" | "pmu" | "tracefs";
}

function kprobesMissing(func: string, cause?: unknown, what = "neither the kprobe perf PMU nor tracefs kprobe_events"): NotSupportedError {
  return new NotSupportedError(`kprobes (attaching to ${func})`, {
    kernelConfig: "CONFIG_KPROBES",
    hint: `This kernel has ${what}. Attach to a tracepoint instead (SEC("tracepoint/syscalls/sys_enter_*") or raw_tracepoint), or use fentry/fexit on a kernel with BPF trampolines`,
    cause,
  });
}

function retprobeBit(): bigint {
  try {
    const fmt = readFileSync(`${PMU_DIR}/format/retprobe`, "utf8").trim(); // "config:0"
    const m = /^config:(\d+)$/.exec(fmt);
    return m ? 1n << BigInt(m[1]!) : 1n;
  } catch {
    return 1n;
  }
}

/** The error for a probe the kernel refused: a bad offset (EILSEQ), or a function it cannot probe. */
function refusedProbe(kind: string, target: string, func: string, offset: number | undefined, errno: number | undefined, how: string, cause: unknown): Error | undefined {
  if (errno === EILSEQ && offset) {
    return new BpfError("E_PROBE_OFFSET", `attach ${kind} ${target}${how}: offset ${offset} is not the start of an instruction of ${func} (EILSEQ); disassemble ${func} (e.g. gdb or objdump on vmlinux) and give an instruction boundary`, { cause });
  }
  if (errno === Errno.ENOENT || errno === Errno.EINVAL) {
    return new BpfError("E_NO_SYMBOL", `attach ${kind} ${target}${how}: the kernel cannot probe ${func}${offset ? `+${offset}` : ""} (no such function, the offset is past its end, or it is inlined or blacklisted); see /proc/kallsyms and /sys/kernel/tracing/available_filter_functions`, { cause });
  }
  return undefined;
}

/** Attaches a kprobe/kretprobe program to kernel function `func`. Throws NotSupportedError without CONFIG_KPROBES. */
export function attachKprobe(prog: Program, func: string, opts: KprobeOptions = {}): Link {
  if (prog.type !== ProgramType.KPROBE) {
    throw new ArgumentError(`attach kprobe ${func}: program ${prog.name} is not a kprobe program (SEC("kprobe/${func}"))`);
  }
  if (!/^[\w.]+$/.test(func)) throw new ArgumentError(`attach kprobe ${func}: not a kernel symbol name`);
  if (opts.offset !== undefined && (!Number.isInteger(opts.offset) || opts.offset < 0)) throw new ArgumentError(`attach kprobe ${func}: offset must be a non-negative integer, not ${opts.offset}`);
  if (opts.offset && opts.retprobe) throw new ArgumentError(`attach kretprobe ${func}+${opts.offset}: a kretprobe is at the function's entry; drop the offset`);
  const kind = opts.retprobe ? "kretprobe" : "kprobe";
  const target = opts.offset ? `${func}+${opts.offset}` : func;
  const mechanism = opts.mechanism ?? "auto";
  if (mechanism !== "auto" && mechanism !== "pmu" && mechanism !== "tracefs") throw new ArgumentError(`attach ${kind} ${target}: mechanism must be auto, pmu or tracefs, not ${String(mechanism)}`);
  const hasPmu = existsSync(`${PMU_DIR}/type`);
  if (mechanism === "pmu" && !hasPmu) throw kprobesMissing(func, undefined, `no kprobe perf PMU (${PMU_DIR}); leave mechanism at "auto" to use tracefs kprobe_events`);
  if (hasPmu && mechanism !== "tracefs") {
    const pmu = Number(readFileSync(`${PMU_DIR}/type`, "utf8").trim());
    const open = () => {
      try {
        return perfEventOpen({
          type: pmu, config: opts.retprobe ? retprobeBit() : 0n, config1String: func, config2: BigInt(opts.offset ?? 0),
          samplePeriod: 1n, wakeupEvents: 1,
        }, -1, 0, `${kind} ${target}`);
      } catch (e) {
        throw refusedProbe(kind, target, func, opts.offset, (e as { errno?: number }).errno, "", e) ?? e;
      }
    };
    return attachPerfEvent(prog, open, kind, target, { cookie: opts.cookie, via: "kprobe PMU" });
  }
  // tracefs kprobe_events (kernels without the PMU, or forced).
  const ev = defineProbeEvent("kprobe", !!opts.retprobe, target, func, {
    missing: (cause) => kprobesMissing(func, cause, mechanism === "tracefs" ? "no tracefs kprobe_events" : undefined),
    refused: (def, e, file) => {
      const errno = (Errno as Record<string, number>)[e.code ?? ""] ?? (e.code === "EILSEQ" ? EILSEQ : undefined);
      return refusedProbe(kind, target, func, opts.offset, errno, ` through ${file} ("${def}")`, e)
        ?? new BpfError("E_NO_SYMBOL", `attach ${kind} ${target} through ${file}: the kernel refused "${def}" (${e.message}); check that ${func} exists and can be probed`, { cause: e });
    },
  });
  try {
    return attachPerfEvent(prog, () => ev.open(-1, 0, `${kind} ${target}`), kind, target, { cookie: opts.cookie, via: `tracefs kprobe_events (${ev.event})`, afterClose: (l) => ev.remove(l) });
  } catch (e) {
    ev.remove();
    throw e;
  }
}
