// rtnetlink messages built and parsed in src/sys/net.ts: byte layouts, nested attributes,
// acknowledgements with extended ack text. Kernel-free, except that the struct sizes and offsets
// are checked against the running kernel's BTF when it has one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { loadKernelBtf } from "../../src/btf/index.js";
import {
  IflaXdp, Ifla, NlMsg, NlmF, NLA_F_NESTED, Tca, TcaBpf, TcH, XdpFlags,
  ifinfoMessage, parseAck, parseAttrs, parseMessages, attrStr, attrU32, tcHandle, tcMessage,
} from "../../src/sys/net.js";

const le = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

test("RTM_SETLINK with IFLA_XDP {FD, EXPECTED_FD, FLAGS}: header, ifinfomsg and a nested attribute, 4-byte aligned", () => {
  const m = ifinfoMessage(NlMsg.RTM_SETLINK, 0, 7).nest(Ifla.XDP).s32(IflaXdp.FD, -1).s32(IflaXdp.EXPECTED_FD, 9)
    .u32(IflaXdp.FLAGS, XdpFlags.SKB_MODE | XdpFlags.REPLACE).end().finish(42);
  const v = le(m);
  assert.equal(m.length, 16 + 16 + 4 + 3 * 8);
  assert.equal(v.getUint32(0, true), m.length, "nlmsg_len");
  assert.equal(v.getUint16(4, true), 19, "RTM_SETLINK");
  assert.equal(v.getUint32(8, true), 42, "seq");
  assert.equal(v.getInt32(16 + 4, true), 7, "ifi_index");
  assert.equal(v.getUint16(32, true), 4 + 24, "IFLA_XDP covers its children");
  assert.equal(v.getUint16(34, true), 43 | NLA_F_NESTED);
  const [msg] = parseMessages(m);
  const xdp = parseAttrs(parseAttrs(msg!.payload.subarray(16)).get(Ifla.XDP)!);
  assert.equal(le(xdp.get(IflaXdp.FD)!).getInt32(0, true), -1);
  assert.equal(attrU32(xdp.get(IflaXdp.EXPECTED_FD)), 9);
  assert.equal(attrU32(xdp.get(IflaXdp.FLAGS)), 0x12);
});

test("RTM_NEWTFILTER for a bpf filter: tcmsg fields, TCA_KIND and TCA_OPTIONS with padding after strings", () => {
  const parent = tcHandle(TcH.CLSACT, TcH.MIN_EGRESS);
  assert.equal(parent, 0xfffffff3);
  assert.equal(tcHandle(TcH.CLSACT, 0), 0xffff0000);
  const m = tcMessage(NlMsg.RTM_NEWTFILTER, NlmF.CREATE | NlmF.EXCL, { ifindex: 3, handle: 1, parent, info: tcHandle(5 << 16, 0x0300) })
    .str(Tca.KIND, "bpf").nest(Tca.OPTIONS).u32(TcaBpf.FD, 11).str(TcaBpf.NAME, "prog").u32(TcaBpf.FLAGS, 1).end().finish(1);
  const [msg] = parseMessages(m);
  assert.equal(msg!.type, 44);
  assert.equal(msg!.flags, 0x600);
  const v = le(msg!.payload);
  assert.deepEqual([v.getInt32(4, true), v.getUint32(8, true), v.getUint32(12, true), v.getUint32(16, true)], [3, 1, 0xfffffff3, 0x00050300]);
  const attrs = parseAttrs(msg!.payload.subarray(20));
  assert.equal(attrStr(attrs.get(Tca.KIND)), "bpf");
  const opts = parseAttrs(attrs.get(Tca.OPTIONS)!);
  assert.deepEqual([attrU32(opts.get(TcaBpf.FD)), attrStr(opts.get(TcaBpf.NAME)), attrU32(opts.get(TcaBpf.FLAGS))], [11, "prog", 1]);
  assert.equal(m.length % 4, 0);
});

/** An NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK and NETLINK_EXT_ACK on. */
function errorMessage(errno: number, seq: number, extack?: string, offset?: number): Uint8Array {
  const req = ifinfoMessage(NlMsg.RTM_SETLINK, NlmF.REQUEST | NlmF.ACK, 1).finish(seq).subarray(0, 16);
  const tlv: number[] = [];
  const add = (type: number, data: Uint8Array) => {
    const len = 4 + data.length;
    tlv.push(len & 0xff, len >> 8, type & 0xff, type >> 8, ...data, ...new Array((4 - (len % 4)) % 4).fill(0));
  };
  if (extack) add(1, new Uint8Array([...new TextEncoder().encode(extack), 0]));
  if (offset !== undefined) add(2, new Uint8Array(new Uint32Array([offset]).buffer));
  const total = 16 + 4 + 16 + tlv.length;
  const out = new Uint8Array(total);
  const v = le(out);
  v.setUint32(0, total, true);
  v.setUint16(4, NlMsg.ERROR, true);
  v.setUint16(6, NlmF.CAPPED | (tlv.length ? NlmF.ACK_TLVS : 0), true);
  v.setUint32(8, seq, true);
  v.setInt32(16, -errno, true);
  out.set(req, 20);
  out.set(tlv, 36);
  return out;
}

test("acks: errno, the request's sequence number, the extended ack message and offset", () => {
  const [m] = parseMessages(errorMessage(17, 99, "Native and generic XDP can't be active at the same time.", 36));
  assert.deepEqual(parseAck(m!), { errno: 17, seq: 99, extack: "Native and generic XDP can't be active at the same time.", offset: 36 });
  const [ok] = parseMessages(errorMessage(0, 5));
  assert.deepEqual(parseAck(ok!), { errno: 0, seq: 5 });
  // Several messages in one datagram, each aligned to 4 bytes.
  const two = new Uint8Array([...errorMessage(1, 1, "a"), ...errorMessage(2, 2, "bb")]);
  assert.deepEqual(parseMessages(two).map((x) => parseAck(x)), [{ errno: 1, seq: 1, extack: "a" }, { errno: 2, seq: 2, extack: "bb" }]);
  // Truncated input yields what is complete.
  assert.equal(parseMessages(two.subarray(0, two.length - 1)).length, 1);
});

test("struct nlmsghdr, ifinfomsg, tcmsg and nlmsgerr match the kernel's BTF", { skip: existsSync("/sys/kernel/btf/vmlinux") ? undefined : "no kernel BTF" }, () => {
  const btf = loadKernelBtf();
  const expect: Record<string, [number, Record<string, number>]> = {
    nlmsghdr: [16, { nlmsg_len: 0, nlmsg_type: 4, nlmsg_flags: 6, nlmsg_seq: 8, nlmsg_pid: 12 }],
    ifinfomsg: [16, { ifi_family: 0, ifi_type: 2, ifi_index: 4, ifi_flags: 8, ifi_change: 12 }],
    tcmsg: [20, { tcm_family: 0, tcm_ifindex: 4, tcm_handle: 8, tcm_parent: 12, tcm_info: 16 }],
    nlmsgerr: [20, { error: 0, msg: 4 }],
    nlattr: [4, { nla_len: 0, nla_type: 2 }],
  };
  for (const [name, [size, fields]] of Object.entries(expect)) {
    const id = btf.findByName(name, "struct");
    assert.ok(id, `struct ${name} in vmlinux BTF`);
    const t = btf.type(id);
    assert.equal((t as { size?: number }).size, size, `sizeof(struct ${name})`);
    for (const [f, off] of Object.entries(fields)) assert.equal(btf.findMember(id, f)!.bitOffset / 8, off, `${name}.${f}`);
  }
});
