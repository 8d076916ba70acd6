/**
 * Loading collection specs from ELF objects, and fuzzing of the ELF/spec loader (mutated fixtures;
 * only ElfError/ObjectError/BtfError may come out). Iterations of the random fuzz targets: env
 * TSBPF_FUZZ_ITERATIONS (default 3000 random flips and 2000 targeted corruptions, what CI runs).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { BtfError, ElfError, ObjectError } from "../../src/errors.js";
import {
  BPF_CALL_OP, BPF_LD_IMM64, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, InstructionView,
  decodeInstructions,
} from "../../src/asm/index.js";
import { parseElf } from "../../src/elf/index.js";
import {
  AttachType, MapType, ProgramType, attachTypeName, loadCollectionSpec, mapTypeName, programSectionInfo,
  programTypeName, type CollectionSpec, type ProgramSpec,
} from "../../src/spec/index.js";

const fixtures = new URL("../../../test/fixtures/elf/", import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(name, fixtures)));
const load = (name: string): CollectionSpec => loadCollectionSpec(fixture(name), { name: name.replace(/\.bpf.*\.o$/, "") });
const hasObjdump = (() => { try { execFileSync("llvm-objdump-19", ["--version"], { stdio: "ignore" }); return true; } catch { return false; } })();

/** Function name -> [first slot, slot count] within its section, from llvm-objdump. */
function objdumpFunctions(name: string): Map<string, { section: string; start: number; len: number }> {
  const out = execFileSync("llvm-objdump-19", ["-d", "--no-show-raw-insn", new URL(name, fixtures).pathname], { encoding: "utf8" });
  const fns = new Map<string, { section: string; start: number; len: number }>();
  let section = "";
  let cur: { section: string; start: number; len: number } | undefined;
  for (const line of out.split("\n")) {
    let m = /^Disassembly of section (.*):$/.exec(line);
    if (m) { section = m[1]; cur = undefined; continue; }
    m = /^([0-9a-f]+) <(.*)>:$/.exec(line);
    if (m) { cur = { section, start: parseInt(m[1], 16) / 8, len: 0 }; fns.set(m[2], cur); continue; }
    m = /^\s+(\d+):\s+(.*)$/.exec(line);
    if (m && cur) cur.len = Number(m[1]) - cur.start + (/ ll$/.test(m[2]) ? 2 : 1);
  }
  return fns;
}

function callTargets(p: ProgramSpec, le = true): { at: number; target: number; kind: "call" | "func" }[] {
  const out: { at: number; target: number; kind: "call" | "func" }[] = [];
  for (const i of decodeInstructions(p.instructions, le)) {
    if (i.opcode === BPF_CALL_OP && i.src === BPF_PSEUDO_CALL) out.push({ at: i.slot, target: i.slot + 1 + i.imm, kind: "call" });
    if (i.opcode === BPF_LD_IMM64 && i.src === BPF_PSEUDO_FUNC) out.push({ at: i.slot, target: i.slot + 1 + i.imm, kind: "func" });
  }
  return out;
}

test("legacy SEC(\"maps\") object (nimbpf's ovfs style)", () => {
  const spec = load("legacy.bpf.o");
  assert.equal(spec.name, "legacy");
  assert.equal(spec.license, "GPL");
  assert.equal(spec.kernelVersion, 0x050400);
  assert.equal(spec.littleEndian, true);
  assert.deepEqual(Object.keys(spec.maps), ["ovfs_write_bytes", "ovfs_op_start_times"]);
  const w = spec.maps.ovfs_write_bytes;
  assert.equal(w.definition, "legacy");
  assert.equal(w.section, "maps");
  assert.deepEqual([w.type, w.keySize, w.valueSize, w.maxEntries, w.flags], [MapType.HASH, 4, 8, 8192, 0]);
  assert.deepEqual([w.btfKeyTypeId, w.btfValueTypeId, w.pinning, w.freeze, w.numaNode, w.mapExtra], [0, 0, "none", false, 0, 0n]);
  const s = spec.maps.ovfs_op_start_times;
  assert.deepEqual([s.type, s.keySize, s.valueSize, s.maxEntries, s.flags], [MapType.PERCPU_HASH, 4, 8, 1024, 1]);

  const p = spec.programs.trace_ovl_read_iter;
  assert.equal(p.section, "kprobe/ovl_read_iter");
  assert.equal(p.type, ProgramType.KPROBE);
  assert.equal(p.attachTo, "ovl_read_iter");
  assert.equal(p.autoAttach, "kprobe");
  assert.equal(p.kernelVersion, 0x050400);
  assert.equal(p.license, "GPL");
  assert.deepEqual(p.relocations, [{ insn: 8, kind: "map", map: "ovfs_op_start_times" }]);
  assert.equal(new InstructionView(p.instructions).opcode(8), BPF_LD_IMM64);
  const r = spec.programs.trace_ovl_write_iter_ret;
  assert.equal(r.autoAttach, "kretprobe");
  assert.deepEqual(r.relocations.map((x) => x.kind === "map" && x.map), ["ovfs_op_start_times", "ovfs_write_bytes", "ovfs_write_bytes", "ovfs_op_start_times"]);
});

test("legacy maps: the classic 20-byte struct bpf_map_def, and unknown section names", () => {
  const spec = load("legacy_min.bpf.o");
  assert.deepEqual(Object.keys(spec.maps), ["my_map", "other_map"]);
  const [a, b] = [spec.maps.my_map, spec.maps.other_map];
  assert.deepEqual([a.type, a.keySize, a.valueSize, a.maxEntries, a.flags], [MapType.ARRAY, 4, 8, 256, 0]);
  assert.deepEqual([b.type, b.keySize, b.valueSize, b.maxEntries], [MapType.LRU_HASH, 8, 16, 32]);
  // "socket1" is not in libbpf's table: the program is kept with type UNSPEC for the caller to set.
  assert.deepEqual([spec.programs.bpf_prog1.type, spec.programs.bpf_prog1.autoAttach], [ProgramType.UNSPEC, null]);
  assert.deepEqual(spec.programs.bpf_prog1.relocations, [{ insn: 5, kind: "map", map: "my_map" }]);
  // "socket/2" matches the legacy prefix fallback.
  assert.deepEqual([spec.programs.bpf_prog2.type, spec.programs.bpf_prog2.autoAttach], [ProgramType.SOCKET_FILTER, "socket"]);
});

test("legacy maps: trailing numa_node field", () => {
  const bytes = fixture("legacy.bpf.o");
  const elf = parseElf(bytes);
  const maps = elf.sectionByName("maps")!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  dv.setUint32(maps.offset + 28 + 24, 3, true); // numa_node of the second map
  const spec = loadCollectionSpec(bytes);
  assert.equal(spec.maps.ovfs_op_start_times.numaNode, 3);
  assert.equal(spec.maps.ovfs_write_bytes.numaNode, 0);
});

test("the xdp-packet-counter seed", () => {
  const spec = load("xdp_counter.bpf.o");
  assert.equal(spec.license, "Dual MIT/GPL");
  assert.equal(spec.kernelVersion, undefined);
  const m = spec.maps.pkt_count;
  assert.deepEqual([m.type, m.keySize, m.valueSize, m.maxEntries, m.definition], [MapType.ARRAY, 4, 8, 1, "btf"]);
  assert.equal(spec.btf!.name(m.btfKeyTypeId), "__u32");
  assert.equal(spec.btf!.name(m.btfValueTypeId), "__u64");
  const p = spec.programs.count_packets;
  assert.deepEqual(
    [p.type, p.expectedAttachType, p.attachTo, p.autoAttach, p.section, p.sleepable],
    [ProgramType.XDP, AttachType.XDP, "", "xdp", "xdp", false],
  );
  // Same listing as the seed's llvm-objdump: 12 slots, the map load at 4 and `call 1` at 6.
  assert.equal(p.instructions.length, 12 * 8);
  assert.deepEqual(p.relocations, [{ insn: 4, kind: "map", map: "pkt_count" }]);
  const v = new InstructionView(p.instructions);
  assert.equal(v.opcode(6), BPF_CALL_OP);
  assert.equal(v.imm(6), 1);
  assert.equal(p.funcInfo?.length, 1);
  assert.ok(p.lineInfo && p.lineInfo.length > 3);
  assert.match(p.lineInfo[0].fileName, /xdp_counter\.bpf\.c$/);
  assert.ok(p.lineInfo.some((l) => l.text.includes("bpf_map_lookup_elem(&pkt_count, &key)")));
  assert.deepEqual(spec.btfBytes, spec.btf!.rawBytes);
});

test("BTF-defined maps with every field, map-in-map and program array values", () => {
  const spec = load("btfmaps.bpf.o");
  const btf = spec.btf!;
  const h = spec.maps.pinned_hash;
  assert.deepEqual(
    [h.type, h.keySize, h.valueSize, h.maxEntries, h.flags, h.pinning, h.numaNode],
    [MapType.HASH, 4, 24, 128, 1, "byName", 1],
  );
  assert.equal(btf.name(h.btfValueTypeId), "value_t");
  assert.equal(btf.name(h.btfKeyTypeId), "__u32");
  const a = spec.maps.sized_array;
  assert.deepEqual([a.keySize, a.valueSize, a.btfKeyTypeId, a.btfValueTypeId], [4, 16, 0, 0]);
  const b = spec.maps.bloom;
  assert.deepEqual([b.type, b.keySize, b.valueSize, b.mapExtra], [MapType.BLOOM_FILTER, 0, 8, 3n]);
  const e = spec.maps.events;
  assert.deepEqual([e.type, e.keySize, e.valueSize, e.maxEntries], [MapType.RINGBUF, 0, 0, 4096]);

  const o = spec.maps.outer;
  assert.equal(o.type, MapType.ARRAY_OF_MAPS);
  assert.equal(o.valueSize, 4);
  assert.equal(o.btfValueTypeId, 0);
  assert.deepEqual(o.contents, [{ key: 0, value: { map: "inner1" } }, { key: 2, value: { map: "inner2" } }]);
  assert.ok(o.innerMap);
  assert.deepEqual([o.innerMap.name, o.innerMap.type, o.innerMap.keySize, o.innerMap.valueSize, o.innerMap.maxEntries], ["outer.inner", MapType.ARRAY, 4, 4, 1]);
  const oh = spec.maps.outer_hash;
  assert.equal(oh.type, MapType.HASH_OF_MAPS);
  assert.deepEqual([oh.innerMap?.type, oh.innerMap?.valueSize, oh.innerMap?.maxEntries], [MapType.HASH, 8, 16]);
  assert.equal(oh.contents, undefined);

  const j = spec.maps.jmp_table;
  assert.equal(j.type, MapType.PROG_ARRAY);
  assert.deepEqual([j.keySize, j.valueSize, j.maxEntries], [4, 4, 3]);
  assert.deepEqual(j.contents, [{ key: 1, value: { program: "tail_a" } }, { key: 2, value: { program: "tail_b" } }]);

  // Two programs in one section, each its own ProgramSpec.
  assert.deepEqual(Object.keys(spec.programs), ["tail_a", "tail_b", "entry"]);
  assert.equal(spec.programs.tail_a.section, "tp/syscalls/sys_enter_write");
  assert.equal(spec.programs.tail_b.section, "tp/syscalls/sys_enter_write");
  assert.equal(spec.programs.tail_a.attachTo, "syscalls/sys_enter_write");
  assert.deepEqual(spec.programs.entry.relocations.map((r) => r.kind === "map" && r.map), ["pinned_hash", "outer", "events", "jmp_table"]);
});

test("global data, multiple programs per section, subprograms and callbacks", () => {
  const spec = load("globals.bpf.o");
  assert.deepEqual(Object.keys(spec.maps).sort(), [".bss", ".data", ".data.custom", ".kconfig", ".rodata", ".rodata.str1.1", "counts"]);
  const ro = spec.maps[".rodata"];
  assert.deepEqual(
    [ro.type, ro.keySize, ro.valueSize, ro.maxEntries, ro.flags, ro.freeze, ro.definition, ro.section],
    [MapType.ARRAY, 4, 34, 1, 0x80, true, "data", ".rodata"],
  );
  assert.equal(spec.btf!.type(ro.btfValueTypeId).kind, "datasec");
  assert.equal(spec.btf!.name(ro.btfValueTypeId), ".rodata");
  const dv = new DataView(ro.data!.buffer, ro.data!.byteOffset);
  assert.equal(dv.getInt32(0, true), -1, "targ_pid initial value");
  assert.equal(dv.getBigUint64(8, true), 1000n, "threshold initial value");
  const data = spec.maps[".data"];
  assert.deepEqual([data.flags, data.freeze, data.valueSize], [0, false, 4]);
  assert.equal(new DataView(data.data!.buffer, data.data!.byteOffset).getInt32(0, true), 7);
  const bss = spec.maps[".bss"];
  assert.equal(bss.valueSize, 40);
  assert.deepEqual(bss.data, new Uint8Array(40));
  const str = spec.maps[".rodata.str1.1"];
  assert.equal(new TextDecoder().decode(str.data!), "literal %d\n\0");
  assert.deepEqual([str.freeze, str.flags, str.btfValueTypeId], [true, 0x80, 0]);
  assert.equal(spec.maps[".data.custom"].valueSize, 4);
  const kc = spec.maps[".kconfig"];
  assert.deepEqual([kc.type, kc.valueSize, kc.freeze, kc.flags], [MapType.ARRAY, 8, true, 0x80]);

  // Variables, with offsets fixed up from the symbol table.
  assert.deepEqual(spec.variables.targ_pid, { name: "targ_pid", map: ".rodata", offset: 0, size: 4, typeId: spec.variables.targ_pid.typeId, constant: true });
  assert.equal(spec.btf!.name(spec.btf!.resolve(spec.variables.targ_pid.typeId)), "int");
  assert.deepEqual([spec.variables.threshold.map, spec.variables.threshold.offset, spec.variables.threshold.size], [".rodata", 8, 8]);
  assert.deepEqual([spec.variables.hits.map, spec.variables.hits.offset, spec.variables.hits.constant], [".bss", 0, false]);
  assert.deepEqual([spec.variables.more_hits.offset, spec.variables.more_hits.size], [8, 32]);
  assert.deepEqual([spec.variables.counter.map, spec.variables.custom_val.map], [".data", ".data.custom"]);
  assert.deepEqual([spec.variables.CONFIG_HZ.map, spec.variables.CONFIG_HZ.offset, spec.variables.CONFIG_HZ.size], [".kconfig", 0, 4]);
  // The fixed-up BTF has real sizes and offsets.
  const ds = spec.btf!.type(ro.btfValueTypeId);
  assert.ok(ds.kind === "datasec" && ds.size === 34 && ds.vars[1].offset === 8);

  // Programs: two in one section, one in another.
  assert.deepEqual(Object.keys(spec.programs), ["prog_one", "prog_two", "prog_three", "prog_four"]);
  const [one, two, three] = [spec.programs.prog_one, spec.programs.prog_two, spec.programs.prog_three];
  assert.equal(one.section, "tracepoint/syscalls/sys_enter_openat");
  assert.equal(two.section, one.section);
  assert.equal(one.type, ProgramType.TRACEPOINT);
  assert.equal(three.type, ProgramType.RAW_TRACEPOINT);
  assert.equal(three.attachTo, "sys_exit");

  // prog_one = itself (34) + loop_cb (7) + twice (7) + add_hits (19), each subprogram once.
  assert.equal(one.instructions.length / 8, 34 + 7 + 7 + 19);
  assert.deepEqual(callTargets(one), [
    { at: 22, target: 34, kind: "func" }, // bpf_loop callback -> loop_cb appended at 34
    { at: 27, target: 41, kind: "call" }, // twice appended at 41
    { at: 42, target: 48, kind: "call" }, // twice -> add_hits, appended once at 48
    { at: 45, target: 48, kind: "call" },
  ]);
  assert.deepEqual(one.relocations, [
    { insn: 0, kind: "mapValue", map: ".rodata", offset: 0 },
    { insn: 14, kind: "mapValue", map: ".data", offset: 0 },
    { insn: 17, kind: "mapValue", map: ".rodata", offset: 16 },
    { insn: 29, kind: "mapValue", map: ".data.custom", offset: 0 },
    { insn: 34, kind: "mapValue", map: ".data", offset: 0 }, // loop_cb's relocation, carried over
    { insn: 51, kind: "mapValue", map: ".bss", offset: 0 }, // add_hits's
    { insn: 59, kind: "mapValue", map: ".bss", offset: 8 },
  ]);
  assert.equal(new InstructionView(one.instructions).imm(17), 0, "section-relative imm is moved into the offset");
  assert.deepEqual(one.funcInfo?.map((f) => f.insnOff), [0, 34, 41, 48]);
  assert.deepEqual(one.funcInfo?.map((f) => spec.btf!.name(f.typeId)), ["prog_one", "loop_cb", "twice", "add_hits"]);
  const sub = one.lineInfo!.find((l) => l.insnOff === 48)!;
  const srcLines = readFileSync(new URL("globals.bpf.c", fixtures), "utf8").split("\n");
  assert.equal(sub.line, srcLines.findIndex((l) => l.includes("int add_hits(int n)")) + 1);
  assert.match(sub.text, /add_hits/);
  assert.ok(one.lineInfo!.every((l, i, a) => i === 0 || a[i - 1].insnOff <= l.insnOff));

  assert.equal(two.instructions.length / 8, 20 + 19);
  assert.deepEqual(callTargets(two), [{ at: 14, target: 20, kind: "call" }]);
  assert.deepEqual(two.relocations, [
    { insn: 4, kind: "map", map: "counts" },
    { insn: 9, kind: "mapValue", map: ".rodata", offset: 8 },
    { insn: 16, kind: "kconfig", name: "CONFIG_HZ" },
    { insn: 23, kind: "mapValue", map: ".bss", offset: 0 },
    { insn: 31, kind: "mapValue", map: ".bss", offset: 8 },
  ]);
  assert.deepEqual(three.relocations.find((r) => r.kind === "mapValue" && r.map === ".rodata.str1.1"), { insn: 10, kind: "mapValue", map: ".rodata.str1.1", offset: 0 });

  // prog_four: kfuncs, a ksym, a static subprogram in its own section, CO-RE in program and subprogram.
  const four = spec.programs.prog_four;
  assert.deepEqual([four.type, four.expectedAttachType, four.attachTo, four.autoAttach], [ProgramType.TRACING, AttachType.TRACE_RAW_TP, "sched_switch", "tp_btf"]);
  assert.equal(four.instructions.length / 8, 9 + 10 + 5);
  assert.deepEqual(four.relocations, [
    { insn: 0, kind: "kfunc", name: "bpf_rcu_read_lock" },
    { insn: 1, kind: "kfunc", name: "bpf_rcu_read_unlock" },
    { insn: 20, kind: "ksym", name: "bpf_prog_active" },
  ]);
  const v = new InstructionView(four.instructions);
  assert.equal(v.src(0), BPF_PSEUDO_KFUNC_CALL);
  assert.deepEqual(callTargets(four), [{ at: 5, target: 9, kind: "call" }, { at: 7, target: 19, kind: "call" }]);
  assert.deepEqual(four.coreRelocations, [
    { insnOff: 3, typeId: four.coreRelocations[0].typeId, accessStr: "0:0", kind: 2 },
    { insnOff: 10, typeId: four.coreRelocations[0].typeId, accessStr: "0:1", kind: 0 },
  ]);
  assert.equal(spec.btf!.name(four.coreRelocations[0].typeId), "task_struct___local");
  assert.deepEqual(four.funcInfo?.map((f) => f.insnOff), [0, 9, 19]);
  // Static functions are never programs.
  assert.equal(spec.programs.same_section_sub, undefined);
  assert.equal(spec.programs.add_hits, undefined);
});

test("linked programs match llvm-objdump's function sizes and bytes", { skip: !hasObjdump && "llvm-objdump-19 not installed" }, () => {
  const fns = objdumpFunctions("globals.bpf.o");
  const spec = load("globals.bpf.o");
  const elf = parseElf(fixture("globals.bpf.o"));
  const expect: Record<string, string[]> = {
    prog_one: ["prog_one", "loop_cb", "twice", "add_hits"],
    prog_two: ["prog_two", "add_hits"],
    prog_three: ["prog_three", "add_hits"],
    prog_four: ["prog_four", "core_tgid", "same_section_sub"],
  };
  for (const [prog, parts] of Object.entries(expect)) {
    const p = spec.programs[prog];
    let base = 0;
    for (const name of parts) {
      const f = fns.get(name)!;
      assert.ok(f, `${name} in llvm-objdump output`);
      // Every instruction that is not patched is copied verbatim.
      const orig = elf.sectionByName(f.section)!.data.subarray(f.start * 8, (f.start + f.len) * 8);
      const linked = p.instructions.subarray(base * 8, (base + f.len) * 8);
      const ov = new InstructionView(orig), lv = new InstructionView(linked);
      for (let i = 0; i < f.len; i++) {
        const patched = ov.opcode(i) === BPF_CALL_OP || ov.opcode(i) === BPF_LD_IMM64 || (i > 0 && ov.opcode(i - 1) === BPF_LD_IMM64);
        if (!patched) assert.deepEqual(lv.get(i), ov.get(i), `${prog}: ${name}+${i}`);
        else assert.equal(lv.opcode(i), ov.opcode(i));
      }
      base += f.len;
    }
    assert.equal(p.instructions.length / 8, base, `${prog} length`);
  }
});

test("big-endian objects give the same spec", () => {
  const le = load("globals.bpf.o");
  const be = load("globals.bpfeb.o");
  assert.equal(be.littleEndian, false);
  assert.deepEqual(Object.keys(be.programs), Object.keys(le.programs));
  for (const name of Object.keys(le.programs)) {
    const [a, b] = [le.programs[name], be.programs[name]];
    assert.deepEqual(b.relocations, a.relocations);
    assert.deepEqual(b.funcInfo?.map((f) => f.insnOff), a.funcInfo?.map((f) => f.insnOff));
    assert.deepEqual(b.coreRelocations.map((c) => [c.insnOff, c.accessStr, c.kind]), a.coreRelocations.map((c) => [c.insnOff, c.accessStr, c.kind]));
    const strip = (xs: ReturnType<typeof decodeInstructions>) => xs.map((i) => [i.opcode, i.dst, i.src, i.off, i.opcode === BPF_CALL_OP ? i.imm : 0]);
    assert.deepEqual(strip(decodeInstructions(b.instructions, false)), strip(decodeInstructions(a.instructions, true)));
  }
  assert.deepEqual(Object.keys(be.maps).sort(), Object.keys(le.maps).sort());
  assert.equal(new DataView(be.maps[".rodata"].data!.buffer, be.maps[".rodata"].data!.byteOffset).getInt32(0, false), -1);
  assert.deepEqual(be.variables, le.variables);
});

test("spec extraction is deterministic and does not alias the input", () => {
  const bytes = fixture("globals.bpf.o");
  const a = loadCollectionSpec(bytes), b = loadCollectionSpec(bytes);
  const strip = (s: CollectionSpec) => JSON.stringify({ ...s, btf: undefined }, (_, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v));
  assert.equal(strip(a), strip(b));
  a.maps[".rodata"].data![0] = 99;
  a.programs.prog_one.instructions[0] = 0;
  assert.notEqual(loadCollectionSpec(bytes).maps[".rodata"].data![0], 99);
  assert.notEqual(loadCollectionSpec(bytes).programs.prog_one.instructions[0], 0);
});

test("section names follow libbpf's table", () => {
  const P = ProgramType, A = AttachType;
  const cases: [string, number, number, string, boolean, string | null][] = [
    ["socket", P.SOCKET_FILTER, 0, "", false, "socket"],
    ["sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, "", false, "sk_reuseport"],
    ["sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, "", false, "sk_reuseport"],
    ["kprobe/vfs_read", P.KPROBE, 0, "vfs_read", false, "kprobe"],
    ["kprobe", P.KPROBE, 0, "", false, null],
    ["kretprobe/vfs_read", P.KPROBE, 0, "vfs_read", false, "kretprobe"],
    ["uprobe//bin/bash:readline", P.KPROBE, 0, "/bin/bash:readline", false, "uprobe"],
    ["uprobe.s//bin/bash:readline", P.KPROBE, 0, "/bin/bash:readline", true, "uprobe"],
    ["uretprobe/libc.so.6:malloc", P.KPROBE, 0, "libc.so.6:malloc", false, "uretprobe"],
    ["uretprobe.s/libc.so.6:malloc", P.KPROBE, 0, "libc.so.6:malloc", true, "uretprobe"],
    ["kprobe.multi/vfs_*", P.KPROBE, A.TRACE_KPROBE_MULTI, "vfs_*", false, "kprobe.multi"],
    ["kretprobe.multi/vfs_*", P.KPROBE, A.TRACE_KPROBE_MULTI, "vfs_*", false, "kretprobe.multi"],
    ["uprobe.multi//bin/sh:*", P.KPROBE, A.TRACE_UPROBE_MULTI, "/bin/sh:*", false, "uprobe.multi"],
    ["ksyscall/openat", P.KPROBE, 0, "openat", false, "ksyscall"],
    ["kretsyscall/openat", P.KPROBE, 0, "openat", false, "kretsyscall"],
    ["usdt/libc.so.6:libc:setjmp", P.KPROBE, 0, "libc.so.6:libc:setjmp", false, "usdt"],
    ["tc", P.SCHED_CLS, 0, "", false, "tc"],
    ["tc/ingress", P.SCHED_CLS, A.TCX_INGRESS, "", false, "tcx"],
    ["tc/egress", P.SCHED_CLS, A.TCX_EGRESS, "", false, "tcx"],
    ["tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS, "", false, "tcx"],
    ["tcx/egress", P.SCHED_CLS, A.TCX_EGRESS, "", false, "tcx"],
    ["netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY, "", false, "netkit"],
    ["netkit/peer", P.SCHED_CLS, A.NETKIT_PEER, "", false, "netkit"],
    ["classifier", P.SCHED_CLS, 0, "", false, "tc"],
    ["action", P.SCHED_ACT, 0, "", false, "tc"],
    ["tracepoint/syscalls/sys_enter_read", P.TRACEPOINT, 0, "syscalls/sys_enter_read", false, "tracepoint"],
    ["tp/sched/sched_switch", P.TRACEPOINT, 0, "sched/sched_switch", false, "tracepoint"],
    ["raw_tracepoint/sys_enter", P.RAW_TRACEPOINT, 0, "sys_enter", false, "raw_tracepoint"],
    ["raw_tp/sys_enter", P.RAW_TRACEPOINT, 0, "sys_enter", false, "raw_tracepoint"],
    ["raw_tracepoint.w/bpf_test_finish", P.RAW_TRACEPOINT_WRITABLE, 0, "bpf_test_finish", false, "raw_tracepoint"],
    ["raw_tp.w/bpf_test_finish", P.RAW_TRACEPOINT_WRITABLE, 0, "bpf_test_finish", false, "raw_tracepoint"],
    ["tp_btf/sched_switch", P.TRACING, A.TRACE_RAW_TP, "sched_switch", false, "tp_btf"],
    ["fentry/do_unlinkat", P.TRACING, A.TRACE_FENTRY, "do_unlinkat", false, "fentry"],
    ["fmod_ret/do_unlinkat", P.TRACING, A.MODIFY_RETURN, "do_unlinkat", false, "fmod_ret"],
    ["fexit/do_unlinkat", P.TRACING, A.TRACE_FEXIT, "do_unlinkat", false, "fexit"],
    ["fentry.s/do_unlinkat", P.TRACING, A.TRACE_FENTRY, "do_unlinkat", true, "fentry"],
    ["fmod_ret.s/do_unlinkat", P.TRACING, A.MODIFY_RETURN, "do_unlinkat", true, "fmod_ret"],
    ["fexit.s/do_unlinkat", P.TRACING, A.TRACE_FEXIT, "do_unlinkat", true, "fexit"],
    ["freplace/handler", P.EXT, 0, "handler", false, "freplace"],
    ["lsm/file_open", P.LSM, A.LSM_MAC, "file_open", false, "lsm"],
    ["lsm.s/file_open", P.LSM, A.LSM_MAC, "file_open", true, "lsm"],
    ["lsm_cgroup/socket_bind", P.LSM, A.LSM_CGROUP, "socket_bind", false, "lsm_cgroup"],
    ["iter/task", P.TRACING, A.TRACE_ITER, "task", false, "iter"],
    ["iter.s/task", P.TRACING, A.TRACE_ITER, "task", true, "iter"],
    ["syscall", P.SYSCALL, 0, "", true, null],
    ["xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, "", false, null],
    ["xdp/devmap", P.XDP, A.XDP_DEVMAP, "", false, null],
    ["xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, "", false, null],
    ["xdp/cpumap", P.XDP, A.XDP_CPUMAP, "", false, null],
    ["xdp.frags", P.XDP, A.XDP, "", false, "xdp"],
    ["xdp", P.XDP, A.XDP, "", false, "xdp"],
    ["perf_event", P.PERF_EVENT, 0, "", false, "perf_event"],
    ["lwt_in", P.LWT_IN, 0, "", false, "lwt"],
    ["lwt_out", P.LWT_OUT, 0, "", false, "lwt"],
    ["lwt_xmit", P.LWT_XMIT, 0, "", false, "lwt"],
    ["lwt_seg6local", P.LWT_SEG6LOCAL, 0, "", false, "lwt"],
    ["sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, "", false, "cgroup"],
    ["sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, "", false, "sk_skb"],
    ["sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, "", false, "sk_skb"],
    ["sk_skb", P.SK_SKB, 0, "", false, "sk_skb"],
    ["sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, "", false, "sk_msg"],
    ["lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, "", false, "lirc_mode2"],
    ["flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, "", false, "flow_dissector"],
    ["cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, "", false, "cgroup"],
    ["cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, "", false, "cgroup"],
    ["cgroup/skb", P.CGROUP_SKB, 0, "", false, "cgroup"],
    ["cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, "", false, "cgroup"],
    ["cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, "", false, "cgroup"],
    ["cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, "", false, "cgroup"],
    ["cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, "", false, "cgroup"],
    ["cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, "", false, "cgroup"],
    ["cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, "", false, "cgroup"],
    ["cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, "", false, "cgroup"],
    ["cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, "", false, "cgroup"],
    ["cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, "", false, "cgroup"],
    ["cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, "", false, "cgroup"],
    ["cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, "", false, "cgroup"],
    ["cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, "", false, "cgroup"],
    ["cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, "", false, "cgroup"],
    ["cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, "", false, "cgroup"],
    ["cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, "", false, "cgroup"],
    ["cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, "", false, "cgroup"],
    ["cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, "", false, "cgroup"],
    ["cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, "", false, "cgroup"],
    ["cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, "", false, "cgroup"],
    ["cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, "", false, "cgroup"],
    ["cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, "", false, "cgroup"],
    ["cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, "", false, "cgroup"],
    ["cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, "", false, "cgroup"],
    ["cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, "", false, "cgroup"],
    ["cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, "", false, "cgroup"],
    ["cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, "", false, "cgroup"],
    ["struct_ops/test_1", P.STRUCT_OPS, 0, "test_1", false, "struct_ops"],
    ["sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, "", false, "sk_lookup"],
    ["netfilter", P.NETFILTER, A.NETFILTER, "", false, "netfilter"],
    // legacy names with an arbitrary suffix
    ["xdp/anything", P.XDP, A.XDP, "", false, "xdp"],
    ["socket1", -1, 0, "", false, null],
  ];
  for (const [sec, type, attach, to, sleepable, kind] of cases) {
    const info = programSectionInfo(sec);
    if (type < 0) { assert.equal(info, undefined, sec); continue; }
    assert.deepEqual(info, { type, expectedAttachType: attach, attachTo: to, sleepable, autoAttach: kind }, sec);
  }
});

test("generated kernel enums and reverse lookups", () => {
  assert.equal(MapType.HASH, 1);
  assert.equal(MapType.RINGBUF, 27);
  assert.equal(MapType.CGROUP_STORAGE, 19);
  assert.equal(mapTypeName(19), "CGROUP_STORAGE");
  assert.equal(ProgramType.KPROBE, 2);
  assert.equal(programTypeName(6), "XDP");
  assert.equal(AttachType.CGROUP_INET_INGRESS, 0);
  assert.equal(attachTypeName(AttachType.TRACE_FENTRY), "TRACE_FENTRY");
  assert.equal(mapTypeName(9999), undefined);
});

// --- ObjectError cases ------------------------------------------------------------------------

function editedBtfMaps(edit: (bytes: Uint8Array, find: (s: string) => number) => void): Uint8Array {
  const bytes = fixture("btfmaps.bpf.o").slice();
  const btfSec = parseElf(bytes).sectionByName(".BTF")!;
  const find = (s: string) => {
    const needle = new TextEncoder().encode(s + "\0");
    outer: for (let i = btfSec.offset; i < btfSec.offset + btfSec.size - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
      return i;
    }
    throw new Error(`${s} not found`);
  };
  edit(bytes, find);
  return bytes;
}

test("unknown BTF map field is an ObjectError naming map and field", () => {
  // Rename the "numa_node" member name in the BTF string table to "numa_nodX".
  const bytes = editedBtfMaps((b, find) => { b[find("numa_node") + 8] = 0x58; });
  assert.throws(() => loadCollectionSpec(bytes), (e: unknown) => e instanceof ObjectError && /map pinned_hash: unknown field numa_nodX/.test(e.message));
});

test("non-BPF and non-relocatable ELF are rejected", () => {
  assert.throws(() => loadCollectionSpec(new Uint8Array(readFileSync("/usr/bin/ls"))), ElfError);
  const b = fixture("xdp_counter.bpf.o").slice();
  new DataView(b.buffer).setUint16(16, 2, true); // ET_EXEC
  assert.throws(() => loadCollectionSpec(b), ObjectError);
});

// --- fuzzing ----------------------------------------------------------------------------------

/** TSBPF_FUZZ_ITERATIONS when set, else `dflt`. */
function fuzzIterations(dflt: number): number {
  const env = process.env.TSBPF_FUZZ_ITERATIONS;
  const v = env === undefined ? dflt : Number(env);
  if (!Number.isInteger(v) || v < 1) throw new Error(`TSBPF_FUZZ_ITERATIONS must be a positive integer, got ${env}`);
  return v;
}

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function expectOnlyOurErrors(bytes: Uint8Array, what: string): number {
  const t0 = performance.now();
  try {
    loadCollectionSpec(bytes);
  } catch (e) {
    if (!(e instanceof ElfError || e instanceof ObjectError || e instanceof BtfError)) {
      assert.fail(`${what}: unexpected ${e instanceof Error ? e.stack : String(e)}`);
    }
  }
  return performance.now() - t0;
}

test("truncations at many lengths only throw ElfError/ObjectError/BtfError", () => {
  for (const name of ["globals.bpf.o", "btfmaps.bpf.o", "legacy.bpf.o"]) {
    const full = fixture(name);
    for (let len = 0; len < full.length; len += len < 256 ? 1 : 7) {
      const ms = expectOnlyOurErrors(full.slice(0, len), `${name} truncated to ${len}`);
      assert.ok(ms < 2000, `${name} truncated to ${len} took ${ms} ms`);
    }
  }
});

test("random byte flips (fixed seed) only throw ElfError/ObjectError/BtfError, each quickly", () => {
  const rand = mulberry32(0x7eb9f);
  const sources = ["globals.bpf.o", "btfmaps.bpf.o", "legacy.bpf.o", "xdp_counter.bpf.o", "globals.bpfeb.o"].map(fixture);
  let worst = 0;
  for (let iter = 0, n = fuzzIterations(3000); iter < n; iter++) {
    const src = sources[iter % sources.length];
    const b = src.slice();
    const flips = 1 + Math.floor(rand() * 8);
    for (let k = 0; k < flips; k++) {
      const pos = Math.floor(rand() * b.length);
      const mode = rand();
      if (mode < 0.5) b[pos] ^= 1 << Math.floor(rand() * 8);
      else if (mode < 0.8) b[pos] = Math.floor(rand() * 256);
      else b[pos] = rand() < 0.5 ? 0xff : 0;
    }
    worst = Math.max(worst, expectOnlyOurErrors(b, `iteration ${iter}`));
  }
  assert.ok(worst < 2000, `slowest iteration took ${worst} ms`);
});

test("targeted corruption of headers, sizes and offsets", () => {
  const rand = mulberry32(12345);
  const src = fixture("globals.bpf.o");
  const elf = parseElf(src);
  const shoff = Number(new DataView(src.buffer, src.byteOffset).getBigUint64(40, true));
  const interesting = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff];
  for (let iter = 0, n = fuzzIterations(2000); iter < n; iter++) {
    const b = src.slice();
    const dv = new DataView(b.buffer);
    const sec = elf.sections[1 + Math.floor(rand() * (elf.sections.length - 1))];
    const choice = rand();
    const val = interesting[Math.floor(rand() * interesting.length)];
    if (choice < 0.4) {
      // a field of a section header: name, type, flags, addr, offset, size, link, info, align, entsize
      const fieldOffsets = [0, 4, 8, 24, 32, 40, 44, 56];
      dv.setUint32(shoff + sec.index * 64 + fieldOffsets[Math.floor(rand() * fieldOffsets.length)], val, true);
    } else if (choice < 0.8 && sec.size >= 4) {
      // a u32 inside the section's contents (symbols, relocations, BTF, instructions)
      const at = sec.offset + 4 * Math.floor(rand() * Math.floor(sec.size / 4));
      dv.setUint32(at, val, true);
    } else {
      dv.setUint16(48 + 2 * Math.floor(rand() * 8), val & 0xffff, true);
    }
    const ms = expectOnlyOurErrors(b, `targeted iteration ${iter}`);
    assert.ok(ms < 2000, `targeted iteration ${iter} took ${ms} ms`);
  }
});
