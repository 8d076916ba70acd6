/** `tsbpf link list|show|pin`: the bpf_links in the kernel, with what each is attached to. */
import { readdirSync, readFileSync } from "node:fs";
import { Errno } from "../errors.js";
import { Cmd, getFdById } from "../sys/bpf.js";
import { Link } from "../link/link.js";
import { linkDetails, type LinkDetails } from "../link/info.js";
import { attachTypeName, LinkType } from "../spec/kernel-enums.js";
import { idArg, parse, table, UsageError, wantsHelp, type Context } from "./common.js";
import { byId, ids, pinIt } from "./kernel.js";

export const usage = `usage: tsbpf link <command> ...

  link list                       bpf_links in the kernel: id, type, program id, and what each is
                                  attached to (tracepoint, kprobe function, uprobe file and
                                  offset, interface, cgroup, iterator target, ...)
  link show ID|PIN                one link
  link pin ID|PIN PATH            pin a link on bpffs at PATH (the attachment then outlives its
                                  owner until the pin is removed)

  --json on list and show.`;

function ifName(ifindex: number): string {
  try {
    for (const n of readdirSync("/sys/class/net")) {
      if (Number(readFileSync(`/sys/class/net/${n}/ifindex`, "utf8")) === ifindex) return n;
    }
  } catch {
    /* no sysfs */
  }
  return "?";
}

const attachName = (t: number): string => attachTypeName(t)?.toLowerCase() ?? String(t);

/** The kind-specific fields of a link as JSON-friendly data and one line of text. */
export function summarize(d: LinkDetails): { details: Record<string, unknown>; text: string } {
  const { raw, ...rest } = d;
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const u32 = (o: number) => v.getUint32(o, true);
  switch (d.kind) {
    case "raw_tracepoint": return { details: rest, text: `tp ${d.tracepoint}` };
    case "tracing": return { details: rest, text: `${d.attachTypeName}  target_obj ${d.targetObjId}  target_btf ${d.targetBtfId}` };
    case "iter": return { details: rest, text: `target ${d.target}${d.mapId ? `  map ${d.mapId}` : ""}${d.task ? `  tid ${d.task.tid} pid ${d.task.pid}` : ""}` };
    case "kprobe_multi": return { details: { ...rest, addresses: undefined, cookies: undefined }, text: `${d.count} function${d.count === 1 ? "" : "s"}${d.retprobe ? " (return)" : ""}  missed ${d.missed}` };
    case "uprobe_multi": return { details: rest, text: `${d.path}  ${d.count} offset${d.count === 1 ? "" : "s"}${d.retprobe ? " (return)" : ""}${d.pid ? `  pid ${d.pid}` : ""}` };
    case "perf_event": {
      const p = d.perf;
      switch (p.type) {
        case "kprobe": case "kretprobe": return { details: rest, text: `${p.type} ${p.func}${p.offset ? `+${p.offset}` : ""}  missed ${p.missed}` };
        case "uprobe": case "uretprobe": return { details: rest, text: `${p.type} ${p.file}+0x${p.offset.toString(16)}` };
        case "tracepoint": return { details: rest, text: `tracepoint ${p.tracepoint}` };
        case "event": return { details: rest, text: `perf event type ${p.eventType} config ${p.config}` };
        default: return { details: rest, text: "perf event" };
      }
    }
    default:
      break;
  }
  // Kinds linkDetails leaves to the common fields: decode the union of struct bpf_link_info here.
  switch (d.type) {
    case LinkType.CGROUP: {
      const x = { cgroupId: v.getBigUint64(16, true), attachType: attachName(u32(24)) };
      return { details: { ...rest, ...x }, text: `cgroup id ${x.cgroupId}  ${x.attachType}` };
    }
    case LinkType.NETNS: {
      const x = { netnsIno: u32(16), attachType: attachName(u32(20)) };
      return { details: { ...rest, ...x }, text: `netns ino ${x.netnsIno}  ${x.attachType}` };
    }
    case LinkType.XDP: {
      const x = { ifindex: u32(16), ifname: ifName(u32(16)) };
      return { details: { ...rest, ...x }, text: `ifindex ${x.ifindex} (${x.ifname})` };
    }
    case LinkType.TCX:
    case LinkType.NETKIT: {
      const x = { ifindex: u32(16), ifname: ifName(u32(16)), attachType: attachName(u32(20)) };
      return { details: { ...rest, ...x }, text: `ifindex ${x.ifindex} (${x.ifname})  ${x.attachType}` };
    }
    case LinkType.STRUCT_OPS: return { details: { ...rest, mapId: u32(16) }, text: `map ${u32(16)}` };
    case LinkType.SOCKMAP: return { details: { ...rest, mapId: u32(16), attachType: attachName(u32(20)) }, text: `map ${u32(16)}  ${attachName(u32(20))}` };
    case LinkType.NETFILTER: {
      const x = { pf: u32(16), hooknum: u32(20), priority: v.getInt32(24, true), flags: u32(28) };
      return { details: { ...rest, ...x }, text: `pf ${x.pf}  hook ${x.hooknum}  prio ${x.priority}` };
    }
    default:
      return { details: rest, text: "" };
  }
}

interface Row { id: number; type: string; progId: number; text: string; details: Record<string, unknown> }

function rowOf(fd: number): Row {
  const d = linkDetails(fd);
  const { details, text } = summarize(d);
  return { id: d.id, type: d.typeName, progId: d.progId, text, details };
}

const json = (r: Row) => ({ ...r.details, id: r.id, type: r.type, progId: r.progId, summary: r.text });

export async function run(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub) throw new UsageError("link needs a command", usage);
  if (wantsHelp(args)) return (console.log(usage), 0);
  switch (sub) {
    case "list": {
      parse(rest, {}, "link list", usage);
      const rows: Row[] = [];
      for (const id of ids(Cmd.LINK_GET_NEXT_ID)) {
        let fd;
        try {
          fd = getFdById(Cmd.LINK_GET_FD_BY_ID, id, "link");
        } catch (e) {
          if ((e as { errno?: number }).errno === Errno.ENOENT) continue; // gone meanwhile
          throw e;
        }
        try {
          rows.push(rowOf(fd.value));
        } finally {
          fd.close();
        }
      }
      ctx.out(rows.map(json), () => table([["ID", "TYPE", "PROG", "ATTACHED TO"], ...rows.map((r) => [String(r.id), r.type, String(r.progId), r.text])]));
      return 0;
    }
    case "show": {
      const { positionals } = parse(rest, {}, "link show", usage);
      if (positionals.length !== 1) throw new UsageError("link show needs a link id or a pinned path", usage);
      const id = idArg(positionals[0]!);
      using l = id !== undefined ? byId("link", id, Link.fromId) : Link.openPinned(positionals[0]!);
      const r = rowOf(l.linkFd!.value);
      ctx.out(json(r), () => `${r.id}: ${r.type}  prog ${r.progId}${r.text ? `\n\t${r.text}` : ""}`);
      return 0;
    }
    case "pin": {
      const { positionals } = parse(rest, {}, "link pin", usage);
      if (positionals.length !== 2) throw new UsageError("link pin needs a link id (or pinned path) and a path under /sys/fs/bpf", usage);
      const id = idArg(positionals[0]!);
      using l = id !== undefined ? byId("link", id, Link.fromId) : Link.openPinned(positionals[0]!);
      pinIt(() => l.pin(positionals[1]!), positionals[1]!, "link", String(l.info().id));
      return 0;
    }
    default:
      throw new UsageError(`unknown command: link ${sub}`, usage);
  }
}
