/**
 * npm run bench: issue 6's benchmark suite. The same work through tsbpf, C libbpf, Go
 * cilium/ebpf and Python bcc, in one run, as child processes alternating in rotating order every
 * round (so all sides see the same machine), medians over rounds, printed as one plain table:
 * operation | tsbpf | C | Go | Python | ratio tsbpf/C. The ratio is the median of the per-round
 * ratios (each round's tsbpf and C runs are adjacent in time), which resists the drift of a
 * shared machine better than a ratio of medians. A side that cannot be built or run shows "n/a"
 * with the reason printed under the table; no figure is ever made up.
 *
 * Then bench/ringbuf.ts (ring and perf buffer consumption) and bench/btf.ts (vmlinux BTF, CO-RE
 * object load) run as child processes and their tables are printed as they are: they belong to
 * their own engineers and have their own columns.
 *
 *   node dist/bench/run.js [--rounds R] [--iters N] [--py-iters N] [--dump-rounds R]
 *                          [--cli-runs N] [--only maps,percpu,dump,cli,ringbuf,btf] [--quick]
 *
 * Needs root (CAP_BPF). scripts/bench-setup.sh installs the other languages' toolchains.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PY, bccEnv, buildGo, tryRun } from "./sides.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    iters: { type: "string" },
    "py-iters": { type: "string" },
    "dump-rounds": { type: "string" },
    "cli-runs": { type: "string" },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
  },
});
const quick = values.quick;
const rounds = Number(values.rounds ?? (quick ? 3 : 5));
const iters = Number(values.iters ?? (quick ? 50000 : 100000));
const pyIters = Number(values["py-iters"] ?? (quick ? 5000 : 30000));
const dumpRounds = Number(values["dump-rounds"] ?? (quick ? 1 : 3));
const cliRuns = Number(values["cli-runs"] ?? (quick ? 5 : 21));
const only = new Set((values.only ?? "maps,percpu,dump,cli,ringbuf,btf").split(","));

const root = (() => {
  let d = new URL(".", import.meta.url).pathname;
  while (!existsSync(join(d, "package.json"))) d = join(d, "..");
  return d;
})();
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load0 = loadavg();

// ---------------------------------------------------------------------------------------------
// The sides: how to run each, or why it cannot run.

type Side = "tsbpf" | "C" | "Go" | "Python";
const SIDES: Side[] = ["tsbpf", "C", "Go", "Python"];
const notes: string[] = [];
const unavailable = new Map<Side, string>();
const cDir = join(root, "bench", "c");
const goDir = join(root, "bench", "go");
const goBin = join(goDir, "mapbench");
const pyScript = join(root, "bench", "python", "map_ops.py");

{
  const err = tryRun("make", ["-s", "-C", cDir, "map_ops"]);
  if (err) unavailable.set("C", `make -C bench/c map_ops failed (is libbpf-dev installed? run scripts/bench-setup.sh): ${err}`);
}
{
  const go = buildGo(root);
  if ("error" in go) unavailable.set("Go", go.error);
}
const { env: pyEnv, note: pyNote } = bccEnv();
{
  if (pyNote) notes.push(pyNote);
  const err = tryRun(PY, ["-c", "from bcc import BPF; BPF(text='BPF_ARRAY(a, u64, 1);')"], { env: pyEnv });
  if (err) unavailable.set("Python", `bcc cannot run (apt-get install python3-bpfcc; kernel headers: run scripts/bench-setup.sh): ${err}`);
}

function command(side: Side, args: string[], itersFor: number): [string, string[], NodeJS.ProcessEnv?] {
  const [which, ...rest] = args;
  const it = ["ops", "percpu"].includes(which!) ? [String(itersFor)] : [];
  switch (side) {
    case "tsbpf": return [process.execPath, [join(root, "dist", "bench", "map-ops.js"), which!, ...rest, ...(it.length ? ["--iters", ...it] : [])]];
    case "C": return [join(cDir, "map_ops"), [which!, ...rest, ...(it.length ? ["--iters", ...it] : [])]];
    case "Go": return [goBin, [which!, ...rest, ...(it.length ? ["-iters", ...it] : [])]];
    case "Python": return [PY, [pyScript, which!, ...rest, ...(it.length ? ["--iters", ...it] : [])], pyEnv];
  }
}

/** Runs one side; returns its JSON lines as op -> value, or records why it failed. */
function runSide(side: Side, args: string[], field: "ns" | "s"): Map<string, number> {
  const out = new Map<string, number>();
  if (unavailable.has(side)) return out;
  const [cmd, argv, env] = command(side, args, side === "Python" ? pyIters : iters);
  const r = spawnSync(cmd, argv, { encoding: "utf8", env: env ?? process.env, maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    unavailable.set(side, `${[cmd, ...argv].join(" ")} failed: ${(r.stderr || r.error?.message || "").trim().split("\n").slice(-2).join(" | ")}`);
    return out;
  }
  for (const line of r.stdout.trim().split("\n")) {
    if (!line) continue;
    const j = JSON.parse(line) as { op: string; ns?: number; s?: number };
    const v = j[field];
    if (typeof v === "number") out.set(j.op, v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Measurements: per (side, op), one figure per round.

const figures = new Map<string, number[]>(); // `${side}\0${op}`
const ratios = new Map<string, number[]>(); // op -> per-round tsbpf/C
const add = (side: Side, op: string, v: number) => {
  const k = `${side}\0${op}`;
  figures.set(k, [...(figures.get(k) ?? []), v]);
};

function measure(args: string[], field: "ns" | "s", n: number, sides: Side[] = SIDES, sidesOnce: Side[] = []): void {
  for (let r = 0; r < n; r++) {
    const order = [...sides.slice(r % sides.length), ...sides.slice(0, r % sides.length)];
    if (r === 0) order.push(...sidesOnce);
    const got = new Map<Side, Map<string, number>>();
    for (const side of order) {
      const res = runSide(side, args, field);
      got.set(side, res);
      for (const [op, v] of res) add(side, op, v);
    }
    const ts = got.get("tsbpf");
    const c = got.get("C");
    if (ts && c) {
      for (const [op, v] of ts) {
        const cv = c.get(cOp(op));
        if (cv) ratios.set(op, [...(ratios.get(op) ?? []), v / cv]);
      }
    }
  }
}

/** The C operation a tsbpf row is compared with (C has one lookup form). */
const cOp = (op: string) => op.replace(/ (bytes|alloc)$/, "").replace(/^dump pairs$/, "dump batch");

const DUMP_PATH = "/sys/fs/bpf/tsbpf_bench_dump_1m";
const t0 = Date.now();
if (only.has("maps")) {
  process.stderr.write(`maps: ${rounds} rounds x ${SIDES.length} sides ...\n`);
  measure(["ops"], "ns", rounds);
}
if (only.has("percpu")) {
  process.stderr.write(`per-CPU: ${rounds} rounds ...\n`);
  measure(["percpu"], "ns", rounds);
}
if (only.has("dump")) {
  process.stderr.write(`dump of 1,000,000 entries: ${dumpRounds} rounds ...\n`);
  if (!existsSync("/sys/fs/bpf")) notes.push("dump: /sys/fs/bpf is not mounted");
  const err = unavailable.has("C") ? "needs bench/c/map_ops" : tryRun(join(cDir, "map_ops"), ["fill", DUMP_PATH, "1000000"]);
  if (err) {
    notes.push(`dump: could not create the 1M-entry map: ${err}`);
  } else {
    // Python's get-next-key walk of 1M entries takes tens of seconds: it runs in the first round only.
    measure(["dump", DUMP_PATH], "s", dumpRounds, ["tsbpf", "C", "Go"], ["Python"]);
    spawnSync("rm", ["-f", DUMP_PATH]);
  }
}

// ---------------------------------------------------------------------------------------------
// CLI cold start: wall time of N spawns each, alternating, median.

interface CliRow { op: string; ts: number[]; bt: number[]; err?: string }
const cliRows: CliRow[] = [];
if (only.has("cli")) {
  process.stderr.write(`CLI cold start: ${cliRuns} spawns each ...\n`);
  const tsbpf = join(root, "bin", "tsbpf.js");
  const spawnMs = (cmd: string, args: string[]): number | string => {
    const a = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    const ms = Number(process.hrtime.bigint() - a) / 1e6;
    if (r.error) return r.error.message;
    return r.status === 0 ? ms : `exit ${r.status}: ${(r.stderr || "").trim().split("\n")[0]}`;
  };
  const cases: Array<[string, string[], string[]]> = [
    ["CLI: --version (ms)", ["--version"], ["version"]],
    ["CLI: map list (ms)", ["map", "list"], ["map", "list"]],
  ];
  const nodeFloor: number[] = [];
  for (const [op, targs, bargs] of cases) {
    const row: CliRow = { op, ts: [], bt: [] };
    for (let i = 0; i < cliRuns + 1; i++) {
      const a = spawnMs(process.execPath, [tsbpf, ...targs]);
      const b = spawnMs("bpftool", bargs);
      const f = spawnMs(process.execPath, ["-e", "0"]);
      if (i === 0) continue; // warm-up: page cache, compile caches
      if (typeof a === "number") row.ts.push(a); else row.err = `tsbpf ${targs.join(" ")}: ${a}`;
      if (typeof b === "number") row.bt.push(b); else row.err = `bpftool ${bargs.join(" ")}: ${b}`;
      if (typeof f === "number") nodeFloor.push(f);
    }
    cliRows.push(row);
  }
  if (nodeFloor.length) notes.push(`CLI: \`node -e 0\` alone (the floor for any Node CLI here) took ${median(nodeFloor).toFixed(0)} ms (median), spawned alternately with the rows above`);
}
const load1 = loadavg();

// ---------------------------------------------------------------------------------------------
// The table.

const fmtNs = (v: number) => (v >= 10000 ? v.toFixed(0) : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const fmtS = (v: number) => (v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));
function cell(side: Side, op: string, fmt: (v: number) => string): string {
  const xs = figures.get(`${side}\0${op}`);
  if (xs?.length) return fmt(median(xs));
  return unavailable.has(side) ? "n/a" : "-";
}

interface Row { label: string; op: string; sides: Partial<Record<Side, string>>; unit: "ns" | "s" }
const rows: Row[] = [];
const mapsWanted = only.has("maps");
if (mapsWanted) {
  for (const m of ["hash8", "hash64", "array8", "array64"]) {
    const vb = m.endsWith("64") ? 64 : 8;
    const kind = m.startsWith("hash") ? "hash" : "array";
    const label = `${kind} ${vb}B`;
    rows.push({ label: `${label} lookup, no alloc (ns)`, op: `${m} lookup`, sides: { tsbpf: `${m} lookup`, C: `${m} lookup`, Go: `${m} lookup`, Python: `${m} lookup` }, unit: "ns" });
    rows.push({ label: `${label} lookup, byte key (ns)`, op: `${m} lookup bytes`, sides: { tsbpf: `${m} lookup bytes`, C: `${m} lookup` }, unit: "ns" });
    rows.push({ label: `${label} lookup, allocating (ns)`, op: `${m} lookup alloc`, sides: { tsbpf: `${m} lookup alloc`, C: `${m} lookup`, Go: `${m} lookup alloc`, Python: `${m} lookup` }, unit: "ns" });
    rows.push({ label: `${label} update (ns)`, op: `${m} update`, sides: { tsbpf: `${m} update`, C: `${m} update`, Go: `${m} update`, Python: `${m} update` }, unit: "ns" });
    if (kind === "hash") rows.push({ label: `${label} delete (ns)`, op: `${m} delete`, sides: { tsbpf: `${m} delete`, C: `${m} delete`, Go: `${m} delete`, Python: `${m} delete` }, unit: "ns" });
  }
}
if (only.has("percpu")) {
  rows.push({ label: `per-CPU array lookup, all ${cpus().length} CPUs, no alloc (ns)`, op: "percpu lookup", sides: { tsbpf: "percpu lookup", C: "percpu lookup", Go: "percpu lookup", Python: "percpu lookup" }, unit: "ns" });
  rows.push({ label: "per-CPU array lookup, one value per CPU, allocating (ns)", op: "percpu lookup alloc", sides: { tsbpf: "percpu lookup alloc", C: "percpu lookup", Go: "percpu lookup alloc", Python: "percpu lookup" }, unit: "ns" });
}
if (only.has("dump")) {
  rows.push({ label: "dump 1M: get-next-key + lookup (s)", op: "dump iterate", sides: { tsbpf: "dump iterate", C: "dump iterate", Go: "dump iterate", Python: "dump iterate" }, unit: "s" });
  rows.push({ label: "dump 1M: batch lookup (s)", op: "dump batch", sides: { tsbpf: "dump batch", C: "dump batch", Go: "dump batch", Python: "dump batch" }, unit: "s" });
  rows.push({ label: "dump 1M: batch into [key, value] pairs (s)", op: "dump pairs", sides: { tsbpf: "dump pairs", C: "dump batch" }, unit: "s" });
}

const table: string[][] = [];
for (const r of rows) {
  const fmt = r.unit === "ns" ? fmtNs : fmtS;
  const cells = SIDES.map((s) => (r.sides[s] ? cell(s, r.sides[s]!, fmt) : "-"));
  const rs = ratios.get(r.op);
  table.push([r.label, ...cells, rs?.length ? median(rs).toFixed(2) : "-"]);
}
for (const c of cliRows) {
  const ts = c.ts.length ? median(c.ts) : NaN;
  const bt = c.bt.length ? median(c.bt) : NaN;
  table.push([`${c.op.replace(" (ms)", "")} vs bpftool (ms)`, Number.isNaN(ts) ? "n/a" : ts.toFixed(0), Number.isNaN(bt) ? "n/a" : bt.toFixed(0), "-", "-", Number.isNaN(ts) || Number.isNaN(bt) ? "-" : (ts / bt).toFixed(1)]);
  if (c.err) notes.push(`CLI: ${c.err}`);
}

const header = ["operation", "tsbpf", "C", "Go", "Python", "ratio tsbpf/C"];
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join("  ");
console.log(`tsbpf benchmark suite: node ${process.version}, kernel ${release()}, ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? "?"})`);
console.log(`load average before ${load0}, after ${load1} (a shared machine: figures move with the load)`);
console.log(`map ops: 1024-entry maps, 4-byte keys, ${iters} calls per op (Python ${pyIters}), median of ${rounds} rounds; dump: median of ${dumpRounds} rounds (Python: 1); C/Go/Python each run as a child process in rotating order`);
console.log(`ratio: median of per-round tsbpf/C ratios (CLI: tsbpf/bpftool); C = libbpf ${libbpfVersion()}; Go = cilium/ebpf ${goLibVersion()}; Python = bcc ${bccVersion()}`);
console.log("");
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of table) console.log(line(r));
console.log("");
for (const [side, why] of unavailable) console.log(`n/a ${side}: ${why}`);
for (const n of notes) console.log(`note: ${n}`);
console.log(goalLines().join("\n"));
console.log(`(maps/dump/CLI took ${((Date.now() - t0) / 1000).toFixed(0)} s)`);

function goalLines(): string[] {
  const out: string[] = ["", "goals (issue 6):"];
  const m = (side: Side, op: string) => {
    const xs = figures.get(`${side}\0${op}`);
    return xs?.length ? median(xs) : NaN;
  };
  if (mapsWanted) {
    const ops = [...figures.keys()].filter((k) => k.startsWith("tsbpf\0") && /(lookup|update|delete)$/.test(k)).map((k) => k.split("\0")[1]!);
    const worstC = Math.max(...ops.map((op) => median(ratios.get(op) ?? [NaN])));
    const goRatios = ops.map((op) => m("tsbpf", op) / m("Go", op)).filter((x) => !Number.isNaN(x));
    const pyRatios = ops.map((op) => m("Python", op) / m("tsbpf", op)).filter((x) => !Number.isNaN(x));
    out.push(`  map ops within 1.15x of C: worst ratio ${worstC.toFixed(2)} -> ${worstC <= 1.15 ? "met" : "MISSED"}`);
    if (goRatios.length) out.push(`  map ops faster than cilium/ebpf: worst tsbpf/Go ${Math.max(...goRatios).toFixed(2)} -> ${Math.max(...goRatios) < 1 ? "met" : "MISSED"}`);
    if (pyRatios.length) out.push(`  map ops >= 5x faster than bcc: least bcc/tsbpf ${Math.min(...pyRatios).toFixed(1)}x -> ${Math.min(...pyRatios) >= 5 ? "met" : "MISSED"}`);
  }
  const db = ratios.get("dump batch");
  if (db?.length) out.push(`  dump with batch within 1.2x of C batch: ${median(db).toFixed(2)} -> ${median(db) <= 1.2 ? "met" : "MISSED"}`);
  for (const c of cliRows) if (c.ts.length) out.push(`  ${c.op.replace(" (ms)", "")} under 150 ms: ${median(c.ts).toFixed(0)} ms -> ${median(c.ts) < 150 ? "met" : "MISSED"}`);
  return out;
}

function libbpfVersion(): string {
  try {
    return execFileSync("dpkg-query", ["-W", "-f", "${Version}", "libbpf-dev"], { encoding: "utf8" }).replace(/^1:/, "").split("-")[0]!;
  } catch {
    return "?";
  }
}
function goLibVersion(): string {
  try {
    return execFileSync("dpkg-query", ["-W", "-f", "${Version}", "golang-github-cilium-ebpf-dev"], { encoding: "utf8" }).split("-")[0]! + ` (go ${execFileSync("go", ["env", "GOVERSION"], { encoding: "utf8" }).trim().replace(/^go/, "")})`;
  } catch {
    return "n/a";
  }
}
function bccVersion(): string {
  try {
    return execFileSync("dpkg-query", ["-W", "-f", "${Version}", "python3-bpfcc"], { encoding: "utf8" }).split("+")[0]!.split("-")[0]!;
  } catch {
    return "n/a";
  }
}

// ---------------------------------------------------------------------------------------------
// The other engineers' benchmarks, run as they are.

for (const [name, script, args] of [
  ["ring buffer and perf buffer consumption (bench/ringbuf.ts)", "ringbuf.js", quick ? ["--rounds", "2"] : []],
  ["vmlinux BTF and CO-RE object load (bench/btf.ts)", "btf.js", quick ? ["--runs", "3", "--rounds", "2"] : []],
] as Array<[string, string, string[]]>) {
  const key = script.replace(".js", "");
  if (!only.has(key)) continue;
  console.log(`\n== ${name}`);
  const path = join(root, "dist", "bench", script);
  if (!existsSync(path)) {
    console.log(`not run: ${path} does not exist (rows left out)`);
    continue;
  }
  const r = spawnSync(process.execPath, [path, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 });
  process.stdout.write(r.stdout ?? "");
  if (r.status !== 0) console.log(`(${script} exited with ${r.status ?? r.signal}: its rows are incomplete)`);
  console.log(`load average after: ${loadavg()}`);
}
