// Program loading details of the foundation: the verifier log buffer grows until the whole log
// fits, and the object's `version` section never blocks a load (the running kernel's is used).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ktest, repoPath } from "../helpers/kernel.js";
import { Program, ProgramType, VerifierError, loadObject, openObject } from "../../src/index.js";
import { parseElf } from "../../src/elf/index.js";

/** `r0 = 0` n times, then `r0 = r2` (r2 is never written: the verifier refuses it) and exit. */
function program(n: number, bad: boolean): Uint8Array {
  const insns = new Uint8Array((n + 2) * 8);
  for (let i = 0; i < n; i++) insns[i * 8] = 0xb7;
  insns[n * 8] = bad ? 0xbf : 0xb7;
  insns[n * 8 + 1] = bad ? 0x20 : 0;
  insns[(n + 1) * 8] = 0x95;
  return insns;
}

ktest("the verifier log buffer grows on ENOSPC until the whole log fits", () => {
  // 300 instructions log far more than 64 bytes: the first attempts overflow the buffer.
  assert.throws(
    () => Program.load({ name: "t_log", type: ProgramType.SOCKET_FILTER, license: "GPL", instructions: program(300, true), logSize: 64 }),
    (e: unknown) => {
      assert.ok(e instanceof VerifierError, String(e));
      assert.match(e.log, /^0: \(b7\) r0 = 0/m, "the log starts at the first instruction");
      assert.match(e.log, /^299: \(b7\) r0 = 0/m);
      assert.match(e.log, /R2 !read_ok/);
      assert.match(e.message, /R2 !read_ok/);
      assert.ok(e.log.length > 64 * 16, `log of ${e.log.length} bytes`);
      return true;
    },
  );
  // With a log asked for on success, a buffer too small for it must not fail the load either.
  using p = Program.load({ name: "t_log_ok", type: ProgramType.SOCKET_FILTER, license: "GPL", instructions: program(300, false), logLevel: 1, logSize: 64 });
  assert.ok(p.fd.value > 0);
});

ktest("a version section of the wrong size does not block loading: the running kernel's version is used", async () => {
  const bytes = new Uint8Array(readFileSync(repoPath("test", "bpf", "legacy_maps.bpf.o")));
  const elf = parseElf(bytes);
  const ver = elf.sectionByName("version");
  assert.ok(ver, "legacy_maps.bpf.o has a version section");
  const shoff = Number(new DataView(bytes.buffer).getBigUint64(40, true));
  new DataView(bytes.buffer).setBigUint64(shoff + ver.index * 64 + 32, 8n, true); // sh_size 4 -> 8
  const spec = await openObject(bytes);
  assert.equal(spec.kernelVersion, undefined);
  using o = await loadObject(bytes);
  assert.deepEqual(Object.keys(o.programs), Object.keys(spec.programs));
  assert.ok(Object.keys(o.programs).length > 0);
});

ktest("a prog array slot whose program was not loaded stays empty, with a warning that says so", async () => {
  const warnings: string[] = [];
  using o = await loadObject(repoPath("test", "bpf", "btf_maps.bpf.o"), { programs: ["touch_maps"], onWarning: (w) => warnings.push(w) });
  assert.equal(o.maps.jump_table!.lookup(0), undefined);
  assert.ok(warnings.some((w) => /jump_table: slot 0 stays empty because program tail_target was not loaded/.test(w)), warnings.join("\n"));
});
