/**
 * What the `tsbpf` subcommands share: the usage error, option parsing, output (text or `--json`),
 * tables, and turning command-line keys and values into map bytes. Light on purpose: main.ts
 * loads it for every command, so it imports nothing heavy (no BTF, codec, disassembler).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ArgumentError } from "../errors.js";

/** A command line the command cannot make sense of: exit code 2, with the group's usage. */
export class UsageError extends Error {
  /** The usage text of the command group, printed after the message. */
  readonly usage: string | undefined;
  constructor(message: string, usage?: string) {
    super(message);
    this.usage = usage;
  }
}

/** What every subcommand gets: the arguments after the group name and the output mode. */
export interface Context {
  /** `--json` was given. */
  json: boolean;
  /** Prints `value` as JSON with `--json`, else `text()`. */
  out(value: unknown, text: () => string): void;
}

/** A command group (`map`, `prog`, ...): its usage and its entry point. */
export interface CommandGroup {
  readonly usage: string;
  /** Runs `args` (after the group name, `--json` removed); returns the exit code. */
  run(args: string[], ctx: Context): Promise<number>;
}

/** JSON.stringify replacer: bigints as decimal strings (lossless), byte arrays as hex. */
export function jsonReplacer(_key: string, x: unknown): unknown {
  if (typeof x === "bigint") return x.toString();
  if (x instanceof Uint8Array) return hex(x);
  return x;
}

export function toJson(v: unknown, indent?: number): string {
  return JSON.stringify(v, jsonReplacer, indent);
}

export function makeContext(json: boolean): Context {
  return {
    json,
    out(value, text) {
      writeOut(`${json ? toJson(value, 2) : text()}\n`);
    },
  };
}

/** Writes to stdout, ignoring a closed pipe (`tsbpf ... | head`). */
export function writeOut(text: string): void {
  if (!epipeHandled) {
    epipeHandled = true;
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") throw e;
    });
  }
  process.stdout.write(text);
}
let epipeHandled = false;

/**
 * Parses options with node:util parseArgs (strict, positionals allowed); unknown options and
 * missing values become a UsageError naming the command.
 */
export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[], options: T, command: string, usage: string,
): { values: { [K in keyof T]?: T[K] extends { type: "boolean" } ? boolean : T[K] extends { multiple: true } ? string[] : string }; positionals: string[] } {
  // A negative number is a value, not an option: `--value -1` means `--value=-1`.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const opt = a.startsWith("--") ? options[a.slice(2)] : undefined;
    if (opt?.type === "string" && /^-\d/.test(args[i + 1] ?? "")) joined.push(`${a}=${args[++i]}`);
    else joined.push(a);
  }
  try {
    const r = parseArgs({ args: joined, options, strict: true, allowPositionals: true });
    return r as never;
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "").replace(/^Unknown option '(.*?)'.*$/s, "unknown option $1");
    throw new UsageError(`${command}: ${msg}`, usage);
  }
}

/** True when the arguments ask for help. */
export function wantsHelp(args: string[]): boolean {
  return args.includes("--help") || args.includes("-h");
}

export const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

/** Left-aligned columns separated by two spaces (the first row is the header). */
export function table(rows: string[][], align: Array<"l" | "r"> = []): string {
  if (rows.length === 0) return "";
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (align[i] === "r" ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}

/** A non-negative integer option (`--count 3`), or a UsageError. */
export function intOption(v: string | undefined, name: string, usage: string, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new UsageError(`${name} must be a non-negative integer, not ${JSON.stringify(v)}`, usage);
  return Number(v);
}

/** A duration in seconds (`--duration 2.5`), or a UsageError. */
export function secondsOption(v: string | undefined, name: string, usage: string, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  if (!/^\d+(\.\d+)?$/.test(v) || (Number(v) <= 0 && name !== "--duration")) throw new UsageError(`${name} must be a positive number of seconds, not ${JSON.stringify(v)}`, usage);
  return Number(v);
}

/** A kernel object id given on the command line, or undefined when `arg` is a path. */
export function idArg(arg: string): number | undefined {
  return /^\d+$/.test(arg) ? Number(arg) : undefined;
}

/**
 * Bytes of a key or value given on the command line:
 * - an integer (`42`, `-1`, `0x2a`): little-endian in `size` bytes (two's complement when negative);
 * - bytes in hex separated by spaces or colons (`01 00 00 00`, `01:00:00:00`), as `map dump`
 *   prints them, or one run of hex digits with a `hex:` prefix (`hex:01000000`).
 * Throws ArgumentError (exit 1) with what was expected.
 */
export function parseBytes(text: string, size: number, what: string): Uint8Array {
  const t = text.trim();
  let bytes: Uint8Array | undefined;
  if (/^-?(\d+|0x[0-9a-f]+)$/i.test(t)) {
    const neg = t.startsWith("-");
    let n = BigInt(neg ? t.slice(1) : t);
    if (neg) n = -n;
    const bits = BigInt(size * 8);
    if (size === 0 || size > 16 || (neg ? -n > 1n << (bits - 1n) : n >= 1n << bits)) {
      throw new ArgumentError(`${what}: ${text} does not fit in ${size} bytes; give the ${size} bytes in hex (e.g. "${Array(Math.min(size, 4)).fill("00").join(" ")}${size > 4 ? " ..." : ""}")`);
    }
    n = BigInt.asUintN(size * 8, n);
    bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      bytes[i] = Number(n & 0xffn);
      n >>= 8n;
    }
    return bytes;
  }
  let digits: string[] | undefined;
  if (/^hex:[0-9a-f]*$/i.test(t) && (t.length - 4) % 2 === 0) digits = t.slice(4).match(/../g) ?? [];
  else if (/^[0-9a-f]{1,2}([\s:]+[0-9a-f]{1,2})*$/i.test(t)) digits = t.split(/[\s:]+/);
  if (!digits) {
    throw new ArgumentError(`${what}: cannot read ${JSON.stringify(text)}; give an integer (42, 0x2a, -1) or ${size} bytes in hex separated by spaces ("01 00 00 00") or as hex:01000000`);
  }
  bytes = Uint8Array.from(digits, (d) => parseInt(d, 16));
  if (bytes.length !== size) throw new ArgumentError(`${what}: ${bytes.length} bytes given, the map wants ${size}`);
  return bytes;
}

/**
 * A value for `--rodata name=value` (and JSON-ish inputs): integers (bigint beyond 2^53),
 * true/false, JSON arrays/objects/strings, else the text as a string.
 */
export function parseScalar(text: string): unknown {
  if (/^-?\d+$/.test(text) || /^0x[0-9a-f]+$/i.test(text)) {
    const b = BigInt(text);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  }
  if (text === "true" || text === "false") return text === "true";
  if (/^[[{"]/.test(text)) {
    try {
      return parseJsonExact(text);
    } catch {
      /* a string */
    }
  }
  return text;
}

/**
 * A decoded value as one readable line: like JSON but with bigints as plain numbers, byte arrays
 * as hex and no quotes around object keys.
 */
export function formatValue(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof Uint8Array) return `[${hex(v)}]`;
  if (Array.isArray(v)) return `[${v.map(formatValue).join(", ")}]`;
  if (v && typeof v === "object") return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${formatValue(x)}`).join(", ")} }`;
  return String(v);
}

/** Sleeps `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** An AbortSignal that fires on SIGINT/SIGTERM (Ctrl-C) and after `seconds` when given. */
export function stopSignal(seconds?: number): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const timer = seconds !== undefined && seconds > 0 ? setTimeout(stop, seconds * 1000) : undefined;
  return {
    signal: ac.signal,
    dispose() {
      if (timer) clearTimeout(timer);
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    },
  };
}

/** `--rodata name=value` options as load constants. */
export function constantsOf(items: string[] | undefined, usageText: string): Record<string, never> {
  const out: Record<string, unknown> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`--rodata takes NAME=VALUE, not ${JSON.stringify(item)}`, usageText);
    out[item.slice(0, eq)] = parseScalar(item.slice(eq + 1));
  }
  return out as Record<string, never>;
}

/**
 * JSON.parse that keeps integers beyond 2^53 exact (as bigints): such literals are quoted with a
 * marker before parsing and turned into bigints by the reviver (Node 20 has no reviver source).
 */
export function parseJsonExact(text: string): unknown {
  const MARK = "\u0000bigint:";
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === "\\") out += text[++i] ?? "";
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
      continue;
    }
    const m = /^-?\d+(?![.\deE])/.exec(text.slice(i, i + 40));
    if (m && (c === "-" || /\d/.test(c)) && !/[\w.]/.test(text[i - 1] ?? "")) {
      const n = m[0];
      out += Number.isSafeInteger(Number(n)) ? n : JSON.stringify(MARK + n);
      i += n.length - 1;
      continue;
    }
    out += c;
  }
  return JSON.parse(out, (_k, v: unknown) => (typeof v === "string" && v.startsWith(MARK) ? BigInt(v.slice(MARK.length)) : v));
}
