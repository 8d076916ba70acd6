/** `tsbpf btf dump`: BTF as C (vmlinux.h) or as bpftool's raw listing. */
import { toJson, UsageError, wantsHelp, writeOut, type Context } from "./common.js";

const KERNEL_BTF_PATH = "/sys/kernel/btf/vmlinux";

export const usage = `usage: tsbpf btf dump [FILE] [--format c|raw] [--json]

  btf dump [FILE] [--format c|raw]
      the BTF in FILE (default ${KERNEL_BTF_PATH}; raw BTF or an ELF object's .BTF):
      --format c writes a C header (vmlinux.h), raw (the default) lists the types like bpftool;
      --json with raw: the types as JSON (with --format c it is a usage error, as in bpftool)`;

export async function run(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub) throw new UsageError("btf needs a command", usage);
  if (wantsHelp(args)) return (console.log(usage), 0);
  if (sub !== "dump") throw new UsageError(`unknown command: btf ${sub}`, usage);
  let format = "raw";
  const files: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === "--format") format = rest[++i] ?? "";
    else if (a.startsWith("--format=")) format = a.slice("--format=".length);
    else if (a.startsWith("-")) throw new UsageError(`btf dump: unknown option ${a}`, usage);
    else files.push(a);
  }
  if (format !== "c" && format !== "raw") throw new UsageError(`btf dump: --format must be c or raw, not ${JSON.stringify(format)}`, usage);
  if (files.length > 1) throw new UsageError("btf dump takes one file", usage);
  // As bpftool: a C header has no JSON form.
  if (format === "c" && ctx.json) throw new UsageError("btf dump: --json is for the raw listing, a C header has no JSON form; drop --json or use --format raw --json", usage);
  const { readBtfFile } = await import("../btf/format-file.js");
  const btf = readBtfFile(files[0] ?? KERNEL_BTF_PATH);
  let text: string;
  if (format === "c") text = (await import("../btf/format-c.js")).formatBtfAsC(btf);
  else if (ctx.json) text = `${toJson([...btf.types()], 2)}\n`;
  else text = (await import("../btf/format-raw.js")).formatBtfRaw(btf);
  writeOut(text);
  return 0;
}
