/**
 * Network fixtures for kernel tests: a veth pair whose host end stays in this network namespace
 * and whose peer end lives in a namespace the test creates, with addresses from 198.18.0.0/15
 * (reserved for benchmarking, RFC 2544) and static neighbours so no ARP or IPv6 chatter crosses
 * the link. Everything is named with this process's pid, removed in close(), and names left by
 * dead test processes are cleaned up first. Nothing else on the host is touched.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmdirSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const NS_PREFIX = "tsbpf-test-";
let counter = 0;

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes namespaces, interfaces and cgroups left behind by tsbpf test processes that are gone. */
export function cleanStale(): void {
  for (const line of ip("netns", "list").split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(name);
    if (m && !alive(Number(m[1]))) {
      try { ip("netns", "delete", name); } catch { /* already gone */ }
    }
  }
  for (const line of ip("-o", "link", "show").split("\n")) {
    const m = /^\d+: (tsb(\d+)x\d+[hp])[@:]/.exec(line);
    if (m && !alive(Number(m[2]))) {
      try { ip("link", "delete", m[1]!); } catch { /* deleting one end removes both */ }
    }
  }
  const root = cgroup2Root();
  if (root) {
    for (const e of readdirSync(root)) {
      const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(e);
      if (m && !alive(Number(m[1]))) {
        try { rmdirSync(join(root, e)); } catch { /* busy or gone */ }
      }
    }
  }
}

/** The cgroup2 mount point from /proc/mounts (e.g. /sys/fs/cgroup/unified on a hybrid host), or undefined. */
export function cgroup2Root(): string | undefined {
  for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[2] === "cgroup2") return f[1];
  }
  return undefined;
}

function mac(ifname: string, ns?: string): string {
  const out = ns ? ip("-n", ns, "-o", "link", "show", ifname) : ip("-o", "link", "show", ifname);
  const m = /link\/ether ([0-9a-f:]{17})/.exec(out);
  if (!m) throw new Error(`no MAC address for ${ifname}: ${out}`);
  return m[1]!;
}

/**
 * A /30 in 198.19.0.0/16 that no route of this namespace uses (test processes run in parallel),
 * as its offset in that /16; the search starts at a place derived from `seed`.
 */
function freeSubnet(seed: number): number {
  const used = new Set([...ip("-4", "route", "show").matchAll(/198\.19\.(\d+)\.(\d+)/g)].map((m) => (Number(m[1]) << 8) | (Number(m[2]) & ~3)));
  for (let i = 0; i < 16384; i++) {
    const base = (((seed + i) * 4) & 0xffff) >>> 0;
    if (!used.has(base)) return base;
  }
  throw new Error("no free /30 in 198.19.0.0/16");
}

/** A veth pair: `hostIf` here, `peerIf` inside namespace `ns`. */
export class VethPair {
  readonly ns: string;
  readonly hostIf: string;
  readonly peerIf: string;
  readonly hostIp: string;
  readonly peerIp: string;
  #closed = false;
  #agent: { child: ReturnType<typeof spawn>; ask(cmd: string): Promise<string> } | undefined;

  private constructor(n: number) {
    const pid = process.pid;
    this.ns = `${NS_PREFIX}${pid}-${n}`;
    this.hostIf = `tsb${pid}x${n}h`;
    this.peerIf = `tsb${pid}x${n}p`;
    const base = freeSubnet(pid * 64 + n);
    this.hostIp = `198.19.${base >> 8}.${(base & 0xff) + 1}`;
    this.peerIp = `198.19.${base >> 8}.${(base & 0xff) + 2}`;
  }

  /** Creates the namespace and the pair, addresses them, and brings them up. */
  static create(): VethPair {
    cleanStale();
    const v = new VethPair(counter++);
    try {
      ip("netns", "add", v.ns);
      ip("link", "add", v.hostIf, "type", "veth", "peer", "name", v.peerIf);
      ip("link", "set", v.peerIf, "netns", v.ns);
      const noV6 = `/proc/sys/net/ipv6/conf/${v.hostIf}/disable_ipv6`;
      if (existsSync(noV6)) writeFileSync(noV6, "1");
      v.exec("sysctl", "-qw", `net.ipv6.conf.${v.peerIf}.disable_ipv6=1`);
      ip("addr", "add", `${v.hostIp}/30`, "dev", v.hostIf);
      ip("-n", v.ns, "addr", "add", `${v.peerIp}/30`, "dev", v.peerIf);
      ip("link", "set", v.hostIf, "up");
      ip("-n", v.ns, "link", "set", v.peerIf, "up");
      ip("-n", v.ns, "link", "set", "lo", "up");
      ip("neigh", "replace", v.peerIp, "lladdr", mac(v.peerIf, v.ns), "dev", v.hostIf, "nud", "permanent");
      ip("-n", v.ns, "neigh", "replace", v.hostIp, "lladdr", mac(v.hostIf), "dev", v.peerIf, "nud", "permanent");
    } catch (e) {
      v.close();
      throw e;
    }
    return v;
  }

  /** Runs a command inside the namespace and returns its stdout. */
  exec(cmd: string, ...args: string[]): string {
    return execFileSync("ip", ["netns", "exec", this.ns, cmd, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  /**
   * Sends `count` UDP datagrams from inside the namespace (from the peer address) to host:port,
   * through a sender process that stays in the namespace until close().
   */
  async sendFromPeer(port: number, count: number, payload = "tsbpf"): Promise<void> {
    if (!this.#agent) {
      const child = spawn("ip", ["netns", "exec", this.ns, process.execPath, "-e", UDP_AGENT, this.peerIp], { stdio: ["pipe", "pipe", "inherit"] });
      let buf = "";
      const waiters: Array<(line: string) => void> = [];
      child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          waiters.shift()?.(line);
        }
      });
      this.#agent = {
        child,
        ask: (cmd: string) => new Promise<string>((resolve) => {
          waiters.push(resolve);
          child.stdin.write(cmd + "\n");
        }),
      };
    }
    const reply = await this.#agent.ask(JSON.stringify({ to: this.hostIp, port, count, payload }));
    if (reply !== "ok") throw new Error(`sending from ${this.ns} failed: ${reply}`);
  }

  /** Removes the namespace (which removes the pair). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#agent?.child.kill();
    try { ip("link", "delete", this.hostIf); } catch { /* not created */ }
    try { ip("netns", "delete", this.ns); } catch { /* not created */ }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * node -e script, argv = source address: reads one JSON command per line ({to, port, count,
 * payload}), sends the datagrams one at a time, and answers "ok" (or the error) per line.
 */
const UDP_AGENT = `
const dgram = require("node:dgram");
const readline = require("node:readline");
const s = dgram.createSocket("udp4");
s.bind(0, process.argv[1], () => {
  const rl = readline.createInterface({ input: process.stdin });
  let chain = Promise.resolve();
  rl.on("line", (line) => {
    chain = chain.then(async () => {
      try {
        const c = JSON.parse(line);
        for (let i = 0; i < c.count; i++) await new Promise((r, j) => s.send(c.payload, c.port, c.to, (e) => (e ? j(e) : r())));
        process.stdout.write("ok\\n");
      } catch (e) {
        process.stdout.write(String(e).replace(/\\n/g, " ") + "\\n");
      }
    });
  });
  rl.on("close", () => s.close());
});
`;

/** Sends `count` UDP datagrams from this namespace to address:port, one at a time. */
export async function sendUdp(to: string, port: number, count: number, payload: string | Uint8Array = "tsbpf"): Promise<void> {
  const dgram = await import("node:dgram");
  const s = dgram.createSocket("udp4");
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => s.send(payload, port, to, (e) => (e ? reject(e) : resolve())));
    }
  } finally {
    s.close();
  }
}

/** A cgroup v2 directory made for a test (under the cgroup2 mount), removed by close(). */
export class TestCgroup {
  readonly path: string;
  private constructor(path: string) {
    this.path = path;
  }

  /** Creates the cgroup, or returns undefined (with the reason) when cgroup2 is not mounted. */
  static create(): TestCgroup | string {
    cleanStale();
    const root = cgroup2Root();
    if (!root) return "no cgroup2 file system is mounted (see /proc/mounts)";
    const path = join(root, `${NS_PREFIX}${process.pid}-${counter++}`);
    mkdirSync(path);
    return new TestCgroup(path);
  }

  /** Creates a cgroup below this one (remove it with its close() before this one's). */
  subgroup(name: string): TestCgroup {
    const path = join(this.path, name);
    mkdirSync(path);
    return new TestCgroup(path);
  }

  /** Moves process `pid` into this cgroup. */
  add(pid: number): void {
    writeFileSync(join(this.path, "cgroup.procs"), String(pid));
  }

  /** Removes the cgroup (its processes must have exited). Retries briefly while the kernel drains it. */
  async close(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(this.path);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return;
        if (code !== "EBUSY") throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    rmdirSync(this.path);
  }
}

/** Spawns `node -e script args...` and resolves with its stdout once it exits (rejects on failure). */
export function runNode(script: string, args: string[], opts: { netns?: string; input?: string } = {}): Promise<string> {
  const argv = opts.netns ? ["netns", "exec", opts.netns, process.execPath, "-e", script, ...args] : ["-e", script, ...args];
  const child = spawn(opts.netns ? "ip" : process.execPath, argv, { stdio: ["pipe", "pipe", "pipe"] });
  return collect(child, opts.input);
}

function collect(child: ReturnType<typeof spawn>, input?: string): Promise<string> {
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  if (input !== undefined) child.stdin!.end(input);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited with ${code}: ${err}${out}`))));
  });
}
