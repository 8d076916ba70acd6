// The memcpy_kprobe example (learn-bpf seed), run as a user would: node dist/examples/... with its
// trace_pipe lines checked against a child that reads a known number of bytes a known number of
// times.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";

function runDriver(args: string[], whileRunning?: () => Promise<void>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [repoPath("dist", "examples", "memcpy_kprobe", "memcpy_kprobe.js"), ...args], { stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    let started = false;
    child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (!started && /^attached /m.test(stderr)) {
        started = true;
        whileRunning?.().catch((e) => { child.kill("SIGKILL"); reject(e); });
      }
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The seed's line: `memcpy_kprobe-24908 [005] d... 151374.866218: : memcpy size 2` (newer kernels name the event). */
const LINE = /^\s*(.+)-(\d+)\s+(?:\(\s*\d+\)\s+)?\[(\d{3})\]\s+(?:\S{4,5}\s+)?(\d+\.\d+): (?:bpf_trace_printk)?: (memcpy|read) size (\d+)$/;

ktest("memcpy_kprobe prints the seed's trace lines; a child's reads of 123 bytes appear with its pid", async () => {
  const N = 20;
  const child = await startSyscaller("read", String(N), "123");
  const { code, stdout, stderr } = await runDriver(["--duration", "3", "--pid", String(child.pid)], async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(code, 0, stderr);
  const attached = stderr.split("\n").find((l) => l.startsWith("attached")) ?? "";
  const lines = stdout.trim().split("\n").filter(Boolean);
  const parsed = lines.map((l) => LINE.exec(l));
  assert.ok(parsed.every((m) => m), `every line is a trace line:\n${stdout}`);
  assert.ok(parsed.every((m) => Number(m![2]) === child.pid), "only the child's lines (--pid)");
  if (/kprobe/.test(attached)) {
    // With kprobes: memcpy sizes of whatever the child's system calls copied.
    assert.ok(parsed.some((m) => m![5] === "memcpy"), stdout);
    return;
  }
  assert.match(stderr, /CONFIG_KPROBES; using tracepoint\/syscalls\/sys_enter_read instead/);
  assert.match(attached, /^attached tracepoint syscalls\/sys_enter_read via /);
  // The child reads "go\n" from its stdin (one read of stdio's buffer size), then 123 bytes N times.
  const sizes = parsed.map((m) => Number(m![6]));
  assert.equal(sizes.filter((s) => s === 123).length, N, stdout);
  assert.ok(parsed.every((m) => m![1]!.trim() === "syscaller" || m![1]!.includes("syscaller")), stdout);
});

ktest("memcpy_kprobe --count stops after N lines", async () => {
  const child = await startSyscaller("read", "50", "77");
  const { code, stdout, stderr } = await runDriver(["--count", "5", "--duration", "10", "--pid", String(child.pid)], async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim().split("\n").length, 5, stdout);
});
