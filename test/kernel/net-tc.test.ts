/**
 * TC on a veth pair made by the test: ingress counts datagrams the peer namespace sends to the
 * host end, egress counts datagrams this process sends to the peer. Both mechanisms: `auto` (tcx
 * links on 6.6+, the netlink fallback on older kernels: the VM runs it on 6.1) and the netlink
 * clsact + cls_bpf fallback, forced.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { ktest, repoPath } from "../helpers/kernel.js";
import { VethPair, sendUdp } from "../helpers/netns.js";
import { ArgumentError, loadObject } from "../../src/index.js";
import { attachTc, listTcFilters } from "../../src/link/tc.js";
import { attachProgram } from "../../src/collection/attach.js";
import { NetlinkError } from "../../src/sys/net.js";
import { kernelHasSymbol } from "../../src/link/kallsyms.js";

const PORT = 40000 + (process.pid % 20000);
const N = 17;
const u64 = (b: Uint8Array | undefined) => (b ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : undefined);
const tcObj = () => loadObject(repoPath("test", "bpf", "net_tc.bpf.o"), { constants: { target_port: PORT } });
const settle = () => new Promise((r) => setTimeout(r, 50));
const qdiscs = (dev: string) => execFileSync("tc", ["qdisc", "show", "dev", dev], { encoding: "utf8" });

/** Whether this kernel has tcx links (Linux 6.6+): then `auto` must pick them, else the netlink fallback. */
function kernelHasTcx(): boolean {
  const has = kernelHasSymbol("tcx_link_attach");
  assert.notEqual(has, undefined, "/proc/kallsyms must say whether the kernel has tcx");
  return has!;
}

ktest("auto mechanism: tcx links where the kernel has them (6.6+), else clsact + cls_bpf; ingress and egress count exactly, update() swaps, close() detaches and cleans up", async () => {
  using veth = VethPair.create();
  using obj = await tcObj();
  const counts = obj.maps.counts!;
  const tcx = kernelHasTcx();
  // The VM runner knows its kernels (TSBPF_EXPECT_TCX: 1 on 6.12, 0 on 6.1): a wrong probe fails.
  const known = process.env.TSBPF_EXPECT_TCX;
  if (known === "1" || known === "0") assert.equal(tcx, known === "1", `tcx probe vs TSBPF_EXPECT_TCX=${known}`);
  console.log(`# this kernel ${tcx ? "has" : "lacks"} tcx: expecting ${tcx ? "bpf_link(tcx)" : "the netlink fallback"}`);
  {
    using ingress = attachTc(obj.programs.tc_count_ingress!, veth.hostIf, { direction: "ingress" });
    using egress = attachTc(obj.programs.tc_count_egress!, veth.hostIf, { direction: "egress" });
    const expected = tcx ? "bpf_link(tcx)" : "netlink(clsact+cls_bpf)";
    assert.equal(ingress.mechanism, expected);
    assert.equal(egress.mechanism, expected);
    assert.equal(ingress.target, `${veth.hostIf} ingress`);
    if (tcx) {
      assert.equal(ingress.info().typeName, "tcx");
      assert.equal(ingress.priority, undefined);
      assert.ok(!/clsact/.test(qdiscs(veth.hostIf)), "tcx needs no qdisc");
    } else {
      assert.throws(() => ingress.info(), ArgumentError, "netlink filters have no bpf_link");
      assert.ok(ingress.priority! > 0 && ingress.handle! > 0, "the kernel assigned a priority and handle");
      assert.match(qdiscs(veth.hostIf), /clsact/);
      assert.deepEqual(listTcFilters(veth.hostIf, "ingress").map((f) => [f.name, f.progId]), [["tc_count_ingress", obj.programs.tc_count_ingress!.info().id]]);
    }
    await veth.sendFromPeer(PORT, N);
    await sendUdp(veth.peerIp, PORT, N + 3);
    await veth.sendFromPeer(PORT + 1, 4); // not counted
    await settle();
    assert.equal(u64(counts.lookup(0)), BigInt(N));
    assert.equal(u64(counts.lookup(1)), BigInt(N + 3));
    ingress.update(obj.programs.tc_count_other!);
    await veth.sendFromPeer(PORT, N);
    await settle();
    assert.equal(u64(counts.lookup(0)), BigInt(N));
    assert.equal(u64(counts.lookup(2)), BigInt(N));
  }
  await veth.sendFromPeer(PORT, N);
  await settle();
  assert.equal(u64(counts.lookup(2)), BigInt(N), "closed links count nothing");
  assert.deepEqual(listTcFilters(veth.hostIf, "ingress"), []);
  assert.ok(!/clsact/.test(qdiscs(veth.hostIf)), "no qdisc is left behind");
});

ktest("netlink fallback (forced): clsact qdisc + cls_bpf filters count exactly, replace, and clean up", async () => {
  using veth = VethPair.create();
  using obj = await tcObj();
  const counts = obj.maps.counts!;
  const ingress = attachTc(obj.programs.tc_count_ingress!, veth.hostIf, { direction: "ingress", mechanism: "netlink" });
  const egress = attachTc(obj.programs.tc_count_egress!, veth.hostIf, { direction: "egress", priority: 7, handle: 0x42 });
  try {
    assert.equal(ingress.mechanism, "netlink(clsact+cls_bpf)");
    assert.equal(egress.mechanism, "netlink(clsact+cls_bpf)", "a priority selects netlink");
    assert.equal(egress.priority, 7);
    assert.equal(egress.handle, 0x42);
    assert.ok(ingress.priority! > 0 && ingress.handle! > 0, "the kernel assigned a priority and handle");
    assert.match(qdiscs(veth.hostIf), /clsact/);
    const [f] = listTcFilters(veth.hostIf, "ingress");
    assert.equal(f!.kind, "bpf");
    assert.equal(f!.progId, obj.programs.tc_count_ingress!.info().id);
    assert.equal(f!.name, "tc_count_ingress");
    assert.equal(f!.bpfFlags, 1, "direct action");
    assert.deepEqual(egress.filters().map((x) => [x.priority, x.handle, x.name]), [[7, 0x42, "tc_count_egress"]]);
    assert.throws(() => ingress.info(), ArgumentError, "netlink filters have no bpf_link");

    await veth.sendFromPeer(PORT, N);
    await sendUdp(veth.peerIp, PORT, N + 3);
    await settle();
    assert.equal(u64(counts.lookup(0)), BigInt(N));
    assert.equal(u64(counts.lookup(1)), BigInt(N + 3));

    // The same priority and handle again: EEXIST with the kernel's reason, unless replacing.
    assert.throws(() => attachTc(obj.programs.tc_count_other!, veth.hostIf, { direction: "egress", priority: 7, handle: 0x42 }),
      (e: unknown) => e instanceof NetlinkError && e.errno === 17);
    egress.update(obj.programs.tc_count_other!);
    assert.equal(egress.filters()[0]!.progId, obj.programs.tc_count_other!.info().id);
    await sendUdp(veth.peerIp, PORT, N);
    await settle();
    assert.equal(u64(counts.lookup(1)), BigInt(N + 3));
    assert.equal(u64(counts.lookup(2)), BigInt(N));
  } finally {
    ingress.close();
    assert.match(qdiscs(veth.hostIf), /clsact/, "the qdisc stays while a filter uses it");
    egress.close();
  }
  assert.deepEqual(listTcFilters(veth.hostIf, "ingress"), []);
  assert.deepEqual(listTcFilters(veth.hostIf, "egress"), []);
  assert.ok(!/clsact/.test(qdiscs(veth.hostIf)), "the qdisc tsbpf created is gone with its last filter");

  // A clsact qdisc that was there before is left in place.
  execFileSync("tc", ["qdisc", "add", "dev", veth.hostIf, "clsact"]);
  const again = attachTc(obj.programs.tc_count_ingress!, veth.hostIf, { direction: "ingress", mechanism: "netlink" });
  again.close();
  assert.match(qdiscs(veth.hostIf), /clsact/);
});

ktest("TC arguments: direction required for SEC(\"tc\"), no priority with tcx, classifier programs only", async () => {
  using veth = VethPair.create();
  using obj = await tcObj();
  const p = obj.programs.tc_count_ingress!;
  assert.throws(() => attachTc(p, veth.hostIf), (e: unknown) => e instanceof ArgumentError && /direction/.test(e.message));
  assert.throws(() => attachTc(p, veth.hostIf, { direction: "ingress", mechanism: "tcx", priority: 1 }), ArgumentError);
  assert.throws(() => attachTc(p, veth.hostIf, { direction: "ingress", priority: 0x10000 }), ArgumentError);
  using xdp = await loadObject(repoPath("test", "bpf", "net_xdp.bpf.o"));
  assert.throws(() => attachTc(xdp.programs.xdp_count_a!, veth.hostIf, { direction: "ingress" }), ArgumentError);
});

ktest("attachProgram with explicit targets attaches xdp and tc sections (what attachAll({ xdp, tc }) passes on)", async () => {
  using veth = VethPair.create();
  using tc = await tcObj();
  using xdp = await loadObject(repoPath("test", "bpf", "net_xdp.bpf.o"), { constants: { target_port: PORT } });
  assert.equal(attachProgram(tc.programs.tc_count_ingress!, tc.spec.programs.tc_count_ingress!), undefined, "no target, no attachment");
  const links = [
    attachProgram(tc.programs.tc_count_ingress!, tc.spec.programs.tc_count_ingress!, { tc: { iface: veth.hostIf, direction: "ingress" } })!,
    attachProgram(tc.programs.tc_count_egress!, tc.spec.programs.tc_count_egress!, { tc: { iface: veth.hostIf, direction: "egress", mechanism: "netlink" } })!,
    attachProgram(xdp.programs.xdp_count_a!, xdp.spec.programs.xdp_count_a!, { xdp: { iface: veth.hostIf, mode: "generic" } })!,
  ];
  try {
    assert.deepEqual(links.map((l) => [l.kind, l.mechanism]), [["tc", kernelHasTcx() ? "bpf_link(tcx)" : "netlink(clsact+cls_bpf)"], ["tc", "netlink(clsact+cls_bpf)"], ["xdp", "bpf_link(xdp)"]]);
    await veth.sendFromPeer(PORT, N);
    await sendUdp(veth.peerIp, PORT, 2);
    await settle();
    assert.equal(u64(tc.maps.counts!.lookup(0)), BigInt(N));
    assert.equal(u64(tc.maps.counts!.lookup(1)), 2n);
    assert.equal(u64(xdp.maps.counts!.lookup(0)), BigInt(N));
  } finally {
    for (const l of links) l.close();
  }
});
