import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";
import { loadObject, ProgramType } from "../../src/index.js";
import { enableStats } from "../../src/sys/bpf.js";

ktest("the fd leak check fails a test that leaks a descriptor", () => {
  // A nested test runner reports to its parent when NODE_TEST_CONTEXT is set: run it standalone.
  const env: NodeJS.ProcessEnv = { ...process.env, CI: "true" };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, ["--test", repoPath("dist", "test", "fixtures", "leaky.js")], { encoding: "utf8", env });
  assert.notEqual(r.status, 0, "the leaky test file must fail");
  assert.match(r.stdout + r.stderr, /leaked descriptors: \d+ -> anon_inode:bpf-map/);
});

ktest("load options: max_entries overrides and a subset of programs", async () => {
  using o = await loadObject(repoPath("test", "bpf", "test_run.bpf.o"), { programs: ["sock_len"] });
  assert.deepEqual(Object.keys(o.programs), ["sock_len"]);
  assert.equal(o.program("sock_len").type, ProgramType.SOCKET_FILTER);
  using l = await loadObject(repoPath("test", "bpf", "legacy_maps.bpf.o"), { maxEntries: { getpid_calls: 77 } });
  assert.equal(l.map("getpid_calls").info().maxEntries, 77);
  await assert.rejects(loadObject(repoPath("test", "bpf", "legacy_maps.bpf.o"), { maxEntries: { nope: 1 } }), /getpid_calls/);
});

ktest("BPF_ENABLE_STATS: run time and run count grow while stats are on", async () => {
  const child = await startSyscaller("getpid", "20");
  using o = await loadObject(repoPath("test", "bpf", "legacy_maps.bpf.o"));
  o.attachAll({ strict: true });
  {
    using _stats = enableStats();
    assert.equal(await child.go(), 0);
    const info = o.program("count_getpid").info();
    assert.ok(info.runCount >= 20n, `run count ${info.runCount}`);
    assert.ok(info.runTimeNs > 0n);
  }
});

ktest("without privileges, bpf() errors say which capability is missing", () => {
  const script = `
    import { BpfMap, MapType, SyscallError } from ${JSON.stringify(repoPath("dist", "src", "index.js"))};
    try { BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1, name: "t_eperm" }); console.log("created"); }
    catch (e) { console.log(JSON.stringify({ cls: e.constructor.name, errno: e.errno, message: e.message })); }`;
  const r = spawnSync("setpriv", ["--inh-caps=-all", "--bounding-set=-all", process.execPath, "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { cls: string; errno: number; message: string };
  assert.equal(out.cls, "SyscallError");
  assert.equal(out.errno, 1);
  assert.match(out.message, /create map t_eperm: BPF_MAP_CREATE failed: operation not permitted \(EPERM\)/);
  assert.match(out.message, /run as root, or grant CAP_BPF/);
});

ktest("compiled test helpers (syscaller, uprobe_target) are deleted when the process that built them exits, and nothing else is", () => {
  const dir = join(tmpdir(), `tsbpf-test-${process.getuid?.() ?? 0}`);
  mkdirSync(dir, { recursive: true });
  // A file of the same naming scheme that this test's child did not create must stay.
  const bystander = join(dir, `syscaller-hygiene-${process.pid}`);
  writeFileSync(bystander, "not ours");
  try {
    const script = `
      const { syscaller, builtHelpers } = await import(${JSON.stringify(repoPath("dist", "test", "helpers", "kernel.js"))});
      const { uprobeTarget } = await import(${JSON.stringify(repoPath("dist", "test", "helpers", "uprobe-target.js"))});
      const built = [syscaller(), uprobeTarget()];
      const fs = await import("node:fs");
      console.log(JSON.stringify({ built, listed: builtHelpers(), existed: built.map((f) => fs.existsSync(f)) }));
    `;
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.TSBPF_SYSCALLER;
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", env });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { built: string[]; listed: string[]; existed: boolean[] };
    assert.deepEqual(out.existed, [true, true], "both helpers were built");
    assert.deepEqual(out.listed.sort(), [...out.built].sort());
    for (const f of out.built) {
      assert.ok(f.startsWith(dir + "/"), f);
      assert.equal(existsSync(f), false, `${f} was left behind`);
    }
    assert.equal(readFileSync(bystander, "utf8"), "not ours", "a file the child did not create is untouched");
  } finally {
    rmSync(bystander, { force: true });
  }
});
