import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { ElfError } from "../../src/errors.js";
import {
  ElfType, Machine, SectionType, SymbolBind, SymbolType, parseElf, BpfRelocType,
} from "../../src/elf/index.js";

const fixtures = new URL("../../../test/fixtures/elf/", import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(name, fixtures)));
const hasTool = (t: string) => { try { execFileSync(t, ["--version"], { stdio: "ignore" }); return true; } catch { return false; } };

test("parses a little-endian BPF object's header and sections", () => {
  const elf = parseElf(fixture("globals.bpf.o"), { machine: Machine.BPF });
  assert.equal(elf.littleEndian, true);
  assert.equal(elf.type, ElfType.REL);
  assert.equal(elf.machine, Machine.BPF);
  assert.equal(elf.sections[0].type, SectionType.NULL);
  const text = elf.sectionByName(".text")!;
  assert.equal(text.type, SectionType.PROGBITS);
  assert.equal(text.data.length, text.size);
  const bss = elf.sectionByName(".bss")!;
  assert.equal(bss.type, SectionType.NOBITS);
  assert.equal(bss.data.length, 0);
  assert.equal(bss.size, 40);
  assert.ok(elf.sectionByName("tracepoint/syscalls/sys_enter_openat"));
  assert.equal(elf.sectionByName("nope"), undefined);
});

test("section table matches llvm-readelf", { skip: !hasTool("llvm-readelf-19") && "llvm-readelf-19 not installed" }, () => {
  const path = new URL("globals.bpf.o", fixtures).pathname;
  const out = execFileSync("llvm-readelf-19", ["-S", "--wide", path], { encoding: "utf8" });
  const rows = [...out.matchAll(/^\s*\[\s*(\d+)\]\s+(\S*)\s+([A-Z_]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/gm)];
  const elf = parseElf(fixture("globals.bpf.o"));
  assert.equal(rows.length, elf.sections.length);
  for (const r of rows.slice(1)) {
    const s = elf.sections[Number(r[1])];
    assert.equal(s.name, r[2]);
    assert.equal(s.offset, parseInt(r[5], 16));
    assert.equal(s.size, parseInt(r[6], 16));
  }
});

test("symbols and relocations", () => {
  const elf = parseElf(fixture("globals.bpf.o"));
  const syms = elf.symbols;
  assert.equal(syms[0].name, "");
  const progOne = syms.find((s) => s.name === "prog_one")!;
  assert.equal(progOne.type, SymbolType.FUNC);
  assert.equal(progOne.bind, SymbolBind.GLOBAL);
  assert.equal(elf.sections[progOne.shndx].name, "tracepoint/syscalls/sys_enter_openat");
  assert.equal(progOne.value, 0);
  assert.equal(progOne.size, 272);
  const threshold = syms.find((s) => s.name === "threshold")!;
  assert.equal(threshold.value, 8);
  assert.equal(threshold.value64, 8n);
  const hz = syms.find((s) => s.name === "CONFIG_HZ")!;
  assert.equal(hz.shndx, 0);
  const rel = elf.sectionByName(".reltracepoint/syscalls/sys_enter_openat")!;
  assert.equal(rel.type, SectionType.REL);
  const relocs = elf.relocations(rel);
  assert.equal(relocs.length, 10);
  assert.deepEqual(relocs[0], { offset: 0, type: BpfRelocType.R_BPF_64_64, symbolIndex: syms.indexOf(syms.find((s) => s.name === "targ_pid")!) });
  const calls = relocs.filter((r) => r.type === BpfRelocType.R_BPF_64_32);
  assert.equal(calls.length, 2);
  assert.equal(syms[calls[0].symbolIndex].type, SymbolType.SECTION);
  assert.throws(() => elf.relocations(elf.sectionByName(".text")!), ElfError);
});

test("big-endian objects parse to the same structure", () => {
  const le = parseElf(fixture("globals.bpf.o"));
  const be = parseElf(fixture("globals.bpfeb.o"));
  assert.equal(be.littleEndian, false);
  assert.equal(be.machine, Machine.BPF);
  assert.deepEqual(be.sections.map((s) => [s.name, s.type, s.size]), le.sections.map((s) => [s.name, s.type, s.size]));
  assert.deepEqual(be.symbols.map((s) => [s.name, s.value, s.size, s.bind, s.type, s.shndx]), le.symbols.map((s) => [s.name, s.value, s.size, s.bind, s.type, s.shndx]));
  const name = ".reltracepoint/syscalls/sys_enter_openat";
  assert.deepEqual(be.relocations(be.sectionByName(name)!), le.relocations(le.sectionByName(name)!));
});

test("user-space ELF: shared object dynamic symbols", { skip: !existsSync("/usr/lib/x86_64-linux-gnu/libc.so.6") && "no x86-64 libc" }, () => {
  const elf = parseElf(new Uint8Array(readFileSync("/usr/lib/x86_64-linux-gnu/libc.so.6")));
  assert.equal(elf.machine, Machine.X86_64);
  assert.equal(elf.type, ElfType.DYN);
  const malloc = elf.dynamicSymbols.find((s) => s.name === "malloc" && s.type === SymbolType.FUNC);
  assert.ok(malloc, "malloc in .dynsym");
  assert.ok(malloc.value > 0);
  assert.ok(malloc.shndx > 0 && elf.sections[malloc.shndx].name === ".text");
  if (hasTool("llvm-readelf-19")) {
    const out = execFileSync("llvm-readelf-19", ["--dyn-syms", "--wide", "/usr/lib/x86_64-linux-gnu/libc.so.6"], { encoding: "utf8" });
    const m = /^\s*\d+:\s+([0-9a-f]+)\s+\d+\s+FUNC\s+\S+\s+\S+\s+\d+\s+malloc@@/m.exec(out);
    if (m) assert.equal(malloc.value, parseInt(m[1], 16));
  }
  const rela = elf.sections.find((s) => s.type === SectionType.RELA)!;
  assert.ok(elf.relocations(rela).every((r) => r.addend !== undefined));
});

test("user-space ELF: executable", { skip: !existsSync("/usr/bin/ls") && "no /usr/bin/ls" }, () => {
  const elf = parseElf(new Uint8Array(readFileSync("/usr/bin/ls")));
  assert.ok(elf.type === ElfType.DYN || elf.type === ElfType.EXEC);
  assert.ok(elf.entry > 0n);
  assert.ok(elf.dynamicSymbols.length > 1);
});

// --- malformed input -------------------------------------------------------------------------

function header(mutate: (dv: DataView, b: Uint8Array) => void): Uint8Array {
  const b = fixture("xdp_counter.bpf.o").slice();
  mutate(new DataView(b.buffer), b);
  return b;
}

function throwsElf(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(() => {
    const elf = parseElf(bytes);
    void elf.symbols;
    for (const s of elf.sections) if (s.type === SectionType.REL || s.type === SectionType.RELA) elf.relocations(s);
  }, (e: unknown) => e instanceof ElfError && pattern.test(e.message));
}

test("rejects non-ELF and unsupported identification", () => {
  throwsElf(new Uint8Array(0), /bad magic/);
  throwsElf(new TextEncoder().encode("hello world, not an ELF"), /bad magic/);
  throwsElf(header((_, b) => { b[4] = 1; }), /class 1/);
  throwsElf(header((_, b) => { b[5] = 3; }), /byte order/);
  throwsElf(header((_, b) => { b[6] = 0; }), /version/);
  throwsElf(header(() => {}).subarray(0, 40), /truncated header/);
  assert.throws(() => parseElf(fixture("xdp_counter.bpf.o"), { machine: Machine.X86_64 }), /machine is 247/);
});

test("rejects bad section header table", () => {
  throwsElf(header((dv) => dv.setBigUint64(40, 1n << 40n, true)), /section header table .* past the end/);
  throwsElf(header((dv) => dv.setUint16(60, 0xfff0, true)), /runs past the end/);
  throwsElf(header((dv) => dv.setUint16(58, 40, true)), /e_shentsize/);
  throwsElf(header((dv) => dv.setUint16(62, 500, true)), /e_shstrndx 500 is out of range/);
  throwsElf(header((dv) => dv.setUint16(62, 2, true)), /not a string table/);
});

test("rejects sections, names, symbols past the end", () => {
  const elf = parseElf(fixture("xdp_counter.bpf.o"));
  const shoff = Number(new DataView(fixture("xdp_counter.bpf.o").buffer).getBigUint64(40, true));
  const text = elf.sections.find((s) => s.type === SectionType.PROGBITS)!;
  throwsElf(header((dv) => dv.setBigUint64(shoff + text.index * 64 + 32, 1n << 50n, true)), /section \d+ .* runs past the end/);
  throwsElf(header((dv) => dv.setBigUint64(shoff + text.index * 64 + 32, 1n << 62n, true)), /too large/);
  throwsElf(header((dv) => dv.setUint32(shoff + text.index * 64, 1 << 30, true)), /name of section .* past the end/);
  // shstrtab without a terminating NUL
  const shstr = elf.sections[elf.shstrndx];
  throwsElf(header((_, b) => b.fill(0x41, shstr.offset, shstr.offset + shstr.size)), /not NUL-terminated/);
  // symbol table with a bad entry size and a bad string table link
  const symtab = elf.sections.find((s) => s.type === SectionType.SYMTAB)!;
  throwsElf(header((dv) => dv.setBigUint64(shoff + symtab.index * 64 + 56, 16n, true)), /entry size 16/);
  throwsElf(header((dv) => dv.setUint32(shoff + symtab.index * 64 + 40, 9999, true)), /string table 9999/);
  throwsElf(header((dv) => dv.setUint32(shoff + symtab.index * 64 + 40, text.index, true)), /not a string table/);
  throwsElf(header((dv) => dv.setUint32(symtab.offset + 24, 1 << 30, true)), /name of symbol 1/);
  // relocation section with a size that is not a multiple of the entry size
  const rel = elf.sections.find((s) => s.type === SectionType.REL)!;
  throwsElf(header((dv) => dv.setBigUint64(shoff + rel.index * 64 + 32, 15n, true)), /not a multiple/);
});

test("extended section numbering (e_shnum = 0, count in section 0)", () => {
  const b = fixture("xdp_counter.bpf.o").slice();
  const dv = new DataView(b.buffer);
  const shoff = Number(dv.getBigUint64(40, true));
  const n = dv.getUint16(60, true);
  const strndx = dv.getUint16(62, true);
  dv.setUint16(60, 0, true);
  dv.setBigUint64(shoff + 32, BigInt(n), true);
  dv.setUint16(62, 0xffff, true);
  dv.setUint32(shoff + 40, strndx, true);
  const elf = parseElf(b);
  assert.equal(elf.sections.length, n);
  assert.ok(elf.sectionByName("xdp"));
  dv.setBigUint64(shoff + 32, 1n << 40n, true);
  assert.throws(() => parseElf(b), ElfError);
});

test("every truncation of an object throws ElfError or parses", () => {
  const full = fixture("globals.bpf.o");
  for (let len = 0; len < full.length; len++) {
    try {
      const elf = parseElf(full.subarray(0, len));
      void elf.symbols;
      for (const s of elf.sections) if (s.type === SectionType.REL) elf.relocations(s);
    } catch (e) {
      if (!(e instanceof ElfError)) assert.fail(`length ${len}: ${String(e)}`);
    }
  }
});
