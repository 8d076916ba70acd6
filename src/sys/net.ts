/**
 * Networking system calls: rtnetlink (XDP on an interface, clsact qdiscs and cls_bpf filters for
 * kernels without bpf_link for them), socket options (SO_ATTACH_BPF) and interface names.
 *
 * The native layer only opens, sends and receives; every rtnetlink message is laid out and parsed
 * here. Layouts follow the kernel UAPI: `struct nlmsghdr` (16 bytes), `struct ifinfomsg` (16),
 * `struct tcmsg` (20), `struct nlattr` (4-byte header, 4-byte aligned), `struct nlmsgerr`.
 * Failures carry the kernel's extended ack text (NETLINK_EXT_ACK) when it gave one.
 */
import { ArgumentError, BpfError, SyscallError, errnoMessage, errnoName } from "../errors.js";
import { native, type NativeBinding } from "./native.js";
import { FD } from "./fd.js";

/** The native functions of native/net.c. Each returns a non-negative result or -errno. */
export interface NetBinding {
  netlinkOpen(protocol: number): number;
  netlinkSend(fd: number, message: Uint8Array): number;
  netlinkRecv(fd: number, buffer: Uint8Array, timeoutMs: number): number;
  setsockoptInt(fd: number, level: number, name: number, value: number): number;
  getsockoptInt(fd: number, level: number, name: number): number;
  ifNameToIndex(name: string): number;
  ifIndexToName(index: number): string | number;
}

function net(): NativeBinding & NetBinding {
  return native() as NativeBinding & NetBinding;
}

// ---------------------------------------------------------------------------------------------
// Constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/pkt_sched.h, pkt_cls.h)

export const NETLINK_ROUTE = 0;
export const SOL_SOCKET = 1;
export const SOL_NETLINK = 270;
export const SO_ATTACH_BPF = 50;
export const SO_DETACH_BPF = 27;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;

/** nlmsghdr.nlmsg_flags */
export const NlmF = {
  REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, ECHO: 0x8, DUMP_INTR: 0x10,
  ROOT: 0x100, MATCH: 0x200, DUMP: 0x300,
  REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400, APPEND: 0x800,
  /** In an NLMSG_ERROR: the echoed request was cut to its header. */
  CAPPED: 0x100,
  /** In an NLMSG_ERROR: extended ack attributes follow. */
  ACK_TLVS: 0x200,
} as const;

/** Netlink control and rtnetlink message types. */
export const NlMsg = {
  NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4,
  RTM_NEWLINK: 16, RTM_DELLINK: 17, RTM_GETLINK: 18, RTM_SETLINK: 19,
  RTM_NEWQDISC: 36, RTM_DELQDISC: 37, RTM_GETQDISC: 38,
  RTM_NEWTFILTER: 44, RTM_DELTFILTER: 45, RTM_GETTFILTER: 46,
} as const;

const msgNames: Record<number, string> = Object.fromEntries(Object.entries(NlMsg).map(([k, v]) => [v, k.startsWith("RTM_") ? k : `NLMSG_${k}`]));

/** enum nlmsgerr_attrs */
export const NlmsgErrAttr = { MSG: 1, OFFS: 2, COOKIE: 3, POLICY: 4, MISS_TYPE: 5, MISS_NEST: 6 } as const;

/** Attribute type flags, masked off when parsing. */
export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

/** IFLA_* link attributes used here. */
export const Ifla = { IFNAME: 3, XDP: 43 } as const;

/** IFLA_XDP_* (nested in IFLA_XDP). */
export const IflaXdp = {
  FD: 1, ATTACHED: 2, FLAGS: 3, PROG_ID: 4, DRV_PROG_ID: 5, SKB_PROG_ID: 6, HW_PROG_ID: 7, EXPECTED_FD: 8,
} as const;

/** XDP_FLAGS_* */
export const XdpFlags = {
  UPDATE_IF_NOEXIST: 1 << 0, SKB_MODE: 1 << 1, DRV_MODE: 1 << 2, HW_MODE: 1 << 3, REPLACE: 1 << 4,
  MODES: (1 << 1) | (1 << 2) | (1 << 3),
} as const;

/** XDP_ATTACHED_* (the value of IFLA_XDP_ATTACHED). */
export const XdpAttached = { NONE: 0, DRV: 1, SKB: 2, HW: 3, MULTI: 4 } as const;

/** TCA_* attributes of qdisc and filter messages. */
export const Tca = { KIND: 1, OPTIONS: 2, CHAIN: 11 } as const;

/** TCA_BPF_* (nested in TCA_OPTIONS of a "bpf" filter). */
export const TcaBpf = {
  ACT: 1, POLICE: 2, CLASSID: 3, OPS_LEN: 4, OPS: 5, FD: 6, NAME: 7, FLAGS: 8, FLAGS_GEN: 9, TAG: 10, ID: 11,
} as const;

/** TCA_BPF_FLAG_ACT_DIRECT: the program's return value is the tc action (direct-action mode). */
export const TCA_BPF_FLAG_ACT_DIRECT = 1;

/** Traffic-control handles (linux/pkt_sched.h). */
export const TcH = {
  ROOT: 0xffffffff, CLSACT: 0xfffffff1, MIN_INGRESS: 0xfff2, MIN_EGRESS: 0xfff3,
} as const;

/** TC_H_MAKE(major, minor) as an unsigned 32-bit value. */
export function tcHandle(major: number, minor: number): number {
  return ((major & 0xffff0000) | (minor & 0xffff)) >>> 0;
}

/** ETH_P_ALL in network byte order, as tcm_info wants it. */
export const ETH_P_ALL_BE = 0x0300;

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * A netlink request failed. `errno` is the kernel's error; `extack` is the kernel's own
 * explanation (extended ack) when it sent one, e.g. "Native and generic XDP can't be active at the
 * same time."
 */
export class NetlinkError extends SyscallError {
  readonly extack?: string;
  constructor(command: string, errno: number, context: string, extack?: string) {
    const why = extack ? `${extack.replace(/\.?$/, "")} (${errnoName(errno)})` : `${errnoMessage(errno)} (${errnoName(errno)})`;
    super(command, errno, `${context}: ${command} failed: ${why}`);
    this.extack = extack;
  }
}

// ---------------------------------------------------------------------------------------------
// Message building

const enc = new TextEncoder();
const dec = new TextDecoder();
const align4 = (n: number) => (n + 3) & ~3;

/**
 * Builds one netlink message: header, a fixed family header (ifinfomsg, tcmsg), then attributes.
 * Nested attributes are opened with `nest()` and closed with `end()`.
 */
export class NlMessageBuilder {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = 16;
  #nests: number[] = [];

  constructor(readonly type: number, readonly flags: number) {}

  #reserve(n: number): number {
    const need = this.#len + align4(n);
    if (need > this.#buf.length) {
      const bigger = new Uint8Array(Math.max(need, this.#buf.length * 2));
      bigger.set(this.#buf);
      this.#buf = bigger;
      this.#view = new DataView(bigger.buffer);
    }
    const at = this.#len;
    this.#len = need;
    return at;
  }

  /** Appends a fixed header laid out by `fill` (e.g. a 16-byte ifinfomsg). */
  header(size: number, fill: (v: DataView, off: number) => void): this {
    const at = this.#reserve(size);
    fill(this.#view, at);
    return this;
  }

  /** Appends an attribute with raw bytes. */
  attr(type: number, data: Uint8Array): this {
    const at = this.#reserve(4 + data.length);
    this.#view.setUint16(at, 4 + data.length, true);
    this.#view.setUint16(at + 2, type, true);
    this.#buf.set(data, at + 4);
    return this;
  }

  u8(type: number, v: number): this {
    return this.attr(type, Uint8Array.of(v & 0xff));
  }

  u32(type: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.attr(type, b);
  }

  s32(type: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    return this.attr(type, b);
  }

  /** A NUL-terminated string attribute. */
  str(type: number, s: string): this {
    const e = enc.encode(s);
    const b = new Uint8Array(e.length + 1);
    b.set(e);
    return this.attr(type, b);
  }

  /** Opens a nested attribute (NLA_F_NESTED is set). */
  nest(type: number): this {
    const at = this.#reserve(4);
    this.#view.setUint16(at + 2, type | NLA_F_NESTED, true);
    this.#nests.push(at);
    return this;
  }

  /** Closes the innermost nested attribute. */
  end(): this {
    const at = this.#nests.pop();
    if (at === undefined) throw new Error("NlMessageBuilder.end() without nest()");
    this.#view.setUint16(at, this.#len - at, true);
    return this;
  }

  /** The finished message with its sequence number. */
  finish(seq: number): Uint8Array {
    if (this.#nests.length) throw new Error("NlMessageBuilder.finish() with an open nest");
    this.#view.setUint32(0, this.#len, true);
    this.#view.setUint16(4, this.type, true);
    this.#view.setUint16(6, this.flags, true);
    this.#view.setUint32(8, seq >>> 0, true);
    this.#view.setUint32(12, 0, true);
    return this.#buf.slice(0, this.#len);
  }
}

/** Starts an `ifinfomsg` message for interface `ifindex`. */
export function ifinfoMessage(type: number, flags: number, ifindex: number): NlMessageBuilder {
  return new NlMessageBuilder(type, flags).header(16, (v, o) => {
    v.setUint8(o, 0); // AF_UNSPEC
    v.setInt32(o + 4, ifindex, true);
  });
}

/** Starts a `tcmsg` message. */
export function tcMessage(type: number, flags: number, t: { ifindex: number; handle: number; parent: number; info: number }): NlMessageBuilder {
  return new NlMessageBuilder(type, flags).header(20, (v, o) => {
    v.setUint8(o, 0); // AF_UNSPEC
    v.setInt32(o + 4, t.ifindex, true);
    v.setUint32(o + 8, t.handle >>> 0, true);
    v.setUint32(o + 12, t.parent >>> 0, true);
    v.setUint32(o + 16, t.info >>> 0, true);
  });
}

// ---------------------------------------------------------------------------------------------
// Message parsing

/** One received netlink message; `payload` is everything after the 16-byte header. */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Uint8Array;
}

/** Splits a datagram into its netlink messages. */
export function parseMessages(buf: Uint8Array): NlMessage[] {
  const out: NlMessage[] = [];
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = v.getUint32(off, true);
    if (len < 16 || off + len > buf.length) break;
    out.push({
      type: v.getUint16(off + 4, true), flags: v.getUint16(off + 6, true),
      seq: v.getUint32(off + 8, true), pid: v.getUint32(off + 12, true),
      payload: buf.subarray(off + 16, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Parses a run of attributes into type -> payload (the last one wins; nested flags masked off). */
export function parseAttrs(bytes: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off + 4 <= bytes.length) {
    const len = v.getUint16(off, true);
    if (len < 4 || off + len > bytes.length) break;
    out.set(v.getUint16(off + 2, true) & NLA_TYPE_MASK, bytes.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/** Reads a u32 attribute payload. */
export function attrU32(a: Uint8Array | undefined): number | undefined {
  return a && a.length >= 4 ? new DataView(a.buffer, a.byteOffset, 4).getUint32(0, true) : undefined;
}

/** Reads a NUL-terminated string attribute payload. */
export function attrStr(a: Uint8Array | undefined): string | undefined {
  if (!a) return undefined;
  const end = a.indexOf(0);
  return dec.decode(end < 0 ? a : a.subarray(0, end));
}

/** The decoded contents of an NLMSG_ERROR message (error 0 is an acknowledgement). */
export interface NlAck {
  /** 0 on success, otherwise a positive errno. */
  errno: number;
  /** Sequence number of the request it answers. */
  seq: number;
  /** The kernel's extended ack message, if any (also sent with warnings on success). */
  extack?: string;
  /** Offset in the request of the attribute the kernel objected to. */
  offset?: number;
}

/** Decodes an NLMSG_ERROR message: the error, the echoed request's sequence, and extended ack attributes. */
export function parseAck(m: NlMessage): NlAck {
  const v = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
  const error = v.getInt32(0, true);
  const reqLen = m.payload.length >= 8 ? v.getUint32(4, true) : 16;
  const seq = m.payload.length >= 16 ? v.getUint32(12, true) : m.seq;
  const ack: NlAck = { errno: error === 0 ? 0 : -error, seq };
  if (m.flags & NlmF.ACK_TLVS) {
    const start = 4 + (m.flags & NlmF.CAPPED ? 16 : align4(reqLen));
    const attrs = parseAttrs(m.payload.subarray(Math.min(start, m.payload.length)));
    const msg = attrStr(attrs.get(NlmsgErrAttr.MSG));
    if (msg) ack.extack = msg;
    const off = attrU32(attrs.get(NlmsgErrAttr.OFFS));
    if (off !== undefined) ack.offset = off;
  }
  return ack;
}

// ---------------------------------------------------------------------------------------------
// The socket

let nextSeq = (Date.now() & 0x7fffffff) >>> 0;
const RECV_SIZE = 256 * 1024;
const TIMEOUT_MS = 5000;

/** What a request returned: the messages before the acknowledgement, and any warning text. */
export interface NlReply {
  messages: NlMessage[];
  warning?: string;
}

/**
 * A NETLINK_ROUTE socket with extended acks on. Requests are synchronous: send, then read until
 * the kernel acknowledges (or, for dumps, until NLMSG_DONE).
 */
export class NetlinkSocket {
  readonly fd: FD;
  #buf = new Uint8Array(RECV_SIZE);

  private constructor(fd: FD) {
    this.fd = fd;
  }

  /** Opens a socket of `protocol` (default NETLINK_ROUTE) with NETLINK_EXT_ACK and NETLINK_CAP_ACK set. */
  static open(protocol = NETLINK_ROUTE): NetlinkSocket {
    const r = net().netlinkOpen(protocol);
    if (r < 0) throw new SyscallError("socket(AF_NETLINK)", -r);
    const s = new NetlinkSocket(new FD(r, "netlink socket"));
    // Both are best effort: kernels before 4.12 have no extended acks, and the requests work anyway.
    net().setsockoptInt(r, SOL_NETLINK, NETLINK_EXT_ACK, 1);
    net().setsockoptInt(r, SOL_NETLINK, NETLINK_CAP_ACK, 1);
    return s;
  }

  /**
   * Sends `msg` (built without a sequence number) with NLM_F_ACK, and returns the messages that
   * came before the ack (with `dump`: sets NLM_F_DUMP and reads until NLMSG_DONE). Throws
   * NetlinkError with the kernel's extended ack text on failure.
   */
  request(msg: NlMessageBuilder, context: string, opts: { dump?: boolean } = {}): NlReply {
    const seq = nextSeq = (nextSeq + 1) >>> 0;
    const command = msgNames[msg.type] ?? `netlink message ${msg.type}`;
    const bytes = msg.finish(seq);
    new DataView(bytes.buffer).setUint16(6, msg.flags | NlmF.REQUEST | NlmF.ACK | (opts.dump ? NlmF.DUMP : 0), true);
    const dump = opts.dump === true;
    const sent = net().netlinkSend(this.fd.value, bytes);
    if (sent < 0) throw new NetlinkError(command, -sent, context);
    const messages: NlMessage[] = [];
    let warning: string | undefined;
    for (;;) {
      const n = net().netlinkRecv(this.fd.value, this.#buf, TIMEOUT_MS);
      if (n < 0) {
        if (-n === 11) throw new BpfError("E_NETLINK_TIMEOUT", `${context}: ${command}: the kernel did not answer within ${TIMEOUT_MS} ms`);
        throw new NetlinkError(command, -n, context);
      }
      for (const m of parseMessages(this.#buf.subarray(0, n))) {
        if (m.seq !== seq) continue; // a stale answer to an earlier request on this socket
        if (m.type === NlMsg.ERROR) {
          const ack = parseAck(m);
          if (ack.errno !== 0) throw new NetlinkError(command, ack.errno, context, ack.extack);
          warning = ack.extack;
          if (!dump) return { messages, warning };
          continue;
        }
        if (m.type === NlMsg.DONE) return { messages, warning };
        if (m.type === NlMsg.NOOP) continue;
        messages.push({ ...m, payload: m.payload.slice() }); // the receive buffer is reused
      }
    }
  }

  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Runs one request on a fresh NETLINK_ROUTE socket. */
export function rtnlRequest(msg: NlMessageBuilder, context: string, opts: { dump?: boolean } = {}): NlReply {
  using s = NetlinkSocket.open();
  return s.request(msg, context, opts);
}

// ---------------------------------------------------------------------------------------------
// Interfaces

/** The index of interface `name` in this process's network namespace. Throws BpfError(E_NO_INTERFACE). */
export function ifNameToIndex(name: string): number {
  if (!name || name.length >= 16 || /[\s/]/.test(name)) {
    throw new ArgumentError(`look up interface "${name}": an interface name has 1 to 15 characters without spaces or '/'`);
  }
  const r = net().ifNameToIndex(name);
  if (r < 0) {
    throw new BpfError("E_NO_INTERFACE", `look up interface ${name}: there is no such interface in this network namespace (${errnoName(-r)}); \`ip link\` lists them`);
  }
  return r;
}

/** The name of interface `index`, or undefined when there is none. */
export function ifIndexToName(index: number): string | undefined {
  const r = net().ifIndexToName(index);
  return typeof r === "string" ? r : undefined;
}

/** An interface given by name or index, resolved to both. */
export function resolveInterface(iface: string | number, what: string): { ifindex: number; name: string } {
  if (typeof iface === "number") {
    if (!Number.isInteger(iface) || iface <= 0) throw new ArgumentError(`${what}: interface index ${iface} is not a positive integer`);
    const name = ifIndexToName(iface);
    if (name === undefined) throw new BpfError("E_NO_INTERFACE", `${what}: there is no interface with index ${iface} in this network namespace; \`ip link\` lists them`);
    return { ifindex: iface, name };
  }
  return { ifindex: ifNameToIndex(iface), name: iface };
}

// ---------------------------------------------------------------------------------------------
// Socket options

/** setsockopt(fd, level, name, &int). Throws SyscallError. */
export function setSocketOption(fd: number, level: number, name: number, value: number, context: string): void {
  const r = net().setsockoptInt(fd, level, name, value);
  if (r < 0) {
    const e = new SyscallError("setsockopt", -r);
    throw new SyscallError("setsockopt", -r, `${context}: ${e.message}`);
  }
}

/** getsockopt(fd, level, name) as an int. Returns -errno on failure. */
export function getSocketOption(fd: number, level: number, name: number): number {
  return net().getsockoptInt(fd, level, name);
}

/** SO_ATTACH_BPF: runs `progFd` (a socket filter program) on every packet `socketFd` receives. */
export function socketAttachBpf(socketFd: number, progFd: number, context = "attach socket filter"): void {
  setSocketOption(socketFd, SOL_SOCKET, SO_ATTACH_BPF, progFd, context);
}

/** SO_DETACH_BPF: removes the socket's filter. Returns 0 or -errno (ENOENT when none is attached). */
export function socketDetachBpf(socketFd: number): number {
  return net().setsockoptInt(socketFd, SOL_SOCKET, SO_DETACH_BPF, 0);
}

// ---------------------------------------------------------------------------------------------
// XDP over rtnetlink

/** RTM_SETLINK with IFLA_XDP: attaches `fd` (-1 detaches) with XDP_FLAGS_*; `expectedFd` adds XDP_FLAGS_REPLACE. */
export function xdpSetLink(ifindex: number, fd: number, flags: number, expectedFd: number | undefined, context: string): NlReply {
  const m = ifinfoMessage(NlMsg.RTM_SETLINK, 0, ifindex).nest(Ifla.XDP).s32(IflaXdp.FD, fd);
  if (expectedFd !== undefined) {
    flags |= XdpFlags.REPLACE;
    m.s32(IflaXdp.EXPECTED_FD, expectedFd);
  }
  if (flags) m.u32(IflaXdp.FLAGS, flags);
  m.end();
  return rtnlRequest(m, context);
}

/** What is attached at an interface's XDP hook (RTM_GETLINK, IFLA_XDP). */
export interface XdpQuery {
  /** XDP_ATTACHED_*: 0 none, 1 driver, 2 generic (skb), 3 offload, 4 several. */
  attached: number;
  /** The program id when exactly one mode is in use. */
  progId: number;
  driverProgId: number;
  genericProgId: number;
  offloadProgId: number;
}

/** Reads the XDP state of interface `ifindex`. */
export function xdpQuery(ifindex: number): XdpQuery {
  const { messages } = rtnlRequest(ifinfoMessage(NlMsg.RTM_GETLINK, 0, ifindex), `query XDP on interface ${ifindex}`);
  const link = messages.find((m) => m.type === NlMsg.RTM_NEWLINK);
  const q: XdpQuery = { attached: 0, progId: 0, driverProgId: 0, genericProgId: 0, offloadProgId: 0 };
  if (!link) return q;
  const xdp = parseAttrs(link.payload.subarray(16)).get(Ifla.XDP);
  if (!xdp) return q;
  const a = parseAttrs(xdp);
  q.attached = a.get(IflaXdp.ATTACHED)?.[0] ?? 0;
  q.progId = attrU32(a.get(IflaXdp.PROG_ID)) ?? 0;
  q.driverProgId = attrU32(a.get(IflaXdp.DRV_PROG_ID)) ?? (q.attached === XdpAttached.DRV ? q.progId : 0);
  q.genericProgId = attrU32(a.get(IflaXdp.SKB_PROG_ID)) ?? (q.attached === XdpAttached.SKB ? q.progId : 0);
  q.offloadProgId = attrU32(a.get(IflaXdp.HW_PROG_ID)) ?? (q.attached === XdpAttached.HW ? q.progId : 0);
  return q;
}

// ---------------------------------------------------------------------------------------------
// TC over rtnetlink: clsact qdisc and cls_bpf filters

/**
 * Adds a clsact qdisc to `ifindex`. Returns true when this call created it, false when one was
 * already there (EEXIST).
 */
export function tcClsactAdd(ifindex: number, context: string): boolean {
  const m = tcMessage(NlMsg.RTM_NEWQDISC, NlmF.CREATE | NlmF.EXCL, { ifindex, handle: tcHandle(TcH.CLSACT, 0), parent: TcH.CLSACT, info: 0 })
    .str(Tca.KIND, "clsact");
  try {
    rtnlRequest(m, context);
    return true;
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === 17) return false;
    throw e;
  }
}

/** Deletes the clsact qdisc of `ifindex` (and every filter on it). */
export function tcClsactDel(ifindex: number, context: string): void {
  rtnlRequest(tcMessage(NlMsg.RTM_DELQDISC, 0, { ifindex, handle: tcHandle(TcH.CLSACT, 0), parent: TcH.CLSACT, info: 0 }).str(Tca.KIND, "clsact"), context);
}

/** A filter as the kernel reports it. */
export interface TcFilter {
  kind: string;
  handle: number;
  priority: number;
  /** Protocol in network byte order as in tcm_info (0x0300 = ETH_P_ALL). */
  protocol: number;
  /** For "bpf" filters: the program id, name and TCA_BPF_FLAGS. */
  progId?: number;
  name?: string;
  bpfFlags?: number;
}

function parseFilter(m: NlMessage): TcFilter {
  const v = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
  const info = v.getUint32(16, true);
  const attrs = parseAttrs(m.payload.subarray(20));
  const f: TcFilter = { kind: attrStr(attrs.get(Tca.KIND)) ?? "", handle: v.getUint32(8, true), priority: info >>> 16, protocol: info & 0xffff };
  const opts = attrs.get(Tca.OPTIONS);
  if (opts && f.kind === "bpf") {
    const o = parseAttrs(opts);
    f.progId = attrU32(o.get(TcaBpf.ID));
    f.name = attrStr(o.get(TcaBpf.NAME));
    f.bpfFlags = attrU32(o.get(TcaBpf.FLAGS));
  }
  return f;
}

export interface TcFilterAttr {
  ifindex: number;
  /** TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS or TC_H_MIN_EGRESS). */
  parent: number;
  /** 0: the kernel picks one. */
  handle: number;
  /** 0: the kernel picks one. */
  priority: number;
  progFd: number;
  name: string;
  /** Replace the filter at (priority, handle) instead of failing with EEXIST. */
  replace?: boolean;
}

/**
 * RTM_NEWTFILTER of kind "bpf" in direct-action mode. Returns the handle and priority the filter
 * got (the kernel echoes the new filter back).
 */
export function tcFilterAdd(a: TcFilterAttr, context: string): { handle: number; priority: number } {
  const flags = NlmF.CREATE | NlmF.ECHO | (a.replace ? NlmF.REPLACE : NlmF.EXCL);
  const m = tcMessage(NlMsg.RTM_NEWTFILTER, flags, { ifindex: a.ifindex, handle: a.handle, parent: a.parent, info: tcHandle(a.priority << 16, ETH_P_ALL_BE) })
    .str(Tca.KIND, "bpf")
    .nest(Tca.OPTIONS)
    .u32(TcaBpf.FD, a.progFd)
    .str(TcaBpf.NAME, a.name)
    .u32(TcaBpf.FLAGS, TCA_BPF_FLAG_ACT_DIRECT)
    .end();
  const { messages } = rtnlRequest(m, context);
  const echo = messages.find((x) => x.type === NlMsg.RTM_NEWTFILTER);
  if (!echo) return { handle: a.handle, priority: a.priority };
  const f = parseFilter(echo);
  return { handle: f.handle, priority: f.priority };
}

/** RTM_DELTFILTER of one "bpf" filter. */
export function tcFilterDel(a: { ifindex: number; parent: number; handle: number; priority: number }, context: string): void {
  const m = tcMessage(NlMsg.RTM_DELTFILTER, 0, { ifindex: a.ifindex, handle: a.handle, parent: a.parent, info: tcHandle(a.priority << 16, ETH_P_ALL_BE) })
    .str(Tca.KIND, "bpf");
  rtnlRequest(m, context);
}

/** Lists the filters under `parent` of `ifindex` (RTM_GETTFILTER dump). Entries with handle 0 (priority heads) are left out. */
export function tcFilterList(ifindex: number, parent: number, context = `list tc filters of interface ${ifindex}`): TcFilter[] {
  const m = tcMessage(NlMsg.RTM_GETTFILTER, 0, { ifindex, handle: 0, parent, info: 0 });
  try {
    return rtnlRequest(m, context, { dump: true }).messages.filter((x) => x.type === NlMsg.RTM_NEWTFILTER).map(parseFilter).filter((f) => f.handle !== 0);
  } catch (e) {
    // No clsact qdisc (EINVAL) or no such parent: no filters.
    if (e instanceof NetlinkError && (e.errno === 22 || e.errno === 2)) return [];
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Descriptors

/** A close-on-exec duplicate of `fd`, owned by the returned FD. */
export function dupFd(fd: number, what: string): FD {
  const r = net().dup(fd);
  if (r < 0) throw new SyscallError("fcntl(F_DUPFD_CLOEXEC)", -r, `duplicate ${what}: ${new SyscallError("fcntl", -r).message}`);
  return new FD(r, what);
}
