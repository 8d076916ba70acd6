/**
 * EventStream: what ring buffer and perf buffer readers share. One epoll instance holds every
 * source's descriptor; a watcher on the libuv loop (src/sys/events.ts `Poller`) wakes the stream
 * when the epoll fd is readable, and each source is drained in native code into offset/length
 * arrays over its mapped memory (arrays registered once with every source: a drain call passes
 * nothing but a handle). Records are then handed over in one of four ways:
 *
 * - `onBatch(cb)` / `consume(cb)` / `poll(ms, cb)`: the callback sees a DataView over the mapped
 *   memory and the offsets and lengths of every record of one drain. Nothing is allocated; the
 *   memory is released to the producer (one commit per drain) when the callback returns, so the
 *   callback must copy what it keeps.
 * - `for await (const b of stream.batches())`: the same batches, pulled by an AsyncIterable (one
 *   promise per drain). A batch stays valid (and unreleased) until the next iteration.
 * - `for await (const r of stream)` / `stream.records({ signal })`: records copied out of the
 *   ring (and decoded when a decoder was given), driven by the event loop. Each drain is copied
 *   with one memcpy; records are views into that copy, made as they are taken.
 */
import { ArgumentError, BpfError, ClosedError } from "../errors.js";
import type { FD } from "../sys/fd.js";
import { DrainOutput, EPOLLET, EPOLLIN, Poller, epollAdd, epollCreate, epollWait } from "../sys/events.js";

/**
 * Receives the records of one drain: record `i` is `lengths[i]` bytes at `offsets[i]` in `view`.
 * Only `count` entries of the arrays are valid. The view, offsets and lengths are reused: read
 * them during the call only.
 */
export type BatchCallback<S> = (view: DataView, offsets: Uint32Array, lengths: Uint32Array, count: number, source: S) => void;

/**
 * The records of one drain, as yielded by {@link EventStream.batches}: record `i` is `lengths[i]`
 * bytes at `offsets[i]` in `view` (the mapped ring), for `i < count`. The object and its arrays
 * are reused, and the records stay in the ring (unreleased to the producer) until the next
 * iteration: read or copy them before asking for the next batch.
 */
export interface EventBatch<S> {
  view: DataView;
  offsets: Uint32Array;
  lengths: Uint32Array;
  count: number;
  /** The ring the records come from. */
  source: S;
}

/** Turns a record (a copy the caller may keep) into a value. A BTF codec can be plugged in here. */
export type Decoder<T> = (record: Uint8Array) => T;

/** One drainable ring (a ring buffer map, or one CPU's perf ring), registered with its stream's output arrays. */
export interface EventSource {
  /** The drained memory (records are addressed by offsets into it). */
  readonly view: DataView;
  /** The same memory as bytes. */
  readonly bytes: Uint8Array;
  /** The descriptor epoll watches. */
  readonly fd: number;
  /** One drain of at most `max` records into the output arrays; returns the count (or a negative errno). Does not commit. */
  drain(max: number): number;
  /** Whether the last drain stopped at its record or byte budget with more data behind it. */
  readonly more: boolean;
  /**
   * Releases what the drains so far read to the producer (one release store). Returns true when
   * records finished during the drain are already waiting (drain again: no wakeup will come for
   * them).
   */
  commit(): boolean;
  close(): void;
}

export interface IterateOptions {
  /** Ends the iteration (it completes normally) when aborted. */
  signal?: AbortSignal;
}

export interface StreamOptions<T> {
  /** Decodes each copied record for iteration. Default: the bytes themselves. */
  decoder?: Decoder<T>;
  /** Most records one drain hands to a batch callback or a batch iteration (default 16384). */
  batchSize?: number;
  /**
   * Most bytes (records and their headers) one drain scans, default 256 KiB: a batch is then
   * still in the CPU cache when the callback reads it. Each drain commits once.
   */
  batchBytes?: number;
  /**
   * Most records copied out of the rings per refill of the record iteration (default 4096). The
   * rings are the buffer: records not yet asked for stay in kernel memory.
   */
  iterationBatch?: number;
  /** Whether an active stream keeps the process alive (default true). */
  ref?: boolean;
}

/** A pending `next()`: `serve` tries to satisfy it now (true when it did). */
type Waiter = { serve: () => boolean; end: () => void; reject: (e: unknown) => void };

export abstract class EventStream<T, S extends EventSource> implements AsyncIterable<T>, Disposable {
  protected readonly epoll: FD;
  protected readonly sources: S[] = [];
  /** The arrays every source's drains write (register it with each source). */
  protected readonly output: DrainOutput;
  readonly #batchSize: number;
  readonly #iterBatch: number;
  readonly #decoder: Decoder<T> | undefined;
  #ref: boolean;
  #keepsAlive = false; // whether the poller is referenced (keeps the loop alive)
  readonly #what: string;
  #ready = new Uint32Array(64);
  #poller: Poller | undefined;
  #handler: BatchCallback<S> | undefined;
  #waiters: Waiter[] = [];
  #iterators = 0;
  #next = 0; // the source the next pull starts with (round robin)
  #closed = false;
  #error: unknown;
  // The copy the record iterators take from: records #ci..#count-1 are #lens[i] bytes at #offs[i] in #copy.
  #copy: ArrayBuffer = new ArrayBuffer(0);
  readonly #offs: Uint32Array;
  readonly #lens: Uint32Array;
  #ci = 0;
  #count = 0;
  // The batch a batch iterator holds (not committed yet), and the object it is handed in.
  #held: S | undefined;
  #endBatches: (() => void) | undefined;
  #batch: EventBatch<S> | undefined;

  protected constructor(what: string, opts: StreamOptions<T> = {}) {
    this.#what = what;
    const batch = opts.batchSize ?? 16384;
    if (!Number.isInteger(batch) || batch < 1) throw new ArgumentError(`open ${what}: batchSize must be a positive integer`);
    const bytes = opts.batchBytes ?? 256 * 1024;
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > 0xffffffff) throw new ArgumentError(`open ${what}: batchBytes must be a positive integer below 4 GiB`);
    const iter = opts.iterationBatch ?? 4096;
    if (!Number.isInteger(iter) || iter < 1) throw new ArgumentError(`open ${what}: iterationBatch must be a positive integer`);
    this.#batchSize = batch;
    this.#iterBatch = iter;
    this.output = new DrainOutput(Math.max(batch, iter), bytes);
    this.#offs = new Uint32Array(iter);
    this.#lens = new Uint32Array(iter);
    this.#decoder = opts.decoder;
    this.#ref = opts.ref ?? true;
    this.epoll = epollCreate(what);
  }

  /**
   * Registers a source's descriptor with the stream's epoll, edge-triggered: the poller empties
   * the ready list before each callback, and every callback drains every source, so an edge is
   * all that is needed (and a ring nobody reads does not wake the loop again and again).
   */
  protected watch(source: S, what: string): void {
    epollAdd(this.epoll, source.fd, this.sources.length, what, (EPOLLIN | EPOLLET) >>> 0);
  }

  /** Called after each commit of a source (perf buffers report lost records here). */
  protected afterDrain(_source: S): void {}

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The epoll descriptor that becomes readable when a source gets data (for custom event loops).
   * Its entries are edge-triggered: once it reports, drain with {@link consume} before waiting
   * again.
   */
  get epollFd(): number {
    return this.epoll.value;
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(this.#what);
  }

  /** Releases the batch a batch iterator holds. */
  #release(): void {
    const s = this.#held;
    if (s) {
      this.#held = undefined;
      s.commit();
      this.afterDrain(s);
    }
  }

  /** Drains `s` into `cb` until it is empty (one commit per drain). */
  #drainOne(s: S, cb: BatchCallback<S>): number {
    const out = this.output;
    const max = this.#batchSize;
    let total = 0;
    for (;;) {
      const n = s.drain(max);
      if (n < 0) throw new ClosedError(this.#what);
      let waiting = false;
      if (n > 0) {
        try {
          cb(s.view, out.offsets, out.lengths, n, s);
        } finally {
          if (!this.#closed) {
            waiting = s.commit();
            this.afterDrain(s);
          }
        }
      } else {
        waiting = s.commit(); // discarded records (or perf bookkeeping records) advance the position too
        this.afterDrain(s);
      }
      total += n;
      if (this.#closed || !(s.more || waiting)) return total; // the callback may close the stream
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
    this.#release();
    let total = 0;
    for (const s of this.sources) total += this.#drainOne(s, sink);
    return total;
  }

  /**
   * Drains like {@link consume}; when nothing was there, waits up to `timeoutMs` (-1: forever)
   * for data, blocking the thread (epoll_wait), and drains again. Returns the number of records
   * (0 when none arrived in time).
   */
  poll(timeoutMs: number, cb?: BatchCallback<S>): number {
    const n = this.consume(cb); // throws the explanation when there is no callback
    if (n > 0) return n;
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
   * in kernel memory (where a full ring makes the producer drop, as the counters show). Each
   * record still costs one promise (the AsyncIterator protocol); `batches()` costs one per drain.
   */
  records(opts: IterateOptions = {}): AsyncIterableIterator<T> {
    this.#check();
    return this.#iterate<T>(opts.signal, () => {
      if (this.#ci < this.#count) return { value: this.#take(), done: false };
      if (this.#handler || this.#refill() === 0) return undefined;
      return { value: this.#take(), done: false };
    }, () => {});
  }

  /**
   * The records of each drain as an AsyncIterable of batches (one promise per drain, nothing
   * copied): `for await (const { view, offsets, lengths, count } of stream.batches())`. The
   * yielded object is reused and its records stay in the ring until the next iteration (or the
   * end of the loop), when they are released to the producer. One batch iteration at a time per
   * stream: starting one ends the previous one; `consume`, `poll` and record iteration release
   * the held batch first.
   */
  batches(opts: IterateOptions = {}): AsyncIterableIterator<EventBatch<S>> {
    this.#check();
    this.#endBatches?.(); // the batch object and the held batch belong to one iteration
    let end: (() => void) | undefined;
    const it = this.#iterate<EventBatch<S>>(opts.signal, () => {
      this.#release(); // the previous batch has been read
      if (this.#handler) return undefined;
      const b = this.#pullBatch();
      return b ? { value: b, done: false } : undefined;
    }, () => {
      if (this.#endBatches === end) this.#endBatches = undefined;
      if (!this.#closed) this.#release();
    }, (finish) => (end = finish));
    this.#endBatches = end;
    return it;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.records();
  }

  /** Records copied for iterators and not yet taken. */
  get queued(): number {
    return this.#count - this.#ci;
  }

  /**
   * An AsyncIterableIterator over `pull` (which returns a result now, or undefined when there is
   * nothing yet: the next() promise then waits for the event loop to report data).
   */
  #iterate<V>(signal: AbortSignal | undefined, pull: () => IteratorResult<V> | undefined, cleanup: () => void, expose?: (finish: () => void) => void): AsyncIterableIterator<V> {
    let done = false;
    const mine: Waiter[] = []; // this iterator's pending next() calls, oldest first
    const DONE: IteratorResult<V> = { value: undefined, done: true };
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#iterators--;
      signal?.removeEventListener("abort", onAbort);
      for (const w of mine.splice(0)) {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
        w.end();
      }
      cleanup();
      this.#updatePolling();
    };
    const onAbort = (): void => finish();
    expose?.(finish);
    this.#iterators++;
    if (signal?.aborted) finish();
    else signal?.addEventListener("abort", onAbort, { once: true });
    const it: AsyncIterableIterator<V> = {
      next: (): Promise<IteratorResult<V>> => {
        if (done || this.#closed) {
          finish();
          return Promise.resolve(DONE);
        }
        if (this.#error !== undefined) {
          const e = this.#error;
          this.#error = undefined;
          finish();
          return Promise.reject(e);
        }
        if (mine.length === 0) {
          let r: IteratorResult<V> | undefined;
          try {
            r = pull();
          } catch (e) {
            finish();
            return Promise.reject(e);
          }
          if (r) return Promise.resolve(r);
        }
        return new Promise<IteratorResult<V>>((resolve, reject) => {
          const w: Waiter = {
            serve: () => {
              const v = pull();
              if (!v) return false;
              mine.splice(mine.indexOf(w), 1);
              resolve(v);
              return true;
            },
            end: () => resolve(DONE),
            reject: (e) => {
              const i = mine.indexOf(w);
              if (i >= 0) mine.splice(i, 1);
              finish();
              reject(e);
            },
          };
          mine.push(w);
          this.#waiters.push(w);
          this.#updatePolling();
        });
      },
      return: (): Promise<IteratorResult<V>> => {
        finish();
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }

  #take(): T {
    const i = this.#ci++;
    const rec = new Uint8Array(this.#copy, this.#offs[i]!, this.#lens[i]!);
    const decode = this.#decoder;
    return decode ? decode(rec) : (rec as unknown as T);
  }

  /** One drain of the next source that has records, held for a batch iteration (round robin). */
  #pullBatch(): EventBatch<S> | undefined {
    const count = this.sources.length;
    for (let k = 0; k < count; k++) {
      const idx = (this.#next + k) % count;
      const s = this.sources[idx]!;
      const n = s.drain(this.#batchSize);
      if (n < 0) throw new ClosedError(this.#what);
      if (n > 0) {
        this.#held = s;
        this.#next = (idx + 1) % count;
        const out = this.output;
        const b = (this.#batch ??= { view: s.view, offsets: out.offsets, lengths: out.lengths, count: 0, source: s });
        b.view = s.view;
        b.offsets = out.offsets;
        b.lengths = out.lengths;
        b.count = n;
        b.source = s;
        return b;
      }
      s.commit();
      this.afterDrain(s);
    }
    return undefined;
  }

  /** Copies one drain of the next source that has records into the iteration copy (round robin). */
  #refill(): number {
    this.#release();
    const count = this.sources.length;
    for (let k = 0; k < count; k++) {
      const idx = (this.#next + k) % count;
      const s = this.sources[idx]!;
      const n = s.drain(this.#iterBatch);
      if (n < 0) throw new ClosedError(this.#what);
      try {
        if (n > 0) this.#copyOut(s, n);
      } finally {
        s.commit();
        this.afterDrain(s);
      }
      if (n > 0) {
        this.#next = (idx + 1) % count;
        return n;
      }
    }
    return 0;
  }

  /** Copies `n` drained records of `s` out of the ring: one slice when they are contiguous (always for ring buffers). */
  #copyOut(s: S, n: number): void {
    const offsets = this.output.offsets;
    const lengths = this.output.lengths;
    const offs = this.#offs;
    const lens = this.#lens;
    const bytes = s.bytes;
    const start = offsets[0]!;
    let end = start;
    let contiguous = true;
    for (let i = 0; i < n; i++) {
      const o = offsets[i]!;
      if (o < end) contiguous = false;
      end = o + lengths[i]!;
    }
    if (contiguous) {
      // allocUnsafeSlow + set: no zeroing of memory that is overwritten at once, and a plain
      // memcpy (TypedArray slice of a large range of an external buffer is far slower in V8 11).
      const copy = Buffer.allocUnsafeSlow(end - start);
      copy.set(bytes.subarray(start, end));
      this.#copy = copy.buffer;
      for (let i = 0; i < n; i++) {
        offs[i] = offsets[i]! - start;
        lens[i] = lengths[i]!;
      }
    } else {
      // A perf ring wrapped inside this drain: copy record by record.
      let total = 0;
      for (let i = 0; i < n; i++) total += lengths[i]!;
      const copy = Buffer.allocUnsafeSlow(total);
      let pos = 0;
      for (let i = 0; i < n; i++) {
        const o = offsets[i]!;
        const l = lengths[i]!;
        copy.set(bytes.subarray(o, o + l), pos);
        offs[i] = pos;
        lens[i] = l;
        pos += l;
      }
      this.#copy = copy.buffer;
    }
    this.#ci = 0;
    this.#count = n;
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
        this.#release();
        for (const s of [...this.sources]) {
          if (this.#closed || this.#handler !== handler) break;
          this.#drainOne(s, handler);
        }
      } else {
        const waiters = this.#waiters;
        while (waiters.length > 0 && !this.#closed) {
          if (!waiters[0]!.serve()) break;
          waiters.shift();
        }
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

  /**
   * Watches on the event loop while someone reads: a batch handler, or an unfinished iteration.
   * The watcher keeps the process alive only while a handler is set or a next() is pending (and
   * `ref` allows it), so an iteration left unfinished does not hold the process open. Staying
   * registered between batches matters: each new registration makes the kernel probe the rings,
   * which spends a perf ring's pending wakeup (the poller covers that with a first callback).
   */
  #updatePolling(): void {
    if (this.#closed) return;
    const want = this.#handler !== undefined || this.#iterators > 0;
    const hold = this.#ref && (this.#handler !== undefined || this.#waiters.length > 0);
    if (want && !this.#poller) {
      this.#poller = new Poller(this.epoll.value, this.#onReady, this.#what, { epoll: true });
      this.#keepsAlive = true;
    } else if (this.#poller) {
      this.#poller.setActive(want);
    }
    if (this.#poller && hold !== this.#keepsAlive) {
      this.#poller.ref(hold);
      this.#keepsAlive = hold;
    }
  }

  /** Keeps (true, the default) or stops keeping (false) the process alive while listening. */
  ref(on = true): void {
    this.#ref = on;
    this.#updatePolling();
  }

  /** Stops polling, ends iterations, unmaps every ring and closes the descriptors. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller?.close();
    this.#poller = undefined;
    this.#held = undefined;
    for (const s of this.sources.splice(0)) s.close();
    this.epoll.close();
    for (const w of this.#waiters.splice(0)) w.end();
    this.#copy = new ArrayBuffer(0);
    this.#ci = this.#count = 0;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
