/**
 * `bpf_printk` output: `<tracefs>/trace_pipe` read as parsed lines.
 *
 * The pipe is opened non-blocking and watched on the libuv loop (the kernel's trace_pipe supports
 * poll), so waiting for lines never blocks the event loop or a thread-pool thread, and an abort or
 * close ends the iteration at once. trace_pipe is shared by the whole system and reading consumes:
 * two readers split the lines between them.
 *
 * @example
 * ```ts
 * for await (const line of tracePipe({ signal })) console.log(line.pid, line.message);
 * ```
 */
import { closeSync, constants, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { BpfError } from "../errors.js";
import { tracefs } from "../sys/fs.js";
import { Poller } from "../sys/events.js";
import { parseTraceLine, splitLines, type TraceLine } from "./parse.js";

export interface TracePipeOptions {
  /** Ends the iteration (normally) when aborted. */
  signal?: AbortSignal;
  /** Keep only lines for which this returns true (others are consumed and dropped). */
  filter?: (line: TraceLine) => boolean;
  /** The trace_pipe path (default `<tracefs>/trace_pipe`, mounting tracefs when needed). */
  path?: string;
}

/** A reader of trace_pipe; iterate it once. Closing (or aborting) ends the iteration. */
export class TracePipe implements AsyncIterableIterator<TraceLine>, Disposable {
  readonly path: string;
  #fd: number;
  #poller: Poller | undefined;
  #buf = Buffer.allocUnsafe(64 * 1024);
  #state = { rest: "" };
  #queue: TraceLine[] = [];
  #waiter: { resolve: (r: IteratorResult<TraceLine>) => void; reject: (e: unknown) => void } | undefined;
  #error: unknown;
  #closed = false;
  readonly #filter: ((line: TraceLine) => boolean) | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.close();

  constructor(opts: TracePipeOptions = {}) {
    this.path = opts.path ?? join(tracefs(), "trace_pipe");
    this.#filter = opts.filter;
    this.#signal = opts.signal;
    try {
      this.#fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw new BpfError("E_TRACE_PIPE", `open ${this.path}: ${(e as Error).message}. Reading trace_pipe needs root (or read access to tracefs)`, { cause: e });
    }
    if (this.#signal?.aborted) {
      this.close();
      return;
    }
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  #start(): void {
    if (this.#poller || this.#closed) return;
    this.#poller = new Poller(this.#fd, this.#onReady, this.path);
  }

  #onReady = (status: number): void => {
    if (this.#closed) return;
    if (status < 0) return this.#fail(new BpfError("E_POLL", `wait for ${this.path}: the event loop reported error ${status}`));
    for (;;) {
      let n: number;
      try {
        n = readSync(this.#fd, this.#buf, 0, this.#buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN" || code === "EWOULDBLOCK" || code === "EINTR") break;
        return this.#fail(e);
      }
      if (n <= 0) break;
      for (const text of splitLines(this.#buf.toString("utf8", 0, n), this.#state)) {
        const line = parseTraceLine(text);
        if (!line || (this.#filter && !this.#filter(line))) continue;
        if (this.#waiter) {
          const w = this.#waiter;
          this.#waiter = undefined;
          w.resolve({ value: line, done: false });
        } else {
          this.#queue.push(line);
        }
      }
      if (n < this.#buf.length) break;
    }
    if (!this.#waiter && this.#queue.length > 0) this.#poller?.setActive(false); // wait for next()
  };

  #fail(e: unknown): void {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.reject(e);
    } else {
      this.#error = e;
    }
    this.close();
  }

  next(): Promise<IteratorResult<TraceLine>> {
    const line = this.#queue.shift();
    if (line) return Promise.resolve({ value: line, done: false });
    if (this.#error !== undefined) {
      const e = this.#error;
      this.#error = undefined;
      return Promise.reject(e);
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter) return Promise.reject(new BpfError("E_TRACE_PIPE", "read trace_pipe: next() called again before the previous call settled"));
    this.#start();
    this.#poller?.setActive(true);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<TraceLine>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<TraceLine> {
    return this;
  }

  /** Stops watching, closes the pipe and ends the iteration. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#poller?.close();
    this.#poller = undefined;
    try {
      closeSync(this.#fd);
    } catch {
      /* already closed */
    }
    this.#fd = -1;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.resolve({ value: undefined, done: true });
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * `bpf_printk` output as parsed lines from `<tracefs>/trace_pipe` (tracefs is mounted when
 * missing). Ends when `signal` aborts or the returned reader is closed. Needs root.
 */
export function tracePipe(opts: TracePipeOptions = {}): TracePipe {
  return new TracePipe(opts);
}
