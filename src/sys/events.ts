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
/** An opaque native drain handle: a ring registered with the arrays its drains fill (see native/events.c). */
export type DrainHandle = { readonly __drain: unique symbol };

export interface EventsBinding {
  epollCreate(): number;
  epollCtl(epfd: number, op: number, fd: number, events: number, data: number): number;
  epollWait(epfd: number, out: Uint32Array, timeoutMs: number): number;
  ringbufOpen(consumer: ArrayBuffer, producer: ArrayBuffer, state: ArrayBuffer, out: ArrayBuffer, capacity: number, budgetBytes: number): DrainHandle | number;
  ringbufDrain(handle: DrainHandle, max: number): number;
  ringbufCommit(handle: DrainHandle): number;
  ringbufAvailable(handle: DrainHandle): number;
  ringbufClose(handle: DrainHandle): number;
  userRingbufReserve(consumer: ArrayBuffer, producer: ArrayBuffer, size: number): number;
  userRingbufCommit(producer: ArrayBuffer, pageSize: number, sampleOffset: number, discard: boolean): number;
  perfMmap(fd: number, pageSize: number, dataSize: number): ArrayBuffer | number;
  perfUnmap(ring: ArrayBuffer): number;
  perfOpen(ring: ArrayBuffer, pageSize: number, dataSize: number, state: ArrayBuffer, out: ArrayBuffer, capacity: number, budgetBytes: number): DrainHandle | number;
  perfDrain(handle: DrainHandle, max: number): number;
  perfCommit(handle: DrainHandle): number;
  perfClose(handle: DrainHandle): number;
  pollerOpen(fd: number, callback: (status: number) => void, epollMode: boolean): PollerHandle | number;
  pollerSetActive(handle: PollerHandle, on: boolean): number;
  pollerRef(handle: PollerHandle, ref: boolean): number;
  pollerClose(handle: PollerHandle): number;
}

/** The native binding with the event-stream functions. */
export function events(): NativeBinding & EventsBinding {
  return native() as NativeBinding & EventsBinding;
}

/**
 * Where the drains of one stream write: record offsets and lengths, `capacity` of each, in one
 * buffer registered once with every ring of the stream (rings are drained one at a time).
 */
export class DrainOutput {
  readonly buffer: ArrayBuffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** Most records one drain can deliver. */
  readonly capacity: number;
  /** Most bytes one drain scans (so a batch is still in cache when it is read). */
  readonly budget: number;

  constructor(capacity: number, budget: number) {
    this.capacity = capacity;
    this.budget = budget;
    this.buffer = new ArrayBuffer(capacity * 8);
    this.offsets = new Uint32Array(this.buffer, 0, capacity);
    this.lengths = new Uint32Array(this.buffer, capacity * 4, capacity);
  }
}

/** Slots of a ring's drain state (a Float64Array(8) the native drain updates). */
export const DrainState = {
  records: 0,
  bytes: 1,
  /** ring buffer: discarded records; perf: lost samples */
  dropped: 2,
  /** 1 when the last drain stopped at its record or byte budget with more data behind it */
  more: 3,
  position: 4,
  /** perf: samples lost as reported by the last drain */
  lostLast: 5,
  /** perf: other records skipped */
  other: 6,
  length: 8,
} as const;

export const EPOLLIN = 0x001;
export const EPOLLOUT = 0x004;
export const EPOLLET = 0x80000000;
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
 *
 * With `epoll: true` the descriptor is an epoll instance whose entries are edge-triggered: the
 * poller empties its ready list before each call (so a ring nobody reads does not make the loop
 * spin), and every start is followed by one call, so a reader that drains all its rings after
 * each call misses nothing (see native/events.c for the perf_poll() detail this covers).
 */
export class Poller {
  #handle: PollerHandle | undefined;
  #active = true;

  constructor(fd: number, onReady: (status: number) => void, what: string, opts: { epoll?: boolean } = {}) {
    const h = events().pollerOpen(fd, onReady, opts.epoll ?? false);
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
