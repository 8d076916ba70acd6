/**
 * kprobe and kretprobe attachment, end to end through loadObject(...).attachAll(); both mechanisms
 * (the kprobe PMU and tracefs kprobe_events, whose events close() must remove) and offsets.
 *
 * The CI host kernel has no CONFIG_KPROBES; `npm run test:vm` runs this file in a VM with Debian's
 * kernel, which has it, with TSBPF_EXPECT_KPROBES=1. Without kprobes and without that variable the
 * tests skip with a printed reason; with it they run (and a missing feature fails them).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";
import { ArgumentError, BpfError, MapType, ProgramType, attachKprobe, loadCollection, loadObject, openObject } from "../../src/index.js";
import { kernelConfigOption } from "../../src/link/tracing.js";

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

/**
 * An instruction boundary inside __x64_sys_getpid that every call passes: right after the
 * 5-byte `call __fentry__` it starts with (after the 4-byte endbr64 on kernels built with IBT).
 */
function offsetAfterFentry(): number {
  const ibt = kernelConfigOption("CONFIG_X86_KERNEL_IBT");
  assert.ok(existsSync("/sys/kernel/tracing/available_filter_functions"), "the function tracer is on (the fentry call is there)");
  return ibt === "y" ? 9 : 5;
}

const kprobeEvents = "/sys/kernel/tracing/kprobe_events";
const definedKprobes = () => readFileSync(kprobeEvents, "utf8").split("\n").filter(Boolean).map((l) => /^[pr]\d*:(\S+)/.exec(l)?.[1] ?? l);

kprobeTest("mechanism tracefs: kprobe and kretprobe through kprobe_events count exactly, and close() removes both events", async () => {
  const calls = 40;
  const child = await startSyscaller("getpid", String(calls));
  using o = await loadObject(object, { constants: { target_tgid: child.pid } });
  const entry = attachKprobe(o.program("on_getpid_entry"), "__x64_sys_getpid", { mechanism: "tracefs" });
  const ret = attachKprobe(o.program("on_getpid_return"), "__x64_sys_getpid", { mechanism: "tracefs", retprobe: true });
  const events: string[] = [];
  try {
    for (const l of [entry, ret]) {
      const m = /^tracefs kprobe_events \((kprobes\/tsbpf_\w+)\) \+ bpf_link\(perf_event\)$/.exec(l.mechanism);
      assert.ok(m, l.mechanism);
      events.push(m[1]!);
    }
    assert.deepEqual(events.filter((e) => definedKprobes().includes(e)), events, "both events are defined while attached");
    assert.equal(await child.go(), 0);
    const counts = o.map("counts");
    assert.equal(u64(counts.lookup(0)), BigInt(calls));
    assert.equal(u64(counts.lookup(1)), BigInt(calls));
    assert.equal(u64(counts.lookup(2)), BigInt(calls), "the kretprobe saw the return value");
  } finally {
    entry.close();
    ret.close();
  }
  assert.deepEqual(events.filter((e) => definedKprobes().includes(e)), [], "close() removed them from kprobe_events");
});

kprobeTest("kprobe offsets: the offset option (PMU and tracefs) and a kprobe/<func>+<off> section count every call; an offset inside an instruction is E_PROBE_OFFSET", async () => {
  const off = offsetAfterFentry();
  const calls = 30;
  const child = await startSyscaller("getpid", String(calls));
  const spec = await openObject(object);
  spec.programs.on_getpid_entry!.attachTo = `__x64_sys_getpid+${off}`;
  using o = loadCollection(spec, { constants: { target_tgid: child.pid }, programs: ["on_getpid_entry"] });
  const p = o.program("on_getpid_entry");
  for (const mechanism of ["pmu", "tracefs"] as const) {
    assert.throws(() => attachKprobe(p, "__x64_sys_getpid", { offset: 1, mechanism }), (e: unknown) => {
      assert.ok(e instanceof BpfError && e.code === "E_PROBE_OFFSET", `${mechanism}: ${String(e)}`);
      assert.match(e.message, /offset 1 is not the start of an instruction of __x64_sys_getpid/);
      return true;
    });
  }
  assert.throws(() => attachKprobe(p, "__x64_sys_getpid", { offset: off, retprobe: true }), ArgumentError);
  const { links, skipped } = o.attachAll({ strict: true });
  assert.deepEqual(skipped, []);
  assert.deepEqual(links.map((l) => `${l.kind} ${l.target}`), [`kprobe __x64_sys_getpid+${off}`]);
  assert.match(links[0]!.mechanism, /^kprobe PMU \+ /);
  const viaTracefs = attachKprobe(p, "__x64_sys_getpid", { offset: off, mechanism: "tracefs" });
  try {
    assert.equal(viaTracefs.target, `__x64_sys_getpid+${off}`);
    const event = /\((kprobes\/\w+)\)/.exec(viaTracefs.mechanism)![1]!;
    assert.match(readFileSync(kprobeEvents, "utf8"), new RegExp(`^p:${event} __x64_sys_getpid\\+${off}$`, "m"));
    assert.equal(await child.go(), 0);
    assert.equal(u64(o.map("counts").lookup(0)), BigInt(2 * calls), "both probes at the offset fired on every call");
  } finally {
    viaTracefs.close();
    for (const l of links) l.close();
  }
});
