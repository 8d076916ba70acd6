/**
 * CO-RE and kfuncs against module BTF (test/bpf/core_module.bpf.c). On a kernel that builds
 * overlayfs and nf_conntrack as modules (the VM's Debian 6.1), struct ovl_fs exists only in
 * /sys/kernel/btf/overlay and bpf_xdp_ct_lookup only in /sys/kernel/btf/nf_conntrack, so the
 * relocations must find their candidates in the module's split BTF (with the module's type ids)
 * and the kfunc call must carry the module's BTF fd; where they are built in (the host), the same
 * programs resolve against vmlinux. The values the programs report are compared with what the
 * kernel's BTF says.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { ktest, repoPath } from "../helpers/kernel.js";
import { loadObject } from "../../src/index.js";
import { loadKernelBtf, loadModuleBtf } from "../../src/btf/kernel.js";
import { findKernelBtfSymbol } from "../../src/collection/externs.js";
import type { Btf } from "../../src/btf/btf.js";
import { modprobe } from "../helpers/modules.js";

const obj = repoPath("test", "bpf", "core_module.bpf.o");
const quiet = { onWarning() {} };
const inVm = process.env.TSBPF_VM === "1";

/** Where the kernel defines struct ovl_fs: vmlinux, else the overlay module. */
function ovlBtf(): { btf: Btf; id: number; module: boolean } | undefined {
  const vmlinux = loadKernelBtf();
  const id = vmlinux.findByName("ovl_fs", "struct");
  if (id !== undefined) return { btf: vmlinux, id, module: false };
  if (!existsSync("/sys/kernel/btf/overlay")) return undefined;
  const m = loadModuleBtf("overlay");
  const mid = m.findByName("ovl_fs", "struct");
  return mid === undefined ? undefined : { btf: m, id: mid, module: true };
}

ktest("CO-RE relocations on a module's types use the module's split BTF and type ids", async (t) => {
  const where = ovlBtf();
  if (!where) {
    assert.ok(!process.env.CI || !inVm, "the VM loads overlay: its BTF must be there");
    t.skip("the kernel has no struct ovl_fs (overlayfs neither built in nor loaded)");
    return;
  }
  // In the VM overlayfs is a module: this is the path under test there.
  if (inVm) assert.equal(where.module, true, "Debian's 6.1 builds overlayfs as a module");
  using o = await loadObject(obj, { ...quiet, programs: ["core_ovl"] });
  assert.equal(o.program("core_ovl").testRun({ ctx: new Uint8Array(8) }).retval, 1);
  const v = (n: string) => o.variables[n]!.value;
  const { btf, id } = where;
  assert.equal(v("out_ovl_fs_id"), id, "bpf_core_type_id_kernel gives the id in the BTF that defines the type");
  if (where.module) assert.ok(id >= loadKernelBtf().count, "a module type id continues after vmlinux's");
  assert.equal(v("out_ovl_fs_size"), btf.sizeof(id));
  assert.equal(v("out_numfs_off"), btf.findMember(id, "numfs")!.bitOffset / 8);
  assert.equal(v("out_namelen_off"), btf.findMember(id, "namelen")!.bitOffset / 8);
  assert.equal(v("out_ovl_inode_exists"), 1);
  assert.equal(v("out_no_field"), 0);
});

ktest("a kfunc defined in a module (nf_conntrack's bpf_xdp_ct_lookup) is called with the module's BTF fd", async (t) => {
  let sym = findKernelBtfSymbol("bpf_xdp_ct_lookup", "func");
  if (!sym && inVm) {
    // Nothing loads nf_conntrack on its own in the VM; the kernel package ships it.
    modprobe("nf_conntrack");
    sym = findKernelBtfSymbol("bpf_xdp_ct_lookup", "func");
  }
  if (!sym) {
    assert.ok(!process.env.CI || !inVm, "modprobe nf_conntrack must give its BTF in the VM");
    t.skip("the kernel has no bpf_xdp_ct_lookup kfunc (nf_conntrack neither built in nor loaded)");
    return;
  }
  if (inVm) assert.equal(sym.module, "nf_conntrack", "Debian's 6.1 builds nf_conntrack as a module");
  using o = await loadObject(obj, { ...quiet, programs: ["ct_lookup"] });
  const frame = new Uint8Array(64);
  assert.equal(o.program("ct_lookup").testRun({ data: frame }).retval, 2 /* XDP_PASS */);
  assert.equal(o.variables.out_ct_found!.value, 0, "no such connection");
  assert.equal(o.variables.out_ct_error!.value, -2, "the kfunc reported -ENOENT in the options");
});
