import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Btf, BtfBuilder, sanitizeBtf } from "../../src/btf/index.js";
import { loadCollectionSpec } from "../../src/spec/index.js";
import { btfLoad } from "../../src/sys/bpf.js";
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
  for (const k of ["func", "func_global", "datasec", "float", "decl_tag", "type_tag", "enum64"] as const) {
    assert.equal(probeBtfKind(k).supported, true, `BTF kind ${k}: ${probeBtfKind(k).detail}`);
  }
  const all = probeAll();
  assert.equal(all.mapTypes.hash?.supported, true);
  assert.ok(Object.keys(all.programTypes).length > 25);
});

ktest("BTF sanitized for older kernels (pretend feature sets) still loads with BTF_LOAD", () => {
  // The object's BTF as the loader prepares it for the kernel (data sections fixed up).
  const spec = loadCollectionSpec(new Uint8Array(readFileSync(new URL("../../../test/fixtures/btf/kinds.bpf.o", import.meta.url))));
  const btf = Btf.parse(spec.btfBytes!);
  const plain = btfLoad(spec.btfBytes!, new Uint8Array(1 << 16));
  assert.ok(!("errno" in plain), "the unsanitized BTF loads");
  plain.close();
  const all = { declTag: true, typeTag: true, float: true, enum64: true, funcLinkage: true, func: true, datasec: true };
  // Each kind missing alone (the kernels that lacked it), and everything from before Linux 5.0 at once.
  const sets = [...Object.keys(all).map((k) => ({ ...all, [k]: false })),
    { declTag: false, typeTag: false, float: false, enum64: false, funcLinkage: false, func: false, datasec: false }];
  for (const s of sets) {
    const r = btfLoad(sanitizeBtf(btf, s), new Uint8Array(1 << 16));
    const off = Object.entries(s).filter(([, v]) => !v).map(([k]) => k).join(",");
    assert.ok(!("errno" in r), `without ${off}: errno ${"errno" in r ? `${r.errno}: ${r.log.trim().split("\n").slice(-3).join(" | ")}` : ""}`);
    r.close();
  }
  // A float whose name is not an identifier: the struct that replaces it must get one.
  const b = new BtfBuilder();
  b.add({ kind: "float", name: "long double", size: 16 });
  const r = btfLoad(sanitizeBtf(Btf.parse(b.toBytes()), { ...all, float: false }), new Uint8Array(1 << 16));
  assert.ok(!("errno" in r), `float "long double" as a struct: ${"errno" in r ? r.log.trim() : ""}`);
  r.close();
});
