import assert from "node:assert/strict";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";
import { ArgumentError, BpfError, loadObject, onlineCpus, type BpfObject } from "../../src/index.js";
import { PerfBuffer, type PerfRing } from "../../src/perf/index.js";
import { progTestRun } from "../../src/sys/bpf.js";

const obj = repoPath("test", "bpf", "events_perf.bpf.o");
const n = (v: unknown) => Number(v as bigint);
const BPF_F_TEST_RUN_ON_CPU = 1;

async function until(cond: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Runs the flush program on `cpu`: one record {tgid 0, seq} into that CPU's ring. */
function flush(o: BpfObject, cpu: number, seq: number): void {
  const ctx = new Uint8Array(8);
  new DataView(ctx.buffer).setBigUint64(0, BigInt(seq), true);
  progTestRun({ progFd: o.program("flush").fd.value, ctxIn: ctx, flags: BPF_F_TEST_RUN_ON_CPU, cpu }, "flush");
}

ktest("perf buffer: every sample of N getpid calls arrives once (event loop, batch form), nothing lost", async () => {
  const N = 3000;
  const child = await startSyscaller("getpid", String(N));
  using o = await loadObject(obj, { constants: { target_tgid: child.pid, record_size: 8 } });
  using pb = new PerfBuffer(o.map("events"));
  assert.deepEqual(pb.rings.map((r) => r.cpu), onlineCpus().filter((c) => c < o.map("events").maxEntries));
  const seen = new Uint8Array(N);
  const bad: string[] = [];
  let got = 0;
  pb.onBatch((view, offsets, lengths, count, ring: PerfRing) => {
    for (let i = 0; i < count; i++) {
      // 8 bytes of data + the u32 size, padded to 16: 12 bytes of raw data.
      if (lengths[i] !== 12) bad.push(`length ${lengths[i]} on CPU ${ring.cpu}`);
      if (view.getUint32(offsets[i]!, true) !== child.pid) bad.push("tgid");
      const seq = view.getUint32(offsets[i]! + 4, true);
      if (seq >= N || seen[seq]) bad.push(`seq ${seq} unexpected or repeated`);
      else seen[seq] = 1;
      got++;
    }
  });
  o.attachAll();
  assert.equal(await child.go(), 0);
  assert.equal(n(o.variables.attempts!.get()), N);
  assert.equal(n(o.variables.failed!.get()), 0);
  await until(() => got === N, 5000, `${N} samples (have ${got})`);
  assert.deepEqual(bad, []);
  assert.equal(pb.stats.records, N);
  assert.equal(pb.stats.bytes, 12 * N);
  assert.equal(pb.lost, 0);
});

ktest("perf buffer: 256-byte samples through the AsyncIterable, AbortSignal ends it", async () => {
  const N = 2000;
  const child = await startSyscaller("getpid", String(N));
  using o = await loadObject(obj, { constants: { target_tgid: child.pid, record_size: 256 } });
  using pb = new PerfBuffer(o.map("events"), { pageCount: 256 });
  o.attachAll();
  const ac = new AbortController();
  const seqs: number[] = [];
  const done = (async () => {
    for await (const rec of pb.records({ signal: ac.signal })) {
      assert.equal(rec.length, 260);
      const dv = new DataView(rec.buffer, rec.byteOffset, rec.length);
      const seq = dv.getUint32(4, true);
      assert.equal(rec[8], seq & 0xff);
      assert.equal(rec[255], seq & 0xff);
      seqs.push(seq);
      if (seqs.length === N) ac.abort();
    }
  })();
  assert.equal(await child.go(), 0);
  await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${seqs.length} of ${N} samples arrived`)), 5000))]);
  assert.equal(n(o.variables.failed!.get()), 0);
  assert.equal(pb.lost, 0);
  assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i));
});

ktest("perf buffer: a one-page ring under a burst loses samples: received + lost == produced, per CPU and via onLost", async () => {
  const N = 3000;
  const child = await startSyscaller("getpid", String(N));
  using o = await loadObject(obj, { constants: { target_tgid: child.pid, record_size: 256 } });
  const reported: Record<number, number> = {};
  using pb = new PerfBuffer(o.map("events"), { pageCount: 1, onLost: (cpu, lost) => (reported[cpu] = (reported[cpu] ?? 0) + lost) });
  o.attachAll();
  assert.equal(await child.go(), 0); // nobody reads during the burst
  // The kernel writes PERF_RECORD_LOST before the next sample that fits: make room, then write
  // one more sample on every CPU.
  let got = 0;
  const count = (_v: DataView, _o: Uint32Array, _l: Uint32Array, c: number) => (got += c);
  pb.consume(count);
  for (const r of pb.rings) flush(o, r.cpu, 1_000_000 + r.cpu);
  pb.consume(count);
  const received = pb.stats.records;
  const attempts = n(o.variables.attempts!.get());
  const failed = n(o.variables.failed!.get());
  assert.equal(attempts, N + pb.rings.length);
  assert.ok(pb.lost > 0, "the burst overflowed a 4 KiB ring");
  assert.equal(pb.lost, failed, "PERF_RECORD_LOST counts what bpf_perf_event_output failed to write");
  assert.equal(received + pb.lost, attempts);
  assert.deepEqual(reported, Object.fromEntries(Object.entries(pb.stats.lostPerCpu).filter(([, v]) => v > 0)));
  assert.ok(got > 0);
});

ktest("perf buffer: records that wrap around the end of the ring are reassembled", async () => {
  using o = await loadObject(obj, { constants: { record_size: 256 } });
  const cpu = onlineCpus()[0]!;
  using pb = new PerfBuffer(o.map("events"), { pageCount: 1, cpus: [cpu] });
  assert.equal(pb.rings.length, 1);
  let next = 0;
  const bad: string[] = [];
  const check = (view: DataView, offsets: Uint32Array, lengths: Uint32Array, count: number) => {
    for (let i = 0; i < count; i++) {
      const off = offsets[i]!;
      if (lengths[i] !== 260) bad.push(`length ${lengths[i]}`);
      const seq = view.getUint32(off + 4, true);
      if (seq !== next) bad.push(`seq ${seq}, expected ${next}`);
      for (let b = 8; b < 256; b++) {
        if (view.getUint8(off + b) !== (seq & 0xff)) {
          bad.push(`seq ${seq} byte ${b} at ring offset ${off}`);
          break;
        }
      }
      next++;
    }
  };
  // 272 bytes per record in a 4096-byte ring: 7 records per round, so the records cross the end
  // of the ring at a different offset every few rounds.
  let seq = 0;
  for (let round = 0; round < 60; round++) {
    for (let k = 0; k < 7; k++) flush(o, cpu, seq++);
    pb.consume(check);
  }
  assert.deepEqual(bad.slice(0, 5), []);
  assert.equal(next, seq);
  assert.equal(pb.lost, 0);
});

ktest("perf buffer: wakeupBytes (watermark) batches wakeups; the rest is drained by consume(); close removes the events", async () => {
  const N = 2000;
  const child = await startSyscaller("getpid", String(N));
  using o = await loadObject(obj, { constants: { target_tgid: child.pid, record_size: 8 } });
  const pb = new PerfBuffer(o.map("events"), { wakeupBytes: 8192 });
  let got = 0;
  let drains = 0;
  pb.onBatch((_v, _o, _l, count) => {
    got += count;
    drains++;
  });
  o.attachAll();
  assert.equal(await child.go(), 0);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(drains < N / 100, `woken per 8 KiB, not per sample (${drains} drains)`);
  pb.consume();
  assert.equal(got, N);
  pb.close();
  pb.close();
  assert.throws(() => pb.consume(() => {}), (e: unknown) => e instanceof BpfError && e.code === "E_CLOSED");
  assert.throws(() => new PerfBuffer(o.map("events"), { pageCount: 3 }), ArgumentError);
  assert.throws(() => new PerfBuffer(o.map(".bss")), ArgumentError);
});

ktest("perf buffer: batches() yields every sample once, per CPU ring, through the event loop", async () => {
  const N = 3000;
  const child = await startSyscaller("getpid", String(N));
  using o = await loadObject(obj, { constants: { target_tgid: child.pid, record_size: 8 } });
  using pb = new PerfBuffer(o.map("events"), { batchBytes: 4096 });
  o.attachAll();
  const seen = new Uint8Array(N);
  const bad: string[] = [];
  let got = 0;
  const ac = new AbortController();
  const done = (async () => {
    for await (const b of pb.batches({ signal: ac.signal })) {
      if (!pb.rings.includes(b.source)) bad.push("unknown source");
      for (let i = 0; i < b.count; i++) {
        if (b.lengths[i] !== 12) bad.push(`length ${b.lengths[i]}`);
        const seq = b.view.getUint32(b.offsets[i]! + 4, true);
        if (seq >= N || seen[seq]) bad.push(`seq ${seq} unexpected or repeated`);
        else seen[seq] = 1;
        got++;
      }
      if (got === N) ac.abort();
    }
  })();
  assert.equal(await child.go(), 0);
  await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${got} of ${N} samples arrived`)), 5000))]);
  assert.deepEqual(bad.slice(0, 3), []);
  assert.equal(got, N);
  assert.equal(pb.stats.records, N);
  assert.equal(pb.lost, 0);
});

ktest("perf buffer: a sample written while the reader starts waiting arrives (the watcher's first registration spends no wakeup)", async () => {
  // The kernel probes a perf ring when its epoll is registered with the event loop, and the probe
  // clears the ring's pending wakeup: a sample written between next() and that registration
  // would wait for the next sample. Here each sample is written right after next() was called.
  using o = await loadObject(obj, { constants: { record_size: 8 } });
  const cpu = onlineCpus()[0]!;
  using pb = new PerfBuffer(o.map("events"), { cpus: [cpu] });
  const it = pb.batches();
  for (let k = 0; k < 50; k++) {
    const next = it.next();
    flush(o, cpu, k);
    const r = await Promise.race([next, new Promise<"timeout">((res) => setTimeout(() => res("timeout"), 2000))]);
    assert.notEqual(r, "timeout", `sample ${k} did not arrive`);
    const b = (r as IteratorResult<{ count: number; view: DataView; offsets: Uint32Array }>).value;
    assert.equal(b.count, 1);
    assert.equal(b.view.getUint32(b.offsets[0]! + 4, true), k);
  }
  await it.return!();
});
