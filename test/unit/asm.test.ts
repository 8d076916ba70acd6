import { test } from "node:test";
import assert from "node:assert/strict";
import { ArgumentError } from "../../src/errors.js";
import {
  BPF_ALU64, BPF_CALL_OP, BPF_DW, BPF_EXIT_OP, BPF_JMP, BPF_JEQ, BPF_K, BPF_LD_IMM64, BPF_LDX, BPF_MEM,
  BPF_MOV, BPF_PSEUDO_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_BTF_ID, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE, BPF_X, BPF_CLASS, BPF_OP, BPF_SIZE, BPF_MODE,
  InstructionView, decodeInstructions, encodeInstructions, formatInstruction, helperId, helperName, HELPER_NAMES,
  ldImm64Value, type Instruction,
} from "../../src/asm/index.js";

test("pseudo source constants match the kernel uapi", () => {
  assert.deepEqual(
    [BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL],
    [1, 2, 3, 4, 5, 6, 1, 2],
  );
  assert.equal(BPF_LD_IMM64, 0x18);
  assert.equal(BPF_CALL_OP, 0x85);
  assert.equal(BPF_EXIT_OP, 0x95);
  assert.equal(BPF_CLASS(0x61), BPF_LDX);
  assert.equal(BPF_SIZE(0x79), BPF_DW);
  assert.equal(BPF_MODE(0x79), BPF_MEM);
  assert.equal(BPF_OP(0x15), BPF_JEQ);
});

// From the xdp-packet-counter seed's llvm-objdump listing.
const seedBytes = Uint8Array.from([
  0xb7, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // r1 = 0
  0x63, 0x1a, 0xfc, 0xff, 0x00, 0x00, 0x00, 0x00, // *(u32 *)(r10 - 4) = r1
  0xbf, 0xa2, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // r2 = r10
  0x07, 0x02, 0x00, 0x00, 0xfc, 0xff, 0xff, 0xff, // r2 += -4
  0x18, 0x11, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // r1 = map_fd(5) ll
  0x85, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // call 1
  0x15, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // if r0 == 0 goto +2
  0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // exit
]);

test("decodes little-endian instructions", () => {
  const insns = decodeInstructions(seedBytes, true);
  assert.equal(insns.length, 8);
  assert.deepEqual(insns[1], { opcode: 0x63, dst: 10, src: 1, off: -4, imm: 0, slot: 1 });
  assert.deepEqual(insns[3], { opcode: BPF_ALU64 | BPF_K, dst: 2, src: 0, off: 0, imm: -4, slot: 3 });
  assert.deepEqual(insns[4], { opcode: BPF_LD_IMM64, dst: 1, src: BPF_PSEUDO_MAP_FD, off: 0, imm: 5, imm2: 0, slot: 4 });
  assert.equal(insns[5].slot, 6);
  assert.equal(insns[6].off, 2);
  assert.equal(formatInstruction(insns[5]), "call bpf_map_lookup_elem#1");
  assert.equal(formatInstruction(insns[6]), "if r0 == 0x0 goto +2");
  assert.equal(formatInstruction(insns[0]), "r1 = 0x0");
  assert.equal(formatInstruction(insns[1]), "*(u32 *)(r10 - 4) = r1");
  assert.equal(formatInstruction(insns[2]), "r2 = r10");
  assert.equal(formatInstruction(insns[3]), "r2 += -0x4");
  assert.equal(formatInstruction(insns[4]), "r1 = map_fd(5) ll");
  assert.equal(formatInstruction(insns[7]), "exit");
});

test("round-trips in both byte orders, with registers swapped in big-endian", () => {
  const insns = decodeInstructions(seedBytes, true).map(({ slot, ...i }) => (void slot, i));
  assert.deepEqual(encodeInstructions(insns, true), seedBytes);
  const be = encodeInstructions(insns, false);
  assert.equal(be[9], 0xa1, "dst in the high nibble for big-endian");
  assert.deepEqual([...be.subarray(28, 32)], [0xff, 0xff, 0xff, 0xfc]);
  assert.deepEqual(decodeInstructions(be, false).map(({ slot, ...i }) => (void slot, i)), insns);
});

test("InstructionView setters write through and validate", () => {
  for (const le of [true, false]) {
    const v = new InstructionView(new Uint8Array(24), le);
    v.set(0, { opcode: BPF_LD_IMM64, dst: 3, src: 0, off: 0, imm: -1, imm2: 0x12345678 });
    v.set(2, { opcode: BPF_JMP | BPF_X | BPF_JEQ, dst: 1, src: 2, off: -3, imm: 0 });
    assert.equal(v.length, 3);
    assert.equal(v.isLdImm64(0), true);
    assert.equal(ldImm64Value(v.get(0)), 0x12345678ffffffffn);
    v.setSrc(0, BPF_PSEUDO_MAP_VALUE);
    assert.equal(v.dst(0), 3);
    assert.equal(v.src(0), BPF_PSEUDO_MAP_VALUE);
    v.setDst(2, 9);
    assert.deepEqual(v.get(2), { opcode: 0x1d, dst: 9, src: 2, off: -3, imm: 0 });
    v.setImm(2, 0xffffffff);
    assert.equal(v.imm(2), -1);
    assert.throws(() => v.setOff(2, 0x8000), ArgumentError);
    assert.throws(() => v.setImm(2, 2 ** 32), ArgumentError);
    assert.throws(() => v.opcode(3), ArgumentError);
  }
  assert.throws(() => new InstructionView(new Uint8Array(7)), ArgumentError);
  assert.throws(() => decodeInstructions(new Uint8Array([0x18, 0, 0, 0, 0, 0, 0, 0])), ArgumentError);
});

test("helper names come from the kernel's bpf_func_id", () => {
  assert.equal(HELPER_NAMES[0], "unspec");
  assert.equal(helperName(1), "bpf_map_lookup_elem");
  assert.equal(helperName(5), "bpf_ktime_get_ns");
  assert.equal(helperName(12), "bpf_tail_call");
  assert.equal(helperName(14), "bpf_get_current_pid_tgid");
  assert.equal(helperName(181), "bpf_loop");
  assert.equal(helperName(0), undefined);
  assert.equal(helperName(100000), undefined);
  assert.equal(helperId("bpf_ringbuf_output"), 130);
  assert.equal(helperId("trace_printk"), 6);
  assert.ok(HELPER_NAMES.length > 200);
});

test("formatInstruction covers calls, jumps and memory", () => {
  const f = (i: Partial<Instruction>) => formatInstruction({ opcode: 0, dst: 0, src: 0, off: 0, imm: 0, ...i });
  assert.equal(f({ opcode: BPF_CALL_OP, src: BPF_PSEUDO_CALL, imm: 13 }), "call pc+13");
  assert.equal(f({ opcode: BPF_CALL_OP, src: BPF_PSEUDO_KFUNC_CALL, imm: 777 }), "call kfunc#777");
  assert.equal(f({ opcode: BPF_LD_IMM64, dst: 2, src: BPF_PSEUDO_FUNC, imm: 11, imm2: 0 }), "r2 = func(11) ll");
  assert.equal(f({ opcode: BPF_LD_IMM64, dst: 2, imm: 1, imm2: 1 }), "r2 = 0x100000001 ll");
  assert.equal(f({ opcode: BPF_LDX | BPF_MEM | BPF_DW, dst: 1, src: 6, off: 8 }), "r1 = *(u64 *)(r6 + 8)");
  assert.equal(f({ opcode: BPF_ALU64 | BPF_MOV | BPF_X, dst: 6, src: 1 }), "r6 = r1");
  assert.equal(f({ opcode: BPF_JMP, off: -5 }), "goto -5");
});
