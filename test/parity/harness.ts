/**
 * The CO-RE parity harness: loads every object of the corpus (test/parity/*.bpf.o, built from
 * the .bpf.c next to them) with the reference loader and with tsbpf, and compares which programs
 * load. Needs root (or CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN), bpftool, a C compiler and libbpf-dev.
 *
 *   node dist/test/parity/harness.js [--json] [OBJ...]      (default: the whole corpus)
 *
 * Reference side, two views of the same libbpf (Debian's libbpf 1.1, which bpftool 7.1 links):
 * - `bpftool prog loadall OBJ /sys/fs/bpf/parity_*`: the object as a whole. The programs that
 *   loaded are the entries of the pin directory, which is removed afterwards. bpftool stops at the
 *   first program the kernel refuses, so for such an object it says nothing about the others;
 * - test/parity/libbpf_load.c (built here against -lbpf): opens the object once per program,
 *   autoloads only that program and loads it: the per-program verdict.
 * tsbpf side, the same two views in process: `loadObject(OBJ)` for the whole object, and
 * `loadObject(OBJ, { programs: [name] })` per program (all maps are created each time, as libbpf
 * does). Each loaded object is closed right away.
 *
 * A program agrees when libbpf and tsbpf both load it or both refuse it. The run fails (exit
 * status 1, and test/kernel/parity.test.ts) when tsbpf refuses a program libbpf loads, or an
 * object bpftool loads as a whole. The opposite (tsbpf loads what libbpf refuses) is reported as a
 * difference but is not a failure.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadObject, openObjectSync } from "../../src/index.js";

/** Outcome of one load attempt. */
export interface Verdict {
  ok: boolean;
  /** First line(s) of the error when !ok. */
  error?: string;
}

/** One program of an object, loaded alone by each loader. */
export interface ProgramParity {
  name: string;
  section: string;
  libbpf: Verdict;
  tsbpf: Verdict;
}

/** One object of the corpus. */
export interface ObjectParity {
  object: string;
  programs: ProgramParity[];
  /** bpftool prog loadall: whether the whole object loaded, and which programs got pinned. */
  bpftool: Verdict & { loaded: string[] };
  /** tsbpf loadObject of the whole object. */
  tsbpfWhole: Verdict & { loaded: string[] };
  /** Warnings tsbpf emitted (onWarning) while loading this object. */
  warnings: string[];
}

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root (works from test/parity and from dist/test/parity). */
export const repoRoot = (() => {
  let d = here;
  while (!existsSync(join(d, "package.json"))) d = dirname(d);
  return d;
})();
/** Directory of the corpus sources and committed objects. */
export const corpusDir = join(repoRoot, "test", "parity");

/** The corpus objects, sorted. */
export function corpusObjects(): string[] {
  return readdirSync(corpusDir).filter((f) => f.endsWith(".bpf.o")).sort().map((f) => join(corpusDir, f));
}

let helperPath: string | undefined;
/** Builds test/parity/libbpf_load.c (once per process) into dist/test/parity. */
export function libbpfHelper(): string {
  if (helperPath) return helperPath;
  const src = join(corpusDir, "libbpf_load.c");
  const outDir = join(repoRoot, "dist", "test", "parity");
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, "libbpf_load");
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    execFileSync(process.env.CC ?? "cc", ["-O2", "-Wall", "-o", out, src, "-lbpf"], { stdio: ["ignore", "inherit", "inherit"] });
  }
  return (helperPath = out);
}

/** Short form of an error message: the first line, at most `max` characters. */
function short(msg: string, max = 240): string {
  const line = msg.split("\n").find((l) => l.trim() !== "")?.trim() ?? msg.trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

/** The most telling lines of bpftool's output for a failed loadall. */
function bpftoolError(out: string): string {
  const lines = out.split("\n").map((l) => l.trim()).filter((l) => l
    && !/^libbpf: (elf|sec|map)/.test(l) && !l.startsWith("Warning: bpftool is now running")
    && !l.startsWith("If it used to work") && !l.startsWith("processed ") && !l.includes("-- END PROG LOAD LOG --")
    && !l.includes("failed to load object") && !l.startsWith("Error: failed to load object file"));
  return short(lines.slice(-2).join(" | "), 300);
}

function bpftoolLoadall(obj: string): ObjectParity["bpftool"] {
  const pin = `/sys/fs/bpf/parity_${process.pid}_${basename(obj).replace(/\W/g, "_")}`;
  rmSync(pin, { recursive: true, force: true });
  const r = spawnSync("bpftool", ["prog", "loadall", obj, pin], { encoding: "utf8" });
  try {
    if (r.error) return { ok: false, loaded: [], error: `bpftool: ${r.error.message}` };
    const loaded = existsSync(pin) ? readdirSync(pin).sort() : [];
    if (r.status !== 0) return { ok: false, loaded, error: bpftoolError(`${r.stdout}\n${r.stderr}`) };
    return { ok: true, loaded };
  } finally {
    rmSync(pin, { recursive: true, force: true });
  }
}

function libbpfPerProgram(obj: string): Map<string, { section: string } & Verdict> {
  const out = execFileSync(libbpfHelper(), [obj], { encoding: "utf8" });
  const m = new Map<string, { section: string } & Verdict>();
  for (const line of out.trim().split("\n").filter(Boolean)) {
    const j = JSON.parse(line) as { program: string; section: string; ok: boolean; errno?: number; error?: string };
    m.set(j.program, { section: j.section, ok: j.ok, error: j.ok ? undefined : short(`errno ${j.errno}: ${j.error ?? ""}`, 300) });
  }
  return m;
}

async function tsbpfLoad(obj: string, programs: string[] | undefined, warnings: string[]): Promise<Verdict & { loaded: string[] }> {
  try {
    const o = await loadObject(obj, { programs, onWarning: (m) => warnings.push(m) });
    const loaded = Object.keys(o.programs).sort();
    o.close();
    return { ok: true, loaded };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { ok: false, loaded: [], error: short(`${err.code ? `${err.code}: ` : ""}${err.message}`, 300) };
  }
}

/** Runs both loaders over `objects` (default: the corpus). `onObject` sees each result as it is ready. */
export async function runParity(objects: string[] = corpusObjects(), onObject?: (r: ObjectParity) => void): Promise<ObjectParity[]> {
  const results: ObjectParity[] = [];
  for (const obj of objects) {
    const spec = openObjectSync(obj);
    const names = Object.keys(spec.programs);
    const bpftool = bpftoolLoadall(obj);
    const ref = libbpfPerProgram(obj);
    const warnings: string[] = [];
    const tsbpfWhole = await tsbpfLoad(obj, undefined, warnings);
    const programs: ProgramParity[] = [];
    for (const name of names) {
      const t = await tsbpfLoad(obj, [name], warnings);
      const l = ref.get(name) ?? { section: "?", ok: false, error: "libbpf does not see this program" };
      programs.push({ name, section: l.section, libbpf: { ok: l.ok, error: l.error }, tsbpf: { ok: t.ok, error: t.error } });
    }
    for (const name of ref.keys()) {
      if (!names.includes(name)) programs.push({ name, section: ref.get(name)!.section, libbpf: ref.get(name)!, tsbpf: { ok: false, error: "tsbpf does not see this program" } });
    }
    const r: ObjectParity = { object: basename(obj), programs, bpftool, tsbpfWhole, warnings: [...new Set(warnings)] };
    results.push(r);
    onObject?.(r);
  }
  return results;
}

/** Failures: programs libbpf loads that tsbpf does not, and objects bpftool loads that tsbpf does not. */
export function parityFailures(results: ObjectParity[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    if (r.bpftool.ok && !r.tsbpfWhole.ok) out.push(`${r.object}: bpftool loads the object, tsbpf does not: ${r.tsbpfWhole.error}`);
    for (const p of r.programs) {
      if (p.libbpf.ok && !p.tsbpf.ok) out.push(`${r.object} ${p.name}: libbpf loads it, tsbpf does not: ${p.tsbpf.error}`);
    }
  }
  return out;
}

/** Plain-text table: one row per object, then the differences with their error text. */
export function formatParity(results: ObjectParity[]): string {
  const rows = results.map((r) => {
    const n = r.programs.length;
    const lib = r.programs.filter((p) => p.libbpf.ok).length;
    const ts = r.programs.filter((p) => p.tsbpf.ok).length;
    const agree = r.programs.filter((p) => p.libbpf.ok === p.tsbpf.ok).length;
    return [
      r.object, String(n),
      r.bpftool.ok ? `ok ${r.bpftool.loaded.length}/${n}` : `fail`,
      `${lib}/${n}`,
      r.tsbpfWhole.ok ? `ok ${r.tsbpfWhole.loaded.length}/${n}` : "fail",
      `${ts}/${n}`,
      (agree === n && r.bpftool.ok === r.tsbpfWhole.ok ? "yes" : `NO (${n - agree} prog)`)
        + (r.warnings.some((w) => w.includes("without BTF")) ? ", tsbpf dropped object BTF" : ""),
    ];
  });
  const total = results.reduce((a, r) => a + r.programs.length, 0);
  const sum = (f: (p: ProgramParity) => boolean) => results.reduce((a, r) => a + r.programs.filter(f).length, 0);
  rows.push([
    `total (${results.length} objects)`, String(total),
    `ok ${results.filter((r) => r.bpftool.ok).length}/${results.length}`,
    `${sum((p) => p.libbpf.ok)}/${total}`,
    `ok ${results.filter((r) => r.tsbpfWhole.ok).length}/${results.length}`,
    `${sum((p) => p.tsbpf.ok)}/${total}`,
    `${sum((p) => p.libbpf.ok === p.tsbpf.ok)}/${total} agree`,
  ]);
  const header = ["object", "progs", "bpftool loadall", "libbpf per-prog", "tsbpf object", "tsbpf per-prog", "agreement"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => s.padEnd(widths[i]!)).join("  ").trimEnd();
  const lines = [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];

  const notes: string[] = [];
  for (const r of results) {
    for (const p of r.programs) {
      if (p.libbpf.ok !== p.tsbpf.ok) {
        notes.push(`DIFF ${r.object} ${p.name} (${p.section}): libbpf ${p.libbpf.ok ? "loads" : "refuses"}, tsbpf ${p.tsbpf.ok ? "loads" : "refuses"}`);
        if (!p.libbpf.ok) notes.push(`     libbpf: ${p.libbpf.error}`);
        if (!p.tsbpf.ok) notes.push(`     tsbpf:  ${p.tsbpf.error}`);
      } else if (!p.libbpf.ok) {
        notes.push(`both refuse ${r.object} ${p.name} (${p.section})`);
        notes.push(`     libbpf: ${p.libbpf.error}`);
        notes.push(`     tsbpf:  ${p.tsbpf.error}`);
      }
    }
    if (r.bpftool.ok !== r.tsbpfWhole.ok) {
      notes.push(`DIFF ${r.object} whole object: bpftool ${r.bpftool.ok ? "loads" : "refuses"}, tsbpf ${r.tsbpfWhole.ok ? "loads" : "refuses"}`);
      if (!r.bpftool.ok) notes.push(`     bpftool: ${r.bpftool.error}`);
      if (!r.tsbpfWhole.ok) notes.push(`     tsbpf:   ${r.tsbpfWhole.error}`);
    }
    for (const w of r.warnings) notes.push(`tsbpf warning (${r.object}): ${short(w, 300)}`);
  }
  if (notes.length) lines.push("", ...notes);
  return lines.join("\n");
}

function loadAverage(): string {
  try {
    return execFileSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes("--json");
  const objects = args.filter((a) => !a.startsWith("--"));
  const bpftoolVersion = spawnSync("bpftool", ["version"], { encoding: "utf8" }).stdout?.split("\n").slice(0, 2).join(", ") ?? "bpftool not found";
  const results = await runParity(objects.length ? objects : undefined);
  if (json) {
    console.log(JSON.stringify(results, null, 2));
  } else {
    console.log(`parity: ${results.length} objects; reference ${bpftoolVersion}; kernel ${execFileSync("uname", ["-r"], { encoding: "utf8" }).trim()}; load average ${loadAverage()}`);
    console.log(formatParity(results));
  }
  const failures = parityFailures(results);
  if (failures.length) {
    console.error(`\nparity: ${failures.length} failure(s):`);
    for (const f of failures) console.error(`  ${f}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
