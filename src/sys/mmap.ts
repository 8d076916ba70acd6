/** Memory mappings of BPF maps (global data, ring buffers), as ArrayBuffers that track the mapping. */
import { closeSync, fstatSync, openSync } from "node:fs";
import { setKernelBtfReader } from "../btf/file-reader.js";
import { native } from "./native.js";
import { syscallError } from "./bpf.js";

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;

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

/**
 * A whole file mapped read-only (`PROT_READ`, `MAP_PRIVATE`), or undefined when it cannot be mapped
 * (empty or unsized file, a file system without mmap such as sysfs before Linux 6.16 for
 * /sys/kernel/btf/vmlinux, no native addon); the caller then reads it instead. The fd is closed
 * right after mapping; the mapping lives until the returned bytes are garbage-collected.
 * The bytes are read-only: writing to them kills the process (SIGSEGV), so map only files the
 * caller never modifies, and only files nobody truncates (sysfs, not regular files in general).
 * Throws the open(2) error (ENOENT, EACCES) as a Node error.
 */
export function mapFileReadOnly(path: string): Uint8Array | undefined {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (!(size > 0)) return undefined;
    let r: ArrayBuffer | number;
    try {
      r = native().mmap(fd, size, PROT_READ, MAP_PRIVATE, 0);
    } catch {
      return undefined;
    }
    return typeof r === "number" ? undefined : new Uint8Array(r);
  } finally {
    closeSync(fd);
  }
}

// Kernel BTF under /sys/kernel/btf is mapped instead of read (zero-copy on Linux 6.16+, where the
// read(2) path copies 5+ MiB through sysfs in page-sized pieces).
setKernelBtfReader(mapFileReadOnly);
