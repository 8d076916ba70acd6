/**
 * examples/xdp_counter run as a user would: `node dist/examples/xdp_counter/xdp_counter.js
 * --iface <veth>` on the host end of a veth pair the test made, with datagrams sent from the
 * peer's namespace; the printed count must be what was sent (the link is quiet otherwise: static
 * neighbours, no IPv6), and Ctrl-C (SIGINT) must detach and exit 0.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { ktest, repoPath } from "../helpers/kernel.js";
import { VethPair } from "../helpers/netns.js";
import { queryXdp } from "../../src/link/xdp.js";

const driver = repoPath("dist", "examples", "xdp_counter", "xdp_counter.js");
const PORT = 40000 + ((process.pid + 21) % 20000);

ktest("xdp_counter example: prints the number of packets sent across, detaches on SIGINT", async () => {
  using veth = VethPair.create();
  const N = 25;
  const child = spawn(process.execPath, [driver, "--iface", veth.hostIf], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let partial = "";
  let err = "";
  let wake: (() => void) | undefined;
  child.stdout.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
    wake?.();
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  /** The next output line (from `from` on) that matches `re`; returns the match and where to go on. */
  const waitFor = async (re: RegExp, from = 0, ms = 8000): Promise<[RegExpExecArray, number]> => {
    const deadline = Date.now() + ms;
    for (let i = from; ; ) {
      for (; i < lines.length; i++) {
        const m = re.exec(lines[i]!);
        if (m) return [m, i + 1];
      }
      if (Date.now() > deadline) throw new Error(`no ${re} in the output within ${ms} ms:\n${lines.join("\n")}\n${err}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
  };
  try {
    const [head, next] = await waitFor(/^Counting packets on (\S+) \(ifindex (\d+)\) with (\S+);/);
    assert.equal(head[1], veth.hostIf);
    assert.equal(head[3], "bpf_link(xdp)");
    assert.notEqual(queryXdp(veth.hostIf).progId, 0, "the driver attached its program");
    await veth.sendFromPeer(PORT, N);
    // The driver prints every second; wait for a line that has seen all of them.
    for (let at = next; ; ) {
      const [m, after] = await waitFor(/^Received (\d+) packets$/, at);
      if (Number(m[1]) >= N) break;
      at = after;
    }
    child.kill("SIGINT");
    assert.equal(await exited, 0, err);
    const [total] = await waitFor(/^Received (\d+) packets in total; detaching from (\S+)\.$/);
    assert.equal(Number(total[1]), N, "count_packets counted exactly the datagrams sent across");
    assert.equal(queryXdp(veth.hostIf).progId, 0, "the driver detached on SIGINT");
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
});

ktest("xdp_counter example: usage errors exit 2 with the fix, an unknown interface exits 1", async () => {
  const none = spawnSync(process.execPath, [driver], { encoding: "utf8" });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--iface/);
  const bad = spawnSync(process.execPath, [driver, "--iface", "tsbpf-nope0"], { encoding: "utf8" });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /no such interface/);
});
