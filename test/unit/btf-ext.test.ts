import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Btf, encodeFuncInfo, encodeLineInfo, parseBtfExt, sliceExtInfo } from "../../src/btf/index.js";
import { parseElf } from "../../src/elf/index.js";
import { BtfError } from "../../src/errors.js";

const OBJ = new URL("../../../test/fixtures/btf/kinds.bpf.o", import.meta.url);
const SRC = new URL("../../../test/fixtures/btf/kinds.bpf.c", import.meta.url);

function load() {
  const elf = parseElf(readFileSync(OBJ));
  const btf = Btf.parse(elf.sectionByName(".BTF")!.data);
  const extBytes = elf.sectionByName(".BTF.ext")!.data;
  return { elf, btf, extBytes, ext: parseBtfExt(extBytes, btf) };
}

test(".BTF.ext: func_info, line_info and CO-RE relocations of the fixture", () => {
  const { elf, btf, ext } = load();
  const funcs = [...btf.types()].filter((t) => t.kind === "func");
  const allFi = [...ext.funcInfo.values()].flat();
  assert.equal(allFi.length, funcs.length);
  assert.deepEqual(new Set(allFi.map((f) => btf.name(f.typeId))), new Set(["on_getpid", "helper_fn", "on_xdp"]));
  assert.deepEqual([...ext.funcInfo.keys()].sort(), [".text", "tracepoint/syscalls/sys_enter_getpid", "xdp"]);
  for (const sec of ext.funcInfo.keys()) assert.ok(elf.sectionByName(sec), `section ${sec} exists`);

  const source = readFileSync(SRC, "utf8").split("\n");
  let n = 0;
  for (const [, recs] of ext.lineInfo) {
    for (const r of recs) {
      assert.ok(r.fileName.endsWith("kinds.bpf.c"), r.fileName);
      assert.equal(r.lineText, source[r.line - 1], `line ${r.line}`);
      assert.equal(r.lineCol, (r.line << 10) | r.col);
      assert.equal(r.insnOff % 8, 0);
      n++;
    }
  }
  assert.ok(n > 5);
  const first = ext.lineInfo.get("tracepoint/syscalls/sys_enter_getpid")![0]!;
  assert.equal(first.lineText, "int on_getpid(void *ctx)");

  const relos = [...ext.coreRelos.values()].flat();
  assert.ok(relos.length >= 1);
  for (const r of relos) {
    assert.equal(btf.name(r.typeId), "flags");
    assert.match(r.accessStr, /^0(:\d+)+$/);
  }
  assert.equal(ext.funcInfoRecSize, 8);
  assert.equal(ext.lineInfoRecSize, 16);
  assert.equal(ext.coreReloRecSize, 16);
});

test(".BTF.ext: re-serialization for BPF_PROG_LOAD uses instruction indices", () => {
  const { ext } = load();
  const lines = ext.lineInfo.get("tracepoint/syscalls/sys_enter_getpid")!;
  const sub = ext.lineInfo.get(".text")!;
  // Program = its section, followed by .text placed at instruction 28.
  const placed = [...sliceExtInfo(lines, 0, Infinity), ...sliceExtInfo(sub, 0, Infinity, 28)];
  const enc = encodeLineInfo(placed);
  assert.equal(enc.length, placed.length * 16);
  const dv = new DataView(enc.buffer);
  assert.equal(dv.getUint32(16, true), lines[1]!.insnOff / 8);
  assert.equal(dv.getUint32(lines.length * 16, true), 28);
  assert.equal(dv.getUint32(lines.length * 16 + 4, true), sub[0]!.fileNameOff);
  assert.equal(dv.getUint32(lines.length * 16 + 12, true), sub[0]!.lineCol);
  const fi = encodeFuncInfo([{ insnOff: 0, typeId: 19 }, { insnOff: 28 * 8, typeId: 21 }], false);
  assert.deepEqual([...fi], [0, 0, 0, 0, 0, 0, 0, 19, 0, 0, 0, 28, 0, 0, 0, 21]);
  assert.throws(() => encodeFuncInfo([{ insnOff: 3, typeId: 1 }]), BtfError);
  assert.deepEqual(sliceExtInfo([{ insnOff: 8 }, { insnOff: 16 }, { insnOff: 24 }], 16, 24, 2), [{ insnOff: 16 }]);
});

/** Builds .BTF.ext bytes with one func_info section of `recSize`-byte records. */
function extWith(recSize: number, secNameOff: number, recs: [number, number][], le = true): Uint8Array {
  const body = 4 + 8 + recs.length * recSize;
  const out = new Uint8Array(32 + body);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0xeb9f, le); out[2] = 1;
  dv.setUint32(4, 32, le); dv.setUint32(8, 0, le); dv.setUint32(12, body, le);
  dv.setUint32(16, body, le); dv.setUint32(20, 0, le); dv.setUint32(24, body, le); dv.setUint32(28, 0, le);
  dv.setUint32(32, recSize, le); dv.setUint32(36, secNameOff, le); dv.setUint32(40, recs.length, le);
  recs.forEach(([off, id], i) => {
    dv.setUint32(44 + i * recSize, off, le);
    if (recSize >= 8) dv.setUint32(48 + i * recSize, id, le);
  });
  return out;
}

test(".BTF.ext: larger record sizes, big endian, malformed input", () => {
  const { btf, extBytes } = load();
  const secOff = btf.rawBytes.indexOf(0) === -1 ? 0 : (() => {
    // Any string offset of a section name: use the one the fixture's func_info already uses.
    const dv = new DataView(extBytes.buffer, extBytes.byteOffset);
    const hdr = dv.getUint32(4, true);
    return dv.getUint32(hdr + dv.getUint32(8, true) + 4, true);
  })();
  const wide = parseBtfExt(extWith(12, secOff, [[0, 19], [64, 21]]), btf);
  assert.equal(wide.funcInfoRecSize, 12);
  assert.deepEqual([...wide.funcInfo.values()][0], [{ insnOff: 0, typeId: 19 }, { insnOff: 64, typeId: 21 }]);
  const be = parseBtfExt(extWith(8, secOff, [[8, 19]], false), btf);
  assert.equal(be.littleEndian, false);
  assert.deepEqual([...be.funcInfo.values()][0], [{ insnOff: 8, typeId: 19 }]);
  assert.throws(() => parseBtfExt(extWith(4, secOff, [[0, 19]]), btf), /record size 4/);
  assert.throws(() => parseBtfExt(extWith(8, secOff, [[0, 9999]]), btf), /beyond the last id/);
  assert.throws(() => parseBtfExt(extWith(8, 1 << 30, [[0, 19]]), btf), /string offset/);
  const over = extWith(8, secOff, [[0, 19]]);
  new DataView(over.buffer).setUint32(40, 1000, true);
  assert.throws(() => parseBtfExt(over, btf), /more than the/);
  for (let len = 0; len < extBytes.length; len++) {
    try { parseBtfExt(extBytes.subarray(0, len), btf); } catch (e) { assert.ok(e instanceof BtfError, `truncated at ${len}: ${e}`); }
  }
});
