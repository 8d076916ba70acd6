/**
 * Typed access to the event-stream half of the native layer (native/events.c): epoll, the ring
 * buffer and perf ring drains (memory ordering is done in C), the user ring buffer producer, and
 * a readiness watcher on the libuv loop. Thin wrappers only: policy lives in src/ringbuf and
 * src/perf.
 */
import { native, type NativeBinding } from "./native.js";
import { FD } from "./fd.js";
import { syscallError } from "./bpf.js";

/** An opaque native watcher handle. */
export type PollerHandle = { readonly __poller: unique symbol };

export interface EventsBinding {
  epollCreate(): number;
  epollCtl(epfd: number, op: number, fd: number, events: number, data: number): number;
  epollWait(epfd: number, out: Uint32Array, timeoutMs: number): number;
  ringbufDrain(consumer: ArrayBuffer, producer: ArrayBuffer, state: Float64Array, offsets: Uint32Array, lengths: Uint32Array): number;
  ringbufCommit(consumer: ArrayBuffer, pos: number): number;
  ringbufAvailable(consumer: ArrayBuffer, producer: ArrayBuffer): number;
  userRingbufReserve(consumer: ArrayBuffer, producer: ArrayBuffer, size: number): number;
  userRingbufCommit(producer: ArrayBuffer, pageSize: number, sampleOffset: number, discard: boolean): number;
  perfMmap(fd: number, pageSize: number, dataSize: number): ArrayBuffer | number;
  perfUnmap(ring: ArrayBuffer): number;
  perfDrain(ring: ArrayBuffer, pageSize: number, dataSize: number, state: Float64Array, offsets: Uint32Array, lengths: Uint32Array): number;
  perfCommit(ring: ArrayBuffer, tail: number): number;
  pollerOpen(fd: number, callback: (status: number) => void): PollerHandle | number;
  pollerSetActive(handle: PollerHandle, on: boolean): number;
  pollerRef(handle: PollerHandle, ref: boolean): number;
  pollerClose(handle: PollerHandle): number;
}

/** The native binding with the event-stream functions. */
export function events(): NativeBinding & EventsBinding {
  return native() as NativeBinding & EventsBinding;
}

export const EPOLLIN = 0x001;
export const EPOLLOUT = 0x004;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;

/** A new epoll instance (close-on-exec). Throws SyscallError. */
export function epollCreate(what: string): FD {
  const fd = events().epollCreate();
  if (fd < 0) throw syscallError("epoll_create1", -fd, `create an epoll instance for ${what}`);
  return new FD(fd, `epoll for ${what}`);
}

/** Adds `fd` to `epfd`, reporting `data` when it is ready. Throws SyscallError. */
export function epollAdd(epfd: FD, fd: number, data: number, what: string, eventsMask = EPOLLIN): void {
  const r = events().epollCtl(epfd.value, EPOLL_CTL_ADD, fd, eventsMask, data);
  if (r < 0) throw syscallError("epoll_ctl", -r, `watch ${what}`);
}

/** Removes `fd` from `epfd` (errors ignored: the fd may be gone already). */
export function epollDel(epfd: FD, fd: number): void {
  if (!epfd.closed) events().epollCtl(epfd.value, EPOLL_CTL_DEL, fd, 0, 0);
}

/** epoll_wait: fills `out` with the data of ready fds, returns how many. EINTR counts as 0. Throws SyscallError. */
export function epollWait(epfd: FD, out: Uint32Array, timeoutMs: number, what: string): number {
  const r = events().epollWait(epfd.value, out, Math.max(-1, Math.trunc(timeoutMs)));
  if (r < 0) throw syscallError("epoll_wait", -r, `wait for ${what}`);
  return r;
}

/**
 * Watches a descriptor for readability on the libuv loop and calls `onReady` from the loop (no
 * thread, no busy polling). `close()` stops watching; the descriptor must be closed after it.
 */
export class Poller {
  #handle: PollerHandle | undefined;
  #active = true;

  constructor(fd: number, onReady: (status: number) => void, what: string) {
    const h = events().pollerOpen(fd, onReady);
    if (typeof h === "number") throw syscallError("uv_poll_start", -h, `watch ${what} on the event loop`);
    this.#handle = h;
  }

  get active(): boolean {
    return this.#handle !== undefined && this.#active;
  }

  /** Starts or stops watching without closing. */
  setActive(on: boolean): void {
    if (!this.#handle || on === this.#active) return;
    events().pollerSetActive(this.#handle, on);
    this.#active = on;
  }

  /** Whether the watcher keeps the process alive (like `ref()`/`unref()` on a socket). */
  ref(on = true): void {
    if (this.#handle) events().pollerRef(this.#handle, on);
  }

  close(): void {
    if (!this.#handle) return;
    events().pollerClose(this.#handle);
    this.#handle = undefined;
  }
}
