/**
 * uprobes and uretprobes (`SEC("uprobe/<path>:<func>[+<off>]")`, `SEC("uretprobe/...")`): a
 * breakpoint in a user-space binary or shared library, by symbol (resolved from the file's
 * `.symtab`/`.dynsym`) or file offset, optionally for one process only. The perf uprobe PMU
 * (/sys/bus/event_source/devices/uprobe, Linux 4.17+) first, tracefs `uprobe_events` as the
 * fallback. `uprobe.multi` (Linux 6.6+) attaches one program to many functions with one link.
 *
 * @example
 * ```ts
 * using a = attachUprobe(obj.programs.on_malloc, "libc.so.6", "malloc", { pid: 1234 });
 * using r = attachUprobe(obj.programs.on_ret, "/usr/bin/bash", "readline", { retprobe: true });
 * using m = attachUprobeMulti(obj.programs.any_str, "libc.so.6", "str*");
 * ```
 */
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { ArgumentError, BpfError, Errno, NotSupportedError } from "../errors.js";
import { cstring, linkCreate } from "../sys/bpf.js";
import { perfEventOpen } from "../sys/perf.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link, LinkGroup, isLinkUnsupported } from "./link.js";
import { defineProbeEvent } from "./probe-events.js";
import { attachPerfEvent } from "./tracepoint.js";
import { kernelHasSymbol } from "./kallsyms.js";
import { functionSymbols, globMatch, openBinary, resolveBinaryPath, symbolFileOffset, addressToOffset } from "./elf-symbols.js";

const PMU_DIR = "/sys/bus/event_source/devices/uprobe";

/** Options for {@link attachUprobe}. */
export interface UprobeOptions {
  /** Attach to the function's return (uretprobe). */
  retprobe?: boolean;
  /** Only this process (default: every process that maps the binary). */
  pid?: number;
  /** Bytes added to the symbol's offset (or the file offset itself when no symbol is given). */
  offset?: number;
  /** A value the program reads with bpf_get_attach_cookie() (Linux 5.15+). */
  cookie?: bigint;
  /** File offset of a USDT-style semaphore (u16) the kernel increments while attached (Linux 4.20+). */
  refCtrOffset?: bigint;
  /**
   * `auto` (default): the uprobe perf PMU, tracefs uprobe_events where the kernel has no PMU.
   * `pmu` or `tracefs` force one. A tracefs event is removed by close() (which throws
   * BpfError(E_PROBE_EVENT) if the kernel refuses); a pinned link keeps its event, named in
   * `mechanism`, for whoever removes the pin to delete.
   */
  mechanism?: "auto" | "pmu" | "tracefs";
}

function uprobesMissing(what: string, cause?: unknown, has = "neither the uprobe perf PMU nor tracefs uprobe_events"): NotSupportedError {
  return new NotSupportedError(`uprobes (attaching to ${what})`, {
    kernelConfig: "CONFIG_UPROBES (and CONFIG_UPROBE_EVENTS)",
    hint: `This kernel has ${has}`,
    cause,
  });
}

function pmuFormatBit(name: string, fallback: number): number {
  try {
    const fmt = readFileSync(`${PMU_DIR}/format/${name}`, "utf8").trim(); // "config:0", "config:32-63"
    const m = /^config:(\d+)/.exec(fmt);
    return m ? Number(m[1]) : fallback;
  } catch {
    return fallback;
  }
}

/** A resolved uprobe location: the file to probe and the byte offset in it. */
export interface UprobeTarget {
  path: string;
  offset: bigint;
  /** `path:func+off` for messages and Link.target. */
  label: string;
}

/**
 * Resolves `binary` (a path, or a library/program name searched in the usual places) and
 * `func` (a symbol; undefined to use `offset` as a file offset) to a file offset. Throws
 * BpfError(E_NO_BINARY) or BpfError(E_NO_SYMBOL), both naming the binary.
 */
export function resolveUprobeTarget(binary: string, func: string | undefined, offset = 0): UprobeTarget {
  const path = resolveBinaryPath(binary);
  if (func === undefined || func === "") {
    return { path, offset: BigInt(offset), label: `${path}:0x${offset.toString(16)}` };
  }
  const off = symbolFileOffset(openBinary(path), func, offset);
  return { path, offset: off, label: `${path}:${func}${offset ? `+${offset}` : ""}` };
}

/**
 * Attaches a uprobe/uretprobe program to `func` in `binary` (or to a file offset with `func`
 * undefined and `opts.offset`). Throws BpfError(E_NO_SYMBOL) when the binary lacks the function,
 * NotSupportedError without CONFIG_UPROBES.
 */
export function attachUprobe(prog: Program, binary: string, func: string | undefined, opts: UprobeOptions = {}): Link {
  if (prog.type !== ProgramType.KPROBE) {
    throw new ArgumentError(`attach uprobe ${binary}:${func ?? ""}: program ${prog.name} is not a uprobe program (SEC("uprobe") or SEC("uprobe/<path>:<func>"))`);
  }
  if (prog.expectedAttachType === AttachType.TRACE_UPROBE_MULTI) {
    throw new ArgumentError(`attach uprobe ${binary}:${func ?? ""}: program ${prog.name} was loaded as uprobe.multi; use attachUprobeMulti`);
  }
  const t = resolveUprobeTarget(binary, func, opts.offset);
  return attachUprobeAt(prog, t, opts);
}

/** Attaches at an already resolved file offset (used by USDT). */
export function attachUprobeAt(prog: Program, t: UprobeTarget, opts: Omit<UprobeOptions, "offset"> = {}): Link {
  const kind = opts.retprobe ? "uretprobe" : "uprobe";
  const label = opts.pid ? `${t.label} (pid ${opts.pid})` : t.label;
  const pid = opts.pid && opts.pid > 0 ? opts.pid : -1;
  const cpu = pid > 0 ? -1 : 0;
  const mechanism = opts.mechanism ?? "auto";
  if (mechanism !== "auto" && mechanism !== "pmu" && mechanism !== "tracefs") throw new ArgumentError(`attach ${kind} ${label}: mechanism must be auto, pmu or tracefs, not ${String(mechanism)}`);
  const hasPmu = existsSync(`${PMU_DIR}/type`);
  if (mechanism === "pmu" && !hasPmu) throw uprobesMissing(label, undefined, `no uprobe perf PMU (${PMU_DIR}); leave mechanism at "auto" to use tracefs uprobe_events`);
  const refused = (e: unknown): unknown => {
    const errno = (e as { errno?: number }).errno;
    if (errno === Errno.ESRCH) return new BpfError("E_NO_PROCESS", `attach ${kind} ${label}: no process ${opts.pid}`, { cause: e });
    if (errno === Errno.EINVAL && opts.refCtrOffset) {
      return new BpfError("E_SYSCALL", `attach ${kind} ${label}: the kernel refused the semaphore (ref_ctr_offset 0x${opts.refCtrOffset.toString(16)}); kernels before 4.20 cannot maintain USDT semaphores, and all probes of one offset must use the same one`, { cause: e });
    }
    return e;
  };
  if (hasPmu && mechanism !== "tracefs") {
    const pmu = Number(readFileSync(`${PMU_DIR}/type`, "utf8").trim());
    let config = opts.retprobe ? 1n << BigInt(pmuFormatBit("retprobe", 0)) : 0n;
    if (opts.refCtrOffset) config |= opts.refCtrOffset << BigInt(pmuFormatBit("ref_ctr_offset", 32));
    const open = () => {
      try {
        return perfEventOpen({ type: pmu, config, config1String: t.path, config2: t.offset, samplePeriod: 1n, wakeupEvents: 1 }, pid, cpu, `${kind} ${label}`);
      } catch (e) {
        throw refused(e);
      }
    };
    return attachPerfEvent(prog, open, kind, label, { cookie: opts.cookie, via: "uprobe PMU", pid, cpu });
  }
  // tracefs uprobe_events (kernels without the PMU, or forced).
  if (/\s/.test(t.path)) throw new ArgumentError(`attach ${kind} ${label}: tracefs uprobe_events cannot name a path with spaces`);
  const ref = opts.refCtrOffset ? `(0x${opts.refCtrOffset.toString(16)})` : "";
  const ev = defineProbeEvent("uprobe", !!opts.retprobe, `${t.path}:0x${t.offset.toString(16)}${ref}`, basename(t.path), {
    missing: (cause) => uprobesMissing(label, cause, mechanism === "tracefs" ? "no tracefs uprobe_events" : undefined),
    refused: (def, e, file) => new BpfError("E_SYSCALL", `attach ${kind} ${label} through ${file}: the kernel refused "${def}" (${e.message})`, { cause: e }),
  });
  const open = () => {
    try {
      return ev.open(pid, cpu, `${kind} ${label}`);
    } catch (e) {
      throw refused(e);
    }
  };
  try {
    return attachPerfEvent(prog, open, kind, label, { cookie: opts.cookie, via: `tracefs uprobe_events (${ev.event})`, pid, cpu, afterClose: (l) => ev.remove(l) });
  } catch (e) {
    ev.remove();
    throw e;
  }
}

/** Options for {@link attachUprobeMulti}. */
export interface UprobeMultiOptions {
  retprobe?: boolean;
  pid?: number;
  /** One cookie per resolved function, in the order of `funcs` (or sorted names for a pattern). */
  cookies?: bigint[];
}

/**
 * Resolves `funcs` (names, or one glob pattern with `*`/`?`) in `binary` to file offsets, sorted
 * by name for patterns. Throws BpfError(E_NO_SYMBOL) when nothing matches.
 */
export function resolveUprobeFunctions(binary: string, funcs: string | string[]): { path: string; names: string[]; offsets: bigint[] } {
  const path = resolveBinaryPath(binary);
  const bin = openBinary(path);
  let names: string[];
  if (typeof funcs === "string") {
    names = [...functionSymbols(bin).keys()].filter((n) => globMatch(funcs, n)).sort();
    if (names.length === 0) throw new BpfError("E_NO_SYMBOL", `resolve uprobe.multi pattern ${funcs}: no function of ${path} matches it`);
  } else {
    names = funcs;
  }
  const syms = functionSymbols(bin);
  const offsets = names.map((n) => (syms.has(n) ? addressToOffset(bin, syms.get(n)!.value64, `function ${n}`) : symbolFileOffset(bin, n)));
  return { path, names, offsets };
}

/**
 * Attaches one program to many functions of one binary. A program loaded as `uprobe.multi`
 * (SEC("uprobe.multi/...")) gets one BPF_TRACE_UPROBE_MULTI link (Linux 6.6+, NotSupportedError
 * before); a plain uprobe program gets one uprobe link per function, grouped in the returned
 * {@link LinkGroup} (its `links`, pinned as one file per function).
 */
export function attachUprobeMulti(prog: Program, binary: string, funcs: string | string[], opts: UprobeMultiOptions = {}): Link {
  if (prog.type !== ProgramType.KPROBE) throw new ArgumentError(`attach uprobe.multi ${binary}: program ${prog.name} is not a uprobe program`);
  const { path, names, offsets } = resolveUprobeFunctions(binary, funcs);
  if (opts.cookies && opts.cookies.length !== names.length) {
    throw new ArgumentError(`attach uprobe.multi ${binary}: ${opts.cookies.length} cookies for ${names.length} functions (${names.slice(0, 5).join(", ")}${names.length > 5 ? ", ..." : ""})`);
  }
  const kind = opts.retprobe ? "uretprobe.multi" : "uprobe.multi";
  const label = `${path}:${typeof funcs === "string" ? funcs : names.join(",")}${opts.pid ? ` (pid ${opts.pid})` : ""}`;
  if (prog.expectedAttachType !== AttachType.TRACE_UPROBE_MULTI) {
    const links = attachEach(names, (n, i) => attachUprobeAt(prog, { path, offset: offsets[i]!, label: `${path}:${n}` }, { retprobe: opts.retprobe, pid: opts.pid, cookie: opts.cookies?.[i] }));
    return groupLinks(kind, label, "uprobe links (one per function)", links, names);
  }
  const pathBuf = cstring(path);
  const offs = new BigUint64Array(offsets);
  const cookies = opts.cookies ? new BigUint64Array(opts.cookies) : undefined;
  try {
    const fd = linkCreate({
      progFd: prog.fd.value, attachType: AttachType.TRACE_UPROBE_MULTI,
      extra: (a) => {
        a.ptr(16, pathBuf).ptr(24, offs).ptr(40, cookies ?? null).u32(48, names.length).u32(52, opts.retprobe ? 1 : 0).u32(56, opts.pid ?? 0);
      },
    }, `${kind} ${label}`);
    return new Link({ kind, target: label, mechanism: "bpf_link(uprobe_multi)", linkFd: fd });
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    // EINVAL is also what a kernel before 6.6 answers: tell by its attach function.
    if (isLinkUnsupported(e) && (errno !== Errno.EINVAL || kernelHasSymbol("bpf_uprobe_multi_link_attach") === false)) {
      throw new NotSupportedError("uprobe.multi links", { minimumKernel: "6.6", kernelConfig: "CONFIG_UPROBES", hint: "load the program as SEC(\"uprobe\") instead and attachUprobeMulti attaches one uprobe per function", cause: e });
    }
    if (errno === Errno.ESRCH) throw new BpfError("E_NO_PROCESS", `attach ${kind} ${label}: no process ${opts.pid}`, { cause: e });
    throw e;
  }
}

/** Attaches one link per name; on a failure closes the ones made and rethrows. */
export function attachEach(names: string[], attach: (name: string, index: number) => Link): Link[] {
  const links: Link[] = [];
  try {
    names.forEach((n, i) => links.push(attach(n, i)));
  } catch (e) {
    for (const l of links) l.close();
    throw e;
  }
  return links;
}

/** A LinkGroup of links made one per target by a fallback; `names` name the members (functions). */
export function groupLinks(kind: string, target: string, mechanism: string, links: Link[], names?: string[]): LinkGroup {
  return new LinkGroup({ kind, target, mechanism: `${links.length} ${mechanism}${links[0] ? ` via ${links[0].mechanism}` : ""}`, links, names });
}

/**
 * Parses a libbpf uprobe section target: `<path>:<func>[+<offset>]`, `<path>:<offset>` (hex or
 * decimal) or `<path>` alone (then the function comes from elsewhere).
 */
export function parseUprobeSection(attachTo: string): { binary: string; func?: string; offset?: number } {
  const i = attachTo.lastIndexOf(":");
  if (i < 0) return { binary: attachTo };
  const binary = attachTo.slice(0, i);
  const rest = attachTo.slice(i + 1);
  if (/^(0x[0-9a-f]+|\d+)$/i.test(rest)) return { binary, offset: Number(rest) };
  const m = /^([^+]+)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(rest);
  if (!m) return { binary, func: rest };
  return { binary, func: m[1], offset: m[2] ? Number(m[2]) : undefined };
}
