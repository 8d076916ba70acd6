/**
 * kprobe and kretprobe attachment, end to end through loadObject(...).attachAll().
 *
 * The CI host kernel has no CONFIG_KPROBES; `npm run test:vm` runs this file in a VM with Debian's
 * kernel, which has it, with TSBPF_EXPECT_KPROBES=1. Without kprobes and without that variable the
 * tests skip with a printed reason; with it they run (and a missing feature fails them).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";
import { BpfError, MapType, ProgramType, attachKprobe, loadObject } from "../../src/index.js";

const object = repoPath("test", "bpf", "vm_kprobe.bpf.o");
const u64 = (b: Uint8Array | undefined) => (b ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : undefined);

/** Why kprobes cannot be attached here, or undefined when the kernel has them. */
function kprobesProblem(): string | undefined {
  if (existsSync("/sys/bus/event_source/devices/kprobe/type")) return undefined;
  for (const root of ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]) {
    if (existsSync(`${root}/kprobe_events`)) return undefined;
  }
  return "this kernel has no kprobe PMU and no tracefs kprobe_events (CONFIG_KPROBES is off); `npm run test:vm` runs these tests in a VM whose kernel has kprobes";
}

const expectKprobes = process.env.TSBPF_EXPECT_KPROBES === "1";
const problem = expectKprobes ? undefined : kprobesProblem();
if (problem) console.log(`# kprobe tests skipped: ${problem}`);

/** A kernel test that also needs kprobes: skipped with the reason unless TSBPF_EXPECT_KPROBES=1. */
function kprobeTest(name: string, fn: () => unknown): void {
  if (problem) test(name, { skip: problem }, () => {});
  else ktest(name, fn);
}

kprobeTest("kprobe and kretprobe on __x64_sys_getpid count a child's calls exactly, and see its return value", async () => {
  const calls = 300;
  // The child calls getpid() once to print its pid, before the probes exist.
  const child = await startSyscaller("getpid", String(calls));
  using o = await loadObject(object, { constants: { target_tgid: child.pid } });
  assert.equal(o.program("on_getpid_entry").type, ProgramType.KPROBE);
  assert.equal(o.program("on_getpid_return").type, ProgramType.KPROBE);
  assert.equal(o.map("counts").type, MapType.ARRAY);
  const { links, skipped } = o.attachAll({ strict: true });
  assert.deepEqual(skipped, []);
  assert.deepEqual(links.map((l) => `${l.kind} ${l.target}`).sort(), ["kprobe __x64_sys_getpid", "kretprobe __x64_sys_getpid"]);
  for (const l of links) console.log(`# ${l.kind} ${l.target} attached through ${l.mechanism}`);
  assert.equal(await child.go(), 0);
  const counts = o.map("counts");
  assert.equal(u64(counts.lookup(0)), BigInt(calls), "kprobe hits");
  assert.equal(u64(counts.lookup(1)), BigInt(calls), "kretprobe hits");
  assert.equal(u64(counts.lookup(2)), BigInt(calls), "kretprobe saw getpid() return the child's pid");
});

kprobeTest("closing the links detaches the probes: later calls are not counted", async () => {
  const first = await startSyscaller("getpid", "20");
  using o = await loadObject(object);
  // target_tgid = 0 counts every process: detach must stop all counting.
  const { links } = o.attachAll({ strict: true });
  assert.equal(await first.go(), 0);
  const counts = o.map("counts");
  assert.ok(u64(counts.lookup(0))! >= 20n && u64(counts.lookup(1))! >= 20n);
  for (const l of links) l.close();
  const before = [u64(counts.lookup(0)), u64(counts.lookup(1))];
  const second = await startSyscaller("getpid", "50");
  assert.equal(await second.go(), 0);
  assert.deepEqual([u64(counts.lookup(0)), u64(counts.lookup(1))], before);
});

kprobeTest("an explicit kretprobe attach works, and a function that does not exist is E_NO_SYMBOL", async () => {
  const child = await startSyscaller("getpid", "7");
  using o = await loadObject(object, { constants: { target_tgid: child.pid } });
  assert.throws(
    () => attachKprobe(o.program("on_getpid_entry"), "tsbpf_no_such_function"),
    (e: unknown) => e instanceof BpfError && e.code === "E_NO_SYMBOL" && /tsbpf_no_such_function/.test(e.message),
  );
  {
    using link = attachKprobe(o.program("on_getpid_return"), "__x64_sys_getpid", { retprobe: true });
    assert.equal(link.kind, "kretprobe");
    assert.equal(await child.go(), 0);
  }
  const counts = o.map("counts");
  assert.equal(u64(counts.lookup(0)), 0n, "the entry probe was never attached");
  assert.equal(u64(counts.lookup(1)), 7n);
  assert.equal(u64(counts.lookup(2)), 7n);
});
