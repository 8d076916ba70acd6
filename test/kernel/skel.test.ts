/**
 * TypeScript skeletons against the kernel: the generated readhist skeleton (the CO-RE seed)
 * loaded with a typed targ_pid, its tracepoint attached, a known read pattern counted; the open
 * → edit → load path; strict and non-strict attach; and the skel_events fixture (ring buffer
 * records decoded by the exported event type, struct keys, per-CPU values, custom sections).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { ktest, startSyscaller, syscaller } from "../helpers/kernel.js";
import { BpfError, possibleCpuCount } from "../../src/index.js";
import { RingBuffer } from "../../src/ringbuf/index.js";
import { loadReadhist, openReadhist } from "../fixtures/skel/readhist.skel.js";
import { loadSkelEvents, type Event } from "../fixtures/skel/skel_events.skel.js";

/** Whether this kernel can attach kprobes (the readhist kretprobe). */
const kprobes = existsSync("/sys/kernel/tracing/kprobe_events") || existsSync("/sys/kernel/debug/tracing/kprobe_events");

ktest("skeleton: readhist through its generated loader counts a known read pattern (20 reads of 4096 bytes -> slot 12)", async () => {
  const child = await startSyscaller("read", "20", "4096");
  using skel = await loadReadhist({ rodata: { targ_pid: child.pid }, programs: ["sys_exit_read"] });
  assert.equal(skel.rodata.targ_pid, child.pid, "the typed constant reached .rodata");
  assert.deepEqual(Object.keys(skel.programs), ["sys_exit_read"], "only the requested program was loaded");
  const links = skel.attach();
  assert.ok(links.sys_exit_read, "the tracepoint program is attached");
  assert.equal(skel.links, links);
  assert.equal(await child.go(), 0);
  const h = skel.maps.hists.lookup(child.pid);
  assert.equal(h?.slots[12], 20, `slot 12 counts the reads: ${h?.slots.join(",")}`);
  assert.equal(skel.maps.hists.lookup(child.pid)?.slots.length, 15);
  assert.deepEqual([...skel.maps.hists.keys()], [child.pid], "only the child is recorded (targ_pid)");
  assert.equal(skel.maps.hists.raw.name, "hists");
  assert.throws(() => { (skel.rodata as { targ_pid: number }).targ_pid = 1; }, (e: unknown) => e instanceof BpfError && e.code === "E_READ_ONLY");
  assert.deepEqual(skel.bss.initial_hist, { slots: new Array(15).fill(0) });
  skel.close();
  skel.close(); // idempotent
});

ktest("skeleton: open, edit the spec (rodata, max_entries), load, attach", async () => {
  const child = await startSyscaller("read", "5", "100");
  const open = openReadhist();
  open.rodata.targ_pid = child.pid;
  open.maps.hists.maxEntries = 16;
  using skel = await open.load({ programs: ["sys_exit_read"] });
  await assert.rejects(open.load(), (e: unknown) => e instanceof BpfError && e.code === "E_LOADED");
  assert.equal(skel.rodata.targ_pid, child.pid);
  assert.equal(skel.maps.hists.raw.info().maxEntries, 16);
  skel.attach();
  assert.equal(await child.go(), 0);
  assert.equal(skel.maps.hists.lookup(child.pid)?.slots[6], 5, "5 reads of 100 bytes land in slot log2(100) = 6");
});

ktest("skeleton: attach is strict by default (and unwinds), non-strict records what it skipped", async () => {
  using skel = await loadReadhist({ rodata: { targ_pid: 1 } });
  assert.deepEqual(Object.keys(skel.programs).sort(), ["sys_exit_read", "vfs_read"]);
  if (kprobes) {
    const links = skel.attach();
    assert.ok(links.vfs_read && links.sys_exit_read);
    return;
  }
  // No kprobes here: the kretprobe cannot attach.
  assert.throws(() => skel.attach({ programs: ["sys_exit_read", "vfs_read"] }), BpfError);
  assert.deepEqual(Object.keys(skel.links), [], "the tracepoint link made before the failure was closed");
  const links = skel.attach({ strict: false });
  assert.deepEqual(Object.keys(links), ["sys_exit_read"]);
  assert.deepEqual(skel.skipped.map((s) => s.program), ["vfs_read"]);
  assert.match(skel.skipped[0]!.reason, /kprobe/i);
  assert.deepEqual(Object.keys(skel.attach({ strict: false })), ["sys_exit_read"], "attached programs are not attached twice");
  assert.throws(() => skel.attach({ programs: ["nope" as "vfs_read"] }), /no loaded program of that name/);
});

ktest("skeleton: skel_events: ring buffer records decoded by the exported event type, struct keys, per-CPU, custom sections", async () => {
  const child = await startSyscaller("getppid", "3");
  using skel = await loadSkelEvents({ rodata: { cfg: { tgid: child.pid, color: "BLUE" } }, data: { data_start: 1000n }, sections: { ".data.stats": { hits: 10n } } });
  assert.deepEqual(skel.rodata.cfg, { tgid: child.pid, color: "BLUE" });
  assert.equal(skel.sections[".data.stats"].hits, 10n);
  using rb = new RingBuffer<Event>(skel.maps.events, { decoder: skel.decoders.event });
  skel.attach();
  assert.equal(await child.go(), 0);
  const events: Event[] = [];
  for await (const e of rb) {
    events.push(e);
    if (events.length === 3) break;
  }
  const comm = basename(syscaller()).slice(0, 15);
  assert.deepEqual(events, [0, 1, 2].map((seq) => ({ tgid: child.pid, seq, comm })));
  assert.equal(skel.bss.calls, 3n);
  assert.equal(skel.sections[".data.stats"].hits, 13n);
  assert.deepEqual(skel.bss.last_map, { n: 3n });
  assert.deepEqual(skel.maps.by_key.lookup({ tgid: child.pid, seq: 2 }), { color: "BLUE", comm, origin: { x: -1, y: 2 }, stamp: 1002n });
  const perCpu = skel.maps.per_cpu.lookup(0)!;
  assert.equal(perCpu.length, possibleCpuCount());
  assert.equal(perCpu.reduce((a, b) => a + b, 0n), 3n);
  skel.bss.calls = 0n;
  assert.equal(skel.bss.calls, 0n);
});
