/** Shared by the example drivers: their .bpf.o files, their options, and attach fallbacks. */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { BpfError, NotSupportedError, type BpfObject, type Link } from "../src/index.js";
import { attachProgram } from "../src/collection/attach.js";

/**
 * The path of examples/<name>/<name>.bpf.o, whether the driver runs from the source tree or from
 * dist/examples/<name>/.
 */
export function exampleObject(moduleUrl: string, name: string): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const candidates = [join(here, `${name}.bpf.o`), join(here, "..", "..", "..", "examples", name, `${name}.bpf.o`)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`find ${name}.bpf.o: looked in ${candidates.join(" and ")}; run npm run bpf to build the examples`);
  return found;
}

/**
 * A driver option: `flag` (no value), `text`, `seconds` (a positive number), `count` (a whole
 * number, 0 or more) or `pid` (a whole number, 1 or more). `arg` names the value in the usage line.
 */
export interface OptionSpec {
  kind: "flag" | "text" | "seconds" | "count" | "pid";
  default?: string | number | boolean;
  short?: string;
  arg?: string;
}

type OptionValue<O extends OptionSpec> = O["kind"] extends "flag" ? boolean
  : O["kind"] extends "text" ? (O extends { default: string } ? string : string | undefined)
  : O extends { default: number } ? number : number | undefined;

/** What {@link parseOptions} returns: one typed value per option. */
export type OptionValues<S extends Record<string, OptionSpec>> = { [K in keyof S]: OptionValue<S[K]> };

const NUMBER_RULES = {
  seconds: { ok: (n: number) => n > 0 && Number.isFinite(n), what: "a number of seconds greater than 0", example: "2" },
  count: { ok: (n: number) => Number.isSafeInteger(n) && n >= 0, what: "a whole number", example: "10" },
  pid: { ok: (n: number) => Number.isSafeInteger(n) && n > 0, what: "a process id (a whole number)", example: "1234" },
} as const;

/** How an option is written in a usage line: `--raw`, `--pid PID`. */
function optionUsage(name: string, o: OptionSpec): string {
  return o.kind === "flag" ? `--${name}` : `--${name} ${o.arg ?? { text: "VALUE", seconds: "S", count: "N", pid: "PID" }[o.kind]}`;
}

/** The usage line of a driver: `usage: tool [--pid PID] [--raw]`. */
export function usageLine(tool: string, spec: Record<string, OptionSpec>): string {
  return `usage: ${tool} ${Object.entries(spec).map(([n, o]) => `[${optionUsage(n, o)}]`).join(" ")}`;
}

/** Prints `tool: message` as one line and exits 2 (a usage error). */
export function usageError(tool: string, message: string): never {
  console.error(`${tool}: ${message}`);
  process.exit(2);
}

/**
 * Parses the command line for an example driver. A bad argument prints one line
 * `tool: what is wrong, and the fix` and exits 2; --help prints the usage and exits 0. Any error
 * the driver throws later is printed as one line `tool: message` with exit code 1.
 */
export function parseOptions<const S extends Record<string, OptionSpec>>(tool: string, spec: S, argv = process.argv.slice(2)): OptionValues<S> {
  const usage = usageLine(tool, spec);
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, o] of Object.entries(spec)) options[name] = { type: o.kind === "flag" ? "boolean" : "string", ...(o.short && { short: o.short }) };
  let raw: Record<string, string | boolean | undefined>;
  try {
    raw = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof raw;
  } catch (e) {
    const err = e as Error & { code?: string };
    if (!err.code?.startsWith("ERR_PARSE_ARGS")) throw e;
    const name = /'([^' ]+)/.exec(err.message)?.[1] ?? "";
    const known = Object.entries(spec).find(([n, o]) => name === `--${n}` || name === `-${o.short}`);
    const what = err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? `unknown option ${name}`
      : err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL" ? `unexpected argument ${name}`
      : !known ? err.message.split(/\.\s|\n/)[0]
      : known[1].kind === "flag" ? `${name} takes no value`
      : `${name} needs a value: ${optionUsage(...known)}`;
    usageError(tool, `${what}; ${usage}`);
  }
  if (raw.help) {
    console.log(usage);
    process.exit(0);
  }
  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec)) {
    const v = raw[name];
    if (v === undefined || o.kind === "flag" || o.kind === "text") {
      values[name] = v ?? o.default ?? (o.kind === "flag" ? false : undefined);
      continue;
    }
    const rule = NUMBER_RULES[o.kind];
    const n = /^\s*$/.test(v as string) ? NaN : Number(v);
    if (!rule.ok(n)) usageError(tool, `--${name} takes ${rule.what}, e.g. --${name} ${rule.example}, not ${JSON.stringify(v)}`);
    values[name] = n;
  }
  process.on("uncaughtException", (e) => {
    console.error(`${tool}: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
  return values as OptionValues<S>;
}

/** A kernel that lacks the attach point (NotSupportedError) or refuses it (E_NO_SYMBOL). */
function cannotAttachHere(e: unknown): e is BpfError {
  return e instanceof NotSupportedError || (e instanceof BpfError && e.code === "E_NO_SYMBOL");
}

/**
 * Attaches the first of `programs` (by name) that the kernel accepts, each where its section
 * says. For each one skipped it prints on stderr why and what it uses instead; after a
 * NotSupportedError (e.g. no CONFIG_KPROBES) it skips the other programs of the same type.
 */
export function attachWithFallback(obj: BpfObject, ...programs: string[]): Link {
  let unsupportedType: number | undefined;
  for (let i = 0; i < programs.length; i++) {
    const name = programs[i]!;
    const prog = obj.program(name);
    const spec = obj.spec.programs[name]!;
    const last = i === programs.length - 1;
    if (prog.type === unsupportedType && !last) continue;
    try {
      const link = attachProgram(prog, spec);
      if (!link) throw new Error(`${name} has no attach point in its section name`);
      return link;
    } catch (e) {
      if (last || !cannotAttachHere(e)) throw e;
      if (e instanceof NotSupportedError) unsupportedType = prog.type;
      const next = programs.slice(i + 1).find((p) => obj.program(p).type !== unsupportedType) ?? programs.at(-1)!;
      console.error(`note: ${e.message.split(/\. |; /)[0]}; using ${obj.spec.programs[next]!.section} instead`);
    }
  }
  throw new Error("attachWithFallback: no programs given");
}
