/**
 * The error classes of tsbpf. Every error the library throws is a {@link BpfError} with a stable
 * `code`; messages read "verb object: cause", followed by what to do about it.
 *
 * @example
 * ```ts
 * import { loadObject, VerifierError } from "tsbpf";
 * try { await loadObject("prog.bpf.o"); }
 * catch (e) { if (e instanceof VerifierError) console.error(e.message, e.log); }
 * ```
 */

/** Base class of every tsbpf error. `code` is stable across releases and safe to switch on. */
export class BpfError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Linux errno numbers that tsbpf gives meaning to. */
export const Errno = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, EBADF: 9, EAGAIN: 11, ENOMEM: 12,
  EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, ENODEV: 19, ENOTDIR: 20, EINVAL: 22, ENFILE: 23,
  EMFILE: 24, ENOTTY: 25, ENOSPC: 28, ERANGE: 34, ENOSYS: 38, ELOOP: 40, ENOTSUP: 95, EOPNOTSUPP: 95,
  ENOTSUPP: 524,
} as const;

const errnoNames: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 9: "EBADF",
  11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 18: "EXDEV",
  19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 25: "ENOTTY",
  28: "ENOSPC", 34: "ERANGE", 36: "ENAMETOOLONG", 38: "ENOSYS", 40: "ELOOP", 95: "EOPNOTSUPP",
  524: "ENOTSUPP",
};

const errnoText: Record<number, string> = {
  1: "operation not permitted", 2: "no such file or directory", 3: "no such process",
  4: "interrupted system call", 5: "input/output error", 6: "no such device or address",
  7: "argument list too long", 9: "bad file descriptor", 11: "resource temporarily unavailable",
  12: "cannot allocate memory", 13: "permission denied", 14: "bad address",
  16: "device or resource busy", 17: "file exists", 18: "invalid cross-device link",
  19: "no such device", 20: "not a directory", 21: "is a directory", 22: "invalid argument",
  23: "too many open files in system", 24: "too many open files", 25: "inappropriate ioctl for device",
  28: "no space left on device", 34: "numerical result out of range", 36: "file name too long",
  38: "function not implemented", 40: "too many levels of symbolic links",
  95: "operation not supported", 524: "operation not supported by the kernel",
};

/** The symbolic name of an errno value, e.g. `errnoName(1) === "EPERM"`. */
export function errnoName(errno: number): string {
  return errnoNames[errno] ?? `errno ${errno}`;
}

/** The C library's text for an errno value. */
export function errnoMessage(errno: number): string {
  return errnoText[errno] ?? `error ${errno}`;
}

/**
 * A system call failed. `command` names the call (a bpf() command such as `BPF_MAP_CREATE`, or
 * `perf_event_open`, `ioctl`, ...) and `errno` is the kernel's error number.
 */
export class SyscallError extends BpfError {
  readonly command: string;
  readonly errno: number;
  constructor(command: string, errno: number, message?: string, options?: { cause?: unknown }) {
    super(
      "E_SYSCALL",
      message ?? `${command} failed: ${errnoMessage(errno)} (${errnoName(errno)})${hintFor(command, errno)}`,
      options,
    );
    this.command = command;
    this.errno = errno;
  }
}

function hintFor(command: string, errno: number): string {
  if (errno === Errno.EPERM || errno === Errno.EACCES) {
    return `. ${command.startsWith("BPF_") ? "The bpf() call needs" : "This needs"} privileges: run as root, or grant CAP_BPF (plus CAP_PERFMON for tracing programs and perf events, CAP_NET_ADMIN for networking programs), and check kernel.unprivileged_bpf_disabled and RLIMIT_MEMLOCK`;
  }
  if (errno === Errno.EMFILE || errno === Errno.ENFILE) {
    return ". The process ran out of file descriptors: close unused objects (every map, program and link owns one) or raise the limit with `ulimit -n`";
  }
  return "";
}

/** The running kernel lacks a feature. `feature` names it; `kernelConfig` and `minimumKernel` say how to get it. */
export class NotSupportedError extends BpfError {
  readonly feature: string;
  readonly kernelConfig?: string;
  readonly minimumKernel?: string;
  constructor(feature: string, details: { kernelConfig?: string; minimumKernel?: string; hint?: string; cause?: unknown } = {}) {
    const needs: string[] = [];
    if (details.minimumKernel) needs.push(`Linux ${details.minimumKernel} or later`);
    if (details.kernelConfig) needs.push(`a kernel built with ${details.kernelConfig}`);
    let msg = `${feature} is not supported by the running kernel`;
    if (needs.length) msg += `: it needs ${needs.join(" and ")}`;
    if (details.hint) msg += `. ${details.hint}`;
    super("E_NOT_SUPPORTED", msg, { cause: details.cause });
    this.feature = feature;
    this.kernelConfig = details.kernelConfig;
    this.minimumKernel = details.minimumKernel;
  }
}

/** The input is not a valid ELF object (or not a BPF one). */
export class ElfError extends BpfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_ELF", message, options);
  }
}

/** BTF or .BTF.ext data is malformed, or a type the caller asked for does not exist. */
export class BtfError extends BpfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_BTF", message, options);
  }
}

/** A BPF object is well-formed ELF but its contents cannot be turned into programs and maps. */
export class ObjectError extends BpfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_OBJECT", message, options);
  }
}

/** A CO-RE relocation could not be applied against the target kernel's BTF. */
export class CoreError extends BpfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_CORE", message, options);
  }
}

/** A key or value had the wrong size or type for a map, or any other argument was invalid. */
export class ArgumentError extends BpfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_ARGUMENT", message, options);
  }
}

/** An operation was attempted on a map, program or link that was already closed. */
export class ClosedError extends BpfError {
  constructor(what: string) {
    super("E_CLOSED", `${what} is closed: it was closed with close() or by a \`using\` block; open or load it again`);
  }
}

/**
 * The kernel verifier rejected a program. `message` holds the lines of the log that decide it
 * (and the C source line when the object has line info); `log` holds the whole verifier log.
 */
export class VerifierError extends BpfError {
  readonly program: string;
  readonly log: string;
  readonly errno: number;
  readonly sourceLine?: string;
  readonly instruction?: number;
  constructor(program: string, errno: number, log: string, summary: string, extra: { sourceLine?: string; instruction?: number } = {}) {
    super("E_VERIFIER", `load program ${program}: the verifier rejected it (${errnoName(errno)}): ${summary}`);
    this.program = program;
    this.errno = errno;
    this.log = log;
    this.sourceLine = extra.sourceLine;
    this.instruction = extra.instruction;
  }
}
