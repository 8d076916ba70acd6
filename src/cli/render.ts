/**
 * How `tsbpf run` shows a map: integer counters as a table, log2 histograms (`struct { u32
 * slots[N]; }`, or an array of integers) as bars, data sections as `name = value` lines, other
 * values decoded from BTF one entry per line. Ring buffers and perf event arrays are streams and
 * are handled by run.ts.
 */
import type { BpfMap } from "../map/map.js";
import type { Btf } from "../btf/btf.js";
import type { Codec } from "../codec/codec.js";
import { MapType } from "../spec/kernel-enums.js";
import { formatValue, hex, table } from "./common.js";

/** One map as `tsbpf run` prints it. */
export interface MapView {
  readonly name: string;
  /** counters | histogram | variables | entries */
  readonly kind: string;
  /** The current contents (undefined when there is nothing to show). */
  snapshot(): { text: string; data: unknown } | undefined;
}

const HIST_WIDTH = 40;

/**
 * A log2 histogram the way bcc's print_log2_hist draws it: slot i counts values in
 * [2^i, 2^(i+1) - 1] (slot 0: 0 -> 1), bars scaled to the largest count. The last slot of the
 * array collects everything above (programs cap the slot index at N - 1), so its row is
 * open-ended: `16384 -> ...`.
 */
export function log2Bars(slots: Array<number | bigint>, label = "value"): string {
  let last = -1;
  let max = 0n;
  slots.forEach((s, i) => {
    const n = BigInt(s);
    if (n > 0n) last = i;
    if (n > max) max = n;
  });
  if (last < 0) return "";
  // bcc's widths: 10-digit columns while the slots fit 32 bits, 20 beyond.
  const w = last <= 32 ? 10 : 20;
  const bar = last <= 32 ? HIST_WIDTH : HIST_WIDTH / 2;
  const lines = [`${" ".repeat(last <= 32 ? 5 : 15)}${label.padEnd(last <= 32 ? 19 : 29)} : count    distribution`];
  for (let i = 0; i <= last; i++) {
    let low = (1n << BigInt(i + 1)) >> 1n;
    const high = (1n << BigInt(i + 1)) - 1n;
    if (low === high) low -= 1n;
    const upTo = i === slots.length - 1 ? "..." : high.toString();
    const n = BigInt(slots[i]!);
    const stars = max > 0n ? Number((n * BigInt(bar)) / max) : 0;
    lines.push(`${low.toString().padStart(w)} -> ${upTo.padEnd(w)} : ${n.toString().padEnd(8)} |${"*".repeat(stars).padEnd(bar)}|`);
  }
  return lines.join("\n");
}

const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

function uintLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/** Integer members of a histogram value: the one array member of a struct, or the value itself. */
function histogramPath(btf: Btf, typeId: number): { member?: string } | undefined {
  const t = btf.type(btf.resolve(typeId));
  const isIntArray = (id: number) => {
    const a = btf.type(btf.resolve(id));
    if (a.kind !== "array" || a.nelems < 2) return false;
    const e = btf.type(btf.resolve(a.elemTypeId));
    return e.kind === "int" && !(e.size === 1 && e.char);
  };
  if (t.kind === "array") return isIntArray(t.id) ? {} : undefined;
  if (t.kind !== "struct") return undefined;
  // One array of integers (the slots); any other members are integers (totals, counts).
  const arrays = t.members.filter((m) => isIntArray(m.typeId));
  const scalars = t.members.filter((m) => {
    const k = btf.type(btf.resolve(m.typeId)).kind;
    return k === "int" || k === "enum" || k === "enum64";
  });
  if (arrays.length !== 1 || arrays.length + scalars.length !== t.members.length || !arrays[0]!.name) return undefined;
  return { member: arrays[0]!.name };
}

/**
 * The view of one map of a loaded object, or undefined for maps `run` does not show (read-only
 * data, .kconfig, program arrays, map-in-maps, event streams).
 */
export async function mapView(m: BpfMap): Promise<MapView | undefined> {
  const skip = new Set<number>([
    MapType.RINGBUF, MapType.USER_RINGBUF, MapType.PERF_EVENT_ARRAY, MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS,
    MapType.HASH_OF_MAPS, MapType.STACK_TRACE, MapType.CGROUP_ARRAY, MapType.DEVMAP, MapType.DEVMAP_HASH,
    MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.SOCKHASH, MapType.REUSEPORT_SOCKARRAY,
    MapType.TASK_STORAGE, MapType.INODE_STORAGE, MapType.SK_STORAGE, MapType.CGRP_STORAGE, MapType.QUEUE, MapType.STACK,
    MapType.BLOOM_FILTER, MapType.STRUCT_OPS, MapType.ARENA,
  ].filter((x) => x !== undefined));
  if (skip.has(m.type)) return undefined;
  if (m.name === ".rodata" || m.name.startsWith(".rodata.") || m.name === ".kconfig") return undefined;
  const { codecFor } = await import("../codec/codec.js");
  const btf = m.btf;
  const codec = (id: number, size: number): Codec | undefined => {
    if (!btf || !id) return undefined;
    try {
      const c = codecFor(btf, id);
      return c.size === size ? c : undefined;
    } catch {
      return undefined;
    }
  };
  const keyCodec = codec(m.btfKeyTypeId, m.keySize);
  const valueCodec = codec(m.btfValueTypeId, m.valueSize);
  const isArray = m.type === MapType.ARRAY || m.type === MapType.PERCPU_ARRAY;
  const keyOf = (k: Uint8Array): unknown => (keyCodec ? keyCodec.decode(k) : [1, 2, 4, 8].includes(k.length) ? uintLE(k) : hex(k));
  const keyText = (k: unknown): string => (typeof k === "string" && !keyCodec ? k : formatValue(k));
  // Per-CPU values: one value per CPU, summed for counters and histograms.
  const split = (v: Uint8Array): Uint8Array[] => {
    if (!m.perCpu) return [v];
    const stride = (m.valueSize + 7) & ~7;
    const out: Uint8Array[] = [];
    for (let o = 0; o + m.valueSize <= v.length; o += stride) out.push(v.subarray(o, o + m.valueSize));
    return out;
  };
  const entries = (): Array<[Uint8Array, Uint8Array]> => {
    const all = m.dump();
    return isArray ? all.filter(([, v]) => !isZero(v)) : all;
  };
  const valueType = btf && m.btfValueTypeId ? btf.type(btf.resolve(m.btfValueTypeId)) : undefined;

  if (valueType?.kind === "datasec" && valueCodec) {
    return {
      name: m.name,
      kind: "variables",
      snapshot() {
        const v = m.lookup(0);
        if (!v) return undefined;
        const vars = Object.entries(valueCodec.decode(v) as Record<string, unknown>).filter(([n]) => !n.startsWith("unused"));
        if (vars.length === 0) return undefined;
        return { text: vars.map(([n, x]) => `${n} = ${formatValue(x)}`).join("\n"), data: Object.fromEntries(vars) };
      },
    };
  }

  const intValue = valueType ? (valueType.kind === "int" || valueType.kind === "enum" || valueType.kind === "enum64") && [1, 2, 4, 8].includes(m.valueSize)
    : [1, 2, 4, 8].includes(m.valueSize);
  if (intValue) {
    return {
      name: m.name,
      kind: "counters",
      snapshot() {
        const rows = entries().map(([k, v]) => ({ key: keyOf(k), value: split(v).reduce((a, x) => a + uintLE(x), 0n) }));
        if (rows.length === 0) return undefined;
        rows.sort((a, b) => (b.value > a.value ? 1 : b.value < a.value ? -1 : 0));
        return { text: table([["KEY", "VALUE"], ...rows.map((r) => [keyText(r.key), r.value.toString()])], ["l", "r"]), data: rows };
      },
    };
  }

  const hist = btf && valueCodec && m.btfValueTypeId ? histogramPath(btf, m.btfValueTypeId) : undefined;
  if (hist && valueCodec) {
    const slotsOf = (v: Uint8Array): bigint[] => {
      const d = valueCodec.decode(v) as Record<string, Array<number | bigint>> | Array<number | bigint>;
      const arr = hist.member !== undefined ? (d as Record<string, Array<number | bigint>>)[hist.member]! : (d as Array<number | bigint>);
      return arr.map((x) => BigInt(x));
    };
    return {
      name: m.name,
      kind: "histogram",
      snapshot() {
        const rows = entries().map(([k, v]) => {
          const cpus = split(v);
          const parts = cpus.map(slotsOf);
          const slots = parts[0]!.map((_, i) => parts.reduce((a, p) => a + p[i]!, 0n));
          // The other members (totals, counts), summed over CPUs.
          const extra: Record<string, bigint> = {};
          for (const c of cpus) {
            const d = valueCodec.decode(c);
            if (hist.member === undefined || typeof d !== "object" || d === null) continue;
            for (const [n, x] of Object.entries(d as Record<string, unknown>)) {
              if (n !== hist.member && (typeof x === "number" || typeof x === "bigint")) extra[n] = (extra[n] ?? 0n) + BigInt(x);
            }
          }
          return { key: keyOf(k), slots, ...extra };
        }).filter((r) => r.slots.some((s) => s > 0n));
        if (rows.length === 0) return undefined;
        const one = isArray && rows.length === 1;
        const text = rows.map((r) => {
          const { key, slots, ...extra } = r;
          const head = [...(one ? [] : [`key = ${keyText(key)}`]), ...Object.entries(extra).map(([n, x]) => `${n} = ${x}`)].join("  ");
          return (head ? `${head}\n` : "") + log2Bars(slots, hist.member ?? "value");
        }).join("\n\n");
        return { text, data: rows };
      },
    };
  }

  return {
    name: m.name,
    kind: "entries",
    snapshot() {
      const rows = entries().map(([k, v]) => {
        const values = split(v).map((x) => (valueCodec ? valueCodec.decode(x) : hex(x)));
        return { key: keyOf(k), value: m.perCpu ? values : values[0] };
      });
      if (rows.length === 0) return undefined;
      const vt = (x: unknown) => (valueCodec ? formatValue(x) : String(x));
      return {
        text: rows.map((r) => `key: ${keyText(r.key)}  value: ${m.perCpu ? (r.value as unknown[]).map((x, i) => `cpu${i}: ${vt(x)}`).join(", ") : vt(r.value)}`).join("\n"),
        data: rows,
      };
    },
  };
}

/**
 * A decoder of ring buffer / perf event records for an object: the event types it declares with
 * bpf2go's convention (`struct event *unused_event __attribute__((unused));`, see
 * src/skel/generate.ts), else a struct named `event`, else the one named struct of the record's
 * size in the object's BTF. Returns undefined for a record it cannot type.
 */
export async function eventDecoder(btf: Btf | undefined): Promise<(record: Uint8Array) => unknown> {
  if (!btf) return () => undefined;
  const { codecFor } = await import("../codec/codec.js");
  const declared: number[] = [];
  const bySize = new Map<number, number[]>();
  for (const t of btf.types()) {
    if (t.kind === "var" && t.name.startsWith("unused")) {
      const p = btf.type(btf.resolve(t.typeId));
      if (p.kind !== "ptr") continue;
      const target = btf.resolve(p.typeId);
      const k = btf.type(target).kind;
      if (k === "struct" || k === "union") declared.push(target);
    } else if (t.kind === "struct" && t.name && t.size > 0) {
      const list = bySize.get(t.size) ?? [];
      list.push(t.id);
      bySize.set(t.size, list);
    }
  }
  const named = btf.findByName("event", "struct");
  const cache = new Map<number, Codec | null>();
  const pick = (len: number): Codec | null => {
    const sizeOf = (id: number) => btf.sizeof(id);
    const fits = (id: number) => sizeOf(id) === len || (sizeOf(id) < len && len - sizeOf(id) < 8);
    const candidates = declared.length ? declared.filter(fits) : named !== undefined && fits(named) ? [named] : bySize.get(len) ?? [];
    const unique = [...new Set(candidates)];
    return unique.length === 1 ? codecFor(btf, unique[0]!) : null;
  };
  return (record) => {
    let c = cache.get(record.length);
    if (c === undefined) cache.set(record.length, (c = pick(record.length)));
    return c ? c.decode(record) : undefined;
  };
}
