/**
 * EventStream: what ring buffer and perf buffer readers share. One epoll instance holds every
 * source's descriptor; a watcher on the libuv loop (src/sys/events.ts `Poller`) wakes the stream
 * when the epoll fd is readable, and each source is drained in native code into offset/length
 * arrays over its mapped memory. Records are then handed over in one of three ways:
 *
 * - `onBatch(cb)` / `consume(cb)` / `poll(ms, cb)`: the callback sees a DataView over the mapped
 *   memory and the offsets and lengths of every record of one drain. Nothing is allocated; the
 *   memory is released to the producer (one commit per drain) when the callback returns, so the
 *   callback must copy what it keeps.
 * - `for await (const r of stream)` / `stream.records({ signal })`: records copied out of the
 *   ring (and decoded when a decoder was given), driven by the event loop.
 */
import { ArgumentError, BpfError, ClosedError } from "../errors.js";
import type { FD } from "../sys/fd.js";
import { Poller, epollCreate, epollWait } from "../sys/events.js";

/**
 * Receives the records of one drain: record `i` is `lengths[i]` bytes at `offsets[i]` in `view`.
 * Only `count` entries of the arrays are valid. The view, offsets and lengths are reused: read
 * them during the call only.
 */
export type BatchCallback<S> = (view: DataView, offsets: Uint32Array, lengths: Uint32Array, count: number, source: S) => void;

/** Turns a record (a copy the caller may keep) into a value. A BTF codec can be plugged in here. */
export type Decoder<T> = (record: Uint8Array) => T;

/** One drainable ring (a ring buffer map, or one CPU's perf ring). */
export interface EventSource {
  /** The drained memory (records are addressed by offsets into it). */
  readonly view: DataView;
  /** The same memory as bytes. */
  readonly bytes: Uint8Array;
  /** The descriptor epoll watches. */
  readonly fd: number;
  /** One drain: fills offsets/lengths, returns the count (or a negative errno). Does not commit. */
  drain(offsets: Uint32Array, lengths: Uint32Array): number;
  /** Releases what the last drain read to the producer (one release store). */
  commit(): void;
  close(): void;
}

export interface IterateOptions {
  /** Ends the iteration (it completes normally) when aborted. */
  signal?: AbortSignal;
}

export interface StreamOptions<T> {
  /** Decodes each copied record for iteration. Default: the bytes themselves. */
  decoder?: Decoder<T>;
  /**
   * Most records one drain hands to a batch callback (default 16384). Smaller batches keep the
   * records in cache between the drain and the callback; each drain commits once.
   */
  batchSize?: number;
  /**
   * Most records copied out of the rings per refill of the iteration queue (default 4096). The
   * rings are the buffer: records not yet asked for stay in kernel memory.
   */
  iterationBatch?: number;
  /** Whether an active stream keeps the process alive (default true). */
  ref?: boolean;
}

type Waiter<T> = { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void };

export abstract class EventStream<T, S extends EventSource> implements AsyncIterable<T>, Disposable {
  protected readonly epoll: FD;
  protected readonly sources: S[] = [];
  readonly #offsets: Uint32Array;
  readonly #lengths: Uint32Array;
  readonly #iterOffsets: Uint32Array;
  readonly #iterLengths: Uint32Array;
  readonly #decoder: Decoder<T> | undefined;
  readonly #ref: boolean;
  readonly #what: string;
  #ready = new Uint32Array(64);
  #poller: Poller | undefined;
  #handler: BatchCallback<S> | undefined;
  #queue: T[] = [];
  #head = 0;
  #waiters: Waiter<T>[] = [];
  #iterators = 0;
  #next = 0; // the source the next iteration refill starts with (round robin)
  #closed = false;
  #error: unknown;

  protected constructor(what: string, opts: StreamOptions<T> = {}) {
    this.#what = what;
    const batch = opts.batchSize ?? 16384;
    if (!Number.isInteger(batch) || batch < 1) throw new ArgumentError(`open ${what}: batchSize must be a positive integer`);
    const iter = opts.iterationBatch ?? 4096;
    if (!Number.isInteger(iter) || iter < 1) throw new ArgumentError(`open ${what}: iterationBatch must be a positive integer`);
    this.#offsets = new Uint32Array(batch);
    this.#lengths = new Uint32Array(batch);
    this.#iterOffsets = new Uint32Array(iter);
    this.#iterLengths = new Uint32Array(iter);
    this.#decoder = opts.decoder;
    this.#ref = opts.ref ?? true;
    this.epoll = epollCreate(what);
  }

  /** Called after each drain of a source (perf buffers report lost records here). */
  protected afterDrain(_source: S): void {}

  get closed(): boolean {
    return this.#closed;
  }

  /** The epoll descriptor that is readable when any source has data (for custom event loops). */
  get epollFd(): number {
    return this.epoll.value;
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(this.#what);
  }

  /** Drains `s` into `cb` until it is empty. */
  #drainOne(s: S, cb: BatchCallback<S>): number {
    const offsets = this.#offsets;
    const lengths = this.#lengths;
    let total = 0;
    for (;;) {
      const n = s.drain(offsets, lengths);
      if (n < 0) throw new ClosedError(this.#what);
      try {
        if (n > 0) cb(s.view, offsets, lengths, n, s);
      } finally {
        if (!this.#closed) {
          s.commit(); // discarded records (or perf bookkeeping records) advance the position too
          this.afterDrain(s);
        }
      }
      total += n;
      if (n < offsets.length || this.#closed) return total; // the callback may close the stream
    }
  }

  /**
   * Drains every source once, now, without waiting: each drain's records go to `cb` (default: the
   * `onBatch` handler). Returns the number of records. Never blocks.
   */
  consume(cb?: BatchCallback<S>): number {
    this.#check();
    const sink = cb ?? this.#handler;
    if (!sink) {
      throw new ArgumentError(`drain ${this.#what}: no callback was given and no onBatch handler is set; pass a callback (iterators pull records themselves)`);
    }
    let total = 0;
    for (const s of this.sources) total += this.#drainOne(s, sink);
    return total;
  }

  /**
   * Waits up to `timeoutMs` (-1: forever) for data, blocking the thread (epoll_wait), then drains
   * like {@link consume}. Returns the number of records (0 on timeout).
   */
  poll(timeoutMs: number, cb?: BatchCallback<S>): number {
    this.#check();
    if (!cb && !this.#handler) this.consume(); // throws the explanation
    epollWait(this.epoll, this.#ready, timeoutMs, this.#what);
    return this.consume(cb);
  }

  /**
   * Calls `cb` from the event loop with the records of every drain as they arrive (allocation
   * free). Returns a function that removes the handler. One handler at a time; while it is set,
   * iterators receive nothing.
   */
  onBatch(cb: BatchCallback<S>): () => void {
    this.#check();
    if (this.#handler) throw new ArgumentError(`onBatch on ${this.#what}: a batch handler is already set; call the function the first onBatch returned to remove it`);
    this.#handler = cb;
    this.#updatePolling();
    return () => {
      if (this.#handler === cb) {
        this.#handler = undefined;
        this.#updatePolling();
      }
    };
  }

  /**
   * Records (copied and decoded) as they arrive, until `signal` aborts or the stream is closed.
   * Records are pulled from the rings as the loop asks for them, so a slow consumer leaves them
   * in kernel memory (where a full ring makes the producer drop, as the counters show).
   */
  records(opts: IterateOptions = {}): AsyncIterableIterator<T> {
    this.#check();
    const signal = opts.signal;
    let done = false;
    let mine: Waiter<T> | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#iterators--;
      signal?.removeEventListener("abort", onAbort);
      if (mine) {
        const i = this.#waiters.indexOf(mine);
        if (i >= 0) this.#waiters.splice(i, 1);
        const w = mine;
        mine = undefined;
        w.resolve({ value: undefined, done: true });
      }
      this.#updatePolling();
    };
    const onAbort = (): void => finish();
    this.#iterators++;
    if (signal?.aborted) finish();
    else signal?.addEventListener("abort", onAbort, { once: true });
    const it: AsyncIterableIterator<T> = {
      next: (): Promise<IteratorResult<T>> => {
        if (done || this.#closed) {
          finish();
          return Promise.resolve({ value: undefined, done: true });
        }
        if (this.#head < this.#queue.length) return Promise.resolve({ value: this.#take(), done: false });
        if (this.#error !== undefined) {
          const e = this.#error;
          this.#error = undefined;
          finish();
          return Promise.reject(e);
        }
        // Pull: copy the next records out of the rings now, if there are any.
        if (!this.#handler) {
          try {
            this.#refill();
          } catch (e) {
            finish();
            return Promise.reject(e);
          }
          if (this.#head < this.#queue.length) return Promise.resolve({ value: this.#take(), done: false });
        }
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          mine = {
            resolve: (r) => {
              mine = undefined;
              resolve(r);
            },
            reject: (e) => {
              mine = undefined;
              finish();
              reject(e);
            },
          };
          this.#waiters.push(mine);
          this.#updatePolling();
        });
      },
      return: (): Promise<IteratorResult<T>> => {
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.records();
  }

  /** Records copied for iterators and not yet taken. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  #take(): T {
    const v = this.#queue[this.#head]!;
    (this.#queue as Array<T | undefined>)[this.#head] = undefined;
    if (++this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
    return v;
  }

  /** Copies up to one iteration batch of records out of the rings into the queue (waiters first). */
  #refill(): number {
    const offsets = this.#iterOffsets;
    const lengths = this.#iterLengths;
    const count = this.sources.length;
    let total = 0;
    for (let k = 0; k < count && total === 0; k++) {
      const s = this.sources[(this.#next + k) % count]!;
      const n = s.drain(offsets, lengths);
      if (n < 0) throw new ClosedError(this.#what);
      try {
        if (n > 0) this.#enqueue(s, n);
      } finally {
        s.commit();
        this.afterDrain(s);
      }
      total += n;
    }
    this.#next = (this.#next + 1) % Math.max(count, 1);
    return total;
  }

  /** Copies `n` drained records of `s` out of the ring and queues them (decoded). */
  #enqueue(s: S, n: number): void {
    const offsets = this.#iterOffsets;
    const lengths = this.#iterLengths;
    const bytes = s.bytes;
    const decode = this.#decoder;
    // Records are contiguous from offsets[0] except across at most one wrap of the ring: copy
    // each run with one slice, and hand out views into the copies.
    let i = 0;
    while (i < n) {
      let j = i + 1;
      let end = offsets[i]! + lengths[i]!;
      while (j < n && offsets[j]! >= end) {
        end = offsets[j]! + lengths[j]!;
        j++;
      }
      const start = offsets[i]!;
      const copy = bytes.slice(start, end);
      for (let k = i; k < j; k++) {
        const rec = copy.subarray(offsets[k]! - start, offsets[k]! - start + lengths[k]!);
        const value = decode ? decode(rec) : (rec as unknown as T);
        const w = this.#waiters.shift();
        if (w) w.resolve({ value, done: false });
        else this.#queue.push(value);
      }
      i = j;
    }
  }

  #onReady = (status: number): void => {
    if (this.#closed) return;
    if (status < 0) {
      this.#fail(new BpfError("E_POLL", `wait for ${this.#what}: the event loop reported error ${status}`));
      return;
    }
    try {
      const handler = this.#handler;
      if (handler) {
        for (const s of [...this.sources]) {
          if (this.#closed || this.#handler !== handler) break;
          this.#drainOne(s, handler);
        }
      } else {
        while (this.#waiters.length > 0 && this.#refill() > 0);
      }
    } catch (e) {
      this.#fail(e);
      return;
    }
    this.#updatePolling();
  };

  #fail(e: unknown): void {
    const w = this.#waiters.shift();
    if (w) w.reject(e);
    else if (this.#iterators > 0) this.#error = e;
    else throw e;
  }

  /** Polls on the event loop while someone waits: a batch handler, or an iterator's pending next(). */
  #updatePolling(): void {
    if (this.#closed) return;
    const want = this.#handler !== undefined || this.#waiters.length > 0;
    if (want && !this.#poller) {
      this.#poller = new Poller(this.epoll.value, this.#onReady, this.#what);
      if (!this.#ref) this.#poller.ref(false);
    } else if (this.#poller) {
      this.#poller.setActive(want);
    }
  }
  /** Keeps (true) or stops keeping (false) the process alive while listening. */
  ref(on = true): void {
    this.#poller?.ref(on);
  }

  /** Stops polling, ends iterations, unmaps every ring and closes the descriptors. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller?.close();
    this.#poller = undefined;
    for (const s of this.sources.splice(0)) s.close();
    this.epoll.close();
    for (const w of this.#waiters.splice(0)) w.resolve({ value: undefined, done: true });
    this.#queue = [];
    this.#head = 0;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
