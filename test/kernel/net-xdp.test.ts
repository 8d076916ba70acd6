/**
 * XDP on a veth pair made by the test: the host end stays here, the peer end lives in a network
 * namespace of the test's own; datagrams sent from the peer arrive at the host end's XDP hook.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { bpffsPath, ktest, linksGone, repoPath } from "../helpers/kernel.js";
import { VethPair } from "../helpers/netns.js";
import { ArgumentError, BpfError, loadObject } from "../../src/index.js";
import { attachXdp, queryXdp } from "../../src/link/xdp.js";
import { NetlinkError, XdpAttached } from "../../src/sys/net.js";

const PORT = 40000 + (process.pid % 20000);
const N = 23;
const u64 = (b: Uint8Array | undefined) => (b ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : undefined);
const netObj = () => loadObject(repoPath("test", "bpf", "net_xdp.bpf.o"), { constants: { target_port: PORT } });
const settle = () => new Promise((r) => setTimeout(r, 50));

ktest("XDP auto mechanism (a bpf_link, Linux 5.9+): counts exactly the datagrams sent across, update() swaps the program, close() detaches", async () => {
  using veth = VethPair.create();
  using obj = await netObj();
  const a = obj.programs.xdp_count_a!;
  const b = obj.programs.xdp_count_b!;
  const counts = obj.maps.counts!;
  {
    using link = attachXdp(a, veth.hostIf);
    assert.equal(link.mechanism, "bpf_link(xdp)");
    assert.equal(link.kind, "xdp");
    assert.equal(link.info().typeName, "xdp");
    assert.equal(link.info().progId, a.info().id);
    const q = queryXdp(veth.hostIf);
    assert.equal(q.attached, XdpAttached.DRV, "veth supports native XDP, which the kernel picks without a mode");
    assert.equal(q.progId, a.info().id);
    await veth.sendFromPeer(PORT, N);
    await veth.sendFromPeer(PORT + 1, 5); // another port: not counted
    await settle();
    assert.equal(u64(counts.lookup(0)), BigInt(N));
    link.update(b);
    await veth.sendFromPeer(PORT, N);
    await settle();
    assert.equal(u64(counts.lookup(0)), BigInt(N), "after update() the old program sees nothing");
    assert.equal(u64(counts.lookup(1)), BigInt(N));
  }
  assert.equal(queryXdp(veth.hostIf).attached, XdpAttached.NONE, "closing the link detached the program");
});

ktest("XDP netlink fallback (forced): generic mode, replace semantics, detach on close", async () => {
  using veth = VethPair.create();
  using obj = await netObj();
  const a = obj.programs.xdp_count_a!;
  const b = obj.programs.xdp_count_b!;
  const counts = obj.maps.counts!;
  const link = attachXdp(a, veth.hostIf, { mechanism: "netlink", mode: "generic" });
  try {
    assert.equal(link.mechanism, "netlink(IFLA_XDP)");
    assert.equal(link.mode, "generic");
    const q = link.query();
    assert.equal(q.attached, XdpAttached.SKB);
    assert.equal(q.genericProgId, a.info().id);
    await veth.sendFromPeer(PORT, N);
    await settle();
    assert.equal(u64(counts.lookup(0)), BigInt(N));

    // A second attach without replace leaves the first alone.
    assert.throws(() => attachXdp(b, veth.hostIf, { mechanism: "netlink", mode: "generic" }),
      (e: unknown) => e instanceof NetlinkError && e.errno === 16 && /replace: true/.test(e.message));
    // A bpf_link cannot take over an interface with a netlink-attached program.
    assert.throws(() => attachXdp(b, veth.hostIf, { mechanism: "link", mode: "generic" }), (e: unknown) => (e as { errno?: number }).errno === 16);
    // Native and generic at once: the kernel says why (extended ack).
    assert.throws(() => attachXdp(b, veth.hostIf, { mechanism: "netlink", mode: "driver", replace: true }),
      (e: unknown) => e instanceof NetlinkError && typeof e.extack === "string" && e.extack.length > 0 && e.message.includes(e.extack.replace(/\.$/, "")));
    // Replacing an expected program that is not the attached one fails (XDP_FLAGS_REPLACE).
    assert.throws(() => attachXdp(b, veth.hostIf, { mechanism: "netlink", mode: "generic", replace: b }),
      (e: unknown) => e instanceof NetlinkError && e.errno === 17);

    // update() replaces exactly our program.
    link.update(b);
    assert.equal(link.query().genericProgId, b.info().id);
    await veth.sendFromPeer(PORT, N);
    await settle();
    assert.equal(u64(counts.lookup(0)), BigInt(N));
    assert.equal(u64(counts.lookup(1)), BigInt(N));
  } finally {
    link.close();
  }
  assert.equal(queryXdp(veth.hostIf).attached, XdpAttached.NONE);

  // replace: <program> takes over from exactly that program; replace: true from whatever is there.
  const first = attachXdp(a, veth.hostIf, { mechanism: "netlink", mode: "generic" });
  const second = attachXdp(b, veth.hostIf, { mechanism: "auto", mode: "generic", replace: a });
  try {
    assert.equal(second.mechanism, "netlink(IFLA_XDP)", "replacing a given program is netlink's XDP_FLAGS_REPLACE");
    assert.throws(() => attachXdp(a, veth.hostIf, { mechanism: "link", replace: b }), ArgumentError);
    assert.equal(queryXdp(veth.hostIf).genericProgId, b.info().id);
    first.close(); // ours was replaced: closing must not detach the new one
    assert.equal(queryXdp(veth.hostIf).genericProgId, b.info().id);
    const third = attachXdp(a, veth.hostIf, { mechanism: "netlink", mode: "generic", replace: true });
    assert.equal(queryXdp(veth.hostIf).genericProgId, a.info().id);
    third.close();
  } finally {
    first.close();
    second.close();
  }
  assert.equal(queryXdp(veth.hostIf).attached, XdpAttached.NONE);
});

ktest("XDP by interface index, explicit modes, and the errors for bad targets", async () => {
  using veth = VethPair.create();
  using obj = await netObj();
  const a = obj.programs.xdp_count_a!;
  const { ifNameToIndex } = await import("../../src/sys/net.js");
  const ifindex = ifNameToIndex(veth.hostIf);
  {
    using link = attachXdp(a, ifindex, { mode: "driver" });
    assert.equal(link.iface, veth.hostIf);
    assert.equal(link.ifindex, ifindex);
    assert.equal(queryXdp(ifindex).driverProgId, a.info().id);
  }
  {
    using link = attachXdp(a, ifindex, { mode: "generic" });
    assert.equal(link.mechanism, "bpf_link(xdp)");
    assert.equal(queryXdp(ifindex).attached, XdpAttached.SKB);
    await veth.sendFromPeer(PORT, N);
    await settle();
    assert.equal(u64(obj.maps.counts!.lookup(0)), BigInt(N));
  }
  assert.throws(() => attachXdp(a, "tsbpf-nope0"), (e: unknown) => e instanceof BpfError && e.code === "E_NO_INTERFACE");
  assert.throws(() => attachXdp(a, 0x7ffffff0), (e: unknown) => e instanceof BpfError && e.code === "E_NO_INTERFACE");
  using other = await loadObject(repoPath("test", "bpf", "net_socket.bpf.o"));
  assert.throws(() => attachXdp(other.programs.udp_filter!, veth.hostIf), ArgumentError);
});

ktest("pinned XDP link: stays attached after close(), detached when the pin is removed", async () => {
  using veth = VethPair.create();
  using obj = await netObj();
  const counts = obj.maps.counts!;
  const path = bpffsPath("xdp");
  try {
    const link = attachXdp(obj.programs.xdp_count_a!, veth.hostIf, { mode: "generic" });
    const id = link.info().id;
    link.pin(path);
    link.close();
    assert.equal(queryXdp(veth.hostIf).genericProgId, obj.programs.xdp_count_a!.info().id, "still attached after close()");
    await veth.sendFromPeer(PORT, N);
    await settle();
    assert.equal(u64(counts.lookup(0)), BigInt(N), "and still counting");
    rmSync(path);
    await linksGone([id]);
    assert.equal(queryXdp(veth.hostIf).attached, XdpAttached.NONE);
    await veth.sendFromPeer(PORT, N);
    await settle();
    assert.equal(u64(counts.lookup(0)), BigInt(N));
  } finally {
    rmSync(path, { force: true });
  }
});

ktest("the seed's xdp_counter counts at least every datagram sent across", async () => {
  using veth = VethPair.create();
  using seed = await loadObject(repoPath("examples", "xdp_counter", "xdp_counter.bpf.o"));
  using link = attachXdp(seed.programs.count_packets!, veth.hostIf);
  assert.equal(link.mechanism, "bpf_link(xdp)");
  await veth.sendFromPeer(PORT, N);
  await settle();
  const total = u64(seed.maps.pkt_count!.lookup(0))!;
  assert.ok(total >= BigInt(N), `pkt_count ${total} < ${N} datagrams sent`);
});
