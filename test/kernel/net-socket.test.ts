/**
 * Socket filters on this process's own sockets: a UDP socket on 127.0.0.1 receives datagrams the
 * filter keeps, truncates or drops; closing the link removes the filter.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import net from "node:net";
import { closeSync, openSync } from "node:fs";
import { ktest, repoPath } from "../helpers/kernel.js";
import { ArgumentError, loadObject } from "../../src/index.js";
import { attachSocketFilter, detachSocketFilter, socketFd } from "../../src/link/socket.js";

const u64 = (b: Uint8Array | undefined) => (b ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : undefined);

async function bound(): Promise<dgram.Socket> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(0, "127.0.0.1", () => resolve()));
  return s;
}

/** Sends `messages` to `to` and collects what arrives until the sentinel "END". */
async function exchange(to: dgram.Socket, messages: string[]): Promise<string[]> {
  const got: string[] = [];
  const done = new Promise<void>((resolve) => {
    const on = (m: Buffer) => {
      if (m.toString() === "END") {
        to.off("message", on);
        resolve();
      } else got.push(m.toString());
    };
    to.on("message", on);
  });
  const from = dgram.createSocket("udp4");
  try {
    for (const m of [...messages, "END"]) {
      await new Promise<void>((resolve, reject) => from.send(m, to.address().port, "127.0.0.1", (e) => (e ? reject(e) : resolve())));
    }
    await done;
  } finally {
    from.close();
  }
  return got;
}

ktest("socket filter on a UDP socket: keeps, truncates and drops by the first payload byte; close() removes it", async () => {
  using obj = await loadObject(repoPath("test", "bpf", "net_socket.bpf.o"));
  const prog = obj.programs.udp_filter!;
  const sock = await bound();
  try {
    const sent = ["keep one", "Drop me", "Truncate me", "keep two", "Dropped too", "Tiny"];
    {
      using link = attachSocketFilter(prog, sock);
      assert.equal(link.mechanism, "setsockopt(SO_ATTACH_BPF)");
      assert.equal(link.kind, "socket");
      assert.equal(link.closed, false);
      assert.deepEqual(await exchange(sock, sent), ["keep one", "Trun", "keep two", "Tiny"]);
      assert.equal(u64(obj.maps.seen!.lookup(0)), BigInt(sent.length + 1), "the filter saw every datagram (and END)");
      assert.equal(u64(obj.maps.seen!.lookup(1)), 2n);
    }
    assert.deepEqual(await exchange(sock, ["Drop? not any more"]), ["Drop? not any more"]);
    assert.equal(u64(obj.maps.seen!.lookup(0)), BigInt(sent.length + 1), "the filter is gone");

    // A raw descriptor works too, and detachSocketFilter() removes a filter without a link.
    const fd = socketFd(sock);
    const link = attachSocketFilter(prog, fd);
    assert.deepEqual(await exchange(sock, ["Dx", "ok"]), ["ok"]);
    assert.equal(detachSocketFilter(sock), true);
    assert.equal(detachSocketFilter(sock), false, "nothing left to detach");
    link.close();
  } finally {
    sock.close();
  }
});

ktest("socket filter: Node net sockets and servers have descriptors; unbound sockets and other programs are refused", async () => {
  using obj = await loadObject(repoPath("test", "bpf", "net_socket.bpf.o"));
  const prog = obj.programs.udp_filter!;
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  await new Promise<void>((resolve) => client.on("connect", () => resolve()));
  try {
    using a = attachSocketFilter(prog, server);
    using b = attachSocketFilter(prog, client);
    assert.notEqual(socketFd(server), socketFd(client));
    assert.match(b.target, /socket:\[\d+\]/);
    void a;
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  const unbound = dgram.createSocket("udp4");
  try {
    assert.throws(() => attachSocketFilter(prog, unbound), (e: unknown) => e instanceof ArgumentError && /bind/.test(e.message));
  } finally {
    unbound.close();
  }
  assert.throws(() => attachSocketFilter(prog, 0x7fff), (e: unknown) => (e as { errno?: number }).errno === 9, "EBADF for a closed descriptor");
  const file = openSync("/dev/null", "r");
  try {
    assert.throws(() => attachSocketFilter(prog, file), (e: unknown) => e instanceof ArgumentError && /not a socket/.test(e.message));
  } finally {
    closeSync(file);
  }
  using xdp = await loadObject(repoPath("test", "bpf", "net_xdp.bpf.o"));
  const sock = await bound();
  try {
    assert.throws(() => attachSocketFilter(xdp.programs.xdp_count_a!, sock), ArgumentError);
  } finally {
    sock.close();
  }
});
