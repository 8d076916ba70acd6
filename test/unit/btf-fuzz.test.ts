import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Btf, fixupDatasecs, parseBtfExt, rewriteBtf, sanitizeBtf, writeBtf } from "../../src/btf/index.js";
import { parseElf } from "../../src/elf/index.js";
import { BtfError } from "../../src/errors.js";

const OBJ = new URL("../../../test/fixtures/btf/kinds.bpf.o", import.meta.url);
const elf = parseElf(readFileSync(OBJ));
// Copies (Buffer#slice would be a view, and the tests mutate their inputs).
const copy = (b: Uint8Array) => new Uint8Array(b);
const BTF = copy(elf.sectionByName(".BTF")!.data);
const EXT = copy(elf.sectionByName(".BTF.ext")!.data);

/** Runs f; any error other than BtfError fails the test. */
function only(f: () => unknown, ctx: string): void {
  try { f(); } catch (e) {
    if (!(e instanceof BtfError)) assert.fail(`${ctx}: threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
}

/** Every read-side API on every id. */
function exercise(bytes: Uint8Array, ctx: string): void {
  let btf: Btf;
  try { btf = Btf.parse(bytes); } catch (e) {
    if (!(e instanceof BtfError)) assert.fail(`${ctx}: parse threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    return;
  }
  for (let id = 0; id < btf.count; id++) {
    only(() => btf.type(id), ctx);
    only(() => btf.name(id), ctx);
    only(() => btf.resolve(id), ctx);
    only(() => btf.skipModifiers(id), ctx);
    only(() => btf.sizeof(id), ctx);
    only(() => btf.alignof(id), ctx);
    only(() => btf.typeName(id), ctx);
    only(() => btf.findMember(id, "c"), ctx);
  }
  only(() => btf.findByName("flags", "struct"), ctx);
  only(() => btf.findAllByName("int"), ctx);
  only(() => parseBtfExt(EXT, btf), ctx);
  only(() => rewriteBtf(btf, { littleEndian: false }), ctx);
  only(() => fixupDatasecs(btf, new Map([[".bss", 48]]), () => 8), ctx);
  only(() => sanitizeBtf(btf, { declTag: false, typeTag: false, float: false, enum64: false, funcLinkage: false, datasec: false }), ctx);
}

/** xorshift32 with a fixed seed: the same inputs on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

test("malformed BTF: truncation at every length only throws BtfError", () => {
  for (let len = 0; len < BTF.length; len++) exercise(BTF.subarray(0, len), `truncated to ${len}`);
  // Truncations that keep the header consistent: shrink the type section word by word.
  const dv = new DataView(BTF.buffer, BTF.byteOffset);
  const typeLen = dv.getUint32(12, true);
  for (let cut = 4; cut <= typeLen; cut += 4) {
    const b = copy(BTF);
    const d = new DataView(b.buffer);
    d.setUint32(12, typeLen - cut, true);
    exercise(b, `type section shortened by ${cut}`);
  }
});

test("malformed BTF: random byte flips (fixed seed) only throw BtfError", () => {
  const next = rng(0xb7f5eed);
  const iterations = 3000;
  let parsed = 0;
  for (let i = 0; i < iterations; i++) {
    const b = copy(BTF);
    const flips = 1 + (next() % 4);
    for (let k = 0; k < flips; k++) {
      // Bias towards the header and type section, where the structure is.
      const pos = next() % (k === 0 ? Math.min(b.length, 1200) : b.length);
      b[pos] = next() & 0xff;
    }
    try { Btf.parse(b); parsed++; } catch { /* counted below */ }
    exercise(b, `iteration ${i}`);
  }
  assert.ok(parsed > 100, `enough mutants parse to exercise decoding (${parsed})`);
});

test("malformed .BTF.ext: random byte flips only throw BtfError", () => {
  const btf = Btf.parse(BTF);
  const next = rng(42);
  for (let i = 0; i < 3000; i++) {
    const b = copy(EXT);
    for (let k = 0; k < 1 + (next() % 3); k++) b[next() % b.length] = next() & 0xff;
    only(() => parseBtfExt(b, btf), `ext iteration ${i}`);
  }
});

test("malformed BTF: specific errors name the problem", () => {
  const good = writeBtf([
    { kind: "int", name: "int", size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false },
    { kind: "ptr", name: "", typeId: 1 },
    { kind: "typedef", name: "t", typeId: 2 },
  ], { littleEndian: true });
  const edit = (f: (dv: DataView, b: Uint8Array) => void) => { const b = good.slice(); f(new DataView(b.buffer), b); return b; };
  assert.throws(() => Btf.parse(good.subarray(0, 10)), /header truncated/);
  assert.throws(() => Btf.parse(edit((_, b) => { b[0] = 0; })), /bad magic/);
  assert.throws(() => Btf.parse(edit((_, b) => { b[2] = 2; })), /version 2/);
  assert.throws(() => Btf.parse(edit((dv) => dv.setUint32(12, 1000, true))), /runs past the end/);
  assert.throws(() => Btf.parse(edit((dv) => dv.setUint32(24 + 4, 25 << 24, true))), /unknown kind 25/);
  assert.throws(() => Btf.parse(edit((dv) => dv.setUint32(24 + 4, (4 << 24) | 9, true))), /vlen 9/);
  const badRef = Btf.parse(edit((dv) => dv.setUint32(24 + 16 + 8, 77, true)));
  assert.throws(() => badRef.type(2), /refers to type 77, beyond the last id 3/);
  const badName = Btf.parse(edit((dv) => dv.setUint32(24, 5000, true)));
  assert.throws(() => badName.type(1), /offset 5000 is outside the string section/);
  // A typedef that points to itself: resolving reports the loop.
  const loop = Btf.parse(edit((dv) => dv.setUint32(24 + 16 + 12 + 8, 3, true)));
  assert.throws(() => loop.resolve(3), /loops/);
  assert.throws(() => loop.sizeof(3), /loops/);
  assert.equal(typeof loop.typeName(3), "string");
});
