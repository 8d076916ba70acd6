/**
 * kprobes and kretprobes (`SEC("kprobe/<func>")`, `SEC("kretprobe/<func>")`): the perf kprobe PMU
 * (Linux 4.17+) first, the tracefs `kprobe_events` interface as the fallback. Kernels built
 * without CONFIG_KPROBES have neither: attaching then throws NotSupportedError naming it.
 *
 * @example
 * ```ts
 * using link = attachKprobe(prog, "vfs_read", { retprobe: true });
 * ```
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { ArgumentError, BpfError, Errno, NotSupportedError } from "../errors.js";
import { tracefs } from "../sys/fs.js";
import { PerfType, perfEventOpen } from "../sys/perf.js";
import { ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { attachPerfEvent } from "./tracepoint.js";
import type { Link } from "./link.js";

const PMU_DIR = "/sys/bus/event_source/devices/kprobe";

/** Options for {@link attachKprobe}. */
export interface KprobeOptions {
  /** Attach to the function's return (kretprobe). */
  retprobe?: boolean;
  /** Byte offset into the function (kprobes only). */
  offset?: number;
  /** A value the program reads with bpf_get_attach_cookie(). */
  cookie?: bigint;
}

function kprobesMissing(func: string, cause?: unknown): NotSupportedError {
  return new NotSupportedError(`kprobes (attaching to ${func})`, {
    kernelConfig: "CONFIG_KPROBES",
    hint: "This kernel has neither the kprobe perf PMU nor tracefs kprobe_events. Attach to a tracepoint instead (SEC(\"tracepoint/syscalls/sys_enter_*\") or raw_tracepoint), or use fentry/fexit on a kernel with BPF trampolines",
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

let legacyCounter = 0;

/** Attaches a kprobe/kretprobe program to kernel function `func`. Throws NotSupportedError without CONFIG_KPROBES. */
export function attachKprobe(prog: Program, func: string, opts: KprobeOptions = {}): Link {
  if (prog.type !== ProgramType.KPROBE) {
    throw new ArgumentError(`attach kprobe ${func}: program ${prog.name} is not a kprobe program (SEC("kprobe/${func}"))`);
  }
  if (!/^[\w.]+$/.test(func)) throw new ArgumentError(`attach kprobe ${func}: not a kernel symbol name`);
  const kind = opts.retprobe ? "kretprobe" : "kprobe";
  const target = opts.offset ? `${func}+${opts.offset}` : func;
  if (existsSync(`${PMU_DIR}/type`)) {
    const pmu = Number(readFileSync(`${PMU_DIR}/type`, "utf8").trim());
    let perf;
    try {
      perf = perfEventOpen({
        type: pmu, config: opts.retprobe ? retprobeBit() : 0n, config1String: func, config2: BigInt(opts.offset ?? 0),
        samplePeriod: 1n, wakeupEvents: 1,
      }, -1, 0, `${kind} ${target}`);
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      if (errno === Errno.ENOENT || errno === Errno.EINVAL) {
        throw new BpfError("E_NO_SYMBOL", `attach ${kind} ${target}: the kernel cannot probe ${func} (no such function, or it is inlined or blacklisted); see /proc/kallsyms and /sys/kernel/tracing/available_filter_functions`, { cause: e });
      }
      throw e;
    }
    return attachPerfEvent(prog, perf, kind, target, { cookie: opts.cookie, via: "kprobe PMU" });
  }
  // Fallback: tracefs kprobe_events (kernels without the PMU, or with it disabled).
  let root: string;
  try {
    root = tracefs();
  } catch (e) {
    throw kprobesMissing(func, e);
  }
  const events = `${root}/kprobe_events`;
  if (!existsSync(events)) throw kprobesMissing(func);
  const name = `tsbpf_${process.pid}_${func.replace(/\W/g, "_")}_${legacyCounter++}`;
  const def = `${opts.retprobe ? "r" : "p"}:kprobes/${name} ${func}${opts.offset ? `+${opts.offset}` : ""}`;
  try {
    appendFileSync(events, `${def}\n`);
  } catch (e) {
    throw new BpfError("E_NO_SYMBOL", `attach ${kind} ${target} through ${events}: the kernel refused "${def}" (${(e as Error).message}); check that ${func} exists and can be probed`, { cause: e });
  }
  const remove = () => {
    try {
      appendFileSync(events, `-:kprobes/${name}\n`);
    } catch {
      /* already gone */
    }
  };
  try {
    const id = Number(readFileSync(`${root}/events/kprobes/${name}/id`, "utf8").trim());
    const perf = perfEventOpen({ type: PerfType.TRACEPOINT, config: BigInt(id), samplePeriod: 1n, wakeupEvents: 1 }, -1, 0, `${kind} ${target}`);
    return attachPerfEvent(prog, perf, kind, target, { cookie: opts.cookie, via: "tracefs kprobe_events", onClose: remove });
  } catch (e) {
    remove();
    throw e;
  }
}
