/**
 * CO-RE on the running kernel: objects built against vmlinux.h (plus local ___flavours laid out
 * differently) load through loadObject, and every value the programs compute is checked against
 * the truth read from /sys/kernel/btf/vmlinux with the BTF parser.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";
import { BpfError, CoreError, VerifierError, loadObject, type BpfObject } from "../../src/index.js";
import { loadKernelBtf, loadModuleBtf } from "../../src/btf/kernel.js";
import type { Btf } from "../../src/btf/btf.js";
import { modprobe } from "../helpers/modules.js";

const obj = (name: string) => repoPath("test", "bpf", `${name}.bpf.o`);
const SYS_read = 0; // x86_64

/**
 * Starts a syscaller and runs `fn` with it; `go()` may be called once by `fn`, and is called
 * afterwards if `fn` did not (so a failing test never leaves the child waiting on stdin).
 */
async function withChild(args: string[], fn: (child: { pid: number; go(): Promise<number> }) => Promise<void>): Promise<void> {
  const child = await startSyscaller(...args);
  let run: Promise<number> | undefined;
  const go = () => (run ??= child.go());
  try {
    await fn({ pid: child.pid, go });
  } finally {
    await go();
  }
}

function kernel(): Btf {
  return loadKernelBtf();
}

function structId(k: Btf, name: string): number {
  const id = k.findByName(name, "struct");
  assert.ok(id !== undefined, `kernel BTF has struct ${name}`);
  return id;
}

/** Byte offset, size and signedness of a kernel struct member (through anonymous members). */
function field(k: Btf, struct: string, name: string): { off: number; size: number; signed: boolean; bitOffset: number; bits: number } {
  const f = k.findMember(structId(k, struct), name);
  assert.ok(f, `kernel struct ${struct} has a member ${name}`);
  const size = k.sizeof(f.member.typeId);
  const t = k.type(k.resolve(f.member.typeId));
  const signed = (t.kind === "int" || t.kind === "enum" || t.kind === "enum64") && t.signed;
  return { off: f.bitOffset / 8, size, signed, bitOffset: f.bitOffset, bits: f.member.bitfieldSize || size * 8 };
}

function enumValue(k: Btf, type: string, name: string): bigint {
  for (const kind of ["enum", "enum64"] as const) {
    for (const id of k.findAllByName(type, kind)) {
      const t = k.type(id);
      if (t.kind !== "enum" && t.kind !== "enum64") continue;
      const v = t.values.find((x) => x.name === name);
      if (v) return BigInt.asUintN(64, v.value);
    }
  }
  assert.fail(`kernel enum ${type} has ${name}`);
}

/** Extracts a kernel bitfield from little-endian bytes. */
function bitfield(bytes: Uint8Array, bitOffset: number, bits: number): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return (v >> BigInt(bitOffset)) & ((1n << BigInt(bits)) - 1n);
}

function vars(o: BpfObject): (name: string) => bigint {
  return (name) => {
    const v = o.variables[name];
    assert.ok(v, `variable ${name}`);
    return BigInt(v.get());
  };
}

/**
 * The BTF that defines enum blake2b_iv: vmlinux, or (Debian's 6.1, in the VM) the module
 * blake2b_generic, loaded here if needed, so the enum64 relocation also goes through module BTF.
 */
function blake2bBtf(k: Btf): Btf {
  if (k.findByName("blake2b_iv", "enum64") !== undefined || k.findByName("blake2b_iv", "enum") !== undefined) return k;
  modprobe("blake2b_generic");
  return loadModuleBtf("blake2b_generic");
}

ktest("CO-RE: every relocation kind against the kernel's BTF, through reordered ___flavours", () => withChild(["getpid", "5"], async (child) => {
  const k = kernel();
  const kb = blake2bBtf(k);
  using o = await loadObject(obj("core_task"), { constants: { target_tgid: child.pid }, programs: ["on_getpid"] });
  o.attachAll({ strict: true });
  assert.equal(await child.go(), 0);
  const v = vars(o);
  assert.equal(v("out_calls"), 5n, "the program ran for each of the child's getpid() calls");

  // Field offsets and sizes.
  const pid = field(k, "task_struct", "pid"), tgid = field(k, "task_struct", "tgid");
  const flags = field(k, "task_struct", "flags"), comm = field(k, "task_struct", "comm");
  assert.equal(v("out_pid_off"), BigInt(pid.off), "offsetof(task_struct, pid)");
  assert.equal(v("out_tgid_off"), BigInt(tgid.off), "offsetof(task_struct, tgid)");
  assert.equal(v("out_pid_size"), BigInt(pid.size));
  assert.equal(v("out_comm_size"), BigInt(comm.size));
  assert.equal(v("out_flags_size"), BigInt(flags.size), "task_struct___mine.flags is u64 locally, the kernel's size wins");
  assert.equal(v("out_mine_flags_off"), BigInt(flags.off));

  // Reads through BPF_CORE_READ, plain and through the reordered flavour.
  assert.equal(v("out_tgid"), BigInt(child.pid), "BPF_CORE_READ(task, tgid) is the child's pid");
  assert.equal(v("out_pid"), BigInt(child.pid), "single-threaded: tid == pid");
  assert.equal(v("out_ppid"), BigInt(process.pid), "BPF_CORE_READ(task, real_parent, tgid) is the test process");
  assert.equal(v("out_mine_tgid"), BigInt(child.pid));
  assert.equal(v("out_mine_pid"), BigInt(child.pid));
  assert.equal(v("out_mine_ppid"), BigInt(process.pid));
  assert.notEqual(v("out_flags"), 0n, "task flags were read");
  assert.equal(BigInt.asIntN(64, v("out_pid_bitfield")), BigInt(child.pid), "BPF_CORE_READ_BITFIELD_PROBED on a plain signed int");

  // Existence, with guarded reads of missing fields (their poisoned instructions are dead code).
  assert.equal(v("out_state_exists"), 1n);
  assert.equal(v("out_fake_exists"), 0n, "task_struct___fake.fake_field does not exist");
  assert.equal(v("out_old_state_exists"), 0n, "task_struct.state was renamed __state in 5.14");
  assert.equal(v("out_fake_value"), 0xdeadn);
  assert.equal(v("out_state"), 0n, "a task in a syscall is TASK_RUNNING");

  // Signedness and shifts.
  assert.equal(v("out_pid_signed"), pid.signed ? 1n : 0n);
  assert.equal(v("out_flags_signed"), flags.signed ? 1n : 0n);
  assert.equal(v("out_pid_lshift"), BigInt(64 - pid.size * 8));
  assert.equal(v("out_pid_rshift"), BigInt(64 - pid.size * 8));

  // Types.
  const ts = structId(k, "task_struct");
  assert.equal(v("out_ts_exists"), 1n);
  assert.equal(v("out_no_such_exists"), 0n);
  assert.equal(v("out_bad_exists"), 1n, "task_struct___bad is compatible (struct vs struct)");
  assert.equal(v("out_ts_size"), BigInt(k.sizeof(ts)));
  assert.equal(v("out_mine_size"), BigInt(k.sizeof(ts)), "the flavour's size is the kernel's");
  assert.equal(v("out_pid_t_size"), BigInt(k.sizeof(k.findByName("pid_t", "typedef")!)));
  assert.equal(v("out_ts_id_kernel"), BigInt(ts));
  assert.equal(v("out_mine_id_kernel"), BigInt(ts));
  assert.equal(v("out_ts_id_local"), BigInt(o.spec.btf!.findByName("task_struct", "struct")!));
  assert.equal(v("out_match_matches"), 1n, "task_struct___match has kernel-typed members");
  assert.equal(v("out_mine_matches"), 0n, "task_struct___mine.flags is u64, the kernel's is u32");
  assert.equal(v("out_bad_matches"), 0n);
  assert.equal(v("out_no_such_matches"), 0n);

  // Enums (32-bit and enum64), through a flavour with other values.
  assert.equal(v("out_pidtype_max"), enumValue(k, "pid_type", "PIDTYPE_MAX"));
  assert.equal(v("out_sid"), enumValue(k, "pid_type", "PIDTYPE_SID"));
  assert.equal(v("out_tgid_enum"), enumValue(k, "pid_type", "PIDTYPE_TGID"));
  assert.equal(v("out_sid_exists"), 1n);
  assert.equal(v("out_fake_enum_exists"), 0n);
  assert.equal(v("out_iv3"), enumValue(kb, "blake2b_iv", "BLAKE2B_IV3"));
  assert.equal(v("out_iv3_mine"), enumValue(kb, "blake2b_iv", "BLAKE2B_IV3"), "a 32-bit local enum relocated to a 64-bit kernel value");

  // Bitfields of the kernel layouts, read from the pattern through reordered local flavours.
  const pattern = o.variables.pattern!.bytes();
  // A struct the kernel lacks (fred_ss before 6.9) is guarded with bpf_core_type_exists in the
  // program: its outputs hold NO_TYPE instead, and the guarded reads never run.
  const NO_TYPE = 0xdead0000n;
  const hasStruct = (s: string) => k.findByName(s, "struct") !== undefined;
  const bf = (s: string, m: string) => {
    if (!hasStruct(s)) return NO_TYPE;
    const f = field(k, s, m);
    return bitfield(pattern, f.bitOffset, f.bits);
  };
  assert.ok(hasStruct("topa_entry") || hasStruct("flow_dissector_mpls_lse"), "no bitfield struct of the test exists in this kernel's BTF");
  assert.equal(v("out_fred_vector"), bf("fred_ss", "vector"));
  assert.equal(v("out_fred_type"), bf("fred_ss", "type"));
  assert.equal(v("out_fred_insnlen"), bf("fred_ss", "insnlen"));
  assert.equal(v("out_fred_nmi"), bf("fred_ss", "nmi"));
  assert.equal(v("out_topa_base"), bf("topa_entry", "base"), "a 40-bit bitfield");
  assert.equal(v("out_topa_size"), bf("topa_entry", "size"));
  assert.equal(v("out_mpls_label"), bf("flow_dissector_mpls_lse", "mpls_label"));
  assert.equal(v("out_mpls_ttl"), bf("flow_dissector_mpls_lse", "mpls_ttl"));
  assert.equal(v("out_fred_vector_direct"), bf("fred_ss", "vector"), "BPF_CORE_READ_BITFIELD (direct load)");
  assert.equal(v("out_topa_base_direct"), bf("topa_entry", "base"));
  assert.equal(v("out_mpls_label_direct"), bf("flow_dissector_mpls_lse", "mpls_label"));
}));

ktest("CO-RE: tracepoint context through a reordered flavour; a load widened from 4 to 8 bytes (args[2] of read(2))", () => withChild(["read", "7", "1234"], async (child) => {
  using o = await loadObject(obj("core_task"), { constants: { target_tgid: child.pid }, programs: ["on_read"] });
  o.attachAll({ strict: true });
  assert.equal(await child.go(), 0);
  const v = vars(o);
  assert.ok(v("out_read_calls") >= 7n, `the program saw the child's reads (${v("out_read_calls")})`);
  assert.equal(v("out_read_count"), 1234n, "the last read's count argument");
  assert.equal(v("out_read_nr"), BigInt(SYS_read), "ctx->id moved from local offset 24 to the kernel's 8");
}));

ktest("CO-RE: an unguarded relocation the kernel cannot satisfy fails with a CoreError naming it in C terms", async () => {
  const cases: [string, RegExp][] = [
    ["unguarded_field", /`task_struct___fake\.fake_field` not found in kernel BTF \(relocation kind field_byte_offset, program unguarded_field, instruction \d+\): struct task_struct in kernel BTF has no field fake_field/],
    ["missing_enum", /`enum pid_type___gone::PIDTYPE_GONE___gone` not found in kernel BTF \(relocation kind enumval_value, program missing_enum, instruction \d+\)/],
    ["bad_size", /`trace_event_raw_sys_enter___wide\.ent\.pid` cannot be accessed with its size in kernel BTF \(relocation kind field_byte_offset, program bad_size, instruction \d+\): the field is 4 bytes in kernel BTF but 8 bytes/],
  ];
  for (const [prog, re] of cases) {
    await assert.rejects(loadObject(obj("core_poison"), { programs: [prog] }), (e: unknown) => {
      assert.ok(e instanceof CoreError, `${prog}: ${String(e)}`);
      assert.equal((e as BpfError).code, "E_CORE");
      assert.match((e as Error).message, re);
      const cause = (e as Error).cause;
      assert.ok(cause instanceof VerifierError, "the verifier error is the cause");
      assert.match(cause.log, /invalid func unknown#195896080/);
      return true;
    });
  }
  // Behind bpf_core_field_exists() the same relocation is dead code and the program loads.
  using o = await loadObject(obj("core_poison"), { programs: ["guarded"] });
  assert.ok(o.programs.guarded);
});

const N = 25, SIZE = 1000; // 1000 bytes -> slot 9
ktest("readhist (the CO-RE seed): tp/syscalls/sys_exit_read fills the child's log2 histogram", () => withChild(["read", String(N), String(SIZE)], async (child) => {
  using o = await loadObject(repoPath("examples", "readhist", "readhist.bpf.o"), { constants: { targ_pid: child.pid } });
  assert.ok(o.programs.sys_exit_read);
  const { links, skipped } = o.attachAll();
  assert.ok(links.some((l) => l.target === "syscalls/sys_exit_read"), "the tracepoint program is attached");
  assert.ok(skipped.every((s) => s.program === "vfs_read"), `only the kretprobe may be skipped here: ${JSON.stringify(skipped.map((s) => s.program))}`);
  assert.equal(await child.go(), 0);
  const key = new Uint8Array(new Uint32Array([child.pid]).buffer);
  const value = o.maps.hists!.lookup(key);
  assert.ok(value, "the child has a histogram");
  const slots = [...new Uint32Array(value.buffer, value.byteOffset, 15)];
  assert.equal(slots[9], N, `slot 9 counts the ${N} reads of ${SIZE} bytes: ${slots.join(",")}`);
  // The child's only other read(2) is the "go\n" line (3 bytes, slot 1) it was blocked on.
  const others = slots.reduce((a, b) => a + b, 0) - N;
  assert.ok(others <= 1 && slots[1] === others, `other slots: ${slots.join(",")}`);
  assert.equal([...o.maps.hists!.keys()].length, 1, "only the child's pid is recorded (targ_pid)");
}));

ktest("CO-RE: LoadOptions.kernelBtf given a copy of vmlinux BTF, as a raw file and as an ELF .BTF section", () => withChild(["getpid", "3"], async (child) => {
  const k = kernel();
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-kernel-btf-"));
  try {
    // As on a kernel without /sys/kernel/btf/vmlinux: the BTF comes from a file the user names.
    const raw = join(dir, "vmlinux.btf");
    writeFileSync(raw, readFileSync("/sys/kernel/btf/vmlinux"));
    const elf = join(dir, "vmlinux.elf");
    execFileSync("llvm-objcopy-19", ["-I", "binary", "-O", "elf64-x86-64", "--rename-section", ".data=.BTF", raw, elf]);
    const bad = join(dir, "not-btf");
    writeFileSync(bad, "neither BTF nor ELF\n");
    const fromElf = loadKernelBtf(elf);
    assert.equal(fromElf.count, k.count, "the ELF's .BTF section is the kernel's BTF");
    assert.throws(() => loadKernelBtf(bad), (e: unknown) => e instanceof BpfError && e.code === "E_BTF" && /neither raw BTF \(magic 0xeb9f\) nor an ELF file with a \.BTF section/.test(e.message));

    using a = await loadObject(obj("core_task"), { constants: { target_tgid: child.pid }, programs: ["on_getpid"], kernelBtf: raw });
    using b = await loadObject(obj("core_task"), { constants: { target_tgid: child.pid }, programs: ["on_getpid"], kernelBtf: elf });
    a.attachAll({ strict: true });
    b.attachAll({ strict: true });
    assert.equal(await child.go(), 0);
    const pid = field(k, "task_struct", "pid"), tgid = field(k, "task_struct", "tgid");
    for (const [what, o] of [["raw file", a], ["ELF file", b]] as const) {
      const v = vars(o);
      assert.equal(v("out_calls"), 3n, `${what}: the program ran for each getpid()`);
      assert.equal(v("out_pid_off"), BigInt(pid.off), `${what}: offsetof(task_struct, pid)`);
      assert.equal(v("out_tgid_off"), BigInt(tgid.off), `${what}: offsetof(task_struct, tgid)`);
      assert.equal(v("out_ts_size"), BigInt(k.sizeof(structId(k, "task_struct"))), `${what}: sizeof(task_struct)`);
      assert.equal(v("out_tgid"), BigInt(child.pid), `${what}: BPF_CORE_READ(task, tgid)`);
      assert.equal(v("out_pidtype_max"), enumValue(k, "pid_type", "PIDTYPE_MAX"), `${what}: enum value`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}));
