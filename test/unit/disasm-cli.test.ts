/** `tsbpf disasm`, run as a user runs it: through the built bin. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";

const root = new URL("../../../", import.meta.url).pathname;
const obj = (...p: string[]) => join(root, ...p);

function tsbpf(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, "bin", "tsbpf.js"), ...args], { encoding: "utf8" });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const objdumpMissing = (() => { try { execFileSync("llvm-objdump-19", ["--version"], { stdio: "ignore" }); return undefined; } catch { return "llvm-objdump-19 is not installed"; } })();

test("tsbpf disasm --no-annotate --hex --bytes prints what llvm-objdump-19 -d prints", { skip: objdumpMissing }, () => {
  for (const f of [obj("examples", "readhist", "readhist.bpf.o"), obj("test", "bpf", "subprogs.bpf.o"), obj("test", "fixtures", "asm", "v4.bpf.o")]) {
    const r = tsbpf("disasm", f, "--no-annotate", "--hex", "--bytes");
    assert.equal(r.code, 0, r.stderr);
    const want = execFileSync("llvm-objdump-19", ["-d", f], { encoding: "utf8" });
    // objdump starts with "\nFILE:\tfile format elf64-bpf\n\n"; the command prints the sections.
    assert.equal(r.stdout, want.slice(want.indexOf("Disassembly of section")), f);
    const dec = tsbpf("disasm", f, "--no-annotate", "--alu32");
    assert.equal(dec.stdout, (s => s.slice(s.indexOf("Disassembly of section")))(execFileSync("llvm-objdump-19", ["-d", "--no-show-raw-insn", "--no-print-imm-hex", "--mattr=+alu32", f], { encoding: "utf8" })));
  }
});

test("tsbpf disasm annotates helpers, maps and subprograms; --prog, --source and --json", () => {
  const r = tsbpf("disasm", obj("examples", "xdp_counter", "xdp_counter.bpf.o"), "--source");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    "Disassembly of section xdp:",
    "",
    "0000000000000000 <count_packets>:",
    "; int count_packets(struct xdp_md *ctx)",
    "       0:\tr1 = 0",
    "; \t__u32 key = 0;",
    "       1:\t*(u32 *)(r10 - 4) = r1",
    "       2:\tr2 = r10",
    "       3:\tr2 += -4",
    "; \t__u64 *count = bpf_map_lookup_elem(&pkt_count, &key);",
    "       4:\tr1 = 0 ll ; map pkt_count",
    "       6:\tcall 1 ; bpf_map_lookup_elem",
    "; \tif (count)",
    "       7:\tif r0 == 0 goto +2 <count_packets+0x50>",
    "       8:\tr1 = 1",
    "; \t\t__atomic_fetch_add(count, 1, __ATOMIC_RELAXED);",
    "       9:\tlock *(u64 *)(r0 + 0) += r1",
    "; \treturn XDP_PASS;",
    "      10:\tr0 = 2",
    "      11:\texit",
    "",
  ].join("\n"));

  const one = tsbpf("disasm", obj("test", "bpf", "subprogs.bpf.o"), "--prog", "sum_of_squares");
  assert.equal(one.code, 0);
  assert.match(one.stdout, /^Disassembly of section \.text:\n\n0000000000000020 <sum_of_squares>:\n {7}4:\tr6 = r2\n {7}5:\tcall 13 ; square\n/);
  assert.doesNotMatch(one.stdout, /tp_getpid|global_mix/);

  const v4 = tsbpf("disasm", obj("test", "fixtures", "asm", "v4.bpf.o"), "--prog=atomics");
  assert.match(v4.stdout, /<unknown> ; alu32: w0 = atomic_fetch_and\(\(u32 \*\)\(r4 \+ 0\), w0\)/);
  assert.match(v4.stdout, /lock \*\(u32 \*\)\(r4 \+ 0\) \+= r0 ; alu32: w0 = atomic_fetch_add/);

  const json = JSON.parse(tsbpf("disasm", obj("examples", "xdp_counter", "xdp_counter.bpf.o"), "--json").stdout) as Array<{ section: string; lines: Array<{ kind: string; text?: string; bytes?: string; comment?: string }> }>;
  assert.equal(json[0]!.section, "xdp");
  const call = json[0]!.lines.find((l) => l.text === "call 1")!;
  assert.deepEqual(call, { kind: "insn", index: 6, bytes: "85 00 00 00 01 00 00 00", text: "call 1", valid: true, comment: "bpf_map_lookup_elem" });
});

test("tsbpf disasm errors: missing file and unknown program exit 1 with the fix, bad usage exits 2", () => {
  const missing = tsbpf("disasm", "/nonexistent.bpf.o");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /disasm \/nonexistent.bpf.o: no such file/);
  const nope = tsbpf("disasm", obj("test", "bpf", "subprogs.bpf.o"), "--prog", "nope");
  assert.equal(nope.code, 1);
  assert.match(nope.stderr, /no program or function named nope; programs: tp_getpid, run_args/);
  assert.equal(tsbpf("disasm").code, 2);
  assert.equal(tsbpf("disasm", obj("test", "bpf", "subprogs.bpf.o"), "--frob").code, 2);
  const notElf = tsbpf("disasm", join(root, "package.json"));
  assert.equal(notElf.code, 1);
  assert.match(notElf.stderr, /not an ELF file/);
});
