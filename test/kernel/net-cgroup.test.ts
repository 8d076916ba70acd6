/**
 * cgroup_skb on a cgroup v2 group made by the test (under the cgroup2 mount found in /proc/mounts),
 * with a child process moved into it: egress counts the child's datagrams, ingress the datagrams
 * delivered to the child's socket. Both mechanisms: bpf_link and BPF_PROG_ATTACH (forced). Then
 * two programs on one hook, the flags (override semantics between a parent and a child cgroup,
 * exclusive), update() of a BPF_PROG_ATTACH attachment and a pinned cgroup link.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { bpffsPath, ktest, linksGone, repoPath } from "../helpers/kernel.js";
import { TestCgroup, sendUdp } from "../helpers/netns.js";
import { ArgumentError, BpfError, loadObject } from "../../src/index.js";
import { CgroupProgAttachLink, attachCgroup } from "../../src/link/cgroup.js";

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
      assert.equal(l.mechanism, "prog_attach(exclusive)");
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

/** A child in `cg` sends `n` datagrams to its own socket (egress programs of `cg` see each once). */
async function childSends(cg: TestCgroup, n: number): Promise<void> {
  assert.equal(await runChild(cg, () => {}, n, 0), n);
}

/** A test cgroup (and, with `withChild`, one below it), removed afterwards. */
async function withCgroups(t: { skip(msg: string): void }, fn: (cg: TestCgroup, sub: TestCgroup) => Promise<void>): Promise<void> {
  const cg = TestCgroup.create();
  if (typeof cg === "string") return t.skip(cg);
  const sub = cg.subgroup("child");
  try {
    await fn(cg, sub);
  } finally {
    await sub.close();
    await cg.close();
  }
}

const cgObj = () => loadObject(repoPath("test", "bpf", "net_cgroup.bpf.o"), { constants: { target_port: PORT } });

for (const mechanism of ["auto", "prog_attach"] as const) {
  ktest(`two programs on one egress hook (multi-attach, ${mechanism}): both run for the cgroup's traffic`, async (t) => {
    await withCgroups(t, async (cg) => {
      using obj = await cgObj();
      const counts = obj.maps.counts!;
      const a = attachCgroup(obj.programs.cg_egress!, cg.path, { mechanism });
      const b = attachCgroup(obj.programs.cg_egress_b!, cg.path, { mechanism, flags: "multi" });
      try {
        const expected = mechanism === "auto" ? "bpf_link(cgroup)" : "prog_attach(multi)";
        assert.deepEqual([a.mechanism, b.mechanism], [expected, expected]);
        await childSends(cg, 9);
        assert.equal(u64(counts.lookup(1)), 9n, "the first program counted every datagram");
        assert.equal(u64(counts.lookup(2)), 9n, "so did the second");
      } finally {
        a.close();
        b.close();
      }
      await childSends(cg, 4);
      assert.deepEqual([u64(counts.lookup(1)), u64(counts.lookup(2))], [9n, 9n], "both detached on close");
    });
  });
}

ktest("flags override and exclusive use BPF_PROG_ATTACH (a cgroup bpf_link is always multi); with mechanism link they are an ArgumentError", async (t) => {
  await withCgroups(t, async (cg) => {
    using obj = await cgObj();
    const p = obj.programs.cg_egress!;
    for (const flags of ["override", "exclusive"] as const) {
      assert.throws(() => attachCgroup(p, cg.path, { mechanism: "link", flags }), (e: unknown) => e instanceof ArgumentError && /always multi-attach/.test(e.message) && /prog_attach/.test(e.message));
      using l = attachCgroup(p, cg.path, { flags });
      assert.equal(l.mechanism, `prog_attach(${flags})`);
      assert.throws(() => l.info(), ArgumentError, "no bpf_link was made");
      // A second program on the hook is refused: this one is not multi-attach.
      assert.throws(() => attachCgroup(obj.programs.cg_egress_b!, cg.path), (e: unknown) => (e as { errno?: number }).errno === 1);
    }
    using l = attachCgroup(p, cg.path, { mechanism: "link", flags: "multi" });
    assert.equal(l.mechanism, "bpf_link(cgroup)");
  });
});

ktest("override semantics: a child cgroup's program replaces an ALLOW_OVERRIDE parent's for the child only; under a multi parent both run; under an exclusive parent the child cannot attach", async (t) => {
  await withCgroups(t, async (parent, child) => {
    using obj = await cgObj();
    const counts = obj.maps.counts!;
    const read = () => [u64(counts.lookup(1)), u64(counts.lookup(2))];
    {
      using up = attachCgroup(obj.programs.cg_egress!, parent.path, { flags: "override" });
      await childSends(child, 5);
      assert.deepEqual(read(), [5n, 0n], "the parent's program runs for the child while the child has none");
      {
        using down = attachCgroup(obj.programs.cg_egress_b!, child.path, { mechanism: "prog_attach", flags: "override" });
        await childSends(child, 7);
        assert.deepEqual(read(), [5n, 7n], "the child's program replaced the parent's for the child");
        await childSends(parent, 3);
        assert.deepEqual(read(), [8n, 7n], "the parent's own processes still run the parent's program");
        void down;
      }
      await childSends(child, 2);
      assert.deepEqual(read(), [10n, 7n], "detaching the child's program brings the parent's back");
      void up;
    }
    {
      using up = attachCgroup(obj.programs.cg_egress!, parent.path, { mechanism: "prog_attach", flags: "multi" });
      using down = attachCgroup(obj.programs.cg_egress_b!, child.path, { mechanism: "prog_attach", flags: "multi" });
      await childSends(child, 4);
      assert.deepEqual(read(), [14n, 11n], "multi: the parent's and the child's programs both run");
      void up;
      void down;
    }
    {
      using up = attachCgroup(obj.programs.cg_egress!, parent.path, { flags: "exclusive" });
      assert.throws(() => attachCgroup(obj.programs.cg_egress_b!, child.path, { mechanism: "prog_attach", flags: "override" }), (e: unknown) => (e as { errno?: number }).errno === 1, "EPERM below an exclusive program");
      void up;
    }
  });
});

for (const flags of ["multi", "override"] as const) {
  ktest(`update() of a BPF_PROG_ATTACH attachment (${flags}) swaps the program atomically${flags === "multi" ? " with BPF_F_REPLACE" : ""}`, async (t) => {
    await withCgroups(t, async (cg) => {
      using obj = await cgObj();
      const counts = obj.maps.counts!;
      const link = attachCgroup(obj.programs.cg_egress!, cg.path, { mechanism: "prog_attach", flags });
      try {
        assert.ok(link instanceof CgroupProgAttachLink);
        assert.equal(link.attachedProgramId(), obj.programs.cg_egress!.info().id);
        await childSends(cg, 6);
        link.update(obj.programs.cg_egress_b!);
        assert.equal(link.attachedProgramId(), obj.programs.cg_egress_b!.info().id);
        await childSends(cg, 8);
        assert.deepEqual([u64(counts.lookup(1)), u64(counts.lookup(2))], [6n, 8n]);
        using xdp = await loadObject(repoPath("test", "bpf", "net_xdp.bpf.o"));
        assert.throws(() => link.update(xdp.programs.xdp_count_a!), ArgumentError);
      } finally {
        link.close();
      }
      await childSends(cg, 3);
      assert.deepEqual([u64(counts.lookup(1)), u64(counts.lookup(2))], [6n, 8n], "close() detached the updated program");
    });
  });
}

ktest("pinned cgroup link: stays attached after close(), detached when the pin is removed", async (t) => {
  await withCgroups(t, async (cg) => {
    using obj = await cgObj();
    const counts = obj.maps.counts!;
    const path = bpffsPath("cgroup");
    try {
      const link = attachCgroup(obj.programs.cg_egress!, cg.path);
      const id = link.info().id;
      link.pin(path);
      link.close();
      await childSends(cg, 5);
      assert.equal(u64(counts.lookup(1)), 5n, "the pinned link runs after close()");
      rmSync(path);
      await linksGone([id]);
      await childSends(cg, 5);
      assert.equal(u64(counts.lookup(1)), 5n);
    } finally {
      rmSync(path, { force: true });
    }
  });
});
