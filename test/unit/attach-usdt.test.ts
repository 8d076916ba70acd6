/**
 * Kernel-free parts of the attach layer: USDT argument specs and the __bpf_usdt_spec encoding,
 * .note.stapsdt parsing of a real binary, uprobe/usdt section targets, glob patterns, ELF program
 * headers and symbol file offsets.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { UsdtArgType, encodeUsdtSpec, parseUsdtArg, parseUsdtArgs, parseUsdtSection, readUsdtNotes, x86Register64, USDT_SPEC_SIZE } from "../../src/link/usdt.js";
import { parseUprobeSection } from "../../src/link/uprobe.js";
import { PT_LOAD, addressToOffset, functionSymbols, globMatch, openBinary, programHeaders, symbolFileOffset } from "../../src/link/elf-symbols.js";
import { uprobeTarget } from "../helpers/uprobe-target.js";

test("USDT argument specs: registers, memory operands, constants, sizes and signs", () => {
  assert.deepEqual(parseUsdtArg("-4@%edi"), { text: "-4@%edi", size: 4, signed: true, type: UsdtArgType.REG, register: "rdi", regOffset: 112, value: 0n });
  assert.deepEqual(parseUsdtArg("8@-16(%rbp)"), { text: "8@-16(%rbp)", size: 8, signed: false, type: UsdtArgType.REG_DEREF, register: "rbp", regOffset: 32, value: -16n });
  assert.deepEqual(parseUsdtArg("2@(%rax)"), { text: "2@(%rax)", size: 2, signed: false, type: UsdtArgType.REG_DEREF, register: "rax", regOffset: 80, value: 0n });
  assert.deepEqual(parseUsdtArg("-1@$-5"), { text: "-1@$-5", size: 1, signed: true, type: UsdtArgType.CONST, value: -5n });
  assert.equal(parseUsdtArg("8@%r9d")?.register, "r9");
  assert.equal(parseUsdtArg("8@%sil")?.register, "rsi");
  assert.equal(parseUsdtArg("3@%rax"), undefined, "sizes are 1, 2, 4, 8");
  assert.equal(parseUsdtArg("8@8(%rax,%rbx,4)"), undefined, "SIB addressing is not supported (as in libbpf)");
  assert.equal(parseUsdtArgs("-4@%edi 8@%rsi")?.length, 2);
  assert.equal(parseUsdtArgs("-4@%edi 8@sym(%rip)x"), undefined);
  assert.equal(x86Register64("eax"), "rax");
  assert.equal(x86Register64("r15w"), "r15");
  assert.equal(x86Register64("xmm0"), undefined);
});

test("encodeUsdtSpec lays out struct __bpf_usdt_spec as libbpf's usdt.bpf.h does", () => {
  const b = encodeUsdtSpec(parseUsdtArgs("-4@%edi 8@-16(%rbp) 2@$7")!, 0x1122n);
  assert.equal(b.length, USDT_SPEC_SIZE);
  const v = new DataView(b.buffer);
  // arg 0: register rdi, signed, 32-bit shift
  assert.equal(v.getUint32(8, true), UsdtArgType.REG);
  assert.equal(v.getInt16(12, true), 112);
  assert.equal(b[14], 1);
  assert.equal(v.getInt8(15), 32);
  // arg 1: memory at rbp - 16
  assert.equal(v.getBigInt64(16, true), -16n);
  assert.equal(v.getUint32(24, true), UsdtArgType.REG_DEREF);
  assert.equal(v.getInt16(28, true), 32);
  assert.equal(v.getInt8(31), 0);
  // arg 2: constant 7, 16-bit
  assert.equal(v.getBigUint64(32, true), 7n);
  assert.equal(v.getInt8(47), 48);
  assert.equal(v.getBigUint64(192, true), 0x1122n);
  assert.equal(v.getInt16(200, true), 3);
});

test("section targets: uprobe path:func+off, path:offset, usdt path:provider:name", () => {
  assert.deepEqual(parseUprobeSection("/usr/lib/libc.so.6:malloc"), { binary: "/usr/lib/libc.so.6", func: "malloc", offset: undefined });
  assert.deepEqual(parseUprobeSection("libc.so.6:malloc+0x10"), { binary: "libc.so.6", func: "malloc", offset: 16 });
  assert.deepEqual(parseUprobeSection("/bin/x:0x1234"), { binary: "/bin/x", offset: 0x1234 });
  assert.deepEqual(parseUprobeSection("/bin/x"), { binary: "/bin/x" });
  assert.deepEqual(parseUsdtSection("/usr/bin/python3:python:gc__start"), { binary: "/usr/bin/python3", provider: "python", name: "gc__start" });
  assert.equal(parseUsdtSection("nocolons"), undefined);
});

test("glob patterns as libbpf's multi-probes use them", () => {
  assert.ok(globMatch("vfs_*", "vfs_read"));
  assert.ok(globMatch("str?cmp", "strncmp"));
  assert.ok(!globMatch("str?cmp", "strcmp"));
  assert.ok(globMatch("a.b*", "a.bc"));
  assert.ok(!globMatch("a.b*", "axbc"));
});

const haveCc = (() => {
  try {
    execFileSync("cc", ["--version"], { stdio: "pipe" });
    return existsSync("/usr/include/x86_64-linux-gnu/sys/sdt.h") || existsSync("/usr/include/sys/sdt.h");
  } catch {
    return false;
  }
})();

test("the test binary: program headers, symbol file offsets and .note.stapsdt agree with readelf", { skip: haveCc ? undefined : "needs cc and <sys/sdt.h> (systemtap-sdt-dev)" }, () => {
  const bin = openBinary(uprobeTarget());
  assert.ok(bin.segments.some((p) => p.type === PT_LOAD));
  assert.deepEqual(programHeaders(bin.bytes, true), bin.segments);
  const add = functionSymbols(bin).get("uprobe_target_add")!;
  assert.ok(add);
  const off = symbolFileOffset(bin, "uprobe_target_add");
  // The bytes at the file offset are the function's code: compare with the section view.
  const text = bin.elf.sectionByName(".text")!;
  const inSection = Number(add.value64) - text.addr;
  assert.deepEqual(bin.bytes.subarray(Number(off), Number(off) + 4), text.data.subarray(inSection, inSection + 4));
  assert.equal(addressToOffset(bin, add.value64, "x"), off);
  const notes = readUsdtNotes(bin);
  assert.deepEqual(notes.map((n) => `${n.provider}:${n.name}:${n.args?.length}`).sort(), ["tsbpf:guarded:1", "tsbpf:tick:2"]);
  const probes = bin.elf.sectionByName(".probes")!;
  for (const n of notes) {
    assert.ok(n.semaphoreAddress >= BigInt(probes.addr) && n.semaphoreAddress < BigInt(probes.addr + probes.size));
    assert.equal(n.semaphoreOffset, n.semaphoreAddress - BigInt(probes.addr) + BigInt(probes.offset), "semaphore file offset = address - .probes addr + .probes offset");
  }
  assert.throws(() => symbolFileOffset(bin, "nope_tsbpf"), /has no function nope_tsbpf/);
});
