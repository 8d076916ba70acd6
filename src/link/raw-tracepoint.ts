/**
 * Raw tracepoints (`SEC("raw_tracepoint/<name>")`, `raw_tp/`): BPF_RAW_TRACEPOINT_OPEN.
 *
 * @example
 * ```ts
 * using link = attachRawTracepoint(prog, "sys_enter");
 * ```
 */
import { ArgumentError, BpfError, Errno } from "../errors.js";
import { rawTracepointOpen } from "../sys/bpf.js";
import { ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link } from "./link.js";

/** Attaches a raw tracepoint program to the tracepoint `name` (e.g. `sys_enter`, `sched_switch`). */
export function attachRawTracepoint(prog: Program, name: string): Link {
  if (prog.type !== ProgramType.RAW_TRACEPOINT && prog.type !== ProgramType.RAW_TRACEPOINT_WRITABLE) {
    throw new ArgumentError(`attach raw tracepoint ${name}: program ${prog.name} is not a raw tracepoint program (SEC("raw_tracepoint/${name}"))`);
  }
  try {
    const fd = rawTracepointOpen(prog.fd.value, name, `raw tracepoint ${name}`);
    return new Link({ kind: "raw_tracepoint", target: name, mechanism: "raw_tracepoint", linkFd: fd });
  } catch (e) {
    if ((e as { errno?: number }).errno === Errno.ENOENT) {
      throw new BpfError("E_NO_TRACEPOINT", `attach raw tracepoint ${name}: the kernel has no such tracepoint (the names are those under /sys/kernel/tracing/events/*/, without the category)`, { cause: e });
    }
    throw e;
  }
}
