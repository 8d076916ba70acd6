import { AttachType as A, ProgramType as P } from "./kernel-enums.js";

/** What a program section name says about the program, following libbpf's conventions. */
export interface SectionInfo {
  /** `BPF_PROG_TYPE_*` */
  type: number;
  /** `BPF_*` attach type, 0 when the section implies none. */
  expectedAttachType: number;
  /** The part after the prefix: "vfs_read", "syscalls/sys_enter_read", "/bin/sh:readline", or "". */
  attachTo: string;
  sleepable: boolean;
  /** The attach kind (see {@link ProgramSpec.autoAttach}), or null when the section cannot be attached as is. */
  autoAttach: string | null;
}

/**
 * One entry of the section table. `prefix` matching follows libbpf: with `target: true` (libbpf's
 * "name+") the section is `prefix` or `prefix/<target>`; otherwise it must equal `prefix` (legacy
 * `prefix/anything` is accepted as a fallback when nothing else matches).
 */
interface SectionDef {
  prefix: string;
  type: number;
  attach: number;
  /** The section may carry a target after a slash. */
  target?: boolean;
  /** The target is needed to attach (autoAttach is null without it). */
  needsTarget?: boolean;
  sleepable?: boolean;
  /** Attach kind; null when programs of this section are not attached (syscall, xdp/devmap, ...). */
  kind: string | null;
}

const D = (prefix: string, type: number, attach: number, kind: string | null, extra: Partial<SectionDef> = {}): SectionDef =>
  ({ prefix, type, attach, kind, ...extra });
const T = { target: true, needsTarget: true } as const;
const TS = { target: true, needsTarget: true, sleepable: true } as const;

/** The table, in libbpf's order (first match wins). */
const SECTION_DEFS: readonly SectionDef[] = [
  D("socket", P.SOCKET_FILTER, 0, "socket"),
  D("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, "sk_reuseport"),
  D("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, "sk_reuseport"),
  D("kprobe", P.KPROBE, 0, "kprobe", T),
  D("uprobe", P.KPROBE, 0, "uprobe", T),
  D("uprobe.s", P.KPROBE, 0, "uprobe", TS),
  D("kretprobe", P.KPROBE, 0, "kretprobe", T),
  D("uretprobe", P.KPROBE, 0, "uretprobe", T),
  D("uretprobe.s", P.KPROBE, 0, "uretprobe", TS),
  D("kprobe.multi", P.KPROBE, A.TRACE_KPROBE_MULTI, "kprobe.multi", T),
  D("kretprobe.multi", P.KPROBE, A.TRACE_KPROBE_MULTI, "kretprobe.multi", T),
  D("kprobe.session", P.KPROBE, A.TRACE_KPROBE_SESSION, "kprobe.session", T),
  D("uprobe.multi", P.KPROBE, A.TRACE_UPROBE_MULTI, "uprobe.multi", T),
  D("uretprobe.multi", P.KPROBE, A.TRACE_UPROBE_MULTI, "uretprobe.multi", T),
  D("uprobe.session", P.KPROBE, A.TRACE_UPROBE_SESSION, "uprobe.session", T),
  D("uprobe.multi.s", P.KPROBE, A.TRACE_UPROBE_MULTI, "uprobe.multi", TS),
  D("uretprobe.multi.s", P.KPROBE, A.TRACE_UPROBE_MULTI, "uretprobe.multi", TS),
  D("uprobe.session.s", P.KPROBE, A.TRACE_UPROBE_SESSION, "uprobe.session", TS),
  D("ksyscall", P.KPROBE, 0, "ksyscall", T),
  D("kretsyscall", P.KPROBE, 0, "kretsyscall", T),
  D("usdt", P.KPROBE, 0, "usdt", T),
  D("usdt.s", P.KPROBE, 0, "usdt", TS),
  D("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS, "tcx"),
  D("tc/egress", P.SCHED_CLS, A.TCX_EGRESS, "tcx"),
  D("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS, "tcx"),
  D("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS, "tcx"),
  D("tc", P.SCHED_CLS, 0, "tc"),
  D("classifier", P.SCHED_CLS, 0, "tc"),
  D("action", P.SCHED_ACT, 0, "tc"),
  D("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY, "netkit"),
  D("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER, "netkit"),
  D("tracepoint", P.TRACEPOINT, 0, "tracepoint", T),
  D("tp", P.TRACEPOINT, 0, "tracepoint", T),
  D("raw_tracepoint", P.RAW_TRACEPOINT, 0, "raw_tracepoint", T),
  D("raw_tp", P.RAW_TRACEPOINT, 0, "raw_tracepoint", T),
  D("raw_tracepoint.w", P.RAW_TRACEPOINT_WRITABLE, 0, "raw_tracepoint", T),
  D("raw_tp.w", P.RAW_TRACEPOINT_WRITABLE, 0, "raw_tracepoint", T),
  D("tp_btf", P.TRACING, A.TRACE_RAW_TP, "tp_btf", T),
  D("fentry", P.TRACING, A.TRACE_FENTRY, "fentry", T),
  D("fmod_ret", P.TRACING, A.MODIFY_RETURN, "fmod_ret", T),
  D("fexit", P.TRACING, A.TRACE_FEXIT, "fexit", T),
  D("fentry.s", P.TRACING, A.TRACE_FENTRY, "fentry", TS),
  D("fmod_ret.s", P.TRACING, A.MODIFY_RETURN, "fmod_ret", TS),
  D("fexit.s", P.TRACING, A.TRACE_FEXIT, "fexit", TS),
  D("freplace", P.EXT, 0, "freplace", T),
  D("lsm", P.LSM, A.LSM_MAC, "lsm", T),
  D("lsm.s", P.LSM, A.LSM_MAC, "lsm", TS),
  D("lsm_cgroup", P.LSM, A.LSM_CGROUP, "lsm_cgroup", T),
  D("iter", P.TRACING, A.TRACE_ITER, "iter", T),
  D("iter.s", P.TRACING, A.TRACE_ITER, "iter", TS),
  D("syscall", P.SYSCALL, 0, null, { sleepable: true }),
  D("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, null),
  D("xdp/devmap", P.XDP, A.XDP_DEVMAP, null),
  D("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, null),
  D("xdp/cpumap", P.XDP, A.XDP_CPUMAP, null),
  D("xdp.frags", P.XDP, A.XDP, "xdp"),
  D("xdp", P.XDP, A.XDP, "xdp"),
  D("perf_event", P.PERF_EVENT, 0, "perf_event"),
  D("lwt_in", P.LWT_IN, 0, "lwt"),
  D("lwt_out", P.LWT_OUT, 0, "lwt"),
  D("lwt_xmit", P.LWT_XMIT, 0, "lwt"),
  D("lwt_seg6local", P.LWT_SEG6LOCAL, 0, "lwt"),
  D("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, "cgroup"),
  D("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, "sk_skb"),
  D("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, "sk_skb"),
  D("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, "sk_skb"),
  D("sk_skb", P.SK_SKB, 0, "sk_skb"),
  D("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, "sk_msg"),
  D("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, "lirc_mode2"),
  D("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, "flow_dissector"),
  D("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, "cgroup"),
  D("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, "cgroup"),
  D("cgroup/skb", P.CGROUP_SKB, 0, "cgroup"),
  D("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, "cgroup"),
  D("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, "cgroup"),
  D("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, "cgroup"),
  D("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, "cgroup"),
  D("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, "cgroup"),
  D("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, "cgroup"),
  D("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, "cgroup"),
  D("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, "cgroup"),
  D("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, "cgroup"),
  D("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, "cgroup"),
  D("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, "cgroup"),
  D("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, "cgroup"),
  D("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, "cgroup"),
  D("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, "cgroup"),
  D("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, "cgroup"),
  D("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, "cgroup"),
  D("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, "cgroup"),
  D("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, "cgroup"),
  D("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, "cgroup"),
  D("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, "cgroup"),
  D("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, "cgroup"),
  D("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, "cgroup"),
  D("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, "cgroup"),
  D("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, "cgroup"),
  D("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, "cgroup"),
  D("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, "cgroup"),
  D("struct_ops", P.STRUCT_OPS, 0, "struct_ops", { target: true }),
  D("struct_ops.s", P.STRUCT_OPS, 0, "struct_ops", { target: true, sleepable: true }),
  D("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, "sk_lookup"),
  D("netfilter", P.NETFILTER, A.NETFILTER, "netfilter"),
];

function info(def: SectionDef, attachTo: string): SectionInfo {
  return {
    type: def.type,
    expectedAttachType: def.attach,
    attachTo,
    sleepable: def.sleepable ?? false,
    autoAttach: def.needsTarget && attachTo === "" ? null : def.kind,
  };
}

/**
 * Look up a program section name in the table libbpf uses (`SEC("kprobe/vfs_read")` and so on).
 * Returns undefined for sections the table does not know; legacy names such as `xdp/foo` or
 * `socket/1` that only share a known prefix followed by a slash match that prefix.
 */
export function programSectionInfo(section: string): SectionInfo | undefined {
  for (const def of SECTION_DEFS) {
    if (section === def.prefix) return info(def, "");
    if (def.target && section.startsWith(def.prefix + "/")) return info(def, section.slice(def.prefix.length + 1));
  }
  // Legacy fallback: "<prefix>/anything" for prefixes that take no target.
  for (const def of SECTION_DEFS) {
    if (!def.target && section.startsWith(def.prefix + "/")) return info(def, "");
  }
  return undefined;
}

/** The section prefixes the table knows, for documentation and error messages. */
export function knownSectionPrefixes(): string[] {
  return SECTION_DEFS.map((d) => (d.target ? d.prefix + "[/...]" : d.prefix));
}
