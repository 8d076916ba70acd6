/**
 * The hook through which src/sys lends the BTF loader a zero-copy file reader. It lives in its own
 * tiny module so that mapping memory (src/sys/mmap) does not load the BTF parser: programs that
 * never touch BTF (a CLI listing maps) do not pay for it.
 */

/**
 * Reads a sysfs BTF file without copying it, or returns undefined to fall back to reading it.
 * Throws like readFileSync when the file cannot be opened.
 */
export type KernelBtfReader = (path: string) => Uint8Array | undefined;

let fileReader: KernelBtfReader | undefined;

/**
 * Installs the reader used for files under /sys/kernel/btf (src/sys registers one that maps the
 * file read-only with mmap(2), which Linux 6.16+ supports for vmlinux; the BTF modules never call
 * into the kernel themselves). Other paths, and files the reader declines, are read with
 * readFileSync. The bytes it returns must stay valid for the life of the process (parsed BTF is
 * cached) and are never written to. Pass undefined to go back to reading.
 */
export function setKernelBtfReader(reader: KernelBtfReader | undefined): void {
  fileReader = reader;
}

/** The installed reader, if any. */
export function kernelBtfReader(): KernelBtfReader | undefined {
  return fileReader;
}
