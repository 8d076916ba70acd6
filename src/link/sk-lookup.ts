/**
 * sk_lookup (`SEC("sk_lookup")`): a program that picks the listening or receiving socket for new
 * connections and datagrams in a network namespace (Linux 5.9+). Attached with BPF_LINK_CREATE
 * on the namespace's fd; `link.mechanism` is `bpf_link(netns)`.
 *
 * @example
 * ```ts
 * using link = attachSkLookup(obj.programs.steer); // this process's namespace
 * using other = attachSkLookup(obj.programs.steer, "/run/netns/blue");
 * ```
 */
import { openSync, constants, readlinkSync } from "node:fs";
import { ArgumentError, BpfError, Errno, NotSupportedError } from "../errors.js";
import { linkCreate } from "../sys/bpf.js";
import { FD } from "../sys/fd.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link } from "./link.js";

/** Opens a network namespace file (`/proc/<pid>/ns/net`, `/run/netns/<name>`). */
export function openNetns(path: string, what: string): FD {
  try {
    return new FD(openSync(path, constants.O_RDONLY), `network namespace ${path}`);
  } catch (e) {
    throw new BpfError("E_NO_NETNS", `${what}: cannot open network namespace ${path} (${(e as NodeJS.ErrnoException).code}); \`ip netns list\` names those under /run/netns`, { cause: e });
  }
}

/**
 * Attaches an sk_lookup program to a network namespace: a path (default: this process's,
 * /proc/self/ns/net) or an open namespace fd (which stays the caller's). Throws
 * NotSupportedError on kernels without sk_lookup links.
 */
export function attachSkLookup(prog: Program, netns: string | number = "/proc/self/ns/net"): Link {
  if (prog.type !== ProgramType.SK_LOOKUP) {
    throw new ArgumentError(`attach sk_lookup program ${prog.name}: it is not an sk_lookup program (put it in SEC("sk_lookup"))`);
  }
  const where = typeof netns === "string" ? netns : `netns fd ${netns}`;
  const fd = typeof netns === "string" ? openNetns(netns, `attach sk_lookup program ${prog.name}`) : undefined;
  try {
    let kind = "";
    try {
      kind = readlinkSync(`/proc/self/fd/${fd?.value ?? netns}`);
    } catch {
      // no /proc: let the kernel judge
    }
    if (kind && !kind.startsWith("net:")) {
      throw new ArgumentError(`attach sk_lookup program ${prog.name} to ${where}: that is not a network namespace (${kind}); use /proc/<pid>/ns/net or /run/netns/<name>`);
    }
    const link = linkCreate({ progFd: prog.fd.value, targetFd: fd?.value ?? netns as number, attachType: AttachType.SK_LOOKUP }, `sk_lookup program ${prog.name} to ${where}`);
    return new Link({ kind: "sk_lookup", target: where, mechanism: "bpf_link(netns)", linkFd: link });
  } catch (e) {
    if ((e as { errno?: number }).errno === Errno.EINVAL) {
      throw new NotSupportedError("sk_lookup links", { minimumKernel: "5.9", hint: `attaching ${prog.name} to ${where} returned EINVAL`, cause: e });
    }
    throw e;
  } finally {
    fd?.close();
  }
}
