/**
 * vmlinux BTF and CO-RE object loading, tsbpf side by side with C libbpf in one run (issue 3
 * "Performance", issue 6 case 5). Every figure is the median over fresh processes (or rounds),
 * alternating tsbpf and C so both see the same machine; the load average is printed with them.
 *
 *   node dist/bench/btf.js [--runs N] [--rounds R]      (root: the load rows need CAP_BPF)
 *
 * Rows:
 *  (a) open and index /sys/kernel/btf/vmlinux, plus the first name lookup: tsbpf loadKernelBtf()
 *      + findByName vs libbpf btf__load_vmlinux_btf() + btf__find_by_name_kind(); getting the
 *      file's bytes is measured alone as well (tsbpf maps it read-only where the kernel allows,
 *      Linux 6.16+, else reads it; libbpf reads it with read(2) in 1 MiB calls). The tsbpf side
 *      imports src/sys/mmap.js, which installs the mapping reader as the public entry point does.
 *  (b) resident memory that adds (VmRSS after - before, /proc/self/status, same processes as (a)).
 *  (c) resolving one program's CO-RE relocations against the parsed kernel BTF: tsbpf
 *      applyCoreRelocations (first pass in a fresh process) vs libbpf's relocation phase inside
 *      bpf_object__load, which libbpf 1.1 cannot run alone: bench/c/btf_object.c times it as the gap
 *      between the object's last BPF_MAP_CREATE and its first BPF_PROG_LOAD (CO-RE including the
 *      candidate search, plus map/data/subprogram relocation), less feature probes in that gap.
 *  (d) opening and loading a CO-RE object with 20 programs and 200 relocations
 *      (test/parity/sysprofile.bpf.o): tsbpf openObject + loadCollection vs libbpf
 *      bpf_object__open_file + bpf_object__load. "cold" is the first load in a fresh process (it
 *      includes parsing vmlinux BTF and, for libbpf, its feature probes); "warm" is later loads in the
 *      same process (tsbpf keeps the parsed kernel BTF; libbpf parses it again for every object).
 *      The verifier's share (time inside BPF_PROG_LOAD, measured on the C side) is printed too.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { runs: { type: "string", default: "9" }, rounds: { type: "string", default: "5" } } });
const runs = Number(values.runs);
const rounds = Number(values.rounds);

const root = (() => {
  let d = new URL(".", import.meta.url).pathname;
  while (!existsSync(join(d, "package.json"))) d = join(d, "..");
  return d;
})();
const cDir = join(root, "bench", "c");
execFileSync("make", ["-s", "-C", cDir, "btf_vmlinux", "btf_object"], { stdio: "inherit" });
const child = join(root, "dist", "bench", "btf-child.js");
const obj = (p: string) => join(root, p);
const READHIST = obj("examples/readhist/readhist.bpf.o");
const PROCSNAP = obj("test/parity/procsnap.bpf.o");
const SYSPROFILE = obj("test/parity/sysprofile.bpf.o");

type J = Record<string, number>;
const lines = (out: string): J[] => out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as J);
const ts = (...args: string[]) => lines(execFileSync(process.execPath, [child, ...args], { encoding: "utf8" }));
const c = (bin: string, ...args: string[]) => lines(execFileSync(join(cDir, bin), args, { encoding: "utf8" }));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

const load0 = loadavg();
const acc = new Map<string, number[]>();
const add = (k: string, v: number) => acc.set(k, [...(acc.get(k) ?? []), v]);

for (let r = 0; r < runs; r++) {
  // (a), (b)
  const [tv] = ts("vmlinux");
  add("ts.vmlinux", tv!.load_ms! + tv!.find_ms!);
  add("ts.vmlinux.load", tv!.load_ms!);
  add("ts.vmlinux.find", tv!.find_ms!);
  add("ts.import", tv!.import_ms!);
  add("ts.rss", (tv!.rss_after_kb! - tv!.rss_before_kb!) / 1024);
  const [cv] = c("btf_vmlinux");
  add("c.vmlinux", cv!.load_ms! + cv!.find_ms!);
  add("c.vmlinux.find", cv!.find_ms!);
  add("c.rss", (cv!.rss_after_kb! - cv!.rss_before_kb!) / 1024);
  add("ts.read", ts("read")[0]!.read_ms!);
  add("c.read", c("btf_vmlinux", "--read")[0]!.read_ms!);
  // (c)
  for (const [name, path] of [["readhist", READHIST], ["procsnap", PROCSNAP], ["sysprofile", SYSPROFILE]] as const) {
    const [tr] = ts("reloc", path, "5");
    add(`ts.reloc.${name}`, tr!.cold_ms!);
    add(`ts.reloc.${name}.warm`, tr!.warm_ms!);
    add(`relocs.${name}`, tr!.relocations!);
    const [cr] = c("btf_object", path, "1");
    add(`c.reloc.${name}`, cr!.reloc_ms!);
  }
  // (d)
  const tl = ts("load", SYSPROFILE, String(rounds));
  const cl = c("btf_object", SYSPROFILE, String(rounds));
  add("ts.load.cold", tl[0]!.total_ms!);
  add("c.load.cold", cl[0]!.total_ms!);
  add("ts.load.warm", median(tl.slice(1).map((x) => x.total_ms!)));
  add("c.load.warm", median(cl.slice(1).map((x) => x.total_ms!)));
  add("c.verifier", median(cl.map((x) => x.prog_load_ms!)));
  add("ts.open", median(tl.map((x) => x.open_ms!)));
  add("c.open", median(cl.map((x) => x.open_ms!)));
}
const load1 = loadavg();

const m = (k: string) => median(acc.get(k) ?? [NaN]);
const f = (v: number, unit = "ms") => (Number.isNaN(v) ? "-" : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ${unit}`);
const ratio = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) || b === 0 ? "-" : (a / b).toFixed(2));
const rows: string[][] = [];
const row = (op: string, a: number, b: number, goal: string, unit = "ms") => rows.push([op, f(a, unit), f(b, unit), ratio(a, b), goal]);

row("(a) vmlinux BTF open+index+first lookup", m("ts.vmlinux"), m("c.vmlinux"), "tsbpf <= 30 ms");
row("    of which: get the file's bytes (mmap / read)", m("ts.read"), m("c.read"), "");
row("    of which: first name lookup (index)", m("ts.vmlinux.find"), m("c.vmlinux.find"), "");
rows.push(["    (tsbpf module import, not included)", f(m("ts.import")), "-", "-", ""]);
row("(b) VmRSS added by vmlinux BTF", m("ts.rss"), m("c.rss"), "tsbpf <= 15 MiB", "MiB");
for (const name of ["readhist", "procsnap", "sysprofile"]) {
  const n = m(`relocs.${name}`);
  row(`(c) CO-RE relocate ${name} (${n} relocations), cold`, m(`ts.reloc.${name}`), m(`c.reloc.${name}`), n === 50 ? "tsbpf < 5 ms" : "");
  rows.push([`    same, warm (tsbpf only)`, f(m(`ts.reloc.${name}.warm`)), "-", "-", ""]);
}
row("(d) open+load sysprofile (20 progs, 200 relos), cold", m("ts.load.cold"), m("c.load.cold"), "<= 1.5x libbpf");
row("    warm (same process, later loads)", m("ts.load.warm"), m("c.load.warm"), "<= 1.5x libbpf");
row("    of which: ELF open (bpf_object__open)", m("ts.open"), m("c.open"), "");
rows.push(["    verifier time inside BPF_PROG_LOAD (C side)", "-", f(m("c.verifier")), "-", ""]);

const header = ["operation", "tsbpf", "C libbpf", "ratio", "goal"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((s, i) => (i === 0 || i === 4 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join("  ").trimEnd();
const kernel = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim();
console.log(`vmlinux BTF / CO-RE load: median of ${runs} fresh-process runs (load rows: ${rounds} rounds each), node ${process.version}, kernel ${kernel}`);
console.log(`load average before ${load0}, after ${load1}; ${(readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm) ?? []).length} CPUs`);
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
