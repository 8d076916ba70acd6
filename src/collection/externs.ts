/**
 * Extern resolution at load time, as libbpf does it:
 *
 * - `.kconfig` externs (`extern int CONFIG_HZ __kconfig;`) get their values from the kernel config
 *   and the virtual `LINUX_*` values, written into the `.kconfig` map before it is created
 *   ({@link fillKconfig}); instructions that load their address point into that map.
 * - `.ksyms` variables: typed ones (`extern const struct rq runqueues __ksym;`) become
 *   `BPF_PSEUDO_BTF_ID` loads of the kernel VAR's BTF id (vmlinux or a module, whose BTF object fd
 *   goes in the second half of the ld_imm64); typeless ones (`extern const void sym __ksym;`)
 *   become a constant: the symbol's /proc/kallsyms address.
 * - kfunc calls (`extern ... __ksym` functions) call the kernel FUNC by BTF id; for module kfuncs
 *   `off` is the index of the module's BTF fd in the program's `fd_array` (index 0 is reserved).
 *   `bpf_ksym_exists(kfunc)` (an ld_imm64 of the function) becomes a BTF id load too.
 * - `__weak` externs the kernel lacks resolve to 0; calls to a missing weak kfunc are poisoned like
 *   libbpf's (an invalid helper call, so the verifier only complains when the call is reachable).
 *
 * Nothing here is needed by users directly: {@link loadCollection} calls it.
 */
import { readdirSync } from "node:fs";
import { BpfError, ObjectError } from "../errors.js";
import { Btf } from "../btf/btf.js";
import { loadKernelBtf, loadModuleBtf, KERNEL_BTF_PATH } from "../btf/kernel.js";
import { typesAreCompat } from "../btf/core-compat.js";
import { BPF_PSEUDO_BTF_ID, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_VALUE, BPF_CALL_OP } from "../asm/opcodes.js";
import type { CollectionSpec, InsnRelocation, VariableSpec } from "../spec/types.js";
import { kernelConfig, parseKconfigValue, VIRTUAL_KCONFIG, type KconfigValue, type KernelConfig } from "../features/kconfig.js";
import { kallsyms } from "../features/kallsyms.js";
import { moduleBtfFd } from "../link/tracing.js";
import type { BpfMap } from "../map/map.js";
import type { FD } from "../sys/fd.js";

/** libbpf's base for poisoned kfunc calls: `call 2002000000 + extern index` ("invalid func unknown#2002000000"). */
export const POISON_CALL_KFUNC_BASE = 2002000000;

/**
 * Where `.kconfig` values come from (the `kconfig` load option): the path of a kernel config file
 * (plain or gzip) used instead of the system's, or values in config-file syntax (`"y"`, `"m"`,
 * `"n"`, `"250"`, `"0x1000"`, `"\"string\""`) that take precedence over the system's config, which
 * is then read only for externs the record does not name. A record may also set the virtual
 * `LINUX_*` externs (e.g. to pretend another kernel version).
 */
export type KconfigSource = string | Record<string, string>;

/** The `.kconfig` extern types libbpf supports. */
export interface KconfigType {
  kind: "bool" | "char" | "tristate" | "int" | "chararray";
  size: number;
  signed: boolean;
}

/**
 * The kconfig type of an extern declared with BTF type `typeId` (libbpf `find_kcfg_type`): `bool`
 * (1 byte), `char` (any 1-byte int), `enum libbpf_tristate`, 2/4/8-byte ints, and `char[N]`.
 * Undefined for anything else.
 */
export function kconfigType(btf: Btf, typeId: number): KconfigType | undefined {
  const id = btf.resolve(typeId);
  const t = btf.type(id);
  switch (t.kind) {
    case "int":
      if (t.bool) return t.size === 1 ? { kind: "bool", size: 1, signed: false } : undefined;
      if (t.size === 1) return { kind: "char", size: 1, signed: t.signed };
      if (t.size === 2 || t.size === 4 || t.size === 8) return { kind: "int", size: t.size, signed: t.signed };
      return undefined;
    case "enum":
    case "enum64":
      return t.name === "libbpf_tristate" && (t.kind === "enum64" || t.size === 4) ? { kind: "tristate", size: t.size, signed: false } : undefined;
    case "array": {
      if (t.nelems === 0) return undefined;
      const e = kconfigType(btf, t.elemTypeId);
      return e?.kind === "char" ? { kind: "chararray", size: t.nelems, signed: false } : undefined;
    }
    default:
      return undefined;
  }
}

function describe(t: KconfigType): string {
  return t.kind === "chararray" ? `char[${t.size}]` : t.kind === "int" ? `${t.signed ? "" : "unsigned "}${t.size * 8}-bit int` : t.kind === "tristate" ? "enum libbpf_tristate" : t.kind;
}

/**
 * Writes `value` for extern `name` of type `type` at `offset` in `out`, with libbpf's rules:
 * y/n go into bool, char ('y'/'n'/'m' as characters) and tristate (y=1, m=2, n=0), m not into
 * bool; strings only into char arrays (truncated to N-1 bytes and NUL-terminated); numbers into
 * ints, chars and bools (0/1) when they fit.
 *
 * @throws {ObjectError} when the value does not fit the type.
 */
export function encodeKconfigValue(name: string, value: KconfigValue, type: KconfigType, out: DataView, offset: number, littleEndian: boolean, warn?: (m: string) => void): void {
  const bad = (why: string) => new ObjectError(`set extern ${name} (__kconfig ${describe(type)}): ${why}; declare it with a matching type`);
  switch (value.kind) {
    case "tristate": {
      const c = value.value;
      if (type.kind === "bool") {
        if (c === "m") throw bad("the value m needs enum libbpf_tristate or char");
        out.setUint8(offset, c === "y" ? 1 : 0);
      } else if (type.kind === "tristate") {
        const v = c === "y" ? 1 : c === "m" ? 2 : 0;
        if (type.size === 8) out.setBigUint64(offset, BigInt(v), littleEndian);
        else out.setUint32(offset, v, littleEndian);
      } else if (type.kind === "char") {
        out.setUint8(offset, c.charCodeAt(0));
      } else {
        throw bad(`the value ${c} needs bool, enum libbpf_tristate or char`);
      }
      return;
    }
    case "string": {
      if (type.kind !== "chararray") throw bad(`the string value ${JSON.stringify(value.value)} needs a char array`);
      let bytes = Buffer.from(value.value, "latin1");
      if (bytes.length >= type.size) {
        warn?.(`set extern ${name} (__kconfig char[${type.size}]): the value ${JSON.stringify(value.value)} (${bytes.length} bytes) is truncated to ${type.size - 1} bytes`);
        bytes = bytes.subarray(0, type.size - 1);
      }
      for (let i = 0; i < type.size; i++) out.setUint8(offset + i, i < bytes.length ? bytes[i]! : 0);
      return;
    }
    case "number": {
      const v = value.value;
      if (type.kind !== "int" && type.kind !== "char" && type.kind !== "bool") throw bad(`the number ${v} needs an integer, char or bool`);
      if (type.kind === "bool" && v !== 0n && v !== 1n) throw bad(`the number ${v} is neither 0 nor 1`);
      const bits = type.size * 8;
      // Like libbpf: negative numbers are their 64-bit two's complement, then must fit the type.
      const u = BigInt.asUintN(64, v);
      const fits = bits === 64 || (type.signed ? BigInt.asIntN(64, u) >= -(1n << BigInt(bits - 1)) && BigInt.asIntN(64, u) < 1n << BigInt(bits - 1) : u >> BigInt(bits) === 0n);
      if (!fits) throw bad(`the number ${v} does not fit in ${bits} bits`);
      const w = BigInt.asUintN(bits, u);
      if (type.size === 1) out.setUint8(offset, Number(w));
      else if (type.size === 2) out.setUint16(offset, Number(w), littleEndian);
      else if (type.size === 4) out.setUint32(offset, Number(w), littleEndian);
      else out.setBigUint64(offset, w, littleEndian);
      return;
    }
  }
}

/** Options for {@link fillKconfig}. */
export interface KconfigOptions {
  kconfig?: KconfigSource;
  warn?: (message: string) => void;
}

/**
 * Fills `data` (the `.kconfig` map's value, laid out as `spec.variables` says) with the value of
 * every `.kconfig` extern. Does nothing when the object has none. The system config is read only
 * when a `CONFIG_*` extern is not given by `opts.kconfig`.
 *
 * @throws {ObjectError} naming the extern when a strong (non-`__weak`) extern has no value, a value
 *   does not fit its type, or the type is not one libbpf supports; and, when no kernel config can
 *   be found, listing the files tried and how to pass one.
 */
export function fillKconfig(spec: CollectionSpec, data: Uint8Array | undefined, opts: KconfigOptions = {}): void {
  const vars = Object.values(spec.variables).filter((v) => v.map === ".kconfig");
  if (vars.length === 0) return;
  if (!data) throw new ObjectError(`set __kconfig externs of ${spec.name}: the object has no .kconfig data`);
  if (!spec.btf) throw new ObjectError(`set __kconfig externs of ${spec.name}: the object has no BTF (compile with clang -g)`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const overrides = typeof opts.kconfig === "object" ? new Map(Object.entries(opts.kconfig)) : undefined;
  let system: KernelConfig | undefined;
  let systemError: BpfError | undefined;
  const fromSystem = (): KernelConfig | undefined => {
    if (system || systemError) return system;
    try {
      system = kernelConfig(typeof opts.kconfig === "string" ? opts.kconfig : undefined);
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      systemError = e;
    }
    return system;
  };
  for (const v of vars) {
    const type = kconfigType(spec.btf, v.typeId);
    const what = `extern ${v.name} (__kconfig)`;
    if (!type) throw new ObjectError(`set ${what}: its type ${spec.btf.typeName(v.typeId)} is not supported; use bool, char, enum libbpf_tristate, a 2/4/8-byte integer or a char array`);
    if (v.offset + v.size > data.length) throw new ObjectError(`set ${what}: offset ${v.offset} + size ${v.size} is past the .kconfig data (${data.length} bytes)`);
    let raw = overrides?.get(v.name);
    let source = "the kconfig load option";
    if (raw === undefined && v.name.startsWith("LINUX_")) {
      const virt = VIRTUAL_KCONFIG[v.name];
      if (!virt) {
        if (v.weak) continue;
        throw new ObjectError(`set ${what}: tsbpf knows no virtual extern of that name (it knows ${Object.keys(VIRTUAL_KCONFIG).join(", ")}); declare it __weak to default to 0`);
      }
      const value = virt();
      encodeKconfigValue(v.name, { kind: "number", value: typeof value === "boolean" ? (value ? 1n : 0n) : BigInt(value) }, type, view, v.offset, spec.littleEndian, opts.warn);
      continue;
    }
    if (raw === undefined && !v.name.startsWith("CONFIG_")) {
      if (v.weak) continue;
      throw new ObjectError(`set ${what}: only CONFIG_* and LINUX_* externs can be __kconfig (or pass a value for it with the kconfig load option)`);
    }
    if (raw === undefined) {
      const cfg = fromSystem();
      if (!cfg) {
        if (v.weak) {
          opts.warn?.(`set ${what}: ${systemError!.message}; it is __weak, so it reads as 0`);
          continue;
        }
        throw new ObjectError(`set ${what}: ${systemError!.message}`, { cause: systemError });
      }
      raw = cfg.values.get(v.name);
      source = cfg.path;
      if (raw === undefined) {
        if (v.weak) continue;
        throw new ObjectError(`set ${what}: the kernel config (${cfg.path}${overrides ? " and the kconfig load option" : ""}) has no ${v.name}; declare it __weak to default to 0, or pass a value with the kconfig load option`);
      }
    }
    let value: KconfigValue;
    try {
      value = parseKconfigValue(raw, `${v.name} from ${source}`);
    } catch (e) {
      throw new ObjectError(`set ${what}: ${(e as Error).message}`, { cause: e });
    }
    encodeKconfigValue(v.name, value, type, view, v.offset, spec.littleEndian, opts.warn);
  }
}

// ---------------------------------------------------------------------------------------------
// Kernel lookups: BTF ids in vmlinux and module BTF, kallsyms addresses

/** A kernel BTF type found for an extern: its id and, for modules, the module's name. */
export interface KernelBtfSymbol {
  id: number;
  btf: Btf;
  module?: string;
}

function listBtfModules(): string[] {
  try {
    return readdirSync("/sys/kernel/btf").filter((n) => n !== "vmlinux").sort();
  } catch {
    return [];
  }
}

/** True when split BTF `btf` defines `id` itself (not its base). */
function ownsId(btf: Btf, id: number): boolean {
  const base = btf.base;
  if (!base) return true;
  try {
    base.type(id);
    return false;
  } catch {
    return true;
  }
}

/**
 * The running kernel's BTF type `name` of `kind` ("var" or "func"): vmlinux first, then each
 * loaded module with BTF (as libbpf searches). Undefined when none has it.
 */
export function findKernelBtfSymbol(name: string, kind: "var" | "func"): KernelBtfSymbol | undefined {
  const vmlinux = loadKernelBtf(KERNEL_BTF_PATH);
  const id = vmlinux.findByName(name, kind);
  if (id !== undefined) return { id, btf: vmlinux };
  for (const { name: m, btf } of kernelModuleBtfs(vmlinux)) {
    const mid = btf.findByName(name, kind);
    if (mid !== undefined && ownsId(btf, mid)) return { id: mid, btf, module: m };
  }
  return undefined;
}

/**
 * The split BTF of every loaded module that has BTF (/sys/kernel/btf/<module>), on top of
 * `vmlinux`, by module name; modules whose BTF cannot be read or parsed are left out.
 */
export function kernelModuleBtfs(vmlinux: Btf): { name: string; btf: Btf }[] {
  const out: { name: string; btf: Btf }[] = [];
  for (const m of listBtfModules()) {
    try {
      out.push({ name: m, btf: loadModuleBtf(m, { base: vmlinux }) });
    } catch {
      continue;
    }
  }
  return out;
}

/** What the object says an extern `__ksym` is. */
type LocalKsym =
  | { kind: "var"; typeId: number }
  | { kind: "typeless" }
  | { kind: "func"; protoId: number };

function localKsym(btf: Btf | undefined, name: string): LocalKsym {
  if (!btf) return { kind: "typeless" };
  const varId = btf.findAllByName(name, "var").find((id) => {
    const t = btf.type(id);
    return t.kind === "var" && t.linkage === "extern";
  }) ?? btf.findByName(name, "var");
  if (varId !== undefined) {
    const t = btf.type(varId);
    if (t.kind === "var") return btf.resolve(t.typeId) === 0 ? { kind: "typeless" } : { kind: "var", typeId: t.typeId };
  }
  const fnId = btf.findByName(name, "func");
  if (fnId !== undefined) {
    const t = btf.type(fnId);
    if (t.kind === "func") return { kind: "func", protoId: t.typeId };
  }
  return { kind: "typeless" };
}

type ExternReloc = Extract<InsnRelocation, { kind: "kconfig" | "ksym" | "kfunc" }>;

/** How one extern resolved (cached per program). */
type Resolved =
  | { how: "btf"; id: number; module?: string }
  | { how: "addr"; address: bigint }
  | { how: "missing" };

/**
 * Resolves the extern relocations of one program and patches its instructions. Create one per
 * program load, call {@link apply} per relocation, then {@link prepareLoad} for the `fd_array`
 * (it opens the module BTF descriptors the program needs), and {@link close} after the load.
 */
export class ProgramExterns {
  readonly #spec: CollectionSpec;
  readonly #program: string;
  readonly #insns: Uint8Array;
  readonly #view: DataView;
  readonly #maps: Record<string, BpfMap>;
  readonly #le: boolean;
  readonly #resolved = new Map<string, Resolved>();
  /** Extern index per name, for poison call numbers. */
  readonly #index = new Map<string, number>();
  /** Modules whose BTF fd goes in fd_array, in index order (from 1). */
  readonly #modules: string[] = [];
  /** ld_imm64 slots whose second half must hold a module's BTF object fd. */
  readonly #moduleVarSlots: { slot: number; module: string }[] = [];
  readonly #fds = new Map<string, FD>();

  constructor(spec: CollectionSpec, program: string, insns: Uint8Array, maps: Record<string, BpfMap>) {
    this.#spec = spec;
    this.#program = program;
    this.#insns = insns;
    this.#view = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
    this.#maps = maps;
    this.#le = spec.littleEndian;
  }

  #setRegs(slot: number, dst: number, src: number): void {
    this.#insns[slot * 8 + 1] = this.#le ? (dst & 0xf) | (src << 4) : ((dst & 0xf) << 4) | src;
  }
  #setSrc(slot: number, src: number): void {
    const b = this.#insns[slot * 8 + 1]!;
    this.#insns[slot * 8 + 1] = this.#le ? (b & 0x0f) | (src << 4) : (b & 0xf0) | src;
  }
  #imm(slot: number): number {
    return this.#view.getInt32(slot * 8 + 4, this.#le);
  }
  #setImm(slot: number, v: number): void {
    this.#view.setInt32(slot * 8 + 4, v | 0, this.#le);
  }
  #setOff(slot: number, v: number): void {
    this.#view.setInt16(slot * 8 + 2, v, this.#le);
  }

  #where(r: ExternReloc): string {
    return `load program ${this.#program}: extern ${r.name}`;
  }

  /** Patches the instruction of one extern relocation. */
  apply(r: ExternReloc): void {
    if (r.insn < 0 || (r.insn + (r.kind === "kfunc" ? 1 : 2)) * 8 > this.#insns.length) {
      throw new ObjectError(`${this.#where(r)}: relocation at instruction ${r.insn} is outside the program`);
    }
    if (!this.#index.has(r.name)) this.#index.set(r.name, this.#index.size);
    switch (r.kind) {
      case "kconfig": return this.#kconfig(r);
      case "ksym": return this.#ksym(r);
      case "kfunc": return this.#kfunc(r);
    }
  }

  #kconfig(r: ExternReloc): void {
    const v: VariableSpec | undefined = this.#spec.variables[r.name];
    const map = this.#maps[".kconfig"];
    if (!v || v.map !== ".kconfig" || !map) {
      throw new ObjectError(`${this.#where(r)} (__kconfig): the object's BTF has no .kconfig variable of that name (compile with clang -g)`);
    }
    this.#setSrc(r.insn, BPF_PSEUDO_MAP_VALUE);
    const addend = this.#imm(r.insn);
    this.#setImm(r.insn, map.fd.value);
    this.#setImm(r.insn + 1, v.offset + addend);
  }

  #resolveVar(r: ExternReloc, local: LocalKsym): Resolved {
    if (local.kind === "typeless") {
      let address: bigint | undefined;
      try {
        address = kallsyms().address(r.name);
      } catch (e) {
        throw new ObjectError(`${this.#where(r)} (__ksym): ${(e as Error).message}`, { cause: e });
      }
      if (address !== undefined) return { how: "addr", address };
      if (r.weak) return { how: "missing" };
      throw new ObjectError(`${this.#where(r)} (__ksym): /proc/kallsyms has no symbol of that name (data symbols are listed only with CONFIG_KALLSYMS_ALL); declare it __weak to load 0 instead, or give it a type so it is found in the kernel's BTF`);
    }
    const kind = local.kind === "func" ? "func" : "var";
    const found = this.#kernelBtf(r, kind);
    if (!found) {
      if (r.weak) return { how: "missing" };
      const mods = listBtfModules().length;
      throw new ObjectError(`${this.#where(r)} (__ksym ${kind === "func" ? "function" : "variable"}): not found in the BTF of vmlinux${mods ? ` or of ${mods} loaded module(s)` : ""}` +
        (kind === "var" ? " (the kernel's BTF describes only per-CPU variables unless pahole encodes all globals); declare it __weak to load 0 instead, or make it typeless (extern const void) to use its kallsyms address" : "; declare it __weak and check it with bpf_ksym_exists()"));
    }
    const localBtf = this.#spec.btf;
    const kt = found.btf.type(found.id);
    const localId = local.kind === "var" ? local.typeId : local.protoId;
    const compatible = !localBtf || localId === 0 || ((kt.kind === "var" || kt.kind === "func") && typesAreCompat(localBtf, localBtf.resolve(localId), found.btf, found.btf.resolve(kt.typeId)));
    if (!compatible) {
      const localType = local.kind === "var" ? localBtf!.typeName(local.typeId) : `function ${localBtf!.typeName(local.protoId)}`;
      const kernType = kt.kind === "var" || kt.kind === "func" ? found.btf.typeName(kt.typeId) : kt.kind;
      if (local.kind === "func" && r.weak) return { how: "missing" };
      throw new ObjectError(`${this.#where(r)} (__ksym): the object declares it as ${localType} but ${found.module ? `module ${found.module}` : "vmlinux"} has ${kernType}; fix the declaration`);
    }
    // The kernel finds the address of a BTF-typed ksym with kallsyms_lookup_name(): without
    // CONFIG_KALLSYMS_ALL data symbols (per-CPU variables included) are not there.
    if (!this.#kernelCanAddress(r.name)) {
      if (r.weak) return { how: "missing" };
      throw new ObjectError(`${this.#where(r)} (__ksym ${kind === "func" ? "function" : "variable"}): ${found.module ? `module ${found.module}` : "vmlinux"} BTF has it, but /proc/kallsyms does not list it, so the kernel cannot resolve its address (data symbols need a kernel built with CONFIG_KALLSYMS_ALL); declare it __weak to load 0 instead`);
    }
    return { how: "btf", id: found.id, ...(found.module ? { module: found.module } : {}) };
  }

  /** False only when /proc/kallsyms is readable, shows addresses, and lacks `name`. */
  #kernelCanAddress(name: string): boolean {
    try {
      const k = kallsyms();
      return k.hidden || k.empty || k.lookup(name).length > 0;
    } catch {
      return true;
    }
  }

  #kernelBtf(r: ExternReloc, kind: "var" | "func"): KernelBtfSymbol | undefined {
    try {
      return findKernelBtfSymbol(r.name, kind);
    } catch (e) {
      throw new ObjectError(`${this.#where(r)} (__ksym): the kernel's BTF is needed to resolve it: ${(e as Error).message}`, { cause: e });
    }
  }

  #ksym(r: ExternReloc): void {
    let res = this.#resolved.get(r.name);
    if (!res) this.#resolved.set(r.name, (res = this.#resolveVar(r, localKsym(this.#spec.btf, r.name))));
    const slot = r.insn;
    if (res.how === "btf") {
      this.#setSrc(slot, BPF_PSEUDO_BTF_ID);
      this.#setImm(slot, res.id);
      this.#setImm(slot + 1, 0);
      if (res.module) this.#moduleVarSlots.push({ slot, module: res.module });
    } else if (res.how === "addr") {
      this.#setSrc(slot, 0);
      this.#setImm(slot, Number(BigInt.asIntN(32, res.address)));
      this.#setImm(slot + 1, Number(BigInt.asIntN(32, res.address >> 32n)));
    } else {
      this.#setSrc(slot, 0);
      this.#setImm(slot, 0);
      this.#setImm(slot + 1, 0);
    }
  }

  #kfunc(r: ExternReloc): void {
    let res = this.#resolved.get(r.name);
    if (!res) {
      const local = localKsym(this.#spec.btf, r.name);
      res = this.#resolveVar(r, local.kind === "func" ? local : { kind: "func", protoId: 0 });
      this.#resolved.set(r.name, res);
    }
    const slot = r.insn;
    if (res.how === "btf") {
      this.#setSrc(slot, BPF_PSEUDO_KFUNC_CALL);
      this.#setImm(slot, res.id);
      this.#setOff(slot, res.module ? this.#fdIndex(res.module) : 0);
      return;
    }
    // Missing weak kfunc: an invalid helper call the verifier rejects only if it is reachable.
    this.#insns[slot * 8] = BPF_CALL_OP;
    this.#setRegs(slot, 0, 0);
    this.#setOff(slot, 0);
    this.#setImm(slot, POISON_CALL_KFUNC_BASE + this.#index.get(r.name)!);
  }

  #fdIndex(module: string): number {
    let i = this.#modules.indexOf(module);
    if (i < 0) {
      if (this.#modules.length >= 0x7ffe) throw new ObjectError(`load program ${this.#program}: kfuncs from more than ${0x7ffe} modules`);
      i = this.#modules.push(module) - 1;
    }
    return i + 1;
  }

  #moduleFd(module: string): FD {
    let fd = this.#fds.get(module);
    if (!fd) {
      fd = moduleBtfFd(module);
      if (!fd) throw new ObjectError(`load program ${this.#program}: module ${module} has BTF in /sys/kernel/btf/${module} but the kernel lists no BTF object of that name (was it unloaded?)`);
      this.#fds.set(module, fd);
    }
    return fd;
  }

  /**
   * Opens the BTF objects of the modules the program's externs live in, writes their fds into the
   * module variables' ld_imm64, and returns the `fd_array` for BPF_PROG_LOAD (undefined when no
   * kfunc lives in a module). The fds stay open until {@link close}.
   */
  prepareLoad(): Uint8Array | undefined {
    try {
      for (const { slot, module } of this.#moduleVarSlots) this.#setImm(slot + 1, this.#moduleFd(module).value);
      if (this.#modules.length === 0) return undefined;
      // Host-order ints; index 0 stays unused (off 0 means vmlinux).
      const arr = new Int32Array(this.#modules.length + 1);
      this.#modules.forEach((m, i) => (arr[i + 1] = this.#moduleFd(m).value));
      return new Uint8Array(arr.buffer);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** The module names in fd_array order (index 1 first), for tests and diagnostics. */
  get fdArrayModules(): readonly string[] {
    return this.#modules;
  }

  /** Closes the module BTF descriptors (the kernel holds its own references once the program is loaded). */
  close(): void {
    for (const fd of this.#fds.values()) fd.close();
    this.#fds.clear();
  }
}
