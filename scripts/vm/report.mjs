#!/usr/bin/env node
// Reads a finished VM job (scripts/vm/run.sh) and prints one row per test: result, duration, test.
// Exits 0 only when every selection line ran, its `node --test` exited 0, it ran at least one
// test, and no test failed. Tests filtered out by a --test-name-pattern are not listed.
//
//   node scripts/vm/report.mjs JOBDIR
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const jobDir = process.argv[2];
if (!jobDir) {
  console.error("usage: report.mjs JOBDIR");
  process.exit(2);
}

/**
 * Parses node's TAP reporter output into the tests it reports, innermost first: each with its
 * name path (file or suite names, then the test), ok, directive (SKIP/TODO + reason), duration
 * and error text. Nesting is by indentation (4 spaces per level), as node writes it.
 */
export function parseTap(text) {
  const lines = text.split("\n");
  const out = [];
  const subtestNames = []; // by depth: the name of the open "# Subtest:"
  const hasChildren = []; // by depth: whether a result was seen one level deeper
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const indent = line.length - line.trimStart().length;
    const depth = Math.floor(indent / 4);
    const body = line.trimStart();
    const sub = /^# Subtest: (.*)$/.exec(body);
    if (sub) {
      subtestNames[depth] = sub[1];
      hasChildren[depth] = false;
      continue;
    }
    const m = /^(not ok|ok) \d+ - (.*)$/.exec(body);
    if (!m) continue;
    let rest = m[2];
    let directive;
    const d = /^(.*?) # (SKIP|TODO)\b ?(.*)$/i.exec(rest);
    if (d) {
      rest = d[1];
      directive = { kind: d[2].toUpperCase(), reason: d[3].replace(/\\#/g, "#") };
    }
    const name = rest.replace(/\\#/g, "#").replace(/\\\\/g, "\\");
    // YAML block: "  ---" ... "  ..." right after the result line.
    let duration, error;
    if (lines[i + 1]?.trim() === "---") {
      let j = i + 2;
      const yaml = [];
      while (j < lines.length && lines[j].trim() !== "...") yaml.push(lines[j++]);
      i = j;
      const y = yaml.join("\n");
      const dm = /^\s*duration_ms: ([\d.]+)/m.exec(y);
      if (dm) duration = Number(dm[1]);
      const em = /^(\s*)error: (?:\|-?\n((?:\1 {2}.*\n?)*)|(.*))/m.exec(y);
      if (em) error = (em[2] ?? em[3] ?? "").split("\n").map((s) => s.trim()).filter(Boolean).join(" / ").replace(/^'(.*)'$/, "$1");
    }
    if (depth > 0) hasChildren[depth - 1] = true;
    const leaf = !hasChildren[depth];
    const path = subtestNames.slice(0, depth);
    hasChildren[depth] = false;
    out.push({ name, path, ok: m[1] === "ok", directive, duration, error, leaf });
  }
  return out;
}

const fmtMs = (ms) => (ms === undefined ? "?" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

const plan = JSON.parse(readFileSync(join(jobDir, "plan.json"), "utf8"));
const rows = [];
const problems = [];
let pass = 0, fail = 0, skip = 0, todo = 0;
plan.forEach((entry, i) => {
  const n = i + 1;
  const label = [entry.file, ...entry.opts].join(" ");
  const statusFile = join(jobDir, "results", `${n}.status`);
  const tapFile = join(jobDir, "results", `${n}.tap`);
  if (!existsSync(statusFile)) {
    problems.push(`${label}: did not run (the guest stopped before it)`);
    rows.push({ result: "NOT RUN", ms: undefined, test: label });
    fail++;
    return;
  }
  const [rc, wall] = readFileSync(statusFile, "utf8").trim().split(/\s+/).map(Number);
  const tests = existsSync(tapFile) ? parseTap(readFileSync(tapFile, "utf8")) : [];
  let ran = 0;
  for (const t of tests) {
    if (!t.leaf) {
      // A file or suite that failed on its own (e.g. the test file crashed) still counts.
      const own = [...t.path, t.name];
      const below = (u) => u.path.length >= own.length && own.every((p, k) => u.path[k] === p);
      if (!t.ok && !tests.some((u) => !u.ok && below(u))) {
        rows.push({ result: "FAIL", ms: t.duration, test: [...t.path, t.name].join(" > "), error: t.error });
        fail++;
      }
      continue;
    }
    if (t.directive?.kind === "SKIP" && /^test name does not match pattern$/.test(t.directive.reason)) {
      entry.unselected = (entry.unselected ?? 0) + 1;
      continue;
    }
    ran++;
    const test = `${entry.file.replace(/^dist\//, "")}: ${[...t.path.filter((p) => !p.endsWith(".js")), t.name].join(" > ")}`;
    let result;
    if (t.directive?.kind === "TODO") { result = "todo"; todo++; }
    else if (!t.ok) { result = "FAIL"; fail++; }
    else if (t.directive?.kind === "SKIP") { result = "skip"; skip++; }
    else { result = "pass"; pass++; }
    rows.push({ result, ms: t.duration, test, error: !t.ok ? t.error : undefined, reason: t.directive?.kind === "SKIP" ? t.directive.reason : undefined });
  }
  if (ran === 0) problems.push(`${label}: no test ran (wrong file, or a --test-name-pattern that matches nothing)`);
  if (rc !== 0) problems.push(`${label}: node --test exited with ${rc} after ${fmtMs(wall)}`);
  entry.wall = wall;
});

const w = Math.max(...rows.map((r) => fmtMs(r.ms).length), 8);
console.log(`\n${"result".padEnd(8)} ${"duration".padStart(w)}  test`);
for (const r of rows) {
  console.log(`${r.result.padEnd(8)} ${fmtMs(r.ms).padStart(w)}  ${r.test}`);
  if (r.error) console.log(`${" ".repeat(w + 11)}error: ${r.error.slice(0, 400)}`);
  if (r.reason) console.log(`${" ".repeat(w + 11)}skipped: ${r.reason}`);
}
console.log(`\n${pass} passed, ${fail} failed, ${skip} skipped${todo ? `, ${todo} todo` : ""}; per file (wall time in the guest, with node start-up):`);
for (const e of plan) {
  const unselected = e.unselected ? ` (${e.unselected} other test${e.unselected > 1 ? "s" : ""} not selected)` : "";
  console.log(`  ${fmtMs(e.wall).padStart(w)}  ${[e.file, ...e.opts].join(" ")}${unselected}`);
}
for (const p of problems) console.log(`test:vm: ${p}`);
process.exit(fail === 0 && problems.length === 0 ? 0 : 1);
