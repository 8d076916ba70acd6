/**
 * kprobe.multi, kretprobe.multi and uprobe.multi: one program on many functions, each function's
 * hits counted under its BPF cookie. Where the kernel has the link type (kprobe.multi: CONFIG_FPROBE,
 * Linux 5.18+; uprobe.multi: Linux 6.6+) tsbpf must make one native link, and link info must show
 * it; where it lacks it, tsbpf falls back to one probe per function (a LinkGroup) or says
 * NotSupportedError. Which one is expected is decided by a feature probe; in the VM runner
 * (scripts/vm/run.sh) TSBPF_EXPECT_KPROBE_MULTI / TSBPF_EXPECT_UPROBE_MULTI say what the kernel is
 * known to have (6.12: both; 6.1: neither), so a probe or a mechanism that disagrees fails.
 *
 * The programs are assembled with tsbpf's DSL (no clang needed): they count, for the two syscaller
 * children, hits[bpf_get_attach_cookie()] in an array map.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, realpathSync } from "node:fs";
import { ktest, startSyscaller } from "../helpers/kernel.js";
import { BpfMap, LinkGroup, MapType, NotSupportedError, Program, ProgramType } from "../../src/index.js";
import { asm, linkBuiltProgram, R0, R1, R2, R6, R10 } from "../../src/asm/index.js";
import { AttachType } from "../../src/spec/kernel-enums.js";
import { attachKprobeMulti, resolveKprobeFunctions } from "../../src/link/kprobe-multi.js";
import { attachUprobeMulti, resolveUprobeFunctions } from "../../src/link/uprobe.js";
import { linkDetails } from "../../src/link/info.js";
import { probeAttachMechanisms, kernelLinkKinds } from "../../src/features/attach.js";
import { resolveBinaryPath } from "../../src/link/elf-symbols.js";

const SLOTS = 8;
const isRoot = process.getuid?.() === 0;
const hasKprobes = probeAttachMechanisms().kprobe!.supported;
const expectKprobes = process.env.TSBPF_EXPECT_KPROBES === "1";
const kprobeSkip = !isRoot ? "needs root" : hasKprobes || expectKprobes ? undefined : "this kernel has no kprobes (CONFIG_KPROBES is off); `npm run test:vm` runs these tests in VMs whose kernels have them";
if (kprobeSkip) console.log(`# kprobe.multi tests skipped: ${kprobeSkip}`);

/**
 * Whether the kernel has `what`: the probe's answer, checked against the VM runner's
 * TSBPF_EXPECT_<env> (1 or 0) when it is set, so that a probe that is wrong fails the test.
 */
function expected(env: string, probed: boolean, what: string): boolean {
  const v = process.env[`TSBPF_EXPECT_${env}`];
  if (v === "1" || v === "0") {
    const want = v === "1";
    assert.equal(probed, want, `${what}: the probe says ${probed ? "yes" : "no"}, but this kernel (${process.env.TSBPF_VM_SERIES ?? "?"}) is known to ${want ? "have" : "lack"} it (TSBPF_EXPECT_${env}=${v})`);
  }
  console.log(`# ${what}: ${probed ? "native link expected" : "fallback expected"}`);
  return probed;
}
const kprobeMultiNative = () => expected("KPROBE_MULTI", probeAttachMechanisms()["kprobe.multi"]!.supported, "kprobe.multi links");
const uprobeMultiNative = () => expected("UPROBE_MULTI", kernelLinkKinds().includes("uprobe_multi"), "uprobe.multi links");

function gated(skip: string | undefined, name: string, fn: () => Promise<void>): void {
  if (skip) test(name, { skip }, () => {});
  else ktest(name, fn);
}

/** A map of SLOTS u64 counters and a program that adds 1 to hits[cookie] for calls by tgid a or b. */
function counter(expectedAttachType: number, a: number, b: number): { prog: Program; hits: BpfMap; counts: () => bigint[]; [Symbol.dispose](): void } {
  const hits = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: SLOTS, name: "hits" });
  const built = asm()
    .mov64(R6, R1)                                   // ctx
    .call("get_current_pid_tgid").rsh64(R0, 32)      // tgid
    .jeq(R0, a, "mine").jeq(R0, b, "mine").ja("out")
    .label("mine")
    .mov64(R1, R6).call("get_attach_cookie")         // r0 = cookie
    .jge(R0, SLOTS, "out")
    .stxw(R10, -4, R0)
    .mov64(R2, R10).add64(R2, -4).ldMap(R1, "hits").call("map_lookup_elem")
    .jeq(R0, 0, "out")
    .mov64(R1, 1).atomicAdd64(R0, 0, R1)
    .label("out").mov64(R0, 0).exit()
    .build();
  let prog: Program;
  try {
    prog = Program.load({ name: "count_cookie", type: ProgramType.KPROBE, expectedAttachType, license: "GPL", instructions: linkBuiltProgram(built, { hits }) });
  } catch (e) {
    hits.close();
    throw e;
  }
  const u64 = (v: Uint8Array | undefined) => (v ? new DataView(v.buffer, v.byteOffset).getBigUint64(0, true) : -1n);
  return {
    prog, hits,
    counts: () => Array.from({ length: SLOTS }, (_, i) => u64(hits.lookup(i))),
    [Symbol.dispose]() {
      prog.close();
      hits.close();
    },
  };
}

/** Kernel addresses of `names` from /proc/kallsyms (text symbols). */
function kallsymsAddresses(names: string[]): Map<string, bigint> {
  const want = new Set(names);
  const out = new Map<string, bigint>();
  for (const line of readFileSync("/proc/kallsyms", "utf8").split("\n")) {
    const [addr, type, name] = line.split(/\s+/);
    if (name && want.has(name) && /^[tT]$/.test(type!) && !out.has(name)) out.set(name, BigInt(`0x${addr}`));
  }
  return out;
}

/** Checks a native kprobe.multi link's info: its kind, count, direction and which cookie is on which function. */
function assertKprobeMultiInfo(link: ReturnType<typeof attachKprobeMulti>, names: string[], cookies: bigint[], retprobe: boolean): void {
  assert.ok(!(link instanceof LinkGroup), `one link, not the per-function fallback: ${link.mechanism}`);
  assert.equal(link.mechanism, "bpf_link(kprobe_multi)");
  assert.equal(link.kind, retprobe ? "kretprobe.multi" : "kprobe.multi");
  const d = linkDetails(link);
  assert.equal(d.kind, "kprobe_multi");
  if (d.kind !== "kprobe_multi") return;
  assert.equal(d.count, names.length);
  assert.equal(d.retprobe, retprobe);
  const addrs = kallsymsAddresses(names);
  assert.equal(addrs.size, names.length, "every function is in /proc/kallsyms");
  // The kernel keeps the addresses sorted, each with its cookie: pair them back to the names.
  const byAddr = new Map(d.addresses.map((a, i) => [a, d.cookies[i]]));
  for (const [i, n] of names.entries()) {
    // On kernels built with IBT the link may record the address after the 4-byte endbr64.
    const a = addrs.get(n)!;
    const cookie = byAddr.get(a) ?? byAddr.get(a + 4n);
    assert.equal(cookie, cookies[i], `${n}: cookie ${cookies[i]} (link info: ${[...byAddr].map(([x, c]) => `0x${x.toString(16)}=${c}`).join(" ")}; kallsyms 0x${a.toString(16)})`);
  }
}

gated(kprobeSkip, "kprobe.multi on a list of functions with cookies: one kprobe_multi link where the kernel has it, each function's calls under its cookie", async () => {
  const native = kprobeMultiNative();
  const [np, npp] = [60, 25];
  const a = await startSyscaller("getpid", String(np));
  const b = await startSyscaller("getppid", String(npp));
  using c = counter(AttachType.TRACE_KPROBE_MULTI, a.pid, b.pid);
  // Not in sorted order: the kernel sorts the functions and must keep each cookie with its function.
  const names = ["__x64_sys_getppid", "__x64_sys_getpid"];
  const cookies = [2n, 1n];
  if (!native) {
    // The fallback (one kprobe per function) cannot give a kprobe.multi program its cookies.
    assert.throws(() => attachKprobeMulti(c.prog, names, { cookies }), (e: unknown) => e instanceof NotSupportedError && /cookies/.test(e.message) && /CONFIG_FPROBE/.test(e.message));
    using group = attachKprobeMulti(c.prog, names);
    assert.ok(group instanceof LinkGroup, group.mechanism);
    assert.match(group.mechanism, /^2 kprobe links \(one per function, kprobe\.multi unavailable\)/);
    assert.deepEqual(group.memberNames, names);
    assert.equal(await a.go(), 0);
    assert.equal(await b.go(), 0);
    assert.deepEqual(c.counts(), [BigInt(np + npp), 0n, 0n, 0n, 0n, 0n, 0n, 0n], "no cookies: every hit under 0");
    return;
  }
  {
    using link = attachKprobeMulti(c.prog, names, { cookies });
    assertKprobeMultiInfo(link, names, cookies, false);
    assert.equal(link.target, names.join(","));
    assert.equal(await a.go(), 0);
    assert.equal(await b.go(), 0);
    assert.deepEqual(c.counts(), [0n, BigInt(np), BigInt(npp), 0n, 0n, 0n, 0n, 0n]);
  }
  // Closed: nothing more is counted.
  const again = await startSyscaller("getpid", "10");
  assert.equal(await again.go(), 0);
  assert.deepEqual(c.counts(), [0n, BigInt(np), BigInt(npp), 0n, 0n, 0n, 0n, 0n]);
});

/**
 * What a child that calls getpid() np times and one that calls getppid() npp times leave on each
 * function: the syscall's x64 entry and its body (__do_sys_*: on 6.12 the same address as the
 * entry, so available_filter_functions lists only that name) see every call; ia32 entries and
 * getpgid none.
 */
const expectedCalls = (name: string, np: number, npp: number) => (/^__(x64|do|se)_sys_getpid$/.test(name) ? BigInt(np) : /^__(x64|do|se)_sys_getppid$/.test(name) ? BigInt(npp) : 0n);

gated(kprobeSkip, "kprobe.multi on a glob pattern (*sys_getp*id) with cookies: the sorted traceable matches, one link, calls counted per function", async () => {
  const native = kprobeMultiNative();
  const pattern = "*sys_getp*id";
  const names = resolveKprobeFunctions(pattern);
  assert.deepEqual(names, [...names].sort(), "sorted");
  assert.ok(names.length < SLOTS, `${names.length} matches fit the counters: ${names.join(" ")}`);
  assert.ok(names.includes("__x64_sys_getpgid"), `getpgid's entry matches: ${names.join(" ")}`);
  assert.ok(names.some((n) => expectedCalls(n, 1, 0)) && names.some((n) => expectedCalls(n, 0, 1)), `a getpid and a getppid function match: ${names.join(" ")}`);
  const [np, npp] = [40, 30];
  const a = await startSyscaller("getpid", String(np));
  const b = await startSyscaller("getppid", String(npp));
  using c = counter(AttachType.TRACE_KPROBE_MULTI, a.pid, b.pid);
  const want = names.map((n) => expectedCalls(n, np, npp));
  if (!native) {
    using group = attachKprobeMulti(c.prog, pattern);
    assert.ok(group instanceof LinkGroup, group.mechanism);
    assert.deepEqual(group.memberNames, names);
    assert.equal(await a.go(), 0);
    assert.equal(await b.go(), 0);
    assert.equal(c.counts()[0], want.reduce((x, y) => x + y, 0n), "no cookies: every hit under 0");
    return;
  }
  const cookies = names.map((_, i) => BigInt(i + 1));
  using link = attachKprobeMulti(c.prog, pattern, { cookies });
  assert.equal(link.target, pattern);
  assertKprobeMultiInfo(link, names, cookies, false);
  assert.equal(await a.go(), 0);
  assert.equal(await b.go(), 0);
  const counts = c.counts();
  assert.deepEqual(names.map((n, i) => `${n}=${counts[i + 1]}`), names.map((n, i) => `${n}=${want[i]}`));
  assert.equal(counts[0], 0n);
});

gated(kprobeSkip, "kretprobe.multi with cookies: one link with the return flag, each function's returns under its cookie", async () => {
  const native = kprobeMultiNative();
  const [np, npp] = [35, 15];
  const a = await startSyscaller("getpid", String(np));
  const b = await startSyscaller("getppid", String(npp));
  using c = counter(AttachType.TRACE_KPROBE_MULTI, a.pid, b.pid);
  const names = ["__x64_sys_getpid", "__x64_sys_getppid"];
  const cookies = [6n, 7n];
  if (!native) {
    using group = attachKprobeMulti(c.prog, names, { retprobe: true });
    assert.ok(group instanceof LinkGroup, group.mechanism);
    assert.equal(group.kind, "kretprobe.multi");
    assert.deepEqual((group as LinkGroup).links.map((l) => l.kind), ["kretprobe", "kretprobe"]);
    assert.equal(await a.go(), 0);
    assert.equal(await b.go(), 0);
    assert.equal(c.counts()[0], BigInt(np + npp));
    return;
  }
  using link = attachKprobeMulti(c.prog, names, { retprobe: true, cookies });
  assertKprobeMultiInfo(link, names, cookies, true);
  assert.equal(await a.go(), 0);
  assert.equal(await b.go(), 0);
  assert.deepEqual(c.counts(), [0n, 0n, 0n, 0n, 0n, 0n, BigInt(np), BigInt(npp)]);
});

// ------------------------------------------------------------------------------------------------
// uprobe.multi: libc's syscall() (the syscaller's loop) and exit() (once, at its end).

const uprobeSkip = !isRoot ? "needs root" : probeAttachMechanisms().uprobe!.supported ? undefined : "this kernel has no uprobes";

gated(uprobeSkip, "uprobe.multi on libc's syscall and exit with cookies and a pid: one uprobe_multi link where the kernel has it (6.6+), else NotSupportedError, and one uprobe per function for a plain uprobe program", async () => {
  const native = uprobeMultiNative();
  const libc = resolveBinaryPath("libc.so.6");
  const funcs = ["syscall", "exit"];
  const { names, offsets } = resolveUprobeFunctions(libc, funcs);
  assert.deepEqual(names, funcs);
  const [np, npp] = [45, 20];
  const a = await startSyscaller("getpid", String(np));
  const b = await startSyscaller("getppid", String(npp));
  const cookies = [1n, 2n];
  if (!native) {
    {
      using c = counter(AttachType.TRACE_UPROBE_MULTI, a.pid, b.pid);
      assert.throws(() => attachUprobeMulti(c.prog, libc, funcs, { cookies, pid: a.pid }), (e: unknown) => e instanceof NotSupportedError && /uprobe\.multi/.test(e.message) && /6\.6/.test(e.message));
    }
    // A plain uprobe program: one uprobe per function, with cookies through perf links.
    using c = counter(0, a.pid, b.pid);
    using group = attachUprobeMulti(c.prog, libc, funcs, { cookies, pid: a.pid });
    assert.ok(group instanceof LinkGroup, group.mechanism);
    assert.match(group.mechanism, /^2 uprobe links \(one per function\)/);
    assert.equal(await a.go(), 0);
    assert.equal(await b.go(), 0);
    assert.deepEqual(c.counts().slice(0, 3), [0n, BigInt(np), 1n], "only the pid's calls: syscall() np times, exit() once");
    return;
  }
  using c = counter(AttachType.TRACE_UPROBE_MULTI, a.pid, b.pid);
  using link = attachUprobeMulti(c.prog, libc, funcs, { cookies, pid: a.pid });
  assert.ok(!(link instanceof LinkGroup), link.mechanism);
  assert.equal(link.mechanism, "bpf_link(uprobe_multi)");
  const d = linkDetails(link);
  assert.equal(d.kind, "uprobe_multi");
  if (d.kind === "uprobe_multi") {
    assert.equal(d.path, realpathSync(libc));
    assert.equal(d.count, 2);
    assert.equal(d.pid, a.pid);
    assert.deepEqual(d.offsets, offsets);
    assert.deepEqual(d.cookies, cookies);
    assert.equal(d.retprobe, false);
  }
  assert.equal(await a.go(), 0);
  assert.equal(await b.go(), 0);
  assert.deepEqual(c.counts().slice(0, 3), [0n, BigInt(np), 1n], "only the pid's calls: syscall() np times, exit() once");
});
