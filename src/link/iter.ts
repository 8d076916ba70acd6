/**
 * BPF iterators (`SEC("iter/<target>")`: task, task_file, task_vma, bpf_map, bpf_map_elem,
 * bpf_prog, tcp, udp, unix, cgroup, ...; Linux 5.8+). Attaching makes a bpf_link (with
 * BPF_LINK_CREATE and, for map, task and cgroup iterators, the `iter_info` that narrows them);
 * each {@link IterLink.open} (BPF_ITER_CREATE) runs the program over the kernel objects once,
 * and what it writes with `bpf_seq_printf`/`bpf_seq_write` is read back as bytes or text.
 *
 * @example
 * ```ts
 * using obj = await loadObject("iters.bpf.o");            // SEC("iter/task")
 * using it = attachIter(obj.programs.dump_task);
 * console.log(it.readText());
 * using elems = attachIter(obj.programs.dump_elems, { map: obj.maps.counts });
 * ```
 */
import { readSync } from "node:fs";
import { ArgumentError, BpfError, Errno, NotSupportedError } from "../errors.js";
import { iterCreate, linkCreate, objGetInfoByFd, pointerTo, cstringAt } from "../sys/bpf.js";
import type { FD } from "../sys/fd.js";
import { AttachType, ProgramType } from "../spec/kernel-enums.js";
import type { Program } from "../prog/program.js";
import { Link } from "./link.js";

/** Traversal order of a cgroup iterator (enum bpf_cgroup_iter_order). */
export const CgroupIterOrder = { self: 1, descendantsPre: 2, descendantsPost: 3, ancestorsUp: 4 } as const;

/** Options for {@link attachIter}: at most one of `map`, `task`, `cgroup`. */
export interface IterOptions {
  /** For map iterators (`iter/bpf_map_elem`, `iter/bpf_sk_storage_map`, ...): the map to walk. */
  map?: { fd: { value: number }; name?: string };
  /** For task iterators (`iter/task`, `task_file`, `task_vma`; Linux 6.1+): only this thread, process, or pidfd's process. */
  task?: { tid?: number; pid?: number; pidFd?: number };
  /** For `iter/cgroup` (Linux 6.1+): the start cgroup (fd of its directory, or its id) and the walk order. */
  cgroup?: { fd?: number; id?: bigint; order?: keyof typeof CgroupIterOrder };
}

/** An attached iterator: read it as many times as wanted; each read runs the program afresh. */
export class IterLink extends Link {
  /** Opens a new iteration (BPF_ITER_CREATE): a readable descriptor. The caller closes it. */
  open(): FD {
    if (!this.linkFd) throw new ArgumentError(`open iterator ${this.target}: the link is closed`);
    return iterCreate(this.linkFd.value);
  }

  /** Runs the iterator and yields its output in chunks of up to `chunkSize` bytes as they are read. */
  *chunks(chunkSize = 64 * 1024): Generator<Uint8Array, void, undefined> {
    const fd = this.open();
    try {
      for (;;) {
        const buf = new Uint8Array(chunkSize);
        let n: number;
        try {
          n = readSync(fd.value, buf, 0, buf.length, null);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === "EAGAIN" || code === "EINTR") continue;
          throw new BpfError("E_ITER_READ", `read iterator ${this.target}: ${(e as Error).message}${code === "E2BIG" ? " (the program wrote more than one page in one call)" : ""}`, { cause: e });
        }
        if (n === 0) return;
        yield buf.subarray(0, n);
      }
    } finally {
      fd.close();
    }
  }

  /** Runs the iterator once and returns everything it wrote. */
  read(): Uint8Array {
    const parts = [...this.chunks()];
    const total = parts.reduce((s, p) => s + p.length, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  /** Runs the iterator once and decodes its output as UTF-8. */
  readText(): string {
    return new TextDecoder().decode(this.read());
  }
}

/** Encodes `union bpf_iter_link_info` (16 bytes). */
function iterInfo(opts: IterOptions): Uint8Array | undefined {
  const given = [opts.map, opts.task, opts.cgroup].filter((x) => x !== undefined).length;
  if (given > 1) throw new ArgumentError("attach iterator: pass at most one of map, task and cgroup");
  if (!given) return undefined;
  const buf = new Uint8Array(16);
  const v = new DataView(buf.buffer);
  if (opts.map) v.setUint32(0, opts.map.fd.value, true);
  if (opts.task) {
    const { tid = 0, pid = 0, pidFd = 0 } = opts.task;
    if ([tid, pid, pidFd].filter((x) => x).length !== 1) throw new ArgumentError("attach iterator: task needs exactly one of tid, pid and pidFd");
    v.setUint32(0, tid, true);
    v.setUint32(4, pid, true);
    v.setUint32(8, pidFd, true);
  }
  if (opts.cgroup) {
    const { fd, id, order = "descendantsPre" } = opts.cgroup;
    if ((fd === undefined) === (id === undefined)) throw new ArgumentError("attach iterator: cgroup needs exactly one of fd and id");
    v.setUint32(0, CgroupIterOrder[order], true);
    v.setUint32(4, fd ?? 0, true);
    v.setBigUint64(8, id ?? 0n, true);
  }
  return buf;
}

/**
 * Attaches an iterator program. Throws ArgumentError for a program that is not `SEC("iter/...")`,
 * NotSupportedError when the kernel has no bpf_link for iterators (before 5.8) or rejects the
 * `iter_info` (task/cgroup parameters before 6.1), ArgumentError for a map iterator without a map,
 * and SyscallError otherwise (EINVAL: e.g. a map of the wrong type).
 */
export function attachIter(prog: Program, opts: IterOptions = {}): IterLink {
  if (prog.type !== ProgramType.TRACING || prog.expectedAttachType !== AttachType.TRACE_ITER) {
    throw new ArgumentError(`attach iterator ${prog.name}: not an iterator program (SEC("iter/<target>"), e.g. iter/task)`);
  }
  const info = iterInfo(opts);
  let fd: FD;
  try {
    fd = linkCreate({
      progFd: prog.fd.value, attachType: AttachType.TRACE_ITER,
      extra: info ? (a) => a.ptr(16, info).u32(24, info.length) : undefined,
    }, `iterator ${prog.name}`);
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    if (errno === Errno.EINVAL && (opts.task || opts.cgroup)) {
      throw new NotSupportedError(`${opts.task ? "task" : "cgroup"} iterator parameters (iterator ${prog.name})`, { minimumKernel: "6.1", hint: "or the iterator does not take them: task parameters suit iter/task, task_file and task_vma", cause: e });
    }
    // A map iterator without a map: EINVAL on recent kernels, EBADF (map fd 0) on 6.1.
    if ((errno === Errno.EINVAL || errno === Errno.EBADF) && !info) {
      throw new ArgumentError(`attach iterator ${prog.name}: the kernel refused it (${errno === Errno.EBADF ? "EBADF" : "EINVAL"}); map iterators (iter/bpf_map_elem, iter/bpf_sk_storage_map, iter/sockmap) need the map to walk: attachIter(prog, { map })`, { cause: e });
    }
    throw e;
  }
  const target = iterName(fd) ?? prog.name;
  const where = opts.map ? ` (map ${opts.map.name ?? "fd " + opts.map.fd.value})` : opts.task ? ` (${opts.task.tid ? `tid ${opts.task.tid}` : opts.task.pid ? `pid ${opts.task.pid}` : "pidfd"})` : "";
  return new IterLink({ kind: "iter", target: `${target}${where}`, mechanism: "bpf_link(iter)", linkFd: fd });
}

/** The iterator target a link runs (`task`, `bpf_map_elem`, ...), from bpf_link_info.iter.target_name. */
function iterName(fd: FD): string | undefined {
  try {
    const name = new Uint8Array(64);
    const info = new Uint8Array(128);
    const v = new DataView(info.buffer);
    v.setBigUint64(16, pointerTo(name), true);
    v.setUint32(24, name.length, true);
    objGetInfoByFd(fd.value, info, "iterator link");
    return cstringAt(name) || undefined;
  } catch {
    return undefined;
  }
}
