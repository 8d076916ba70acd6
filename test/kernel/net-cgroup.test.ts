/**
 * cgroup_skb on a cgroup v2 group made by the test (under the cgroup2 mount found in /proc/mounts),
 * with a child process moved into it: egress counts the child's datagrams, ingress the datagrams
 * delivered to the child's socket. Both mechanisms: bpf_link and BPF_PROG_ATTACH (forced).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { ktest, repoPath } from "../helpers/kernel.js";
import { TestCgroup, sendUdp } from "../helpers/netns.js";
import { ArgumentError, BpfError, loadObject } from "../../src/index.js";
import { attachCgroup } from "../../src/link/cgroup.js";

const PORT = 40000 + ((process.pid + 7) % 20000);
const u64 = (b: Uint8Array | undefined) => (b ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : undefined);

/**
 * The child: on "go" it binds 127.0.0.1:PORT (the socket belongs to the child's cgroup from then
 * on) and says "ready"; on "send N" it sends N datagrams to its own socket, waits until it has
 * received `expect` datagrams in all, prints "received K" and exits.
 */
const CHILD = `
const dgram = require("node:dgram");
const readline = require("node:readline");
const [port, expect] = process.argv.slice(1).map(Number);
let received = 0, s;
const done = () => { process.stdout.write("received " + received + "\\n"); s.close(); process.exit(0); };
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (line === "go") {
    s = dgram.createSocket("udp4");
    s.on("message", () => { if (++received === expect) done(); });
    s.bind(port, "127.0.0.1", () => process.stdout.write("ready\\n"));
  } else if (line.startsWith("send ")) {
    for (let i = 0; i < Number(line.slice(5)); i++) await new Promise((r, j) => s.send("cg", port, "127.0.0.1", (e) => (e ? j(e) : r())));
    setTimeout(done, 3000);
  }
});
`;

async function runChild(cg: TestCgroup, attach: () => void, own: number, fromOutside: number): Promise<number> {
  const child = spawn(process.execPath, ["-e", CHILD, String(PORT), String(own + fromOutside)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let buf = "";
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      waiters.shift()?.();
    }
  });
  const next = () => new Promise<string>((resolve) => (lines.length ? resolve(lines.shift()!) : waiters.push(() => resolve(lines.shift()!))));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  try {
    cg.add(child.pid!);
    attach();
    child.stdin.write("go\n");
    assert.equal(await next(), "ready");
    await sendUdp("127.0.0.1", PORT, fromOutside);
    child.stdin.write(`send ${own}\n`);
    const m = /^received (\d+)$/.exec(await next());
    assert.ok(m, "the child reports what it received");
    return Number(m[1]);
  } finally {
    child.kill();
    await exited;
  }
}

for (const mechanism of ["link", "prog_attach"] as const) {
  ktest(`cgroup_skb ingress/egress via ${mechanism} count exactly the child's datagrams`, async (t) => {
    const cg = TestCgroup.create();
    if (typeof cg === "string") return t.skip(cg);
    try {
      using obj = await loadObject(repoPath("test", "bpf", "net_cgroup.bpf.o"), { constants: { target_port: PORT } });
      const links: ReturnType<typeof attachCgroup>[] = [];
      try {
        const own = 11;
        const outside = 6;
        const received = await runChild(cg, () => {
          links.push(attachCgroup(obj.programs.cg_ingress!, cg.path, { mechanism: mechanism === "link" ? "auto" : "prog_attach" }));
          links.push(attachCgroup(obj.programs.cg_egress!, cg.path, { mechanism: mechanism === "link" ? "auto" : "prog_attach" }));
        }, own, outside);
        assert.equal(received, own + outside);
        const expected = mechanism === "link" ? "bpf_link(cgroup)" : "prog_attach(multi)";
        assert.deepEqual(links.map((l) => l.mechanism), [expected, expected]);
        assert.equal(links[0]!.target, `${cg.path} cgroup_inet_ingress`);
        assert.equal(u64(obj.maps.counts!.lookup(0)), BigInt(own + outside), "ingress: every datagram delivered to the child's socket");
        assert.equal(u64(obj.maps.counts!.lookup(1)), BigInt(own), "egress: only what the child sent");
        if (mechanism === "link") assert.equal(links[0]!.info().typeName, "cgroup");
      } finally {
        for (const l of links) l.close();
      }
    } finally {
      await cg.close();
    }
  });
}

ktest("cgroup attach: override and exclusive flags, and the errors for bad targets", async (t) => {
  const cg = TestCgroup.create();
  if (typeof cg === "string") return t.skip(cg);
  try {
    using obj = await loadObject(repoPath("test", "bpf", "net_cgroup.bpf.o"), { constants: { target_port: PORT } });
    const p = obj.programs.cg_egress!;
    {
      using l = attachCgroup(p, cg.path, { mechanism: "prog_attach", flags: "override" });
      assert.equal(l.mechanism, "prog_attach(override)");
    }
    {
      using l = attachCgroup(p, cg.path, { mechanism: "prog_attach", flags: "exclusive" });
      assert.equal(l.mechanism, "prog_attach");
      // Multi-attach on top of an exclusive attachment is refused (EPERM).
      assert.throws(() => attachCgroup(obj.programs.cg_ingress!, cg.path, { mechanism: "prog_attach", attachType: "egress" }), (e: unknown) => (e as { errno?: number }).errno === 1);
    }
    assert.throws(() => attachCgroup(p, "/proc"), (e: unknown) => e instanceof ArgumentError && /cgroup v2/.test(e.message));
    assert.throws(() => attachCgroup(p, `${cg.path}/missing`), (e: unknown) => e instanceof BpfError && e.code === "E_NO_CGROUP");
    using xdp = await loadObject(repoPath("test", "bpf", "net_xdp.bpf.o"));
    assert.throws(() => attachCgroup(xdp.programs.xdp_count_a!, cg.path), ArgumentError);
  } finally {
    await cg.close();
  }
});
