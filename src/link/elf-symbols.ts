/**
 * Pure helpers for uprobes and USDT: find a user-space binary or shared library, read its ELF
 * symbols (`.symtab`, then `.dynsym`) and turn a symbol's virtual address into the FILE OFFSET
 * the kernel's uprobe API wants: `offset = address - segment.vaddr + segment.offset` using the
 * PT_LOAD segment that holds the address (or the section, when the file has no program headers).
 * Nothing here calls into the kernel.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { BpfError } from "../errors.js";
import { parseElf, SectionIndex, SymbolType, type ElfFile, type ElfSymbol } from "../elf/index.js";

/** One ELF program header (`Elf64_Phdr`). */
export interface ProgramHeader {
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
}

/** PT_LOAD; PF_X. */
export const PT_LOAD = 1;
export const PF_X = 1;

/** The program headers of an ELF64 file (the reader in src/elf parses sections only). */
export function programHeaders(bytes: Uint8Array, littleEndian: boolean): ProgramHeader[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64) return [];
  const phoff = Number(v.getBigUint64(32, littleEndian));
  const entsize = v.getUint16(54, littleEndian);
  const count = v.getUint16(56, littleEndian);
  const out: ProgramHeader[] = [];
  if (!phoff || entsize < 56) return out;
  for (let i = 0; i < count; i++) {
    const o = phoff + i * entsize;
    if (o + 56 > bytes.length) break;
    out.push({
      type: v.getUint32(o, littleEndian), flags: v.getUint32(o + 4, littleEndian),
      offset: v.getBigUint64(o + 8, littleEndian), vaddr: v.getBigUint64(o + 16, littleEndian),
      filesz: v.getBigUint64(o + 32, littleEndian), memsz: v.getBigUint64(o + 40, littleEndian),
    });
  }
  return out;
}

/** A binary opened for probing: its path, parsed ELF and program headers. */
export interface ProbeBinary {
  path: string;
  elf: ElfFile;
  bytes: Uint8Array;
  segments: ProgramHeader[];
}

const cache = new Map<string, { mtimeMs: number; size: number; bin: ProbeBinary }>();

/** Reads and parses `path` (cached by path, size and mtime). Throws BpfError(E_NO_BINARY) when unreadable or not ELF. */
export function openBinary(path: string): ProbeBinary {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new BpfError("E_NO_BINARY", `open ${path} for uprobes: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`, { cause: e });
  }
  const hit = cache.get(path);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.bin;
  const buf = readFileSync(path);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let elf: ElfFile;
  try {
    elf = parseElf(bytes);
  } catch (e) {
    throw new BpfError("E_NO_BINARY", `open ${path} for uprobes: not an ELF64 binary (${(e as Error).message})`, { cause: e });
  }
  const bin = { path, elf, bytes, segments: programHeaders(bytes, elf.littleEndian) };
  cache.set(path, { mtimeMs: st.mtimeMs, size: st.size, bin });
  return bin;
}

/** Library directories searched for a bare shared-library name (after LD_LIBRARY_PATH). */
export const LIBRARY_DIRS = [
  "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
  "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib",
];

/**
 * Resolves the binary to probe: a path (absolute or containing `/`) is used as is; a bare name
 * with `.so` is searched in LD_LIBRARY_PATH and the standard library directories; any other bare
 * name in PATH. Throws BpfError(E_NO_BINARY) naming where it looked.
 */
export function resolveBinaryPath(name: string): string {
  if (!name) throw new BpfError("E_NO_BINARY", "resolve uprobe target: empty binary name");
  if (name.includes("/")) {
    const p = isAbsolute(name) ? name : resolve(name);
    if (!existsSync(p)) throw new BpfError("E_NO_BINARY", `resolve uprobe target ${name}: no such file`);
    return p;
  }
  const isLib = /\.so(\.|$)/.test(name);
  const dirs = isLib
    ? [...(process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean), ...LIBRARY_DIRS]
    : (process.env.PATH ?? "/usr/bin:/bin").split(delimiter).filter(Boolean);
  for (const d of dirs) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  throw new BpfError("E_NO_BINARY", `resolve uprobe target ${name}: not found in ${isLib ? "LD_LIBRARY_PATH or " + LIBRARY_DIRS.join(":") : "PATH"}; pass the full path`);
}

function isDefinedFunc(s: ElfSymbol): boolean {
  return (s.type === SymbolType.FUNC || s.type === SymbolType.GNU_IFUNC) && s.shndx !== SectionIndex.UNDEF && s.value64 !== 0n && s.name !== "";
}

/** The defined function symbols of a binary, `.symtab` first then `.dynsym`, deduplicated by name. */
export function functionSymbols(bin: ProbeBinary): Map<string, ElfSymbol> {
  const out = new Map<string, ElfSymbol>();
  for (const table of [bin.elf.symbols, bin.elf.dynamicSymbols]) {
    for (const s of table) {
      if (!isDefinedFunc(s)) continue;
      const prev = out.get(s.name);
      // Prefer a global definition over a local one of the same name.
      if (!prev || (prev.bind === 0 && s.bind !== 0)) out.set(s.name, s);
    }
  }
  return out;
}

/** Converts a virtual address in `bin` to a file offset, through its PT_LOAD segments (or sections). */
export function addressToOffset(bin: ProbeBinary, addr: bigint, what: string): bigint {
  const loads = bin.segments.filter((p) => p.type === PT_LOAD);
  // Executable segments first: a symbol address belongs to code.
  const ordered = [...loads.filter((p) => p.flags & PF_X), ...loads.filter((p) => !(p.flags & PF_X))];
  for (const p of ordered) {
    if (addr >= p.vaddr && addr < p.vaddr + p.memsz) return addr - p.vaddr + p.offset;
  }
  for (const s of bin.elf.sections) {
    if (s.addr && addr >= BigInt(s.addr) && addr < BigInt(s.addr) + BigInt(s.size)) return addr - BigInt(s.addr) + BigInt(s.offset);
  }
  throw new BpfError("E_NO_SYMBOL", `resolve ${what} in ${bin.path}: address 0x${addr.toString(16)} lies in no loadable segment`);
}

/**
 * The file offset of function `symbol` in `bin` (plus `extra` bytes). Accepts `name@VERSION`
 * and `name@@VERSION` (the version is ignored). Throws BpfError(E_NO_SYMBOL) naming the binary.
 */
export function symbolFileOffset(bin: ProbeBinary, symbol: string, extra = 0): bigint {
  const name = symbol.replace(/@@?[\w.]+$/, "");
  const s = functionSymbols(bin).get(name);
  if (!s) {
    const stripped = bin.elf.symbols.length === 0 ? " (the binary has no .symtab: it is stripped, so only exported .dynsym functions can be probed)" : "";
    throw new BpfError("E_NO_SYMBOL", `resolve uprobe target ${symbol}: ${bin.path} has no function ${name} in its .symtab or .dynsym${stripped}; list them with \`nm -D ${bin.path}\` or \`nm ${bin.path}\``);
  }
  return addressToOffset(bin, s.value64, `function ${name}`) + BigInt(extra);
}

/** Glob match with `*` and `?` (libbpf's uprobe.multi / kprobe.multi pattern syntax). */
export function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return re.test(name);
}
