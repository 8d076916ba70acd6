/**
 * tracefs dynamic probe events (`kprobe_events`, `uprobe_events`): the legacy way to make a kprobe
 * or uprobe, for kernels without the kprobe/uprobe perf PMU or when forced with
 * `mechanism: "tracefs"`. tsbpf defines an event named `tsbpf_<pid>_...`, opens a perf event on
 * its tracepoint id, and removes the definition after the perf event is closed (the kernel
 * refuses to remove an event in use, EBUSY).
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { BpfError } from "../errors.js";
import { tracefs } from "../sys/fs.js";
import { PerfType, perfEventOpen } from "../sys/perf.js";
import type { FD } from "../sys/fd.js";
import type { Link } from "./link.js";

/** A probe event defined in tracefs. */
export interface ProbeEvent {
  /** `kprobes/<name>` or `uprobes/<name>`. */
  event: string;
  /** The tracefs file it was defined in, e.g. /sys/kernel/tracing/uprobe_events. */
  file: string;
  /** Its tracepoint id. */
  id: number;
  /** Opens a perf event on it (pid/cpu as for perf_event_open). */
  open(pid: number, cpu: number, what: string): FD;
  /**
   * Removes the definition. Skipped while `link` is pinned (its perf event still uses the event).
   * Throws BpfError(E_PROBE_EVENT) with the command to run when the kernel refuses.
   */
  remove(link?: Link): void;
}

let counter = 0;

/** Waits `ms` milliseconds, synchronously (close() cannot wait for the event loop). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Defines a probe event in `<tracefs>/<type>_events`: `def(name)` gives the definition after
 * `p:<group>/<name> ` or `r:...` (e.g. `vfs_read+4` or `/bin/true:0x1040`). Throws
 * `missing(cause)` when the file does not exist, `refused(definition, error)` when the kernel
 * refuses the definition.
 */
export function defineProbeEvent(type: "kprobe" | "uprobe", retprobe: boolean, probe: string, hint: string, errors: {
  missing(cause?: unknown): Error;
  refused(definition: string, e: NodeJS.ErrnoException, file: string): Error;
}): ProbeEvent {
  let root: string;
  try {
    root = tracefs();
  } catch (e) {
    throw errors.missing(e);
  }
  const file = `${root}/${type}_events`;
  if (!existsSync(file)) throw errors.missing();
  const group = `${type}s`;
  const name = `tsbpf_${process.pid}_${hint.replace(/\W/g, "_").slice(0, 40)}_${counter++}`;
  const event = `${group}/${name}`;
  const definition = `${retprobe ? "r" : "p"}:${event} ${probe}`;
  try {
    appendFileSync(file, `${definition}\n`);
  } catch (e) {
    throw errors.refused(definition, e as NodeJS.ErrnoException, file);
  }
  const remove = (link?: Link) => {
    if (link?.pinnedAt) return;
    // Closing the perf event drops the kernel's last use of the event; retry briefly in case
    // that is still in progress.
    for (let attempt = 0; ; attempt++) {
      try {
        appendFileSync(file, `-:${event}\n`);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return; // already gone
        if (code === "EBUSY" && attempt < 20) {
          sleepSync(5);
          continue;
        }
        throw new BpfError("E_PROBE_EVENT", `remove ${type} event ${event}: the kernel refused (${code}: ${(e as Error).message})${code === "EBUSY" ? "; something still uses it (a perf event or a pinned link)" : ""}. Remove it once that is closed: echo '-:${event}' >> ${file}`, { cause: e });
      }
    }
  };
  let id: number;
  try {
    id = Number(readFileSync(`${root}/events/${event}/id`, "utf8").trim());
  } catch (e) {
    remove();
    throw e;
  }
  return {
    event, file, id, remove,
    open: (pid, cpu, what) => perfEventOpen({ type: PerfType.TRACEPOINT, config: BigInt(id), samplePeriod: 1n, wakeupEvents: 1 }, pid, cpu, what),
  };
}
