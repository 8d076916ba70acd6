/**
 * Attachments that act on a whole network namespace (sk_lookup, netfilter) run in a child process
 * inside a namespace the test creates (test/helpers/netns-child.ts), so the host's stays as it was.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { ktest, repoPath } from "../helpers/kernel.js";
import { VethPair } from "../helpers/netns.js";
import { ArgumentError, NotSupportedError, loadObject } from "../../src/index.js";
import { attachNetfilter } from "../../src/link/netfilter.js";
import { attachSkLookup } from "../../src/link/sk-lookup.js";

const child = repoPath("dist", "test", "helpers", "netns-child.js");
const PORT = 40000 + ((process.pid + 13) % 20000);

function inNetns(veth: VethPair, ...args: string[]): Record<string, unknown> {
  return JSON.parse(veth.exec(process.execPath, child, ...args.map(String)).trim().split("\n").pop()!);
}

ktest("sk_lookup (bpf_link on a namespace): datagrams to one port are steered to a socket on another", async () => {
  using veth = VethPair.create();
  const r = inNetns(veth, "sk_lookup", String(PORT), String(PORT + 1), "9");
  assert.deepEqual(r, {
    mechanism: "bpf_link(netns)", target: "/proc/self/ns/net", linkType: "netns",
    received: 11, steered: 9, receivedAfterClose: 0,
  });
});

/** Whether this kernel has BPF netfilter links: Linux 6.4+ built with CONFIG_NETFILTER_BPF_LINK. */
function kernelHasNetfilterLinks(): boolean {
  try {
    return /^CONFIG_NETFILTER_BPF_LINK=y$/m.test(gunzipSync(readFileSync("/proc/config.gz")).toString());
  } catch {
    const [maj, min] = execFileSync("uname", ["-r"], { encoding: "utf8" }).split(".").map(Number);
    return maj! > 6 || (maj === 6 && min! >= 4);
  }
}

ktest("netfilter (bpf_link): a LOCAL_IN hook sees exactly the datagrams delivered, or NotSupportedError", async () => {
  if (!kernelHasNetfilterLinks()) {
    // Without the link type the program may still load (kernel >= 6.4, config off): then attaching says why.
    let obj;
    try {
      obj = await loadObject(repoPath("test", "bpf", "net_netfilter.bpf.o"));
    } catch {
      return; // BPF_PROG_TYPE_NETFILTER itself is unknown: nothing to attach
    }
    using o = obj;
    assert.throws(() => attachNetfilter(o.programs.nf_count!, { pf: "ipv4", hook: "local_in", priority: -128 }),
      (e: unknown) => e instanceof NotSupportedError && e.kernelConfig === "CONFIG_NETFILTER_BPF_LINK");
    return;
  }
  using veth = VethPair.create();
  const r = inNetns(veth, "netfilter", String(PORT), "13");
  assert.deepEqual(r, {
    mechanism: "bpf_link(netfilter)", target: "ipv4 local_in priority -128", linkType: "netfilter",
    received: 13, hits: 13, hitsAfterClose: 0,
  });
});

ktest("netfilter and sk_lookup arguments are checked before the kernel sees them", async () => {
  using nf = await loadObject(repoPath("test", "bpf", "net_netfilter.bpf.o"));
  const p = nf.programs.nf_count!;
  assert.throws(() => attachNetfilter(p, { pf: "ipx" as "ipv4", hook: "local_in", priority: 1 }), ArgumentError);
  assert.throws(() => attachNetfilter(p, { pf: "ipv4", hook: "input" as "local_in", priority: 1 }), ArgumentError);
  assert.throws(() => attachNetfilter(p, { pf: "ipv4", hook: "local_in", priority: 0x7fffffff }), ArgumentError);
  assert.throws(() => attachSkLookup(p), ArgumentError);
  using sk = await loadObject(repoPath("test", "bpf", "net_sk_lookup.bpf.o"));
  assert.throws(() => attachNetfilter(sk.programs.steer!, { pf: "ipv4", hook: "local_in", priority: 1 }), ArgumentError);
  assert.throws(() => attachSkLookup(sk.programs.steer!, "/run/netns/tsbpf-no-such-ns"), (e: unknown) => (e as { code?: string }).code === "E_NO_NETNS");
  assert.throws(() => attachSkLookup(sk.programs.steer!, "/dev/null"), (e: unknown) => e instanceof ArgumentError && /not a network namespace/.test(e.message));
});
