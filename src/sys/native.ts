/**
 * The native addon, loaded once. Only `src/sys` imports this module: it is the single place
 * where tsbpf reaches the kernel. Every function returns the kernel's result or `-errno`.
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BpfError } from "../errors.js";

/** A typed array or DataView the native layer reads or writes in place. */
export type Bytes = ArrayBufferView;

export interface NativeBinding {
  bpf(cmd: number, attr: Bytes): number;
  addressOf(view: Bytes | null): bigint;
  mapLookup(fd: number, key: Bytes | null, value: Bytes, flags?: number): number;
  mapUpdate(fd: number, key: Bytes | null, value: Bytes, flags?: number): number;
  mapDelete(fd: number, key: Bytes | null, unused: null, flags?: number): number;
  mapNextKey(fd: number, key: Bytes | null, next: Bytes): number;
  mapLookupAndDelete(fd: number, key: Bytes | null, value: Bytes | null, flags?: number): number;
  close(fd: number): number;
  perfEventOpen(attr: Bytes, pid: number, cpu: number, groupFd: number, flags: number): number;
  ioctl(fd: number, request: number, arg: number | Bytes): number;
  mmap(fd: number, length: number, prot: number, flags: number, offset: number): ArrayBuffer | number;
  munmap(buffer: ArrayBuffer): number;
  mount(source: string, target: string, fstype: string, flags: number, data: string): number;
  setrlimit(resource: number, soft: number, hard: number): number;
  dup(fd: number): number;
}

function findAddon(): string {
  // dist/src/sys/native.js -> package root is three levels up; src/sys/native.ts -> two levels.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, "build", "Release", "tsbpf_native.node");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new BpfError(
    "E_NATIVE_MISSING",
    "load the tsbpf native addon: build/Release/tsbpf_native.node was not found. Run `npm install` (or `npx node-gyp rebuild`) in the tsbpf package; it needs python3, make and a C compiler",
  );
}

let binding: NativeBinding | undefined;

/** The native binding, loaded on first use. Throws BpfError(E_NATIVE_MISSING) with the fix when absent. */
export function native(): NativeBinding {
  if (!binding) {
    const require = createRequire(import.meta.url);
    binding = require(findAddon()) as NativeBinding;
  }
  return binding;
}
