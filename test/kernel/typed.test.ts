import assert from "node:assert/strict";
import { basename } from "node:path";
import { ktest, repoPath, startSyscaller, syscaller } from "../helpers/kernel.js";
import { ArgumentError, BpfError, loadCollection, loadObject, openObject, possibleCpuCount } from "../../src/index.js";
import { setVariable } from "../../src/collection/variables.js";

const obj = (name: string) => repoPath("test", "bpf", `${name}.bpf.o`);

/** What REC_INIT(n) in test/bpf/typed_values.h decodes to. */
function recInit(n: number) {
  return {
    tag: n & 0xff, big: 0x1122334455667788n + BigInt(n), in: { port: 8080, name: "tsbpf" },
    as_u32: 0xdeadbeef, bytes: new Uint8Array([0xef, 0xbe, 0xad, 0xde]), x: -5, y: 7,
    f: { a: n & 7, b: -(n % 16), wide: 0xabcdef0123n, col: "BLUE", on: true, c: 300, d: -4294967296n },
    arr: [n, n * 2, n * 3], color: "GREEN", label: "hello", small: [-1, -2, -3], names: ["ab", "cde"],
    pair: [{ port: 1, name: "one" }, { port: 2, name: "two" }],
  };
}

interface Key { tgid: number; cookie: number }
type Rec = ReturnType<typeof recInit>;

ktest("typed maps and globals: a tracepoint's struct (nested struct, arrays, bitfields, enum, char[]) decodes to what the C wrote", async () => {
  const child = await startSyscaller("getppid", "3");
  const spec = await openObject(obj("typed_values"));
  // Typed constants before load: a struct, an enum by name, a string for char[8].
  setVariable(spec, "cfg", { tgid: child.pid, cookie: 77, color: "BLUE", tag: "typed" });
  using o = loadCollection(spec);
  assert.deepEqual(o.rodata.cfg, { tgid: child.pid, cookie: 77, color: "BLUE", tag: "typed" });
  assert.equal(o.rodata.signed_const, -7);
  assert.equal(o.bss.counter, 0n);
  assert.deepEqual(o.data.rec_init, recInit(5), ".data holds the compiler's initialiser");
  assert.equal(o.data.ratio, 1.5);
  assert.equal(o.data.big_value, "BIG_HUGE");
  assert.equal(o.data.some_ptr, 0x1234n);
  o.attachAll({ strict: true });
  assert.equal(await child.go(), 0);

  const recs = o.maps.recs!.typed<Key, Rec>();
  assert.equal(recs.toString(), "TypedMap(recs, key struct key, value struct rec)");
  const got = recs.lookup({ tgid: child.pid, cookie: 77 });
  assert.deepEqual(got, recInit(3));
  assert.equal(recs.lookup({ tgid: child.pid, cookie: 78 }), undefined);
  assert.deepEqual([...recs.entries()], [[{ tgid: child.pid, cookie: 77 }, recInit(3)]]);
  assert.deepEqual([...recs.keys()], [{ tgid: child.pid, cookie: 77 }]);
  assert.deepEqual(recs.dump(), [[{ tgid: child.pid, cookie: 77 }, recInit(3)]]);

  // .bss read by name: the values the program stored, decoded by type.
  assert.equal(o.bss.counter, 3n);
  assert.deepEqual(o.bss.last, recInit(3));
  assert.equal(o.bss.last_color, "BLUE");
  assert.equal(o.bss.comm, basename(syscaller()).slice(0, 15), "bpf_get_current_comm: a char[16] read as a string");
  assert.deepEqual(Object.keys(o.bss).sort(), ["comm", "counter", "last", "last_color"]);
  // The whole section through the map's DATASEC type.
  const bss = o.maps[".bss"]!.typed().lookup(0);
  assert.equal(bss.counter, 3n);
  assert.deepEqual(bss.last, recInit(3));

  // Per-CPU: one decoded value per possible CPU; the CPU(s) the child ran on saw port = n.
  const pc = o.maps.per_cpu!.typed<number, Array<{ port: number; name: string }>>().lookup(0)!;
  assert.equal(pc.length, possibleCpuCount());
  assert.equal(Math.max(...pc.map((v) => v.port)), 3);
  assert.ok(pc.every((v) => (v.port === 0 && v.name === "") || v.name === "cpu"));

  // Writing: globals in place, maps through the codec; partial objects are zero-filled.
  o.bss.counter = 41n;
  assert.equal(o.bss.counter, 41n);
  assert.equal(o.variables.counter!.get(), 41n, "the raw view sees the typed write");
  o.bss.last = { tag: 9, f: { col: "RED", b: -16 }, label: "set" };
  assert.deepEqual(o.bss.last, { ...recInit(0), big: 0n, in: { port: 0, name: "" }, as_u32: 0, bytes: new Uint8Array(4), x: 0, y: 0,
    f: { a: 0, b: -16, wide: 0n, col: "RED", on: false, c: 0, d: 0n }, arr: [0, 0, 0], color: 0, label: "set", small: [0, 0, 0], names: ["", ""],
    pair: [{ port: 0, name: "" }, { port: 0, name: "" }], tag: 9 });
  recs.update({ tgid: 1, cookie: 2 }, { tag: 1, names: ["x"] });
  assert.equal(recs.lookup({ tgid: 1, cookie: 2 })!.names[0], "x");
  assert.equal(recs.has({ tgid: 1, cookie: 2 }), true);
  assert.equal(recs.delete({ tgid: 1, cookie: 2 }), true);
  assert.equal(recs.delete({ tgid: 1, cookie: 2 }), false);
  assert.throws(() => recs.update({ tgid: 1, cookie: 2 }, { in: { port: 70000 } }),
    (e: unknown) => e instanceof ArgumentError && e.message === "update map recs: value.in.port: 70000 is out of range for __u16 (0..65535)");
  assert.throws(() => recs.lookup({ tgid: 1, cokie: 2 } as unknown as Key), (e: unknown) => e instanceof ArgumentError && /^lookup map recs: key\.cokie: struct key has no field cokie/.test(e.message));
  assert.throws(() => { o.bss.last = { label: "much too long" }; }, (e: unknown) => e instanceof ArgumentError && /last\.label: the string is 13 bytes/.test(e.message));
  assert.equal(o.bss.last.label, "set", "a refused write leaves the variable as it was");

  // Names that do not exist, and constants after load.
  assert.throws(() => o.bss.countr, (e: unknown) => e instanceof ArgumentError && /section \.bss has no variable of that name \(it has: counter, last, last_color, comm\)/.test(e.message));
  assert.throws(() => { o.bss.countr = 1; }, ArgumentError);
  assert.throws(() => { o.rodata.cfg = { tgid: 1 }; }, (e: unknown) => e instanceof BpfError && e.code === "E_READ_ONLY");
  assert.equal(o.sections[".data"], o.data);
  assert.deepEqual(Object.keys(o.sections).sort(), [".bss", ".data", ".rodata"]);
  assert.equal(JSON.stringify(Object.keys(o.rodata)), `["cfg","signed_const"]`);
});

ktest("custom data sections are reachable by name; maps without BTF types refuse typed views", async () => {
  using g = await loadObject(obj("globals"));
  assert.equal(g.sections[".data.custom"]!.custom_calls, 7);
  g.sections[".data.custom"]!.custom_calls = 8;
  assert.equal(g.variables.custom_calls!.get(), 8);
  assert.deepEqual(g.rodata.cfg, { multiplier: 3, port: 8080, enabled: 1, pad: 0, mask: 0xffff0000ffff0000n });
  assert.equal(g.rodata.greeting, "hello, tsbpf");
  using l = await loadObject(obj("legacy_maps"));
  assert.throws(() => l.maps.getpid_calls!.typed(), (e: unknown) => e instanceof ArgumentError && /has no BTF key or value type .*use the raw byte methods/.test(e.message));
  // ...unless codecs are named explicitly (from another object's BTF here).
  const t = l.maps.getpid_calls!.typed({ btf: g.spec.btf!, key: "__u32", value: "__u64" });
  assert.equal(t.lookup(1), undefined);
});

ktest("the CO-RE seed readhist: hists decodes to { slots: number[15] }", async () => {
  const child = await startSyscaller("read", "10", "4096");
  using o = await loadObject(repoPath("examples", "readhist", "readhist.bpf.o"), { constants: { targ_pid: child.pid } });
  assert.equal(o.rodata.targ_pid, child.pid);
  const { links } = o.attachAll(); // the kretprobe cannot attach without CONFIG_KPROBES; the tracepoint does
  assert.ok(links.some((l) => l.target === "syscalls/sys_exit_read"), "the tracepoint program attached");
  assert.equal(await child.go(), 0);
  const hists = o.maps.hists!.typed<number, { slots: number[] }>();
  const h = hists.lookup(child.pid);
  assert.ok(h, "the child's histogram exists");
  assert.deepEqual(Object.keys(h), ["slots"]);
  assert.equal(h.slots.length, 15);
  assert.ok(h.slots.every((n) => Number.isInteger(n) && n >= 0));
  assert.equal(h.slots[12], 10, "ten reads of 4096 bytes land in slot log2(4096) = 12");
  assert.deepEqual(hists.dump().map(([pid]) => pid), [child.pid]);
});
