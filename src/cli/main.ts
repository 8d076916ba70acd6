/**
 * The `tsbpf` command: parses the command group and hands the rest to its module (one file per
 * group, loaded on demand so a command only pays for what it uses). Read commands take `--json`.
 * Exit codes: 0 success, 1 operation failed (one line that says why and what to do), 2 usage error.
 */
import { readFileSync } from "node:fs";
import { BpfError } from "../errors.js";
import { makeContext, UsageError, type CommandGroup } from "./common.js";

const usage = `usage: tsbpf <command> [options]

objects:
  inspect OBJ            sections, maps, programs with their relocations (maps, global data,
                         externs, calls, callbacks, CO-RE), global variables and BTF of an object
  disasm OBJ [--prog NAME] [--source] [--hex] [--bytes] [--alu32] [--no-annotate]
                         the instructions in llvm-objdump's syntax, helpers, maps and
                         subprograms named in "; comments"; --source: the C line (.BTF.ext)
  gen skeleton OBJ [-o FILE] [--name NAME] [--import-from MODULE] [--type NAME]...
                         a TypeScript module embedding OBJ with a typed loader
  btf dump [FILE] [--format c|raw]
                         the BTF in FILE (default /sys/kernel/btf/vmlinux; raw BTF or an ELF
                         object's .BTF): --format c writes a C header (vmlinux.h), raw (the
                         default) lists the types like bpftool

kernel:
  prog list|show [ID|PIN]
                         loaded programs: type, tag, sizes, map ids, run stats
  prog loadall OBJ [PINDIR] [--rodata NAME=VALUE]...
                         load every program of OBJ; pin them under PINDIR, or report and unload
  prog pin ID PATH       pin a program
  map list|show|dump ID|PIN
                         maps and their entries (decoded from the map's BTF when it has BTF)
  map lookup|update|delete ID|PIN --key K [--value V]
  map pin ID PATH        pin a map
  link list|show [ID|PIN]
                         bpf_links and what each is attached to
  link pin ID PATH       pin a link
  run OBJ [--rodata NAME=VALUE]... [--duration S] [--interval S]
                         load, attach, and print the maps as they change until Ctrl-C
  trace [--pid PID] [--match TEXT] [--count N] [--duration S]
                         bpf_printk output (trace_pipe lines)
  feature                what the kernel supports: map and program types, attach mechanisms
                         (kprobes, uprobes, fentry, kprobe.multi, tcx, netkit), bpf_link
                         kinds, BTF, helpers

  --version              print the version

options: --json (machine-readable output on read commands), --help (on any command).
ID: a kernel object id; PIN: a path under /sys/fs/bpf. tsbpf <command> --help for details.`;

/** The command groups, each loaded only when used. */
const groups: Record<string, () => Promise<CommandGroup>> = {
  inspect: () => import("./inspect.js"),
  disasm: () => import("./disasm.js"),
  gen: () => import("./gen.js"),
  btf: () => import("./btf.js"),
  prog: () => import("./prog.js"),
  map: () => import("./map.js"),
  link: () => import("./link.js"),
  run: () => import("./run.js"),
  trace: () => import("./trace.js"),
  feature: () => import("./feature.js"),
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** A Node system error (ENOENT, EACCES, ...) from a file the user named: reported, not a crash. */
function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string" && typeof (e as NodeJS.ErrnoException).syscall === "string";
}

/** Runs the command line `argv` (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const args = argv.filter((a) => a !== "--json");
  const [cmd, ...rest] = args;
  try {
    if (!cmd) throw new UsageError("a command is needed");
    if (cmd === "--help" || cmd === "-h" || cmd === "help") {
      const topic = cmd === "help" ? rest[0] : undefined;
      if (topic && !groups[topic]) throw new UsageError(`help: no command ${topic}`);
      console.log(topic ? (await groups[topic]!()).usage : usage);
      return 0;
    }
    if (cmd === "--version" || cmd === "-V" || cmd === "version") {
      console.log(version());
      return 0;
    }
    const load = groups[cmd];
    if (!load) throw new UsageError(`unknown command: ${args.join(" ")}`);
    return await (await load()).run(rest, makeContext(json));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`tsbpf: ${e.message}\n\n${e.usage ?? usage}`);
      return 2;
    }
    if (e instanceof BpfError) {
      console.error(`tsbpf: ${e.message}`);
      return 1;
    }
    if (isSystemError(e)) {
      console.error(`tsbpf: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
