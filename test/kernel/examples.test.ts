// The example drivers, run as a user would (node dist/examples/...), with their output asserted.
import assert from "node:assert/strict";
import test from "node:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BpfMap, MapType, tracefs } from "../../src/index.js";
import { ktest, repoPath, startSyscaller, startSyscallerOnSignal } from "../helpers/kernel.js";
import { runExample, runExampleSync } from "../helpers/examples.js";

const expectKprobes = process.env.TSBPF_EXPECT_KPROBES === "1";
const attachedLine = (stderr: string) => stderr.split("\n").find((l) => l.startsWith("attached")) ?? "";

ktest("syscount counts a child's system calls and prints it in the table", async () => {
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

const TABLE_HEAD = "        Size            Count";

ktest("memcpy_stat prints the seed's table every 2 s by default; copies of 100 bytes land in 65-128", async () => {
  // 50 reads of 100 bytes of tracefs's README: each is a read(2) of 100 and a user copy of 100
  // (the file is longer, so none is short).
  const readme = `${tracefs()}/README`;
  assert.ok(readFileSync(readme).length > 50 * 100, `${readme} is shorter than 5000 bytes`);
  const child = await startSyscallerOnSignal("read", "50", "100", readme);
  const { code, stdout, stderr, lines } = await runExample("memcpy_stat/memcpy_stat.js", ["--count", "2"], async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(code, 0, stderr);
  const heads = lines.filter((l) => l.text === TABLE_HEAD);
  assert.equal(heads.length, 2, stdout);
  const period = heads[1]!.at - heads[0]!.at;
  assert.ok(period > 1700 && period < 2600, `tables ${period} ms apart, not about 2000`);
  const table = stdout.slice(stdout.lastIndexOf(TABLE_HEAD)).split("\n");
  assert.match(table[1]!, /^ {3}0 {20}\d+$/);
  assert.match(table.join("\n"), /^ 961 - 1024\* {12}\d+$/m);
  assert.equal(table[18], "* Size > 1024 have been counted in this interval");
  const attached = attachedLine(stderr);
  if (expectKprobes) assert.match(attached, /^attached kprobe /, stderr);
  if (/^attached kprobe memcpy /.test(attached)) return; // the seed's memcpy: sizes of the kernel's own copies
  if (/^attached kprobe /.test(attached)) {
    assert.match(stderr, /^note: attach kprobe memcpy: the kernel cannot probe memcpy .*; using kprobe\/__check_object_size instead$/m);
    assert.match(attached, /^attached kprobe __check_object_size via /);
  } else {
    assert.match(stderr, /^note: .*CONFIG_KPROBES; using tracepoint\/syscalls\/sys_enter_read instead$/m);
  }
  const row = table.find((l) => l.startsWith("  65 -  128"));
  assert.ok(row && Number(row.slice(24)) >= 50, `row: ${row}`);
});

test("example drivers: bad arguments print one line with the fix and exit 2, without a stack trace", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["readhist/readhist.js", ["--pid", "abc"], /^readhist: --pid takes a process id \(a whole number\), e\.g\. --pid 1234, not "abc"$/],
    ["readhist/readhist.js", ["--bogus"], /^readhist: unknown option --bogus; usage: readhist \[--pid PID\] \[--duration S\] \[--top N\] \[--raw\]$/],
    ["readhist/readhist.js", ["--duration", "abc"], /^readhist: --duration takes a number of seconds greater than 0, e\.g\. --duration 2, not "abc"$/],
    ["readhist/readhist.js", ["--top"], /^readhist: --top needs a value: --top N; usage: readhist /],
    ["memcpy_stat/memcpy_stat.js", ["--interval", "x"], /^memcpy_stat: --interval takes a number of seconds greater than 0, e\.g\. --interval 2, not "x"$/],
    ["memcpy_kprobe/memcpy_kprobe.js", ["--count", "-3"], /^memcpy_kprobe: --count needs a value: --count N; usage: memcpy_kprobe /],
    ["ovfs/ovfs.js", ["--interval", "0"], /^ovfs: --interval takes a number of seconds greater than 0/],
    ["syscount/syscount.js", ["extra"], /^syscount: unexpected argument extra; usage: syscount \[--duration S\] \[--pid PID\] \[--top N\]$/],
  ];
  for (const [driver, args, want] of cases) {
    const r = runExampleSync(driver, args);
    const what = `${driver} ${args.join(" ")}: ${r.stderr}`;
    assert.equal(r.code, 2, what);
    assert.equal(r.stdout, "", what);
    assert.equal(r.stderr.split("\n").filter(Boolean).length, 1, what);
    assert.match(r.stderr.trim(), want);
  }
  const help = runExampleSync("readhist/readhist.js", ["--help"]);
  assert.equal(help.code, 0);
  assert.equal(help.stdout, "usage: readhist [--pid PID] [--duration S] [--top N] [--raw]\n");
});

/** Two pinned maps as ovfs pins them (u32 pid -> u64 bytes), under a fresh bpffs directory. */
function pinnedByteCounts(dir: string, read: Record<number, bigint>, write: Record<number, bigint>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, values] of [["ovfs_read_bytes", read], ["ovfs_write_bytes", write]] as const) {
    using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16, name: name.slice(0, 15) });
    for (const [pid, n] of Object.entries(values)) m.update(Number(pid), n);
    m.pin(join(dir, name));
  }
}

/** ovfs's table rows as [pid, read bytes, write bytes]. */
const ovfsRows = (stdout: string) =>
  stdout.split("\n").filter((l) => /^ *\d+ +\d+ +\d+$/.test(l)).map((l) => l.trim().split(/\s+/).map(Number));

ktest("ovfs --pinned reads the maps of an earlier --pin run through openPinnedMap, loading nothing", async () => {
  const dir = `/sys/fs/bpf/tsbpf-ovfs-test-${process.pid}`;
  try {
    pinnedByteCounts(dir, { 4242: 65536n, 17: 5n }, { 4242: 7n });
    const r = await runExample("ovfs/ovfs.js", ["--pinned", dir, "--interval", "0.1", "--count", "1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `reading the maps pinned under ${dir}\n`);
    assert.deepEqual(ovfsRows(r.stdout), [[17, 5, 0], [4242, 65536, 7]]);
    const none = runExampleSync("ovfs/ovfs.js", ["--pinned", `${dir}-missing`, "--count", "1"]);
    assert.equal(none.code, 1);
    assert.equal(none.stderr, `ovfs: nothing is pinned at ${dir}-missing/ovfs_read_bytes; run ovfs --pin ${dir}-missing first\n`);
    const both = runExampleSync("ovfs/ovfs.js", ["--pinned", dir, "--pin", dir]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^ovfs: --pin starts tracing and --pinned reads an earlier run's maps; give one of them\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

ktest("ovfs (nimbpf seed) traces overlayfs reads per process and pins its maps, or says why it cannot", async () => {
  const pins = `/sys/fs/bpf/tsbpf-ovfs-run-${process.pid}`;
  const kprobes = existsSync("/sys/bus/event_source/devices/kprobe/type") || expectKprobes;
  if (!kprobes) {
    const { code, stderr } = await runExample("ovfs/ovfs.js", ["--count", "1", "--pin", pins]);
    assert.equal(code, 1);
    assert.match(stderr, /not attached: trace_ovl_read_iter: .*CONFIG_KPROBES/);
    assert.match(stderr, /nothing to trace on this kernel/);
    assert.equal(existsSync(pins), false, "nothing pinned when nothing was traced");
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
    const { code, stdout, stderr } = await runExample("ovfs/ovfs.js", ["--interval", "2", "--count", "1", "--pin", pins], async () => {
      assert.equal(await child.go(), 0);
    });
    assert.equal(code, 0, stderr);
    assert.match(stderr, new RegExp(`^pinned ovfs_read_bytes and ovfs_write_bytes under ${pins}; read them later with --pinned ${pins}$`, "m"));
    const row = ovfsRows(stdout).find((r) => r[0] === child.pid);
    assert.deepEqual(row?.slice(0, 2), [child.pid, 65536], `child (${child.pid}) in:\n${stdout}`);
    // The pins outlive the run; a second run reads the same totals from them.
    const again = await runExample("ovfs/ovfs.js", ["--pinned", pins, "--interval", "0.1", "--count", "1"]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(ovfsRows(again.stdout).find((r) => r[0] === child.pid), row);
  } finally {
    rmSync(pins, { recursive: true, force: true });
    execFileSync("umount", [join(dir, "merged")]);
    execFileSync("umount", [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Asserts that every histogram's header has its ':' in the column of its rows' ':'. */
function assertBarsAligned(stdout: string): void {
  const lines = stdout.split("\n");
  const heads = lines.flatMap((l, i) => (/^ +bytes +: count +distribution$/.test(l) ? [i] : []));
  assert.ok(heads.length > 0, `a histogram in:\n${stdout}`);
  for (const h of heads) {
    const colon = lines[h]!.indexOf(":");
    assert.equal(lines[h]!.indexOf("count"), colon + 2);
    for (let i = h + 1; i < lines.length && / -> /.test(lines[i]!); i++) {
      assert.equal(lines[i]!.indexOf(":"), colon, `header and row:\n${lines[h]}\n${lines[i]}`);
      assert.equal(lines[i]!.indexOf("|"), lines[h]!.indexOf("distribution"), `bars under "distribution":\n${lines[h]}\n${lines[i]}`);
    }
  }
}

/** Asserts that readhist attached the seed's kretprobe where kprobes are expected, else said why not. */
function assertReadhistAttach(stderr: string): void {
  const attached = attachedLine(stderr);
  if (expectKprobes || /^attached kretprobe/.test(attached)) {
    assert.match(attached, /^attached kretprobe vfs_read via /, stderr);
  } else {
    assert.match(stderr, /^note: .*CONFIG_KPROBES; using tp\/syscalls\/sys_exit_read instead$/m);
    assert.match(attached, /^attached tracepoint syscalls\/sys_exit_read via /);
  }
}

ktest("readhist (the CO-RE seed) agrees with a known read pattern", async () => {
  // The child is released by a signal once the probe is attached, so no read of its own is in
  // flight when a kretprobe is armed (it would return unseen): it reads exactly what is asked.
  const child = await startSyscallerOnSignal("read", "30", "4096");
  const { code, stdout, stderr } = await runExample("readhist/readhist.js", ["--pid", String(child.pid), "--duration", "2", "--raw"], async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(code, 0, stderr);
  assertReadhistAttach(stderr);
  assert.match(stdout, /^Tracing vfs_read in 2 secs\.\n\.\n\.\n----\n/);
  assert.match(stdout, new RegExp(`^pid: ${child.pid}$`, "m"));
  // 30 reads of 4096 bytes land in slot 12 (4096..8191), and there are no others.
  const slots = [...stdout.matchAll(/^\tvalue: hist\[(\d+)\] = (\d+)$/gm)].map(([, , n]) => Number(n));
  assert.deepEqual(slots, Array.from({ length: 15 }, (_, i) => (i === 12 ? 30 : 0)), stdout);
  // The bar rendering: run again without --raw on another pattern.
  const child2 = await startSyscallerOnSignal("read", "8", "100");
  const bars = await runExample("readhist/readhist.js", ["--pid", String(child2.pid), "--duration", "1"], async () => {
    assert.equal(await child2.go(), 0);
  });
  assert.equal(bars.code, 0, bars.stderr);
  assert.match(bars.stdout, /^ +64 -> 127 +: 8 +\|\*{40}\|$/m);
  assertBarsAligned(bars.stdout);
});

ktest("readhist with no arguments (npm run demo, the README's main demo) traces every process for 3 s and prints bars", async () => {
  // The demo script is the build and then the driver with no arguments; the README runs it.
  const demo = JSON.parse(readFileSync(repoPath("package.json"), "utf8")).scripts.demo as string;
  assert.match(demo, /(^|&& )node dist\/examples\/readhist\/readhist\.js$/);
  assert.match(readFileSync(repoPath("README.md"), "utf8"), /^sudo npm run demo +# readhist: .* for 3 s, as bars$/m);
  const child = await startSyscallerOnSignal("read", "200", "4096");
  const started = Date.now();
  const { code, stdout, stderr, lines } = await runExample("readhist/readhist.js", [], async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(code, 0, stderr);
  assertReadhistAttach(stderr);
  assert.match(stdout, /^Tracing vfs_read in 3 secs\.\n\.\n\.\n\.\n----\n/);
  const end = lines.find((l) => l.text === "----")!;
  assert.ok(end.at - started >= 3000, `traced for ${end.at - started} ms`);
  // Every process that read is listed (the top 5), each with its bars.
  const pids = [...stdout.matchAll(/^pid: (\d+)$/gm)];
  assert.ok(pids.length >= 1 && pids.length <= 5, stdout);
  assert.equal(stdout.match(/^ +bytes +: count +distribution$/gm)?.length, pids.length, stdout);
  assertBarsAligned(stdout);
});
