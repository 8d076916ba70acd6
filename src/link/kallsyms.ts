/**
 * /proc/kallsyms lookups (cached per process): which kernel functions exist, for syscall names and
 * for telling "the kernel lacks this link kind" from other EINVALs.
 */
import { readFileSync } from "node:fs";

let cache: Set<string> | undefined;

/** The kernel's symbol names (empty when /proc/kallsyms is unreadable). */
export function kernelSymbols(): Set<string> {
  if (cache) return cache;
  const out = new Set<string>();
  try {
    for (const line of readFileSync("/proc/kallsyms", "utf8").split("\n")) {
      const name = line.split(/\s+/)[2];
      if (name) out.add(name);
    }
  } catch {
    /* unreadable: empty */
  }
  return (cache = out);
}

/** True/false when /proc/kallsyms says whether `name` exists; undefined when it cannot tell. */
export function kernelHasSymbol(name: string): boolean | undefined {
  const syms = kernelSymbols();
  return syms.size ? syms.has(name) : undefined;
}
