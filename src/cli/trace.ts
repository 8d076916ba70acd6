/** `tsbpf trace`: bpf_printk output, read from trace_pipe as it comes. */
import { intOption, parse, secondsOption, stopSignal, toJson, UsageError, wantsHelp, writeOut, type Context } from "./common.js";

export const usage = `usage: tsbpf trace [--pid PID] [--match TEXT] [--count N] [--duration S] [--json]

  Lines of the kernel's trace_pipe (what bpf_printk writes) as they arrive, until Ctrl-C.
  --pid PID       only lines written by this process (or thread) id
  --match TEXT    only lines whose message contains TEXT
  --count N       stop after N lines
  --duration S    stop after S seconds
  --json          one JSON object per line: task, pid, cpu, flags, timestamp, event, message
  trace_pipe is shared by the whole system and reading consumes: run one reader at a time.`;

export async function run(args: string[], ctx: Context): Promise<number> {
  if (wantsHelp(args)) return (console.log(usage), 0);
  const opts = { pid: { type: "string" }, match: { type: "string" }, count: { type: "string" }, duration: { type: "string" } } as const;
  const { values, positionals } = parse(args, opts, "trace", usage);
  if (positionals.length) throw new UsageError(`trace takes no arguments, got ${positionals.join(" ")}`, usage);
  const pid = intOption(values.pid, "--pid", usage);
  const count = intOption(values.count, "--count", usage);
  const duration = secondsOption(values.duration, "--duration", usage);
  const match = values.match;
  const { tracePipe } = await import("../trace/trace-pipe.js");
  const stop = stopSignal(duration);
  try {
    const lines = tracePipe({
      signal: stop.signal,
      filter: (l) => (pid === undefined || l.pid === pid || l.tgid === pid) && (match === undefined || l.message.includes(match)),
    });
    console.error(`Tracing ${lines.path}${duration ? ` for ${duration} s` : ""}... Ctrl-C to stop`);
    let n = 0;
    for await (const l of lines) {
      if (ctx.json) {
        const { raw: _raw, ...rest } = l;
        writeOut(`${toJson(rest)}\n`);
      } else {
        writeOut(`${l.raw}\n`);
      }
      if (count !== undefined && ++n >= count) break;
    }
  } finally {
    stop.dispose();
  }
  return 0;
}
