/**
 * perf_event programs (`SEC("perf_event")`): run on a sampling event — a software clock
 * (cpu-clock, task-clock), a hardware counter (cycles, instructions, cache misses) — at a
 * frequency or every N events, on every online CPU (one perf event and one link per CPU, as a
 * profiler needs) or for one process. bpf_link(perf_event) on Linux 5.15+, PERF_EVENT_IOC_SET_BPF
 * before.
 *
 * @example
 * ```ts
 * using prof = attachPerfEventSampling(obj.programs.profile, { event: "cpu-clock", frequency: 99 });
 * console.log(prof.links.map((l) => l.cpu));
 * ```
 */
import { ArgumentError, Errno, NotSupportedError } from "../errors.js";
import { onlineCpus } from "../sys/cpus.js";
import { PerfType, perfEventOpen } from "../sys/perf.js";
import { ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { LinkGroup } from "./link.js";
import { attachPerfEvent, type PerfEventLink } from "./tracepoint.js";

/** PERF_COUNT_SW_* */
export const SoftwareEvent = {
  "cpu-clock": 0, "task-clock": 1, "page-faults": 2, "context-switches": 3, "cpu-migrations": 4,
  "minor-faults": 5, "major-faults": 6, "alignment-faults": 7, "emulation-faults": 8, dummy: 9, "bpf-output": 10,
} as const;

/** PERF_COUNT_HW_* */
export const HardwareEvent = {
  cycles: 0, instructions: 1, "cache-references": 2, "cache-misses": 3, "branch-instructions": 4,
  "branch-misses": 5, "bus-cycles": 6, "stalled-cycles-frontend": 7, "stalled-cycles-backend": 8, "ref-cycles": 9,
} as const;

/** Options for {@link attachPerfEventSampling}. */
export interface PerfSamplingOptions {
  /** A named software or hardware event; or give `type` and `config` for any other (raw, cache, a PMU's type). */
  event?: keyof typeof SoftwareEvent | keyof typeof HardwareEvent;
  type?: number;
  config?: bigint;
  /** Samples per second (sets the freq bit). One of `frequency` and `period` is required. */
  frequency?: number;
  /** Run the program every `period` events. */
  period?: bigint;
  /** CPUs to sample on; default every online CPU. Ignored when `pid` is given without `cpus`. */
  cpus?: number[];
  /** Only this process (on every CPU). */
  pid?: number;
  /** A value the program reads with bpf_get_attach_cookie() (bpf_link only). */
  cookie?: bigint;
}

/**
 * One link per CPU (or one for a process): a {@link LinkGroup} whose members are the per-CPU
 * links (each with its `cpu`, -1 for a process), pinned as files `cpu<N>` (or `pid<N>`).
 */
export class PerfEventLinks extends LinkGroup<PerfEventLink> {}

/**
 * Attaches a perf_event program to a sampling event on every online CPU. Throws ArgumentError for
 * bad options, NotSupportedError when the event does not exist here (e.g. hardware counters in a
 * VM without a PMU).
 */
export function attachPerfEventSampling(prog: Program, opts: PerfSamplingOptions): PerfEventLinks {
  if (prog.type !== ProgramType.PERF_EVENT) throw new ArgumentError(`attach perf_event ${prog.name}: not a perf_event program (SEC("perf_event"))`);
  let type = opts.type;
  let config = opts.config ?? 0n;
  if (opts.event !== undefined) {
    if (opts.event in SoftwareEvent) {
      type = PerfType.SOFTWARE;
      config = BigInt(SoftwareEvent[opts.event as keyof typeof SoftwareEvent]);
    } else if (opts.event in HardwareEvent) {
      type = PerfType.HARDWARE;
      config = BigInt(HardwareEvent[opts.event as keyof typeof HardwareEvent]);
    } else {
      throw new ArgumentError(`attach perf_event ${prog.name}: unknown event "${opts.event}" (software: ${Object.keys(SoftwareEvent).join(", ")}; hardware: ${Object.keys(HardwareEvent).join(", ")})`);
    }
  }
  if (type === undefined) throw new ArgumentError(`attach perf_event ${prog.name}: give an event name or a type and config`);
  if ((opts.frequency === undefined) === (opts.period === undefined)) throw new ArgumentError(`attach perf_event ${prog.name}: give exactly one of frequency and period`);
  if (opts.frequency !== undefined && !(opts.frequency > 0)) throw new ArgumentError(`attach perf_event ${prog.name}: frequency must be positive`);
  const name = opts.event ?? `type ${type} config ${config}`;
  const pid = opts.pid && opts.pid > 0 ? opts.pid : -1;
  const cpus = opts.cpus ?? (pid > 0 ? [-1] : onlineCpus());
  const links: PerfEventLink[] = [];
  try {
    for (const cpu of cpus) {
      const where = cpu < 0 ? `pid ${pid}` : `cpu ${cpu}`;
      const open = () => {
        try {
          return perfEventOpen({
            type, config, sampleFreq: opts.frequency !== undefined ? BigInt(Math.round(opts.frequency)) : undefined,
            samplePeriod: opts.period, wakeupEvents: 1,
          }, pid, cpu, `perf_event ${name} on ${where}`);
        } catch (e) {
          const errno = (e as { errno?: number }).errno;
          if (errno === Errno.ENOENT || errno === Errno.EOPNOTSUPP || (errno === 19 /* ENODEV */)) {
            throw new NotSupportedError(`perf event ${name}`, {
              hint: type === PerfType.HARDWARE ? "this CPU or VM exposes no hardware counter for it (virtual machines often have no PMU); use the software event cpu-clock instead" : "the kernel has no such event",
              cause: e,
            });
          }
          if (errno === Errno.EINVAL && opts.frequency !== undefined) {
            throw new ArgumentError(`attach perf_event ${prog.name}: the kernel refused ${opts.frequency} Hz (above kernel.perf_event_max_sample_rate?)`, { cause: e });
          }
          throw e;
        }
      };
      links.push(attachPerfEvent(prog, open, "perf_event", `${name} ${where}`, { cookie: opts.cookie, pid, cpu }));
    }
  } catch (e) {
    for (const l of links) l.close();
    throw e;
  }
  const rate = opts.frequency !== undefined ? `${opts.frequency} Hz` : `every ${opts.period} events`;
  return new PerfEventLinks({
    kind: "perf_event", target: `${name} at ${rate} on ${pid > 0 ? `pid ${pid}` : `${links.length} CPU(s)`}`,
    mechanism: `${links.length} × ${links[0]?.mechanism ?? "perf_event"}`, links,
    names: links.map((l) => (l.cpu < 0 ? `pid${pid}` : `cpu${l.cpu}`)),
  });
}
