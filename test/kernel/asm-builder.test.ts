/**
 * A program assembled with the DSL, without clang, loaded into the kernel and run: the seed's XDP
 * packet counter. Its disassembly is the seed's llvm-objdump listing, line for line.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { ktest, repoPath } from "../helpers/kernel.js";
import { BpfMap, MapType, Program, ProgramType } from "../../src/index.js";
import { asm, disassemble, labelSymbols, linkBuiltProgram, R0, R1, R2, R10 } from "../../src/asm/index.js";

const XDP_PASS = 2;

/** The listing lines of /work/shared/seeds/xdp-packet-counter.txt (comments dropped, whitespace normalised). */
const SEED_LISTING = [
  "0: b7 01 00 00 00 00 00 00 r1 = 0",
  "1: 63 1a fc ff 00 00 00 00 *(u32 *)(r10 - 4) = r1",
  "2: bf a2 00 00 00 00 00 00 r2 = r10",
  "3: 07 02 00 00 fc ff ff ff r2 += -4",
  "4: 18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 r1 = 0 ll",
  "6: 85 00 00 00 01 00 00 00 call 1",
  "7: 15 00 02 00 00 00 00 00 if r0 == 0 goto +2 <LBB0_2>",
  "8: b7 01 00 00 01 00 00 00 r1 = 1",
  "9: db 10 00 00 00 00 00 00 lock *(u64 *)(r0 + 0) += r1",
  "0000000000000050 <LBB0_2>:",
  "10: b7 00 00 00 02 00 00 00 r0 = 2",
  "11: 95 00 00 00 00 00 00 00 exit",
];

ktest("the seed's XDP counter, assembled with the DSL, counts 10 test runs", () => {
  const built = asm()
    .mov64(R1, 0).stxw(R10, -4, R1)           // __u32 key = 0
    .mov64(R2, R10).add64(R2, -4)             // r2 = &key
    .ldMap(R1, "pkt_count")                   // r1 = &pkt_count
    .call("map_lookup_elem")                  // r0 = bpf_map_lookup_elem(&pkt_count, &key)
    .jeq(R0, 0, "LBB0_2")                     // if (!count) goto out
    .mov64(R1, 1).atomicAdd64(R0, 0, R1)      // __atomic_fetch_add(count, 1)
    .label("LBB0_2").mov64(R0, XDP_PASS)      // return XDP_PASS
    .exit()
    .build();

  // Its disassembly is the seed's listing.
  const listing = disassemble(built.instructions, { name: "count_packets", symbols: labelSymbols(built), rawBytes: true })
    .filter((l) => l !== "" && !l.endsWith("<count_packets>:"))
    .map((l) => l.replace(/\s+/g, " ").trim());
  assert.deepEqual(listing, SEED_LISTING);
  // ... which the seed file really contains.
  const seedPath = "/work/shared/seeds/xdp-packet-counter.txt";
  let seed: string | undefined;
  try { seed = readFileSync(seedPath, "utf8"); } catch { /* not on every machine */ }
  if (seed) {
    const fromSeed = seed.split("\n").filter((l) => /^\d+:\s|^[0-9a-f]{16} </.test(l)).map((l) => l.replace(/#.*$/, "").replace(/\s+/g, " ").trim());
    assert.deepEqual(fromSeed, SEED_LISTING);
  }

  using map = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, name: "pkt_count" });
  using prog = Program.load({
    name: "count_packets", type: ProgramType.XDP, license: "Dual MIT/GPL",
    instructions: linkBuiltProgram(built, { pkt_count: map }),
  });
  const packet = new Uint8Array(64); // an Ethernet frame's worth of zeroes
  for (let i = 0; i < 10; i++) assert.equal(prog.testRun({ data: packet }).retval, XDP_PASS);
  const value = map.lookup(0);
  assert.ok(value);
  assert.equal(new DataView(value.buffer, value.byteOffset).getBigUint64(0, true), 10n);
});

ktest("a DSL program with a loop, a bpf-to-bpf call and an atomic fetch-add passes the verifier and computes", () => {
  // r0 = sum(0..9) via a bpf-to-bpf call; the result is stored with an atomic fetch-add.
  const built = asm()
    .mov64(R1, 0).stxdw(R10, -8, R1)          // u64 slot = 0
    .mov64(R1, 10).callSub("sum")             // r0 = sum(10)
    .mov64(R2, R10).add64(R2, -8)
    .atomicFetchAdd64(R2, 0, R0)              // old = slot; slot += r0 (old lands in r0)
    .ldxdw(R0, R10, -8)                       // return slot
    .exit()
    .label("sum")                             // r0 = 0 + 1 + ... + (r1 - 1)
    .mov64(R0, 0).mov64(R2, 0)
    .label("loop").jge(R2, R1, "done")
    .add64(R0, R2).add64(R2, 1).ja("loop")
    .label("done").exit()
    .build();
  using prog = Program.load({ name: "dsl_sum", type: ProgramType.XDP, license: "GPL", instructions: built.instructions });
  assert.equal(prog.testRun({ data: new Uint8Array(64) }).retval, 45);
});

ktest("examples/asm_counter runs: prints the listing and counts its test runs", () => {
  const r = spawnSync(process.execPath, [repoPath("dist", "examples", "asm_counter", "asm_counter.js"), "3"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ {7}6:\t85 00 00 00 01 00 00 00\tcall 1 ; bpf_map_lookup_elem$/m);
  assert.match(r.stdout, /^0000000000000050 <out>:$/m);
  assert.match(r.stdout, /pkt_count\[0\] = 3 after 3 test runs/);
});
