/** `tsbpf gen skeleton OBJ`: a typed TypeScript module for a BPF object. */
import { readFileSync, writeFileSync } from "node:fs";
import { ArgumentError } from "../errors.js";
import { UsageError, wantsHelp, writeOut, type Context } from "./common.js";

export const usage = `usage: tsbpf gen skeleton OBJ [-o FILE] [--name NAME] [--import-from MODULE] [--type NAME]...

  gen skeleton OBJ [-o FILE] [--name NAME] [--import-from MODULE] [--type NAME]...
      a TypeScript module embedding OBJ with a typed loader (load<Name>, open<Name>): maps,
      programs, globals and event structs typed from its BTF; to stdout or FILE. --name: the
      object name (default from OBJ); --import-from: the runtime module (default "tsbpf");
      --type: also export this struct/union/enum/typedef (repeatable)`;

export async function run(args: string[], _ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub) throw new UsageError("gen needs a command", usage);
  if (wantsHelp(args)) return (console.log(usage), 0);
  if (sub !== "skeleton") throw new UsageError(`unknown command: gen ${sub}`, usage);
  let outFile: string | undefined, name: string | undefined, importFrom: string | undefined;
  const types: string[] = [];
  const files: string[] = [];
  const value = (i: number, flag: string) => {
    const v = rest[i];
    if (v === undefined || v === "") throw new UsageError(`gen skeleton: ${flag} needs a value`, usage);
    return v;
  };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === "-o" || a === "--output") outFile = value(++i, a);
    else if (a === "--name") name = value(++i, a);
    else if (a === "--import-from") importFrom = value(++i, a);
    else if (a === "--type") types.push(value(++i, a));
    else if (a.startsWith("--name=")) name = a.slice("--name=".length);
    else if (a.startsWith("--import-from=")) importFrom = a.slice("--import-from=".length);
    else if (a.startsWith("--type=")) types.push(a.slice("--type=".length));
    else if (a.startsWith("-")) throw new UsageError(`gen skeleton: unknown option ${a}`, usage);
    else files.push(a);
  }
  if (files.length !== 1) throw new UsageError("gen skeleton needs one object file", usage);
  if (name !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`gen skeleton: --name must be an identifier ([A-Za-z_][A-Za-z0-9_]*), not ${JSON.stringify(name)}`, usage);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(files[0]!));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ArgumentError(`gen skeleton ${files[0]}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`, { cause: e });
  }
  const { generateSkeleton } = await import("../skel/generate.js");
  const text = generateSkeleton(bytes, { fileName: files[0]!, name, importFrom, types });
  if (outFile) {
    try {
      writeFileSync(outFile, text);
    } catch (e) {
      throw new ArgumentError(`gen skeleton: write ${outFile}: ${(e as Error).message}`, { cause: e });
    }
  } else {
    writeOut(text);
  }
  return 0;
}
