import assert from "node:assert/strict";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";
import { ArgumentError, BpfError, loadObject, MapType, BpfMap, Program, ProgramType } from "../../src/index.js";
import { asm, linkBuiltProgram, R0, R1, R2, R3, R4, R10 } from "../../src/asm/index.js";
import { RingBuffer, RingBufferReader, UserRingBuffer, type Ring } from "../../src/ringbuf/index.js";
import type { BatchCallback } from "../../src/ringbuf/stream.js";
import { progTestRun } from "../../src/sys/bpf.js";

const obj = (name: string) => repoPath("test", "bpf", `${name}.bpf.o`);
const n = (v: unknown) => Number(v as bigint);

/** Resolves when `cond()` holds, checking on timers (so the event loop keeps running); rejects after `ms`. */
async function until(cond: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

ktest("ring buffer: every record of N getpid calls arrives once and in order, discarded records are skipped (event loop, batch form)", async () => {
  const N = 5000;
  const child = await startSyscaller("getpid", String(N));
  using o = await loadObject(obj("events_ringbuf"), { constants: { target_tgid: child.pid, discard_every: 7 } });
  using reader = new RingBufferReader();
  const r8 = reader.add(o.map("rb8"));
  const r256 = reader.add(o.map("rb256"));
  let got8 = 0;
  let got256 = 0;
  let lastSeq8 = -1;
  const bad: string[] = [];
  const batches: number[] = [];
  reader.onBatch((view, offsets, lengths, count, ring: Ring) => {
    batches.push(count);
    for (let i = 0; i < count; i++) {
      const off = offsets[i]!;
      if (ring === r8) {
        if (lengths[i] !== 8) bad.push(`rb8 length ${lengths[i]}`);
        if (view.getUint32(off, true) !== child.pid) bad.push(`rb8 tgid ${view.getUint32(off, true)}`);
        const seq = view.getUint32(off + 4, true);
        if (seq !== lastSeq8 + 1) bad.push(`rb8 seq ${seq} after ${lastSeq8}`);
        lastSeq8 = seq;
        got8++;
      } else {
        if (lengths[i] !== 256) bad.push(`rb256 length ${lengths[i]}`);
        const seq = Number(view.getBigUint64(off, true));
        if (seq % 7 === 0) bad.push(`rb256 discarded record ${seq} delivered`);
        if (view.getUint8(off + 8) !== (seq & 0xff) || view.getUint8(off + 255) !== (seq & 0xff)) bad.push(`rb256 fill of ${seq}`);
        got256++;
      }
    }
  });
  o.attachAll({ strict: true });
  assert.equal(await child.go(), 0);
  const vars = o.variables;
  assert.equal(n(vars.calls!.get()), N);
  assert.equal(n(vars.dropped8!.get()), 0);
  assert.equal(n(vars.dropped256!.get()), 0);
  const produced8 = n(vars.produced8!.get());
  const produced256 = n(vars.produced256!.get());
  const discarded256 = n(vars.discarded256!.get());
  assert.equal(produced8, N);
  assert.equal(discarded256, Math.ceil(N / 7));
  assert.equal(produced256 + discarded256, N);
  await until(() => got8 === produced8 && got256 === produced256, 5000, "all records");
  assert.deepEqual(bad, []);
  assert.equal(got8, N);
  assert.equal(got256, produced256);
  assert.deepEqual(r8.stats, { records: N, bytes: 8 * N, discarded: 0 });
  assert.deepEqual(r256.stats, { records: produced256, bytes: 256 * produced256, discarded: discarded256 });
  assert.deepEqual(reader.stats, { records: N + produced256, bytes: 8 * N + 256 * produced256, discarded: discarded256 });
  assert.equal(r8.available(), 0, "the consumer position was committed");
  assert.equal(r256.available(), 0);
  // Nothing more arrives later.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(got8 + got256, N + produced256);
  assert.ok(batches.length < N, `records arrive in batches (${batches.length} drains for ${N + produced256} records)`);
});

ktest("ring buffer: AsyncIterable copies and decodes records; AbortSignal ends the iteration", async () => {
  const N = 2000;
  const child = await startSyscaller("getpid", String(N));
  using o = await loadObject(obj("events_ringbuf"), { constants: { target_tgid: child.pid } });
  using rb = new RingBuffer(o.map("rb8"), { decoder: (rec) => ({ tgid: new DataView(rec.buffer, rec.byteOffset).getUint32(0, true), seq: new DataView(rec.buffer, rec.byteOffset).getUint32(4, true), len: rec.length }) });
  o.attachAll({ strict: true });
  const ac = new AbortController();
  const seen: number[] = [];
  const done = (async () => {
    for await (const r of rb.records({ signal: ac.signal })) {
      assert.equal(r.tgid, child.pid);
      assert.equal(r.len, 8);
      seen.push(r.seq);
      if (seen.length === N) ac.abort();
    }
  })();
  assert.equal(await child.go(), 0);
  await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${seen.length} of ${N} records arrived`)), 5000))]);
  assert.equal(seen.length, N);
  assert.deepEqual(seen, Array.from({ length: N }, (_, i) => i));
  assert.equal(rb.stats.records, N);

  // Aborting while nothing arrives ends a waiting iteration too.
  const ac2 = new AbortController();
  setTimeout(() => ac2.abort(), 30);
  let more = 0;
  for await (const _ of rb.records({ signal: ac2.signal })) more++;
  assert.equal(more, 0);
  // An already aborted signal yields nothing.
  for await (const _ of rb.records({ signal: AbortSignal.abort() })) more++;
  assert.equal(more, 0);
});

ktest("ring buffer: records kept from the AsyncIterable are copies that survive later writes", async () => {
  const N = 300;
  const child = await startSyscaller("getpid", String(N));
  // The records are read after the ring released them (the consumer position moved on).
  using o = await loadObject(obj("events_ringbuf"), { constants: { target_tgid: child.pid } });
  using rb = new RingBuffer(o.map("rb256"));
  o.attachAll({ strict: true });
  assert.equal(await child.go(), 0);
  const kept: Uint8Array[] = [];
  const ac = new AbortController();
  for await (const rec of rb.records({ signal: ac.signal })) {
    kept.push(rec);
    if (kept.length === N) ac.abort();
  }
  assert.equal(rb.available(), 0);
  kept.forEach((rec, i) => {
    assert.equal(rec.length, 256);
    assert.equal(Number(new DataView(rec.buffer, rec.byteOffset).getBigUint64(0, true)), i);
    assert.equal(rec[100], i & 0xff);
  });
});

ktest("ring buffer: poll(timeout) and consume() drain synchronously; poll times out when empty", async () => {
  const N = 1000;
  const child = await startSyscaller("getpid", String(N));
  using o = await loadObject(obj("events_ringbuf"), { constants: { target_tgid: child.pid } });
  using rb = new RingBuffer(o.map("rb8"));
  assert.throws(() => rb.poll(0), ArgumentError, "poll without a callback or handler has nowhere to deliver");
  let got = 0;
  const cb = (_v: DataView, _o: Uint32Array, _l: Uint32Array, count: number) => {
    got += count;
  };
  const t0 = Date.now();
  assert.equal(rb.poll(20, cb), 0);
  assert.ok(Date.now() - t0 >= 15, "poll waited for its timeout");
  o.attachAll({ strict: true });
  assert.equal(await child.go(), 0);
  assert.equal(rb.available(), N * 16);
  assert.equal(rb.poll(1000, cb), N);
  assert.equal(got, N);
  assert.equal(rb.consume(cb), 0);
  assert.equal(rb.available(), 0);
});

ktest("ring buffer: a tiny ring under a burst: received + reserve failures == produced", async () => {
  const N = 3000;
  const child = await startSyscaller("getpid", String(N));
  using o = await loadObject(obj("events_ringbuf"), { constants: { target_tgid: child.pid, discard_every: 3 }, maxEntries: { rb8: 4096, rb256: 8192 } });
  using rb8 = new RingBuffer(o.map("rb8"));
  using rb256 = new RingBuffer(o.map("rb256"));
  assert.equal(rb8.ring.size, 4096);
  o.attachAll({ strict: true });
  // No reader runs during the burst: the rings fill up and the program counts its failures.
  assert.equal(await child.go(), 0);
  const v = o.variables;
  let got8 = 0;
  let got256 = 0;
  rb8.consume((_v, _o, _l, c) => (got8 += c));
  rb256.consume((_v, _o, _l, c) => (got256 += c));
  // 16 bytes per record with its header; the kernel keeps the fill below the ring size.
  assert.equal(got8, 4096 / 16 - 1, "a 4 KiB ring holds 255 records of 8 bytes");
  assert.ok(n(v.dropped8!.get()) > 0);
  assert.equal(got8 + n(v.dropped8!.get()), N);
  assert.equal(got256, n(v.produced256!.get()));
  assert.equal(got256 + n(v.discarded256!.get()) + n(v.dropped256!.get()), N);
  assert.equal(rb256.stats.discarded, n(v.discarded256!.get()));
  assert.ok(n(v.dropped256!.get()) > 0);
});

ktest("ring buffer: close() stops the poller, ends iterations and unmaps; wrong map types are refused", async () => {
  using o = await loadObject(obj("events_ringbuf"));
  const rb = new RingBuffer(o.map("rb8"));
  const it = rb.records();
  const pending = it.next();
  rb.onBatch(() => {});
  rb.close();
  assert.deepEqual(await pending, { value: undefined, done: true });
  assert.throws(() => rb.consume(() => {}), (e: unknown) => e instanceof BpfError && e.code === "E_CLOSED");
  assert.equal(rb.ring.bytes.length, 0, "the data mapping is detached");
  rb.close();
  using arr = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.throws(() => new RingBuffer(arr), ArgumentError);
});

ktest("user ring buffer: samples reserved and submitted in user space are drained by the program; discarded ones are skipped", async () => {
  using o = await loadObject(obj("events_user_ringbuf"));
  using urb = new UserRingBuffer(o.map("requests"));
  const drain = () => progTestRun({ progFd: o.program("drain").fd.value, ctxIn: new Uint8Array(8) }).retval;
  const v = o.variables;
  let expectSum = 0n;
  const held: import("../../src/ringbuf/index.js").UserRingSample[] = [];
  for (let i = 1; i <= 100; i++) {
    const s = urb.reserve(16)!;
    assert.ok(s);
    s.view.setBigUint64(0, BigInt(i), true);
    s.view.setUint32(8, i, true);
    held.push(s);
  }
  // Submit out of order; discard every 10th.
  for (const s of [...held].reverse()) {
    const i = s.view.getUint32(8, true);
    if (i % 10 === 0) urb.discard(s);
    else {
      urb.submit(s);
      expectSum += BigInt(i);
    }
  }
  assert.throws(() => urb.submit(held[0]!), ArgumentError, "a sample cannot be submitted twice");
  assert.equal(drain(), 90);
  assert.equal(v.samples!.get(), 90n);
  assert.equal(v.sum!.get(), expectSum);
  assert.equal(v.last_tag!.get(), 99);
  assert.deepEqual(urb.stats, { submitted: 90, discarded: 10 });

  // A busy (reserved, unsubmitted) sample stops the kernel's drain until it is submitted.
  const a = urb.reserve(16)!;
  assert.ok(urb.write(new Uint8Array([5, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0])));
  assert.ok(drain() <= 0, "the drain stops at the busy sample");
  assert.equal(v.samples!.get(), 90n);
  a.view.setBigUint64(0, 1000n, true);
  urb.submit(a);
  assert.equal(drain(), 2);
  assert.equal(v.sum!.get(), expectSum + 1005n);
  assert.equal(v.last_tag!.get(), 7);

  // Full ring: reserve returns undefined, and room comes back after a drain.
  let k = 0;
  while (urb.reserve(1000) && k < 1000) k++;
  assert.ok(k > 0 && k < 1000);
  assert.equal(urb.reserve(1000), undefined);
  assert.throws(() => urb.reserve(64 * 1024), ArgumentError);
});

/** An XDP program (DSL, no clang) writing one `size`-byte record {u32 size, u32 tag, zeroes} into `rb` per test run. */
function ringbufWriter(rb: BpfMap, size: number, tag: number): Program {
  const a = asm().mov64(R1, 0);
  for (let off = -64; off < 0; off += 8) a.stxdw(R10, off, R1);
  a.mov64(R1, size).stxw(R10, -64, R1).mov64(R1, tag).stxw(R10, -60, R1)
    .ldMap(R1, "rb").mov64(R2, R10).add64(R2, -64).mov64(R3, size).mov64(R4, 0)
    .call("ringbuf_output").mov64(R0, 2).exit();
  return Program.load({ name: `rbw${size}`, type: ProgramType.XDP, license: "GPL", instructions: linkBuiltProgram(a.build(), { rb }) });
}

ktest("ring buffer: records of changing sizes in one ring arrive whole and in order, across byte budgets (batch and batches())", async () => {
  using rbMap = BpfMap.create({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 1 << 20, name: "rb" });
  const sizes = [8, 24, 64, 16, 40, 8];
  const progs = sizes.map((s, i) => ringbufWriter(rbMap, s, i));
  try {
    const pkt = new Uint8Array(64);
    // Runs of different lengths, so size changes land at every position of a batch.
    const plan: number[] = [];
    for (let round = 0; round < 40; round++) for (let p = 0; p < progs.length; p++) plan.push(p, (round * 7 + p * 3) % 23 + 1);
    const expected: number[] = [];
    const produce = () => {
      for (let k = 0; k < plan.length; k += 2) {
        progTestRun({ progFd: progs[plan[k]!]!.fd.value, dataIn: pkt, repeat: plan[k + 1]! });
        for (let r = 0; r < plan[k + 1]!; r++) expected.push(plan[k]!);
      }
    };
    const check = (view: DataView, offsets: Uint32Array, lengths: Uint32Array, count: number, seen: number[], bad: string[]) => {
      for (let i = 0; i < count; i++) {
        const tag = view.getUint32(offsets[i]! + 4, true);
        if (lengths[i] !== sizes[tag] || view.getUint32(offsets[i]!, true) !== sizes[tag]) bad.push(`record ${seen.length}: length ${lengths[i]}, tag ${tag}`);
        seen.push(tag);
      }
    };
    for (const batchBytes of [48, 1000, 1 << 16]) {
      expected.length = 0;
      produce();
      using rb = new RingBuffer(rbMap, { batchBytes });
      const seen: number[] = [];
      const bad: string[] = [];
      let drains = 0;
      while (rb.consume((v, o, l, c) => (drains++, check(v, o, l, c, seen, bad))) > 0);
      assert.deepEqual(bad.slice(0, 3), []);
      assert.deepEqual(seen, expected, `batchBytes ${batchBytes}`);
      assert.equal(rb.available(), 0);
      if (batchBytes === 48) assert.ok(drains >= expected.length / 6, `a 48-byte budget makes small batches (${drains} drains)`);

      // The same through batches(): a batch stays in the ring until the next iteration.
      expected.length = 0;
      produce();
      const seen2: number[] = [];
      let held = true;
      for await (const b of rb.batches()) {
        if (rb.available() === 0) held = false;
        check(b.view, b.offsets, b.lengths, b.count, seen2, bad);
        if (seen2.length === expected.length) break;
      }
      assert.ok(held, "the records of a batch are not released while it is read");
      assert.equal(rb.available(), 0, "ending the loop releases the last batch");
      assert.deepEqual(bad.slice(0, 3), []);
      assert.deepEqual(seen2, expected);
    }
  } finally {
    for (const p of progs) p.close();
  }
});

ktest("ring buffer: batches() waits on the event loop, one batch iteration at a time, abort ends it", async () => {
  const N = 3000;
  const child = await startSyscaller("getpid", String(N));
  using o = await loadObject(obj("events_ringbuf"), { constants: { target_tgid: child.pid } });
  using rb = new RingBuffer(o.map("rb8"), { batchSize: 100 });
  o.attachAll({ strict: true });
  const ac = new AbortController();
  let next = 0;
  let batches = 0;
  const bad: string[] = [];
  const first = rb.batches({ signal: ac.signal });
  const done = (async () => {
    for await (const b of first) {
      batches++;
      if (b.count > 100) bad.push(`batch of ${b.count}`);
      for (let i = 0; i < b.count; i++) {
        const seq = b.view.getUint32(b.offsets[i]! + 4, true);
        if (seq !== next) bad.push(`seq ${seq}, expected ${next}`);
        next++;
      }
      if (next === N) ac.abort();
    }
  })();
  assert.equal(await child.go(), 0);
  await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${next} of ${N} records arrived`)), 5000))]);
  assert.deepEqual(bad.slice(0, 3), []);
  assert.equal(next, N);
  assert.ok(batches >= N / 100);
  assert.equal(rb.available(), 0);
  // A new batch iteration ends a previous one that was left open.
  const a = rb.batches();
  const pending = a.next();
  const b = rb.batches();
  assert.deepEqual(await pending, { value: undefined, done: true });
  assert.deepEqual(await b.return!(), { value: undefined, done: true });
});

ktest("ring buffer: a record written while the reader starts waiting arrives; an idle iteration does not spin the event loop", async () => {
  using rbMap = BpfMap.create({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 1 << 16, name: "rb" });
  using writer = ringbufWriter(rbMap, 16, 7);
  using rb = new RingBuffer(rbMap);
  const write = () => progTestRun({ progFd: writer.fd.value, dataIn: new Uint8Array(64) });
  const it = rb.records();
  for (let k = 0; k < 50; k++) {
    const next = it.next();
    write();
    const r = await Promise.race([next, new Promise<"timeout">((res) => setTimeout(() => res("timeout"), 2000))]);
    assert.notEqual(r, "timeout", `record ${k} did not arrive`);
    assert.equal((r as IteratorResult<Uint8Array>).value.length, 16);
  }
  // Records arrive while nobody asks for them: the watcher stays registered but must not make
  // the loop spin on the unread ring.
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let k = 0; k < 100; k++) {
    write();
    await new Promise((r) => setTimeout(r, 3));
  }
  await new Promise((r) => setTimeout(r, 200));
  const used = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  assert.ok((used.user + used.system) / 1000 < wall / 2, `${((used.user + used.system) / 1000).toFixed(0)} ms of CPU in ${wall.toFixed(0)} ms while idle`);
  let left = 0;
  for (;;) {
    const r = await it.next();
    left++;
    if (left === 100) break;
    assert.equal(r.done, false);
  }
  assert.equal(rb.available(), 0);
  await it.return!();
});

ktest("ring buffer: an iteration left unfinished does not keep the process alive", async () => {
  // A child process writes one record, takes it from an iteration and drops the iterator (no
  // next() pending): it must exit by itself. With a next() pending it waits, like a socket read.
  const dist = (...p: string[]) => JSON.stringify(repoPath("dist", "src", ...p));
  const script = (pending: boolean) => `
    import { BpfMap, MapType, Program, ProgramType } from ${dist("index.js")};
    import { RingBuffer } from ${dist("ringbuf", "index.js")};
    import { asm, linkBuiltProgram, R0, R1, R2, R3, R4, R10 } from ${dist("asm", "index.js")};
    import { progTestRun } from ${dist("sys", "bpf.js")};
    const rb = BpfMap.create({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 });
    const a = asm().mov64(R1, 0).stxdw(R10, -8, R1).ldMap(R1, "rb").mov64(R2, R10).add64(R2, -8)
      .mov64(R3, 8).mov64(R4, 0).call("ringbuf_output").mov64(R0, 2).exit();
    const p = Program.load({ name: "w", type: ProgramType.XDP, license: "GPL", instructions: linkBuiltProgram(a.build(), { rb }) });
    progTestRun({ progFd: p.fd.value, dataIn: new Uint8Array(64) });
    const reader = new RingBuffer(rb);
    const it = reader.records();
    const first = await it.next();
    console.log("took", first.value.length);
    ${pending ? "it.next(); setTimeout(() => { console.log('still here'); process.exit(3); }, 300).unref();" : ""}
  `;
  const { spawnSync } = await import("node:child_process");
  const run = (pending: boolean) => spawnSync(process.execPath, ["--input-type=module", "-e", script(pending)], { timeout: 10_000, encoding: "utf8" });
  const dropped = run(false);
  assert.equal(dropped.error, undefined, `the child did not exit by itself: ${dropped.error}`);
  assert.equal(dropped.status, 0, dropped.stderr);
  assert.match(dropped.stdout, /took 8/);
  const waiting = run(true);
  assert.equal(waiting.status, 3, `a pending next() keeps the process alive: ${waiting.stdout} ${waiting.stderr}`);
  assert.match(waiting.stdout, /still here/);
});

ktest("ring buffer fed by a bpf_loop producer (events_bench): a full ring loses exactly what did not fit, and every produced record is received once, in order", async () => {
  const batch = 64;
  using o = await loadObject(obj("events_bench"), { constants: { batch, record_size: 8, mode: 0 } });
  const map = o.map("rb");
  // An 8-byte record takes 16 bytes (8-byte header); the kernel refuses a reservation that would
  // put the producer more than size - 1 bytes ahead of the consumer.
  const capacity = Math.floor((map.info().maxEntries - 1) / 16);
  const v = o.variables;
  o.attachAll({ strict: true });
  const run = async (calls: number) => {
    const child = await startSyscaller("getpid", String(calls));
    v.target_tgid!.set(child.pid);
    assert.equal(await child.go(), 0);
  };
  using reader = new RingBuffer(map);
  let received = 0;
  let phaseStart = 0; // the first record of a run has sequence number 0
  const bad: string[] = [];
  const check: BatchCallback<Ring> = (view, offsets, lengths, count) => {
    for (let i = 0; i < count; i++, received++) {
      if (lengths[i] !== 8) bad.push(`record ${received}: length ${lengths[i]}`);
      // Each getpid() writes the loop indices 0..batch-1 in order.
      const seq = Number(view.getBigUint64(offsets[i]!, true));
      const want = (received - phaseStart) % batch;
      if (seq !== want && bad.length < 5) bad.push(`record ${received}: ${seq}, expected ${want}`);
    }
  };

  // 1. Nobody reads while the producer runs: the ring fills up and the rest is lost.
  const calls1 = Math.ceil((capacity + 10_000) / batch);
  await run(calls1);
  assert.equal(n(v.produced!.get()), capacity, "the ring took exactly what fits");
  assert.equal(n(v.dropped!.get()), calls1 * batch - capacity, "the producer saw every other reservation fail");
  while (reader.consume(check) > 0) { /* drain */ }
  assert.equal(reader.available(), 0);
  assert.equal(received, capacity, "every produced record was received");
  assert.deepEqual(bad, []);

  // 2. The reader runs on the event loop while the producer runs, less than the ring holds: nothing is lost.
  const calls2 = 2000;
  phaseStart = received;
  const stop = reader.onBatch(check);
  await run(calls2);
  assert.equal(n(v.produced!.get()), capacity + calls2 * batch);
  assert.equal(n(v.dropped!.get()), calls1 * batch - capacity, "no drop while there was room");
  await until(() => received === capacity + calls2 * batch, 10_000, "every record of the second run");
  stop();
  assert.deepEqual(bad, []);
  assert.deepEqual(reader.stats, { records: received, bytes: 8 * received, discarded: 0 });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(received, n(v.produced!.get()), "nothing arrives twice or late");
});
