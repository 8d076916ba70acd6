// An EPERM from bpf() says which capability this process lacks for what it asked, per program
// and map type: the child processes run under setpriv with capabilities removed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { ktest, repoPath } from "../helpers/kernel.js";
import { BpfMap, MapType, SyscallError } from "../../src/index.js";

/** Runs `body` (an async function body that returns a JSON-able result) in a child under setpriv with `drop` removed from its bounding set. */
function runWithout(drop: string, body: string): Record<string, string> {
  const script = `
    import { BpfMap, MapType, Program, ProgramType } from ${JSON.stringify(repoPath("dist", "src", "index.js"))};
    const exit0 = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    const attempt = (f) => { try { f(); return "ok"; } catch (e) { return \`\${e.constructor.name} \${e.errno}: \${e.message}\`; } };
    const load = (type) => attempt(() => Program.load({ name: "t_caps", type, license: "GPL", instructions: exit0 }).close());
    const map = (type, keySize = 4, valueSize = 4) => attempt(() => BpfMap.create({ type, keySize, valueSize, maxEntries: 4, name: "t_caps" }).close());
    console.log(JSON.stringify((() => { ${body} })()));`;
  const r = spawnSync("setpriv", ["--inh-caps=-all", `--bounding-set=${drop}`, process.execPath, "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

ktest("EPERM names the capability a program type needs and the process lacks", () => {
  // CAP_BPF kept; CAP_SYS_ADMIN (which stands in for all), CAP_PERFMON and CAP_NET_ADMIN removed.
  const r = runWithout("-sys_admin,-perfmon,-net_admin", `return {
    socket: load(ProgramType.SOCKET_FILTER), rawtp: load(ProgramType.RAW_TRACEPOINT), xdp: load(ProgramType.XDP),
    hash: map(MapType.HASH), devmap: map(MapType.DEVMAP) };`);
  assert.equal(r.socket, "ok", "a socket filter needs only CAP_BPF");
  assert.equal(r.hash, "ok");
  assert.match(r.rawtp!, /^SyscallError 1: load program t_caps \(raw_tracepoint\): BPF_PROG_LOAD failed: operation not permitted \(EPERM\): this process lacks CAP_PERFMON \(raw_tracepoint programs need CAP_BPF and CAP_PERFMON\): run as root, or grant CAP_BPF and CAP_PERFMON/);
  assert.doesNotMatch(r.rawtp!, /NET_ADMIN/);
  assert.match(r.xdp!, /^SyscallError 1: .*this process lacks CAP_NET_ADMIN \(xdp programs need CAP_BPF and CAP_NET_ADMIN\)/);
  assert.doesNotMatch(r.xdp!, /PERFMON/);
  assert.match(r.devmap!, /^SyscallError 1: create map t_caps: BPF_MAP_CREATE failed: .*this process lacks CAP_NET_ADMIN/);
});

ktest("EPERM without any capability names CAP_BPF, and CAP_PERFMON for a tracing program", () => {
  const none = runWithout("-all", `return { hash: map(MapType.HASH), rawtp: load(ProgramType.RAW_TRACEPOINT) };`);
  assert.match(none.hash!, /^SyscallError 1: create map t_caps: .*this process lacks CAP_BPF \(BPF_MAP_CREATE calls need CAP_BPF\): run as root, or grant CAP_BPF/);
  assert.match(none.rawtp!, /this process lacks CAP_BPF and CAP_PERFMON/);
});

ktest("EPERM from writing a frozen map says the map is read-only, not that privileges are missing", () => {
  using m = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: "t_frozen" });
  m.freeze();
  assert.throws(() => m.update(0, 1), (e: unknown) => e instanceof SyscallError && e.errno === 1 && /read-only for user space: frozen/.test(e.message) && !/CAP_/.test(e.message));
});
