/**
 * npm run bench: the map benchmark through tsbpf and through C libbpf in one run, alternating
 * rounds so both see the same machine, printed as a plain table with the ratio to C.
 *
 *   node dist/bench/run.js [--iters N] [--rounds R]
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runMapOps } from "./map-ops.js";

const { values } = parseArgs({ options: { iters: { type: "string", default: "1000000" }, rounds: { type: "string", default: "3" } } });
const iters = Number(values.iters);
const rounds = Number(values.rounds);

const root = (() => {
  let d = new URL(".", import.meta.url).pathname;
  while (!existsSync(join(d, "package.json"))) d = join(d, "..");
  return d;
})();
const cDir = join(root, "bench", "c");
execFileSync("make", ["-s", "-C", cDir, "map_lookup"], { stdio: "inherit" });

// Operation names on the C side, for each tsbpf row (both sides do the same syscall work).
const cName: Record<string, string> = {
  "hash lookupInto (number key)": "hash lookup",
  "hash lookupInto (byte key)": "hash lookup",
  "hash lookup (allocating)": "hash lookup",
  "hash update": "hash update",
  "hash delete": "hash delete",
  "array lookupInto": "array lookup",
  "array update": "array update",
};

const ts = new Map<string, number[]>();
const c = new Map<string, number[]>();
for (let r = 0; r < rounds; r++) {
  const out = execFileSync(join(cDir, "map_lookup"), ["--iters", String(iters)], { encoding: "utf8" });
  for (const line of out.trim().split("\n")) {
    const j = JSON.parse(line) as { op: string; map?: string; ns: number };
    const name = j.op.startsWith("array_") ? `array ${j.op.slice(6)}` : `${j.map ?? "hash"} ${j.op}`;
    c.set(name, [...(c.get(name) ?? []), j.ns]);
  }
  for (const o of runMapOps(iters)) ts.set(o.op, [...(ts.get(o.op) ?? []), o.ns]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows = [...ts.entries()].map(([op, xs]) => {
  const t = median(xs);
  const cx = c.get(cName[op] ?? "");
  const cv = cx ? median(cx) : NaN;
  return [op, t.toFixed(0), Number.isNaN(cv) ? "-" : cv.toFixed(0), Number.isNaN(cv) ? "-" : (t / cv).toFixed(2)];
});
const header = ["operation (1024-entry map, 4B key, 8B value)", "tsbpf ns/op", "C libbpf ns/op", "ratio"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join("  ");
console.log(`${iters} calls per operation, median of ${rounds} alternating rounds, node ${process.version}`);
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
