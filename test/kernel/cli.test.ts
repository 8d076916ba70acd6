import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { test } from "node:test";
import { ktest, repoPath } from "../helpers/kernel.js";
import { BpfMap, MapType } from "../../src/index.js";

function tsbpf(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [repoPath("bin", "tsbpf.js"), ...args], { encoding: "utf8" });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test("tsbpf --version prints the package version; unknown commands exit 2 with usage", () => {
  const pkg = JSON.parse(readFileSync(repoPath("package.json"), "utf8")) as { version: string };
  assert.equal(tsbpf("--version").stdout.trim(), pkg.version);
  const bad = tsbpf("frobnicate");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /usage: tsbpf/);
});

test("tsbpf inspect lists maps and programs of an object, as text and JSON", () => {
  const text = tsbpf("inspect", repoPath("test", "bpf", "legacy_maps.bpf.o"));
  assert.equal(text.code, 0);
  assert.match(text.stdout, /getpid_calls\s+hash\s+4\s+8\s+1024/);
  assert.match(text.stdout, /count_getpid\s+tracepoint\/syscalls\/sys_enter_getpid\s+tracepoint/);
  const json = JSON.parse(tsbpf("inspect", repoPath("test", "bpf", "globals.bpf.o"), "--json").stdout) as { maps: Array<{ name: string }>; variables: Array<{ name: string }> };
  assert.ok(json.maps.some((m) => m.name === ".rodata"));
  assert.ok(json.variables.some((v) => v.name === "target_tgid"));
  const missing = tsbpf("inspect", "/nonexistent.o");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no such file/);
});

ktest("tsbpf map dump/list read a pinned map created by this process", () => {
  const path = `/sys/fs/bpf/tsbpf_test_cli_${process.pid}`;
  rmSync(path, { force: true });
  try {
    using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 4, name: "t_cli" });
    m.update(1, 0xaabbccdd);
    m.pin(path);
    const dump = tsbpf("map", "dump", path);
    assert.equal(dump.code, 0, dump.stderr);
    assert.match(dump.stdout, /key: 01 00 00 00 {2}value: dd cc bb aa/);
    const list = JSON.parse(tsbpf("map", "list", "--json").stdout) as Array<{ id: number; name: string }>;
    assert.ok(list.some((r) => r.id === m.info().id && r.name === "t_cli"));
    const gone = tsbpf("map", "dump", "/sys/fs/bpf/tsbpf_no_such_pin");
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /nothing is pinned there/);
  } finally {
    rmSync(path, { force: true });
  }
});
