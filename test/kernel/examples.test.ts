// The example drivers, run as a user would (node dist/examples/...), with their output asserted.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";

/** Runs an example to completion, returning stdout, stderr and the exit code. */
function runExample(path: string, args: string[], whileRunning?: () => Promise<void>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [repoPath("dist", "examples", ...path.split("/")), ...args], { stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    let started = false;
    // The drivers announce that they are attached ("attached ..." / "Counting ..."): then act.
    const check = () => {
      if (!started && /attached|Counting/.test(stderr + stdout)) {
        started = true;
        whileRunning?.().catch(reject);
      }
    };
    child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); check(); });
    child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); check(); });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

ktest("syscount (main demo) counts a child's system calls and prints it in the table", async () => {
  const child = await startSyscaller("getpid", "3000");
  const { code, stdout, stderr } = await runExample("syscount/syscount.js", ["--duration", "2", "--pid", String(child.pid)], async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(code, 0, stderr);
  const row = stdout.split("\n").find((l) => l.trim().startsWith(String(child.pid)));
  assert.ok(row, stdout);
  // 3000 getpid calls plus the few the C runtime makes on exit.
  const n = Number(row.trim().split(/\s+/).pop());
  assert.ok(n >= 3000 && n < 3100, `counted ${n}`);
});

ktest("memcpy_stat prints the seed's histogram table; reads of 100 bytes land in 65-128", async () => {
  const child = await startSyscaller("read", "500", "100");
  const { code, stdout, stderr } = await runExample("memcpy_stat/memcpy_stat.js", ["--interval", "1.5", "--count", "1"], async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(code, 0, stderr);
  const lines = stdout.split("\n");
  assert.equal(lines[0], "        Size            Count");
  assert.match(lines[1]!, /^ {3}0 {20}\d+$/);
  const row = lines.find((l) => l.startsWith("  65 -  128"));
  assert.ok(row && Number(row.slice(24)) >= 500, `row: ${row}`);
  assert.match(stdout, /^ 961 - 1024\* {12}\d+$/m);
  assert.match(stdout, /\* Size > 1024 have been counted in this interval/);
  if (!/kprobe/.test(stderr.split("\n").find((l) => l.startsWith("attached")) ?? "")) {
    assert.match(stderr, /CONFIG_KPROBES; using tracepoint\/syscalls\/sys_enter_read instead/);
  }
});

ktest("ovfs (nimbpf seed) traces overlayfs reads per process, or says why it cannot", async () => {
  const kprobes = existsSync("/sys/bus/event_source/devices/kprobe/type") || process.env.TSBPF_EXPECT_KPROBES === "1";
  if (!kprobes) {
    const { code, stderr } = await runExample("ovfs/ovfs.js", ["--count", "1"]);
    assert.equal(code, 1);
    assert.match(stderr, /not attached: trace_ovl_read_iter: .*CONFIG_KPROBES/);
    assert.match(stderr, /nothing to trace on this kernel/);
    return;
  }
  // A private overlay mount with a 64 KiB file, read by dd once the driver is attached.
  // On a tmpfs of its own: overlayfs refuses an upper layer on another overlay (as / is in the VM).
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-ovfs-"));
  execFileSync("mount", ["-t", "tmpfs", "tsbpf-ovfs", dir]);
  for (const d of ["lower", "upper", "work", "merged"]) mkdirSync(join(dir, d));
  writeFileSync(join(dir, "lower", "data"), Buffer.alloc(65536, 7));
  execFileSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`, join(dir, "merged")]);
  try {
    // The child reads the file 16 times in 4 KiB chunks (64 KiB) once the driver is attached; its
    // start-up (exec, libraries) happened before, so only these reads are counted.
    const child = await startSyscaller("read", "16", "4096", join(dir, "merged", "data"));
    const { code, stdout, stderr } = await runExample("ovfs/ovfs.js", ["--interval", "2", "--count", "1"], async () => {
      assert.equal(await child.go(), 0);
    });
    assert.equal(code, 0, stderr);
    const row = stdout.split("\n").find((l) => l.trim().split(/\s+/)[0] === String(child.pid));
    assert.ok(row, `child (${child.pid}) in:\n${stdout}`);
    assert.equal(Number(row.trim().split(/\s+/)[1]), 65536);
  } finally {
    execFileSync("umount", [join(dir, "merged")]);
    execFileSync("umount", [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

ktest("readhist (the CO-RE seed, main demo) agrees with a known read pattern", async () => {
  const child = await startSyscaller("read", "30", "4096");
  const { code, stdout, stderr } = await runExample("readhist/readhist.js", ["--pid", String(child.pid), "--duration", "2", "--raw"], async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^Tracing vfs_read in 2 secs\.\n\.\n\.\n----\n/);
  assert.match(stdout, new RegExp(`^pid: ${child.pid}$`, "m"));
  // 30 reads of 4096 bytes land in slot 12 (4096..8191); the child's read of "go\n" (3 bytes) in slot 1.
  assert.match(stdout, /^\tvalue: hist\[12\] = 30$/m);
  assert.match(stdout, /^\tvalue: hist\[1\] = 1$/m);
  const others = [...stdout.matchAll(/^\tvalue: hist\[(\d+)\] = (\d+)$/gm)].filter(([, i, n]) => i !== "12" && i !== "1" && n !== "0");
  assert.deepEqual(others, [], "no other reads by the child");
  // The bar rendering: run again without --raw on the same pattern.
  const child2 = await startSyscaller("read", "8", "100");
  const bars = await runExample("readhist/readhist.js", ["--pid", String(child2.pid), "--duration", "1"], async () => {
    assert.equal(await child2.go(), 0);
  });
  assert.match(bars.stdout, /^ +64 -> 127 +: 8 +\|\*{40}\|$/m);
});
