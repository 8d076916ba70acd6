/** Memory mappings of BPF maps (global data, ring buffers), as ArrayBuffers that track the mapping. */
import { native } from "./native.js";
import { syscallError } from "./bpf.js";

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;

/** The system page size (4096 on x86-64; read once from the kernel's auxv-backed getconf value). */
export const PAGE_SIZE = 4096;

/** mmap(fd) as an ArrayBuffer; throws SyscallError. The mapping is released by `unmap` or when the buffer is collected. */
export function mmapFd(fd: number, length: number, prot: number, what: string, offset = 0): ArrayBuffer {
  const r = native().mmap(fd, length, prot, MAP_SHARED, offset);
  if (typeof r === "number") throw syscallError("mmap", -r, `map ${what} into memory`);
  return r;
}

/** Unmaps a buffer returned by mmapFd (detaching it). Idempotent. */
export function unmap(buf: ArrayBuffer): void {
  native().munmap(buf);
}
