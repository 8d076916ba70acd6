/**
 * Runs inside a test's own network namespace (`ip netns exec <ns> node netns-child.js MODE ...`),
 * so attachments that act on a whole namespace (sk_lookup, netfilter) never touch the host's.
 * Prints one JSON line with what it measured.
 *
 *   sk_lookup FROM_PORT TO_PORT N   steer N datagrams sent to FROM_PORT into a socket on TO_PORT
 *   netfilter PORT N                count N datagrams at NF_INET_LOCAL_IN
 */
import dgram from "node:dgram";
import { repoPath } from "./kernel.js";
import { loadObject } from "../../src/index.js";
import { attachSkLookup } from "../../src/link/sk-lookup.js";
import { attachNetfilter } from "../../src/link/netfilter.js";
import { socketFd } from "../../src/link/socket.js";

const u64 = (b: Uint8Array | undefined) => (b ? Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true)) : undefined);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function udpSocket(port: number): Promise<{ sock: dgram.Socket; received: () => number }> {
  const sock = dgram.createSocket("udp4");
  let n = 0;
  sock.on("message", () => n++);
  await new Promise<void>((resolve) => sock.bind(port, "127.0.0.1", () => resolve()));
  return { sock, received: () => n };
}

async function send(port: number, count: number): Promise<void> {
  const s = dgram.createSocket("udp4");
  s.on("error", () => {}); // ICMP port unreachable for datagrams nobody takes
  for (let i = 0; i < count; i++) await new Promise<void>((resolve, reject) => s.send("x", port, "127.0.0.1", (e) => (e ? reject(e) : resolve())));
  s.close();
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await sleep(10);
}

const [mode, ...args] = process.argv.slice(2);
const nums = args.map(Number);

if (mode === "sk_lookup") {
  const [fromPort, toPort, n] = nums as [number, number, number];
  using obj = await loadObject(repoPath("test", "bpf", "net_sk_lookup.bpf.o"), { constants: { from_port: fromPort } });
  const target = await udpSocket(toPort);
  obj.maps.redir_map!.update(0, BigInt(socketFd(target.sock)));
  const link = attachSkLookup(obj.programs.steer!);
  await send(fromPort, n);
  await send(toPort, 2); // addressed to the socket directly: not steered
  await waitFor(() => target.received() >= n + 2);
  const steered = u64(obj.maps.steered!.lookup(0));
  const out = { mechanism: link.mechanism, target: link.target, linkType: link.info().typeName, received: target.received(), steered };
  link.close();
  await send(fromPort, 3); // no program: nobody listens on fromPort
  await sleep(100);
  target.sock.close();
  console.log(JSON.stringify({ ...out, receivedAfterClose: target.received() - out.received }));
} else if (mode === "netfilter") {
  const [port, n] = nums as [number, number];
  using obj = await loadObject(repoPath("test", "bpf", "net_netfilter.bpf.o"));
  const rx = await udpSocket(port);
  const link = attachNetfilter(obj.programs.nf_count!, { pf: "ipv4", hook: "local_in", priority: -128 });
  await send(port, n);
  await waitFor(() => rx.received() >= n);
  const out = { mechanism: link.mechanism, target: link.target, linkType: link.info().typeName, received: rx.received(), hits: u64(obj.maps.hits!.lookup(0)) };
  link.close();
  await send(port, 2);
  await waitFor(() => rx.received() >= n + 2);
  rx.sock.close();
  console.log(JSON.stringify({ ...out, hitsAfterClose: u64(obj.maps.hits!.lookup(0))! - out.hits! }));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
