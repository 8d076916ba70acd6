/**
 * The file systems tsbpf needs: bpffs for pins and tracefs for tracepoint ids and trace_pipe.
 * Mounted on demand when missing (as root); otherwise the error says exactly what to run.
 */
import { existsSync, mkdirSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { ArgumentError, BpfError, errnoMessage } from "../errors.js";
import { native } from "./native.js";

const BPF_FS_MAGIC = 0xcafe4a11;
const TRACEFS_MAGIC = 0x74726163;
const DEBUGFS_MAGIC = 0x64626720;

function fsType(path: string): number | undefined {
  try {
    return Number(statfsSync(path).type) >>> 0;
  } catch {
    return undefined;
  }
}

/** True if `path` (or its nearest existing parent) lies on a bpf file system. */
export function isOnBpffs(path: string): boolean {
  let p = path;
  while (!existsSync(p) && p !== dirname(p)) p = dirname(p);
  return fsType(p) === BPF_FS_MAGIC;
}

/** The default bpffs mount point. */
export const BPFFS = "/sys/fs/bpf";

/**
 * Makes sure /sys/fs/bpf is a bpf file system, mounting it if needed. Throws BpfError(E_NO_BPFFS)
 * with the command to run when it cannot.
 */
export function ensureBpffs(mountPoint = BPFFS): void {
  if (fsType(mountPoint) === BPF_FS_MAGIC) return;
  try {
    mkdirSync(mountPoint, { recursive: true });
  } catch {
    /* reported below */
  }
  const r = native().mount("bpf", mountPoint, "bpf", 0, "mode=0700");
  if (r < 0 || fsType(mountPoint) !== BPF_FS_MAGIC) {
    throw new BpfError(
      "E_NO_BPFFS",
      `mount bpffs at ${mountPoint}: ${r < 0 ? errnoMessage(-r) : "not a bpf file system after mount"}. Run as root: mount -t bpf bpf ${mountPoint}`,
    );
  }
}

/**
 * Makes sure a pin can be made at `path` (a pin, or with `dir` a directory for pins): under
 * /sys/fs/bpf mounts bpffs if needed; elsewhere throws ArgumentError, naming `what`, when `path`
 * (or its nearest existing parent) is not on a bpf file system.
 */
export function ensurePinPath(path: string, what: string, dir = false): void {
  if (path.startsWith(BPFFS)) return ensureBpffs();
  if (isOnBpffs(path)) return;
  throw new ArgumentError(`${what} at ${path}: not on a bpf file system; mount one there (mount -t bpf bpf ${dir ? path : dirname(path)}) or use a path under ${BPFFS}`);
}

let tracefsRoot: string | undefined;

/**
 * The tracefs directory (usually /sys/kernel/tracing), mounting tracefs there if no mount exists.
 * Throws BpfError(E_NO_TRACEFS) with the command to run when it cannot.
 */
export function tracefs(): string {
  if (tracefsRoot) return tracefsRoot;
  for (const p of ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]) {
    if (fsType(p) === TRACEFS_MAGIC && existsSync(`${p}/events`)) return (tracefsRoot = p);
  }
  const target = "/sys/kernel/tracing";
  const r = native().mount("tracefs", target, "tracefs", 0, "");
  if (r === 0 && existsSync(`${target}/events`)) return (tracefsRoot = target);
  if (fsType("/sys/kernel/debug") !== DEBUGFS_MAGIC) {
    native().mount("debugfs", "/sys/kernel/debug", "debugfs", 0, "");
    if (existsSync("/sys/kernel/debug/tracing/events")) return (tracefsRoot = "/sys/kernel/debug/tracing");
  }
  throw new BpfError(
    "E_NO_TRACEFS",
    `mount tracefs at ${target}: ${r < 0 ? errnoMessage(-r) : "no events directory after mount"}. Run as root: mount -t tracefs tracefs ${target}`,
  );
}
