/**
 * CO-RE parity with libbpf: every object of test/parity is loaded by bpftool / libbpf 1.1 and by
 * tsbpf (test/parity/harness.ts); tsbpf must load every program libbpf loads, and every object
 * bpftool prog loadall loads. The table is printed as a test diagnostic.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { ktest } from "../helpers/kernel.js";
import { corpusObjects, formatParity, parityFailures, runParity } from "../parity/harness.js";

ktest("parity: tsbpf loads every CO-RE corpus program that libbpf (bpftool 7.1) loads", async (t) => {
  const bpftool = spawnSync("bpftool", ["version"], { encoding: "utf8" });
  if (bpftool.error || bpftool.status !== 0) {
    // bpftool is the reference; without it there is nothing to compare with.
    if (process.env.CI === "true" || process.env.CI === "1") assert.fail("bpftool is not installed (apt-get install bpftool)");
    t.skip("bpftool is not installed (apt-get install bpftool)");
    return;
  }
  const objects = corpusObjects();
  assert.ok(objects.length >= 20, `the corpus has ${objects.length} objects, expected at least 20`);
  const results = await runParity(objects);
  t.diagnostic(`\n${formatParity(results)}`);
  const failures = parityFailures(results);
  assert.deepEqual(failures, [], `tsbpf refused what libbpf loads:\n${failures.join("\n")}`);
});
