/**
 * USDT probes (`SEC("usdt/<path>:<provider>:<name>")`, `SEC("usdt")` + explicit attach): the
 * static probes that `<sys/sdt.h>` (DTRACE_PROBE*, systemtap) compiles into a binary, described
 * by `.note.stapsdt` ELF notes. tsbpf reads the notes, attaches a uprobe at every site of the
 * probe (with the semaphore's file offset as the uprobe reference counter, so `PROBE_ENABLED()`
 * guards turn on), and describes each site's arguments.
 *
 * ## The BPF side
 * Two ways to read the probe's arguments in the program:
 * 1. **libbpf's `<bpf/usdt.bpf.h>`** (`BPF_USDT(...)`, `bpf_usdt_arg()`, `bpf_usdt_cookie()`):
 *    when the program uses its `__bpf_usdt_specs` map, tsbpf writes one `struct __bpf_usdt_spec`
 *    per distinct argument layout into it and sets each uprobe's BPF cookie to the spec id, as
 *    libbpf does. (usdt.bpf.h also reads the `LINUX_HAS_BPF_COOKIE` kconfig extern, which the
 *    loader must resolve; kernels 5.15+ have cookies.)
 * 2. **Without usdt.bpf.h**: the uprobe's BPF cookie is `opts.cookie` (default 0); the program
 *    reads arguments from `struct pt_regs` itself as {@link UsdtProbe.args} describe them (e.g.
 *    `-4@%edi` is a signed 4-byte value in rdi: `(int)PT_REGS_PARM1(ctx)`-style access through
 *    `ctx->di`).
 *
 * Argument specs are parsed for x86-64 (`8@%rax`, `-4@-12(%rbp)`, `4@$42`); other architectures
 * get the raw strings and cannot use the spec map yet.
 *
 * @example
 * ```ts
 * for (const p of listUsdtProbes("/usr/bin/python3")) console.log(p.provider, p.name, p.argsText);
 * using link = attachUsdt(obj.programs.on_gc, "/usr/bin/python3", "python", "gc__start");
 * ```
 */
import { ArgumentError, BpfError } from "../errors.js";
import { SectionType } from "../elf/index.js";
import { BpfMap } from "../map/map.js";
import { readProgramInfo, type Program } from "../prog/program.js";
import { ProgramType } from "../spec/kernel-enums.js";
import { Link } from "./link.js";
import { addressToOffset, openBinary, resolveBinaryPath, type ProbeBinary } from "./elf-symbols.js";
import { attachUprobeAt } from "./uprobe.js";

/** How one USDT argument is found (libbpf's enum __bpf_usdt_arg_type). */
export const UsdtArgType = { CONST: 0, REG: 1, REG_DEREF: 2 } as const;

/** One parsed argument of a USDT probe site. */
export interface UsdtArg {
  /** The raw spec, e.g. `-4@-12(%rbp)`. */
  text: string;
  /** Size in bytes (1, 2, 4 or 8). */
  size: number;
  signed: boolean;
  /** CONST: the value is `value`; REG: in `register`; REG_DEREF: at `register + offset` in user memory. */
  type: number;
  /** Register name normalised to its 64-bit name (`rdi`, `rbp`, `r8`, `rip`). */
  register?: string;
  /** offsetof(struct pt_regs, register) on x86-64. */
  regOffset?: number;
  /** Memory offset (REG_DEREF) or the constant (CONST). */
  value: bigint;
}

/** One USDT probe site from `.note.stapsdt`. */
export interface UsdtProbe {
  provider: string;
  name: string;
  /** The probe's address as linked (adjusted by `.stapsdt.base` when the file was prelinked). */
  address: bigint;
  /** File offset of the probe instruction (what the uprobe attaches to). */
  offset: bigint;
  /** Semaphore address, 0n when the probe has none. */
  semaphoreAddress: bigint;
  /** Semaphore file offset (the uprobe ref_ctr_offset), 0n when none. */
  semaphoreOffset: bigint;
  /** The raw argument string, e.g. `-4@%edi 8@-16(%rbp)`. */
  argsText: string;
  /** Parsed arguments; undefined when the string is not understood (non-x86-64, SIB addressing, symbols). */
  args: UsdtArg[] | undefined;
}

/** offsetof(struct pt_regs, X) on x86-64. */
const X86_REGS: Record<string, number> = {
  r15: 0, r14: 8, r13: 16, r12: 24, rbp: 32, rbx: 40, r11: 48, r10: 56, r9: 64, r8: 72, rax: 80,
  rcx: 88, rdx: 96, rsi: 104, rdi: 112, rip: 128, rsp: 152,
};

/** Normalises an x86 register name (`eax`, `ax`, `al`, `r8d`, `sil`) to its 64-bit name. */
export function x86Register64(name: string): string | undefined {
  const n = name.toLowerCase();
  if (n in X86_REGS) return n;
  const m = /^r(\d+)[dwb]?$/.exec(n);
  if (m && Number(m[1]) >= 8 && Number(m[1]) <= 15) return `r${m[1]}`;
  const legacy: Record<string, string> = {
    eax: "rax", ax: "rax", al: "rax", ah: "rax", ebx: "rbx", bx: "rbx", bl: "rbx", bh: "rbx",
    ecx: "rcx", cx: "rcx", cl: "rcx", ch: "rcx", edx: "rdx", dx: "rdx", dl: "rdx", dh: "rdx",
    esi: "rsi", si: "rsi", sil: "rsi", edi: "rdi", di: "rdi", dil: "rdi", ebp: "rbp", bp: "rbp",
    bpl: "rbp", esp: "rsp", sp: "rsp", spl: "rsp", eip: "rip", ip: "rip",
  };
  return legacy[n];
}

/** Parses one x86-64 USDT argument spec (`-4@%edi`, `8@-16(%rbp)`, `4@$5`, `8@(%rax)`). */
export function parseUsdtArg(text: string): UsdtArg | undefined {
  const m = /^(-?)(\d+)@(.+)$/.exec(text.trim());
  if (!m) return undefined;
  const size = Number(m[2]);
  if (![1, 2, 4, 8].includes(size)) return undefined;
  const signed = m[1] === "-";
  const loc = m[3]!;
  let r: RegExpExecArray | null;
  if ((r = /^\$(-?(?:0x[0-9a-f]+|\d+))$/i.exec(loc))) {
    const v = r[1]!.startsWith("-") ? -BigInt(r[1]!.slice(1)) : BigInt(r[1]!);
    return { text, size, signed, type: UsdtArgType.CONST, value: v };
  }
  if ((r = /^%(\w+)$/.exec(loc))) {
    const reg = x86Register64(r[1]!);
    if (!reg) return undefined;
    return { text, size, signed, type: UsdtArgType.REG, register: reg, regOffset: X86_REGS[reg], value: 0n };
  }
  if ((r = /^(-?(?:0x[0-9a-f]+|\d+))?\(%(\w+)\)$/i.exec(loc))) {
    const reg = x86Register64(r[2]!);
    if (!reg) return undefined;
    const o = r[1] ?? "0";
    const off = o.startsWith("-") ? -BigInt(o.slice(1)) : BigInt(o);
    return { text, size, signed, type: UsdtArgType.REG_DEREF, register: reg, regOffset: X86_REGS[reg], value: off };
  }
  return undefined;
}

/** Parses a whole argument string (space separated). Undefined when any argument is not understood. */
export function parseUsdtArgs(text: string): UsdtArg[] | undefined {
  const parts = text.trim().split(/\s+/).filter(Boolean);
  const out: UsdtArg[] = [];
  for (const p of parts) {
    const a = parseUsdtArg(p);
    if (!a) return undefined;
    out.push(a);
  }
  return out;
}

const NT_STAPSDT = 3;

/** Reads the USDT probes of a parsed binary from its `.note.stapsdt` section(s). */
export function readUsdtNotes(bin: ProbeBinary): UsdtProbe[] {
  const { elf } = bin;
  const le = elf.littleEndian;
  const baseSec = elf.sectionByName(".stapsdt.base");
  const out: UsdtProbe[] = [];
  const x86 = elf.machine === 62;
  for (const sec of elf.sections) {
    if (sec.type !== SectionType.NOTE || sec.name !== ".note.stapsdt") continue;
    const d = sec.data;
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    let o = 0;
    while (o + 12 <= d.length) {
      const namesz = v.getUint32(o, le);
      const descsz = v.getUint32(o + 4, le);
      const type = v.getUint32(o + 8, le);
      const nameOff = o + 12;
      const descOff = nameOff + ((namesz + 3) & ~3);
      const next = descOff + ((descsz + 3) & ~3);
      if (next > d.length || descOff + descsz > d.length) break;
      const owner = new TextDecoder().decode(d.subarray(nameOff, nameOff + Math.max(0, namesz - 1)));
      if (owner === "stapsdt" && type === NT_STAPSDT && descsz >= 24) {
        const pc = v.getBigUint64(descOff, le);
        const base = v.getBigUint64(descOff + 8, le);
        const sema = v.getBigUint64(descOff + 16, le);
        const strs = d.subarray(descOff + 24, descOff + descsz);
        const [provider = "", name = "", argsText = ""] = new TextDecoder().decode(strs).split("\0");
        let address = pc;
        // Prelink may have moved the binary: .stapsdt.base tells by how much.
        if (baseSec && base) address += BigInt(baseSec.addr) - base;
        let offset: bigint;
        try {
          offset = addressToOffset(bin, address, `USDT probe ${provider}:${name}`);
        } catch {
          o = next;
          continue;
        }
        let semaphoreOffset = 0n;
        if (sema) {
          try {
            semaphoreOffset = addressToOffset(bin, sema, `semaphore of USDT probe ${provider}:${name}`);
          } catch {
            semaphoreOffset = 0n;
          }
        }
        out.push({ provider, name, address, offset, semaphoreAddress: sema, semaphoreOffset, argsText, args: x86 ? parseUsdtArgs(argsText) : undefined });
      }
      o = next;
    }
  }
  return out;
}

/** The USDT probes of a binary or library (by path or name), for discovery. */
export function listUsdtProbes(binary: string): UsdtProbe[] {
  return readUsdtNotes(openBinary(resolveBinaryPath(binary)));
}

// ---------------------------------------------------------------------------------------------
// The spec map of libbpf's usdt.bpf.h

/** BPF_USDT_MAX_ARG_CNT and sizeof(struct __bpf_usdt_spec). */
export const USDT_MAX_ARGS = 12;
export const USDT_SPEC_SIZE = 208;

/** Encodes `struct __bpf_usdt_spec` (little-endian x86-64 layout). */
export function encodeUsdtSpec(args: UsdtArg[], usdtCookie = 0n): Uint8Array {
  if (args.length > USDT_MAX_ARGS) throw new ArgumentError(`encode USDT spec: ${args.length} arguments, at most ${USDT_MAX_ARGS}`);
  const buf = new Uint8Array(USDT_SPEC_SIZE);
  const v = new DataView(buf.buffer);
  args.forEach((a, i) => {
    const o = i * 16;
    v.setBigUint64(o, BigInt.asUintN(64, a.value), true);
    v.setUint32(o + 8, a.type, true);
    v.setInt16(o + 12, a.regOffset ?? 0, true);
    v.setUint8(o + 14, a.signed ? 1 : 0);
    v.setInt8(o + 15, 64 - a.size * 8);
  });
  v.setBigUint64(192, BigInt.asUintN(64, usdtCookie), true);
  v.setInt16(200, args.length, true);
  return buf;
}

/** Spec ids in use per spec map (by map id), so several links share one map. */
const specIds = new Map<number, Set<number>>();

function allocSpecId(mapId: number, max: number): number {
  let used = specIds.get(mapId);
  if (!used) specIds.set(mapId, (used = new Set()));
  for (let i = 0; i < max; i++) {
    if (!used.has(i)) {
      used.add(i);
      return i;
    }
  }
  throw new BpfError("E_USDT_SPECS", `attach USDT: all ${max} slots of __bpf_usdt_specs are in use; define BPF_USDT_MAX_SPEC_CNT larger before including usdt.bpf.h`);
}

/** Finds the `__bpf_usdt_specs` map among the maps a program uses (kernel name `__bpf_usdt_spec`), or undefined. */
export function findUsdtSpecMap(prog: Program): BpfMap | undefined {
  for (const id of readProgramInfo(prog.fd.value, `program ${prog.name}`).mapIds) {
    let m: BpfMap;
    try {
      m = BpfMap.fromId(id);
    } catch {
      continue;
    }
    if (m.info().name === "__bpf_usdt_spec" && m.valueSize === USDT_SPEC_SIZE) return m;
    m.close();
  }
  return undefined;
}

/** Options for {@link attachUsdt}. */
export interface UsdtOptions {
  /** Only this process. */
  pid?: number;
  /**
   * With usdt.bpf.h: the value `bpf_usdt_cookie()` returns. Without it: the uprobe's BPF cookie
   * (`bpf_get_attach_cookie()`).
   */
  cookie?: bigint;
  /**
   * The `__bpf_usdt_specs` map to fill. Default: found among the program's maps; `null` disables
   * (the BPF cookie is then `cookie`).
   */
  specMap?: BpfMap | null;
}

/** A USDT attachment: one uprobe per probe site. */
export class UsdtLink extends Link {
  /** The probe sites attached. */
  readonly probes: UsdtProbe[] = [];
  /** The spec ids written to `__bpf_usdt_specs` (empty without a spec map). */
  readonly specIds: number[] = [];
  /** The uprobe link of each site, in the order of {@link probes}. */
  readonly links: Link[] = [];
}

/**
 * Attaches a USDT program to every site of `provider:name` in `binary`. Throws
 * BpfError(E_NO_SYMBOL) naming the binary and the probes it has when there is no such probe.
 */
export function attachUsdt(prog: Program, binary: string, provider: string, name: string, opts: UsdtOptions = {}): UsdtLink {
  if (prog.type !== ProgramType.KPROBE) throw new ArgumentError(`attach usdt ${provider}:${name}: program ${prog.name} is not a USDT program (SEC("usdt") or SEC("usdt/<path>:<provider>:<name>"))`);
  const path = resolveBinaryPath(binary);
  const bin = openBinary(path);
  const all = readUsdtNotes(bin);
  const sites = all.filter((p) => p.provider === provider && p.name === name);
  if (sites.length === 0) {
    const have = [...new Set(all.map((p) => `${p.provider}:${p.name}`))];
    throw new BpfError("E_NO_SYMBOL", `attach usdt ${provider}:${name}: ${path} has no such USDT probe (${have.length ? `it has ${have.slice(0, 10).join(", ")}${have.length > 10 ? ", ..." : ""}` : "it has no .note.stapsdt probes"})`);
  }
  const ownMap = opts.specMap === undefined ? findUsdtSpecMap(prog) : undefined;
  const specMap = opts.specMap === null ? undefined : (opts.specMap ?? ownMap);
  const mapId = specMap ? specMap.info().id : 0;
  const links: Link[] = [];
  const ids: number[] = [];
  const byArgs = new Map<string, number>();
  const release = () => {
    for (const l of links) l.close();
    const used = specIds.get(mapId);
    for (const id of ids) used?.delete(id);
    ownMap?.close();
  };
  try {
    for (const site of sites) {
      let cookie = opts.cookie ?? 0n;
      if (specMap) {
        if (!site.args) throw new BpfError("E_USDT_ARGS", `attach usdt ${provider}:${name} at ${path}+0x${site.offset.toString(16)}: tsbpf cannot parse its argument spec "${site.argsText}" for the usdt.bpf.h spec map; attach with { specMap: null } and read the registers yourself`);
        let id = byArgs.get(site.argsText);
        if (id === undefined) {
          id = allocSpecId(mapId, specMap.maxEntries);
          ids.push(id);
          byArgs.set(site.argsText, id);
          specMap.update(id, encodeUsdtSpec(site.args, opts.cookie ?? 0n));
        }
        cookie = BigInt(id);
      }
      links.push(attachUprobeAt(prog, { path, offset: site.offset, label: `${path}:${provider}:${name}@0x${site.offset.toString(16)}` }, { pid: opts.pid, cookie, refCtrOffset: site.semaphoreOffset || undefined }));
    }
  } catch (e) {
    release();
    throw e;
  }
  const link = new UsdtLink({
    kind: "usdt", target: `${path}:${provider}:${name}${opts.pid ? ` (pid ${opts.pid})` : ""}`,
    mechanism: `${links.length} uprobe link(s) via ${links[0]!.mechanism}${specMap ? " + __bpf_usdt_specs" : ""}`,
    onClose: release,
  });
  link.probes.push(...sites);
  link.specIds.push(...ids);
  link.links.push(...links);
  return link;
}

/** Parses a `usdt/<path>:<provider>:<name>` section target. */
export function parseUsdtSection(attachTo: string): { binary: string; provider: string; name: string } | undefined {
  const m = /^(.+):([^:]+):([^:]+)$/.exec(attachTo);
  return m ? { binary: m[1]!, provider: m[2]!, name: m[3]! } : undefined;
}
