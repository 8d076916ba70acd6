/**
 * asm_counter: the seed's XDP packet counter written with the assembler DSL instead of C, so it
 * needs no clang. It prints the program's disassembly (the same listing llvm-objdump prints for
 * the clang-built examples/xdp_counter), then, with privileges, creates the map, loads the program
 * and runs it on a dummy packet N times with BPF_PROG_TEST_RUN, printing the count.
 *
 *   node dist/examples/asm_counter/asm_counter.js            # disassembly only
 *   sudo node dist/examples/asm_counter/asm_counter.js 10    # and run it 10 times
 */
import { asm, disassemble, labelSymbols, linkBuiltProgram, R0, R1, R2, R10 } from "../../src/asm/index.js";
import { BpfMap, MapType, Program, ProgramType } from "../../src/index.js";

const XDP_PASS = 2;

const built = asm()
  .mov64(R1, 0).stxw(R10, -4, R1)        // __u32 key = 0
  .mov64(R2, R10).add64(R2, -4)          // r2 = &key
  .ldMap(R1, "pkt_count")                // r1 = &pkt_count
  .call("map_lookup_elem")               // __u64 *count = bpf_map_lookup_elem(&pkt_count, &key)
  .jeq(R0, 0, "out")                     // if (!count) goto out
  .mov64(R1, 1).atomicAdd64(R0, 0, R1)   // __atomic_fetch_add(count, 1, __ATOMIC_RELAXED)
  .label("out").mov64(R0, XDP_PASS)      // return XDP_PASS
  .exit()
  .build();

for (const line of disassemble(built.instructions, { name: "count_packets", symbols: labelSymbols(built), rawBytes: true, annotate: true, relocations: built.relocations })) {
  console.log(line);
}

const runs = Number(process.argv[2] ?? 0);
if (runs > 0) {
  using map = BpfMap.create({ type: MapType.ARRAY, name: "pkt_count", keySize: 4, valueSize: 8, maxEntries: 1 });
  using prog = Program.load({ name: "count_packets", type: ProgramType.XDP, license: "Dual MIT/GPL", instructions: linkBuiltProgram(built, { pkt_count: map }) });
  for (let i = 0; i < runs; i++) prog.testRun({ data: new Uint8Array(64) });
  const v = map.lookup(0)!;
  console.log(`\npkt_count[0] = ${new DataView(v.buffer, v.byteOffset).getBigUint64(0, true)} after ${runs} test runs`);
}
