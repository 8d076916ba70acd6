/**
 * Fuzzing of the BTF parser, the C header generator and the BTF codecs with mutated valid BTF
 * (fixed seeds: the same inputs on every run). Only typed errors (BtfError, and ArgumentError from
 * a codec given bytes) may come out: never a RangeError, a TypeError or a crash.
 *
 * Iterations per random target: env TSBPF_FUZZ_ITERATIONS (default 3000, what CI runs); e.g.
 * `TSBPF_FUZZ_ITERATIONS=20000 node scripts/run-tests.mjs btf-fuzz` for a longer run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Btf, BtfBuilder, fixupDatasecs, parseBtfExt, rewriteBtf, sanitizeBtf, writeBtf } from "../../src/btf/index.js";
import { parseElf } from "../../src/elf/index.js";
import { formatBtfAsC } from "../../src/btf/format-c.js";
import { codecFor } from "../../src/codec/index.js";
import { ArgumentError, BtfError } from "../../src/errors.js";

/** Iterations of each random target (TSBPF_FUZZ_ITERATIONS, default 3000). */
export const FUZZ_ITERATIONS = (() => {
  const v = Number(process.env.TSBPF_FUZZ_ITERATIONS ?? 3000);
  if (!Number.isInteger(v) || v < 1) throw new Error(`TSBPF_FUZZ_ITERATIONS must be a positive integer, got ${process.env.TSBPF_FUZZ_ITERATIONS}`);
  return v;
})();

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
  const iterations = FUZZ_ITERATIONS;
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
  for (let i = 0; i < FUZZ_ITERATIONS; i++) {
    const b = copy(EXT);
    for (let k = 0; k < 1 + (next() % 3); k++) b[next() % b.length] = next() & 0xff;
    only(() => parseBtfExt(b, btf), `ext iteration ${i}`);
  }
});

/** Valid BTF of three objects, mutated by 1-4 byte writes biased towards the header and types. */
const SOURCES = [BTF, ...["globals.bpf.o", "btfmaps.bpf.o"].map((n) =>
  copy(parseElf(readFileSync(new URL(`../../../test/fixtures/elf/${n}`, import.meta.url))).sectionByName(".BTF")!.data))];

function mutant(next: () => number, i: number): Uint8Array {
  const b = copy(SOURCES[i % SOURCES.length]!);
  const flips = 1 + (next() % 4);
  for (let k = 0; k < flips; k++) {
    const pos = next() % (k === 0 ? Math.min(b.length, 1200) : b.length);
    const m = next() % 4;
    b[pos] = m === 0 ? 0xff : m === 1 ? 0 : next() & 0xff;
  }
  return b;
}

test("fuzz: formatBtfAsC on mutated BTF only throws BtfError", () => {
  const next = rng(0xc0ffee);
  let formatted = 0;
  for (let i = 0; i < FUZZ_ITERATIONS; i++) {
    let btf: Btf;
    try { btf = Btf.parse(mutant(next, i)); } catch (e) {
      if (!(e instanceof BtfError)) assert.fail(`iteration ${i}: parse threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
      continue;
    }
    try { formatBtfAsC(btf, { maxLength: 1 << 22 }); formatted++; } catch (e) {
      if (!(e instanceof BtfError)) assert.fail(`iteration ${i}: formatBtfAsC threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
  }
  assert.ok(formatted > FUZZ_ITERATIONS / 10, `enough mutants format (${formatted})`);
});

test("fuzz: codecs built from mutated BTF decode random bytes with only typed errors", () => {
  const next = rng(0xc0dec);
  let decoded = 0;
  for (let i = 0; i < FUZZ_ITERATIONS; i++) {
    let btf: Btf;
    try { btf = Btf.parse(mutant(next, i)); } catch { continue; }
    for (let id = 1; id < btf.count; id++) {
      const ctx = `iteration ${i}, type ${id}`;
      let c;
      try { c = codecFor(btf, id); } catch (e) {
        if (!(e instanceof BtfError)) assert.fail(`${ctx}: codecFor threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
        continue;
      }
      if (!(c.size <= 1 << 20)) continue;
      const bytes = new Uint8Array(c.size);
      for (let j = 0; j < bytes.length; j++) bytes[j] = next() & 0xff;
      let v: unknown;
      try { v = c.decode(bytes); decoded++; } catch (e) {
        if (!(e instanceof BtfError || e instanceof ArgumentError)) assert.fail(`${ctx}: decode threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
        continue;
      }
      try { c.encode(v as never); } catch (e) {
        if (!(e instanceof BtfError || e instanceof ArgumentError)) assert.fail(`${ctx}: encode threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
      }
    }
  }
  assert.ok(decoded > FUZZ_ITERATIONS, `enough values decode (${decoded})`);
});

test("codec: a member that ends past its struct is a BtfError when the codec is built", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: "int", name: "int", size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false });
  const long = b.add({ kind: "int", name: "long", size: 8, bits: 64, offset: 0, signed: true, char: false, bool: false });
  const s = b.add({ kind: "struct", name: "s", size: 4, members: [{ name: "x", typeId: long, bitOffset: 0, bitfieldSize: 0 }] });
  const bf = b.add({ kind: "struct", name: "bf", size: 4, members: [{ name: "x", typeId: int, bitOffset: 30, bitfieldSize: 4 }] });
  const empty = b.add({ kind: "struct", name: "e", size: 0, members: [] });
  const many = b.add({ kind: "array", name: "", elemTypeId: empty, indexTypeId: int, nelems: 0xffffffff });
  const btf = Btf.parse(b.toBytes());
  for (const id of [s, bf]) assert.throws(() => codecFor(btf, id), (e: unknown) => e instanceof BtfError && /past the end of its 4-byte struct/.test(e.message));
  assert.throws(() => codecFor(btf, many), (e: unknown) => e instanceof BtfError && /zero-size elements/.test(e.message));
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
