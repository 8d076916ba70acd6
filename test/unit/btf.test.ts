import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import {
  Btf, BtfBuilder, convertBtfByteOrder, fixupDatasecs, loadKernelBtf, loadModuleBtf, rewriteBtf,
  sanitizeBtf, writeBtf, type BtfType, type BtfTypeInit,
} from "../../src/btf/index.js";
import { parseElf } from "../../src/elf/index.js";
import { BtfError } from "../../src/errors.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const FIXTURE = new URL("../../../test/fixtures/btf/kinds.bpf.o", import.meta.url);

function fixture() {
  const elf = parseElf(readFileSync(FIXTURE));
  const sec = (n: string) => {
    const s = elf.sectionByName(n);
    assert.ok(s, `fixture has section ${n}`);
    return s;
  };
  return { elf, sec, btf: Btf.parse(sec(".BTF").data) };
}

function allTypes(btf: Btf): BtfType[] {
  return [...btf.types()];
}

test("vmlinux: parse, lookups, known facts", (t) => {
  if (!existsSync(VMLINUX)) { t.skip(`${VMLINUX} is absent (kernel built without CONFIG_DEBUG_INFO_BTF)`); return; }
  const bytes = readFileSync(VMLINUX);
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const btf = Btf.parse(bytes);
  const t1 = performance.now();
  const ts = btf.findByName("task_struct", "struct");
  const t2 = performance.now();
  const rss = (process.memoryUsage().rss - rss0) / 1048576;
  console.log(`vmlinux: ${btf.count} types, parse ${(t1 - t0).toFixed(1)} ms, first lookup ${(t2 - t1).toFixed(1)} ms, RSS +${rss.toFixed(1)} MiB (excluding the file read)`);
  assert.ok(ts !== undefined);
  const task = btf.type(ts);
  assert.equal(task.kind, "struct");
  const pid = btf.findMember(ts, "pid");
  assert.ok(pid);
  assert.equal(btf.sizeof(pid.member.typeId), 4);
  assert.equal(btf.typeName(btf.findByName("pid_t", "typedef")!), "pid_t");
  assert.equal(btf.kindOf(btf.resolve(pid.member.typeId)), "int");
  const comm = btf.findMember(ts, "comm")!;
  assert.equal(btf.typeName(comm.member.typeId), "char [16]");
  assert.equal(btf.sizeof(comm.member.typeId), 16);
  const e = btf.type(btf.findByName("bpf_func_id", "enum")!);
  assert.ok(e.kind === "enum");
  assert.equal(e.values.find((v) => v.name === "BPF_FUNC_map_lookup_elem")?.value, 1n);
  assert.equal(btf.findByName("task_struct", "union"), undefined);
  assert.equal(btf.findByName("no_such_type_xyz"), undefined);
  assert.deepEqual(btf.findAllByName("task_struct", "struct"), [ts]);
  const ptr = btf.findAllByName("task_struct").length;
  assert.ok(ptr >= 1);
  // A pointer to task_struct somewhere formats C-like.
  const parent = btf.findMember(ts, "real_parent")!;
  assert.equal(btf.typeName(parent.member.typeId), "struct task_struct *");
  assert.equal(btf.sizeof(parent.member.typeId), 8);
  assert.ok(btf.alignof(ts) >= 8);
  assert.ok(btf.sizeof(ts) === (task as { size: number }).size);
  // Cached instance.
  assert.equal(loadKernelBtf(), loadKernelBtf());
  assert.throws(() => btf.type(btf.count), BtfError);
  assert.throws(() => btf.sizeof(btf.findByName("schedule", "func")!), BtfError);
});

test("split BTF: kernel module from /sys/kernel/btf", (t) => {
  if (!existsSync(VMLINUX)) { t.skip("no kernel BTF"); return; }
  const mods = readdirSync("/sys/kernel/btf").filter((n) => n !== "vmlinux");
  if (mods.length === 0) {
    // The VM runner's guest loads modules (virtio, 9p, overlay) from Debian's kernel, which has module BTF.
    assert.notEqual(process.env.TSBPF_VM, "1", "the VM guest has modules loaded: /sys/kernel/btf should list them");
    t.skip("no module BTF files in /sys/kernel/btf (no modules loaded)");
    return;
  }
  const base = loadKernelBtf();
  const m = loadModuleBtf(mods[0]!);
  assert.equal(m.firstId, base.count);
  assert.ok(m.count >= m.firstId);
  for (const ty of m.types()) void ty; // decodes every type: ids and strings resolve against the base
});

test("split BTF: synthetic module on top of a base", () => {
  const base = Btf.parse(writeBtf([
    { kind: "int", name: "int", size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false },
    { kind: "struct", name: "base_s", size: 4, members: [{ name: "x", typeId: 1, bitOffset: 0, bitfieldSize: 0 }] },
  ]));
  const b = new BtfBuilder({ base });
  assert.equal(b.nextId, 3);
  const p = b.add({ kind: "ptr", name: "", typeId: 2 });
  b.add({ kind: "struct", name: "mod_s", size: 8, members: [{ name: "int", typeId: p, bitOffset: 0, bitfieldSize: 0 }] });
  const split = Btf.parse(b.toBytes(), { base });
  assert.equal(split.count, 5);
  assert.equal(split.firstId, 3);
  assert.equal(split.findByName("mod_s", "struct"), 4);
  assert.equal(split.findByName("base_s", "struct"), 2);
  assert.deepEqual(split.findAllByName("int"), [1]);
  assert.equal(split.typeName(3), "struct base_s *");
  const s = split.type(4);
  assert.ok(s.kind === "struct");
  assert.equal(s.members[0]!.name, "int"); // a name stored in the split string section
  // Round trip of split BTF, both byte orders.
  for (const le of [true, false]) {
    const again = Btf.parse(rewriteBtf(split, { littleEndian: le }), { base });
    assert.equal(again.littleEndian, le);
    assert.deepEqual(allTypes(again), allTypes(split));
  }
  // Without its base the split blob's references are out of range.
  assert.throws(() => { const x = Btf.parse(b.toBytes()); for (const ty of x.types()) void ty; }, BtfError);
});

test("clang object: kinds, bitfields, enum64, signed enum, tags", () => {
  const { btf } = fixture();
  const flags = btf.getByName("flags", "struct");
  assert.ok(flags.kind === "struct");
  assert.deepEqual(flags.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize]), [
    ["a", 0, 3], ["b", 3, 5], ["c", 8, 7], ["d", 15, 40], ["name", 56, 0],
  ]);
  assert.equal(btf.typeName(flags.members[4]!.typeId), "char [6]");
  assert.equal(btf.sizeof(flags.id), 16);
  assert.equal(btf.alignof(flags.id), 8);
  const big = btf.getByName("big", "enum64");
  assert.ok(big.kind === "enum64");
  assert.equal(big.signed, false);
  assert.deepEqual(big.values.map((v) => v.value), [1n, 0xfedcba9876543210n]);
  const small = btf.getByName("small", "enum");
  assert.ok(small.kind === "enum");
  assert.equal(small.signed, true);
  assert.deepEqual(small.values.map((v) => v.value), [-3n, 7n]);
  const helper = btf.getByName("helper_fn", "func");
  assert.ok(helper.kind === "func");
  assert.equal(helper.linkage, "static");
  assert.equal(btf.typeName(helper.id), "int helper_fn(struct flags *f)");
  const main = btf.getByName("on_getpid", "func");
  assert.ok(main.kind === "func" && main.linkage === "global");
  const tag = btf.getByName("arg", "decl_tag");
  assert.ok(tag.kind === "decl_tag");
  assert.equal(tag.typeId, helper.id);
  assert.equal(tag.componentIdx, 0);
  const ttag = btf.getByName("user", "type_tag");
  assert.ok(ttag.kind === "type_tag");
  const tp = btf.type(btf.getByName("tagged_ptr", "var").id);
  assert.ok(tp.kind === "var");
  assert.equal(btf.typeName(tp.typeId), "int *");
  assert.equal(btf.kindOf(btf.skipModifiers(ttag.id)), "int");
  assert.equal(btf.getByName("double", "float").kind, "float");
  const limit = btf.getByName("limit", "var");
  assert.ok(limit.kind === "var");
  assert.equal(btf.typeName(limit.typeId), "const volatile int");
  assert.equal(btf.kindOf(btf.resolve(limit.typeId)), "int");
  assert.equal(btf.sizeof(limit.id), 4);
  assert.throws(() => btf.getByName("nope", "struct"), BtfError);
  assert.throws(() => btf.sizeof(0), BtfError);
});

test("writer: round trip of the clang object and of vmlinux, both byte orders", (t) => {
  const { btf } = fixture();
  for (const le of [true, false]) {
    const out = rewriteBtf(btf, { littleEndian: le });
    const again = Btf.parse(out);
    assert.equal(again.littleEndian, le);
    assert.deepEqual(allTypes(again), allTypes(btf));
    // parse(write(parse(x))) is a fixed point.
    assert.deepEqual(rewriteBtf(again, { littleEndian: le }), out);
    // Raw byte-order conversion keeps ids and string offsets.
    const conv = Btf.parse(convertBtfByteOrder(btf.rawBytes, le));
    assert.equal(conv.littleEndian, le);
    assert.deepEqual(allTypes(conv), allTypes(btf));
    assert.equal(conv.stringsLength, btf.stringsLength);
  }
  if (!existsSync(VMLINUX)) { t.diagnostic("vmlinux absent: skipped its round trip"); return; }
  const k = Btf.parse(readFileSync(VMLINUX));
  const be = Btf.parse(rewriteBtf(k, { littleEndian: false }));
  assert.equal(be.count, k.count);
  for (const id of [1, 2, k.findByName("task_struct", "struct")!, k.count - 1]) assert.deepEqual(be.type(id), k.type(id));
  assert.equal(be.findByName("task_struct", "struct"), k.findByName("task_struct", "struct"));
});

test("writer: builder validates fields", () => {
  const b = new BtfBuilder();
  assert.throws(() => b.add({ kind: "enum", name: "e", size: 4, signed: false, values: [{ name: "X", value: -1n }] }), BtfError);
  assert.throws(() => b.add({ kind: "int", name: "i", size: -1, bits: 8, offset: 0, signed: false, char: false, bool: false }), BtfError);
  assert.throws(() => b.add({ kind: "struct", name: "s", size: 4, members: [{ name: "m", typeId: 1, bitOffset: 1 << 24, bitfieldSize: 3 }] }), BtfError);
  const types: BtfTypeInit[] = [
    { kind: "int", name: "u8", size: 1, bits: 8, offset: 0, signed: false, char: false, bool: false },
    { kind: "enum", name: "neg", size: 4, signed: true, values: [{ name: "M", value: -(2n ** 31n) }] },
    { kind: "enum64", name: "e64", size: 8, signed: true, values: [{ name: "MIN", value: -(2n ** 63n) }] },
    { kind: "fwd", name: "u", union: true },
    { kind: "func_proto", name: "", returnTypeId: 0, params: [{ name: "a", typeId: 1 }, { name: "", typeId: 0 }] },
    { kind: "func", name: "f", typeId: 5, linkage: "extern" },
    { kind: "restrict", name: "", typeId: 1 },
    { kind: "decl_tag", name: "t", typeId: 6, componentIdx: -1, attribute: true },
    { kind: "type_tag", name: "tt", typeId: 1, attribute: false },
  ];
  const btf = Btf.parse(writeBtf(types));
  assert.deepEqual(allTypes(btf).map(({ id: _id, ...rest }) => rest), types);
  assert.equal(btf.typeName(6), "void f(u8 a, ...)");
  assert.equal(btf.typeName(4), "union u");
});

test("datasec fixup: sizes and offsets from the ELF, vars sorted", () => {
  const { elf, btf } = fixture();
  const sizes = new Map(elf.sections.map((s) => [s.name, s.size]));
  const syms = elf.symbols;
  const offsetOf = (sec: string, name: string) => {
    const s = elf.sectionByName(sec);
    return syms.find((y) => y.name === name && s && y.shndx === s.index)?.value;
  };
  const fixed = Btf.parse(fixupDatasecs(btf, sizes, offsetOf));
  assert.equal(fixed.count, btf.count);
  assert.equal(fixed.stringsLength, btf.stringsLength);
  for (const name of [".bss", ".data", ".rodata", ".maps"]) {
    const d = fixed.getByName(name, "datasec");
    assert.ok(d.kind === "datasec");
    assert.equal(d.size, elf.sectionByName(name)!.size, `${name} size`);
    const offs = d.vars.map((v) => v.offset);
    assert.deepEqual(offs, [...offs].sort((a, b) => a - b), `${name} sorted`);
    for (const v of d.vars) assert.equal(v.offset, offsetOf(name, fixed.name(v.typeId)));
  }
  const bss = fixed.getByName(".bss", "datasec");
  assert.ok(bss.kind === "datasec");
  assert.deepEqual(bss.vars.map((v) => fixed.name(v.typeId)).sort(), ["also_zeroed", "tagged_ptr", "zeroed"]);
  assert.ok(new Set(bss.vars.map((v) => v.offset)).size === 3);
  // Everything else is untouched.
  for (const ty of btf.types()) if (ty.kind !== "datasec") assert.deepEqual(fixed.type(ty.id), ty);
});

test("sanitize: replaces kinds an older kernel lacks, keeping ids and strings", () => {
  const { btf } = fixture();
  const none = { declTag: false, typeTag: false, float: false, enum64: false, funcLinkage: false, datasec: false };
  const s = Btf.parse(sanitizeBtf(btf, none));
  assert.equal(s.count, btf.count + 1); // the enum64 placeholder
  for (const ty of s.types()) {
    assert.ok(!["decl_tag", "type_tag", "float", "enum64", "var", "datasec"].includes(ty.kind), `no ${ty.kind} left (id ${ty.id})`);
    if (ty.kind === "func") assert.equal(ty.linkage, "static");
    if (ty.kind === "enum") assert.equal(ty.signed, false);
    if (ty.kind === "struct" && ty.name === "_bss") assert.deepEqual(ty.members.map((m) => m.name), ["zeroed", "also_zeroed", "tagged_ptr"]);
  }
  const big = s.type(btf.findByName("big", "enum64")!);
  assert.ok(big.kind === "union" && big.size === 8 && big.members.length === 2);
  assert.equal(s.name(big.members[0]!.typeId), "enum64_placeholder");
  assert.equal(s.type(btf.findByName("double", "float")!).kind, "struct");
  assert.equal(s.sizeof(btf.findByName("double", "float")!), 8);
  assert.ok(s.findByName("_rodata", "struct"));
  // Strings already in the table keep their offsets; nothing changes when everything is supported.
  for (let off = 0; off < btf.stringsLength; off = btf.rawBytes.indexOf(0, btf.layout.strStart + off) - btf.layout.strStart + 1) {
    assert.equal(s.string(off), btf.string(off));
  }
  const all = { declTag: true, typeTag: true, float: true, enum64: true, funcLinkage: true, datasec: true };
  assert.deepEqual(allTypes(Btf.parse(sanitizeBtf(btf, all))), allTypes(btf));
});

test("sanitize: FLOAT becomes a struct with an identifier for a name; FUNC and FUNC_PROTO for kernels before 5.0", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: "int", name: "int", size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false });
  const ld = b.add({ kind: "float", name: "long double", size: 16 });
  const proto = b.add({ kind: "func_proto", name: "", returnTypeId: int, params: [{ name: "a", typeId: int }, { name: "b", typeId: ld }] });
  const fn = b.add({ kind: "func", name: "f", typeId: proto, linkage: "global" });
  const tag = b.add({ kind: "decl_tag", name: "arg", typeId: fn, componentIdx: 0, attribute: false });
  const btf = Btf.parse(b.toBytes());
  const all = { declTag: true, typeTag: true, float: true, enum64: true, funcLinkage: true, func: true, datasec: true };
  const f = Btf.parse(sanitizeBtf(btf, { ...all, float: false })).type(ld);
  assert.deepEqual([f.kind, f.name, (f as { size: number }).size], ["struct", "float_long_double", 16]);
  // Only global linkage missing (5.0 to 5.5): the function stays, static.
  const st = Btf.parse(sanitizeBtf(btf, { ...all, funcLinkage: false })).type(fn);
  assert.ok(st.kind === "func" && st.linkage === "static" && st.typeId === proto);
  // No FUNC at all: FUNC → TYPEDEF of the same name, FUNC_PROTO → a 4-byte ENUM with one value per
  // parameter; a tag on a parameter cannot stay.
  const old = Btf.parse(sanitizeBtf(btf, { ...all, func: false }));
  const td = old.type(fn);
  assert.ok(td.kind === "typedef" && td.name === "f" && td.typeId === proto);
  const en = old.type(proto);
  assert.ok(en.kind === "enum" && en.size === 4);
  assert.deepEqual(en.values.map((v) => v.name), ["a", "b"]);
  assert.equal(old.type(tag).kind, "int");
  assert.equal(old.count, btf.count);
  // Linkage alone does not touch functions when FUNC is supported and linkage is.
  assert.equal(Btf.parse(sanitizeBtf(btf, all)).type(fn).kind, "func");
});

test("name index agrees with a linear scan, for every kind and without a kind; flavoured names", (t) => {
  if (!existsSync(VMLINUX)) { t.skip(`${VMLINUX} is absent (kernel built without CONFIG_DEBUG_INFO_BTF)`); return; }
  const btf = Btf.parse(readFileSync(VMLINUX));
  // Every 97th type's name (all kinds, functions included), plus names with several types.
  const byName = new Map<string, number[]>();
  for (let id = 1; id < btf.count; id++) {
    const name = btf.name(id);
    if (name === "") continue;
    let l = byName.get(name);
    if (!l) byName.set(name, (l = []));
    l.push(id);
  }
  const names = [...byName.keys()].filter((_, i) => i % 97 === 0);
  names.push(...[...byName].filter(([, ids]) => ids.length > 2).slice(0, 50).map(([n]) => n));
  for (const name of names) {
    const ids = byName.get(name)!;
    assert.deepEqual(btf.findAllByName(name), ids, name);
    assert.equal(btf.findByName(name), ids[0], name);
    for (const kind of new Set(ids.map((id) => btf.kindOf(id)))) {
      const want = ids.filter((id) => btf.kindOf(id) === kind);
      assert.deepEqual(btf.findAllByName(name, kind), want, `${kind} ${name}`);
      assert.equal(btf.findByName(name, kind), want[0], `${kind} ${name}`);
    }
  }
  const flavourKinds = new Set(["int", "struct", "union", "enum", "enum64", "fwd", "typedef", "float", "var", "datasec"]);
  const want = [...byName].filter(([n]) => n.includes("___")).flatMap(([, ids]) => ids).filter((id) => flavourKinds.has(btf.kindOf(id)));
  const got = btf.flavouredTypeIds().filter((id) => btf.name(id).includes("___"));
  assert.deepEqual(got, want.sort((a, b) => a - b));

  // Split BTF whose names point into the base's strings.
  const base = Btf.parse(writeBtf([
    { kind: "int", name: "int", size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false },
    { kind: "struct", name: "thing___v2", size: 4, members: [{ name: "x", typeId: 1, bitOffset: 0, bitfieldSize: 0 }] },
  ]));
  const b = new BtfBuilder({ base });
  b.add({ kind: "struct", name: "thing___v2", size: 8, members: [] });
  b.add({ kind: "func_proto", name: "", returnTypeId: 1, params: [] });
  const split = Btf.parse(b.toBytes(), { base });
  assert.deepEqual(split.findAllByName("thing___v2"), [2, 3]);
  assert.deepEqual(split.flavouredTypeIds().filter((id) => split.name(id).includes("___")), [2, 3]);
});
