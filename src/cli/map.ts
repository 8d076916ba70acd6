/**
 * `tsbpf map list|show|dump|lookup|update|delete|pin`: bpftool's map commands. Keys and values of
 * maps with BTF are decoded with the map's own BTF (fetched from the kernel by the map's btf_id).
 */
import { ArgumentError, BpfError } from "../errors.js";
import { Cmd } from "../sys/bpf.js";
import { BpfMap, mapTypeName, splitPerCpu, type MapInfo } from "../map/map.js";
import { MapType } from "../spec/kernel-enums.js";
import type { Codec } from "../codec/codec.js";
import { formatValue, hex, idArg, parse, parseBytes, parseJsonExact, table, UsageError, wantsHelp, type Context } from "./common.js";
import { btfById, byId, ids, pinIt } from "./kernel.js";

/** A map by id (all digits) or pinned path. */
function openMap(arg: string): BpfMap {
  const id = idArg(arg);
  return id !== undefined ? byId("map", id, BpfMap.fromId) : BpfMap.openPinned(arg);
}

export const usage = `usage: tsbpf map <command> ...

  map list                        maps in the kernel (id, name, type, sizes)
  map show ID|PIN                 one map's properties
  map dump ID|PIN [--hex]         every entry; keys and values decoded from the map's BTF when it
                                  has BTF (--hex: raw bytes)
  map lookup ID|PIN --key K [--hex]
  map update ID|PIN --key K --value V [--noexist|--exist]
  map delete ID|PIN --key K
  map pin ID|PIN PATH             pin the map on bpffs at PATH

  ID is a map id (see map list); PIN a path under /sys/fs/bpf. K and V: an integer (42, -1, 0x2a;
  little-endian in the key/value size), bytes in hex as map dump prints them ("01 00 00 00", or
  hex:01000000), or, for maps with BTF, JSON for the type ('{"pid": 1, "comm": "sh"}').
  Per-CPU maps: update writes V on every CPU; dump and lookup show one value per CPU.
  --json on list, show, dump and lookup.`;

interface Row { id: number; name: string; type: string; keySize: number; valueSize: number; maxEntries: number; flags: number; btfId: number }

function row(i: MapInfo): Row {
  return { id: i.id, name: i.name, type: mapTypeName(i.type), keySize: i.keySize, valueSize: i.valueSize, maxEntries: i.maxEntries, flags: i.flags, btfId: i.btfId };
}

/** Codecs for a map's keys and values, from the BTF the kernel holds for it (when it has any). */
export async function mapCodecs(info: MapInfo): Promise<{ key?: Codec; value?: Codec }> {
  if (!info.btfId || info.btfVmlinuxValueTypeId) return {};
  const btf = await btfById(info.btfId);
  if (!btf) return {};
  const { codecFor } = await import("../codec/codec.js");
  const make = (id: number, size: number): Codec | undefined => {
    if (!id) return undefined;
    try {
      const c = codecFor(btf, id);
      return c.size === size ? c : undefined;
    } catch {
      return undefined;
    }
  };
  return { key: make(info.btfKeyTypeId, info.keySize), value: make(info.btfValueTypeId, info.valueSize) };
}

/** A decoded entry: keys and values as the codec gives them (per CPU as an array), else hex. */
export function decodeEntry(m: BpfMap, codecs: { key?: Codec; value?: Codec }, k: Uint8Array, v: Uint8Array): { key: unknown; value: unknown } {
  const dec = (c: Codec | undefined, b: Uint8Array) => (c ? c.decode(b) : hex(b));
  const value = m.perCpu ? splitPerCpu(v, m.valueSize).map((x) => dec(codecs.value, x)) : dec(codecs.value, v);
  return { key: dec(codecs.key, k), value };
}

/** A decoded key or value (hex string without a codec) as text; per-CPU values as `cpu0: ..., cpu1: ...`. */
export function showDecoded(x: unknown, typed: boolean, perCpu = false): string {
  const one = (v: unknown) => (typed ? formatValue(v) : String(v));
  return perCpu && Array.isArray(x) ? x.map((v, i) => `cpu${i}: ${one(v)}`).join(", ") : one(x);
}

function encode(text: string, size: number, codec: Codec | undefined, what: string): Uint8Array {
  if (codec && /^\s*[[{"]/.test(text)) {
    let v: unknown;
    try {
      v = parseJsonExact(text);
    } catch (e) {
      throw new ArgumentError(`${what}: ${JSON.stringify(text)} is not valid JSON (${(e as Error).message})`);
    }
    return codec.encode(v as never, undefined, 0, { what });
  }
  return parseBytes(text, size, what);
}

function noEntries(m: BpfMap, op: string): void {
  if (m.type === MapType.RINGBUF || m.type === MapType.USER_RINGBUF || m.type === MapType.PERF_EVENT_ARRAY) {
    throw new ArgumentError(`${op} map ${m.name}: a ${mapTypeName(m.type)} map has events, not entries; read them with tsbpf run on the object that owns it`);
  }
}

export async function run(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub) throw new UsageError("map needs a command", usage);
  if (wantsHelp(args)) return (console.log(usage), 0);
  switch (sub) {
    case "list": {
      parse(rest, {}, "map list", usage);
      const rows: Row[] = [];
      for (const id of ids(Cmd.MAP_GET_NEXT_ID)) {
        try {
          using m = BpfMap.fromId(id);
          rows.push(row(m.info()));
        } catch {
          /* gone between listing and opening */
        }
      }
      ctx.out(rows, () => table([["ID", "NAME", "TYPE", "KEY", "VALUE", "MAX", "FLAGS", "BTF"], ...rows.map((r) => [String(r.id), r.name, r.type, String(r.keySize), String(r.valueSize), String(r.maxEntries), `0x${r.flags.toString(16)}`, r.btfId ? String(r.btfId) : "-"])]));
      return 0;
    }
    case "show": {
      const { positionals } = parse(rest, {}, "map show", usage);
      if (positionals.length !== 1) throw new UsageError("map show needs a map id or a pinned path", usage);
      using m = openMap(positionals[0]!);
      const i = m.info();
      const codecs = await mapCodecs(i);
      const r = { ...row(i), keyType: codecs.key?.typeName, valueType: codecs.value?.typeName };
      ctx.out(r, () => [
        `${r.id}: ${r.type}  name ${r.name}  flags 0x${r.flags.toString(16)}`,
        `\tkey ${r.keySize}B  value ${r.valueSize}B  max_entries ${r.maxEntries}`,
        ...(r.btfId ? [`\tbtf_id ${r.btfId}${r.keyType ? `  key ${r.keyType}` : ""}${r.valueType ? `  value ${r.valueType}` : ""}`] : []),
      ].join("\n"));
      return 0;
    }
    case "dump": {
      const { values, positionals } = parse(rest, { hex: { type: "boolean" } }, "map dump", usage);
      if (positionals.length !== 1) throw new UsageError("map dump needs a map id or a pinned path", usage);
      using m = openMap(positionals[0]!);
      noEntries(m, "dump");
      const codecs = values.hex ? {} : await mapCodecs(m.info());
      const entries = m.dump().map(([k, v]) => decodeEntry(m, codecs, k, v));
      ctx.out(entries, () => {
        const lines = entries.map((e) => `key: ${showDecoded(e.key, !!codecs.key)}  value: ${showDecoded(e.value, !!codecs.value, m.perCpu)}`);
        return [...lines, `${entries.length} entries`].join("\n");
      });
      return 0;
    }
    case "lookup":
    case "delete":
    case "update": {
      const opts = { key: { type: "string" }, value: { type: "string" }, hex: { type: "boolean" }, noexist: { type: "boolean" }, exist: { type: "boolean" } } as const;
      const { values, positionals } = parse(rest, opts, `map ${sub}`, usage);
      if (positionals.length !== 1) throw new UsageError(`map ${sub} needs a map id or a pinned path`, usage);
      if (values.key === undefined) throw new UsageError(`map ${sub}: --key is required`, usage);
      if (sub === "update" && values.value === undefined) throw new UsageError("map update: --value is required", usage);
      if (sub !== "update" && (values.value !== undefined || values.noexist || values.exist)) throw new UsageError(`map ${sub}: --value, --noexist and --exist are for map update`, usage);
      if (values.noexist && values.exist) throw new UsageError("map update: --noexist and --exist exclude each other", usage);
      using m = openMap(positionals[0]!);
      noEntries(m, sub);
      const codecs = values.hex ? {} : await mapCodecs(m.info());
      const key = encode(values.key, m.keySize, codecs.key, `${sub} map ${m.name}: key`);
      if (sub === "lookup") {
        const v = m.lookup(key);
        if (!v) throw new BpfError("E_NOT_FOUND", `lookup map ${m.name}: no entry for key ${hex(key)}; list the keys with tsbpf map dump ${positionals[0]}`);
        const e = decodeEntry(m, codecs, key, v);
        ctx.out(e, () => `key: ${showDecoded(e.key, !!codecs.key)}  value: ${showDecoded(e.value, !!codecs.value, m.perCpu)}`);
      } else if (sub === "delete") {
        if (!m.delete(key)) throw new BpfError("E_NOT_FOUND", `delete from map ${m.name}: no entry for key ${hex(key)}; list the keys with tsbpf map dump ${positionals[0]}`);
      } else {
        const one = encode(values.value!, m.valueSize, codecs.value, `update map ${m.name}: value`);
        const { possibleCpuCount } = await import("../sys/cpus.js");
        const value = m.perCpu ? Array.from({ length: possibleCpuCount() }, () => one) : one;
        m.update(key, value, values.noexist ? "noexist" : values.exist ? "exist" : "any");
      }
      return 0;
    }
    case "pin": {
      const { positionals } = parse(rest, {}, "map pin", usage);
      if (positionals.length !== 2) throw new UsageError("map pin needs a map id (or pinned path) and a path under /sys/fs/bpf", usage);
      using m = openMap(positionals[0]!);
      pinIt(() => m.pin(positionals[1]!), positionals[1]!, "map", m.name);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: map ${sub}`, usage);
  }
}
