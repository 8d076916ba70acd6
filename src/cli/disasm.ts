/** `tsbpf disasm OBJ`: the instructions of a BPF object in llvm-objdump's syntax. */
import { readFileSync } from "node:fs";
import { ArgumentError } from "../errors.js";
import { hex, UsageError, wantsHelp, type Context } from "./common.js";

export const usage = `usage: tsbpf disasm OBJ [--prog NAME] [--source] [--hex] [--bytes] [--alu32] [--no-annotate] [--json]

  The instructions in llvm-objdump's syntax, helpers, maps and subprograms named in "; comments".
  --prog NAME    one program (or function)
  --source       the C line (.BTF.ext) above its instructions
  --hex          hex immediates (what llvm-objdump 19 prints by default)
  --bytes        instruction bytes
  --alu32        w registers for 32-bit loads, stores and atomics (-mcpu=v3+)
  --no-annotate  exactly llvm-objdump -d's lines`;

export async function run(args: string[], ctx: Context): Promise<number> {
  if (wantsHelp(args)) return (console.log(usage), 0);
  const known = new Set(["--source", "--hex", "--bytes", "--alu32", "--no-annotate"]);
  let prog: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--prog") prog = args[++i];
    else if (a.startsWith("--prog=")) prog = a.slice("--prog=".length);
    else if (a.startsWith("-") && !known.has(a)) throw new UsageError(`disasm: unknown option ${a}`, usage);
    else if (!a.startsWith("-")) files.push(a);
  }
  if (files.length !== 1) throw new UsageError("disasm needs one object file", usage);
  if (prog === "" || (prog === undefined && args.includes("--prog"))) throw new UsageError("disasm: --prog needs a program name", usage);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(files[0]!));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ArgumentError(`disasm ${files[0]}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`, { cause: e });
  }
  const has = (f: string) => args.includes(f);
  const opts = { hex: has("--hex"), alu32: has("--alu32"), source: has("--source"), annotate: !has("--no-annotate"), rawBytes: has("--bytes") };
  const { disassembleObjectSections, renderLines } = await import("../asm/disasm.js");
  const sections = disassembleObjectSections(bytes, { ...opts, symbols: prog ? [prog] : undefined });
  if (prog && !sections.length) {
    const { loadCollectionSpec } = await import("../spec/load.js");
    const names = Object.keys(loadCollectionSpec(bytes).programs);
    throw new ArgumentError(`disasm ${files[0]}: no program or function named ${prog}; programs: ${names.join(", ") || "none"}`);
  }
  const data = sections.map((s) => ({
    section: s.name,
    lines: s.lines.map((l) => (l.kind === "insn" || l.kind === "data" ? { ...l, bytes: hex(l.bytes) } : l)),
  }));
  ctx.out(data, () => sections.map((s) => [`Disassembly of section ${s.name}:`, ...renderLines(s.lines, opts)].join("\n")).join("\n\n"));
  return 0;
}
