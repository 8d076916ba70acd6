import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Btf, BtfBuilder, type BtfMember } from "../../src/btf/index.js";
import { codecFor, codecForName, typeScriptType } from "../../src/codec/index.js";
import { setCodegen } from "../../src/codec/compile.js";
import { loadCollectionSpec } from "../../src/spec/index.js";
import { encodeVariable, setVariable } from "../../src/collection/variables.js";
import { ArgumentError, BtfError } from "../../src/errors.js";

const repo = (p: string) => new URL(`../../../${p}`, import.meta.url);

/** A BTF with one of every kind the codec maps. Ids are returned by name. */
function fixture(littleEndian = true) {
  const b = new BtfBuilder();
  const int = (name: string, size: number, signed: boolean, extra: { bool?: boolean; char?: boolean; bits?: number; offset?: number } = {}) =>
    b.add({ kind: "int", name, size, bits: extra.bits ?? size * 8, offset: extra.offset ?? 0, signed, char: extra.char ?? false, bool: extra.bool ?? false });
  const m = (name: string, typeId: number, bitOffset: number, bitfieldSize = 0): BtfMember => ({ name, typeId, bitOffset, bitfieldSize });
  const id: Record<string, number> = {};
  id.uchar = int("unsigned char", 1, false);
  id.schar = int("signed char", 1, true);
  id.char = int("char", 1, true);
  id.u16 = int("unsigned short", 2, false);
  id.s16 = int("short", 2, true);
  id.u32 = int("unsigned int", 4, false);
  id.s32 = int("int", 4, true);
  id.u64 = int("unsigned long long", 8, false);
  id.s64 = int("long long", 8, true);
  id.u128 = int("unsigned __int128", 16, false);
  id.s128 = int("__int128", 16, true);
  id.bool = int("_Bool", 1, false, { bool: true });
  id.float = b.add({ kind: "float", name: "float", size: 4 });
  id.double = b.add({ kind: "float", name: "double", size: 8 });
  id.ldouble = b.add({ kind: "float", name: "long double", size: 16 });
  id.__u8 = b.add({ kind: "typedef", name: "__u8", typeId: id.uchar });
  id.__u32 = b.add({ kind: "typedef", name: "__u32", typeId: id.u32 });
  id.cu32 = b.add({ kind: "const", name: "", typeId: id.__u32 });
  id.vcu32 = b.add({ kind: "volatile", name: "", typeId: id.cu32 });
  id.tagged = b.add({ kind: "type_tag", name: "user", typeId: id.u64, attribute: false });
  id.void = 0;
  id.ptr = b.add({ kind: "ptr", name: "", typeId: 0 });
  id.rptr = b.add({ kind: "restrict", name: "", typeId: id.ptr });
  id.color = b.add({ kind: "enum", name: "color", size: 4, signed: true, values: [{ name: "RED", value: 1n }, { name: "GREEN", value: 2n }, { name: "BLUE", value: -3n }] });
  id.ucolor = b.add({ kind: "enum", name: "ucolor", size: 1, signed: false, values: [{ name: "U_A", value: 0n }, { name: "U_B", value: 200n }, { name: "U_ALIAS", value: 200n }] });
  id.big = b.add({ kind: "enum64", name: "big", size: 8, signed: false, values: [{ name: "B_ZERO", value: 0n }, { name: "B_HUGE", value: 0xfedcba9876543210n }] });
  id.sbig = b.add({ kind: "enum64", name: "sbig", size: 8, signed: true, values: [{ name: "S_NEG", value: -(2n ** 40n) }] });
  id.slots = b.add({ kind: "array", name: "", elemTypeId: id.__u32, indexTypeId: id.u32, nelems: 15 });
  id.hist = b.add({ kind: "struct", name: "hist", size: 60, members: [m("slots", id.slots, 0)] });
  id.histT = b.add({ kind: "typedef", name: "hist_t", typeId: id.hist });
  id.char8 = b.add({ kind: "array", name: "", elemTypeId: id.char, indexTypeId: id.u32, nelems: 8 });
  id.u8x4 = b.add({ kind: "array", name: "", elemTypeId: id.__u8, indexTypeId: id.u32, nelems: 4 });
  id.s8x3 = b.add({ kind: "array", name: "", elemTypeId: id.schar, indexTypeId: id.u32, nelems: 3 });
  id.char4 = b.add({ kind: "array", name: "", elemTypeId: id.char, indexTypeId: id.u32, nelems: 4 });
  id.char2x4 = b.add({ kind: "array", name: "", elemTypeId: id.char4, indexTypeId: id.u32, nelems: 2 });
  id.colors2 = b.add({ kind: "array", name: "", elemTypeId: id.color, indexTypeId: id.u32, nelems: 2 });
  id.u64x2 = b.add({ kind: "array", name: "", elemTypeId: id.u64, indexTypeId: id.u32, nelems: 2 });
  id.flex = b.add({ kind: "array", name: "", elemTypeId: id.u32, indexTypeId: id.u32, nelems: 0 });
  // struct inner { __u16 port; char name[6]; }
  id.name6 = b.add({ kind: "array", name: "", elemTypeId: id.char, indexTypeId: id.u32, nelems: 6 });
  id.inner = b.add({ kind: "struct", name: "inner", size: 8, members: [m("port", id.u16, 0), m("name", id.name6, 16)] });
  id.inner2 = b.add({ kind: "array", name: "", elemTypeId: id.inner, indexTypeId: id.u32, nelems: 2 });
  // anonymous union { __u32 as_u32; __u8 bytes[4]; } and anonymous struct { short x, y; }
  id.anonU = b.add({ kind: "union", name: "", size: 4, members: [m("as_u32", id.u32, 0), m("bytes", id.u8x4, 0)] });
  id.anonS = b.add({ kind: "struct", name: "", size: 4, members: [m("x", id.s16, 0), m("y", id.s16, 16)] });
  // Bitfields with kind_flag (the layout clang emits).
  id.flags = b.add({
    kind: "struct", name: "flags", size: 16, members: [
      m("a", id.u32, 0, 3), m("b", id.s32, 3, 5), m("wide", id.u64, 8, 40), m("col", id.color, 48, 4),
      m("on", id.bool, 52, 1), m("", id.u32, 53, 2) /* unnamed padding bitfield */, m("c", id.u16, 55, 9), m("d", id.s64, 64, 33),
    ],
  });
  // Bitfields without kind_flag: the member's int type carries the width (old pahole/gcc layout).
  id.i3 = int("unsigned int", 4, false, { bits: 3 });
  id.si5 = int("int", 4, true, { bits: 5 });
  id.i20 = int("unsigned int", 4, false, { bits: 20 });
  id.oldflags = b.add({ kind: "struct", name: "oldflags", size: 4, members: [m("a", id.i3, 0), m("b", id.si5, 3), m("c", id.i20, 8)] });
  // struct rec: padding after tag, nested struct, anonymous members, arrays of every flavour.
  id.rec = b.add({
    kind: "struct", name: "rec", size: 96, members: [
      m("tag", id.__u8, 0), m("big", id.u64, 64), m("in", id.inner, 128), m("", id.anonU, 192), m("", id.anonS, 224),
      m("f", id.flags, 256), m("color", id.color, 384), m("label", id.char8, 416), m("small", id.s8x3, 480),
      m("on", id.bool, 504), m("names", id.char2x4, 512), m("pair", id.inner2, 576),
    ],
  });
  id.scalars = b.add({
    kind: "struct", name: "scalars", size: 96, members: [
      m("u128", id.u128, 0), m("s128", id.s128, 128), m("f", id.float, 256), m("d", id.double, 320),
      m("ld", id.ldouble, 384), m("p", id.ptr, 512), m("rp", id.rptr, 576), m("tag", id.tagged, 640), m("big", id.big, 704),
    ],
  });
  id.u = b.add({ kind: "union", name: "u", size: 8, members: [m("l", id.u64, 0), m("w", id.u32, 0), m("", id.anonS, 0)] });
  id.withFlex = b.add({ kind: "struct", name: "with_flex", size: 4, members: [m("n", id.u32, 0), m("rest", id.flex, 32)] });
  id.proto = b.add({ kind: "struct", name: "odd", size: 4, members: [m("__proto__", id.u32, 0)] });
  id.fwd = b.add({ kind: "fwd", name: "opaque", union: false });
  id.fproto = b.add({ kind: "func_proto", name: "", returnTypeId: id.s32, params: [] });
  id.func = b.add({ kind: "func", name: "f", typeId: id.fproto, linkage: "global" });
  id.var = b.add({ kind: "var", name: "counter", typeId: id.u64, linkage: "global" });
  id.var2 = b.add({ kind: "var", name: "hist0", typeId: id.hist, linkage: "global" });
  id.sec = b.add({ kind: "datasec", name: ".bss", size: 72, vars: [{ typeId: id.var, offset: 0, size: 8 }, { typeId: id.var2, offset: 8, size: 60 }] });
  return { btf: Btf.parse(b.toBytes({ littleEndian })), id };
}

const { btf, id } = fixture();

const REC = {
  tag: 5, big: 0x1122334455667788n, in: { port: 8080, name: "tsbpf" }, as_u32: 0xdeadbeef,
  bytes: new Uint8Array([0xef, 0xbe, 0xad, 0xde]), x: -5, y: 7,
  f: { a: 5, b: -5, wide: 0xabcdef0123n, col: "BLUE", on: true, c: 300, d: -4294967296n },
  color: "GREEN", label: "hello", small: [-1, -2, -3], on: false, names: ["ab", "cde"],
  pair: [{ port: 1, name: "one" }, { port: 2, name: "two" }],
};

test("struct hist decodes to { slots: number[15] } and round-trips", () => {
  const c = codecFor<{ slots: number[] }>(btf, id.hist);
  assert.equal(c.size, 60);
  assert.equal(c.typeName, "struct hist");
  const bytes = new Uint8Array(60);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < 15; i++) dv.setUint32(4 * i, i * 1000 + (i === 14 ? 0xffffffff - 14000 : 0), true);
  const v = c.decode(bytes);
  assert.deepEqual(Object.keys(v), ["slots"]);
  assert.equal(v.slots.length, 15);
  assert.equal(v.slots[3], 3000);
  assert.equal(v.slots[14], 0xffffffff);
  assert.deepEqual(c.encode(v), bytes);
  assert.equal(typeScriptType(btf, id.hist), "{ slots: number[] }");
  assert.equal(codecFor(btf, id.hist), c, "codecs are cached per (btf, id)");
  assert.deepEqual(codecFor(btf, id.histT).decode(bytes), v, "typedefs are transparent");
  assert.equal(codecForName(btf, "hist"), c);
});

test("integers: sizes, signedness, 64/128-bit as bigint, bool, char, floats, pointers, modifiers", () => {
  const rt = (t: number, v: unknown) => {
    const c = codecFor(btf, t);
    const out = c.decode(c.encode(v as never));
    assert.deepEqual(out, v, `${c.typeName} round trip of ${String(v)}`);
    return c;
  };
  rt(id.uchar, 255); rt(id.schar, -128); rt(id.char, 65); rt(id.u16, 65535); rt(id.s16, -32768);
  rt(id.u32, 4294967295); rt(id.s32, -2147483648); rt(id.u64, 2n ** 64n - 1n); rt(id.s64, -(2n ** 63n));
  rt(id.u128, 2n ** 128n - 1n); rt(id.s128, -(2n ** 127n)); rt(id.bool, true); rt(id.bool, false);
  rt(id.float, -0.25); rt(id.double, Math.PI); rt(id.ptr, 0xffff888012345678n); rt(id.rptr, 1n);
  rt(id.__u32, 7); rt(id.cu32, 8); rt(id.vcu32, 9); rt(id.tagged, 10n);
  assert.deepEqual([...codecFor(btf, id.s32).encode(-2)], [0xfe, 0xff, 0xff, 0xff]);
  assert.deepEqual([...codecFor(btf, id.u128).encode(1n)], [1, ...new Array(15).fill(0)]);
  assert.equal(codecFor(btf, id.u64).decode(codecFor(btf, id.u64).encode(5)), 5n, "numbers are accepted for 64-bit ints");
  assert.equal(codecFor(btf, id.u32).decode(codecFor(btf, id.u32).encode(5n)), 5, "bigints are accepted for small ints");
  assert.equal(codecFor(btf, id.u32).decode(codecFor(btf, id.u32).encode(true)), 1);
  assert.equal(typeScriptType(btf, id.u64), "bigint");
  assert.equal(typeScriptType(btf, id.bool), "boolean");
  assert.equal(typeScriptType(btf, id.ptr), "bigint");
  assert.equal(typeScriptType(btf, id.double), "number");
  assert.equal(typeScriptType(btf, id.char), "number");
  // Odd-sized floats (long double) are kept as raw bytes.
  const ld = codecFor(btf, id.ldouble);
  const raw = new Uint8Array(16).map((_, i) => i);
  assert.deepEqual(ld.decode(raw), raw);
  assert.equal(typeScriptType(btf, id.ldouble), "Uint8Array");
});

test("enums decode to names (numbers when no name matches), enum64 to names or bigints", () => {
  const color = codecFor(btf, id.color);
  assert.equal(color.decode(color.encode("BLUE")), "BLUE");
  assert.deepEqual([...color.encode("BLUE")], [0xfd, 0xff, 0xff, 0xff]);
  assert.equal(color.decode(color.encode(7)), 7, "unnamed values come back as numbers");
  assert.equal(color.decode(color.encode(-3)), "BLUE");
  const u = codecFor(btf, id.ucolor);
  assert.equal(u.size, 1);
  assert.equal(u.decode(new Uint8Array([200])), "U_B", "the first of aliased names wins");
  assert.equal(u.decode(u.encode("U_ALIAS")), "U_B");
  const big = codecFor(btf, id.big);
  assert.equal(big.decode(big.encode("B_HUGE")), "B_HUGE");
  assert.equal(big.decode(big.encode(5n)), 5n);
  const sbig = codecFor(btf, id.sbig);
  assert.equal(sbig.decode(sbig.encode(-(2n ** 40n))), "S_NEG");
  assert.equal(sbig.decode(sbig.encode(-1n)), -1n);
  assert.equal(typeScriptType(btf, id.color), `"RED" | "GREEN" | "BLUE" | number`);
  assert.equal(typeScriptType(btf, id.big), `"B_ZERO" | "B_HUGE" | bigint`);
  assert.throws(() => color.encode("PURPLE" as never), (e: unknown) => e instanceof ArgumentError && /"PURPLE" is not a value of enum color \(it has: RED, GREEN, BLUE\)/.test(e.message));
});

test("arrays: char[N] is a string, u8[N] a Uint8Array, others arrays (also of strings, enums, structs)", () => {
  const s = codecFor(btf, id.char8);
  assert.equal(s.decode(s.encode("hello")), "hello");
  assert.deepEqual([...s.encode("hi")], [104, 105, 0, 0, 0, 0, 0, 0], "strings are NUL-padded");
  assert.equal(s.decode(s.encode("12345678")), "12345678", "a string may fill the array without a NUL");
  assert.equal(s.decode(s.encode("héllo")), "héllo", "UTF-8");
  assert.equal(s.decode(new Uint8Array([104, 105, 0, 120, 120, 0, 0, 0])), "hi", "decoding stops at the first NUL");
  const u8 = codecFor(btf, id.u8x4);
  assert.deepEqual(u8.decode(new Uint8Array([1, 2, 3, 4])), new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual(u8.encode([9, 8]), new Uint8Array([9, 8, 0, 0]), "byte arrays accept number arrays, zero-filled");
  assert.deepEqual(codecFor(btf, id.s8x3).decode(new Uint8Array([0xff, 0x7f, 0x80])), [-1, 127, -128]);
  assert.deepEqual(codecFor(btf, id.char2x4).decode(new TextEncoder().encode("ab\0\0cde\0")), ["ab", "cde"]);
  assert.deepEqual(codecFor(btf, id.colors2).decode(new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0])), ["RED", "GREEN"]);
  assert.deepEqual(codecFor(btf, id.u64x2).decode(codecFor(btf, id.u64x2).encode([1n, 2n])), [1n, 2n]);
  assert.deepEqual(codecFor(btf, id.u64x2).encode([1n]), new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "short arrays are zero-filled");
  assert.equal(typeScriptType(btf, id.char8), "string");
  assert.equal(typeScriptType(btf, id.u8x4), "Uint8Array");
  assert.equal(typeScriptType(btf, id.char2x4), "string[]");
  assert.equal(typeScriptType(btf, id.colors2), `("RED" | "GREEN" | "BLUE" | number)[]`);
  assert.equal(typeScriptType(btf, id.inner2), "{ port: number; name: string }[]");
  const fl = codecFor(btf, id.withFlex);
  assert.equal(fl.size, 4);
  assert.deepEqual(fl.decode(fl.encode({ n: 3 })), { n: 3, rest: [] }, "flexible array members are empty");
});

test("struct with padding, nested struct, anonymous union and struct flattened, bitfields: exact round trip", () => {
  const c = codecFor<typeof REC>(btf, id.rec);
  assert.equal(c.size, 96);
  const bytes = c.encode(REC);
  assert.deepEqual(c.decode(bytes), REC);
  assert.deepEqual(Object.keys(c.decode(bytes)), ["tag", "big", "in", "as_u32", "bytes", "x", "y", "f", "color", "label", "small", "on", "names", "pair"]);
  assert.deepEqual([...bytes.subarray(1, 8)], [0, 0, 0, 0, 0, 0, 0], "padding is zero");
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getBigUint64(8, true), 0x1122334455667788n);
  assert.equal(dv.getUint16(16, true), 8080);
  assert.equal(dv.getUint32(24, true), 0xdeadbeef, "the union's first given member (as_u32) is written");
  assert.equal(dv.getInt16(28, true), -5);
  assert.equal(typeScriptType(btf, id.rec),
    `{ tag: number; big: bigint; in: { port: number; name: string }; as_u32: number; bytes: Uint8Array; x: number; y: number; ` +
    `f: { a: number; b: number; wide: bigint; col: "RED" | "GREEN" | "BLUE" | number; on: boolean; c: number; d: bigint }; ` +
    `color: "RED" | "GREEN" | "BLUE" | number; label: string; small: number[]; on: boolean; names: string[]; pair: { port: number; name: string }[] }`);
  // References for named types, and multi-line output, for the skeleton generator.
  const ts = typeScriptType(btf, id.rec, { reference: (_id, kind, name) => (kind === "struct" ? `${name[0]!.toUpperCase()}${name.slice(1)}` : undefined), indent: "  " });
  assert.match(ts, /^\{\n {2}tag: number;\n {2}big: bigint;\n {2}in: Inner;\n/);
  assert.match(ts, /pair: Inner\[\];\n\}$/);
});

test("bitfields (kind_flag layout): every field read and written exactly, neighbours untouched", () => {
  const c = codecFor(btf, id.flags);
  const v = REC.f;
  const bytes = c.encode(v);
  // Expected bits, computed independently: little-endian bit numbering.
  let acc = 0n;
  const put = (off: number, width: number, val: bigint) => { acc |= BigInt.asUintN(width, val) << BigInt(off); };
  put(0, 3, 5n); put(3, 5, -5n); put(8, 40, 0xabcdef0123n); put(48, 4, -3n); put(52, 1, 1n); put(55, 9, 300n); put(64, 33, -4294967296n);
  const want = new Uint8Array(16);
  for (let i = 0; i < 16; i++) want[i] = Number((acc >> BigInt(8 * i)) & 0xffn);
  assert.deepEqual(bytes, want);
  assert.deepEqual(c.decode(bytes), v);
  // Each field alone at its extremes; the unnamed padding bits (53-54) stay as they are.
  const extremes: Record<string, unknown[]> = { a: [0, 7], b: [-16, 15], wide: [0n, 2n ** 40n - 1n], col: ["RED", "BLUE", 7, -8], on: [false, true], c: [0, 511], d: [-(2n ** 32n), 2n ** 32n - 1n] };
  for (const [k, vals] of Object.entries(extremes)) {
    for (const x of vals) {
      const b = new Uint8Array(16).fill(0xff);
      const before = c.decode(b) as Record<string, unknown>;
      c.encode({ ...before, [k]: x } as never, b);
      assert.deepEqual((c.decode(b) as Record<string, unknown>)[k], x, `${k} = ${String(x)}`);
    }
  }
  const fill = new Uint8Array(16).fill(0xff);
  assert.deepEqual(c.decode(fill), { a: 7, b: -1, wide: 2n ** 40n - 1n, col: -1, on: true, c: 511, d: -1n });
  assert.throws(() => c.encode({ a: 8 }), (e: unknown) => e instanceof ArgumentError && /flags\.a: 8 is out of range for a 3-bit unsigned bitfield \(0\.\.7\)/.test(e.message));
  assert.throws(() => c.encode({ b: 16 }), (e: unknown) => e instanceof ArgumentError && /flags\.b: 16 is out of range for a 5-bit signed bitfield \(-16\.\.15\)/.test(e.message));
  assert.throws(() => c.encode({ d: 2n ** 32n }), (e: unknown) => e instanceof ArgumentError && /flags\.d/.test(e.message));
});

test("bitfields without kind_flag (the int type carries the width)", () => {
  const c = codecFor(btf, id.oldflags);
  const bytes = c.encode({ a: 6, b: -9, c: 0xfffff });
  const w = new DataView(bytes.buffer).getUint32(0, true);
  assert.equal(w & 7, 6);
  assert.equal((w >>> 3) & 31, 23, "-9 in 5 bits");
  assert.equal(w >>> 8, 0xfffff);
  assert.deepEqual(c.decode(bytes), { a: 6, b: -9, c: 0xfffff });
  assert.equal(typeScriptType(btf, id.oldflags), "{ a: number; b: number; c: number }");
});

test("big-endian BTF: integers and bitfields in the data's byte order", () => {
  const be = fixture(false);
  assert.equal(be.btf.littleEndian, false);
  const c = codecFor<typeof REC>(be.btf, be.id.rec);
  const bytes = c.encode(REC);
  assert.deepEqual(c.decode(bytes), { ...REC, bytes: REC.bytes.slice().reverse() }, "the union's bytes view shows the big-endian u32");
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getBigUint64(8, false), 0x1122334455667788n);
  assert.equal(dv.getUint32(24, false), 0xdeadbeef);
  // Big-endian bitfields are numbered from the most significant bit: a (3 bits) is the top of byte 32.
  assert.equal(bytes[32]! >> 5, 5);
  assert.deepEqual(codecFor(be.btf, be.id.u128).encode(1n), new Uint8Array([...new Array(15).fill(0), 1]));
});

test("clang's layout, both byte orders: .data of typed_values(.eb).bpf.o decodes to the C initialisers and re-encodes byte for byte", () => {
  for (const [file, le] of [["typed_values", true], ["typed_values_eb", false]] as const) {
    const spec = loadCollectionSpec(new Uint8Array(readFileSync(repo(`test/bpf/${file}.bpf.o`))), { name: file });
    assert.equal(spec.littleEndian, le);
    const data = spec.maps[".data"]!;
    const c = codecFor(spec.btf!, data.btfValueTypeId);
    const v = c.decode(data.data!) as Record<string, unknown>;
    const { on: _on, ...cRec } = REC; // the C struct has no top-level `on`
    assert.deepEqual(v, {
      rec_init: { ...cRec, big: REC.big + 5n, arr: [5, 10, 15], bytes: le ? REC.bytes : REC.bytes.slice().reverse() },
      ratio: 1.5, ratio_f: -0.25, big_value: "BIG_HUGE", some_ptr: 0x1234n,
    }, file);
    assert.deepEqual(c.encode(v as never), data.data, `${file}: re-encoding gives the compiler's bytes`);
    // Single variables by their VAR type.
    const rec = spec.variables.rec_init!;
    assert.deepEqual(codecFor(spec.btf!, rec.typeId).decode(data.data!, rec.offset), v.rec_init);
  }
});

test("unions decode every member and encode the first one given", () => {
  const c = codecFor(btf, id.u);
  const v = c.decode(c.encode({ l: 0x0001000200030004n }));
  assert.deepEqual(v, { l: 0x0001000200030004n, w: 0x00030004, x: 4, y: 3 });
  assert.deepEqual(c.decode(c.encode({ w: 7, l: 99n })), { l: 99n, w: 99, x: 99, y: 0 }, "l comes first in the union");
  assert.deepEqual(c.decode(c.encode({ y: -1 })), { l: 0xffff0000n, w: 0xffff0000, x: 0, y: -1 }, "an anonymous member counts as given by any of its fields");
  assert.deepEqual(c.decode(c.encode(v)), v, "a decoded union round-trips");
});

test("data sections decode to objects of their variables", () => {
  const c = codecFor(btf, id.sec);
  assert.equal(c.size, 72);
  const v = c.decode(c.encode({ counter: 3n, hist0: { slots: [1] } }));
  assert.equal(v.counter, 3n);
  assert.equal(v.hist0.slots[0], 1);
  assert.equal(typeScriptType(btf, id.sec), "{ counter: bigint; hist0: { slots: number[] } }");
  assert.equal(codecFor(btf, id.var).size, 8, "a VAR is its type");
});

test("encode: partial objects are zero-filled; unknown fields, bad values and overflows name the path", () => {
  const c = codecFor<typeof REC>(btf, id.rec);
  const zero = c.decode(new Uint8Array(96));
  assert.deepEqual(c.decode(c.encode({})), zero);
  assert.deepEqual(c.decode(c.encode({ in: { port: 1 } })), { ...zero, in: { port: 1, name: "" } });
  const out = new Uint8Array(100).fill(0xaa);
  c.encode({ tag: 1 }, out, 4);
  assert.equal(out[3], 0xaa);
  assert.equal(out[4], 1);
  assert.equal(out[5], 0, "the value's bytes are zeroed before encoding");
  assert.equal(c.decode(out, 4).tag, 1);
  const bad = (v: unknown, re: RegExp) =>
    assert.throws(() => c.encode(v as never), (e: unknown) => e instanceof ArgumentError && e.code === "E_ARGUMENT" && re.test(e.message), String(re));
  bad({ nope: 1 }, /^encode struct rec: rec\.nope: struct rec has no field nope \(it has: tag, big, in, as_u32, bytes, x, y, f, /);
  bad({ in: { port: 65536 } }, /rec\.in\.port: 65536 is out of range for unsigned short \(0\.\.65535\)/);
  bad({ in: { prt: 1 } }, /rec\.in\.prt: struct inner has no field prt/);
  bad({ pair: [{}, { name: "much too long" }] }, /rec\.pair\[1\]\.name: the string is 13 bytes in UTF-8, at most 6 fit/);
  bad({ small: [1, 2, 3, 4] }, /rec\.small: 4 elements given, at most 3 fit/);
  bad({ small: [1, 200] }, /rec\.small\[1\]: 200 is out of range for signed char \(-128\.\.127\)/);
  bad({ big: 2n ** 64n }, /rec\.big: \d+n is out of range for unsigned long long \(0\.\.2\^64-1\)/);
  bad({ big: 2 ** 60 }, /rec\.big: .* is not a safe integer/);
  bad({ tag: 1.5 }, /rec\.tag: 1\.5 is not an integer/);
  bad({ tag: "1" }, /rec\.tag: expected an integer for __u8, got "1"/);
  bad({ in: 5 }, /rec\.in: expected an object for struct inner, got 5/);
  bad({ label: 5 }, /rec\.label: expected a string \(char\[8\]\), got 5/);
  bad({ on: 2 }, /rec\.on: expected a boolean for _Bool, got 2/);
  bad({ bytes: [1, 256] }, /rec\.bytes\[1\]: 256 is not a byte/);
  bad({ color: "PINK" }, /rec\.color: "PINK" is not a value of enum color/);
  bad(null, /^encode struct rec: rec: expected an object for struct rec, got null$/);
  const hist = codecFor(btf, id.hist);
  assert.throws(() => hist.encode({ slots: [0, 0, 0, -1] }), (e: unknown) => e instanceof ArgumentError && e.message === "encode struct hist: hist.slots[3]: -1 is out of range for __u32 (0..4294967295)");
  assert.throws(() => codecFor(btf, id.u32).encode(-1), (e: unknown) => e instanceof ArgumentError && e.message === "encode unsigned int: -1 is out of range for unsigned int (0..4294967295)");
  assert.throws(() => hist.encode({ slots: [] }, new Uint8Array(59)), /needs 60 bytes at offset 0, the output has 59/);
  assert.throws(() => hist.encode({ slots: [-1] }, undefined, 0, { what: "update map hists", root: "value" }),
    (e: unknown) => e instanceof ArgumentError && e.message.startsWith("update map hists: value.slots[0]: "));
});

test("decode: short buffers, offsets, views into larger buffers, shared buffers", () => {
  const hist = codecFor<{ slots: number[] }>(btf, id.hist);
  assert.throws(() => hist.decode(new Uint8Array(59)), (e: unknown) => e instanceof ArgumentError && /needs 60 bytes at offset 0, the buffer has 59/.test(e.message));
  assert.throws(() => hist.decode(new Uint8Array(60), 1), ArgumentError);
  assert.throws(() => hist.decode(new Uint8Array(64), 0.5), ArgumentError);
  const big = new Uint8Array(200);
  const view = big.subarray(13, 13 + 60);
  hist.encode({ slots: [1, 2, 3] }, view);
  assert.deepEqual(hist.decode(big, 13).slots.slice(0, 4), [1, 2, 3, 0], "unaligned offsets work");
  assert.deepEqual(hist.decode(view).slots.slice(0, 4), [1, 2, 3, 0]);
  const shared = new Uint8Array(new SharedArrayBuffer(60));
  hist.encode({ slots: [9] }, shared);
  assert.equal(hist.decode(shared).slots[0], 9);
  // Decoded values share nothing with the bytes.
  const c = codecFor(btf, id.rec);
  const b = c.encode(REC);
  const v = c.decode(b);
  b.fill(0);
  assert.deepEqual(v, REC);
});

test("types without a value are refused with BtfError", () => {
  for (const [what, t] of [["void", 0], ["fwd", id.fwd], ["func", id.func], ["func_proto", id.fproto], ["out of range", 99999]] as const) {
    assert.throws(() => codecFor(btf, t), BtfError, what);
  }
  assert.throws(() => typeScriptType(btf, id.func), BtfError);
  assert.throws(() => codecForName(btf, "no_such_struct"), (e: unknown) => e instanceof BtfError && /no type named "no_such_struct"/.test(e.message));
});

test("a field named __proto__ is an own property", () => {
  const c = codecFor(btf, id.proto);
  const v = c.decode(c.encode(JSON.parse(`{"__proto__": 5}`)));
  assert.equal(Object.getOwnPropertyDescriptor(v, "__proto__")?.value, 5);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
});

test("without code generation the codecs behave the same", () => {
  const old = setCodegen(false);
  try {
    const fresh = fixture();
    const c = codecFor<typeof REC>(fresh.btf, fresh.id.rec);
    assert.deepEqual(c.decode(c.encode(REC)), REC);
    assert.deepEqual(codecFor(fresh.btf, fresh.id.hist).decode(codecFor(btf, id.hist).encode({ slots: [4, 5] })).slots.slice(0, 3), [4, 5, 0]);
    const p = codecFor(fresh.btf, fresh.id.proto);
    assert.equal(Object.getOwnPropertyDescriptor(p.decode(new Uint8Array([1, 0, 0, 0])), "__proto__")?.value, 1);
  } finally {
    setCodegen(old);
  }
});

test("global variables: encodeVariable and setVariable take typed values with the spec's BTF", () => {
  const spec = loadCollectionSpec(new Uint8Array(readFileSync(repo("test/bpf/typed_values.bpf.o"))), { name: "typed_values" });
  const cfg = spec.variables.cfg!;
  const bytes = encodeVariable(cfg, { tgid: 42, color: "BLUE", tag: "abc" }, spec.btf);
  assert.deepEqual(codecFor(spec.btf!, cfg.typeId).decode(bytes), { tgid: 42, cookie: 0, color: "BLUE", tag: "abc" });
  assert.throws(() => encodeVariable(cfg, { tgid: 1, colour: "RED" }, spec.btf), (e: unknown) => e instanceof ArgumentError && /^set variable cfg \(\.rodata\): cfg\.colour: struct cfg has no field colour/.test(e.message));
  assert.throws(() => encodeVariable(cfg, { tag: "123456789" }, spec.btf), (e: unknown) => e instanceof ArgumentError && /cfg\.tag: the string is 9 bytes/.test(e.message));
  assert.throws(() => encodeVariable(cfg, { tgid: 1 }), (e: unknown) => e instanceof ArgumentError && /need the object's BTF/.test(e.message));
  // Old forms still work: numbers, raw bytes; and with BTF, numbers are range-checked by type.
  const sc = spec.variables.signed_const!;
  assert.deepEqual([...encodeVariable(sc, -1, spec.btf)], [0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual([...encodeVariable(sc, new Uint8Array([1, 2, 3, 4]), spec.btf)], [1, 2, 3, 4]);
  assert.throws(() => encodeVariable(sc, 2 ** 31, spec.btf), /out of range for __s32/);
  setVariable(spec, "cfg", { tgid: 7, cookie: 9, color: "GREEN", tag: "x" });
  const ro = spec.maps[".rodata"]!.data!;
  assert.deepEqual(codecFor(spec.btf!, cfg.typeId).decode(ro, cfg.offset), { tgid: 7, cookie: 9, color: "GREEN", tag: "x" });
  assert.throws(() => setVariable(spec, "nope", 1), (e: unknown) => e instanceof ArgumentError && /it has: .*cfg/.test(e.message));
});

test("micro-benchmark: decode struct hist 1M times (printed, not asserted)", () => {
  const hist = codecFor<{ slots: number[] }>(btf, id.hist);
  const bytes = hist.encode({ slots: Array.from({ length: 15 }, (_, i) => i * 7) });
  let sum = 0;
  for (let i = 0; i < 100_000; i++) sum += hist.decode(bytes).slots[i % 15]!;
  const n = 1_000_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sum += hist.decode(bytes).slots[i % 15]!;
  const t1 = performance.now();
  const rec = codecFor<typeof REC>(btf, id.rec);
  const rb = rec.encode(REC);
  for (let i = 0; i < 100_000; i++) sum += rec.decode(rb).tag;
  const t2 = performance.now();
  for (let i = 0; i < n; i++) sum += rec.decode(rb).tag;
  const t3 = performance.now();
  for (let i = 0; i < n; i++) hist.encode({ slots: [i & 0xffff, 2, 3] }, bytes);
  const t4 = performance.now();
  console.log(`# codec: decode struct hist ${((t1 - t0) * 1e6 / n).toFixed(0)} ns (${(t1 - t0).toFixed(0)} ms per 1M); ` +
    `decode struct rec (96 B, bitfields, strings, nested) ${((t3 - t2) * 1e6 / n).toFixed(0)} ns; encode struct hist ${((t4 - t3) * 1e6 / n).toFixed(0)} ns [checksum ${sum % 10}]`);
});
