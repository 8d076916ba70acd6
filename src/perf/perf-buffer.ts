/**
 * Perf buffers: a BPF_MAP_TYPE_PERF_EVENT_ARRAY read through one perf ring per CPU (what the
 * program writes with bpf_perf_event_output). Linux 4.4+; prefer ring buffers on 5.8+.
 *
 * For each CPU a software perf event (PERF_COUNT_SW_BPF_OUTPUT, sample_type RAW) is opened, its
 * ring (one meta page + 2^n data pages) mapped, and its fd stored in the array at the CPU index.
 * The native drain (native/events.c) reads data_head with an acquire load, makes a record that
 * wraps around the end of the ring contiguous (copying its tail into a scratch area right after
 * the ring), counts PERF_RECORD_LOST records, and data_tail is published with one release store
 * per drain.
 *
 * A raw sample holds the bytes the program passed, padded by the kernel so that its 4-byte size
 * plus the data is a multiple of 8: an 8-byte output arrives as 12 bytes (the last 4 are
 * padding the kernel skips, not zeroes: read only the size you wrote).
 *
 * @example
 * ```ts
 * using pb = new PerfBuffer(obj.map("events"), { onLost: (cpu, n) => console.warn(`cpu ${cpu} lost ${n}`) });
 * for await (const rec of pb.records({ signal })) handle(rec);
 * ```
 */
import { ArgumentError } from "../errors.js";
import type { BpfMap } from "../map/map.js";
import { MapType } from "../spec/kernel-enums.js";
import { FD } from "../sys/fd.js";
import { PAGE_SIZE } from "../sys/mmap.js";
import { PerfFlag, PerfType, perfEventOpen } from "../sys/perf.js";
import { onlineCpus } from "../sys/cpus.js";
import { syscallError } from "../sys/bpf.js";
import { DrainState, events, type DrainHandle, type DrainOutput, type EventsBinding } from "../sys/events.js";
import { EventStream, type EventSource, type StreamOptions } from "../ringbuf/stream.js";

const PERF_COUNT_SW_BPF_OUTPUT = 10n;
const PERF_SAMPLE_RAW = 1n << 10n;

/** Options for {@link PerfBuffer}. */
export interface PerfBufferOptions<T> extends StreamOptions<T> {
  /** Data pages per CPU ring, a power of two (default 64: 256 KiB per CPU with 4 KiB pages). */
  pageCount?: number;
  /** Wake the reader after this many samples (perf_event_attr.wakeup_events; default 1). */
  wakeupEvents?: number;
  /** Instead, wake the reader once this many bytes are in a ring (sets `watermark`). */
  wakeupBytes?: number;
  /** CPUs to read (default: every online CPU that has a slot in the array). */
  cpus?: number[];
  /** Called from the drain with the number of records a CPU's ring lost since the last report. */
  onLost?: (cpu: number, lost: number) => void;
}

/** Counters of a perf buffer (since it was opened). */
export interface PerfBufferStats {
  /** Samples delivered. */
  records: number;
  /** Raw sample bytes delivered (including the kernel's padding). */
  bytes: number;
  /** Samples the kernel dropped because a ring was full (PERF_RECORD_LOST), all CPUs. */
  lost: number;
  /** Lost samples per CPU. */
  lostPerCpu: Record<number, number>;
}

/** One CPU's perf ring. */
export class PerfRing implements EventSource {
  readonly cpu: number;
  /** Position among the buffer's rings. */
  readonly index: number;
  /** Data area size in bytes. */
  readonly dataSize: number;
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly event: FD;
  readonly #ring: ArrayBuffer;
  readonly #state = new Float64Array(new ArrayBuffer(DrainState.length * 8)); // off-heap: the native drain keeps a pointer
  readonly #ev: EventsBinding;
  #handle: DrainHandle | undefined;

  constructor(cpu: number, index: number, dataSize: number, attr: { wakeupEvents?: number; wakeupBytes?: number }, out: DrainOutput) {
    this.cpu = cpu;
    this.index = index;
    this.dataSize = dataSize;
    const watermark = attr.wakeupBytes !== undefined;
    this.event = perfEventOpen({
      type: PerfType.SOFTWARE, config: PERF_COUNT_SW_BPF_OUTPUT, samplePeriod: 1n, sampleType: PERF_SAMPLE_RAW,
      flags: watermark ? PerfFlag.watermark : 0n, wakeupEvents: watermark ? attr.wakeupBytes : (attr.wakeupEvents ?? 1),
    }, -1, cpu, `perf buffer on CPU ${cpu}`);
    this.#ev = events();
    const r = this.#ev.perfMmap(this.event.value, PAGE_SIZE, dataSize);
    if (typeof r === "number") {
      this.event.close();
      throw syscallError("mmap", -r, `map the perf ring of CPU ${cpu} (${dataSize} bytes; raise the locked memory limit or use fewer pages)`);
    }
    this.#ring = r;
    const h = this.#ev.perfOpen(r, PAGE_SIZE, dataSize, this.#state.buffer as ArrayBuffer, out.buffer, out.capacity, out.budget);
    if (typeof h === "number") {
      this.#ev.perfUnmap(r);
      this.event.close();
      throw syscallError("mmap", -h, `register the perf ring of CPU ${cpu} for draining`);
    }
    this.#handle = h;
    this.view = new DataView(r, PAGE_SIZE);
    this.bytes = new Uint8Array(r, PAGE_SIZE);
  }

  get fd(): number {
    return this.event.value;
  }

  /** @internal One drain of at most `max` samples into the stream's output arrays; the count, or -EBADF once closed. */
  drain(max: number): number {
    return this.#handle ? this.#ev.perfDrain(this.#handle, max) : -9;
  }

  /** @internal Whether the last drain stopped at its budget with more records behind it. */
  get more(): boolean {
    return this.#state[DrainState.more] === 1;
  }

  /** @internal Publishes data_tail after the last drain (one release store). False: perf wakes per sample or watermark, whatever the reader's position. */
  commit(): boolean {
    if (this.#handle) this.#ev.perfCommit(this.#handle);
    return false;
  }

  /** Samples delivered from this CPU. */
  get records(): number {
    return this.#state[DrainState.records]!;
  }

  get bytesReceived(): number {
    return this.#state[DrainState.bytes]!;
  }

  /** Samples this CPU's ring lost. */
  get lost(): number {
    return this.#state[DrainState.dropped]!;
  }

  /** Samples lost as reported by the last drain. */
  get lostInLastDrain(): number {
    return this.#state[DrainState.lostLast]!;
  }

  close(): void {
    if (this.#handle) this.#ev.perfClose(this.#handle);
    this.#handle = undefined;
    this.#ev.perfUnmap(this.#ring);
    this.event.close();
  }
}

/**
 * Reads a perf event array: iterate it, give it a batch handler (`onBatch`, whose fifth argument
 * is the CPU's ring), or drain it yourself (`consume`, `poll`). Lost samples are counted per CPU
 * (`stats`) and reported to `onLost`. Closing removes the events from the array, unmaps the rings
 * and closes the perf events; the map itself is not closed.
 */
export class PerfBuffer<T = Uint8Array> extends EventStream<T, PerfRing> {
  readonly map: BpfMap;
  #lostHandlers: Array<(cpu: number, lost: number) => void> = [];

  constructor(map: BpfMap, opts: PerfBufferOptions<T> = {}) {
    super(`perf buffer ${map.name}`, opts);
    this.map = map;
    try {
      if (map.type !== MapType.PERF_EVENT_ARRAY) {
        throw new ArgumentError(`read perf buffer ${map.name}: the map is not a perf event array (BPF_MAP_TYPE_PERF_EVENT_ARRAY)${map.type === MapType.RINGBUF ? "; use RingBuffer for a ring buffer" : ""}`);
      }
      const pages = opts.pageCount ?? 64;
      if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0) {
        throw new ArgumentError(`open perf buffer ${map.name}: pageCount must be a power of two, got ${pages}`);
      }
      if (opts.onLost) this.#lostHandlers.push(opts.onLost);
      const cpus = opts.cpus ?? onlineCpus().filter((c) => c < map.maxEntries);
      for (const cpu of cpus) {
        if (cpu >= map.maxEntries) throw new ArgumentError(`open perf buffer ${map.name}: CPU ${cpu} has no slot (the array holds ${map.maxEntries})`);
        const ring = new PerfRing(cpu, this.sources.length, pages * PAGE_SIZE, opts, this.output);
        try {
          this.watch(ring, `perf ring of CPU ${cpu}`);
        } catch (e) {
          ring.close();
          throw e;
        }
        this.sources.push(ring);
        map.update(cpu, ring.fd);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** The per-CPU rings. */
  get rings(): readonly PerfRing[] {
    return this.sources;
  }

  /** Adds a handler for lost samples; returns a function that removes it. */
  onLost(cb: (cpu: number, lost: number) => void): () => void {
    this.#lostHandlers.push(cb);
    return () => {
      this.#lostHandlers = this.#lostHandlers.filter((h) => h !== cb);
    };
  }

  protected override afterDrain(ring: PerfRing): void {
    const lost = ring.lostInLastDrain;
    if (lost > 0) for (const h of this.#lostHandlers) h(ring.cpu, lost);
  }

  /** Samples lost on every CPU. */
  get lost(): number {
    let n = 0;
    for (const r of this.sources) n += r.lost;
    return n;
  }

  get stats(): PerfBufferStats {
    const s: PerfBufferStats = { records: 0, bytes: 0, lost: 0, lostPerCpu: {} };
    for (const r of this.sources) {
      s.records += r.records;
      s.bytes += r.bytesReceived;
      s.lost += r.lost;
      s.lostPerCpu[r.cpu] = r.lost;
    }
    return s;
  }

  override close(): void {
    if (this.closed) return;
    for (const r of this.sources) {
      try {
        if (!this.map.fd.closed) this.map.delete(r.cpu);
      } catch {
        /* the slot may already be empty or the map gone */
      }
    }
    super.close();
  }
}
