/**
 * Kernel look-ups the subcommands share: iterating object ids, opening maps and programs by id or
 * pinned path, and fetching the BTF the kernel holds for a map (BPF_BTF_GET_FD_BY_ID +
 * BPF_OBJ_GET_INFO_BY_FD). Loads the native layer; the BTF parser only when asked for BTF.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { ArgumentError, BpfError, Errno } from "../errors.js";
import { Cmd, cstringAt, getFdById, getNextId, objGetInfoByFd, pointerTo } from "../sys/bpf.js";
import type { Btf } from "../btf/btf.js";
import { idArg } from "./common.js";

/** The ids of every object of one kind (`Cmd.PROG_GET_NEXT_ID`, `MAP_GET_NEXT_ID`, ...), in order. */
export function* ids(cmd: number): IterableIterator<number> {
  let id = 0;
  for (;;) {
    const next = getNextId(cmd, id);
    if (next === undefined) return;
    yield (id = next);
  }
}

/** Opens object `id` with `open`, turning ENOENT into "no such id; list them with ...". */
export function byId<T>(kind: "map" | "program" | "link", id: number, open: (id: number) => T): T {
  try {
    return open(id);
  } catch (e) {
    if ((e as { errno?: number }).errno === Errno.ENOENT) {
      throw new BpfError("E_NO_ID", `open ${kind} ${id}: there is no ${kind} with that id; tsbpf ${kind === "program" ? "prog" : kind} list shows them`, { cause: e });
    }
    throw e;
  }
}


/** Decoded `struct bpf_btf_info`: btf@0 btf_size@8 id@12 name@16 name_len@24 kernel_btf@28. */
export interface BtfObjectInfo {
  id: number;
  name: string;
  kernel: boolean;
  data: Uint8Array;
}

/** The raw bytes and name of the BTF object `id` the kernel holds. */
export function readBtfObject(id: number): BtfObjectInfo {
  const fd = getFdById(Cmd.BTF_GET_FD_BY_ID, id, `BTF ${id}`);
  try {
    const info = new Uint8Array(32);
    const v = new DataView(info.buffer);
    const name = new Uint8Array(64);
    v.setBigUint64(16, pointerTo(name), true);
    v.setUint32(24, name.length, true);
    objGetInfoByFd(fd.value, info, `BTF ${id}`);
    const size = v.getUint32(8, true);
    const data = new Uint8Array(size);
    const info2 = new Uint8Array(32);
    const v2 = new DataView(info2.buffer);
    v2.setBigUint64(0, pointerTo(data), true);
    v2.setUint32(8, size, true);
    objGetInfoByFd(fd.value, info2, `BTF ${id}`);
    return { id, name: cstringAt(name), kernel: v.getUint32(28, true) !== 0, data };
  } finally {
    fd.close();
  }
}

const btfCache = new Map<number, Btf>();

/**
 * The parsed BTF object `id`: kernel-owned module BTF is split on vmlinux (parsed from
 * /sys/kernel/btf/vmlinux); vmlinux's and programs' BTF stand alone. Undefined when `id` is 0 or
 * the object is gone.
 */
export async function btfById(id: number): Promise<Btf | undefined> {
  if (!id) return undefined;
  const hit = btfCache.get(id);
  if (hit) return hit;
  let o: BtfObjectInfo;
  try {
    o = readBtfObject(id);
  } catch (e) {
    if ((e as { errno?: number }).errno === Errno.ENOENT) return undefined;
    throw e;
  }
  const { Btf } = await import("../btf/btf.js");
  let btf: Btf;
  if (o.kernel && o.name !== "vmlinux") {
    const { loadKernelBtf } = await import("../btf/kernel.js");
    btf = Btf.parse(o.data, { base: loadKernelBtf() });
  } else {
    btf = Btf.parse(o.data);
  }
  btfCache.set(id, btf);
  return btf;
}

/** Wall-clock time of a `ktime_get_boottime_ns()` value (program load times). */
export function bootTimeToDate(ns: bigint): Date {
  const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  return new Date(Date.now() - uptime * 1000 + Number(ns / 1000000n));
}

/** Pins with `fn`, explaining the errors bpffs gives (EEXIST, EPERM for a name with a dot). */
export function pinIt(fn: () => void, path: string, what: string, name: string): void {
  if (basename(path).includes(".")) throw new ArgumentError(`pin ${what} ${name} at ${path}: bpffs does not allow "." in names; choose a name without dots`);
  try {
    fn();
  } catch (e) {
    if ((e as { errno?: number }).errno === 17) throw new ArgumentError(`pin ${what} ${name} at ${path}: something is already pinned there; remove it (rm ${path}) or choose another directory`, { cause: e });
    throw e;
  }
}
