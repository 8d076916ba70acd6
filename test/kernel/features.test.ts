import assert from "node:assert/strict";
import { ktest } from "../helpers/kernel.js";
import { MapType, ProgramType } from "../../src/index.js";
import { probeAll, probeBtfKind, probeHelper, probeMapType, probeProgramType } from "../../src/features/probe.js";

ktest("feature probes agree with what the kernel here is known to support", () => {
  for (const t of [MapType.HASH, MapType.ARRAY, MapType.RINGBUF, MapType.BLOOM_FILTER, MapType.TASK_STORAGE, MapType.ARRAY_OF_MAPS, MapType.LPM_TRIE, MapType.USER_RINGBUF]) {
    const r = probeMapType(t);
    assert.equal(r.supported, true, `map type ${t}: ${r.detail}`);
  }
  assert.equal(probeMapType(9999).supported, false);
  for (const t of [ProgramType.SOCKET_FILTER, ProgramType.KPROBE, ProgramType.TRACEPOINT, ProgramType.XDP, ProgramType.RAW_TRACEPOINT, ProgramType.SYSCALL]) {
    const r = probeProgramType(t);
    assert.equal(r.supported, true, `program type ${t}: ${r.detail}`);
  }
  assert.equal(probeProgramType(9999).supported, false);
  assert.equal(probeHelper(ProgramType.XDP, "ktime_get_ns").supported, true);
  assert.equal(probeHelper(ProgramType.TRACEPOINT, "get_current_pid_tgid").supported, true);
  const xdpOverride = probeHelper(ProgramType.XDP, "override_return");
  assert.equal(xdpOverride.supported, false, "only kprobe programs may override return values");
  assert.match(xdpOverride.detail, /cannot use helper bpf_override_return/);
  assert.equal(probeHelper(ProgramType.KPROBE, "no_such_helper").supported, false);
  for (const k of ["func", "datasec", "float", "decl_tag", "type_tag", "enum64"] as const) {
    assert.equal(probeBtfKind(k).supported, true, `BTF kind ${k}: ${probeBtfKind(k).detail}`);
  }
  const all = probeAll();
  assert.equal(all.mapTypes.hash?.supported, true);
  assert.ok(Object.keys(all.programTypes).length > 25);
});
