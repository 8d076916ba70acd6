/**
 * User ring buffers (BPF_MAP_TYPE_USER_RINGBUF, Linux 6.1+): user space produces, a BPF program
 * consumes with bpf_user_ringbuf_drain().
 *
 * The consumer page is mapped read-only, the producer page and the (doubly mapped) data area
 * read-write. `reserve` writes the record header with the busy bit and advances producer_pos with
 * a release store (native/events.c); `submit`/`discard` clear the busy bit with an atomic
 * exchange, so the kernel, which reads headers with acquire loads, never sees a half-written
 * sample. Reservations may be outstanding together; the kernel stops at the first busy one.
 *
 * @example
 * ```ts
 * using urb = new UserRingBuffer(obj.map("requests"));
 * const s = urb.reserve(16)!;             // undefined when full
 * s.view.setBigUint64(0, 42n, true);
 * urb.submit(s);
 * obj.program("drain").testRun();         // the program calls bpf_user_ringbuf_drain()
 * ```
 */
import { ArgumentError, ClosedError, Errno } from "../errors.js";
import type { BpfMap } from "../map/map.js";
import { MapType } from "../spec/kernel-enums.js";
import { PAGE_SIZE, PROT_READ, PROT_WRITE, mmapFd, unmap } from "../sys/mmap.js";
import { EPOLLOUT, epollAdd, epollCreate, epollWait, events } from "../sys/events.js";
import { syscallError } from "../sys/bpf.js";
import type { FD } from "../sys/fd.js";

/** A reserved sample: write it through `bytes`/`view`, then submit or discard it (exactly once). */
export interface UserRingSample {
  /** The sample's bytes (exactly the reserved size), in the shared ring. */
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Offset of the sample in the data area (identifies it to submit/discard). */
  readonly offset: number;
}

export class UserRingBuffer implements Disposable {
  readonly map: BpfMap;
  /** Data area size in bytes. */
  readonly size: number;
  readonly #consumer: ArrayBuffer;
  readonly #producer: ArrayBuffer;
  readonly #data: ArrayBuffer;
  #epoll: FD | undefined;
  #closed = false;
  #submitted = 0;
  #discarded = 0;

  /** Maps a USER_RINGBUF map for producing. Throws ArgumentError for another map type. */
  constructor(map: BpfMap) {
    if (map.type !== MapType.USER_RINGBUF) throw new ArgumentError(`produce into ${map.name}: the map is not a user ring buffer (BPF_MAP_TYPE_USER_RINGBUF)`);
    this.map = map;
    this.size = map.maxEntries;
    const what = `user ring buffer ${map.name}`;
    this.#consumer = mmapFd(map.fd.value, PAGE_SIZE, PROT_READ, `${what} (consumer page)`, 0);
    try {
      this.#producer = mmapFd(map.fd.value, PAGE_SIZE + 2 * this.size, PROT_READ | PROT_WRITE, `${what} (producer page and data)`, PAGE_SIZE);
    } catch (e) {
      unmap(this.#consumer);
      throw e;
    }
    this.#data = this.#producer;
  }

  #what(): string {
    return `user ring buffer ${this.map.name}`;
  }

  /**
   * Reserves `size` bytes. Returns undefined when the ring has no room now (the program has not
   * drained it yet); throws ArgumentError when `size` can never fit.
   */
  reserve(size: number): UserRingSample | undefined {
    if (this.#closed) throw new ClosedError(this.#what());
    if (!Number.isInteger(size) || size < 0) throw new ArgumentError(`reserve in ${this.#what()}: size must be a non-negative integer`);
    const r = events().userRingbufReserve(this.#consumer, this.#producer, size);
    if (r === -Errno.ENOSPC) return undefined;
    if (r === -Errno.E2BIG) throw new ArgumentError(`reserve ${size} bytes in ${this.#what()}: a sample plus its 8-byte header must fit in the ring (${this.size} bytes)`);
    if (r < 0) throw new ClosedError(this.#what());
    return {
      offset: r,
      bytes: new Uint8Array(this.#data, PAGE_SIZE + r, size),
      view: new DataView(this.#data, PAGE_SIZE + r, size),
    };
  }

  /**
   * Like {@link reserve}, but waits (blocking the thread, up to `timeoutMs`; -1 forever) for the
   * program to drain when the ring is full. Returns undefined on timeout.
   */
  reserveBlocking(size: number, timeoutMs: number): UserRingSample | undefined {
    const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const s = this.reserve(size);
      if (s) return s;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      if (!this.#epoll) {
        this.#epoll = epollCreate(this.#what());
        epollAdd(this.#epoll, this.map.fd.value, 0, this.#what(), EPOLLOUT);
      }
      epollWait(this.#epoll, new Uint32Array(1), left === Infinity ? -1 : Math.ceil(left), this.#what());
    }
  }

  #commit(sample: UserRingSample, discard: boolean): void {
    if (this.#closed) throw new ClosedError(this.#what());
    const r = events().userRingbufCommit(this.#producer, PAGE_SIZE, sample.offset, discard);
    if (r === -Errno.EINVAL) throw new ArgumentError(`${discard ? "discard" : "submit"} a sample of ${this.#what()}: it was already submitted or discarded`);
    if (r < 0) throw syscallError("user ringbuf commit", -r, this.#what());
    if (discard) this.#discarded++;
    else this.#submitted++;
  }

  /** Makes a reserved sample visible to the program. */
  submit(sample: UserRingSample): void {
    this.#commit(sample, false);
  }

  /** Gives a reserved sample back: the program skips it. */
  discard(sample: UserRingSample): void {
    this.#commit(sample, true);
  }

  /** Reserves, copies `bytes` in, and submits. Returns false when the ring is full. */
  write(bytes: Uint8Array): boolean {
    const s = this.reserve(bytes.length);
    if (!s) return false;
    s.bytes.set(bytes);
    this.submit(s);
    return true;
  }

  get stats(): { submitted: number; discarded: number } {
    return { submitted: this.#submitted, discarded: this.#discarded };
  }

  /** Unmaps the ring (the map stays open). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#epoll?.close();
    unmap(this.#producer);
    unmap(this.#consumer);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
