/**
 * A pure parser for the lines of tracefs `trace_pipe` (what bpf_printk writes), kernel-free.
 *
 * Formats handled (the task name may itself contain spaces and dashes; the tgid column appears
 * with `options/record-tgid`; the flags column is absent without `options/irq-info` and is 4 or 5
 * characters wide depending on the kernel):
 * ```
 *   memcpy_kprobe-24908 [005] d... 151374.866218: : memcpy size 2
 *          <idle>-0     [001] d.h.. 8831.142043: bpf_trace_printk: hello
 *          node-812     (    812) [000] ....1  230.000001: bpf_trace_printk: with tgid
 * ```
 */

/** One parsed trace_pipe line. */
export interface TraceLine {
  /** The task's command name (`<idle>`, `<...>` when the kernel no longer knows it). */
  task: string;
  /** The thread id that wrote the line (the kernel's pid). */
  pid: number;
  /** The thread group id, when the `record-tgid` option prints it. */
  tgid?: number;
  cpu: number;
  /** The irq/preempt flags column (e.g. `d...`, `d.h1.`), or "" when not printed. */
  flags: string;
  /** Seconds since boot (the trace clock), as printed. */
  timestamp: number;
  /** The event: `bpf_trace_printk` on newer kernels, "" on older ones that print `: :`. */
  event: string;
  /** The text after the event name (what bpf_printk formatted), without the newline. */
  message: string;
  /** The whole line as read. */
  raw: string;
}

const LINE =
  /^\s*(.*?)-(\d+)\s+(?:\(\s*(\d+|-+)\)\s+)?\[(\d+)\]\s+(?:(\S{3,6})\s+)?(\d+\.\d+):\s?(?:([A-Za-z_][\w.]*)?:\s?)?(.*)$/;

/** Parses one line of trace_pipe; returns undefined for lines that are not trace records (e.g. `CPU:1 [LOST 5 EVENTS]`). */
export function parseTraceLine(line: string): TraceLine | undefined {
  const raw = line.endsWith("\n") ? line.slice(0, -1) : line;
  const m = LINE.exec(raw);
  if (!m) return undefined;
  const tgid = m[3] !== undefined && /^\d+$/.test(m[3]) ? Number(m[3]) : undefined;
  const out: TraceLine = {
    task: m[1]!,
    pid: Number(m[2]),
    cpu: Number(m[4]),
    flags: m[5] ?? "",
    timestamp: Number(m[6]),
    event: m[7] ?? "",
    message: m[8] ?? "",
    raw,
  };
  if (tgid !== undefined) out.tgid = tgid;
  return out;
}

/**
 * Splits a chunk of trace_pipe text into complete lines, keeping the trailing partial line in
 * `state.rest` for the next chunk.
 */
export function splitLines(chunk: string, state: { rest: string }): string[] {
  const text = state.rest + chunk;
  const lines = text.split("\n");
  state.rest = lines.pop() ?? "";
  return lines.filter((l) => l.length > 0);
}
