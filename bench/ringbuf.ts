/**
 * Event-stream benchmark: records consumed per second from a BPF ring buffer and a perf buffer,
 * through tsbpf (batch callback, batches() AsyncIterable, per-record AsyncIterable) and through C
 * libbpf (bench/c/ringbuf_consumer.c: ring_buffer__consume/poll, perf_buffer__consume/poll) in the same run, on the same map, with
 * the same producer (test/bpf/events_bench.bpf.c: a bpf_loop writing 64 records per getpid()
 * call of bench/c/ringbuf_producer). Every consumer reads the first 8 bytes of each record. The
 * drain is also measured through Go cilium/ebpf (bench/go `events`: Reader.ReadInto) and Python
 * bcc (bench/python/events.py: its ring buffer and perf readers), each opening the map by id.
 *
 * Two measurements:
 *  - drain: the ring is filled while nobody reads (K records), then the consumer is timed until
 *    the ring is empty: its consumption capacity, without a producer competing for the CPU.
 *  - live: the producer calls getpid in a tight loop on one CPU for S seconds while the consumer
 *    polls (event loop for tsbpf, ring_buffer__poll/perf_buffer__poll for C); events/s consumed
 *    is what the consumer kept up with (the rest was dropped by the full ring).
 *
 * Every round runs C, then each tsbpf form, on a fresh fill, so load from other processes on a
 * shared machine hits all of them alike; the table shows medians, --verbose every round.
 *
 * --clock cpu times the drain measurement by CPU time (of the consumer process: the C process, or
 * the whole Node process including its GC threads) instead of wall-clock time: on a loaded
 * machine it counts the consumer's work, not the time other processes held the CPU. Live runs
 * are always wall-clock (events/s kept up with).
 *
 *   node dist/bench/ringbuf.js [--rounds R] [--seconds S] [--only ringbuf|perf] [--size 8|256] [--no-live] [--clock wall|cpu]
 * Needs root. Prints a table (not a test).
 */
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadObject, type BpfObject } from "../src/index.js";
import { RingBuffer } from "../src/ringbuf/index.js";
import { PerfBuffer } from "../src/perf/index.js";
import { PY, bccEnv, buildGo, tryRun } from "./sides.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "1" },
    only: { type: "string" },
    size: { type: "string" },
    clock: { type: "string", default: "wall" },
    "no-live": { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const log = (...a: unknown[]) => {
  if (values.verbose) console.error("#", ...a);
};
const seconds = Number(values.seconds);
if (values.clock !== "wall" && values.clock !== "cpu") throw new Error("--clock is wall or cpu");
const cpuClock = values.clock === "cpu";

const root = (() => {
  let d = new URL(".", import.meta.url).pathname;
  while (!existsSync(join(d, "package.json"))) d = join(d, "..");
  return d;
})();
const cDir = join(root, "bench", "c");
execFileSync("make", ["-s", "-C", cDir, "ringbuf_consumer", "ringbuf_producer"], { stdio: "inherit" });

const BATCH = 64; // records per getpid call (rodata `batch`)
const RING_BYTES = 1 << 26; // 64 MiB ring buffer
const PERF_PAGES = 16384; // 64 MiB per CPU

type Kind = "ringbuf" | "perf";
type Form = "batch" | "batches" | "iter";
let sink = 0;
interface Config {
  kind: Kind;
  size: number;
  /** getpid calls that fill the ring for the drain measurement */
  calls: number;
}

/** Spawns a helper that prints one line (pid or "ready") and waits for a line on stdin. */
async function startHelper(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ child: ChildProcessWithoutNullStreams; first: string; out: Promise<string> }> {
  const child = spawn(cmd, args, { stdio: "pipe", env: env ?? process.env });
  let buf = "";
  let firstResolve!: (s: string) => void;
  const first = new Promise<string>((r) => (firstResolve = r));
  const out = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf("\n");
      if (i >= 0) firstResolve(buf.slice(0, i));
    });
    child.stderr.on("data", (d: Buffer) => process.stderr.write(d));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(buf) : reject(new Error(`${cmd} exited with ${code}`))));
  });
  return { child, first: await first, out };
}

async function runProducer(o: BpfObject, args: string[], whileRunning?: () => void): Promise<void> {
  const p = await startHelper(join(cDir, "ringbuf_producer"), args);
  o.variables.target_tgid!.set(Number(p.first));
  whileRunning?.();
  p.child.stdin.end("go\n");
  await p.out;
  o.variables.target_tgid!.set(0);
}

const counters = (o: BpfObject) => ({ produced: Number(o.variables.produced!.get()), dropped: Number(o.variables.dropped!.get()) });

/** Opens a reader and touches every mapped page, so page faults are not timed (the C side does the same). */
function openReader(o: BpfObject, kind: Kind): RingBuffer | PerfBuffer {
  const r = kind === "ringbuf" ? new RingBuffer(o.map("rb")) : new PerfBuffer(o.map("pb"), { pageCount: PERF_PAGES });
  let z = 0;
  for (const ring of r.rings) for (let i = 0; i < ring.bytes.length; i += 4096) z += ring.bytes[i]!;
  sink += z;
  return r;
}

const touch = (view: DataView, offsets: Uint32Array, _lengths: Uint32Array, count: number): void => {
  let s = 0;
  for (let i = 0; i < count; i++) {
    const off = offsets[i]!;
    s += view.getUint32(off, true) + view.getUint32(off + 4, true);
  }
  sink += s;
};

/** Fills the ring with calls*BATCH records, then times a tsbpf drain. Returns events/s. */
async function tsDrain(o: BpfObject, c: Config, form: Form): Promise<number> {
  using r = openReader(o, c.kind);
  const before = counters(o);
  await runProducer(o, ["calls", String(c.calls)]);
  const after = counters(o);
  const expect = after.produced - before.produced;
  if (after.dropped !== before.dropped) throw new Error(`the fill overflowed the ring (${after.dropped - before.dropped} dropped)`);
  let got = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  if (form === "batch") {
    for (;;) {
      const n = r.consume(touch);
      if (n === 0) break;
      got += n;
    }
  } else if (form === "batches") {
    for await (const b of r.batches()) {
      touch(b.view, b.offsets, b.lengths, b.count);
      got += b.count;
      if (got === expect) break;
    }
  } else {
    for await (const rec of r.records()) {
      sink += rec[0]!;
      if (++got === expect) break;
    }
  }
  const wall = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(c0);
  const ns = cpuClock ? (cpu.user + cpu.system) * 1000 : wall;
  if (got !== expect) throw new Error(`${c.kind} ${c.size}B ${form}: consumed ${got}, produced ${expect}`);
  return got / (ns / 1e9);
}

/**
 * The other sides' drain consumers: each opens the map by id, prints "ready", waits for a line
 * ending in the number of records produced, drains that many and prints one JSON line (the same
 * for all three: bench/c/ringbuf_consumer.c, bench/go/main.go `events`, bench/python/events.py).
 */
type Other = "C" | "Go" | "Python";
const others = new Map<Other, { cmd: string; args: (kind: Kind, id: number) => string[]; env?: NodeJS.ProcessEnv }>();
const unavailable = new Map<Other, string>();
others.set("C", { cmd: join(cDir, "ringbuf_consumer"), args: (k, id) => [k, "drain", String(id), "0", String(PERF_PAGES)] });
{
  const go = buildGo(root);
  if ("error" in go) unavailable.set("Go", go.error);
  else others.set("Go", { cmd: go.bin, args: (k, id) => ["events", k, String(id), String(PERF_PAGES)] });
  const { env } = bccEnv();
  const err = tryRun(PY, ["-c", "import bcc.libbcc"], { env });
  if (err) unavailable.set("Python", `bcc cannot run (apt-get install python3-bpfcc): ${err}`);
  else others.set("Python", { cmd: PY, args: (k, id) => [join(root, "bench", "python", "events.py"), k, String(id), String(PERF_PAGES)], env });
}

async function otherDrain(o: BpfObject, c: Config, side: Other): Promise<number> {
  const how = others.get(side)!;
  const map = c.kind === "ringbuf" ? o.map("rb") : o.map("pb");
  const h = await startHelper(how.cmd, how.args(c.kind, map.info().id), how.env);
  if (h.first !== "ready") throw new Error(`${side} consumer said ${h.first}`);
  const before = counters(o);
  await runProducer(o, ["calls", String(c.calls)]);
  const after = counters(o);
  const expect = after.produced - before.produced;
  h.child.stdin.end(`go ${expect}\n`);
  const out = await h.out;
  const j = JSON.parse(out.trim().split("\n").pop()!) as { events: number; ns: number; cpu_ns: number; lost: number };
  if (j.events !== expect) throw new Error(`${side} ${c.kind} ${c.size}B drain: consumed ${j.events}, produced ${expect}`);
  return j.events / ((cpuClock ? j.cpu_ns : j.ns) / 1e9);
}

/** Empties the ring (what a previous live run left behind). */
function flushRing(o: BpfObject, kind: Kind): void {
  using r = openReader(o, kind);
  while (r.consume(() => {}) > 0);
}

/** Live: the consumer runs while the producer loops for `seconds`. Returns events/s consumed. */
async function tsLive(o: BpfObject, c: Config, form: Form): Promise<number> {
  flushRing(o, c.kind);
  using r = openReader(o, c.kind);
  let got = 0;
  const ac = new AbortController();
  let t0 = 0n;
  let iterDone: Promise<void> | undefined;
  if (form === "batch") {
    r.onBatch((view, offsets, lengths, count) => {
      touch(view, offsets, lengths, count);
      got += count;
    });
  }
  await runProducer(o, ["seconds", String(seconds)], () => {
    t0 = process.hrtime.bigint();
    if (form === "iter") {
      iterDone = (async () => {
        for await (const rec of r.records({ signal: ac.signal })) {
          sink += rec[0]!;
          got++;
        }
      })();
    } else if (form === "batches") {
      iterDone = (async () => {
        for await (const b of r.batches({ signal: ac.signal })) {
          touch(b.view, b.offsets, b.lengths, b.count);
          got += b.count;
        }
      })();
    }
  });
  const ns = Number(process.hrtime.bigint() - t0);
  ac.abort();
  await iterDone;
  return got / (ns / 1e9);
}

async function cLive(o: BpfObject, c: Config): Promise<number> {
  flushRing(o, c.kind);
  const map = c.kind === "ringbuf" ? o.map("rb") : o.map("pb");
  const h = await startHelper(join(cDir, "ringbuf_consumer"), [c.kind, "live", String(map.info().id), String(seconds), String(PERF_PAGES)]);
  await runProducer(o, ["seconds", String(seconds)], () => h.child.stdin.end("go\n"));
  const j = JSON.parse((await h.out).trim().split("\n").pop()!) as { events: number; ns: number };
  return j.events / (j.ns / 1e9);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const configs: Config[] = [
  { kind: "ringbuf", size: 8, calls: 60000 }, // 3.84M records of 16 bytes in a 64 MiB ring
  { kind: "ringbuf", size: 256, calls: 3900 }, // 250k records of 264 bytes
  { kind: "perf", size: 8, calls: 32768 }, // 2.1M records of 24 bytes (64 MiB per CPU)
  { kind: "perf", size: 256, calls: 3500 }, // 224k records of 272 bytes
].filter((c) => (!values.only || c.kind === values.only) && (!values.size || c.size === Number(values.size))) as Config[];

const loadBefore = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const rows: string[][] = [];
for (const c of configs) {
  using o = await loadObject(join(root, "test", "bpf", "events_bench.bpf.o"), {
    constants: { record_size: c.size, batch: BATCH, mode: c.kind === "ringbuf" ? 0 : 1 },
    maxEntries: { rb: RING_BYTES },
  });
  o.attachAll({ strict: true });
  const modes: Array<"drain" | "live"> = values["no-live"] ? ["drain"] : ["drain", "live"];
  for (const mode of modes) {
    const res = { batch: [] as number[], batches: [] as number[], iter: [] as number[], c: [] as number[], go: [] as number[], py: [] as number[] };
    for (let r = -1; r < rounds; r++) {
      if (r === 0) for (const k of ["c", "batch", "batches", "iter", "go"] as const) res[k].length = 0; // round -1 warms up
      const what = `${c.kind} ${c.size}B ${mode}`;
      res.c.push(mode === "drain" ? await otherDrain(o, c, "C") : await cLive(o, c));
      log(what, "C", res.c.at(-1));
      // Go and Python: drain only. Python (a ctypes callback per record, ~1 µs) runs once, in the first round.
      if (mode === "drain" && others.has("Go")) {
        res.go.push(await otherDrain(o, c, "Go"));
        log(what, "Go", res.go.at(-1));
      }
      if (mode === "drain" && others.has("Python") && r === 0) {
        res.py.push(await otherDrain(o, c, "Python"));
        log(what, "Python", res.py.at(-1));
      }
      for (const form of ["batch", "batches", "iter"] as const) {
        res[form].push(mode === "drain" ? await tsDrain(o, c, form) : await tsLive(o, c, form));
        log(what, form, res[form].at(-1));
      }
    }
    const b = median(res.batch);
    const bs = median(res.batches);
    const it = median(res.iter);
    const cc = median(res.c);
    const m = (x: number) => (x / 1e6).toFixed(2);
    const opt = (xs: number[], side: Other) => (unavailable.has(side) ? "n/a" : xs.length ? m(median(xs)) : "-");
    rows.push([`${c.kind} ${c.size}B`, mode, m(b), m(bs), m(it), m(cc), opt(res.go, "Go"), opt(res.py, "Python"), (b / cc).toFixed(2), (bs / cc).toFixed(2), (it / cc).toFixed(2)]);
  }
}

const header = ["stream, record", "mode", "tsbpf batch Mev/s", "tsbpf batches() Mev/s", "tsbpf records() Mev/s", "C libbpf Mev/s", "Go Mev/s", "Python Mev/s", "batch/C", "batches/C", "records/C"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((s, i) => (i < 2 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join("  ");
const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`records consumed per second (drain: per ${cpuClock ? "CPU" : "wall-clock"} second), median of ${rounds} rounds after a warm-up round (C and tsbpf interleaved); ${BATCH} records per getpid; live runs ${seconds}s; node ${process.version}; load average before ${loadBefore}, after ${load}`);
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
console.log("C: libbpf ring_buffer__consume / perf_buffer__consume; Go: cilium/ebpf ringbuf/perf Reader.ReadInto (drain only); Python: bcc's ring buffer / perf readers with a Python callback (drain only, first round)");
for (const [side, why] of unavailable) console.log(`n/a ${side}: ${why}`);
if (sink === -1) console.log(sink);
