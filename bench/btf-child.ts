/**
 * The tsbpf side of bench/btf.ts, one measurement per fresh process (run by btf.ts, prints one
 * JSON line). Times exclude Node's own start-up; `import_ms` is the time to import tsbpf.
 *
 *   node dist/bench/btf-child.js vmlinux        loadKernelBtf() + first findByName, VmRSS before/after
 *   node dist/bench/btf-child.js read           getting the bytes of /sys/kernel/btf/vmlinux only, as
 *                                               loadKernelBtf does (mmap, else readFileSync)
 *   node dist/bench/btf-child.js reloc OBJ [N]  applyCoreRelocations for every program of OBJ against
 *                                               the (already loaded) kernel BTF, with one
 *                                               CoreRelocationCache per pass as loadCollection does:
 *                                               first pass (cold) and the median of N warm passes
 *   node dist/bench/btf-child.js load OBJ [N]   openObject + loadCollection of OBJ, N rounds (round 0 cold)
 */
import { readFileSync } from "node:fs";

const t = () => Number(process.hrtime.bigint()) / 1e6;
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const [mode, obj, n] = process.argv.slice(2);
const rounds = Number(n ?? 5);
const out = (o: object) => console.log(JSON.stringify(o));

if (mode === "read") {
  // How loadKernelBtf gets the bytes: mapped read-only (Linux 6.16+), else read.
  const { mapFileReadOnly } = await import("../src/sys/mmap.js");
  const t0 = t();
  const b = mapFileReadOnly("/sys/kernel/btf/vmlinux") ?? readFileSync("/sys/kernel/btf/vmlinux");
  out({ read_ms: t() - t0, bytes: b.length });
} else if (mode === "vmlinux") {
  const rssBefore = rssKb();
  const ti = t();
  // src/sys/mmap.js registers the sysfs reader (mmap) that the public entry point installs.
  await import("../src/sys/mmap.js");
  const { loadKernelBtf } = await import("../src/btf/kernel.js");
  const t0 = t();
  const btf = loadKernelBtf();
  const t1 = t();
  const id = btf.findByName("task_struct", "struct");
  const t2 = t();
  // A second lookup shows the steady state once the name index exists.
  btf.findByName("sock", "struct");
  const t3 = t();
  const rssAfter = rssKb();
  if (id === undefined) throw new Error("task_struct not found");
  out({ import_ms: t0 - ti, load_ms: t1 - t0, find_ms: t2 - t1, find2_ms: t3 - t2, rss_before_kb: rssBefore, rss_after_kb: rssAfter, types: btf.count });
} else if (mode === "reloc") {
  const { loadKernelBtf } = await import("../src/btf/kernel.js");
  const { applyCoreRelocations, CoreRelocationCache } = await import("../src/btf/core.js");
  const { openObjectSync } = await import("../src/collection/object.js");
  const kernel = loadKernelBtf();
  kernel.findByName("task_struct", "struct"); // the index is (a)'s business, not (c)'s
  const spec = openObjectSync(obj!);
  const progs = Object.values(spec.programs).filter((p) => p.coreRelocations.length);
  const relocations = progs.reduce((a, p) => a + p.coreRelocations.length, 0);
  const pass = () => {
    const copies = progs.map((p) => p.instructions.slice());
    const t0 = t();
    // One cache per pass over the object, as loadCollection shares one between an object's programs.
    const cache = new CoreRelocationCache();
    progs.forEach((p, i) => applyCoreRelocations(copies[i]!, p.coreRelocations, spec.btf!, kernel, { program: p.name, cache }));
    return t() - t0;
  };
  const cold = pass();
  const warm: number[] = [];
  for (let i = 0; i < rounds; i++) warm.push(pass());
  out({ relocations, programs: progs.length, cold_ms: cold, warm_ms: median(warm) });
} else if (mode === "load") {
  const { openObjectSync, loadCollection } = await import("../src/collection/object.js");
  for (let r = 0; r < rounds; r++) {
    const t0 = t();
    const spec = openObjectSync(obj!);
    const t1 = t();
    const o = loadCollection(spec, { onWarning: () => {} });
    const t2 = t();
    const progs = Object.keys(o.programs).length;
    o.close();
    out({ round: r, open_ms: t1 - t0, load_ms: t2 - t1, total_ms: t2 - t0, programs: progs });
  }
} else {
  console.error("usage: btf-child.js vmlinux | read | reloc OBJ [N] | load OBJ [N]");
  process.exit(2);
}
