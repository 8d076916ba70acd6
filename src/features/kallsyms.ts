/**
 * Kernel symbol addresses from /proc/kallsyms, read once per process and path: the address of a
 * typeless `extern const void sym __ksym` and the existence of syscall wrappers come from here.
 *
 * Only symbols the kernel lists are found: data symbols appear only with CONFIG_KALLSYMS_ALL, and
 * addresses read as zero unless the reader may see them (root, or `kernel.kptr_restrict` 0).
 *
 * @example
 * ```ts
 * import { kallsyms } from "tsbpf";
 * kallsyms().address("schedule"); // 0xffffffff81e2a7c0n
 * ```
 */
import { closeSync, openSync, readSync } from "node:fs";
import { BpfError } from "../errors.js";

/** Default location of the kernel's symbol table. */
export const KALLSYMS_PATH = "/proc/kallsyms";

/** One line of /proc/kallsyms. */
export interface KernelSymbol {
  name: string;
  address: bigint;
  /** The nm-style type letter: `T`/`t` text, `D`/`d` data, `B`/`b` bss, `R`/`r` read-only, `W` weak... */
  type: string;
  /** The module that defines it (from `[module]`), undefined for vmlinux. */
  module?: string;
}

/**
 * The symbol table. The text is kept as read and searched per lookup (a lookup is a few ms over
 * ~5 MB; a load looks up a handful of names), which is far cheaper than indexing 100k+ names.
 */
export class Kallsyms {
  readonly #text: string;
  /** Where it was read from. */
  readonly path: string;
  /** True when every address is zero: the reader may not see addresses (kptr_restrict). */
  readonly hidden: boolean;

  /** Wraps the text of a kallsyms file ("address type name[\t[module]]" lines). */
  constructor(text: string, path = KALLSYMS_PATH) {
    this.#text = text.endsWith("\n") || text === "" ? text : `${text}\n`;
    this.path = path;
    // Restricted readers see every address as 0; the first lines tell (they are never 0 otherwise).
    const head = this.#text.slice(0, 4096).split("\n").filter((l) => l.trim() !== "").slice(0, 16);
    this.hidden = head.length > 0 && head.every((l) => /^0+\s/.test(l));
  }

  /** True when the file lists no symbols at all. */
  get empty(): boolean {
    return this.#text.trim() === "";
  }

  /** True when the kernel lists `name` (or an LLVM `name.llvm.<hash>` rename of it). */
  has(name: string): boolean {
    return this.lookup(name).length > 0;
  }

  /** Lines naming exactly `full` (with or without a module). */
  #find(full: string, out: KernelSymbol[]): void {
    const t = this.#text;
    for (const needle of [` ${full}\n`, ` ${full}\t`]) {
      for (let at = t.indexOf(needle); at >= 0; at = t.indexOf(needle, at + needle.length)) {
        const lineStart = t.lastIndexOf("\n", at) + 1;
        const lineEnd = t.indexOf("\n", at + 1);
        const line = t.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
        const m = /^([0-9a-fA-F]+) (\S) (\S+)(?:\t\[?([^\]\s]+)\]?)?$/.exec(line);
        if (!m || m[3] !== full) continue; // the needle matched inside another field
        out.push({ name: full, address: BigInt(`0x${m[1]}`), type: m[2]!, ...(m[4] ? { module: m[4] } : {}) });
      }
    }
  }

  /**
   * Every definition of `name` (static functions may be defined more than once), including a
   * `name.llvm.<hash>` rename (as clang's ThinLTO names promoted statics) when the plain name is absent.
   */
  lookup(name: string): KernelSymbol[] {
    if (!name || /\s/.test(name)) return [];
    const out: KernelSymbol[] = [];
    this.#find(name, out);
    if (out.length === 0) {
      const t = this.#text;
      const needle = ` ${name}.llvm.`;
      for (let at = t.indexOf(needle); at >= 0; at = t.indexOf(needle, at + needle.length)) {
        const end = t.slice(at + 1).search(/[\t\n]/);
        const full = t.slice(at + 1, end < 0 ? undefined : at + 1 + end);
        if (/^[^.]+\.llvm\.\d+$/.test(full) || full.startsWith(`${name}.llvm.`)) this.#find(full, out);
        if (out.length) break;
      }
    }
    return out;
  }

  /**
   * The address of `name`, or undefined when the kernel does not list it.
   *
   * @throws {BpfError} E_AMBIGUOUS_SYMBOL when the name has several different addresses, and
   *   E_NO_ADDRESS when the addresses are hidden from this process.
   */
  address(name: string): bigint | undefined {
    const defs = this.lookup(name);
    if (defs.length === 0) return undefined;
    if (this.hidden) {
      throw new BpfError("E_NO_ADDRESS", `read the address of kernel symbol ${name}: ${this.path} shows every address as 0 to this process; run as root or set sysctl kernel.kptr_restrict=0`);
    }
    const addrs = [...new Set(defs.map((d) => d.address))];
    if (addrs.length > 1) {
      throw new BpfError("E_AMBIGUOUS_SYMBOL", `read the address of kernel symbol ${name}: ${this.path} lists it at ${addrs.length} addresses (${addrs.slice(0, 4).map((a) => `0x${a.toString(16)}`).join(", ")}${addrs.length > 4 ? ", ..." : ""}); refer to a symbol with a unique name`);
    }
    return addrs[0];
  }
}

/** Reads a /proc file in large chunks (its size reads as 0, and small reads of kallsyms are slow). */
function readProcFile(path: string): string {
  const fd = openSync(path, "r");
  try {
    // seq_file hands out about a page per read: fill one large buffer, growing it as needed.
    let buf = Buffer.allocUnsafe(8 << 20);
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n <= 0) break;
      len += n;
    }
    return buf.toString("latin1", 0, len);
  } finally {
    closeSync(fd);
  }
}

const cache = new Map<string, Kallsyms>();

/**
 * The kernel's symbol table, read once per process and path.
 *
 * @throws {BpfError} E_NO_KALLSYMS when the file cannot be read.
 */
export function kallsyms(path: string = KALLSYMS_PATH): Kallsyms {
  let k = cache.get(path);
  if (!k) {
    let text: string;
    try {
      text = readProcFile(path);
    } catch (e) {
      throw new BpfError("E_NO_KALLSYMS", `read kernel symbols from ${path}: ${(e as Error).message}; the kernel needs CONFIG_KALLSYMS and /proc mounted`, { cause: e });
    }
    k = new Kallsyms(text, path);
    cache.set(path, k);
  }
  return k;
}
