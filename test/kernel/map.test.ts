import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { ktest, repoPath } from "../helpers/kernel.js";
import { ArgumentError, BpfError, BpfMap, MapType, SyscallError, possibleCpuCount, decodeUint } from "../../src/index.js";

const u64 = (b: Uint8Array | undefined) => (b ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : undefined);

ktest("hash map: update, lookup, delete, absent keys, update modes", () => {
  using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16, name: "t_hash" });
  assert.equal(m.lookup(1), undefined);
  m.update(1, 10n);
  m.update(2, 20n, "noexist");
  assert.equal(u64(m.lookup(1)), 10n);
  assert.throws(() => m.update(2, 21n, "noexist"), (e: unknown) => e instanceof SyscallError && e.errno === 17);
  assert.throws(() => m.update(3, 30n, "exist"), (e: unknown) => e instanceof SyscallError && e.errno === 2);
  m.update(2, 22n, "exist");
  assert.equal(u64(m.lookup(2)), 22n);
  const out = new Uint8Array(8);
  assert.equal(m.lookupInto(2, out), true);
  assert.equal(u64(out), 22n);
  assert.equal(m.lookupInto(99, out), false);
  assert.equal(m.delete(1), true);
  assert.equal(m.delete(1), false);
  assert.deepEqual([...m.keys()].map((k) => decodeUint(k)), [2]);
  const info = m.info();
  assert.equal(info.type, MapType.HASH);
  assert.equal(info.name, "t_hash");
  assert.equal(info.keySize, 4);
  assert.equal(info.valueSize, 8);
  assert.equal(info.maxEntries, 16);
});

ktest("wrong key and value sizes are ArgumentErrors that name the map and the sizes", () => {
  using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4, name: "t_sizes" });
  assert.throws(() => m.lookup(new Uint8Array(3)), (e: unknown) => e instanceof ArgumentError && /t_sizes/.test(e.message) && /3 bytes/.test(e.message) && /4 bytes/.test(e.message));
  assert.throws(() => m.update(1, new Uint8Array(4)), (e: unknown) => e instanceof ArgumentError && /value/.test(e.message) && /8 bytes/.test(e.message));
  assert.throws(() => m.lookup(2 ** 40), ArgumentError);
  assert.throws(() => m.lookupInto(1, new Uint8Array(4)), ArgumentError);
});

ktest("a full hash map reports E2BIG with the capacity", () => {
  using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 2, name: "t_full" });
  m.update(1, 1);
  m.update(2, 2);
  assert.throws(() => m.update(3, 3), (e: unknown) => e instanceof SyscallError && e.errno === 7 && /at most 2 entries/.test(e.message));
});

ktest("array map: every index exists, delete is refused, clear zeroes", () => {
  using m = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, name: "t_array" });
  assert.equal(u64(m.lookup(3)), 0n);
  assert.equal(m.lookup(4), undefined);
  m.update(3, 33n);
  assert.equal(u64(m.lookup(3)), 33n);
  assert.throws(() => m.delete(3), (e: unknown) => e instanceof SyscallError && e.errno === 22);
  assert.equal([...m.keys()].length, 4);
  m.clear();
  assert.equal(u64(m.lookup(3)), 0n);
});

ktest("per-CPU maps: one value per possible CPU, rounded to 8 bytes", () => {
  const n = possibleCpuCount();
  using m = BpfMap.create({ type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, name: "t_percpu" });
  assert.equal(m.userValueSize, 8 * n);
  const values = Array.from({ length: n }, (_, i) => i + 100);
  m.update(1, values);
  const per = m.lookupPerCpu(1)!;
  assert.equal(per.length, n);
  assert.deepEqual(per.map((v) => decodeUint(v)), values);
  assert.throws(() => m.update(1, [1]), ArgumentError);
  using h = BpfMap.create({ type: MapType.PERCPU_HASH, keySize: 8, valueSize: 16, maxEntries: 8, name: "t_pcpu_hash" });
  const big = Array.from({ length: n }, (_, i) => new Uint8Array(16).fill(i + 1));
  h.update(7n, big);
  assert.deepEqual(h.lookupPerCpu(7n)!.map((v) => v[15]), big.map((v) => v[15]));
});

ktest("batch lookup, update and delete over 10,000 entries agree with iteration", () => {
  using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 10000, name: "t_batch" });
  const keys = Array.from({ length: 10000 }, (_, i) => i * 3);
  assert.equal(m.updateBatch(keys, keys.map((k) => BigInt(k) * 2n)), 10000);
  let seen = 0;
  let batches = 0;
  for (const b of m.lookupBatches(1000)) {
    batches++;
    for (let i = 0; i < b.count; i++) {
      const k = new DataView(b.keys.buffer, b.keys.byteOffset + i * 4).getUint32(0, true);
      const v = new DataView(b.values.buffer, b.values.byteOffset + i * 8).getBigUint64(0, true);
      assert.equal(v, BigInt(k) * 2n);
      seen++;
    }
  }
  assert.equal(seen, 10000);
  assert.ok(batches >= 10, `expected at least 10 batches of 1000, got ${batches}`);
  assert.equal(m.dump().length, 10000);
  assert.equal([...m.keys()].length, 10000);
  assert.equal(m.deleteBatch(keys.slice(0, 4000)), 4000);
  assert.equal(m.dump().length, 6000);
  assert.equal(m.clear(), 6000);
  assert.equal(m.dump().length, 0);
});

ktest("queue and stack maps: push, peek, pop", () => {
  using q = BpfMap.create({ type: MapType.QUEUE, keySize: 0, valueSize: 4, maxEntries: 4, name: "t_queue" });
  using s = BpfMap.create({ type: MapType.STACK, keySize: 0, valueSize: 4, maxEntries: 4, name: "t_stack" });
  for (const v of [1, 2, 3]) {
    q.push(v);
    s.push(v);
  }
  assert.equal(decodeUint(q.peek()!), 1);
  assert.deepEqual([q.pop(), q.pop(), q.pop()].map((v) => decodeUint(v!)), [1, 2, 3]);
  assert.equal(q.pop(), undefined);
  assert.deepEqual([s.pop(), s.pop(), s.pop()].map((v) => decodeUint(v!)), [3, 2, 1]);
  assert.throws(() => q.lookup(1), ArgumentError);
});

ktest("LPM trie: longest prefix match", () => {
  // key: u32 prefixlen + 4 bytes of IPv4 address
  using m = BpfMap.create({ type: MapType.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 16, mapFlags: 1 /* NO_PREALLOC */, name: "t_lpm" });
  const key = (len: number, a: number[]) => new Uint8Array([len, 0, 0, 0, ...a]);
  m.update(key(8, [10, 0, 0, 0]), 8);
  m.update(key(24, [10, 1, 2, 0]), 24);
  assert.equal(decodeUint(m.lookup(key(32, [10, 1, 2, 3]))!), 24);
  assert.equal(decodeUint(m.lookup(key(32, [10, 9, 9, 9]))!), 8);
  assert.equal(m.lookup(key(32, [11, 0, 0, 1])), undefined);
});

ktest("freeze makes a map read-only for user space", () => {
  using m = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: "t_freeze" });
  m.update(0, 5);
  m.freeze();
  assert.throws(() => m.update(0, 6), (e: unknown) => e instanceof SyscallError && e.errno === 1);
  assert.equal(decodeUint(m.lookup(0)!), 5);
});

ktest("a pinned map is reopened by another process, which sees and changes its values", () => {
  const path = `/sys/fs/bpf/tsbpf_test_pin_${process.pid}`;
  rmSync(path, { force: true });
  try {
    using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 8, name: "t_pinned" });
    m.update(7, 700n);
    m.pin(path);
    assert.ok(existsSync(path));
    const script = `
      import { BpfMap } from ${JSON.stringify(repoPath("dist", "src", "index.js"))};
      const m = BpfMap.openPinned(${JSON.stringify(path)});
      const v = m.lookup(7);
      m.update(8, 800n);
      console.log(JSON.stringify({ name: m.info().name, v: v && new DataView(v.buffer).getBigUint64(0, true).toString() }));
      m.close();`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.deepEqual(JSON.parse(out), { name: "t_pinned", v: "700" });
    assert.equal(u64(m.lookup(8)), 800n);
  } finally {
    rmSync(path, { force: true });
  }
});

ktest("opening a missing pin says so and how to fix it", () => {
  assert.throws(() => BpfMap.openPinned("/sys/fs/bpf/tsbpf_does_not_exist"), (e: unknown) => e instanceof BpfError && e.code === "E_NO_PIN" && /mount -t bpf/.test(e.message));
});

ktest("closed maps refuse use with ClosedError; close is idempotent", () => {
  const m = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: "t_closed" });
  m.close();
  m.close();
  assert.throws(() => m.lookup(0), (e: unknown) => e instanceof BpfError && e.code === "E_CLOSED");
});

ktest("every map type the kernel here supports can be created", () => {
  const n = possibleCpuCount();
  const cases: Array<[string, Parameters<typeof BpfMap.create>[0]]> = [
    ["hash", { type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["array", { type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["prog_array", { type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["perf_event_array", { type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: n }],
    ["percpu_hash", { type: MapType.PERCPU_HASH, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["percpu_array", { type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["stack_trace", { type: MapType.STACK_TRACE, keySize: 4, valueSize: 8 * 127, maxEntries: 4 }],
    ["cgroup_array", { type: MapType.CGROUP_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["lru_hash", { type: MapType.LRU_HASH, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["lru_percpu_hash", { type: MapType.LRU_PERCPU_HASH, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["lpm_trie", { type: MapType.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 4, mapFlags: 1 }],
    ["devmap", { type: MapType.DEVMAP, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["sockmap", { type: MapType.SOCKMAP, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["cpumap", { type: MapType.CPUMAP, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["xskmap", { type: MapType.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["sockhash", { type: MapType.SOCKHASH, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["reuseport_sockarray", { type: MapType.REUSEPORT_SOCKARRAY, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["queue", { type: MapType.QUEUE, keySize: 0, valueSize: 4, maxEntries: 4 }],
    ["stack", { type: MapType.STACK, keySize: 0, valueSize: 4, maxEntries: 4 }],
    ["devmap_hash", { type: MapType.DEVMAP_HASH, keySize: 4, valueSize: 4, maxEntries: 4 }],
    ["ringbuf", { type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 }],
    ["bloom_filter", { type: MapType.BLOOM_FILTER, keySize: 0, valueSize: 4, maxEntries: 16, mapExtra: 3n }],
    ["user_ringbuf", { type: MapType.USER_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 }],
  ];
  for (const [name, opts] of cases) {
    using m = BpfMap.create({ ...opts, name: `t_${name}`.slice(0, 15) });
    assert.equal(m.info().type, opts.type, name);
  }
  // Maps of maps need an inner map template.
  using inner = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: "t_inner" });
  using aom = BpfMap.create({ type: MapType.ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 2, innerMapFd: inner.fd.value, name: "t_aom" });
  aom.update(0, inner.fd.value);
  assert.equal(decodeUint(aom.lookup(0)!), inner.info().id);
});

ktest("a map is reachable by id, and a bloom filter answers membership", () => {
  using m = BpfMap.create({ type: MapType.BLOOM_FILTER, keySize: 0, valueSize: 4, maxEntries: 64, mapExtra: 3n, name: "t_bloom" });
  m.push(42);
  using again = BpfMap.fromId(m.info().id);
  assert.equal(again.info().name, "t_bloom");
  assert.equal(again.type, MapType.BLOOM_FILTER);
  // Bloom filters are queried with a lookup whose "value" is the element; present => found.
  assert.equal(again.lookupInto(null, new Uint8Array([42, 0, 0, 0])), true);
  assert.equal(again.lookupInto(null, new Uint8Array([43, 0, 0, 0])), false);
});

ktest("deleteBatch skips absent keys and deletes every present one after them", () => {
  using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 16, name: "t_delbatch" });
  m.updateBatch([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]);
  // The kernel stops a batch at the first absent key; 9 and 10 are absent, 3 and 5 come after them.
  assert.equal(m.deleteBatch([1, 9, 3, 10, 5]), 3);
  assert.deepEqual([...m.keys()].map((k) => decodeUint(k)).sort(), [2, 4]);
  assert.equal(m.deleteBatch([7, 8]), 0);
  assert.equal(m.deleteBatch([2, 4]), 2);
  assert.equal(m.dump().length, 0);
});

ktest("numbers and bigints must fit the key or value size; raw ArrayBuffers are taken as bytes", () => {
  using m1 = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 1, maxEntries: 1, name: "t_u8" });
  using m2 = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 2, maxEntries: 1, name: "t_u16" });
  using m4 = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: "t_u32" });
  using m8 = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, name: "t_u64" });
  const fits = (e: unknown) => e instanceof ArgumentError && /does not fit in/.test(e.message);
  assert.throws(() => m1.update(0, 256), fits);
  assert.throws(() => m1.update(0, -129), fits);
  assert.throws(() => m2.update(0, 65536), fits);
  assert.throws(() => m4.update(0, 2n ** 32n), fits);
  assert.throws(() => m8.update(0, 2n ** 64n), fits);
  assert.throws(() => m8.update(0, -(2n ** 63n) - 1n), fits);
  assert.throws(() => m8.update(0, 2 ** 60), (e: unknown) => e instanceof ArgumentError && /pass a bigint/.test(e.message));
  // Each refusal left the map unchanged.
  assert.equal(decodeUint(m1.lookup(0)!), 0);
  assert.equal(decodeUint(m8.lookup(0)!), 0n);
  // In range: unsigned and signed (two's complement), as numbers and bigints.
  m1.update(0, 255);
  assert.equal(decodeUint(m1.lookup(0)!), 255);
  m1.update(0, -1n);
  assert.equal(decodeUint(m1.lookup(0)!), 255);
  m2.update(0, 65535n);
  assert.equal(decodeUint(m2.lookup(0)!), 65535);
  m2.update(0, -2);
  assert.equal(decodeUint(m2.lookup(0)!), 65534);
  m4.update(0, 2n ** 32n - 1n);
  assert.equal(decodeUint(m4.lookup(0)!), 0xffffffff);
  m8.update(0, -1);
  assert.equal(decodeUint(m8.lookup(0)!), 2n ** 64n - 1n);
  m8.update(0, 2 ** 53 - 1);
  assert.equal(decodeUint(m8.lookup(0)!), 2n ** 53n - 1n);
  m4.update(new Uint32Array([0]).buffer, new Uint32Array([0xdeadbeef]).buffer);
  assert.equal(decodeUint(m4.lookup(0)!), 0xdeadbeef);
  assert.throws(() => m4.update(0, new ArrayBuffer(8)), (e: unknown) => e instanceof ArgumentError && /8 bytes, the map wants 4 bytes/.test(e.message));
});

ktest("batch API on per-CPU hash maps, and the fallback for map types without batch operations", () => {
  const n = possibleCpuCount();
  using m = BpfMap.create({ type: MapType.PERCPU_HASH, keySize: 4, valueSize: 4, maxEntries: 64, name: "t_pcpu_batch" });
  const keys = Array.from({ length: 40 }, (_, i) => i + 1);
  assert.equal(m.updateBatch(keys, keys.map((k) => Array.from({ length: n }, (_, cpu) => k * 1000 + cpu))), 40);
  const seen = new Map<number, number[]>();
  for (const b of m.lookupBatches(7)) {
    for (let i = 0; i < b.count; i++) {
      const k = decodeUint(b.keys.subarray(i * 4, i * 4 + 4)) as number;
      // Each CPU's 4-byte value sits in an 8-byte slot.
      const v = b.values.subarray(i * m.userValueSize, (i + 1) * m.userValueSize);
      seen.set(k, Array.from({ length: n }, (_, cpu) => decodeUint(v.subarray(cpu * 8, cpu * 8 + 4)) as number));
    }
  }
  assert.equal(seen.size, 40);
  for (const k of keys) assert.deepEqual(seen.get(k), Array.from({ length: n }, (_, cpu) => k * 1000 + cpu));
  assert.equal(m.deleteBatch(keys.slice(0, 10)), 10);
  let drained = 0;
  for (const b of m.lookupBatches(8, { delete: true })) drained += b.count;
  assert.equal(drained, 30);
  assert.equal(m.dump().length, 0);

  // LPM tries have no batch operations (the kernel answers ENOTSUPP): the same calls still work.
  using t = BpfMap.create({ type: MapType.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 16, mapFlags: 1, name: "t_lpm_batch" });
  const key = (len: number, a: number[]) => new Uint8Array([len, 0, 0, 0, ...a]);
  assert.equal(t.updateBatch([key(8, [10, 0, 0, 0]), key(16, [10, 1, 0, 0]), key(24, [10, 1, 2, 0])], [8, 16, 24]), 3);
  assert.deepEqual(t.dump().map(([, v]) => decodeUint(v)).sort((a, b) => Number(a) - Number(b)), [8, 16, 24]);
  assert.equal(t.deleteBatch([key(16, [10, 1, 0, 0])]), 1);
  assert.equal([...t.lookupBatches(1, { delete: true })].reduce((s, b) => s + b.count, 0), 2);
  assert.equal(t.dump().length, 0);

  // Arrays cannot delete: asking to drain one is an ArgumentError, and nothing is changed.
  using a = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, name: "t_arr_drain" });
  a.update(1, 5);
  assert.throws(() => [...a.lookupBatches(2, { delete: true })], (e: unknown) => e instanceof ArgumentError && /clear\(\)/.test(e.message));
  assert.equal(decodeUint(a.lookup(1)!), 5);
});
