/**
 * Netfilter hooks (`SEC("netfilter")`): a program at a netfilter hook of this network namespace
 * (Linux 6.4+ built with CONFIG_NETFILTER_BPF_LINK), returning NF_ACCEPT (1) or NF_DROP (0).
 * Attached with BPF_LINK_CREATE (BPF_NETFILTER); `link.mechanism` is `bpf_link(netfilter)`.
 *
 * @example
 * ```ts
 * using link = attachNetfilter(obj.programs.nf_count, { pf: "ipv4", hook: "local_in", priority: -128 });
 * ```
 */
import { ArgumentError, Errno, NotSupportedError } from "../errors.js";
import { Layout, linkCreate } from "../sys/bpf.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link } from "./link.js";

/** Protocol families (NFPROTO_*). */
export const NfProto = { ipv4: 2, ipv6: 10 } as const;

/** Hooks (NF_INET_*). */
export const NfHook = { prerouting: 0, local_in: 1, forward: 2, local_out: 3, postrouting: 4 } as const;

/** BPF_F_NETFILTER_IP_DEFRAG: packets reach the program reassembled. */
const BPF_F_NETFILTER_IP_DEFRAG = 1;

/** Options for {@link attachNetfilter}. */
export interface NetfilterOptions {
  /** "ipv4", "ipv6" or an NFPROTO_* number. */
  pf: keyof typeof NfProto | number;
  /** "prerouting", "local_in", "forward", "local_out", "postrouting" or an NF_INET_* number. */
  hook: keyof typeof NfHook | number;
  /** Order among the hook's functions (lower runs first); not INT_MIN or INT_MAX. */
  priority: number;
  /** Reassemble fragments before the program runs (Linux 6.6+). */
  defrag?: boolean;
}

/**
 * Attaches a netfilter program. Throws NotSupportedError when the kernel has no BPF netfilter
 * links, ArgumentError for a bad family, hook or priority.
 */
export function attachNetfilter(prog: Program, opts: NetfilterOptions): Link {
  if (prog.type !== ProgramType.NETFILTER) {
    throw new ArgumentError(`attach netfilter program ${prog.name}: it is not a netfilter program (put it in SEC("netfilter"))`);
  }
  const pf = typeof opts.pf === "number" ? opts.pf : NfProto[opts.pf];
  const hook = typeof opts.hook === "number" ? opts.hook : NfHook[opts.hook];
  if (pf === undefined) throw new ArgumentError(`attach netfilter program ${prog.name}: pf must be "ipv4", "ipv6" or an NFPROTO_* number`);
  if (hook === undefined) throw new ArgumentError(`attach netfilter program ${prog.name}: hook must be one of ${Object.keys(NfHook).join(", ")} or an NF_INET_* number`);
  if (!Number.isInteger(opts.priority) || opts.priority <= -0x80000000 || opts.priority >= 0x7fffffff) {
    throw new ArgumentError(`attach netfilter program ${prog.name}: priority must be an integer strictly between INT_MIN and INT_MAX`);
  }
  const pfName = Object.entries(NfProto).find(([, v]) => v === pf)?.[0] ?? `pf ${pf}`;
  const hookName = Object.entries(NfHook).find(([, v]) => v === hook)?.[0] ?? `hook ${hook}`;
  const target = `${pfName} ${hookName} priority ${opts.priority}`;
  const L = Layout.linkCreate;
  try {
    const fd = linkCreate({
      progFd: prog.fd.value, attachType: AttachType.NETFILTER,
      extra: (a) => a.u32(L.netfilter_pf, pf).u32(L.netfilter_hooknum, hook).i32(L.netfilter_priority, opts.priority)
        .u32(L.netfilter_flags, opts.defrag ? BPF_F_NETFILTER_IP_DEFRAG : 0),
    }, `netfilter program ${prog.name} to ${target}`);
    return new Link({ kind: "netfilter", target, mechanism: "bpf_link(netfilter)", linkFd: fd });
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    if (errno === Errno.EOPNOTSUPP || errno === Errno.ENOTSUPP) {
      throw new NotSupportedError("BPF netfilter links", { minimumKernel: "6.4", kernelConfig: "CONFIG_NETFILTER_BPF_LINK", cause: e });
    }
    throw e;
  }
}

