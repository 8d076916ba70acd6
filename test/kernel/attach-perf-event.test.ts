/**
 * perf_event sampling programs on the real kernel: a software cpu-clock event at 1000 Hz on every
 * online CPU (one link per CPU) runs the program on each CPU.
 */
import assert from "node:assert/strict";
import { ktest, repoPath } from "../helpers/kernel.js";
import { ArgumentError, loadObject } from "../../src/index.js";
import { attachPerfEventSampling, PerfEventLinks } from "../../src/link/perf-event.js";
import { linkDetails } from "../../src/link/info.js";
import { onlineCpus } from "../../src/sys/cpus.js";

const object = repoPath("test", "bpf", "attach_perf_event.bpf.o");
const u64 = (b: Uint8Array | undefined) => (b ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : 0n);

/** Keeps every CPU busy for `ms` (the cpu-clock event only ticks while a CPU runs something). */
async function busy(ms: number): Promise<void> {
  const { Worker } = await import("node:worker_threads");
  const code = `const end = Date.now() + ${ms}; while (Date.now() < end) {}`;
  await Promise.all(onlineCpus().map(() => new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.on("exit", resolve);
    w.on("error", reject);
  })));
}

ktest("perf_event: software cpu-clock at 1000 Hz samples every online CPU within a second", async () => {
  using o = await loadObject(object);
  const cpus = onlineCpus();
  using prof = attachPerfEventSampling(o.program("on_sample"), { event: "cpu-clock", frequency: 1000 });
  assert.ok(prof instanceof PerfEventLinks);
  assert.equal(prof.links.length, cpus.length, "one link per online CPU");
  assert.deepEqual(prof.links.map((l) => l.cpu), cpus);
  assert.equal(prof.kind, "perf_event");
  assert.match(prof.target, /^cpu-clock at 1000 Hz on \d+ CPU/);
  const first = prof.links[0]!;
  if (first.linkFd) {
    const d = linkDetails(first);
    assert.equal(d.kind, "perf_event");
    if (d.kind === "perf_event" && d.perf.type === "event") {
      // The kernel reports the event's PMU type, which recent kernels give cpu-clock its own number for.
      assert.equal(typeof d.perf.eventType, "number");
      assert.equal(d.perf.config, 0n, "PERF_COUNT_SW_CPU_CLOCK");
    }
  }
  await busy(1000);
  const samples = o.map("samples");
  for (const cpu of cpus) {
    const n = u64(samples.lookup(cpu));
    assert.ok(n > 0n, `CPU ${cpu} got no samples`);
    assert.ok(n < 5000n, `CPU ${cpu} got ${n} samples in about a second at 1000 Hz`);
  }
  prof.close();
  assert.ok(prof.links.every((l) => l.closed));
  // After close nothing more is counted.
  const after = cpus.map((c) => u64(samples.lookup(c)));
  await busy(200);
  assert.deepEqual(cpus.map((c) => u64(samples.lookup(c))), after);
});

ktest("perf_event: a period instead of a frequency, on one process", async () => {
  using o = await loadObject(object);
  using prof = attachPerfEventSampling(o.program("on_sample"), { event: "task-clock", period: 1_000_000n, pid: process.pid });
  assert.equal(prof.links.length, 1);
  assert.match(prof.target, /every 1000000 events on pid/);
  const end = Date.now() + 300;
  while (Date.now() < end) { /* burn this process's CPU time: task-clock counts it */ }
  const total = onlineCpus().reduce((s, c) => s + u64(o.map("samples").lookup(c)), 0n);
  assert.ok(total > 0n, "samples of this process");
});

ktest("perf_event: bad options are refused before any event is opened", async () => {
  using o = await loadObject(object);
  const p = o.program("on_sample");
  assert.throws(() => attachPerfEventSampling(p, { event: "cpu-clock" }), ArgumentError);
  assert.throws(() => attachPerfEventSampling(p, { event: "cpu-clock", frequency: 10, period: 10n }), ArgumentError);
  assert.throws(() => attachPerfEventSampling(p, { event: "bogus" as "cpu-clock", frequency: 10 }), /unknown event "bogus"/);
});
