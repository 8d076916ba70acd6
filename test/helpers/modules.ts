/** Loading a kernel module for a test (the VM's root has busybox, not always kmod's modprobe). */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * Loads module `name` unless /sys/kernel/btf/<name> already exists: `modprobe`, else
 * `busybox modprobe`. Throws (with both errors) when neither loads it.
 */
export function modprobe(name: string): void {
  if (existsSync(`/sys/kernel/btf/${name}`)) return;
  const errors: string[] = [];
  for (const [cmd, ...args] of [["modprobe", name], ["busybox", "modprobe", name]] as const) {
    try {
      execFileSync(cmd, args, { stdio: ["ignore", "inherit", "pipe"] });
      return;
    } catch (e) {
      errors.push(`${cmd}: ${(e as Error).message}`);
    }
  }
  throw new Error(`load module ${name}: ${errors.join("; ")}`);
}
