/**
 * kprobe.multi (`SEC("kprobe.multi/<pattern>")`, `SEC("kretprobe.multi/<pattern>")`): one program
 * on many kernel functions with a single BPF_TRACE_KPROBE_MULTI link (Linux 5.18+, fprobe-based:
 * CONFIG_FPROBE). Where the kernel has no kprobe.multi, tsbpf falls back to one kprobe link per
 * function (the returned Link owns them all and says so in `mechanism`).
 *
 * Also the syscall naming helper for `SEC("ksyscall/<name>")`: {@link ksyscallName} turns
 * `openat` into the kernel's symbol, `__x64_sys_openat` (or `sys_openat` on kernels without
 * syscall wrappers), found in /proc/kallsyms.
 *
 * @example
 * ```ts
 * using l = attachKprobeMulti(obj.programs.on_vfs, "vfs_*");
 * using s = attachKsyscall(obj.programs.on_openat, "openat");
 * ```
 */
import { existsSync, readFileSync } from "node:fs";
import { ArgumentError, BpfError, Errno, NotSupportedError } from "../errors.js";
import { cstring, linkCreate, pointerTo } from "../sys/bpf.js";
import { tracefs } from "../sys/fs.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link, isLinkUnsupported } from "./link.js";
import { attachKprobe } from "./kprobe.js";
import { globMatch } from "./elf-symbols.js";
import { attachEach, groupLinks } from "./uprobe.js";
import { kernelHasSymbol, kernelSymbols } from "./kallsyms.js";

/** Options for {@link attachKprobeMulti}. */
export interface KprobeMultiOptions {
  retprobe?: boolean;
  /** One cookie per function, in the order of the resolved names. */
  cookies?: bigint[];
}

/** The functions the kernel can trace (available_filter_functions), without module suffixes. */
export function traceableFunctions(): string[] {
  let root: string;
  try {
    root = tracefs();
  } catch {
    return [];
  }
  const p = `${root}/available_filter_functions`;
  if (!existsSync(p)) return [];
  const out = new Set<string>();
  for (const line of readFileSync(p, "utf8").split("\n")) {
    const name = line.split(/\s/, 1)[0];
    if (name && !name.startsWith("__ftrace_invalid_address__")) out.add(name);
  }
  return [...out];
}

/** Resolves a glob pattern (`vfs_*`) or a list of names to kernel function names. */
export function resolveKprobeFunctions(funcs: string | string[]): string[] {
  if (Array.isArray(funcs)) return funcs;
  if (!/[*?]/.test(funcs)) return [funcs];
  const names = traceableFunctions().filter((n) => globMatch(funcs, n)).sort();
  if (names.length === 0) throw new BpfError("E_NO_SYMBOL", `resolve kprobe.multi pattern ${funcs}: no traceable kernel function matches it (see /sys/kernel/tracing/available_filter_functions)`);
  return names;
}

/**
 * Attaches a kprobe program to many kernel functions: one kprobe.multi link when the program was
 * loaded as `kprobe.multi` and the kernel has it, else one kprobe link per function. Throws
 * NotSupportedError (CONFIG_KPROBES / CONFIG_FPROBE) when neither works.
 */
export function attachKprobeMulti(prog: Program, funcs: string | string[], opts: KprobeMultiOptions = {}): Link {
  if (prog.type !== ProgramType.KPROBE) throw new ArgumentError(`attach kprobe.multi: program ${prog.name} is not a kprobe program`);
  const names = resolveKprobeFunctions(funcs);
  if (opts.cookies && opts.cookies.length !== names.length) throw new ArgumentError(`attach kprobe.multi: ${opts.cookies.length} cookies for ${names.length} functions`);
  const kind = opts.retprobe ? "kretprobe.multi" : "kprobe.multi";
  const label = typeof funcs === "string" ? funcs : names.join(",");
  let multiError: unknown;
  if (prog.expectedAttachType === AttachType.TRACE_KPROBE_MULTI) {
    const strs = names.map((n) => cstring(n));
    const ptrs = new BigUint64Array(strs.map((s) => pointerTo(s)));
    const cookies = opts.cookies ? new BigUint64Array(opts.cookies) : undefined;
    try {
      const fd = linkCreate({
        progFd: prog.fd.value, attachType: AttachType.TRACE_KPROBE_MULTI,
        extra: (a) => {
          a.u32(16, opts.retprobe ? 1 : 0).u32(20, names.length).ptr(24, ptrs).ptr(40, cookies ?? null);
        },
      }, `${kind} ${label}`);
      void strs;
      return new Link({ kind, target: label, mechanism: "bpf_link(kprobe_multi)", linkFd: fd });
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      if (errno === Errno.ESRCH || errno === Errno.ENOENT) {
        throw new BpfError("E_NO_SYMBOL", `attach ${kind} ${label}: the kernel cannot probe one of ${names.length} function(s) (missing, inlined or blacklisted); see /sys/kernel/tracing/available_filter_functions`, { cause: e });
      }
      // EINVAL is also what a kernel without kprobe.multi answers: tell by its attach function.
      if (!isLinkUnsupported(e) || (errno === Errno.EINVAL && kernelHasSymbol("bpf_kprobe_multi_link_attach") === true)) throw e;
      multiError = e;
    }
  }
  // Fallback: one kprobe per function. A program loaded as kprobe.multi reads its cookie from the
  // kprobe.multi link, which the fallback does not have: the kernel would hand it 0 every time.
  if (opts.cookies && prog.expectedAttachType === AttachType.TRACE_KPROBE_MULTI) {
    throw new NotSupportedError(`cookies for ${kind} (attaching to ${label})`, {
      kernelConfig: "CONFIG_FPROBE",
      minimumKernel: "5.18",
      hint: `the kernel refused the kprobe.multi link (${(multiError as Error | undefined)?.message ?? "unknown reason"}), and a program loaded as kprobe.multi cannot read cookies through the one-kprobe-per-function fallback. Load it with SEC("kprobe/...") (then each kprobe gets its cookie), or attach without cookies`,
      cause: multiError,
    });
  }
  let links: Link[];
  try {
    links = attachEach(names, (n, i) => attachKprobe(prog, n, { retprobe: opts.retprobe, cookie: opts.cookies?.[i] }));
  } catch (e) {
    if (e instanceof NotSupportedError && multiError !== undefined) {
      throw new NotSupportedError(`${kind} (attaching to ${label})`, {
        kernelConfig: "CONFIG_FPROBE for kprobe.multi, or CONFIG_KPROBES for the one-kprobe-per-function fallback",
        minimumKernel: "5.18",
        hint: `the kernel refused the kprobe.multi link (${(multiError as Error).message}) and has no kprobes either. Attach to tracepoints (SEC("tracepoint/...")) or use fentry on a kernel with BPF trampolines`,
        cause: e,
      });
    }
    if ((e as { errno?: number }).errno === Errno.EINVAL && prog.expectedAttachType === AttachType.TRACE_KPROBE_MULTI) {
      throw new BpfError("E_ATTACH", `attach ${kind} ${label}: the kernel has no kprobe.multi and refused a per-function kprobe for a program loaded as kprobe.multi; load it with SEC("kprobe/...") to use per-function kprobes`, { cause: e });
    }
    throw e;
  }
  return groupLinks(kind, label, `kprobe links (one per function${multiError ? ", kprobe.multi unavailable" : ""})`, links, names);
}

// ---------------------------------------------------------------------------------------------
// ksyscall

/** The architecture's syscall wrapper prefix (`__x64_`, `__arm64_`, ...). */
export function syscallPrefix(): string {
  const arch = process.arch;
  return arch === "x64" ? "__x64_" : arch === "arm64" ? "__arm64_" : arch === "s390x" ? "__s390x_" : arch === "riscv64" ? "__riscv_" : arch === "ia32" ? "__ia32_" : `__${arch}_`;
}

/**
 * The kernel symbol of system call `name` (e.g. `openat` → `__x64_sys_openat`), checked in
 * /proc/kallsyms; `sys_<name>` on kernels without syscall wrappers. Throws BpfError(E_NO_SYMBOL).
 */
export function ksyscallName(name: string): string {
  if (!/^\w+$/.test(name)) throw new ArgumentError(`resolve syscall ${name}: not a syscall name`);
  const syms = kernelSymbols();
  const bare = name.replace(/^sys_/, "");
  for (const cand of [`${syscallPrefix()}sys_${bare}`, `sys_${bare}`, `__se_sys_${bare}`]) {
    if (syms.has(cand)) return cand;
  }
  if (syms.size === 0) return `${syscallPrefix()}sys_${bare}`; // no kallsyms: assume wrappers (5.x+)
  throw new BpfError("E_NO_SYMBOL", `resolve syscall ${name}: /proc/kallsyms has neither ${syscallPrefix()}sys_${bare} nor sys_${bare}; check the name (man 2 syscalls)`);
}

/**
 * Attaches a kprobe to system call `name`'s kernel entry (ksyscall) or return (kretsyscall).
 * On x86-64 the probed function's argument is a `struct pt_regs *` of the user's registers
 * (libbpf's BPF_KSYSCALL macro reads through it).
 */
export function attachKsyscall(prog: Program, name: string, opts: { retprobe?: boolean; cookie?: bigint } = {}): Link {
  const sym = ksyscallName(name);
  return attachKprobe(prog, sym, { retprobe: opts.retprobe, cookie: opts.cookie });
}
