/**
 * Which Linux capabilities the process holds, so that an EPERM from bpf() can say which one is
 * missing instead of listing every capability BPF may need.
 */
import { readFileSync } from "node:fs";

/** Capability numbers (include/uapi/linux/capability.h) of the capabilities BPF checks. */
export const Capability = { CAP_NET_ADMIN: 12, CAP_SYS_ADMIN: 21, CAP_PERFMON: 38, CAP_BPF: 39 } as const;

/** A capability name, e.g. `CAP_BPF`. */
export type CapabilityName = keyof typeof Capability;

/** The effective capability set of this process (CapEff in /proc/self/status), or undefined when unreadable. */
export function effectiveCapabilities(): bigint | undefined {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? BigInt(`0x${m[1]}`) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The capabilities of `needed` that the process lacks, as the kernel judges them: CAP_SYS_ADMIN
 * stands in for every one of them. Undefined when the capability set cannot be read.
 */
export function missingCapabilities(needed: readonly CapabilityName[], have = effectiveCapabilities()): CapabilityName[] | undefined {
  if (have === undefined) return undefined;
  const holds = (c: CapabilityName) => (have >> BigInt(Capability[c])) & 1n;
  if (holds("CAP_SYS_ADMIN")) return [];
  return needed.filter((c) => !holds(c));
}

/**
 * The sentence that explains an EPERM from an operation that needs `needed` (`what` names who
 * needs them, e.g. "raw_tracepoint programs"): which of them this process lacks and how to get
 * them, or, when it holds them all, what else refuses.
 */
export function permissionHint(needed: readonly CapabilityName[], what: string): string {
  const list = (cs: readonly string[]) => (cs.length <= 1 ? cs.join("") : `${cs.slice(0, -1).join(", ")} and ${cs[cs.length - 1]}`);
  const grant = `run as root, or grant ${list(needed)} (e.g. sudo setcap ${needed.map((c) => c.toLowerCase()).join(",")}+ep "$(command -v node)")`;
  const missing = missingCapabilities(needed);
  if (missing === undefined) return `${what} need ${list(needed)}: ${grant}`;
  if (missing.length > 0) return `this process lacks ${list(missing)} (${what} need ${list(needed)}): ${grant}`;
  return `the process holds ${list(needed)}, so something else refused it: kernel lockdown, an LSM (SELinux, AppArmor, BPF LSM), a seccomp filter or, before Linux 5.11, RLIMIT_MEMLOCK (ulimit -l); see dmesg`;
}
