/**
 * The C header generator (vmlinux.h) and the raw listing.
 *
 * Kernel-free: a synthetic BTF covering bitfields, anonymous members, function pointers, arrays of
 * pointers to arrays, packed structs, enum64, forward-declared cycles and name conflicts, checked
 * against exact text, then compiled with clang (when installed) together with layout assertions.
 * With /sys/kernel/btf/vmlinux (read-only, no privileges): the whole kernel's header compiles, a
 * CO-RE program and the readhist example compile against it, every struct's layout as clang sees
 * it equals the kernel's BTF, and the names and the raw listing match bpftool's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Btf, BtfBuilder, loadKernelBtf, type BtfComposite, type BtfMember, type BtfTypeInit } from "../../src/btf/index.js";
import { formatBtfAsC } from "../../src/btf/format-c.js";
import { PAD_ARRAY_MIN_BITS, padding } from "../../src/btf/format-layout.js";
import { formatBtfRaw } from "../../src/btf/format-raw.js";
import { parseElf } from "../../src/elf/index.js";
import { BtfError } from "../../src/errors.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const CLANG = process.env.CLANG ?? "clang-19";
const ROOT = new URL("../../../", import.meta.url).pathname;
const haveClang = spawnSync(CLANG, ["--version"]).status === 0;
const haveBpftool = spawnSync("bpftool", ["version"]).status === 0;
const CFLAGS = ["-g", "-O2", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86", "-Wall", "-Wno-unused-function"];
const sysInc = ["/usr/include/x86_64-linux-gnu"].filter((d) => existsSync(join(d, "asm/types.h"))).flatMap((d) => ["-idirafter", d]);

function tmp(): string { return mkdtempSync(join(tmpdir(), "tsbpf-btf-format-")); }

/** Compiles `file` in `dir` to an object; returns clang's diagnostics, or throws with them on failure. */
function compile(dir: string, file: string, extra: string[] = []): string {
  const r = spawnSync(CLANG, [...CFLAGS, ...extra, ...sysInc, "-c", join(dir, file), "-o", join(dir, `${file}.o`)], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${CLANG} failed on ${file}:\n${r.stderr.split("\n").slice(0, 40).join("\n")}`);
  return r.stderr;
}

function objectBtf(path: string): Btf {
  const sec = parseElf(readFileSync(path)).sectionByName(".BTF");
  assert.ok(sec, `${path} has a .BTF section`);
  return Btf.parse(sec.data);
}

/**
 * `_Static_assert`s on the size of each given struct/union and the offset of each of its members
 * that offsetof can name (bitfields cannot be named; members of anonymous members can).
 */
function layoutAsserts(btf: Btf, ids: number[]): string {
  const lines: string[] = [];
  for (const id of ids) {
    const t = btf.type(id) as BtfComposite;
    const c = `${t.kind} ${t.name}`;
    lines.push(`_Static_assert(sizeof(${c}) == ${t.size}, "sizeof ${c}");`);
    const walk = (members: readonly BtfMember[], base: number) => {
      for (const m of members) {
        const off = base + m.bitOffset;
        if (m.name === "") {
          const inner = btf.type(btf.resolve(m.typeId));
          if (inner.kind === "struct" || inner.kind === "union") walk(inner.members, off);
        } else if (m.bitfieldSize === 0) {
          lines.push(`_Static_assert(__builtin_offsetof(${c}, ${m.name}) == ${off / 8}, "${c}.${m.name}");`);
        }
      }
    };
    walk(t.members, 0);
  }
  return lines.join("\n");
}

/**
 * Compiles `header` with a global of every struct and union it defines, reads the BTF clang wrote
 * for them, and checks that each has the size, member names, offsets and bitfield sizes of a type
 * of the same kind and name in the source BTF (`name___N` in the header stands for `name`), and
 * that each of `ids` was seen. Returns how many compiled types were checked.
 */
function roundTrip(btf: Btf, header: string, ids: number[]): number {
  const dir = tmp();
  try {
    writeFileSync(join(dir, "vmlinux.h"), header);
    const selected = new Set(ids.map((id) => `${btf.type(id).kind} ${btf.type(id).name}`));
    const defined = [...header.matchAll(/^(struct|union) (\w+) \{/gm)]
      .filter((m) => selected.has(`${m[1]} ${m[2]!.replace(/___\d+$/, "")}`)).map((m) => `${m[1]} ${m[2]}`);
    writeFileSync(join(dir, "rt.c"), `#include "vmlinux.h"\n${defined.map((n, i) => `${n} __g${i};`).join("\n")}\n`);
    compile(dir, "rt.c");
    const out = objectBtf(join(dir, "rt.c.o"));
    const shape = (t: BtfComposite) => `${t.size}:${t.members.map((m) => `${m.name}@${m.bitOffset}/${m.bitfieldSize}`).join(",")}`;
    const want = new Map<string, Set<string>>();
    for (const id of ids) {
      const t0 = btf.type(id) as BtfComposite;
      const k = `${t0.kind} ${t0.name}`;
      if (want.has(k)) continue;
      // Every type of that kind and name: the header's name___N ones are among them.
      want.set(k, new Set(btf.findAllByName(t0.name, t0.kind).map((j) => shape(btf.type(j) as BtfComposite))));
    }
    let checked = 0;
    const seen = new Set<string>();
    for (const t of out.types()) {
      if ((t.kind !== "struct" && t.kind !== "union") || t.name === "") continue;
      const k = `${t.kind} ${t.name.replace(/___\d+$/, "")}`;
      const shapes = want.get(k);
      if (!shapes) continue;
      assert.ok(shapes.has(shape(t)), `${t.kind} ${t.name} as compiled: ${shape(t).slice(0, 300)}\nBTF: ${[...shapes].join(" | ").slice(0, 300)}`);
      seen.add(k);
      checked++;
    }
    for (const k of want.keys()) assert.ok(seen.has(k), `${k} is in the compiled object's BTF`);
    return checked;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- synthetic BTF ----

type Def = readonly [string, (r: (k: string) => number) => BtfTypeInit];

function build(defs: readonly Def[]): { btf: Btf; id: (k: string) => number } {
  const ids = new Map(defs.map(([k], i) => [k, i + 1]));
  const id = (k: string) => {
    if (k === "void") return 0;
    const v = ids.get(k);
    if (v === undefined) throw new Error(`no synthetic type ${k}`);
    return v;
  };
  const b = new BtfBuilder();
  for (const [, f] of defs) b.add(f(id));
  return { btf: Btf.parse(b.toBytes()), id };
}

const int = (name: string, size: number, signed: boolean, char = false): BtfTypeInit => ({ kind: "int", name, size, bits: size * 8, offset: 0, signed, char, bool: false });
const mem = (name: string, typeId: number, bitOffset: number, bitfieldSize = 0): BtfMember => ({ name, typeId, bitOffset, bitfieldSize });
const struct = (name: string, size: number, members: BtfMember[], kind: "struct" | "union" = "struct"): BtfTypeInit => ({ kind, name, size, members });
const ptr = (typeId: number): BtfTypeInit => ({ kind: "ptr", name: "", typeId });
const arr = (elemTypeId: number, nelems: number, indexTypeId: number): BtfTypeInit => ({ kind: "array", name: "", elemTypeId, indexTypeId, nelems });
const proto = (returnTypeId: number, params: Array<[string, number]>): BtfTypeInit => ({ kind: "func_proto", name: "", returnTypeId, params: params.map(([name, typeId]) => ({ name, typeId })) });
const enm = (kind: "enum" | "enum64", name: string, size: number, signed: boolean, values: Array<[string, bigint]>): BtfTypeInit => ({ kind, name, size, signed, values: values.map(([n, value]) => ({ name: n, value })) });

const SYNTH: readonly Def[] = [
  ["int", () => int("int", 4, true)],
  ["uint", () => int("unsigned int", 4, false)],
  ["char", () => int("char", 1, true, true)],
  ["ushort", () => int("short unsigned int", 2, false)],
  ["ulong", () => int("long unsigned int", 8, false)],
  ["void*", () => ptr(0)],
  ["const char", (r) => ({ kind: "const", name: "", typeId: r("char") })],
  ["const char*", (r) => ptr(r("const char"))],
  ["const void", () => ({ kind: "const", name: "", typeId: 0 })],
  ["const void*", (r) => ptr(r("const void"))],
  // bitfields with a gap
  ["struct bits", (r) => struct("bits", 24, [mem("a", r("uint"), 0, 3), mem("b", r("uint"), 3, 5), mem("c", r("uint"), 16, 4), mem("d", r("ulong"), 64), mem("e", r("char"), 128)])],
  // anonymous union with an anonymous struct inside
  ["anon lohi", (r) => struct("", 4, [mem("lo", r("ushort"), 0), mem("hi", r("ushort"), 16)])],
  ["char[4]", (r) => arr(r("char"), 4, r("int"))],
  ["anon union", (r) => struct("", 4, [mem("i", r("int"), 0), mem("", r("anon lohi"), 0), mem("bytes", r("char[4]"), 0)], "union")],
  ["struct anon", (r) => struct("anon", 8, [mem("kind", r("int"), 0), mem("", r("anon union"), 32)])],
  // function pointers, arrays of pointers, pointers to arrays of pointers to arrays
  ["struct ops*", (r) => ptr(r("struct ops"))],
  ["proto fn", (r) => proto(r("int"), [["", r("struct ops*")], ["", r("int")]])],
  ["fn*", (r) => ptr(r("proto fn"))],
  ["proto void", () => proto(0, [])],
  ["void fn*", (r) => ptr(r("proto void"))],
  ["cb[2]", (r) => arr(r("void fn*"), 2, r("int"))],
  ["char(*)[4]", (r) => ptr(r("char[4]"))],
  ["char(*[3])[4]", (r) => arr(r("char(*)[4]"), 3, r("int"))],
  ["grid", (r) => ptr(r("char(*[3])[4]"))],
  ["int[8]", (r) => arr(r("int"), 8, r("int"))],
  ["int(*)[8]", (r) => ptr(r("int[8]"))],
  ["rows", (r) => arr(r("int(*)[8]"), 2, r("int"))],
  ["struct ops", (r) => struct("ops", 48, [mem("fn", r("fn*"), 0), mem("cb", r("cb[2]"), 64), mem("grid", r("grid"), 192), mem("rows", r("rows"), 256)])],
  ["proto cmp", (r) => proto(r("int"), [["", r("const void*")], ["", r("const void*")]])],
  ["cmp*", (r) => ptr(r("proto cmp"))],
  ["cmp_fn", (r) => ({ kind: "typedef", name: "cmp_fn", typeId: r("cmp*") })],
  ["proto log", (r) => proto(0, [["fmt", r("const char*")], ["", 0]])],
  ["log*", (r) => ptr(r("proto log"))],
  ["log_fn", (r) => ({ kind: "typedef", name: "log_fn", typeId: r("log*") })],
  ["proto handler", (r) => proto(0, [["", r("int")]])],
  ["handler*", (r) => ptr(r("proto handler"))],
  ["proto signal", (r) => proto(r("handler*"), [["", r("int")], ["", r("handler*")]])],
  ["signal*", (r) => ptr(r("proto signal"))],
  ["signal_fn", (r) => ({ kind: "typedef", name: "signal_fn", typeId: r("signal*") })],
  // packed and over-aligned structs
  ["struct pk", (r) => struct("pk", 5, [mem("c", r("char"), 0), mem("i", r("int"), 8)])],
  ["struct al", (r) => struct("al", 16, [mem("x", r("int"), 0)])],
  ["struct outer_pk", (r) => struct("outer_pk", 6, [mem("a", r("char"), 0), mem("p", r("struct pk"), 8)])],
  ["struct bf_pk", (r) => struct("bf_pk", 5, [mem("a", r("uint"), 0, 30), mem("b", r("uint"), 30, 4)])],
  // enums
  ["enum big", () => enm("enum64", "big", 8, false, [["B0", 0n], ["B1", 1n << 40n], ["BMAX", 2n ** 64n - 1n]])],
  ["enum sbig", () => enm("enum64", "sbig", 8, true, [["S_MIN", -(2n ** 63n)], ["S_NEG", -1n], ["S_POS", 1n]])],
  ["enum small", () => enm("enum", "small", 1, false, [["X0", 0n], ["X1", 1n]])],
  ["enum neg", () => enm("enum", "neg", 4, true, [["N", -1n], ["P", 2147483647n]])],
  ["enum w64", () => enm("enum64", "w64", 8, false, [["W", 1n]])],
  ["anon enum", () => enm("enum", "", 4, false, [["LONELY", 7n]])],
  ["struct uses_enums", (r) => struct("uses_enums", 24, [mem("s", r("enum small"), 0), mem("n", r("enum neg"), 8, 3), mem("w", r("enum w64"), 64), mem("b", r("enum big"), 128)])],
  // cycles: through pointers, and through a typedef
  ["struct a", (r) => struct("a", 8, [mem("pb", r("struct b*"), 0)])],
  ["struct b*", (r) => ptr(r("struct b"))],
  ["struct b", (r) => struct("b", 16, [mem("pa", r("struct a*"), 0), mem("inl", r("struct a"), 64)])],
  ["struct a*", (r) => ptr(r("struct a"))],
  ["node_t", (r) => ({ kind: "typedef", name: "node_t", typeId: r("struct node") })],
  ["node_t*", (r) => ptr(r("node_t"))],
  ["struct node", (r) => struct("node", 16, [mem("next", r("node_t*"), 0), mem("v", r("int"), 64)])],
  // name conflicts
  ["struct dup1", (r) => struct("dup", 4, [mem("a", r("int"), 0)])],
  ["struct dup2", (r) => struct("dup", 8, [mem("b", r("ulong"), 0)])],
  ["struct holder", (r) => struct("holder", 16, [mem("x", r("struct dup2"), 0), mem("y", r("struct dup1"), 64)])],
  ["handle1", (r) => ({ kind: "typedef", name: "handle_t", typeId: r("int") })],
  ["handle2", (r) => ({ kind: "typedef", name: "handle_t", typeId: r("ulong") })],
  ["struct handles", (r) => struct("handles", 16, [mem("h1", r("handle1"), 0), mem("h2", r("handle2"), 64)])],
  ["enum e1", () => enm("enum", "e1", 4, false, [["SAME", 1n]])],
  ["enum e2", () => enm("enum", "e2", 4, false, [["SAME", 2n]])],
  ["fwd opaque", () => ({ kind: "fwd", name: "opaque", union: false })],
  ["opaque*", (r) => ptr(r("fwd opaque"))],
  ["struct has_opaque", (r) => struct("has_opaque", 8, [mem("o", r("opaque*"), 0)])],
  // qualifiers and tags
  ["volatile int", (r) => ({ kind: "volatile", name: "", typeId: r("int") })],
  ["char*", (r) => ptr(r("char"))],
  ["char* const", (r) => ({ kind: "const", name: "", typeId: r("char*") })],
  ["char* restrict", (r) => ({ kind: "restrict", name: "", typeId: r("char*") })],
  ["const char* const", (r) => ({ kind: "const", name: "", typeId: r("const char*") })],
  ["argv", (r) => ptr(r("const char* const"))],
  ["user int", (r) => ({ kind: "type_tag", name: "user", typeId: r("int"), attribute: false })],
  ["user int*", (r) => ptr(r("user int"))],
  ["struct quals", (r) => struct("quals", 40, [mem("v", r("volatile int"), 0), mem("cp", r("char* const"), 64), mem("rp", r("char* restrict"), 128), mem("argv", r("argv"), 192), mem("up", r("user int*"), 256)])],
  ["decl tag", (r) => ({ kind: "decl_tag", name: "key", typeId: r("struct quals"), componentIdx: 1, attribute: false })],
];

const synth = () => build(SYNTH);

test("format C: padding fills gaps with unnamed bitfields that fit their storage unit", () => {
  assert.deepEqual(padding(8, 16), ["char: 8"]);
  assert.deepEqual(padding(32, 128), ["int: 32", "long: 64"]);
  assert.deepEqual(padding(3, 64), ["long: 61"]);
  assert.deepEqual(padding(20, 24), ["char: 4"]);
  assert.deepEqual(padding(0, 0), []);
});

test("format C: bitfields, anonymous members, function pointers and arrays (exact text)", () => {
  const { btf, id } = synth();
  const one = (k: string) => formatBtfAsC(btf, { header: false, ids: [id(k)] });
  assert.equal(one("struct bits"), [
    "struct bits {", "\tunsigned int a: 3;", "\tunsigned int b: 5;", "\tchar: 8;", "\tunsigned int c: 4;",
    "\tlong unsigned int d;", "\tchar e;", "};", "", ""].join("\n"));
  assert.equal(one("struct anon"), [
    "struct anon {", "\tint kind;", "\tunion {", "\t\tint i;", "\t\tstruct {", "\t\t\tshort unsigned int lo;",
    "\t\t\tshort unsigned int hi;", "\t\t};", "\t\tchar bytes[4];", "\t};", "};", "", ""].join("\n"));
  assert.equal(one("struct ops"), [
    "struct ops {", "\tint (*fn)(struct ops *, int);", "\tvoid (*cb[2])(void);", "\tchar (*(*grid)[3])[4];",
    "\tint (*rows[2])[8];", "};", "", ""].join("\n"));
  assert.equal(one("cmp_fn"), "typedef int (*cmp_fn)(const void *, const void *);\n\n");
  assert.equal(one("log_fn"), "typedef void (*log_fn)(const char *fmt, ...);\n\n");
  assert.equal(one("signal_fn"), "typedef void (* (*signal_fn)(int, void (*)(int)))(int);\n\n");
});

test("format C: packed, over-aligned and enum layouts (exact text)", () => {
  const { btf, id } = synth();
  const one = (k: string) => formatBtfAsC(btf, { header: false, ids: [id(k)] });
  assert.equal(one("struct pk"), "struct pk {\n\tchar c;\n\tint i;\n} __attribute__((packed));\n\n");
  assert.equal(one("struct al"), "struct al {\n\tint x;\n\tint: 32;\n\tlong: 64;\n};\n\n");
  // Contains a packed struct, yet needs no packing itself (pk's alignment is 1).
  assert.match(one("struct outer_pk"), /struct outer_pk \{\n\tchar a;\n\tstruct pk p;\n\};\n\n$/);
  // b straddles a 32-bit unit: only a packed struct puts it at bit 30.
  assert.equal(one("struct bf_pk"), "struct bf_pk {\n\tunsigned int a: 30;\n\tunsigned int b: 4;\n} __attribute__((packed));\n\n");
  assert.equal(one("enum big"), "enum big {\n\tB0 = 0ULL,\n\tB1 = 1099511627776ULL,\n\tBMAX = 18446744073709551615ULL,\n};\n\n");
  assert.equal(one("enum sbig"), "enum sbig {\n\tS_MIN = (-9223372036854775807LL - 1),\n\tS_NEG = -1LL,\n\tS_POS = 1LL,\n};\n\n");
  assert.equal(one("enum small"), "enum small {\n\tX0 = 0,\n\tX1 = 1,\n} __attribute__((mode(byte)));\n\n");
  assert.equal(one("enum neg"), "enum neg {\n\tN = -1,\n\tP = 2147483647,\n};\n\n");
  assert.equal(one("enum w64"), "enum w64 {\n\tW = 1ULL,\n} __attribute__((mode(word)));\n\n");
});

test("format C: forward declarations break cycles; a struct comes before what embeds it", () => {
  const { btf, id } = synth();
  assert.equal(formatBtfAsC(btf, { header: false, ids: [id("struct a"), id("struct b")] }),
    "struct b;\n\nstruct a {\n\tstruct b *pb;\n};\n\nstruct b {\n\tstruct a *pa;\n\tstruct a inl;\n};\n\n");
  // Starting from b, a is defined first because b embeds it.
  assert.equal(formatBtfAsC(btf, { header: false, ids: [id("struct b")] }),
    "struct b;\n\nstruct a {\n\tstruct b *pb;\n};\n\nstruct b {\n\tstruct a *pa;\n\tstruct a inl;\n};\n\n");
  assert.equal(formatBtfAsC(btf, { header: false, ids: [id("node_t")] }),
    "struct node;\n\ntypedef struct node node_t;\n\nstruct node {\n\tnode_t *next;\n\tint v;\n};\n\n");
});

test("format C: name conflicts get ___N suffixes like libbpf; qualifiers and tags", () => {
  const { btf } = synth();
  const h = formatBtfAsC(btf, { header: false });
  assert.match(h, /^struct dup \{\n\tint a;\n\};$/m);
  assert.match(h, /^struct dup___2 \{\n\tlong unsigned int b;\n\};$/m);
  assert.match(h, /^struct holder \{\n\tstruct dup___2 x;\n\tstruct dup y;\n\};$/m);
  assert.match(h, /^typedef int handle_t;$/m);
  assert.match(h, /^typedef long unsigned int handle_t___2;$/m);
  assert.match(h, /^struct handles \{\n\thandle_t h1;\n\thandle_t___2 h2;\n\};$/m);
  assert.match(h, /^enum e1 \{\n\tSAME = 1,\n\};$/m);
  assert.match(h, /^enum e2 \{\n\tSAME___2 = 2,\n\};$/m);
  assert.match(h, /^enum \{\n\tLONELY = 7,\n\};$/m);
  assert.match(h, /^struct opaque;$/m);
  assert.equal(formatBtfAsC(btf, { header: false, ids: [SYNTH.findIndex(([k]) => k === "struct quals") + 1] }), [
    "struct quals {", "\tvolatile int v;", '\tchar * const cp __attribute__((btf_decl_tag("key")));', "\tchar * restrict rp;",
    "\tconst char * const *argv;", '\tint __attribute__((btf_type_tag("user"))) *up;', "};", "", ""].join("\n"));
  const plain = formatBtfAsC(btf, { header: false, typeTags: false, declTags: false });
  assert.doesNotMatch(plain, /btf_type_tag|btf_decl_tag/);
});

test("format C: the synthetic header compiles and every layout matches the BTF", { skip: !haveClang && `${CLANG} is not installed` }, () => {
  const { btf } = synth();
  const h = formatBtfAsC(btf);
  assert.ok(h.startsWith("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n"));
  assert.ok(h.endsWith("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n"));
  const composites = [...btf.types()].filter((t) => (t.kind === "struct" || t.kind === "union") && t.name !== "").map((t) => t.id);
  const unique = composites.filter((i) => btf.findAllByName(btf.type(i).name).length === 1);
  const dir = tmp();
  try {
    writeFileSync(join(dir, "vmlinux.h"), h);
    writeFileSync(join(dir, "t.c"), `#include "vmlinux.h"\n${layoutAsserts(btf, unique)}\n` +
      "_Static_assert(sizeof(enum small) == 1, \"\");\n_Static_assert(sizeof(enum w64) == 8, \"\");\n" +
      "_Static_assert(sizeof(struct dup) == 4 && sizeof(struct dup___2) == 8, \"\");\n" +
      "_Static_assert(SAME == 1 && SAME___2 == 2 && LONELY == 7 && S_MIN < 0 && BMAX == ~0ULL, \"\");\n");
    const warnings = compile(dir, "t.c", ["-Werror"]);
    assert.equal(warnings, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(roundTrip(btf, h, composites), composites.length);
});

test("format C: malformed BTF is a BtfError, not a hang", () => {
  // A struct that contains itself by value.
  const b = new BtfBuilder();
  b.add({ kind: "struct", name: "loop", size: 4, members: [{ name: "self", typeId: 1, bitOffset: 0, bitfieldSize: 0 }] });
  assert.throws(() => formatBtfAsC(Btf.parse(b.toBytes())), BtfError);
  // A typedef chain that loops.
  const c = new BtfBuilder();
  c.add({ kind: "typedef", name: "x", typeId: 2 });
  c.add({ kind: "typedef", name: "y", typeId: 1 });
  assert.throws(() => formatBtfAsC(Btf.parse(c.toBytes())), BtfError);
  assert.throws(() => formatBtfAsC(Btf.parse(c.toBytes()), { ids: [99] }), BtfError);
  // A named struct embedding an anonymous struct that contains itself.
  const d = new BtfBuilder();
  d.add({ kind: "struct", name: "outer", size: 4, members: [{ name: "", typeId: 2, bitOffset: 0, bitfieldSize: 0 }] });
  d.add({ kind: "struct", name: "", size: 4, members: [{ name: "", typeId: 2, bitOffset: 0, bitfieldSize: 0 }] });
  assert.throws(() => formatBtfAsC(Btf.parse(d.toBytes())), BtfError);
});

test("format C: a gap of more than 8 KiB is one char array, so a huge declared size stays small", () => {
  const words = (PAD_ARRAY_MIN_BITS / 64) + 1;
  assert.deepEqual(padding(0, words * 64), [`char __pad_0[${words * 8}]`]);
  // Unaligned ends keep their bitfields; the array covers the whole 64-bit words in between.
  assert.deepEqual(padding(4, 64 + words * 64 + 12), ["long: 60", `char __pad_8[${words * 8}]`, "short: 12"]);
  // Up to the threshold, padding is written like bpftool: one `long: 64` per word.
  assert.deepEqual(padding(0, PAD_ARRAY_MIN_BITS), new Array(PAD_ARRAY_MIN_BITS / 64).fill("long: 64"));

  // Shapes of BTF that made the formatter run out of memory: a struct of declared size 0xffffffff
  // with one member, and an anonymous struct of ~400 MB embedded in a named one.
  const b = new BtfBuilder();
  const int = b.add({ kind: "int", name: "int", size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false });
  const short = b.add({ kind: "int", name: "short", size: 2, bits: 16, offset: 0, signed: true, char: false, bool: false });
  b.add({ kind: "struct", name: "huge", size: 0xffffffff, members: [{ name: "a", typeId: int, bitOffset: 0, bitfieldSize: 0 }] });
  const anon = b.add({ kind: "struct", name: "", size: 400_000_004, members: [
    { name: "x", typeId: short, bitOffset: 0, bitfieldSize: 0 }, { name: "y", typeId: short, bitOffset: 16, bitfieldSize: 0 }] });
  b.add({ kind: "struct", name: "holder", size: 400_000_008, members: [
    { name: "s", typeId: anon, bitOffset: 0, bitfieldSize: 0 }, { name: "z", typeId: int, bitOffset: 400_000_004 * 8, bitfieldSize: 0 }] });
  // A union wider than its members (and than 64 bits) keeps its size.
  b.add({ kind: "union", name: "wide", size: 24, members: [{ name: "i", typeId: int, bitOffset: 0, bitfieldSize: 0 }] });
  const btf = Btf.parse(b.toBytes());
  const h = formatBtfAsC(btf, { header: false });
  assert.ok(h.length < 1000, `${h.length} characters`);
  assert.match(h, /^struct huge \{\n\tint a;\n\tint: 32;\n\tchar __pad_8\[4294967280\];\n\tlong: 56;\n\} __attribute__\(\(packed\)\);$/m);
  assert.match(h, /^struct holder \{\n\tstruct \{\n\t\tshort x;\n\t\tshort y;\n\t\tint: 32;\n\t\tchar __pad_8\[399999992\];\n\t\tint: 32;\n\t\} s;\n\tint z;\n\};$/m);
  assert.match(h, /^union wide \{\n\tint i;\n\tchar __pad_0\[24\];\n\};$/m);
  if (haveClang) {
    const ids = ["huge", "holder"].map((n) => btf.findByName(n, "struct")!).concat(btf.findByName("wide", "union")!);
    const dir = tmp();
    try {
      writeFileSync(join(dir, "vmlinux.h"), formatBtfAsC(btf));
      writeFileSync(join(dir, "t.c"), `#include "vmlinux.h"\n${layoutAsserts(btf, ids)}\n`);
      compile(dir, "t.c");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test("format C: output beyond maxLength is a BtfError that says what to do", () => {
  // Anonymous types are written out at every use: 22 levels of two members each are 2^22 lines.
  const b = new BtfBuilder();
  let inner = b.add({ kind: "int", name: "int", size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false });
  for (let i = 0; i < 22; i++) {
    inner = b.add({ kind: "union", name: "", size: 4, members: [
      { name: "a", typeId: inner, bitOffset: 0, bitfieldSize: 0 }, { name: "b", typeId: inner, bitOffset: 0, bitfieldSize: 0 }] });
  }
  b.add({ kind: "struct", name: "top", size: 4, members: [{ name: "t", typeId: inner, bitOffset: 0, bitfieldSize: 0 }] });
  const btf = Btf.parse(b.toBytes());
  const t0 = performance.now();
  assert.throws(() => formatBtfAsC(btf, { maxLength: 1 << 20 }), (e: unknown) =>
    e instanceof BtfError && /longer than 1048576 characters/.test(e.message) && /ids option, or raise maxLength/.test(e.message));
  assert.ok(performance.now() - t0 < 20_000, `${Math.round(performance.now() - t0)} ms`);
  // Enumerators are bounded too.
  const e = new BtfBuilder();
  e.add({ kind: "enum", name: "many", size: 4, signed: false, values: Array.from({ length: 100 }, (_, i) => ({ name: `V${i}`, value: BigInt(i) })) });
  assert.throws(() => formatBtfAsC(Btf.parse(e.toBytes()), { maxLength: 200 }), BtfError);
  assert.ok(formatBtfAsC(Btf.parse(e.toBytes()), { maxLength: 10_000 }).includes("V99 = 99"));
});

test("format raw: bpftool's listing", () => {
  const { btf, id } = synth();
  const raw = formatBtfRaw(btf, { ids: [id("int"), id("struct bits"), id("enum sbig"), id("proto log"), id("fwd opaque"), id("user int"), id("decl tag")] });
  assert.equal(raw, [
    "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED",
    `[${id("struct bits")}] STRUCT 'bits' size=24 vlen=5`,
    "\t'a' type_id=2 bits_offset=0 bitfield_size=3", "\t'b' type_id=2 bits_offset=3 bitfield_size=5",
    "\t'c' type_id=2 bits_offset=16 bitfield_size=4", "\t'd' type_id=5 bits_offset=64", "\t'e' type_id=3 bits_offset=128",
    `[${id("enum sbig")}] ENUM64 'sbig' encoding=SIGNED size=8 vlen=3`,
    "\t'S_MIN' val=-9223372036854775808LL", "\t'S_NEG' val=-1LL", "\t'S_POS' val=1LL",
    `[${id("proto log")}] FUNC_PROTO '(anon)' ret_type_id=0 vlen=2`, `\t'fmt' type_id=${id("const char*")}`, "\t'(anon)' type_id=0",
    `[${id("fwd opaque")}] FWD 'opaque' fwd_kind=struct`,
    `[${id("user int")}] TYPE_TAG 'user' type_id=1`,
    `[${id("decl tag")}] DECL_TAG 'key' type_id=${id("struct quals")} component_idx=1`, ""].join("\n"));
});

// ---- the running kernel's BTF ----

const noKernelBtf = !existsSync(VMLINUX) && `${VMLINUX} is absent (kernel built without CONFIG_DEBUG_INFO_BTF)`;
let kernelHeader: string | undefined;
function vmlinuxH(): string {
  if (kernelHeader === undefined) {
    const btf = loadKernelBtf();
    const t0 = performance.now();
    kernelHeader = formatBtfAsC(btf);
    const ms = performance.now() - t0;
    console.log(`# formatBtfAsC(vmlinux: ${btf.count} types) took ${ms.toFixed(0)} ms, ${(kernelHeader.length / 1e6).toFixed(1)} MB`);
  }
  return kernelHeader;
}

test("vmlinux.h: generation time", { skip: noKernelBtf }, () => {
  const btf = loadKernelBtf();
  vmlinuxH();
  const t0 = performance.now();
  const again = formatBtfAsC(btf);
  const ms = performance.now() - t0;
  console.log(`# formatBtfAsC again (types decoded and cached): ${ms.toFixed(0)} ms`);
  assert.equal(again, vmlinuxH(), "deterministic");
  assert.ok(ms < 10_000, `took ${ms} ms`);
});

const CORE_PROG = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

SEC("tp/syscalls/sys_enter_openat")
int on_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct inode *ino = BPF_CORE_READ(exe, f_inode);
	u64 v = BPF_CORE_READ(ino, i_ino) + ctx->args[1] + bpf_core_field_exists(task->__state);
	u64 *c = bpf_map_lookup_elem(&counts, &ppid);
	if (c)
		__sync_fetch_and_add(c, v);
	return 0;
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(on_send, struct sock *sk, struct msghdr *msg, size_t size)
{
	struct pt_regs *regs = ctx;
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	bpf_printk("%d %lu %lx", family, size, PT_REGS_IP(regs));
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_skb, struct sk_buff *skb)
{
	unsigned int len = BPF_CORE_READ(skb, len);
	enum bpf_map_type t = BPF_MAP_TYPE_RINGBUF;
	return len + t + (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_ringbuf_output) ? 1 : 0);
}
`;

test("vmlinux.h: a CO-RE program using common kernel types compiles", { skip: noKernelBtf || (!haveClang && `${CLANG} is not installed`) }, () => {
  const dir = tmp();
  try {
    writeFileSync(join(dir, "vmlinux.h"), vmlinuxH());
    writeFileSync(join(dir, "prog.bpf.c"), CORE_PROG);
    assert.equal(compile(dir, "prog.bpf.c", ["-Werror"]), "");
    // The header alone is warning-free too.
    writeFileSync(join(dir, "only.c"), '#include "vmlinux.h"\n');
    assert.equal(compile(dir, "only.c", ["-Werror"]), "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("vmlinux.h: examples/readhist compiles against it", { skip: noKernelBtf || (!haveClang && `${CLANG} is not installed`) }, () => {
  const dir = tmp();
  try {
    writeFileSync(join(dir, "vmlinux.h"), vmlinuxH());
    copyFileSync(join(ROOT, "examples/readhist/readhist.bpf.c"), join(dir, "readhist.bpf.c"));
    // The source's directory comes first for #include "vmlinux.h", so our header wins over include/.
    compile(dir, "readhist.bpf.c", ["-I", dir, "-I", join(ROOT, "include")]);
    assert.ok(existsSync(join(dir, "readhist.bpf.c.o")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("vmlinux.h: sizes and member offsets of kernel structs hold in C (_Static_assert)", { skip: noKernelBtf || (!haveClang && `${CLANG} is not installed`) }, () => {
  const btf = loadKernelBtf();
  const named: number[] = [];
  for (let i = 1; i < btf.count; i++) {
    const k = btf.kindOf(i);
    if (k !== "struct" && k !== "union") continue;
    const name = btf.type(i).name;
    // Names shared by two structs/unions/enums (one tag namespace in C) are emitted as name___N.
    const tags = btf.findAllByName(name).filter((j) => ["struct", "union", "enum", "enum64"].includes(btf.kindOf(j)));
    if (name !== "" && tags.length === 1) named.push(i);
  }
  // Well-known structs plus an even sample across the id range (about 200 in all).
  const wanted = ["task_struct", "pt_regs", "sk_buff", "file", "inode", "trace_event_raw_sys_enter", "mm_struct", "sock", "super_block", "dentry", "bpf_prog", "page", "net_device"];
  const sample = new Set<number>(wanted.map((n) => btf.findByName(n, "struct")!).filter((x) => x !== undefined));
  const step = Math.max(1, Math.floor(named.length / 200));
  for (let i = 0; i < named.length; i += step) sample.add(named[i]!);
  const dir = tmp();
  try {
    writeFileSync(join(dir, "vmlinux.h"), vmlinuxH());
    const asserts = layoutAsserts(btf, [...sample]);
    writeFileSync(join(dir, "layout.c"), `#include "vmlinux.h"\n${asserts}\n`);
    compile(dir, "layout.c");
    console.log(`# ${sample.size} structs, ${asserts.split("\n").length} size/offset assertions hold`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// All ~10k kernel structs take clang about 20 s of CPU; by default every struct with a bitfield
// (what _Static_assert cannot check) and every 8th other one. TSBPF_FULL_ROUNDTRIP=1: all of them.
const FULL_ROUNDTRIP = process.env.TSBPF_FULL_ROUNDTRIP === "1";
test(`vmlinux.h: ${FULL_ROUNDTRIP ? "every" : "a sample of"} kernel structs/unions laid out by clang equal the kernel's BTF (round trip)`, { skip: noKernelBtf || (!haveClang && `${CLANG} is not installed`) }, () => {
  const btf = loadKernelBtf();
  const ids: number[] = [];
  let other = 0;
  for (let i = 1; i < btf.count; i++) {
    const k = btf.kindOf(i);
    if (k !== "struct" && k !== "union") continue;
    const t = btf.type(i) as BtfComposite;
    if (t.name === "") continue;
    if (FULL_ROUNDTRIP || t.members.some((m) => m.bitfieldSize !== 0) || other++ % 8 === 0) ids.push(i);
  }
  const n = roundTrip(btf, vmlinuxH(), ids);
  console.log(`# ${n} structs/unions compiled from the header have the kernel's sizes, offsets and bitfields`);
  assert.ok(n >= ids.length);
});

/** Names of the struct/union/enum definitions and typedefs in a header. */
function definedNames(text: string): Set<string> {
  const out = new Set<string>();
  let inTypedef = false;
  for (const line of text.split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = /^(struct|union|enum) (\w+) \{/.exec(line))) out.add(`${m[1]} ${m[2]}`);
    else if ((m = /^enum (\w+);/.exec(line))) out.add(`enum ${m[1]}`);
    else if (line.startsWith("typedef ")) {
      if (line.endsWith("{")) { inTypedef = true; continue; }
      const fp = /\(\*\s*(\w+)\)/.exec(line);
      if (fp) out.add(`typedef ${fp[1]}`);
      else if ((m = /(\w+)(\[\d+\])*;$/.exec(line))) out.add(`typedef ${m[1]}`);
    } else if (inTypedef && (m = /^}.*?(\w+);$/.exec(line))) { out.add(`typedef ${m[1]}`); inTypedef = false; }
  }
  return out;
}

test("vmlinux.h: the same named types as bpftool's", { skip: noKernelBtf || (!haveBpftool && "bpftool is not installed") }, () => {
  const r = spawnSync("bpftool", ["btf", "dump", "file", VMLINUX, "format", "c"], { encoding: "utf8", maxBuffer: 256 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const theirs = definedNames(r.stdout), ours = definedNames(vmlinuxH());
  assert.ok(theirs.size > 1000);
  assert.deepEqual([...ours].filter((x) => !theirs.has(x)), [], "only in ours");
  assert.deepEqual([...theirs].filter((x) => !ours.has(x)), [], "only in bpftool's");
  console.log(`# ${ours.size} named definitions, the same set as bpftool's`);
});

test("format raw: identical to bpftool btf dump on vmlinux", { skip: noKernelBtf || (!haveBpftool && "bpftool is not installed") }, () => {
  const r = spawnSync("bpftool", ["btf", "dump", "file", VMLINUX], { encoding: "utf8", maxBuffer: 256 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const ours = formatBtfRaw(loadKernelBtf());
  if (ours !== r.stdout) {
    const a = ours.split("\n"), b = r.stdout.split("\n");
    const i = a.findIndex((l, j) => l !== b[j]);
    assert.fail(`first difference at line ${i + 1}:\n ours:    ${a[i]}\n bpftool: ${b[i]}`);
  }
});
