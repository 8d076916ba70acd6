/**
 * FD: an owned file descriptor. `close()` is idempotent and is `[Symbol.dispose]`; a descriptor
 * that is garbage collected while still open is closed by a FinalizationRegistry and reported
 * with a process warning, because it means the owner forgot to close it.
 */
import { ClosedError } from "../errors.js";
import { native } from "./native.js";

const leaks = new FinalizationRegistry<{ fd: number; what: string }>((held) => {
  native().close(held.fd);
  process.emitWarning(`tsbpf: ${held.what} (fd ${held.fd}) was garbage collected without close(); close it or use \`using\``, "TsbpfLeakWarning");
});

let openCount = 0;

/** Number of descriptors tsbpf currently holds open (for leak checks in tests). */
export function openDescriptorCount(): number {
  return openCount;
}

export class FD {
  #fd: number;
  readonly what: string;

  /** Takes ownership of `fd`. `what` names the object in messages, e.g. `map hists`. */
  constructor(fd: number, what: string) {
    this.#fd = fd;
    this.what = what;
    openCount++;
    leaks.register(this, { fd, what }, this);
  }

  /** The raw descriptor. Throws ClosedError after close(). */
  get value(): number {
    if (this.#fd < 0) throw new ClosedError(this.what);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Closes the descriptor; later calls do nothing. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    openCount--;
    leaks.unregister(this);
    native().close(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `${this.what} (fd ${this.#fd})`;
  }
}
