/**
 * Kind-specific fields of `struct bpf_link_info`, for the link kinds whose info the kernel fills:
 * raw_tracepoint / tp_btf (tracepoint name), tracing (attach type, target object and BTF id),
 * iter (target name, map id, task/cgroup), perf_event (uprobe file and offset, kprobe function,
 * tracepoint name, or event type/config), kprobe_multi (addresses, count, missed), uprobe_multi
 * (path, offsets, cookies, pid). Pointers in the struct are filled by a second call with buffers.
 *
 * @example
 * ```ts
 * const d = linkDetails(link);
 * if (d.kind === "perf_event" && d.perf.type === "uprobe") console.log(d.perf.file, d.perf.offset);
 * ```
 */
import { objGetInfoByFd, pointerTo, cstringAt } from "../sys/bpf.js";
import { LinkType, attachTypeName } from "../spec/kernel-enums.js";
import { ArgumentError } from "../errors.js";
import { LinkGroup, readLinkInfo, type Link, type LinkInfo } from "./link.js";

/** bpf_perf_event_type */
const PerfEventKind: Record<number, string> = { 0: "unspec", 1: "uprobe", 2: "uretprobe", 3: "kprobe", 4: "kretprobe", 5: "tracepoint", 6: "event" };

export type LinkDetails = LinkInfo & (
  | { kind: "raw_tracepoint"; tracepoint: string; cookie: bigint }
  | { kind: "tracing"; attachType: number; attachTypeName: string; targetObjId: number; targetBtfId: number; cookie: bigint }
  | { kind: "iter"; target: string; mapId?: number; task?: { tid: number; pid: number }; cgroup?: { id: bigint; order: number } }
  | { kind: "perf_event"; perf: PerfEventDetails }
  | { kind: "kprobe_multi"; count: number; flags: number; retprobe: boolean; missed: bigint; addresses: bigint[]; cookies: bigint[] }
  | { kind: "uprobe_multi"; path: string; count: number; flags: number; retprobe: boolean; pid: number; offsets: bigint[]; refCtrOffsets: bigint[]; cookies: bigint[] }
  | { kind: "other" }
);

export type PerfEventDetails =
  | { type: "uprobe" | "uretprobe"; file: string; offset: number; cookie: bigint; refCtrOffset: bigint }
  | { type: "kprobe" | "kretprobe"; func: string; offset: number; address: bigint; missed: bigint; cookie: bigint }
  | { type: "tracepoint"; tracepoint: string; cookie: bigint }
  | { type: "event"; eventType: number; config: bigint; cookie: bigint }
  | { type: "unspec" };

const SIZE = 128;

function query(fd: number, setup: (v: DataView) => void): DataView {
  const buf = new Uint8Array(SIZE);
  const v = new DataView(buf.buffer);
  setup(v);
  objGetInfoByFd(fd, buf, "link");
  return v;
}

/** Decodes the kind-specific part of a link's info. Throws ArgumentError for links without a bpf_link fd. */
export function linkDetails(link: Link | number): LinkDetails {
  let fd: number;
  if (typeof link === "number") fd = link;
  else if (link.linkFd) fd = link.linkFd.value;
  else if (link instanceof LinkGroup) throw new ArgumentError(`read info of ${link.kind} link ${link.target}: it is a group of ${link.links.length} links (${link.mechanism}); call linkDetails on each of its links`);
  else throw new ArgumentError(`read info of ${link.kind} link ${link.target}: attached with ${link.mechanism}, not a bpf_link`);
  const base = readLinkInfo(fd);
  const v0 = new DataView(base.raw.buffer);
  switch (base.type) {
    case LinkType.RAW_TRACEPOINT: {
      const len = v0.getUint32(24, true);
      const name = new Uint8Array(Math.max(len, 1) + 1);
      const v = query(fd, (q) => {
        q.setBigUint64(16, pointerTo(name), true);
        q.setUint32(24, name.length, true);
      });
      return { ...base, kind: "raw_tracepoint", tracepoint: cstringAt(name), cookie: v.getBigUint64(32, true) };
    }
    case LinkType.TRACING: {
      const at = v0.getUint32(16, true);
      return { ...base, kind: "tracing", attachType: at, attachTypeName: attachTypeName(at)?.toLowerCase() ?? `${at}`, targetObjId: v0.getUint32(20, true), targetBtfId: v0.getUint32(24, true), cookie: v0.getBigUint64(32, true) };
    }
    case LinkType.ITER: {
      const name = new Uint8Array(64);
      const v = query(fd, (q) => {
        q.setBigUint64(16, pointerTo(name), true);
        q.setUint32(24, name.length, true);
      });
      const target = cstringAt(name);
      const out: LinkDetails = { ...base, kind: "iter", target };
      const mapId = v.getUint32(28, true);
      if (mapId) out.mapId = mapId;
      if (/^task/.test(target)) out.task = { tid: v.getUint32(32, true), pid: v.getUint32(36, true) };
      if (target === "cgroup") out.cgroup = { id: v.getBigUint64(32, true), order: v.getUint32(40, true) };
      return out;
    }
    case LinkType.PERF_EVENT:
      return { ...base, kind: "perf_event", perf: perfDetails(fd, v0) };
    case LinkType.KPROBE_MULTI: {
      const count = v0.getUint32(24, true);
      const addrs = new BigUint64Array(count);
      const cookies = new BigUint64Array(count);
      const v = query(fd, (q) => {
        q.setBigUint64(16, count ? pointerTo(addrs) : 0n, true);
        q.setUint32(24, count, true);
        q.setBigUint64(40, count ? pointerTo(cookies) : 0n, true);
      });
      const flags = v.getUint32(28, true);
      return { ...base, kind: "kprobe_multi", count, flags, retprobe: (flags & 1) !== 0, missed: v.getBigUint64(32, true), addresses: [...addrs], cookies: [...cookies] };
    }
    case LinkType.UPROBE_MULTI: {
      const pathSize = v0.getUint32(48, true);
      const count = v0.getUint32(52, true);
      const path = new Uint8Array(Math.max(pathSize, 1));
      const offsets = new BigUint64Array(count);
      const refs = new BigUint64Array(count);
      const cookies = new BigUint64Array(count);
      const v = query(fd, (q) => {
        q.setBigUint64(16, pointerTo(path), true);
        q.setBigUint64(24, count ? pointerTo(offsets) : 0n, true);
        q.setBigUint64(32, count ? pointerTo(refs) : 0n, true);
        q.setBigUint64(40, count ? pointerTo(cookies) : 0n, true);
        q.setUint32(48, path.length, true);
        q.setUint32(52, count, true);
      });
      const flags = v.getUint32(56, true);
      return { ...base, kind: "uprobe_multi", path: cstringAt(path), count, flags, retprobe: (flags & 1) !== 0, pid: v.getUint32(60, true), offsets: [...offsets], refCtrOffsets: [...refs], cookies: [...cookies] };
    }
    default:
      return { ...base, kind: "other" };
  }
}

function perfDetails(fd: number, v0: DataView): PerfEventDetails {
  const type = PerfEventKind[v0.getUint32(16, true)] ?? "unspec";
  const name = new Uint8Array(4096);
  const withName = () => query(fd, (q) => {
    q.setBigUint64(24, pointerTo(name), true);
    q.setUint32(32, name.length, true);
  });
  switch (type) {
    case "uprobe":
    case "uretprobe": {
      const v = withName();
      return { type, file: cstringAt(name), offset: v.getUint32(36, true), cookie: v.getBigUint64(40, true), refCtrOffset: v.getBigUint64(48, true) };
    }
    case "kprobe":
    case "kretprobe": {
      const v = withName();
      return { type, func: cstringAt(name), offset: v.getUint32(36, true), address: v.getBigUint64(40, true), missed: v.getBigUint64(48, true), cookie: v.getBigUint64(56, true) };
    }
    case "tracepoint": {
      const v = withName();
      return { type, tracepoint: cstringAt(name), cookie: v.getBigUint64(40, true) };
    }
    case "event":
      return { type, config: v0.getBigUint64(24, true), eventType: v0.getUint32(32, true), cookie: v0.getBigUint64(40, true) };
    default:
      return { type: "unspec" };
  }
}
