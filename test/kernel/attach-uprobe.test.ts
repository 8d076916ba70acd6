/**
 * uprobes, uretprobes, uprobe.multi and USDT probes on a test binary built from
 * test/helpers/uprobe_target.c (and on libc), on the real kernel: exact hit counts, arguments,
 * return values, cookies, the pid filter, semaphores, link info, and the errors for missing
 * binaries, symbols and probes.
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { ktest, repoPath } from "../helpers/kernel.js";
import { startTarget, uprobeTarget } from "../helpers/uprobe-target.js";
import { ArgumentError, BpfError, loadObject, openObject, loadCollection, tracefs } from "../../src/index.js";
import { attachUprobe, attachUprobeMulti, resolveUprobeTarget, resolveUprobeFunctions } from "../../src/link/uprobe.js";
import { attachUsdt, listUsdtProbes, UsdtLink, USDT_SPEC_SIZE } from "../../src/link/usdt.js";
import { linkDetails } from "../../src/link/info.js";
import { openBinary, symbolFileOffset } from "../../src/link/elf-symbols.js";
import { kernelHasSymbol } from "../../src/link/kallsyms.js";
import { PerfType, perfEventOpen } from "../../src/sys/perf.js";

const object = repoPath("test", "bpf", "attach_uprobe.bpf.o");

ktest("uprobe on a function of the test binary counts N calls and sees the first argument", async () => {
  const n = 200;
  const child = await startTarget(n);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_add"] });
  using link = attachUprobe(o.program("on_add"), uprobeTarget(), "uprobe_target_add");
  assert.equal(link.kind, "uprobe");
  assert.equal(link.target, `${uprobeTarget()}:uprobe_target_add`);
  assert.match(link.mechanism, /uprobe PMU|uprobe_events/);
  const d = linkDetails(link);
  assert.equal(d.kind, "perf_event");
  if (d.kind === "perf_event" && d.perf.type === "uprobe") {
    assert.equal(d.perf.file, uprobeTarget());
    assert.equal(BigInt(d.perf.offset), symbolFileOffset(openBinary(uprobeTarget()), "uprobe_target_add"));
  } else assert.fail(`expected uprobe perf_event info, got ${JSON.stringify(d, (_k, v) => (typeof v === "bigint" ? String(v) : v))}`);
  const r = await child.go();
  assert.equal(r.code, 0);
  assert.equal(o.variables.add_calls!.get(), BigInt(n));
  assert.equal(o.variables.add_arg_sum!.get(), BigInt((n * (n - 1)) / 2));
});

ktest("uretprobe sees every return value (a + 1000)", async () => {
  const n = 150;
  const child = await startTarget(n);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_add_ret"] });
  using link = attachUprobe(o.program("on_add_ret"), uprobeTarget(), "uprobe_target_add", { retprobe: true });
  assert.equal(link.kind, "uretprobe");
  const d = linkDetails(link);
  if (d.kind === "perf_event") assert.equal(d.perf.type, "uretprobe");
  assert.equal((await child.go()).code, 0);
  assert.equal(o.variables.ret_calls!.get(), BigInt(n));
  assert.equal(o.variables.ret_sum!.get(), BigInt((n * (n - 1)) / 2 + 1000 * n));
});

ktest("uprobe on libc's getpid, resolved from libc.so.6's dynamic symbols, counts the child's calls", async () => {
  const n = 120;
  const child = await startTarget(n);
  const t = resolveUprobeTarget("libc.so.6", "getpid");
  assert.match(t.path, /libc\.so\.6$/);
  assert.ok(t.offset > 0n);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_getpid"] });
  using link = attachUprobe(o.program("on_getpid"), "libc.so.6", "getpid", { pid: child.pid });
  assert.equal(link.target, `${t.path}:getpid (pid ${child.pid})`);
  assert.equal((await child.go()).code, 0);
  assert.equal(o.variables.getpid_calls!.get(), BigInt(n));
});

ktest("the pid filter: a uprobe for one process does not fire in another", async () => {
  const a = await startTarget(50);
  const b = await startTarget(50);
  // The program counts only b; the probe is for a only: nothing may be counted.
  using o = await loadObject(object, { constants: { target_tgid: b.pid }, programs: ["on_add"] });
  using link = attachUprobe(o.program("on_add"), uprobeTarget(), "uprobe_target_add", { pid: a.pid });
  assert.equal((await a.go()).code, 0);
  assert.equal((await b.go()).code, 0);
  assert.equal(o.variables.add_calls!.get(), 0n);
  void link;
});

ktest("auto-attach from SEC(\"uprobe/<path>:<func>\") and SEC(\"uretprobe/...\") sections", async () => {
  const n = 30;
  const child = await startTarget(n);
  const spec = await openObject(object);
  spec.programs.on_add!.attachTo = `${uprobeTarget()}:uprobe_target_add`;
  spec.programs.on_add!.autoAttach = "uprobe";
  spec.programs.on_add_ret!.attachTo = `${uprobeTarget()}:uprobe_target_add`;
  spec.programs.on_add_ret!.autoAttach = "uretprobe";
  using o = loadCollection(spec, { constants: { target_tgid: child.pid }, programs: ["on_add", "on_add_ret"] });
  const { links, skipped } = o.attachAll({ strict: true });
  assert.deepEqual(skipped, []);
  assert.deepEqual(links.map((l) => l.kind).sort(), ["uprobe", "uretprobe"]);
  assert.equal((await child.go()).code, 0);
  assert.equal(o.variables.add_calls!.get(), BigInt(n));
  assert.equal(o.variables.ret_calls!.get(), BigInt(n));
});

ktest("uprobe.multi: one link for a glob of functions, with per-function cookies", async () => {
  const n = 80;
  const child = await startTarget(n);
  const fns = resolveUprobeFunctions(uprobeTarget(), "uprobe_target_*");
  assert.deepEqual(fns.names, ["uprobe_target_add"]);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_multi"] });
  let link;
  try {
    link = attachUprobeMulti(o.program("on_multi"), uprobeTarget(), "uprobe_target_*", { cookies: [7n] });
  } catch (e) {
    // Linux 6.6+ has uprobe.multi links (bpf_uprobe_multi_link_attach): only older kernels may refuse.
    if ((e as BpfError).code === "E_NOT_SUPPORTED" && kernelHasSymbol("bpf_uprobe_multi_link_attach") !== true && process.env.TSBPF_EXPECT_UPROBE_MULTI !== "1") {
      console.log(`# uprobe.multi not available: ${(e as Error).message}`);
      return;
    }
    throw e;
  }
  using l = link;
  assert.equal(l.kind, "uprobe.multi");
  assert.equal(l.mechanism, "bpf_link(uprobe_multi)");
  const d = linkDetails(l);
  assert.equal(d.kind, "uprobe_multi");
  if (d.kind === "uprobe_multi") {
    assert.equal(d.path, uprobeTarget());
    assert.equal(d.count, 1);
    assert.deepEqual(d.offsets, fns.offsets);
    assert.deepEqual(d.cookies, [7n]);
    assert.equal(d.retprobe, false);
  }
  assert.equal((await child.go()).code, 0);
  assert.equal(o.variables.multi_calls!.get(), BigInt(n));
  assert.equal(o.variables.multi_cookie_sum!.get(), BigInt(7 * n));
});

ktest("USDT notes are discovered: provider, name, file offsets, semaphores, parsed arguments", async () => {
  const probes = listUsdtProbes(uprobeTarget());
  assert.deepEqual(probes.map((p) => `${p.provider}:${p.name}`).sort(), ["tsbpf:guarded", "tsbpf:tick"]);
  const tick = probes.find((p) => p.name === "tick")!;
  assert.ok(tick.offset > 0n);
  assert.ok(tick.semaphoreAddress > 0n && tick.semaphoreOffset > 0n, "tick has a semaphore (the file defines _SDT_HAS_SEMAPHORES)");
  assert.equal(tick.args?.length, 2);
  for (const a of tick.args!) {
    assert.equal(a.size, 8);
    assert.ok(a.register, `argument ${a.text} is in a register or memory`);
  }
});

ktest("USDT tsbpf:tick hit N times; the program reads both arguments through __bpf_usdt_specs (libbpf's layout) and the USDT cookie", async () => {
  const n = 100;
  const child = await startTarget(n);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_tick"] });
  using link = attachUsdt(o.program("on_tick"), uprobeTarget(), "tsbpf", "tick", { cookie: 99n });
  assert.ok(link instanceof UsdtLink);
  assert.equal(link.kind, "usdt");
  assert.equal(link.probes.length, 1);
  assert.equal(link.specIds.length, 1);
  assert.match(link.mechanism, /__bpf_usdt_specs/);
  const spec = o.map("__bpf_usdt_specs").lookup(link.specIds[0]!)!;
  assert.equal(spec.length, USDT_SPEC_SIZE);
  assert.equal(new DataView(spec.buffer, spec.byteOffset).getInt16(200, true), 2, "arg_cnt");
  // The uprobe sits at the probe's file offset with the semaphore as its reference counter.
  assert.equal(link.links.length, 1);
  const d = linkDetails(link.links[0]!);
  if (d.kind === "perf_event" && d.perf.type === "uprobe") {
    assert.equal(BigInt(d.perf.offset), link.probes[0]!.offset);
    assert.equal(d.perf.refCtrOffset, link.probes[0]!.semaphoreOffset);
    assert.equal(d.perf.cookie, BigInt(link.specIds[0]!), "the BPF cookie is the spec id");
  } else assert.fail("expected a uprobe perf_event link");
  assert.equal((await child.go()).code, 0);
  assert.equal(o.variables.tick_calls!.get(), BigInt(n));
  assert.equal(o.variables.tick_errors!.get(), 0n);
  assert.equal(o.variables.tick_arg0_sum!.get(), BigInt((n * (n - 1)) / 2));
  assert.equal(o.variables.tick_arg1_sum!.get(), BigInt(n * (n - 1)));
  assert.equal(o.variables.tick_cookie!.get(), 99n);
  link.close();
  // The spec id is released with the link: a new attach reuses it.
  using again = attachUsdt(o.program("on_tick"), uprobeTarget(), "tsbpf", "tick");
  assert.deepEqual(again.specIds, link.specIds);
});

ktest("USDT semaphore: the kernel increments it while attached, so a guarded probe fires N times; the BPF cookie is the caller's", async () => {
  const n = 60;
  const child = await startTarget(n);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_guarded"] });
  using link = attachUsdt(o.program("on_guarded"), uprobeTarget(), "tsbpf", "guarded", { cookie: 5n });
  assert.deepEqual(link.specIds, [], "on_guarded uses no spec map: the cookie goes to the uprobe");
  const r = await child.go();
  assert.equal(r.code, 0);
  assert.match(r.stdout, new RegExp(`guarded ${n}\\n`), "the child saw its semaphore enabled for every iteration");
  assert.equal(o.variables.guarded_calls!.get(), BigInt(n));
  assert.equal(o.variables.guarded_cookie!.get(), 5n);
});

ktest("without a tracer the guarded USDT probe stays off (semaphore 0)", async () => {
  const child = await startTarget(10);
  const r = await child.go();
  assert.equal(r.code, 0);
  assert.match(r.stdout, /guarded 0\n/);
});

ktest("errors: a missing symbol names the binary; a missing binary, library or USDT probe is named", async () => {
  using o = await loadObject(object, { programs: ["on_add", "on_tick"] });
  assert.throws(() => attachUprobe(o.program("on_add"), uprobeTarget(), "no_such_function_tsbpf"), (e: unknown) => {
    assert.ok(e instanceof BpfError);
    assert.equal(e.code, "E_NO_SYMBOL");
    assert.ok(e.message.includes(uprobeTarget()), e.message);
    assert.match(e.message, /no function no_such_function_tsbpf/);
    return true;
  });
  assert.throws(() => attachUprobe(o.program("on_add"), "/nonexistent/tsbpf-binary", "main"), (e: unknown) => e instanceof BpfError && e.code === "E_NO_BINARY" && /\/nonexistent\/tsbpf-binary: no such file/.test(e.message));
  assert.throws(() => attachUprobe(o.program("on_add"), "libtsbpf-nothing.so.1", "f"), (e: unknown) => e instanceof BpfError && e.code === "E_NO_BINARY" && /LD_LIBRARY_PATH/.test(e.message));
  assert.throws(() => attachUsdt(o.program("on_tick"), uprobeTarget(), "tsbpf", "nope"), (e: unknown) => e instanceof BpfError && e.code === "E_NO_SYMBOL" && /it has tsbpf:tick, tsbpf:guarded|it has tsbpf:guarded, tsbpf:tick/.test(e.message));
  assert.throws(() => attachUsdt(o.program("on_tick"), "libc.so.6", "tsbpf", "tick"), (e: unknown) => e instanceof BpfError && e.code === "E_NO_SYMBOL");
});

ktest("mechanism tracefs: uprobe and uretprobe through uprobe_events fire N times, and close() removes both events", async () => {
  const n = 40;
  const child = await startTarget(n);
  const events = `${tracefs()}/uprobe_events`;
  const defined = () => readFileSync(events, "utf8").split("\n").filter(Boolean).map((l) => /^[pr]\d*:(\S+)/.exec(l)?.[1] ?? l);
  using o = await loadObject(object, { constants: { target_tgid: child.pid }, programs: ["on_add", "on_add_ret"] });
  const entry = attachUprobe(o.program("on_add"), uprobeTarget(), "uprobe_target_add", { mechanism: "tracefs" });
  const ret = attachUprobe(o.program("on_add_ret"), uprobeTarget(), "uprobe_target_add", { mechanism: "tracefs", retprobe: true });
  const names: string[] = [];
  try {
    for (const l of [entry, ret]) {
      const m = /^tracefs uprobe_events \((uprobes\/tsbpf_\w+)\) \+ (bpf_link\(perf_event\)|perf_event ioctl)$/.exec(l.mechanism);
      assert.ok(m, l.mechanism);
      names.push(m[1]!);
    }
    assert.deepEqual(names.filter((e) => defined().includes(e)), names, "both events are in uprobe_events while attached");
    const line = readFileSync(events, "utf8").split("\n").find((l) => l.includes(names[0]!))!;
    assert.ok(line.includes(`${uprobeTarget()}:0x${symbolFileOffset(openBinary(uprobeTarget()), "uprobe_target_add").toString(16).padStart(16, "0")}`), line);
    assert.equal((await child.go()).code, 0);
    assert.equal(o.variables.add_calls!.get(), BigInt(n));
    assert.equal(o.variables.add_arg_sum!.get(), BigInt((n * (n - 1)) / 2));
    assert.equal(o.variables.ret_calls!.get(), BigInt(n));
  } finally {
    entry.close();
    ret.close();
  }
  assert.deepEqual(names.filter((e) => defined().includes(e)), [], "close() removed the events from uprobe_events");
  assert.equal(existsSync(`${tracefs()}/events/${names[0]}`), false);
});

ktest("mechanism pmu forces the uprobe PMU, and an unknown mechanism is an ArgumentError", async () => {
  using o = await loadObject(object, { programs: ["on_add"] });
  {
    using l = attachUprobe(o.program("on_add"), uprobeTarget(), "uprobe_target_add", { mechanism: "pmu" });
    assert.match(l.mechanism, /^uprobe PMU \+ /);
  }
  assert.throws(() => attachUprobe(o.program("on_add"), uprobeTarget(), "uprobe_target_add", { mechanism: "ioctl" as "pmu" }), (e: unknown) => e instanceof ArgumentError && /auto, pmu or tracefs/.test(e.message));
});

ktest("mechanism tracefs: when the event cannot be removed (another perf event uses it), close() reports it with the command to run", async () => {
  using o = await loadObject(object, { programs: ["on_add"] });
  const link = attachUprobe(o.program("on_add"), uprobeTarget(), "uprobe_target_add", { mechanism: "tracefs" });
  const event = /\((uprobes\/\w+)\)/.exec(link.mechanism)![1]!;
  const events = `${tracefs()}/uprobe_events`;
  const id = Number(readFileSync(`${tracefs()}/events/${event}/id`, "utf8").trim());
  // Someone else's perf event on the same probe keeps it busy.
  const other = perfEventOpen({ type: PerfType.TRACEPOINT, config: BigInt(id), samplePeriod: 1n }, -1, 0, "another user of the probe");
  try {
    assert.throws(() => link.close(), (e: unknown) => {
      assert.ok(e instanceof BpfError, String(e));
      assert.equal(e.code, "E_PROBE_EVENT");
      assert.ok(e.message.includes(`echo '-:${event}' >> ${events}`), e.message);
      assert.match(e.message, /EBUSY/);
      return true;
    });
    assert.ok(link.closed, "the link's own descriptors are closed all the same");
    assert.ok(readFileSync(events, "utf8").includes(event), "the event is still defined");
  } finally {
    other.close();
  }
  appendFileSync(events, `-:${event}\n`); // what the message says to do
  assert.ok(!readFileSync(events, "utf8").includes(event));
});
