/** CPU sets from /sys/devices/system/cpu, for per-CPU maps and per-CPU perf events. */
import { readFileSync } from "node:fs";
import { BpfError } from "../errors.js";

/** Parses a kernel CPU list such as "0-3,6,8-9" into CPU numbers. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new BpfError("E_CPU_LIST", `parse CPU list: "${text.trim()}" is not a CPU list`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let c = a; c <= b; c++) out.push(c);
  }
  return out;
}

let possible: number[] | undefined;

/** The CPUs the kernel may ever bring online; per-CPU map values have one slot for each. */
export function possibleCpus(): number[] {
  return (possible ??= parseCpuList(readFileSync("/sys/devices/system/cpu/possible", "utf8")));
}

/** Number of possible CPUs (the per-CPU value count: highest possible CPU + 1). */
export function possibleCpuCount(): number {
  const list = possibleCpus();
  return list.length ? list[list.length - 1]! + 1 : 1;
}

/** The CPUs online now (for per-CPU perf events). */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync("/sys/devices/system/cpu/online", "utf8"));
}
