import type { Btf } from "../btf/btf.js";

/**
 * Everything in a BPF object, as data: maps, programs and global variables, with the programs
 * already linked with their subprograms. Produced by {@link loadCollectionSpec}; deterministic
 * and kernel-free. Edit it freely before loading.
 */
export interface CollectionSpec {
  /** Object name, from the file name or `opts.name`. */
  name: string;
  maps: Record<string, MapSpec>;
  programs: Record<string, ProgramSpec>;
  variables: Record<string, VariableSpec>;
  /** The `license` section's string, "" when absent. */
  license: string;
  /** The `version` section's u32, when present. */
  kernelVersion?: number;
  /** The object's BTF, with data section sizes and variable offsets fixed up. */
  btf?: Btf;
  /** The fixed-up raw BTF, ready for BPF_BTF_LOAD. */
  btfBytes?: Uint8Array;
  littleEndian: boolean;
}

/** A map to create. */
export interface MapSpec {
  /** ELF name: "hists", ".rodata", ".bss", ".rodata.str1.1", "ovfs_write_bytes". */
  name: string;
  /** `BPF_MAP_TYPE_*` (see `MapType`). */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  pinning: "none" | "byName";
  numaNode: number;
  mapExtra: bigint;
  /** Template of the inner map of an array/hash of maps. */
  innerMap?: MapSpec;
  /** Initial entries: maps for map-in-map, programs for prog arrays, raw bytes otherwise. */
  contents?: { key: number; value: { map: string } | { program: string } | Uint8Array }[];
  /** BTF type id of the key, 0 when none. */
  btfKeyTypeId: number;
  /** BTF type id of the value (the DATASEC for global data), 0 when none. */
  btfValueTypeId: number;
  btfVmlinuxValueTypeId?: number;
  /** Initial contents for .data/.rodata/.bss/.kconfig maps (zeroes for .bss); `length === valueSize`. */
  data?: Uint8Array;
  /** Freeze after the initial contents are written (.rodata*, .kconfig). */
  freeze: boolean;
  /** How the map was defined: `SEC("maps")` struct bpf_map_def, `SEC(".maps")` BTF, or a data section. */
  definition: "legacy" | "btf" | "data";
  /** The ELF section the definition came from ("maps", ".maps", ".rodata", ...). */
  section: string;
}

/** A global variable living in a data map. */
export interface VariableSpec {
  name: string;
  /** The data map: ".rodata", ".bss", ".kconfig", ... */
  map: string;
  /** Byte offset in the map's value. */
  offset: number;
  size: number;
  /** BTF type id of the variable's type (0 without BTF). */
  typeId: number;
  /** True for variables in frozen maps (.rodata*, .kconfig). */
  constant: boolean;
  /** For extern variables (`.kconfig`): declared `__weak`, so the loader may resolve it to 0. */
  weak?: boolean;
}

/** A program to load. */
export interface ProgramSpec {
  /** The function's symbol name. */
  name: string;
  section: string;
  /** `BPF_PROG_TYPE_*` (see `ProgramType`). */
  type: number;
  /** `BPF_*` attach type (see `AttachType`). */
  expectedAttachType: number;
  /** The attach target from the section name, e.g. "vfs_read", "syscalls/sys_enter_read", or "". */
  attachTo: string;
  sleepable: boolean;
  /**
   * The attach kind: "kprobe", "kretprobe", "tracepoint", "raw_tracepoint", "tp_btf", "fentry",
   * "fexit", "fmod_ret", "lsm", "uprobe", "uretprobe", "usdt", "iter", "perf_event", "xdp", "tc",
   * "tcx", "cgroup", "socket", "sk_lookup", ...; null when the section carries no attach info (or
   * lacks a target the kind needs).
   */
  autoAttach: string | null;
  /**
   * The linked program: its own instructions followed by every subprogram it calls (transitively),
   * in 8-byte slots in the object's byte order.
   */
  instructions: Uint8Array;
  relocations: InsnRelocation[];
  license: string;
  kernelVersion: number;
  /** BTF func info, re-based to instruction indexes in `instructions`. */
  funcInfo?: { insnOff: number; typeId: number }[];
  /** BTF line info, re-based to instruction indexes in `instructions`. */
  lineInfo?: { insnOff: number; fileNameOff: number; lineOff: number; lineCol: number; fileName: string; line: number; col: number; text: string }[];
  /** CO-RE relocations, re-based to instruction indexes in `instructions`. */
  coreRelocations: { insnOff: number; typeId: number; accessStr: string; kind: number }[];
}

/**
 * A relocation the loader must apply to `instructions[insn]` (a slot index):
 * - `map`: ld_imm64 of a map (imm := map fd, src := BPF_PSEUDO_MAP_FD);
 * - `mapValue`: ld_imm64 of an address in a data map (imm := fd, imm2 := offset, src := BPF_PSEUDO_MAP_VALUE);
 * - `kconfig`: ld_imm64 of an extern `__kconfig` variable (an address in the `.kconfig` map);
 * - `ksym`: ld_imm64 of an extern `__ksym` variable (src := BPF_PSEUDO_BTF_ID);
 * - `kfunc`: call of an extern kernel function (imm := its BTF id; src is already BPF_PSEUDO_KFUNC_CALL).
 * `weak` is set on extern relocations whose ELF symbol is `STB_WEAK` (`__weak`): the loader
 * resolves them to 0 (or poisons the call) when the kernel lacks them instead of failing.
 */
export type InsnRelocation =
  | { insn: number; kind: "map"; map: string }
  | { insn: number; kind: "mapValue"; map: string; offset: number }
  | { insn: number; kind: "kconfig" | "ksym"; name: string; weak?: boolean }
  | { insn: number; kind: "kfunc"; name: string; weak?: boolean };
