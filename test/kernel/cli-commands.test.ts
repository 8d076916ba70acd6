// The tsbpf subcommands that talk to the kernel, run through the built bin (node bin/tsbpf.js) as a
// user would, with their output checked against ground truth: bpftool, the test's own maps and
// links, and children that make a known number of system calls.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ktest, repoPath, startSyscaller } from "../helpers/kernel.js";
import { BpfMap, MapType, codecFor, loadObject } from "../../src/index.js";

function tsbpf(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [repoPath("bin", "tsbpf.js"), ...args], { encoding: "utf8" });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Starts tsbpf in the background; once its stderr matches `ready`, runs `whileRunning`; resolves
 * when it exits.
 */
function tsbpfWhile(args: string[], ready: RegExp, whileRunning: () => Promise<void>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [repoPath("bin", "tsbpf.js"), ...args], { stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    let started = false;
    child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (!started && ready.test(stderr)) {
        started = true;
        whileRunning().catch((e) => { child.kill("SIGKILL"); reject(e); });
      }
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const bpftoolJson = (...args: string[]): any => JSON.parse(execFileSync("bpftool", [...args, "-j"], { encoding: "utf8" }));

ktest("prog loadall pins every program; prog show of the pin agrees with bpftool; without PINDIR it unloads", () => {
  const dir = `/sys/fs/bpf/tsbpf_test_loadall_${process.pid}`;
  rmSync(dir, { recursive: true, force: true });
  try {
    const r = tsbpf("prog", "loadall", repoPath("test", "bpf", "legacy_maps.bpf.o"), dir, "--json");
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { programs: Array<{ name: string; id: number; pinned: string; mapIds: number[]; verifiedInstructions: number }>; maps: Array<{ name: string; id: number }> };
    assert.deepEqual(out.programs.map((p) => p.name), ["count_getpid"]);
    const pin = `${dir}/count_getpid`;
    assert.equal(out.programs[0]!.pinned, pin);
    assert.ok(existsSync(pin));
    assert.ok(out.programs[0]!.verifiedInstructions > 0);

    const want = bpftoolJson("prog", "show", "pinned", pin) as { id: number; name: string; tag: string; map_ids: number[]; type: string; bytes_xlated: number; bytes_jited: number };
    const text = tsbpf("prog", "show", pin);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${want.id}: tracepoint  name count_getpid  tag ${want.tag}  gpl$`, "m"));
    assert.match(text.stdout, new RegExp(`xlated ${want.bytes_xlated}B  jited ${want.bytes_jited}B  map_ids ${want.map_ids.join(",")}$`, "m"));
    const json = JSON.parse(tsbpf("prog", "show", String(want.id), "--json").stdout) as { id: number; name: string; mapIds: number[]; tag: string };
    assert.deepEqual({ id: json.id, name: json.name, tag: json.tag, mapIds: json.mapIds }, { id: want.id, name: want.name, tag: want.tag, mapIds: want.map_ids });
    // The maps the program uses are the object's two maps.
    assert.deepEqual([...want.map_ids].sort(), out.maps.map((m) => m.id).sort());
    const list = JSON.parse(tsbpf("prog", "list", "--json").stdout) as Array<{ id: number; name: string }>;
    assert.ok(list.some((p) => p.id === want.id && p.name === "count_getpid"));

    // Pinning again over existing pins fails with what to do, and leaves the first pins alone.
    const again = tsbpf("prog", "loadall", repoPath("test", "bpf", "legacy_maps.bpf.o"), dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already pinned there; remove it/);
    assert.ok(existsSync(pin));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Without PINDIR: the verifier's report, then the programs are gone.
  const r = tsbpf("prog", "loadall", repoPath("test", "bpf", "legacy_maps.bpf.o"), "--json");
  assert.equal(r.code, 0, r.stderr);
  const { programs } = JSON.parse(r.stdout) as { programs: Array<{ id: number }> };
  const gone = tsbpf("prog", "show", String(programs[0]!.id));
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^tsbpf: .*program/m);
});

ktest("map update/lookup/delete/pin round-trip on a map the test created and pinned", () => {
  const path = `/sys/fs/bpf/tsbpf_test_cli_rw_${process.pid}`;
  const path2 = `${path}_again`;
  rmSync(path, { force: true });
  rmSync(path2, { force: true });
  try {
    using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 8, name: "t_cli_rw" });
    m.pin(path);
    const id = String(m.info().id);
    assert.equal(tsbpf("map", "update", path, "--key", "7", "--value", "0x1122334455667788").code, 0);
    assert.deepEqual(m.lookup(7), Uint8Array.from([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]));
    assert.equal(tsbpf("map", "update", id, "--key", "08 00 00 00", "--value", "-1").code, 0);
    assert.deepEqual(m.lookup(8), new Uint8Array(8).fill(0xff));
    const look = tsbpf("map", "lookup", id, "--key", "7");
    assert.equal(look.code, 0, look.stderr);
    assert.equal(look.stdout.trim(), "key: 07 00 00 00  value: 88 77 66 55 44 33 22 11");
    assert.deepEqual(JSON.parse(tsbpf("map", "lookup", path, "--key", "hex:08000000", "--json").stdout), { key: "08 00 00 00", value: "ff ff ff ff ff ff ff ff" });
    // --noexist refuses an existing key.
    const dup = tsbpf("map", "update", path, "--key", "7", "--value", "1", "--noexist");
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /EEXIST/);
    assert.equal(tsbpf("map", "delete", path, "--key", "7").code, 0);
    assert.equal(m.lookup(7), undefined);
    const missing = tsbpf("map", "lookup", path, "--key", "7");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no entry for key 07 00 00 00/);
    assert.equal(tsbpf("map", "delete", path, "--key", "7").code, 1);
    const bad = tsbpf("map", "update", path, "--key", "7", "--value", "1 2 3");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /3 bytes given, the map wants 8/);
    // map pin: a second pin of the same map.
    assert.equal(tsbpf("map", "pin", id, path2).code, 0);
    using again = BpfMap.openPinned(path2);
    assert.equal(again.info().id, m.info().id);
    const show = JSON.parse(tsbpf("map", "show", path2, "--json").stdout) as { id: number; name: string; type: string; keySize: number; valueSize: number };
    assert.deepEqual([show.id, show.name, show.type, show.keySize, show.valueSize], [Number(id), "t_cli_rw", "hash", 4, 8]);
    const dotted = tsbpf("map", "pin", id, "/sys/fs/bpf/tsbpf.dotted");
    assert.equal(dotted.code, 1);
    assert.match(dotted.stderr, /bpffs does not allow "\." in names/);
  } finally {
    rmSync(path, { force: true });
    rmSync(path2, { force: true });
  }
});

ktest("map dump of a map with BTF decodes its struct fields like bpftool; --hex gives the bytes", async () => {
  using obj = await loadObject(repoPath("test", "bpf", "typed_values.bpf.o"));
  const recs = obj.map("recs");
  const btf = obj.spec.btf!;
  const key = codecFor(btf, recs.btfKeyTypeId).encode({ tgid: 4242, cookie: 7 });
  const value = codecFor(btf, recs.btfValueTypeId).encode({ tag: 9, big: 0x1122334455667788n, in: { port: 8080, name: "tsbpf" }, arr: [1, 2, 3], color: "GREEN", label: "hello", pair: [{ port: 1, name: "one" }] });
  recs.update(key, value);
  const id = String(recs.info().id);
  const text = tsbpf("map", "dump", id);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^key: \{ tgid: 4242, cookie: 7 \}  value: \{ tag: 9, big: 1234605616436508552, in: \{ port: 8080, name: "tsbpf" \}, /m);
  assert.match(text.stdout, /arr: \[1, 2, 3\], color: "GREEN", label: "hello"/);
  assert.match(text.stdout, /^1 entries$/m);
  const [got] = JSON.parse(tsbpf("map", "dump", id, "--json").stdout) as Array<{ key: any; value: any }>;
  const [want] = bpftoolJson("map", "dump", "id", id) as Array<{ formatted: { key: any; value: any } }>;
  const w = want!.formatted;
  assert.deepEqual(got!.key, w.key);
  assert.deepEqual([got!.value.tag, got!.value.in, got!.value.arr, got!.value.color, got!.value.label, got!.value.pair], [w.value.tag, w.value.in, w.value.arr, w.value.color, w.value.label, w.value.pair]);
  assert.equal(got!.value.big, String(0x1122334455667788n));
  const raw = tsbpf("map", "dump", id, "--hex");
  assert.match(raw.stdout, /^key: 92 10 00 00 07 00 00 00  value: 09 00 00 00 00 00 00 00 88 77 66 55 44 33 22 11 /m);
  // Update through the CLI with JSON for the BTF types, read back in-process.
  const up = tsbpf("map", "update", id, "--key", '{"tgid": 1, "cookie": 2}', "--value", '{"tag": 5, "big": 18446744073709551615, "color": "BLUE"}');
  assert.equal(up.code, 0, up.stderr);
  const back = codecFor(btf, recs.btfValueTypeId).decode(recs.lookup(codecFor(btf, recs.btfKeyTypeId).encode({ tgid: 1, cookie: 2 }))!) as { tag: number; big: bigint; color: string };
  assert.deepEqual([back.tag, back.big, back.color], [5, 2n ** 64n - 1n, "BLUE"]);
  // .data: a data section decodes to its variables.
  const data = tsbpf("map", "dump", String(obj.map(".data").info().id));
  assert.match(data.stdout, /^key: 00 00 00 00  value: \{ rec_init: \{ tag: 5, big: 1234605616436508557, in: \{ port: 8080, name: "tsbpf" \}/m);
});

ktest("link list and link show report a link the test created, with its program and tracepoint", async () => {
  using obj = await loadObject(repoPath("test", "bpf", "legacy_maps.bpf.o"));
  const res = obj.attachAll({ strict: true });
  const link = res.links[0]!;
  const id = link.info().id;
  const progId = obj.program("count_getpid").info().id;
  const list = JSON.parse(tsbpf("link", "list", "--json").stdout) as Array<{ id: number; type: string; progId: number; summary: string }>;
  const mine = list.find((l) => l.id === id);
  assert.ok(mine, `link ${id} in ${JSON.stringify(list)}`);
  assert.equal(mine.progId, progId);
  assert.equal(mine.type, "perf_event");
  assert.equal(mine.summary, "tracepoint sys_enter_getpid");
  const text = tsbpf("link", "list");
  assert.match(text.stdout, new RegExp(`^${id} +perf_event +${progId} +tracepoint sys_enter_getpid$`, "m"));
  const show = tsbpf("link", "show", String(id));
  assert.equal(show.code, 0, show.stderr);
  assert.equal(show.stdout, `${id}: perf_event  prog ${progId}\n\ttracepoint sys_enter_getpid\n`);
  const none = tsbpf("link", "show", "999999999");
  assert.equal(none.code, 1);
});

ktest("run loads, attaches and prints the counters as a table: a child's N getpid() calls show as N", async () => {
  const N = 1500;
  const child = await startSyscaller("getpid", String(N));
  const r = await tsbpfWhile(["run", repoPath("test", "bpf", "legacy_maps.bpf.o"), "--duration", "2", "--interval", "0.5"], /Ctrl-C to stop/, async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
  assert.match(r.stderr, /^attached tracepoint syscalls\/sys_enter_getpid via /m);
  assert.match(r.stdout, /^getpid_calls:\n {2}KEY +VALUE$/m);
  const rows = [...r.stdout.matchAll(new RegExp(`^ {2}${child.pid} +(\\d+)$`, "gm"))];
  assert.ok(rows.length > 0, r.stdout);
  // The last table printed has the final count: N calls plus the few the C runtime makes.
  const n = Number(rows.at(-1)![1]);
  assert.ok(n >= N && n < N + 100, `counted ${n}:\n${r.stdout}`);
  // JSON mode: one object per line.
  const child2 = await startSyscaller("getpid", "10");
  const j = await tsbpfWhile(["run", repoPath("test", "bpf", "legacy_maps.bpf.o"), "--duration", "2", "--interval", "0.5", "--json", "--map", "getpid_calls"], /Ctrl-C to stop/, async () => {
    assert.equal(await child2.go(), 0);
  });
  assert.equal(j.code, 0, j.stderr);
  assert.ok(j.stdout.trim(), `no snapshot printed; stderr: ${j.stderr}`);
  const snaps = j.stdout.trim().split("\n").map((l) => JSON.parse(l) as { time: string; maps: Record<string, Array<{ key: string; value: string }>> });
  const last = snaps.at(-1)!.maps.getpid_calls!.find((e) => e.key === String(child2.pid));
  assert.ok(last && Number(last.value) >= 10, j.stdout);
  assert.deepEqual(Object.keys(snaps.at(-1)!.maps), ["getpid_calls"]);
});

ktest("run sets --rodata and draws a struct { u32 slots[N]; } map as log2 bars: 30 reads of 4096 bytes", async () => {
  const child = await startSyscaller("read", "30", "4096");
  const r = await tsbpfWhile(["run", repoPath("examples", "readhist", "readhist.bpf.o"), "--rodata", `targ_pid=${child.pid}`, "--duration", "2", "--map", "hists"], /Ctrl-C to stop/, async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(r.code, 0, r.stderr);
  // The last snapshot: only the child's pid (targ_pid), its 30 reads in slot 12, "go\n" in slot 1.
  const last = r.stdout.trim().split("\n\n").at(-1)!;
  assert.match(last, new RegExp(`^hists:\n {2}key = ${child.pid}\n {7}slots {15}: count {4}distribution$`, "m"));
  assert.match(last, /^ {2} {9}2 -> 3 {10}: 1 {8}\|\* +\|$/m);
  assert.match(last, /^ {2} {6}4096 -> 8191 {7}: 30 {7}\|\*{40}\|$/m);
  assert.equal(last.match(/key = /g)?.length, 1, last);
});

ktest("run labels the capped last log2 slot open-ended: reads of 1 MiB land in 16384 -> ...", async () => {
  // readhist caps the slot index at 14 (struct hist { u32 slots[15]; }): 2^20-byte reads count
  // in slot 14, which holds every read of 16384 bytes or more.
  const child = await startSyscaller("read", "7", String(1 << 20));
  const r = await tsbpfWhile(["run", repoPath("examples", "readhist", "readhist.bpf.o"), "--rodata", `targ_pid=${child.pid}`, "--duration", "2", "--map", "hists"], /Ctrl-C to stop/, async () => {
    assert.equal(await child.go(), 0);
  });
  assert.equal(r.code, 0, r.stderr);
  const last = r.stdout.trim().split("\n\n").at(-1)!;
  assert.match(last, /^ {2} {5}16384 -> \.\.\. {8}: 7 {8}\|\*{40}\|$/m, last);
  assert.match(last, /^ {2} {6}8192 -> 16383 {6}: 0 /m, last);
  assert.doesNotMatch(last, /32767/, last);
});

ktest("trace prints the bpf_printk lines of a loaded program, as text and as JSON", async () => {
  for (const json of [false, true]) {
    const marker = Math.floor(Math.random() * 1e12);
    const child = await startSyscaller("getpid", "3");
    using o = await loadObject(repoPath("test", "bpf", "events_printk.bpf.o"), { constants: { target_tgid: child.pid, marker } });
    o.attachAll({ strict: true });
    const args = ["trace", "--match", `tsbpf-marker ${marker} `, "--count", "3", "--duration", "10", ...(json ? ["--json"] : [])];
    const r = await tsbpfWhile(args, /Tracing .*trace_pipe/, async () => {
      assert.equal(await child.go(), 0);
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 3, r.stdout);
    if (json) {
      const parsed = lines.map((l) => JSON.parse(l) as { pid: number; message: string; cpu: number; timestamp: number });
      assert.deepEqual(parsed.map((l) => l.message), [0, 1, 2].map((i) => `tsbpf-marker ${marker} call ${i}`));
      assert.ok(parsed.every((l) => l.pid === child.pid && l.timestamp > 0));
    } else {
      lines.forEach((l, i) => assert.match(l, new RegExp(`-${child.pid} +.*\\[\\d+\\].* \\d+\\.\\d+: .*tsbpf-marker ${marker} call ${i}$`)));
    }
  }
});

ktest("feature --json says hash maps and tracepoint programs are supported; the table says the same", () => {
  const r = tsbpf("feature", "--json");
  assert.equal(r.code, 0, r.stderr);
  const f = JSON.parse(r.stdout) as { mapTypes: Record<string, { supported: boolean }>; programTypes: Record<string, { supported: boolean }>; helpers: Record<string, Record<string, { supported: boolean }>> };
  assert.equal(f.mapTypes.hash!.supported, true);
  assert.equal(f.programTypes.tracepoint!.supported, true);
  assert.equal(f.helpers.tracepoint!.map_lookup_elem!.supported, true);
  assert.equal(f.helpers.socket_filter!.probe_read_str?.supported, false, "probe_read_str is for tracing programs");
  const text = tsbpf("feature");
  assert.match(text.stdout, /^hash +yes/m);
  assert.match(text.stdout, /^map_lookup_elem +yes/m);
});

/** Whether /proc/kallsyms has a global text symbol `name` (the kernel was built with the code behind it). */
function kernelHas(kallsyms: string, name: string): boolean {
  return new RegExp(`^[0-9a-f]+ T ${name}$`, "m").test(kallsyms);
}

ktest("feature: program types that need an expected attach type and attach mechanisms agree with bpftool, kallsyms and real loads", () => {
  const r = tsbpf("feature", "--json");
  assert.equal(r.code, 0, r.stderr);
  type Probe = { supported: boolean; detail: string };
  const f = JSON.parse(r.stdout) as { programTypes: Record<string, Probe>; attach: Record<string, Probe>; linkKinds: string[] };
  // Program types: bpftool's probes (struct_ops needs a kernel struct type, which tsbpf does not guess).
  const want = bpftoolJson("feature", "probe", "kernel").program_types as Record<string, boolean>;
  for (const [key, have] of Object.entries(want)) {
    const type = key.replace(/^have_(.*)_prog_type$/, "$1");
    if (type === "struct_ops") continue;
    assert.equal(f.programTypes[type]?.supported, have, `program type ${type}: bpftool says ${have}, tsbpf ${JSON.stringify(f.programTypes[type])}`);
  }
  for (const type of ["cgroup_sock_addr", "cgroup_sockopt", "sk_lookup"]) assert.ok(`have_${type}_prog_type` in want, `bpftool probes ${type}`);
  // netfilter (newer than this bpftool): an object with a netfilter program passes the verifier here.
  const nf = tsbpf("prog", "loadall", repoPath("test", "bpf", "net_netfilter.bpf.o"), "--json");
  assert.equal(nf.code, 0, nf.stderr);
  assert.equal((JSON.parse(nf.stdout) as { programs: Array<{ type: string }> }).programs[0]!.type, "netfilter");
  assert.equal(f.programTypes.netfilter!.supported, true, f.programTypes.netfilter!.detail);

  // Attach mechanisms: what the kernel was built with, from its symbols, and its tracing files.
  const kallsyms = readFileSync("/proc/kallsyms", "utf8");
  const kprobes = kernelHas(kallsyms, "register_kprobe");
  assert.equal(kprobes, existsSync("/sys/bus/event_source/devices/kprobe") || existsSync("/sys/kernel/tracing/kprobe_events"), "kallsyms and sysfs agree on kprobes");
  assert.equal(f.attach.kprobe!.supported, kprobes, f.attach.kprobe!.detail);
  assert.equal(f.attach.uprobe!.supported, kernelHas(kallsyms, "uprobe_register"), f.attach.uprobe!.detail);
  assert.equal(f.attach["kprobe.multi"]!.supported, kernelHas(kallsyms, "register_fprobe_ips"), f.attach["kprobe.multi"]!.detail);
  assert.equal(f.attach.tcx!.supported, kernelHas(kallsyms, "tcx_prog_query"), f.attach.tcx!.detail);
  assert.equal(f.attach.netkit!.supported, kernelHas(kallsyms, "netkit_prog_query"), f.attach.netkit!.detail);
  // Trampolines: as bpftool's tracing program probe, and when refused, with the kernel's errno
  // (the one a real fentry object gets).
  assert.equal(f.attach.fentry!.supported, want.have_tracing_prog_type, f.attach.fentry!.detail);
  if (!f.attach.fentry!.supported) {
    const fentry = tsbpf("prog", "loadall", repoPath("test", "bpf", "attach_trampoline.bpf.o"));
    assert.equal(fentry.code, 1);
    const errno = /\((E[A-Z]+)\)/.exec(fentry.stderr)?.[1];
    assert.ok(errno && f.attach.fentry!.detail.startsWith(`${errno}:`), `${f.attach.fentry!.detail} vs ${fentry.stderr}`);
  }
  // bpf_link kinds: the enum in the kernel's BTF, as bpftool lists it.
  const raw = execFileSync("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"], { encoding: "utf8", maxBuffer: 1 << 30 });
  const body = /^\[\d+\] ENUM 'bpf_link_type'[^\n]*\n((?:\t[^\n]*\n)*)/m.exec(raw)![1]!;
  const kinds = [...body.matchAll(/'BPF_LINK_TYPE_(\w+)'/g)].map((m) => m[1]!.toLowerCase()).filter((k) => k !== "unspec");
  assert.deepEqual(f.linkKinds, kinds);

  // The text says the same.
  const text = tsbpf("feature");
  assert.equal(text.code, 0, text.stderr);
  const section = (title: string) => text.stdout.split("\n\n").find((b) => b.startsWith(`${title}:\n`)) ?? "";
  for (const type of ["sk_lookup", "netfilter", "cgroup_sock_addr", "cgroup_sockopt"]) assert.match(section("program types"), new RegExp(`^${type} +yes$`, "m"));
  assert.match(section("attach mechanisms"), new RegExp(`^kprobe +${kprobes ? "yes" : "no"} +\\S`, "m"));
  assert.match(section("attach mechanisms"), new RegExp(`^fentry +${want.have_tracing_prog_type ? "yes" : "no"} +\\S`, "m"));
  assert.match(text.stdout, new RegExp(`^bpf_link kinds \\(enum bpf_link_type in the kernel's BTF\\): ${kinds.join(", ")}$`, "m"));
});

ktest("prog loadall with a PINDIR off bpffs exits 1 with one line that says to mount bpffs or use /sys/fs/bpf", () => {
  const base = mkdtempSync(join(tmpdir(), "tsbpf-pindir-"));
  try {
    const pinDir = join(base, "pins");
    const r = tsbpf("prog", "loadall", repoPath("test", "bpf", "legacy_maps.bpf.o"), pinDir);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `tsbpf: prog loadall: pin directory at ${pinDir}: not on a bpf file system; mount one there (mount -t bpf bpf ${pinDir}) or use a path under /sys/fs/bpf\n`);
    assert.ok(!existsSync(pinDir), "nothing created");
    const maps = tsbpf("prog", "loadall", repoPath("test", "bpf", "legacy_maps.bpf.o"), "--pinmaps", base);
    assert.equal(maps.code, 1);
    assert.equal(maps.stderr, `tsbpf: prog loadall: --pinmaps directory at ${base}: not on a bpf file system; mount one there (mount -t bpf bpf ${base}) or use a path under /sys/fs/bpf\n`);
    assert.deepEqual(readdirSync(base), []);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

ktest("missing objects and ids exit 1 with a message that says what is wrong", () => {
  for (const args of [
    ["prog", "loadall", "/nonexistent.bpf.o"],
    ["run", "/nonexistent.bpf.o"],
  ]) {
    const r = tsbpf(...args);
    assert.equal(r.code, 1, args.join(" "));
    assert.match(r.stderr, /^tsbpf: .*nonexistent\.bpf\.o: no such file$/m);
  }
  const noMap = tsbpf("map", "dump", "4000000000");
  assert.equal(noMap.code, 1);
  assert.equal(noMap.stderr, "tsbpf: open map 4000000000: there is no map with that id; tsbpf map list shows them\n");
  const noLink = tsbpf("link", "show", "4000000000");
  assert.equal(noLink.code, 1);
  assert.match(noLink.stderr, /there is no link with that id; tsbpf link list shows them/);
  // A program the verifier rejects: the decisive line and the C source line; --log adds the log.
  const rejected = tsbpf("prog", "loadall", repoPath("test", "bpf", "verifier_reject.bpf.o"));
  assert.equal(rejected.code, 1);
  assert.match(rejected.stderr, /^tsbpf: load program missing_null_check: the verifier rejected it \(EACCES\): .*invalid mem access.*REJECT-HERE.*Pass --log for the full verifier log\n$/);
  const withLog = tsbpf("prog", "loadall", repoPath("test", "bpf", "verifier_reject.bpf.o"), "--log");
  assert.match(withLog.stderr, /^processed \d+ insns/m);
  const noPin = tsbpf("prog", "show", "/sys/fs/bpf/tsbpf_no_such_pin");
  assert.equal(noPin.code, 1);
  assert.match(noPin.stderr, /nothing is pinned there/);
});
