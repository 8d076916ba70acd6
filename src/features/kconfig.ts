/**
 * The running kernel's build configuration and the "virtual" values libbpf offers to `__kconfig`
 * externs: `LINUX_KERNEL_VERSION`, `LINUX_HAS_SYSCALL_WRAPPER`, `LINUX_HAS_BPF_COOKIE`.
 *
 * The config is read from /boot/config-$(uname -r) or /proc/config.gz (libbpf's order; plain or
 * gzip), parsed once per process. Values are kept as the config file spells them: `y`, `m`, `n`
 * (`# CONFIG_X is not set` reads as `n`), numbers (`250`, `0x1000000`, `-1`) and quoted strings.
 *
 * @example
 * ```ts
 * import { kernelConfig, parseKconfigValue } from "tsbpf";
 * const { values, path } = kernelConfig();
 * parseKconfigValue(values.get("CONFIG_HZ")!); // { kind: "number", value: 250n }
 * ```
 */
import { existsSync, readFileSync } from "node:fs";
import { arch, release } from "node:os";
import { gunzipSync } from "node:zlib";
import { BpfError } from "../errors.js";
import { ProgramType } from "../spec/kernel-enums.js";
import { kallsyms } from "./kallsyms.js";
import { probeHelper } from "./probe.js";

/** A parsed config value. */
export type KconfigValue =
  | { kind: "tristate"; value: "y" | "m" | "n" }
  | { kind: "number"; value: bigint }
  | { kind: "string"; value: string };

/**
 * Parses the text of a kernel config (`.config` syntax) into raw values by option name.
 * `CONFIG_X=...` lines give the text after `=`; `# CONFIG_X is not set` gives `n`; other lines
 * (blank, comments) are skipped. A later line for the same option wins, as in Kconfig.
 *
 * @throws {BpfError} E_KCONFIG for a line that is neither (the message names the line number).
 */
export function parseKconfig(text: string, source = "kernel config"): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "").trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const m = /^#\s*(CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
      if (m) out.set(m[1]!, "n");
      continue;
    }
    const eq = line.indexOf("=");
    const name = eq > 0 ? line.slice(0, eq).trim() : "";
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new BpfError("E_KCONFIG", `parse ${source}: line ${i + 1} is not NAME=VALUE or a comment: ${JSON.stringify(line.slice(0, 80))}`);
    }
    out.set(name, line.slice(eq + 1).trim());
  }
  return out;
}

/**
 * Interprets a raw config value the way libbpf does: `y`/`m`/`n` are tristates, a leading `"`
 * makes a string (escapes `\"` and `\\` undone), anything else must be an integer (decimal, `0x`
 * hex or leading-0 octal, optionally negative).
 *
 * @throws {BpfError} E_KCONFIG for an unterminated string or a malformed number.
 */
export function parseKconfigValue(raw: string, name = "value"): KconfigValue {
  if (raw === "y" || raw === "m" || raw === "n") return { kind: "tristate", value: raw };
  if (raw.startsWith('"')) {
    if (raw.length < 2 || !raw.endsWith('"') || raw.endsWith('\\"') && !raw.endsWith('\\\\"')) {
      throw new BpfError("E_KCONFIG", `parse ${name}: string ${raw} has no closing quote`);
    }
    return { kind: "string", value: raw.slice(1, -1).replace(/\\(["\\])/g, "$1") };
  }
  const m = /^(-?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(raw);
  if (!m) throw new BpfError("E_KCONFIG", `parse ${name}: ${JSON.stringify(raw)} is neither y/m/n, a quoted string nor an integer`);
  const body = m[2]!;
  const v = /^0[xX]/.test(body) ? BigInt(body) : body.length > 1 && body.startsWith("0") ? BigInt(`0o${body.slice(1)}`) : BigInt(body);
  return { kind: "number", value: m[1] ? -v : v };
}

/** The files {@link kernelConfig} tries, in order: /boot/config-$(uname -r), /proc/config.gz. */
export function kernelConfigPaths(): string[] {
  return [`/boot/config-${release()}`, "/proc/config.gz"];
}

/** Reads a config file, gunzipping it when it starts with the gzip magic. */
function readConfigFile(path: string): string {
  const bytes = readFileSync(path);
  const text = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  return text.toString("latin1");
}

/** A kernel config read from a file. */
export interface KernelConfig {
  /** Raw values by option name (see {@link parseKconfig}). */
  values: Map<string, string>;
  /** The file they came from. */
  path: string;
}

const configCache = new Map<string, KernelConfig>();

/**
 * The kernel config, from `path` (one file, or candidates tried in order) or else the first of
 * {@link kernelConfigPaths} that exists. The system's config is read once per process; files
 * named by the caller are read on every call.
 *
 * @throws {BpfError} E_NO_KCONFIG when no file exists or one cannot be read; the message lists the
 *   files tried and how to supply a config (`kconfig` load option, or `modprobe configs` for
 *   /proc/config.gz). E_KCONFIG when the file is malformed.
 */
export function kernelConfig(path?: string | readonly string[]): KernelConfig {
  const candidates = typeof path === "string" ? [path] : path ? [...path] : kernelConfigPaths();
  // The system's config does not change while we run; a file the caller names may.
  const key = path === undefined ? candidates.join("\0") : undefined;
  const hit = key === undefined ? undefined : configCache.get(key);
  if (hit) return hit;
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    if (typeof path === "string") {
      throw new BpfError("E_NO_KCONFIG", `read kernel config: ${path} does not exist; pass the path of an existing config file (plain or gzip), or values such as { CONFIG_HZ: "250" }`);
    }
    throw new BpfError("E_NO_KCONFIG", `read kernel config: none of ${candidates.join(", ")} exists; ` +
      "load the configs module (modprobe configs) for /proc/config.gz, install the kernel's config in /boot, " +
      "or pass one with the kconfig load option (a file path, or values such as { CONFIG_HZ: \"250\" })");
  }
  let text: string;
  try {
    text = readConfigFile(found);
  } catch (e) {
    throw new BpfError("E_NO_KCONFIG", `read kernel config ${found}: ${(e as Error).message}`, { cause: e });
  }
  const cfg = { values: parseKconfig(text, found), path: found };
  if (key !== undefined) configCache.set(key, cfg);
  return cfg;
}

/** `KERNEL_VERSION(a, b, c)` as the kernel's version.h computes it (the patch level capped at 255). */
export function kernelVersionCode(major: number, minor: number, patch: number): number {
  return ((major << 16) + (minor << 8) + Math.min(patch, 255)) >>> 0;
}

let versionCache: number | undefined;

/**
 * `LINUX_KERNEL_VERSION` as libbpf computes it: from /proc/version_signature on Ubuntu (whose
 * uname release hides the real patch level), else from the uname release `a.b.c`. 0 when neither
 * parses.
 */
export function linuxKernelVersion(): number {
  if (versionCache !== undefined) return versionCache;
  let m: RegExpExecArray | null = null;
  try {
    // "Ubuntu 5.4.0-42.46-generic 5.4.44"
    m = /^\S+\s+\S+\s+(\d+)\.(\d+)\.(\d+)/.exec(readFileSync("/proc/version_signature", "utf8"));
  } catch {
    /* not Ubuntu */
  }
  m ??= /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release());
  versionCache = m ? kernelVersionCode(Number(m[1]), Number(m[2]), Number(m[3] ?? 0)) : 0;
  return versionCache;
}

/** The syscall wrapper prefix of an architecture (`__x64_sys_` on x86-64), undefined when it has none. */
export function syscallWrapperPrefix(machine: string = arch()): string | undefined {
  switch (machine) {
    case "x64": case "x86_64": return "__x64_sys_";
    case "ia32": case "x86": case "i386": return "__ia32_sys_";
    case "arm64": case "aarch64": return "__arm64_sys_";
    case "s390x": case "s390": return "__s390x_sys_";
    case "riscv64": case "riscv": return "__riscv_sys_";
    case "ppc64": case "powerpc": return "sys_"; // no wrapper symbol distinct from sys_
    case "loong64": case "loongarch": return "sys_";
    default: return undefined;
  }
}

let wrapperCache: boolean | undefined;

/**
 * `LINUX_HAS_SYSCALL_WRAPPER`: whether syscalls enter through `__<arch>_sys_*` wrappers taking a
 * `struct pt_regs *` (CONFIG_ARCH_HAS_SYSCALL_WRAPPER). libbpf probes by creating a kprobe on the
 * wrapper; this reads /proc/kallsyms instead, which also works on kernels without kprobes.
 */
export function hasSyscallWrapper(): boolean {
  if (wrapperCache !== undefined) return wrapperCache;
  const prefix = syscallWrapperPrefix();
  if (!prefix || prefix === "sys_") return (wrapperCache = false);
  try {
    return (wrapperCache = kallsyms().has(`${prefix}bpf`));
  } catch {
    return (wrapperCache = false);
  }
}

/** `LINUX_HAS_BPF_COOKIE`: whether the kernel has bpf_get_attach_cookie (libbpf's probe: a kprobe program calling it). */
export function hasBpfCookie(): boolean {
  return probeHelper(ProgramType.KPROBE, "get_attach_cookie").supported;
}

/** The virtual `LINUX_*` externs libbpf defines, by name, with the function computing each. */
export const VIRTUAL_KCONFIG: Readonly<Record<string, () => number | boolean>> = {
  LINUX_KERNEL_VERSION: linuxKernelVersion,
  LINUX_HAS_SYSCALL_WRAPPER: hasSyscallWrapper,
  LINUX_HAS_BPF_COOKIE: hasBpfCookie,
};
