/**
 * `tsbpf run OBJ`: load an object, attach what its section names say, and print its maps as they
 * change until Ctrl-C (or --duration): counters as tables, log2 histograms as bars, data
 * sections as variables, ring buffer / perf events as decoded lines as they arrive.
 */
import { MapType } from "../spec/kernel-enums.js";
import { constantsOf, parse, secondsOption, sleep, stopSignal, toJson, UsageError, wantsHelp, writeOut, formatValue, hex, type Context } from "./common.js";
import { eventDecoder, mapView, type MapView } from "./render.js";

export const usage = `usage: tsbpf run OBJ [--rodata NAME=VALUE]... [--duration S] [--interval S] [--map NAME]...
                [--iface IF] [--cgroup PATH] [--json]

  Loads OBJ, attaches every program whose section says where (tracepoints, raw tracepoints,
  kprobes where the kernel has them, uprobes, ...), then prints its maps every --interval seconds
  (default 1) when they changed: integer counters as tables, log2 histograms (a struct with one
  array of integers, e.g. struct { u32 slots[N]; }) as bars, .bss/.data as variables, other
  values decoded from BTF. Ring buffer and perf event records are printed as they arrive,
  decoded when the object declares its event type (struct event, or an unused_* pointer to it).
  Ctrl-C (or the end of --duration) detaches and exits.
  --rodata NAME=VALUE  set a const volatile global before load (repeatable)
  --map NAME           show only this map (repeatable)
  --iface IF           attach SEC("xdp") and SEC("tc") programs to this interface
  --cgroup PATH        attach cgroup programs to this cgroup v2 directory
  --json               one JSON object per line: {"time", "maps": {name: data}} / {"event", "map"}`;

export async function run(args: string[], ctx: Context): Promise<number> {
  if (wantsHelp(args)) return (console.log(usage), 0);
  const opts = {
    rodata: { type: "string", multiple: true }, duration: { type: "string" }, interval: { type: "string" },
    map: { type: "string", multiple: true }, iface: { type: "string" }, cgroup: { type: "string" },
  } as const;
  const { values, positionals } = parse(args, opts, "run", usage);
  if (positionals.length !== 1) throw new UsageError("run needs one object file", usage);
  const duration = secondsOption(values.duration, "--duration", usage);
  const interval = secondsOption(values.interval, "--interval", usage, 1)!;
  const constants = constantsOf(values.rodata, usage);
  const { loadObject } = await import("../collection/object.js");
  const { BpfError } = await import("../errors.js");
  using obj = await loadObject(positionals[0]!, { constants, onWarning: (m) => console.error(`warning: ${m}`) });
  const only = values.map;
  for (const n of only ?? []) if (!obj.maps[n]) throw new BpfError("E_NO_MAP", `run ${positionals[0]}: no map named ${n}; maps: ${Object.keys(obj.maps).join(", ")}`);

  const targets: Record<string, unknown> = {};
  if (values.iface) Object.assign(targets, { xdp: { iface: values.iface }, tc: { iface: values.iface } });
  if (values.cgroup) targets.cgroup = { path: values.cgroup };
  const res = obj.attachAll(targets);
  for (const l of res.links) console.error(`attached ${l.kind} ${l.target} via ${l.mechanism}`);
  for (const s of res.skipped) console.error(`not attached: ${s.program}: ${s.reason}`);
  if (res.links.length === 0) {
    throw new BpfError("E_NOT_ATTACHED", `run ${positionals[0]}: no program could be attached${res.skipped.length ? ` (${res.skipped.map((s) => s.program).join(", ")}: see above)` : ""}; attach targets for xdp/tc/cgroup programs are given with --iface and --cgroup`);
  }

  const chosen = Object.values(obj.maps).filter((m) => !only || only.includes(m.name));
  const views: MapView[] = [];
  for (const m of chosen) {
    const v = await mapView(m);
    if (v) views.push(v);
  }

  const stop = stopSignal(duration);
  const streams: Array<{ close(): void }> = [];
  try {
    // Event streams: printed as records arrive.
    const decode = await eventDecoder(obj.spec.btf);
    const short = (rec: Uint8Array) => (rec.length > 64 ? `${hex(rec.subarray(0, 64))} ... (${rec.length} bytes)` : hex(rec));
    for (const m of chosen) {
      if (m.type !== MapType.RINGBUF && m.type !== MapType.PERF_EVENT_ARRAY) continue;
      const print = (rec: Uint8Array) => {
        const decoded = decode(rec);
        if (ctx.json) writeOut(`${toJson({ time: new Date().toISOString(), map: m.name, event: decoded ?? hex(rec) })}\n`);
        else writeOut(`${m.name}: ${decoded !== undefined ? formatValue(decoded) : short(rec)}\n`);
      };
      const onBatch = (view: DataView, offsets: Uint32Array, lengths: Uint32Array, count: number) => {
        const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
        for (let i = 0; i < count; i++) print(bytes.slice(offsets[i]!, offsets[i]! + lengths[i]!));
      };
      if (m.type === MapType.RINGBUF) {
        const { RingBuffer } = await import("../ringbuf/ringbuf.js");
        const rb = new RingBuffer(m);
        streams.push(rb);
        rb.onBatch(onBatch);
      } else {
        const { PerfBuffer } = await import("../perf/perf-buffer.js");
        const pb = new PerfBuffer(m);
        streams.push(pb);
        pb.onBatch(onBatch);
      }
    }
    const what = [...(views.length ? [views.map((v) => v.name).join(", ")] : []), ...(streams.length ? ["events"] : [])].join(" and ");
    console.error(`Running ${obj.spec.name}${duration ? ` for ${duration} s` : ""}; ${what ? `printing ${what}` : "it has no maps to print"}. Ctrl-C to stop`);

    let last = "";
    const show = () => {
      const parts = views.map((v) => ({ v, s: v.snapshot() })).filter((p) => p.s !== undefined);
      const key = toJson(parts.map((p) => [p.v.name, p.s!.data]));
      if (key === last) return;
      last = key;
      if (parts.length === 0) return;
      const time = new Date();
      if (ctx.json) {
        writeOut(`${toJson({ time: time.toISOString(), maps: Object.fromEntries(parts.map((p) => [p.v.name, p.s!.data])) })}\n`);
      } else {
        writeOut(`${time.toTimeString().slice(0, 8)}\n${parts.map((p) => `${p.v.name}:\n${indent(p.s!.text)}`).join("\n")}\n\n`);
      }
    };
    while (!stop.signal.aborted) {
      await sleep(interval * 1000, stop.signal);
      show();
    }
  } finally {
    stop.dispose();
    for (const s of streams) s.close();
  }
  return 0;
}

const indent = (s: string): string => s.split("\n").map((l) => (l ? `  ${l}` : l)).join("\n");
