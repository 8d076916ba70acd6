import assert from "node:assert/strict";
import { readFileSync, rmSync, existsSync } from "node:fs";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";
import {
  ArgumentError, BpfError, MapType, ProgramType, Program, Link, SyscallError, VerifierError, attachTracepoint,
  decodeUint, loadObject, loadObjectSync, openObject, loadCollection, possibleCpuCount,
} from "../../src/index.js";

const obj = (name: string) => repoPath("test", "bpf", `${name}.bpf.o`);
const u64 = (b: Uint8Array | undefined) => (b ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : undefined);
const SYS_getppid = 110;

ktest("legacy SEC(\"maps\") object: a tracepoint counts a child's getpid() calls exactly", async () => {
  // The child prints its pid (one getpid call) before the program is attached.
  const child = await startSyscaller("getpid", "250");
  using o = await loadObject(obj("legacy_maps"));
  assert.deepEqual(Object.keys(o.maps).sort(), ["getpid_calls", "getpid_total"]);
  const calls = o.maps.getpid_calls!;
  assert.equal(calls.type, MapType.HASH);
  assert.equal(calls.info().name, "getpid_calls");
  const { links, skipped } = o.attachAll();
  assert.equal(links.length, 1);
  assert.deepEqual(skipped, []);
  assert.equal(links[0]!.target, "syscalls/sys_enter_getpid");
  assert.equal(await child.go(), 0);
  assert.equal(u64(calls.lookup(child.pid)), 250n);
  assert.ok(u64(o.maps.getpid_total!.lookup(0))! >= 250n);
});

ktest("global data: constants set before load steer the program; .bss/.data read back after it ran", async () => {
  const child = await startSyscaller("getpid", "40");
  using o = await loadObject(obj("globals"), { constants: { target_tgid: child.pid, increment: 5, greeting: "hi from test" } });
  assert.deepEqual(Object.keys(o.maps).sort(), [".bss", ".data", ".data.custom", ".rodata", ".rodata.str1.1"]);
  assert.equal(o.variables.data_calls!.get(), 100n, ".data keeps its initial value until the program runs");
  assert.equal(o.variables.custom_calls!.get(), 7);
  assert.equal(o.variables.data_label!.getString(), "data");
  o.attachAll({ strict: true });
  assert.equal(await child.go(), 0);
  assert.equal(o.variables.hits!.get(), 200n);
  assert.equal(o.variables.calls!.get(), 40n);
  assert.equal(o.variables.data_calls!.get(), 140n);
  assert.equal(o.variables.custom_calls!.get(), 47);
  assert.equal(o.variables.copied!.getString(), "hi from test");
  assert.equal(o.variables.last_pid!.get(), child.pid);
  // cfg_copy mirrors the rodata struct: multiplier u32, port u16, enabled u8, pad, mask u64
  const cfg = o.variables.cfg_copy!.bytes();
  const dv = new DataView(cfg.buffer);
  assert.equal(dv.getUint32(0, true), 3);
  assert.equal(dv.getUint16(4, true), 8080);
  assert.equal(cfg[6], 1);
  assert.equal(dv.getBigUint64(8, true), 0xffff0000ffff0000n);
  // Writable globals are writable in place; constants are not.
  o.variables.hits!.set(0n);
  assert.equal(o.variables.hits!.get(), 0n);
  assert.throws(() => o.variables.target_tgid!.set(1), (e: unknown) => e instanceof BpfError && e.code === "E_READ_ONLY");
  assert.throws(() => o.maps[".rodata"]!.update(0, new Uint8Array(o.maps[".rodata"]!.valueSize)), (e: unknown) => e instanceof SyscallError && e.errno === 1);
  assert.equal(o.variables.target_tgid!.get(), child.pid);
});

ktest("unknown constants and programs are refused with the names that exist", async () => {
  await assert.rejects(loadObject(obj("globals"), { constants: { no_such_var: 1 } }), (e: unknown) => e instanceof ArgumentError && /target_tgid/.test(e.message));
  await assert.rejects(loadObject(obj("globals"), { constants: { target_tgid: 2 ** 40 } }), ArgumentError);
  await assert.rejects(loadObject(obj("globals"), { programs: ["nope"] }), (e: unknown) => e instanceof ArgumentError && /on_getpid/.test(e.message));
  await assert.rejects(loadObject(repoPath("test", "bpf", "missing.bpf.o")), (e: unknown) => e instanceof ArgumentError && /no such file/.test(e.message));
});

ktest("BTF-defined maps: every type is created with its definition, prog array and map-in-map initialised", async () => {
  const pinDir = `/sys/fs/bpf`;
  const pinned = `${pinDir}/tsbpf_pinned`;
  rmSync(pinned, { force: true });
  try {
    const child = await startSyscaller("getppid", "30");
    {
      using o = await loadObject(obj("btf_maps"), { constants: { target_tgid: child.pid } });
      const expect: Record<string, number> = {
        calls: MapType.HASH, counters: MapType.ARRAY, percpu_hash: MapType.PERCPU_HASH, lru_hash: MapType.LRU_HASH,
        lpm_trie: MapType.LPM_TRIE, stack: MapType.STACK, queue: MapType.QUEUE, bloom: MapType.BLOOM_FILTER,
        events: MapType.RINGBUF, perf_events: MapType.PERF_EVENT_ARRAY, jump_table: MapType.PROG_ARRAY,
        outer_array: MapType.ARRAY_OF_MAPS, outer_hash: MapType.HASH_OF_MAPS, task_calls: MapType.TASK_STORAGE,
      };
      for (const [name, type] of Object.entries(expect)) assert.equal(o.map(name).info().type, type, name);
      assert.equal(o.map("perf_events").maxEntries, possibleCpuCount(), "perf event arrays default to one slot per CPU");
      assert.equal(o.map("lpm_trie").flags & 1, 1);
      assert.equal(o.map("bloom").info().mapExtra, o.spec.maps.bloom!.mapExtra);
      assert.ok(existsSync(pinned), "LIBBPF_PIN_BY_NAME map is pinned under /sys/fs/bpf");
      assert.equal(decodeUint(o.map("jump_table").lookup(0)!), o.program("tail_target").info().id);
      assert.ok(o.map("calls").info().btfId > 0, "maps carry the object's BTF");
      o.attachAll();
      assert.equal(await child.go(), 0);
      assert.equal(u64(o.map("calls").lookup(child.pid)), 30n);
      assert.equal(u64(o.map("counters").lookup(0)), 30n);
      assert.equal(u64(o.map("counters").lookup(1)), 30n, "the tail call into tail_target ran every time");
      const perCpu = o.map("percpu_counters").lookupPerCpu(0)!.map((v) => u64(v)!);
      assert.equal(perCpu.reduce((a, b) => a + b, 0n), 30n);
      o.map("tsbpf_pinned").update(0, 1234n);
    }
    // The pinned map outlives the object and is reused by the next load.
    using again = await loadObject(obj("btf_maps"));
    assert.equal(u64(again.map("tsbpf_pinned").lookup(0)), 1234n);
  } finally {
    rmSync(pinned, { force: true });
  }
});

ktest("subprograms, a global function and a bpf_loop callback compute what the C says", async () => {
  const child = await startSyscaller("getpid", "3");
  using o = await loadObject(obj("subprogs"), { constants: { target_tgid: child.pid } });
  o.attachAll();
  assert.equal(await child.go(), 0);
  const r = o.map("results");
  assert.equal(u64(r.lookup(0)), 25n); // 3*3 + 4*4
  assert.equal(u64(r.lookup(1)), 67n); // 10*6 + 7
  assert.equal(u64(r.lookup(2)), 285n); // sum of i*i for i < 10
  assert.equal(u64(r.lookup(3)), 3n);
  // The syscall program runs through BPF_PROG_TEST_RUN with a context.
  const ctx = new Uint8Array(16);
  new DataView(ctx.buffer).setBigUint64(0, 5n, true);
  new DataView(ctx.buffer).setBigUint64(8, 12n, true);
  const run = o.program("run_args").testRun({ ctx });
  assert.equal(run.retval, 17);
  assert.equal(u64(r.lookup(4)), 169n);
  assert.equal(u64(r.lookup(5)), 62n);
  assert.equal(u64(r.lookup(6)), 30n); // 0+1+4+9+16
});

ktest("a verifier rejection names the C source line and keeps the whole log", async () => {
  const src = readFileSync(repoPath("test", "bpf", "verifier_reject.bpf.c"), "utf8").split("\n");
  const line = src.findIndex((l) => l.includes("REJECT-HERE")) + 1;
  await assert.rejects(loadObject(obj("verifier_reject")), (e: unknown) => {
    assert.ok(e instanceof VerifierError, String(e));
    assert.equal(e.program, "missing_null_check");
    assert.match(e.message, /invalid mem access 'map_value_or_null'/);
    assert.match(e.message, new RegExp(`verifier_reject\\.bpf\\.c:${line}:`));
    assert.equal(e.sourceLine?.startsWith(`verifier_reject.bpf.c:${line}:`), true);
    assert.match(e.log, /processed \d+ insns/);
    return true;
  });
});

ktest("BPF_PROG_TEST_RUN: XDP swaps MAC addresses and returns XDP_TX; socket filter returns the length", async () => {
  using o = await loadObject(obj("test_run"));
  const pkt = new Uint8Array(64);
  pkt.set([1, 2, 3, 4, 5, 6], 0);
  pkt.set([7, 8, 9, 10, 11, 12], 6);
  pkt.set([0x08, 0x00], 12);
  const r = o.program("xdp_swap_macs").testRun({ data: pkt });
  assert.equal(r.retval, 3 /* XDP_TX */);
  assert.deepEqual([...r.data.subarray(0, 12)], [7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6]);
  assert.equal(r.data.length, 64);
  const arp = pkt.slice();
  arp.set([0x08, 0x06], 12);
  assert.equal(o.program("xdp_swap_macs").testRun({ data: arp }).retval, 2 /* XDP_PASS */);
  // A socket filter sees the packet after the Ethernet header was pulled: 64 - 14 bytes.
  assert.equal(o.program("sock_len").testRun({ data: pkt }).retval, 50);
  const tc = o.program("tc_mark").testRun({ data: pkt });
  assert.equal(tc.retval, 0 /* TC_ACT_OK */);
  assert.deepEqual([...tc.data.subarray(6, 12)], [2, 0, 0, 0, 0, 1]);
  const many = o.program("xdp_swap_macs").testRun({ data: pkt, repeat: 1000 });
  assert.equal(many.retval, 3);
});

ktest("raw tracepoint: counts a child's getppid() calls by syscall number", async () => {
  const child = await startSyscaller("getppid", "77");
  using o = await loadObject(obj("raw_tp"), { constants: { target_tgid: child.pid } });
  const { links } = o.attachAll({ strict: true });
  assert.equal(links[0]!.kind, "raw_tracepoint");
  assert.equal(await child.go(), 0);
  assert.equal(u64(o.map("syscall_counts").lookup(SYS_getppid)), 77n);
});

ktest("programs: info, pin and reopen, lookup by id; links: info, pin", async () => {
  const spec = await openObject(obj("legacy_maps"));
  assert.equal(spec.programs.count_getpid!.type, ProgramType.TRACEPOINT);
  using o = loadCollection(spec);
  const p = o.program("count_getpid");
  const info = p.info();
  assert.equal(info.name, "count_getpid");
  assert.equal(info.type, ProgramType.TRACEPOINT);
  assert.equal(info.mapIds.length, 2);
  assert.match(info.tag, /^[0-9a-f]{16}$/);
  const progPin = `/sys/fs/bpf/tsbpf_test_prog_${process.pid}`;
  const linkPin = `/sys/fs/bpf/tsbpf_test_link_${process.pid}`;
  try {
    p.pin(progPin);
    using reopened = Program.openPinned(progPin);
    assert.equal(reopened.info().id, info.id);
    using byId = Program.fromId(info.id);
    assert.equal(byId.name, "count_getpid");
    using link = attachTracepoint(p, "syscalls", "sys_enter_getpid");
    assert.equal(link.info().progId, info.id);
    link.pin(linkPin);
    using l2 = Link.openPinned(linkPin);
    assert.equal(l2.info().id, link.info().id);
  } finally {
    rmSync(progPin, { force: true });
    rmSync(linkPin, { force: true });
  }
});

ktest("attaching to a tracepoint that does not exist says where to look", () => {
  using o = loadObjectSync(obj("legacy_maps"));
  assert.throws(() => attachTracepoint(o.program("count_getpid"), "syscalls", "sys_enter_nope"), (e: unknown) => e instanceof BpfError && e.code === "E_NO_TRACEPOINT" && /ls .*events\/syscalls/.test(e.message));
});

ktest("a failed load closes everything it had created", async () => {
  // verifier_reject creates its map before the program fails: ktest checks no descriptor leaks.
  await assert.rejects(loadObject(obj("verifier_reject")), VerifierError);
});
