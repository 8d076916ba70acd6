/**
 * Loading the running kernel's BTF from sysfs. These functions only read the files they are given
 * (or the documented default paths); they never call into the kernel otherwise.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BtfError } from "../errors.js";
import { parseElf } from "../elf/index.js";
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
 * The raw BTF in a file's bytes: the bytes themselves when they start with the BTF magic (either
 * byte order), else the `.BTF` section of an ELF file (a vmlinux image, a module, an object).
 */
function btfOfFile(bytes: Uint8Array, path: string): Uint8Array {
  if (bytes.length >= 2 && ((bytes[0] === 0x9f && bytes[1] === 0xeb) || (bytes[0] === 0xeb && bytes[1] === 0x9f))) return bytes;
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const sec = parseElf(bytes).sectionByName(".BTF");
    if (!sec) throw new BtfError(`load kernel BTF from ${path}: the ELF file has no .BTF section (a kernel built without CONFIG_DEBUG_INFO_BTF); pass a vmlinux with BTF, or a raw BTF file (e.g. made with pahole --btf_encode_detached)`);
    return sec.data;
  }
  throw new BtfError(`load kernel BTF from ${path}: the file is neither raw BTF (magic 0xeb9f) nor an ELF file with a .BTF section; pass /sys/kernel/btf/vmlinux, a copy of it, or a vmlinux image with BTF`);
}

/**
 * The kernel's BTF, parsed once per process and path (later calls return the same instance).
 * `path` is raw BTF (like /sys/kernel/btf/vmlinux) or an ELF file with a `.BTF` section (a vmlinux
 * image). Throws BtfError when the file cannot be read, has no BTF or is malformed.
 */
export function loadKernelBtf(path: string = KERNEL_BTF_PATH): Btf {
  let btf = kernelCache.get(path);
  if (!btf) {
    const bytes = btfOfFile(readBtfFile(path, "kernel BTF"), path);
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
