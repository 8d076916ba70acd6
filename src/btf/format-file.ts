/**
 * Reading BTF from a file the way `bpftool btf dump file F` does: raw BTF (/sys/kernel/btf/*,
 * a `.btf` file) or an ELF object's `.BTF` section. Module BTF under /sys/kernel/btf is split BTF
 * on top of vmlinux. Used by `tsbpf btf dump`.
 */
import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { BtfError } from "../errors.js";
import { parseElf } from "../elf/index.js";
import { Btf } from "./btf.js";
import { KERNEL_BTF_PATH, loadKernelBtf } from "./kernel.js";

/** Options for {@link readBtfFile}. */
export interface ReadBtfFileOptions {
  /**
   * Base BTF for split BTF. Default: for a file in /sys/kernel/btf other than vmlinux, the
   * kernel's BTF; otherwise none.
   */
  readonly base?: Btf;
}

/**
 * Parses the BTF in `path`: raw BTF, or the `.BTF` section of an ELF file. Throws BtfError when the
 * file cannot be read, has no BTF, or the BTF is malformed (ElfError for a malformed ELF).
 */
export function readBtfFile(path: string, opts: ReadBtfFileOptions = {}): Btf {
  if (path === KERNEL_BTF_PATH && !opts.base) return loadKernelBtf();
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new BtfError(`read BTF from ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const sec = parseElf(bytes).sectionByName(".BTF");
    if (!sec) throw new BtfError(`read BTF from ${path}: the ELF file has no .BTF section (compile with -g)`);
    bytes = sec.data;
  }
  let base = opts.base;
  if (!base && dirname(path) === dirname(KERNEL_BTF_PATH) && basename(path) !== basename(KERNEL_BTF_PATH)) base = loadKernelBtf();
  try {
    return Btf.parse(bytes, { base });
  } catch (e) {
    if (e instanceof BtfError) throw new BtfError(`read BTF from ${path}: ${e.message}`, { cause: e });
    throw e;
  }
}
