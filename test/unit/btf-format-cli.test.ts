/** `tsbpf btf dump`, run as a user would, through the built bin. Reads files only (no privileges). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const VMLINUX = "/sys/kernel/btf/vmlinux";
const OBJ = `${ROOT}examples/readhist/readhist.bpf.o`;

function tsbpf(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [`${ROOT}bin/tsbpf.js`, ...args], { encoding: "utf8", maxBuffer: 256 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test("tsbpf btf dump: an object's BTF as C and raw, and usage errors", () => {
  const c = tsbpf("btf", "dump", OBJ, "--format", "c");
  assert.equal(c.code, 0, c.stderr);
  assert.ok(c.stdout.startsWith("#ifndef __VMLINUX_H__\n"));
  assert.match(c.stdout, /^struct hist \{\n\t__u32 slots\[15\];\n\};$/m);
  const raw = tsbpf("btf", "dump", "--format=raw", OBJ);
  assert.equal(raw.code, 0, raw.stderr);
  assert.match(raw.stdout, /^\[\d+\] STRUCT 'hist' size=60 vlen=1\n\t'slots' type_id=\d+ bits_offset=0$/m);
  assert.match(raw.stdout, /^\[\d+\] FUNC 'vfs_read' type_id=\d+ linkage=global$/m);
  assert.equal(tsbpf("btf", "dump", OBJ).stdout, raw.stdout, "raw is the default");
  const json = JSON.parse(tsbpf("btf", "dump", OBJ, "--json").stdout) as Array<{ kind: string; name: string }>;
  assert.ok(json.some((t) => t.kind === "struct" && t.name === "hist"));

  const bad = tsbpf("btf", "dump", OBJ, "--format", "json");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--format must be c or raw/);
  assert.match(bad.stderr, /btf dump \[FILE\]/, "the usage text documents the command");
  // bpftool refuses JSON for the C dump ("JSON output for C-syntax dump is not supported"): a usage error, nothing on stdout.
  const cJson = tsbpf("btf", "dump", OBJ, "--format", "c", "--json");
  assert.equal(cJson.code, 2);
  assert.equal(cJson.stdout, "");
  assert.match(cJson.stderr, /^tsbpf: btf dump: --json is for the raw listing, a C header has no JSON form; drop --json or use --format raw --json\n\nusage: tsbpf btf dump/);
  const missing = tsbpf("btf", "dump", "/nonexistent.btf");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^tsbpf: read BTF from \/nonexistent\.btf: .*no such file/im);
  const notBtf = tsbpf("btf", "dump", `${ROOT}package.json`);
  assert.equal(notBtf.code, 1);
  assert.match(notBtf.stderr, /bad magic/);
});

test("tsbpf btf dump --format c: the running kernel's vmlinux.h by default", { skip: !existsSync(VMLINUX) && `${VMLINUX} is absent` }, () => {
  const t0 = performance.now();
  const r = tsbpf("btf", "dump", "--format", "c");
  const ms = performance.now() - t0;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^struct task_struct \{$/m);
  assert.ok(r.stdout.endsWith("#endif /* __VMLINUX_H__ */\n"));
  console.log(`# tsbpf btf dump --format c: ${ms.toFixed(0)} ms for ${(r.stdout.length / 1e6).toFixed(1)} MB`);
});
