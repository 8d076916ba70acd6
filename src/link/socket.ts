/**
 * Socket filters (`SEC("socket")`): a program that runs on every packet a socket receives and
 * returns how many bytes of it to keep (0 drops it). Attached with setsockopt(SO_ATTACH_BPF)
 * (Linux 3.19+) to a Node `net.Socket`, `net.Server`, `dgram.Socket` (bound first) or a raw fd.
 * `link.mechanism` is `setsockopt(SO_ATTACH_BPF)`; closing the link detaches the filter
 * (SO_DETACH_BPF) if the descriptor still refers to the same socket.
 *
 * @example
 * ```ts
 * const sock = dgram.createSocket("udp4");
 * sock.bind(5353, () => {
 *   using link = attachSocketFilter(obj.programs.udp_filter, sock);
 * });
 * ```
 */
import { readlinkSync } from "node:fs";
import { ArgumentError } from "../errors.js";
import { socketAttachBpf, socketDetachBpf } from "../sys/net.js";
import { ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link } from "./link.js";

/** Something with a socket descriptor: a raw fd, `{ fd }`, or a Node net/dgram socket or server. */
export type SocketLike = number | { fd: number } | object;

/**
 * The descriptor of a socket. Node keeps it on the libuv handle: `_handle.fd` for net sockets and
 * servers, the handle in the socket's state for dgram sockets (which have one only once bound).
 * Throws ArgumentError when there is none.
 */
export function socketFd(sock: SocketLike): number {
  let fd: unknown;
  if (typeof sock === "number") fd = sock;
  else if (typeof (sock as { fd?: unknown }).fd === "number") fd = (sock as { fd: number }).fd;
  else {
    const stateKey = Object.getOwnPropertySymbols(sock).find((s) => s.description === "state symbol");
    const state = stateKey ? (sock as Record<symbol, { handle?: { fd?: number } }>)[stateKey] : undefined;
    // dgram sockets keep the handle in their state (their `_handle` getter is deprecated).
    const handle = state ? state.handle : (sock as { _handle?: { fd?: number } | null })._handle;
    fd = handle?.fd;
  }
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) {
    throw new ArgumentError("attach socket filter: the socket has no descriptor yet; bind or connect it first (a dgram socket needs bind(), a net.Socket a connection)");
  }
  return fd;
}

function socketIdentity(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/**
 * Attaches a socket filter program to a socket. Throws ArgumentError for a program of another type
 * or a socket without a descriptor, SyscallError (ENOTSOCK for a descriptor that is no socket).
 */
export function attachSocketFilter(prog: Program, sock: SocketLike): Link {
  if (prog.type !== ProgramType.SOCKET_FILTER) {
    throw new ArgumentError(`attach socket filter ${prog.name}: it is not a socket filter program (put it in SEC("socket"))`);
  }
  const fd = socketFd(sock);
  const identity = socketIdentity(fd);
  if (identity !== undefined && !identity.startsWith("socket:")) {
    throw new ArgumentError(`attach socket filter ${prog.name}: descriptor ${fd} is not a socket (${identity})`);
  }
  socketAttachBpf(fd, prog.fd.value, `attach socket filter ${prog.name} to socket fd ${fd}`);
  return new SocketFilterLink(fd, identity);
}

/** A socket filter on one socket. `fd` is the socket's descriptor (the caller's, not owned). */
export class SocketFilterLink extends Link {
  readonly fd: number;
  #open = true;

  constructor(fd: number, identity: string | undefined) {
    super({
      kind: "socket", target: `fd ${fd}${identity ? ` (${identity})` : ""}`, mechanism: "setsockopt(SO_ATTACH_BPF)",
      // Detach only if the descriptor still names the same socket: it may have been closed and reused.
      onClose: () => {
        this.#open = false;
        if (socketIdentity(fd) === identity) socketDetachBpf(fd);
      },
    });
    this.fd = fd;
  }

  override get closed(): boolean {
    return !this.#open;
  }
}

/** Removes whatever filter a socket has (SO_DETACH_BPF). Returns false when it had none. */
export function detachSocketFilter(sock: SocketLike): boolean {
  return socketDetachBpf(socketFd(sock)) === 0;
}
