/**
 * Kernel-free tests of extern handling: the kernel config parser and value rules, `.kconfig` data
 * layout filled from explicit values, kallsyms parsing, the BTF sanitizing that makes extern
 * sections loadable, and the weak flags the spec records.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { BpfError, ObjectError } from "../../src/errors.js";
import { loadCollectionSpec, type CollectionSpec } from "../../src/spec/index.js";
import { Btf } from "../../src/btf/btf.js";
import {
  kernelConfig, kernelVersionCode, parseKconfig, parseKconfigValue, syscallWrapperPrefix,
} from "../../src/features/kconfig.js";
import { Kallsyms } from "../../src/features/kallsyms.js";
import { encodeKconfigValue, fillKconfig, kconfigType, type KconfigType } from "../../src/collection/externs.js";

const repo = (p: string) => new URL(`../../../${p}`, import.meta.url);
const spec = (name: string): CollectionSpec =>
  loadCollectionSpec(new Uint8Array(readFileSync(repo(`test/bpf/${name}.bpf.o`))), { name });

const SAMPLE = [
  "#",
  "# Automatically generated file; DO NOT EDIT.",
  "# Linux/x86 6.18.0 Kernel Configuration",
  "#",
  "CONFIG_BPF_SYSCALL=y",
  "CONFIG_NF_TABLES=m",
  "# CONFIG_KPROBES is not set",
  "CONFIG_HZ=250",
  "CONFIG_PHYSICAL_START=0x1000000",
  "CONFIG_DEFAULT_HOSTNAME=\"(none)\"",
  "CONFIG_CMDLINE=\"a \\\"quoted\\\" \\\\ word\"",
  "CONFIG_NEGATIVE=-5",
  "",
  "CONFIG_HZ=1000\r",
].join("\n");

test("parseKconfig reads y/m/n, 'is not set', numbers and strings; a later line wins", () => {
  const v = parseKconfig(SAMPLE);
  assert.equal(v.get("CONFIG_BPF_SYSCALL"), "y");
  assert.equal(v.get("CONFIG_NF_TABLES"), "m");
  assert.equal(v.get("CONFIG_KPROBES"), "n");
  assert.equal(v.get("CONFIG_HZ"), "1000");
  assert.equal(v.get("CONFIG_PHYSICAL_START"), "0x1000000");
  assert.equal(v.get("CONFIG_DEFAULT_HOSTNAME"), "\"(none)\"");
  assert.equal(v.has("CONFIG_MISSING"), false);
  assert.equal(v.size, 8);
  assert.throws(() => parseKconfig("CONFIG_A=y\nnot a line\n", "my.config"), (e: unknown) => {
    assert.ok(e instanceof BpfError && e.code === "E_KCONFIG");
    assert.match(e.message, /my\.config: line 2/);
    return true;
  });
});

test("parseKconfigValue follows libbpf: tristates, quoted strings, decimal/hex/octal/negative ints", () => {
  assert.deepEqual(parseKconfigValue("y"), { kind: "tristate", value: "y" });
  assert.deepEqual(parseKconfigValue("m"), { kind: "tristate", value: "m" });
  assert.deepEqual(parseKconfigValue("n"), { kind: "tristate", value: "n" });
  assert.deepEqual(parseKconfigValue("250"), { kind: "number", value: 250n });
  assert.deepEqual(parseKconfigValue("0x1000000"), { kind: "number", value: 0x1000000n });
  assert.deepEqual(parseKconfigValue("0755"), { kind: "number", value: 0o755n });
  assert.deepEqual(parseKconfigValue("0"), { kind: "number", value: 0n });
  assert.deepEqual(parseKconfigValue("-5"), { kind: "number", value: -5n });
  assert.deepEqual(parseKconfigValue("\"(none)\""), { kind: "string", value: "(none)" });
  assert.deepEqual(parseKconfigValue("\"\""), { kind: "string", value: "" });
  const cmdline = parseKconfig(SAMPLE).get("CONFIG_CMDLINE")!;
  assert.deepEqual(parseKconfigValue(cmdline), { kind: "string", value: "a \"quoted\" \\ word" });
  for (const bad of ["yes", "\"open", "12abc", "0x", "089", ""]) {
    assert.throws(() => parseKconfigValue(bad, "CONFIG_X"), (e: unknown) => e instanceof BpfError && e.code === "E_KCONFIG" && /CONFIG_X/.test(e.message), bad);
  }
});

function encode(type: KconfigType, raw: string, warn?: (m: string) => void): Uint8Array {
  const buf = new Uint8Array(type.kind === "chararray" ? type.size : 8);
  encodeKconfigValue("CONFIG_T", parseKconfigValue(raw), type, new DataView(buf.buffer), 0, true, warn);
  return buf;
}
const BOOL: KconfigType = { kind: "bool", size: 1, signed: false };
const CHAR: KconfigType = { kind: "char", size: 1, signed: true };
const TRI: KconfigType = { kind: "tristate", size: 4, signed: false };
const int = (size: number, signed: boolean): KconfigType => ({ kind: "int", size, signed });

test("encodeKconfigValue applies libbpf's type rules and range checks", () => {
  assert.equal(encode(BOOL, "y")[0], 1);
  assert.equal(encode(BOOL, "n")[0], 0);
  assert.equal(encode(BOOL, "1")[0], 1);
  assert.throws(() => encode(BOOL, "m"), (e: unknown) => e instanceof ObjectError && /CONFIG_T .*m needs enum libbpf_tristate or char/.test(e.message));
  assert.throws(() => encode(BOOL, "2"), /neither 0 nor 1/);
  assert.deepEqual([...encode(TRI, "y").subarray(0, 4)], [1, 0, 0, 0]);
  assert.deepEqual([...encode(TRI, "m").subarray(0, 4)], [2, 0, 0, 0]);
  assert.deepEqual([...encode(TRI, "n").subarray(0, 4)], [0, 0, 0, 0]);
  assert.equal(encode(CHAR, "m")[0], "m".charCodeAt(0));
  assert.throws(() => encode(int(4, true), "y"), /needs bool, enum libbpf_tristate or char/);
  assert.throws(() => encode(int(4, true), "\"s\""), /needs a char array/);
  assert.throws(() => encode({ kind: "chararray", size: 4, signed: false }, "5"), /needs an integer, char or bool/);
  // ranges
  assert.equal(new DataView(encode(int(4, true), "-1").buffer).getInt32(0, true), -1);
  assert.equal(new DataView(encode(int(4, false), "0xffffffff").buffer).getUint32(0, true), 0xffffffff);
  assert.throws(() => encode(int(4, true), "0x80000000"), /does not fit in 32 bits/);
  assert.throws(() => encode(int(4, false), "0x100000000"), /does not fit in 32 bits/);
  assert.equal(new DataView(encode(int(2, true), "-32768").buffer).getInt16(0, true), -32768);
  assert.throws(() => encode(int(2, true), "-32769"), /does not fit in 16 bits/);
  assert.equal(encode(CHAR, "127")[0], 127);
  assert.throws(() => encode(CHAR, "128"), /does not fit in 8 bits/);
  assert.equal(new DataView(encode(int(8, false), "-1").buffer).getBigUint64(0, true), 0xffffffffffffffffn);
  // big-endian objects get big-endian values
  const be = new Uint8Array(4);
  encodeKconfigValue("CONFIG_T", { kind: "number", value: 0x01020304n }, int(4, false), new DataView(be.buffer), 0, false);
  assert.deepEqual([...be], [1, 2, 3, 4]);
  // strings: NUL-terminated, truncated to N-1 bytes with a warning
  const warnings: string[] = [];
  assert.deepEqual([...encode({ kind: "chararray", size: 4, signed: false }, "\"abcdef\"", (m) => warnings.push(m))], [97, 98, 99, 0]);
  assert.match(warnings[0]!, /truncated to 3 bytes/);
  assert.deepEqual([...encode({ kind: "chararray", size: 4, signed: false }, "\"ab\"")], [97, 98, 0, 0]);
});

test("kconfigType classifies the extern declarations of externs_kconfig", () => {
  const s = spec("externs_kconfig");
  const kind = (n: string) => {
    const v = s.variables[n]!;
    assert.equal(v.map, ".kconfig", n);
    return kconfigType(s.btf!, v.typeId);
  };
  assert.deepEqual(kind("LINUX_KERNEL_VERSION"), { kind: "int", size: 4, signed: false });
  assert.deepEqual(kind("LINUX_HAS_SYSCALL_WRAPPER"), BOOL);
  assert.deepEqual(kind("CONFIG_BPF_SYSCALL"), TRI);
  assert.equal(kind("CONFIG_BPF_EVENTS")?.kind, "char");
  assert.deepEqual(kind("CONFIG_HZ"), int(4, true));
  assert.deepEqual(kind("CONFIG_PHYSICAL_START"), int(8, false));
  assert.deepEqual(kind("CONFIG_DEFAULT_HOSTNAME"), { kind: "chararray", size: 16, signed: false });
  // not a kconfig type
  const structId = s.btf!.findByName("task_struct", "struct");
  if (structId !== undefined) assert.equal(kconfigType(s.btf!, structId), undefined);
});

test("the spec records which externs are __weak", () => {
  const s = spec("externs_kconfig");
  assert.equal(s.variables.CONFIG_TSBPF_NO_SUCH_OPTION!.weak, true);
  assert.equal(s.variables.CONFIG_KPROBES!.weak, true);
  assert.equal(s.variables.CONFIG_HZ!.weak, undefined);
  const k = spec("externs_ksym");
  const relos = k.programs.run_ksyms!.relocations;
  const weak = (name: string) => [...new Set(relos.filter((r) => "name" in r && r.name === name).map((r) => (r as { weak?: boolean }).weak === true))];
  assert.deepEqual(weak("tsbpf_no_such_var"), [true]);
  assert.deepEqual(weak("bpf_task_acquire"), [true]);
  assert.deepEqual(weak("bpf_tsbpf_no_such_kfunc"), [true]);
  assert.deepEqual(weak("bpf_task_from_pid"), [false]);
  assert.deepEqual(weak("schedule"), [false]);
  const kinds = new Map(relos.filter((r) => "name" in r).map((r) => [`${r.kind}:${(r as { name: string }).name}`, true]));
  for (const k of ["ksym:schedule", "ksym:bpf_task_acquire", "kfunc:bpf_task_acquire", "kfunc:bpf_task_from_pid", "kfunc:bpf_task_release", "ksym:bpf_tsbpf_no_such_kfunc", "kfunc:bpf_tsbpf_no_such_kfunc"]) {
    assert.ok(kinds.has(k), k);
  }
});

/** Every value externs_kconfig declares, so fillKconfig needs neither the kernel nor its config. */
const ALL: Record<string, string> = {
  LINUX_KERNEL_VERSION: String(kernelVersionCode(6, 18, 44)),
  LINUX_HAS_SYSCALL_WRAPPER: "y",
  LINUX_HAS_BPF_COOKIE: "1",
  CONFIG_BPF_SYSCALL: "m",
  CONFIG_BPF_JIT: "y",
  CONFIG_BPF_EVENTS: "y",
  CONFIG_HZ: "300",
  CONFIG_PHYSICAL_START: "0x200000",
  CONFIG_DEFAULT_HOSTNAME: "\"a-very-long-hostname\"",
  CONFIG_LOCALVERSION: "\"-x\"",
};

function read(s: CollectionSpec, data: Uint8Array, name: string): DataView {
  const v = s.variables[name]!;
  return new DataView(data.buffer, data.byteOffset + v.offset, v.size);
}

test("fillKconfig writes each extern at its .kconfig offset; weak absent ones stay 0", () => {
  const s = spec("externs_kconfig");
  const data = s.maps[".kconfig"]!.data!.slice();
  data.fill(0xaa);
  for (const v of Object.values(s.variables)) if (v.map === ".kconfig") data.fill(0, v.offset, v.offset + v.size);
  const warnings: string[] = [];
  fillKconfig(s, data, { kconfig: ALL, warn: (m) => warnings.push(m) });
  assert.equal(read(s, data, "LINUX_KERNEL_VERSION").getUint32(0, true), (6 << 16) | (18 << 8) | 44);
  assert.equal(read(s, data, "LINUX_HAS_SYSCALL_WRAPPER").getUint8(0), 1);
  assert.equal(read(s, data, "LINUX_HAS_BPF_COOKIE").getUint8(0), 1);
  assert.equal(read(s, data, "CONFIG_BPF_SYSCALL").getUint32(0, true), 2);
  assert.equal(read(s, data, "CONFIG_BPF_JIT").getUint8(0), 1);
  assert.equal(read(s, data, "CONFIG_BPF_EVENTS").getUint8(0), "y".charCodeAt(0));
  assert.equal(read(s, data, "CONFIG_HZ").getInt32(0, true), 300);
  assert.equal(read(s, data, "CONFIG_PHYSICAL_START").getBigUint64(0, true), 0x200000n);
  const host = read(s, data, "CONFIG_DEFAULT_HOSTNAME");
  assert.equal(Buffer.from(host.buffer, host.byteOffset, 16).toString("latin1"), "a-very-long-hos\0");
  assert.match(warnings.join("\n"), /CONFIG_DEFAULT_HOSTNAME .*truncated to 15 bytes/);
  assert.equal(read(s, data, "CONFIG_TSBPF_NO_SUCH_OPTION").getInt32(0, true), 0);
  assert.equal(read(s, data, "CONFIG_KPROBES").getUint8(0), 0);
  // Padding between variables is untouched.
  const used = new Set<number>();
  for (const v of Object.values(s.variables)) if (v.map === ".kconfig") for (let i = v.offset; i < v.offset + v.size; i++) used.add(i);
  for (let i = 0; i < data.length; i++) if (!used.has(i)) assert.equal(data[i], 0xaa, `byte ${i}`);
});

test("fillKconfig: a strong extern missing from the config file names itself and the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-kconfig-"));
  try {
    const path = join(dir, "config");
    const config = (entries: [string, string][]) => writeFileSync(path, entries.map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
    const configEntries = Object.entries(ALL).filter(([k]) => k.startsWith("CONFIG_"));
    const full = spec("externs_kconfig");
    // LINUX_* values would be probed from the running kernel: leave them out (specs are data).
    const s: CollectionSpec = { ...full, variables: Object.fromEntries(Object.entries(full.variables).filter(([k]) => !k.startsWith("LINUX_"))) };
    config(configEntries.filter(([k]) => k !== "CONFIG_HZ"));
    assert.throws(() => fillKconfig(s, s.maps[".kconfig"]!.data!.slice(), { kconfig: path, warn() {} }), (e: unknown) => {
      assert.ok(e instanceof ObjectError, String(e));
      assert.match(e.message, /extern CONFIG_HZ/);
      assert.ok(e.message.includes(path), e.message);
      assert.match(e.message, /__weak/);
      return true;
    });
    config(configEntries);
    const data = s.maps[".kconfig"]!.data!.slice();
    fillKconfig(s, data, { kconfig: path, warn() {} });
    assert.equal(read(s, data, "CONFIG_HZ").getInt32(0, true), 300);
    assert.equal(read(s, data, "CONFIG_BPF_SYSCALL").getUint32(0, true), 2);
    // A record value for a weak extern is used like any other.
    fillKconfig(s, data, { kconfig: { ...ALL, CONFIG_TSBPF_NO_SUCH_OPTION: "-7" }, warn() {} });
    assert.equal(read(s, data, "CONFIG_TSBPF_NO_SUCH_OPTION").getInt32(0, true), -7);
    // Only CONFIG_ and LINUX_ names are __kconfig externs.
    const odd: CollectionSpec = { ...s, variables: { ...s.variables, my_value: { ...s.variables.CONFIG_HZ!, name: "my_value" } } };
    delete (odd.variables as Record<string, unknown>).CONFIG_HZ;
    assert.throws(() => fillKconfig(odd, data, { kconfig: path, warn() {} }), /extern my_value .*only CONFIG_\* and LINUX_\*/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("kernelConfig reads gzip config files", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-kconfig-"));
  try {
    // gzip config files are read like /proc/config.gz
    const gz = join(dir, "config.gz");
    writeFileSync(gz, gzipSync(Buffer.from("CONFIG_HZ=100\n# CONFIG_KPROBES is not set\n")));
    const cfg = kernelConfig(gz);
    assert.equal(cfg.path, gz);
    assert.equal(cfg.values.get("CONFIG_HZ"), "100");
    assert.equal(cfg.values.get("CONFIG_KPROBES"), "n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("kernelConfig: no config file gives a typed error listing the files tried and how to pass one", () => {
  assert.throws(() => kernelConfig(["/nonexistent/boot-config", "/nonexistent/config.gz"]), (e: unknown) => {
    assert.ok(e instanceof BpfError && e.code === "E_NO_KCONFIG", String(e));
    assert.match(e.message, /\/nonexistent\/boot-config, \/nonexistent\/config\.gz/);
    assert.match(e.message, /kconfig load option/);
    assert.match(e.message, /modprobe configs/);
    return true;
  });
  assert.throws(() => kernelConfig("/nonexistent/my-config"), /\/nonexistent\/my-config does not exist/);
});

test("kernelVersionCode and syscall wrapper prefixes", () => {
  assert.equal(kernelVersionCode(6, 18, 44), 0x06122c);
  assert.equal(kernelVersionCode(5, 4, 300), 0x0504ff);
  assert.equal(syscallWrapperPrefix("x64"), "__x64_sys_");
  assert.equal(syscallWrapperPrefix("arm64"), "__arm64_sys_");
  assert.equal(syscallWrapperPrefix("mips"), undefined);
});

test("Kallsyms parses addresses, modules, duplicates and .llvm. renames", () => {
  const k = new Kallsyms([
    "ffffffff81000000 T _text",
    "ffffffff81000000 T _stext",
    "ffffffff82266810 T schedule",
    "ffffffff81100000 t dup_static",
    "ffffffff81200000 t dup_static",
    "ffffffff81300000 d counter.llvm.123456",
    "ffffffffc0001000 t mod_fn\t[xfs]",
    "",
  ].join("\n"), "test");
  assert.equal(k.address("schedule"), 0xffffffff82266810n);
  assert.equal(k.address("_text"), k.address("_stext"));
  assert.equal(k.address("absent"), undefined);
  assert.deepEqual(k.lookup("mod_fn"), [{ name: "mod_fn", address: 0xffffffffc0001000n, type: "t", module: "xfs" }]);
  assert.equal(k.address("counter"), 0xffffffff81300000n);
  assert.throws(() => k.address("dup_static"), (e: unknown) => e instanceof BpfError && e.code === "E_AMBIGUOUS_SYMBOL");
  assert.equal(k.hidden, false);
  const hidden = new Kallsyms("0000000000000000 T schedule\n0000000000000000 T other\n");
  assert.equal(hidden.hidden, true);
  assert.equal(hidden.has("schedule"), true);
  assert.throws(() => hidden.address("schedule"), (e: unknown) => e instanceof BpfError && e.code === "E_NO_ADDRESS" && /kptr_restrict/.test(e.message));
});

test("extern sections are sanitized in the BTF given to the kernel, the spec's BTF keeps the declarations", () => {
  const k = spec("externs_ksym");
  const loaded = Btf.parse(k.btfBytes!);
  const ds = loaded.type(loaded.findByName(".ksyms", "datasec")!);
  assert.equal(ds.kind, "datasec");
  if (ds.kind !== "datasec") return;
  assert.equal(ds.size, 4 * ds.vars.length);
  ds.vars.forEach((v, i) => {
    assert.equal(v.offset, 4 * i);
    assert.equal(v.size, 4);
    const t = loaded.type(v.typeId);
    assert.equal(t.kind, "var");
    if (t.kind === "var") {
      assert.equal(t.linkage, "global");
      assert.equal(loaded.type(loaded.resolve(t.typeId)).kind, "int");
    }
  });
  assert.ok(ds.vars.some((v) => loaded.name(v.typeId) === "dummy_ksym"));
  const fn = loaded.type(loaded.findByName("bpf_task_from_pid", "func")!);
  assert.equal(fn.kind === "func" && fn.linkage, "global");
  // The spec's own BTF still says what the object declared.
  const runqueues = k.btf!.type(k.btf!.findByName("runqueues", "var")!);
  assert.equal(runqueues.kind === "var" && k.btf!.typeName(runqueues.typeId), "const struct rq");
  assert.equal(runqueues.kind === "var" && runqueues.linkage, "extern");

  const c = spec("externs_kconfig");
  const cb = Btf.parse(c.btfBytes!);
  const kc = cb.type(cb.findByName(".kconfig", "datasec")!);
  assert.equal(kc.kind, "datasec");
  if (kc.kind !== "datasec") return;
  for (const v of kc.vars) {
    const name = cb.name(v.typeId);
    assert.equal(v.offset, c.variables[name]!.offset, name);
    const t = cb.type(v.typeId);
    assert.equal(t.kind === "var" && t.linkage, "global", name);
  }
  assert.ok(kc.size <= c.maps[".kconfig"]!.valueSize);
});
