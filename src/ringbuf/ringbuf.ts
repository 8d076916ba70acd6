/**
 * BPF ring buffers (BPF_MAP_TYPE_RINGBUF, Linux 5.8+) read from user space.
 *
 * The consumer page is mapped read-write, the producer page and the data area (mapped twice by
 * the kernel, so no record wraps) read-only. The native drain (native/events.c) loads the producer
 * position and each record header with acquire semantics, skips discarded records, stops at a
 * record still being written, and the consumer position is published with one release store per
 * drain.
 *
 * @example
 * ```ts
 * using rb = new RingBuffer(obj.map("events"));
 * // allocation-free, as fast as C libbpf:
 * rb.onBatch((view, offsets, lengths, count) => {
 *   for (let i = 0; i < count; i++) total += view.getUint32(offsets[i], true);
 * });
 * // or batches as an AsyncIterable (the batch is valid until the next iteration):
 * for await (const { view, offsets, count } of rb.batches({ signal })) ...
 * // or records copied, one by one:
 * for await (const rec of rb.records({ signal })) console.log(rec);
 * ```
 */
import { ArgumentError, BpfError } from "../errors.js";
import type { BpfMap } from "../map/map.js";
import { MapType } from "../spec/kernel-enums.js";
import { PAGE_SIZE, PROT_READ, PROT_WRITE, mmapFd, unmap } from "../sys/mmap.js";
import { DrainOutput, DrainState, events, type DrainHandle, type EventsBinding } from "../sys/events.js";
import { syscallError } from "../sys/bpf.js";
import { EventStream, type EventSource, type StreamOptions } from "./stream.js";

/** Counters of a ring buffer reader (since it was opened). */
export interface RingBufferStats {
  /** Records delivered. */
  records: number;
  /** Payload bytes delivered. */
  bytes: number;
  /** Records the program discarded (bpf_ringbuf_discard), skipped. */
  discarded: number;
}

/** One ring buffer map mapped into this process. */
export class Ring implements EventSource {
  readonly map: BpfMap;
  /** Position among the reader's rings. */
  readonly index: number;
  /** Data area size in bytes (the map's max_entries, a power of two multiple of the page size). */
  readonly size: number;
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly #consumer: ArrayBuffer;
  readonly #producer: ArrayBuffer;
  readonly #state = new Float64Array(new ArrayBuffer(DrainState.length * 8)); // off-heap: the native drain keeps a pointer
  readonly #ev: EventsBinding;
  #handle: DrainHandle | undefined;

  /**
   * Maps `map` (which must be a RINGBUF map) and registers it with the stream's output arrays.
   * Throws ArgumentError or SyscallError.
   */
  constructor(map: BpfMap, index: number, out: DrainOutput = new DrainOutput(4096, 256 * 1024)) {
    if (map.type !== MapType.RINGBUF) {
      throw new ArgumentError(`read ring buffer ${map.name}: the map is not a ring buffer (BPF_MAP_TYPE_RINGBUF)${map.type === MapType.PERF_EVENT_ARRAY ? "; use PerfBuffer for a perf event array" : ""}`);
    }
    this.map = map;
    this.index = index;
    this.size = map.maxEntries;
    this.#ev = events();
    const what = `ring buffer ${map.name}`;
    this.#consumer = mmapFd(map.fd.value, PAGE_SIZE, PROT_READ | PROT_WRITE, `${what} (consumer page)`, 0);
    try {
      this.#producer = mmapFd(map.fd.value, PAGE_SIZE + 2 * this.size, PROT_READ, `${what} (producer page and data)`, PAGE_SIZE);
    } catch (e) {
      unmap(this.#consumer);
      throw e;
    }
    const h = this.#ev.ringbufOpen(this.#consumer, this.#producer, this.#state.buffer as ArrayBuffer, out.buffer, out.capacity, out.budget);
    if (typeof h === "number") {
      unmap(this.#producer);
      unmap(this.#consumer);
      throw syscallError("mmap", -h, `register ${what} for draining (the data area must be a power of two below 2 GiB)`);
    }
    this.#handle = h;
    this.view = new DataView(this.#producer, PAGE_SIZE, 2 * this.size);
    this.bytes = new Uint8Array(this.#producer, PAGE_SIZE, 2 * this.size);
  }

  get fd(): number {
    return this.map.fd.value;
  }

  /** @internal One drain of at most `max` records into the stream's output arrays; the count, or -EBADF once closed. */
  drain(max: number): number {
    return this.#handle ? this.#ev.ringbufDrain(this.#handle, max) : -9;
  }

  /** @internal Whether the last drain stopped at its budget with more records behind it. */
  get more(): boolean {
    return this.#state[DrainState.more] === 1;
  }

  /**
   * @internal Publishes the position of the last drain (one release store). True when a record
   * finished during the drain is already waiting: the producer did not wake anyone for it.
   */
  commit(): boolean {
    return this.#handle ? this.#ev.ringbufCommit(this.#handle) === 1 : false;
  }

  /** Bytes the producer has written that this reader has not consumed yet (records, headers, discards). */
  available(): number {
    return this.#handle ? this.#ev.ringbufAvailable(this.#handle) : 0;
  }

  get stats(): RingBufferStats {
    const s = this.#state;
    return { records: s[DrainState.records]!, bytes: s[DrainState.bytes]!, discarded: s[DrainState.dropped]! };
  }

  close(): void {
    if (this.#handle) this.#ev.ringbufClose(this.#handle);
    this.#handle = undefined;
    unmap(this.#producer);
    unmap(this.#consumer);
  }
}

/**
 * Reads any number of ring buffer maps through one epoll instance and one event-loop watcher
 * (libbpf's `ring_buffer` with `ring_buffer__add`). The maps stay owned by the caller.
 */
export class RingBufferReader<T = Uint8Array> extends EventStream<T, Ring> {
  constructor(opts: StreamOptions<T> = {}) {
    super("ring buffer reader", opts);
  }

  /** Adds a RINGBUF map; returns its ring (its `index` identifies it in batch callbacks). */
  add(map: BpfMap): Ring {
    if (this.closed) throw new BpfError("E_CLOSED", `add ${map.name} to a ring buffer reader: the reader is closed`);
    const ring = new Ring(map, this.sources.length, this.output);
    try {
      this.watch(ring, `ring buffer ${map.name}`);
    } catch (e) {
      ring.close();
      throw e;
    }
    this.sources.push(ring);
    return ring;
  }

  /** The rings, in the order they were added. */
  get rings(): readonly Ring[] {
    return this.sources;
  }

  /** Counters summed over every ring. */
  get stats(): RingBufferStats {
    const out: RingBufferStats = { records: 0, bytes: 0, discarded: 0 };
    for (const r of this.sources) {
      const s = r.stats;
      out.records += s.records;
      out.bytes += s.bytes;
      out.discarded += s.discarded;
    }
    return out;
  }
}

/**
 * A reader of one ring buffer map. Iterate it (`for await`), give it a batch handler
 * (`onBatch`), or drain it yourself (`consume`, `poll`). Close it (or `using`) to unmap the ring
 * and stop polling; the map itself is not closed. Minimum kernel: 5.8.
 */
export class RingBuffer<T = Uint8Array> extends RingBufferReader<T> {
  readonly ring: Ring;

  constructor(map: BpfMap, opts: StreamOptions<T> = {}) {
    super(opts);
    try {
      this.ring = this.add(map);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Bytes waiting to be consumed. */
  available(): number {
    return this.ring.available();
  }
}
