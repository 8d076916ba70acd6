// The memcpy_kprobe example (learn-bpf seed), run as a user would: node dist/examples/... with its
// trace_pipe lines checked against a child that reads a known number of bytes a known number of
// times from tracefs's README (each read is one copy_to_user() of that size).
import assert from "node:assert/strict";
import { tracefs } from "../../src/index.js";
import { ktest, startSyscallerOnSignal } from "../helpers/kernel.js";
import { runExample } from "../helpers/examples.js";

/** The seed's line: `memcpy_kprobe-24908 [005] d... 151374.866218: : memcpy size 2` (newer kernels name the event). */
const LINE = /^\s*(.+)-(\d+)\s+(?:\(\s*\d+\)\s+)?\[(\d{3})\]\s+(?:\S{4,5}\s+)?(\d+\.\d+): (?:bpf_trace_printk)?: (memcpy|usercopy|read) size (\d+)$/;

ktest("memcpy_kprobe prints the seed's trace lines; a child's copies of 123 bytes appear with its pid", async () => {
  const N = 20;
  const child = await startSyscallerOnSignal("read", String(N), "123", `${tracefs()}/README`);
  const { code, stdout, stderr } = await runExample("memcpy_kprobe/memcpy_kprobe.js", ["--duration", "3", "--pid", String(child.pid)], async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(code, 0, stderr);
  const attached = stderr.split("\n").find((l) => l.startsWith("attached")) ?? "";
  const lines = stdout.trim().split("\n").filter(Boolean);
  const parsed = lines.map((l) => LINE.exec(l));
  assert.ok(parsed.every((m) => m), `every line is a trace line:\n${stdout}`);
  assert.ok(parsed.every((m) => Number(m![2]) === child.pid), "only the child's lines (--pid)");
  assert.ok(parsed.every((m) => m![1]!.includes("syscaller")), stdout);
  if (process.env.TSBPF_EXPECT_KPROBES === "1") assert.match(attached, /^attached kprobe /, stderr);
  if (/^attached kprobe memcpy /.test(attached)) {
    // The seed's kprobe: memcpy sizes of whatever the child's system calls copied.
    assert.ok(parsed.length > 0 && parsed.every((m) => m![5] === "memcpy"), stdout);
    return;
  }
  const sizes = parsed.map((m) => Number(m![6]));
  if (/^attached kprobe /.test(attached)) {
    // The kernel refused memcpy: the driver says so and why, and probes the user copies instead.
    assert.match(stderr, /^note: attach kprobe memcpy: the kernel cannot probe memcpy .*; using kprobe\/__check_object_size instead$/m);
    assert.match(attached, /^attached kprobe __check_object_size via /);
    assert.ok(parsed.every((m) => m![5] === "usercopy"), stdout);
  } else {
    assert.match(stderr, /^note: .*CONFIG_KPROBES; using tracepoint\/syscalls\/sys_enter_read instead$/m);
    assert.match(attached, /^attached tracepoint syscalls\/sys_enter_read via /);
    assert.ok(parsed.every((m) => m![5] === "read"), stdout);
  }
  // After the signal the child opens the file and reads 123 bytes N times (no stdin read). The
  // kprobe also sees open(2) copy the file name (strncpy_from_user checks its whole buffer).
  assert.equal(sizes.filter((s) => s === 123).length, N, stdout);
  assert.equal(sizes.length, /^attached kprobe /.test(attached) ? N + 1 : N, stdout);
});

ktest("memcpy_kprobe --count stops after N lines", async () => {
  const child = await startSyscallerOnSignal("read", "50", "77", `${tracefs()}/README`);
  const { code, stdout, stderr } = await runExample("memcpy_kprobe/memcpy_kprobe.js", ["--count", "5", "--duration", "10", "--pid", String(child.pid)], async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim().split("\n").length, 5, stdout);
});
