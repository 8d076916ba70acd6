/**
 * `tsbpf inspect`, run as a user would through the built bin, against ground truth from other
 * tools: readelf (sections, relocations, symbols), bpftool (BTF types), llvm-objdump-19 (the
 * instructions the relocations point at) and the raw .BTF/.BTF.ext headers. Reads files only.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ObjectReport } from "../../src/spec/inspect.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const TOOLS = ["readelf", "bpftool", "llvm-objdump-19"];
const inCI = process.env.CI === "true" || process.env.CI === "1";
const missing = TOOLS.filter((t) => spawnSync(t, ["--version"]).error !== undefined);
// Outside CI a missing tool skips with a reason; in CI the tests run and fail loudly.
const skip = !inCI && missing.length ? `${missing.join(", ")} not installed` : undefined;
if (skip) console.log(`# inspect comparisons skipped: ${skip}`);

const OBJECTS = ["test/bpf/globals.bpf.o", "test/bpf/subprogs.bpf.o", "test/bpf/core_task.bpf.o", "test/bpf/legacy_maps.bpf.o", "test/bpf/externs_kconfig.bpf.o", "test/fixtures/elf/globals.bpfeb.o"];

function tsbpf(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [`${ROOT}bin/tsbpf.js`, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function inspectJson(obj: string): ObjectReport {
  const r = tsbpf("inspect", `${ROOT}${obj}`, "--json");
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ObjectReport;
}

const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20 });

interface ReadelfSection { index: number; name: string; type: string; offset: number; size: number }

/** readelf -S -W: index, name, type (LLVM_ADDRSIG for readelf's LOOS+0xfff4c03), offset, size. */
function readelfSections(obj: string): ReadelfSection[] {
  return [...run("readelf", "-S", "-W", `${ROOT}${obj}`).matchAll(/^\s*\[\s*(\d+)\] (\S+)\s+(\S+)\s+[0-9a-f]{16} ([0-9a-f]+) ([0-9a-f]+) /gm)]
    .map((m) => ({ index: Number(m[1]), name: m[2]!, type: m[3] === "LOOS+0xfff4c03" ? "LLVM_ADDRSIG" : m[3]!, offset: parseInt(m[4]!, 16), size: parseInt(m[5]!, 16) }));
}

/** readelf -r -W of one relocation section: instruction index (offset / 8) and symbol name. */
function readelfRelocations(obj: string, relSection: string): Array<{ insn: number; symbol: string }> {
  const text = run("readelf", "-r", "-W", `${ROOT}${obj}`);
  const start = text.indexOf(`Relocation section '${relSection}'`);
  if (start < 0) return [];
  const block = text.slice(start).split("\n\n")[0]!;
  return [...block.matchAll(/^([0-9a-f]{16})\s+[0-9a-f]+\s+\S+\s+[0-9a-f]{16} (\S+)$/gm)].map((m) => ({ insn: parseInt(m[1]!, 16) / 8, symbol: m[2]! }));
}

test("inspect: every section as readelf lists it, with the loader's role", { skip }, () => {
  for (const obj of OBJECTS) {
    const r = inspectJson(obj);
    const want = readelfSections(obj).filter((s) => s.index > 0);
    assert.deepEqual(r.sections.map((s) => ({ index: s.index, name: s.name, type: s.type, size: s.size })), want.map(({ index, name, type, size }) => ({ index, name, type, size })), obj);
    const role = (name: string) => r.sections.find((s) => s.name === name)?.role;
    assert.equal(role(".BTF"), "BTF", obj);
    assert.equal(role("license"), "license", obj);
    assert.ok(r.sections.filter((s) => s.name.startsWith(".debug_")).every((s) => s.role === "ignored"), obj);
    for (const sec of new Set(r.programs.map((p) => p.section))) {
      const entry = r.programs.some((p) => p.section === sec && p.type !== "subprogram");
      assert.equal(role(sec), entry ? "program" : "subprograms", `${obj} ${sec}`);
    }
  }
  const g = inspectJson("test/bpf/globals.bpf.o");
  assert.deepEqual(g.sections.find((s) => s.name === ".rodata"), { index: 5, name: ".rodata", type: "PROGBITS", size: 48, role: "data", detail: "map .rodata (read-only), 4 variables" });
  assert.equal(g.sections.find((s) => s.name === ".reltracepoint/syscalls/sys_enter_getpid")?.role, "relocations");
  assert.equal(g.sections.find((s) => s.name === ".rel.BTF")?.role, "ignored");
  const text = tsbpf("inspect", `${ROOT}test/bpf/globals.bpf.o`).stdout;
  assert.match(text, /^ +5 {2}\.rodata +PROGBITS +48 {2}data +map \.rodata \(read-only\), 4 variables$/m);
  assert.match(text, /^ +8 {2}\.bss +NOBITS +52 {2}data +map \.bss, 5 variables$/m);
});

test("inspect: each function's relocation entries are readelf's, classified as the instructions objdump shows", { skip }, () => {
  for (const obj of OBJECTS) {
    const r = inspectJson(obj);
    for (const sec of new Set(r.programs.map((p) => p.section))) {
      const ours = r.programs.filter((p) => p.section === sec).flatMap((p) => p.relocations.filter((x) => x.kind !== "CO-RE").map((x) => ({ insn: x.insn, symbol: x.symbol })));
      assert.deepEqual(ours, readelfRelocations(obj, `.rel${sec}`), `${obj} ${sec}`);
    }
  }
  // subprogs: map fds, global data, a call into .text, a global subprogram and a bpf_loop callback.
  const obj = "test/bpf/subprogs.bpf.o";
  const tp = inspectJson(obj).programs.find((p) => p.name === "tp_getpid")!;
  const listing = run("llvm-objdump-19", "-d", "--no-show-raw-insn", "--section=tracepoint/syscalls/sys_enter_getpid", `${ROOT}${obj}`);
  const insn = (i: number) => new RegExp(`^\\s+${i}:\\t(.*)$`, "m").exec(listing)?.[1] ?? "";
  const kinds = new Set(tp.relocations.map((x) => x.kind));
  assert.deepEqual([...kinds].sort(), ["callback", "global data", "map fd", "subprogram call"]);
  for (const x of tp.relocations) {
    if (x.kind === "subprogram call") assert.match(insn(x.insn), /^call /, `${x.insn}: ${insn(x.insn)}`);
    else assert.match(insn(x.insn), /^r\d+ = 0x[0-9a-f]+ ll$/, `${x.insn} (${x.kind}): ${insn(x.insn)}`);
  }
  assert.deepEqual(tp.relocations.find((x) => x.kind === "callback"), { insn: 42, kind: "callback", loadsAs: "func", target: "square_cb", symbol: ".text", elfType: "R_BPF_64_64" });
  assert.ok(tp.relocations.some((x) => x.kind === "subprogram call" && x.target === "sum_of_squares" && x.loadsAs === "call"));
  assert.ok(tp.relocations.some((x) => x.kind === "map fd" && x.target === "results" && x.loadsAs === "map_fd"));
  assert.ok(tp.relocations.some((x) => x.kind === "global data" && x.target === ".rodata+0 target_tgid" && x.loadsAs === "map_value"));
  const text = tsbpf("inspect", `${ROOT}${obj}`).stdout;
  assert.match(text, /^relocations of tp_getpid \(tracepoint\/syscalls\/sys_enter_getpid\):\nINSN +KIND +LOADS AS +TARGET +SYMBOL$/m);
  assert.match(text, /^ +42 {2}callback +func +square_cb +\.text$/m);
  assert.match(text, /^ +3 {2}global data +map_value +\.rodata\+0 target_tgid +target_tgid$/m);
  assert.match(text, /^square_cb +\.text +subprogram +11 +8 +- +0 +0$/m);
});

test("inspect: CO-RE relocations name the C access path at the instruction clang emitted for it", { skip }, () => {
  const obj = "test/bpf/core_task.bpf.o";
  const prog = inspectJson(obj).programs.find((p) => p.name === "on_getpid")!;
  // bpf_core_field_offset(struct task_struct, pid): clang emits `rN = <offset of pid>` (the local offset).
  const raw = run("bpftool", "btf", "dump", "file", `${ROOT}${obj}`);
  const ts = /^\[(\d+)\] STRUCT 'task_struct' [^\n]*\n((?:\t[^\n]*\n)*)/m.exec(raw)!;
  const pidBits = Number(/^\t'pid' type_id=\d+ bits_offset=(\d+)$/m.exec(ts[2]!)![1]);
  const pid = prog.relocations.find((x) => x.kind === "CO-RE" && x.elfType === "field_byte_offset" && x.target === "task_struct.pid")!;
  assert.ok(pid, "a field_byte_offset relocation of task_struct.pid");
  assert.equal(pid.typeId, Number(ts[1]));
  assert.equal(pid.rootType, "struct task_struct");
  const listing = run("llvm-objdump-19", "-d", "--no-show-raw-insn", "--section=tp/syscalls/sys_enter_getpid", `${ROOT}${obj}`);
  assert.match(listing, new RegExp(`^\\s+${pid.insn}:\\tr\\d+ = 0x${(pidBits / 8).toString(16)}$`, "m"));
  assert.ok(prog.relocations.some((x) => x.elfType === "enumval_value" && x.target === "enum pid_type::PIDTYPE_MAX"));
  assert.ok(prog.relocations.some((x) => x.elfType === "type_exists" && x.target === "struct task_struct"));
  const text = tsbpf("inspect", `${ROOT}${obj}`).stdout;
  assert.match(text, new RegExp(`^ +${pid.insn} {2}CO-RE field_byte_offset +- +task_struct\\.pid \\(type \\[${ts[1]}\\], access 0:\\d+\\) +-$`, "m"));
});

/**
 * Record counts of the .BTF.ext subsections (func_info, line_info, core_relo) of the section at
 * byte `at`, read from the raw header: each subsection is a record size, then per ELF section
 * {name offset, record count, records}.
 */
function btfExtCounts(bytes: Buffer, at: number, le: boolean): number[] {
  const u32 = (o: number) => (le ? bytes.readUInt32LE(o) : bytes.readUInt32BE(o));
  const hdrLen = u32(at + 4);
  return [8, 16, 24].map((field) => {
    if (field + 8 > hdrLen) return 0;
    const start = at + hdrLen + u32(at + field);
    const end = start + u32(at + field + 4);
    if (end === start) return 0;
    const recSize = u32(start);
    let n = 0;
    for (let p = start + 4; p < end; p += 8 + u32(p + 4) * recSize) n += u32(p + 4);
    return n;
  });
}

test("inspect: BTF summary matches bpftool's types and the .BTF/.BTF.ext headers; variables match the symbol table", { skip }, () => {
  for (const obj of OBJECTS) {
    const r = inspectJson(obj);
    const kinds: Record<string, number> = {};
    for (const m of run("bpftool", "btf", "dump", "file", `${ROOT}${obj}`).matchAll(/^\[\d+\] (\w+) /gm)) kinds[m[1]!.toLowerCase()] = (kinds[m[1]!.toLowerCase()] ?? 0) + 1;
    assert.deepEqual(r.btf!.byKind, kinds, obj);
    assert.equal(r.btf!.types, Object.values(kinds).reduce((a, b) => a + b, 0), obj);
    const bytes = readFileSync(`${ROOT}${obj}`);
    const secs = readelfSections(obj);
    const le = bytes[5] === 1;
    const btf = secs.find((s) => s.name === ".BTF")!;
    assert.equal(r.btf!.stringBytes, le ? bytes.readUInt32LE(btf.offset + 20) : bytes.readUInt32BE(btf.offset + 20), `${obj}: str_len`);
    const ext = secs.find((s) => s.name === ".BTF.ext")!;
    assert.deepEqual([r.btf!.funcInfo, r.btf!.lineInfo, r.btf!.coreRelocations], btfExtCounts(bytes, ext.offset, le), `${obj}: .BTF.ext`);

    // Variables of data sections: readelf -s gives each one's section, offset and size.
    const byIndex = new Map(secs.map((s) => [String(s.index), s.name]));
    const syms = [...run("readelf", "-s", "-W", `${ROOT}${obj}`).matchAll(/^\s+\d+: ([0-9a-f]{16})\s+(\d+) OBJECT\s+\w+\s+\w+\s+(\d+) (\S+)$/gm)]
      .map((m) => ({ section: byIndex.get(m[3]!)!, name: m[4]!, offset: parseInt(m[1]!, 16), size: Number(m[2]) }))
      .filter((s) => /^\.(data|rodata|bss)/.test(s.section));
    const vars = r.variables.filter((v) => v.section !== ".kconfig").map(({ section, name, offset, size }) => ({ section, name, offset, size }));
    const order = (a: { section: string; offset: number }, b: { section: string; offset: number }) => (a.section < b.section ? -1 : a.section > b.section ? 1 : a.offset - b.offset);
    assert.deepEqual(vars.sort(order), syms.sort(order), `${obj}: variables`);
  }
  const text = tsbpf("inspect", `${ROOT}test/bpf/globals.bpf.o`).stdout;
  assert.match(text, /^global variables:\nSECTION +NAME +OFFSET +SIZE +TYPE$/m);
  assert.match(text, /^\.rodata +target_tgid +0 +4 +const volatile __u32$/m);
  assert.match(text, /^\.bss +cfg_copy +32 +16 +struct config$/m);
  const g = inspectJson("test/bpf/globals.bpf.o").btf!;
  assert.match(text, new RegExp(`^BTF: ${g.types} types, ${g.stringBytes} bytes of strings; \\.BTF\\.ext: ${g.funcInfo} func_info, ${g.lineInfo} line_info, 0 CO-RE records$`, "m"));
  assert.match(text, /^datasec +5$/m);
});
