/**
 * Loading the running kernel's BTF from sysfs. These functions only read the files they are given
 * (or the documented default paths); they never call into the kernel otherwise.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BtfError } from "../errors.js";
import { Btf } from "./btf.js";
import { kernelBtfReader } from "./file-reader.js";

export { setKernelBtfReader, type KernelBtfReader } from "./file-reader.js";

/** Default location of the kernel's BTF. */
export const KERNEL_BTF_PATH = "/sys/kernel/btf/vmlinux";

const kernelCache = new Map<string, Btf>();
const moduleCache = new Map<string, Btf>();

function readBtfFile(path: string, what: string): Uint8Array {
  try {
    const reader = kernelBtfReader();
    if (reader && path.startsWith("/sys/kernel/btf/")) {
      const mapped = reader(path);
      if (mapped) return mapped;
    }
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint = code === "ENOENT"
      ? path.startsWith("/sys/kernel/btf")
        ? ": the kernel was built without CONFIG_DEBUG_INFO_BTF (or the module has no BTF); pass the path of a BTF file instead"
        : ""
      : "";
    throw new BtfError(`read ${what} from ${path}: ${(e as Error).message}${hint}`, { cause: e });
  }
}

/**
 * The kernel's BTF, parsed once per process and path (later calls return the same instance).
 * Throws BtfError when the file cannot be read or is malformed.
 */
export function loadKernelBtf(path: string = KERNEL_BTF_PATH): Btf {
  let btf = kernelCache.get(path);
  if (!btf) {
    const bytes = readBtfFile(path, "kernel BTF");
    try {
      btf = Btf.parse(bytes);
    } catch (e) {
      if (e instanceof BtfError) throw new BtfError(`load kernel BTF from ${path}: ${e.message}`, { cause: e });
      throw e;
    }
    kernelCache.set(path, btf);
  }
  return btf;
}

/** Options for {@link loadModuleBtf}. */
export interface ModuleBtfOptions {
  /** Path of the module's BTF file; defaults to `/sys/kernel/btf/<name>`. */
  readonly path?: string;
  /** Base BTF; defaults to {@link loadKernelBtf}(). */
  readonly base?: Btf;
}

/**
 * A kernel module's split BTF (types continue after vmlinux's), cached per process by path and base.
 * Throws BtfError when the file cannot be read or is malformed.
 */
export function loadModuleBtf(name: string, opts: ModuleBtfOptions = {}): Btf {
  if (!opts.path && (name === "" || name.includes("/") || name === "." || name === "..")) {
    throw new BtfError(`load module BTF: invalid module name ${JSON.stringify(name)}`);
  }
  const path = opts.path ?? join("/sys/kernel/btf", name);
  const base = opts.base ?? loadKernelBtf();
  const cached = moduleCache.get(path);
  if (cached && cached.base === base) return cached;
  const bytes = readBtfFile(path, `BTF of module ${name}`);
  let btf: Btf;
  try {
    btf = Btf.parse(bytes, { base });
  } catch (e) {
    if (e instanceof BtfError) throw new BtfError(`load BTF of module ${name} from ${path}: ${e.message}`, { cause: e });
    throw e;
  }
  moduleCache.set(path, btf);
  return btf;
}
