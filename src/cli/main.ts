/**
 * The `tsbpf` command. Read commands take `--json`. Exit codes: 0 success, 1 operation failed
 * (the message says why and what to do), 2 usage error.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { ArgumentError, BpfError } from "../errors.js";
import { Cmd, getNextId } from "../sys/bpf.js";
import { BpfMap } from "../map/map.js";
import { Program } from "../prog/program.js";
import { openObjectSync } from "../collection/object.js";
import { mapTypeName } from "../map/map.js";
import { progTypeName } from "../prog/program.js";
import { formatBtfAsC } from "../btf/format-c.js";
import { formatBtfRaw } from "../btf/format-raw.js";
import { readBtfFile } from "../btf/format-file.js";
import { KERNEL_BTF_PATH } from "../btf/kernel.js";
import { disassembleObjectSections, renderLines } from "../asm/disasm.js";
import { loadCollectionSpec } from "../spec/load.js";
import { generateSkeleton } from "../skel/generate.js";

const usage = `usage: tsbpf <command> [options]

commands:
  inspect OBJ            maps, programs and relocations of a BPF object file
  prog list              programs loaded in the kernel
  map list               maps in the kernel
  map dump ID|PIN        the entries of a map (hex)
  btf dump [FILE] [--format c|raw]
                         the BTF in FILE (default ${KERNEL_BTF_PATH}; raw BTF or an ELF
                         object's .BTF): --format c writes a C header (vmlinux.h), raw (the
                         default) lists the types like bpftool; --json with raw: the types as JSON
  disasm OBJ [--prog NAME] [--source] [--hex] [--bytes] [--alu32] [--no-annotate]
                         the instructions in llvm-objdump's syntax, helpers, maps and
                         subprograms named in "; comments"; --prog: one program; --source: the
                         C line (.BTF.ext) above its instructions; --hex: hex immediates (what
                         llvm-objdump 19 prints by default); --bytes: instruction bytes;
                         --alu32: w registers for 32-bit loads, stores and atomics (-mcpu=v3+);
                         --no-annotate: exactly llvm-objdump -d's lines
  gen skeleton OBJ [-o FILE] [--name NAME] [--import-from MODULE] [--type NAME]...
                         a TypeScript module embedding OBJ with a typed loader (load<Name>,
                         open<Name>): maps, programs, globals and event structs typed from its
                         BTF; to stdout or FILE. --name: the object name (default from OBJ);
                         --import-from: the runtime module (default "tsbpf"); --type: also
                         export this struct/union/enum/typedef (repeatable)
  --version              print the version

options: --json (machine-readable output on read commands), --help`;

class UsageError extends Error {}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

function* ids(cmd: number): IterableIterator<number> {
  let id = 0;
  for (;;) {
    const next = getNextId(cmd, id);
    if (next === undefined) return;
    yield (id = next);
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

function openMap(arg: string): BpfMap {
  return /^\d+$/.test(arg) ? BpfMap.fromId(Number(arg)) : BpfMap.openPinned(arg);
}

/** Runs the command line `argv` (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const args = argv.filter((a) => a !== "--json");
  const out = (v: unknown, text: () => string) => console.log(json ? JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x), 2) : text());
  try {
    const [cmd, sub, arg] = args;
    if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
      console.log(usage);
      return cmd ? 0 : 2;
    }
    if (cmd === "--version" || cmd === "-V" || cmd === "version") {
      console.log(version());
      return 0;
    }
    if (cmd === "inspect") {
      if (!sub) throw new UsageError("inspect needs an object file");
      const spec = openObjectSync(sub);
      const maps = Object.values(spec.maps).map((m) => ({ name: m.name, type: mapTypeName(m.type), keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, definition: m.definition }));
      const programs = Object.values(spec.programs).map((p) => ({ name: p.name, section: p.section, type: progTypeName(p.type), instructions: p.instructions.length / 8, relocations: p.relocations.length, coreRelocations: p.coreRelocations.length, autoAttach: p.autoAttach }));
      out({ name: spec.name, license: spec.license, kernelVersion: spec.kernelVersion, btf: !!spec.btf, maps, programs, variables: Object.values(spec.variables) }, () => [
        `object ${spec.name}: license "${spec.license}", ${spec.btf ? "with" : "without"} BTF`,
        "", "maps:",
        table([["NAME", "TYPE", "KEY", "VALUE", "MAX", "FLAGS", "FROM"], ...maps.map((m) => [m.name, m.type, String(m.keySize), String(m.valueSize), String(m.maxEntries), `0x${m.flags.toString(16)}`, m.definition])]),
        "", "programs:",
        table([["NAME", "SECTION", "TYPE", "INSNS", "RELOCS", "CO-RE"], ...programs.map((p) => [p.name, p.section, p.type, String(p.instructions), String(p.relocations), String(p.coreRelocations)])]),
      ].join("\n"));
      return 0;
    }
    if (cmd === "prog" && sub === "list") {
      const rows: Array<{ id: number; name: string; type: string; tag: string; maps: number[]; verifiedInstructions: number }> = [];
      for (const id of ids(Cmd.PROG_GET_NEXT_ID)) {
        try {
          using p = Program.fromId(id);
          const i = p.info();
          rows.push({ id, name: i.name, type: i.typeName, tag: i.tag, maps: i.mapIds, verifiedInstructions: i.verifiedInstructions });
        } catch {
          /* gone between listing and opening */
        }
      }
      out(rows, () => table([["ID", "NAME", "TYPE", "TAG", "MAPS"], ...rows.map((r) => [String(r.id), r.name, r.type.toLowerCase(), r.tag, r.maps.join(",")])]));
      return 0;
    }
    if (cmd === "map" && sub === "list") {
      const rows: Array<{ id: number; name: string; type: string; keySize: number; valueSize: number; maxEntries: number; flags: number }> = [];
      for (const id of ids(Cmd.MAP_GET_NEXT_ID)) {
        try {
          using m = BpfMap.fromId(id);
          const i = m.info();
          rows.push({ id, name: i.name, type: mapTypeName(i.type), keySize: i.keySize, valueSize: i.valueSize, maxEntries: i.maxEntries, flags: i.flags });
        } catch {
          /* gone */
        }
      }
      out(rows, () => table([["ID", "NAME", "TYPE", "KEY", "VALUE", "MAX"], ...rows.map((r) => [String(r.id), r.name, r.type, String(r.keySize), String(r.valueSize), String(r.maxEntries)])]));
      return 0;
    }
    if (cmd === "map" && sub === "dump") {
      if (!arg) throw new UsageError("map dump needs a map id or a pinned path");
      using m = openMap(arg);
      const entries = m.dump().map(([k, v]) => ({ key: hex(k), value: hex(v) }));
      out(entries, () => entries.map((e) => `key: ${e.key}  value: ${e.value}`).join("\n") + `\n${entries.length} entries`);
      return 0;
    }
    if (cmd === "btf" && sub === "dump") {
      let format = "raw";
      const files: string[] = [];
      const rest = args.slice(2);
      for (let i = 0; i < rest.length; i++) {
        const a = rest[i]!;
        if (a === "--format") format = rest[++i] ?? "";
        else if (a.startsWith("--format=")) format = a.slice("--format=".length);
        else if (a.startsWith("-")) throw new UsageError(`btf dump: unknown option ${a}`);
        else files.push(a);
      }
      if (format !== "c" && format !== "raw") throw new UsageError(`btf dump: --format must be c or raw, not ${JSON.stringify(format)}`);
      if (files.length > 1) throw new UsageError("btf dump takes one file");
      const btf = readBtfFile(files[0] ?? KERNEL_BTF_PATH);
      const text = format === "c"
        ? formatBtfAsC(btf)
        : json ? `${JSON.stringify([...btf.types()], (_, x) => (typeof x === "bigint" ? x.toString() : x), 2)}\n` : formatBtfRaw(btf);
      process.stdout.on("error", (e: NodeJS.ErrnoException) => { if (e.code !== "EPIPE") throw e; });
      process.stdout.write(text);
      return 0;
    }
    if (cmd === "disasm") {
      const known = new Set(["--source", "--hex", "--bytes", "--alu32", "--no-annotate"]);
      let prog: string | undefined;
      const files: string[] = [];
      const rest = args.slice(1);
      for (let i = 0; i < rest.length; i++) {
        const a = rest[i]!;
        if (a === "--prog") prog = rest[++i];
        else if (a.startsWith("--prog=")) prog = a.slice("--prog=".length);
        else if (a.startsWith("-") && !known.has(a)) throw new UsageError(`disasm: unknown option ${a}`);
        else if (!a.startsWith("-")) files.push(a);
      }
      if (files.length !== 1) throw new UsageError("disasm needs one object file");
      if (prog === "") throw new UsageError("disasm: --prog needs a program name");
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(files[0]!));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new ArgumentError(`disasm ${files[0]}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`, { cause: e });
      }
      const has = (f: string) => rest.includes(f);
      const opts = { hex: has("--hex"), alu32: has("--alu32"), source: has("--source"), annotate: !has("--no-annotate"), rawBytes: has("--bytes") };
      const sections = disassembleObjectSections(bytes, { ...opts, symbols: prog ? [prog] : undefined });
      if (prog && !sections.length) {
        const names = Object.keys(loadCollectionSpec(bytes).programs);
        throw new ArgumentError(`disasm ${files[0]}: no program or function named ${prog}; programs: ${names.join(", ") || "none"}`);
      }
      const hexBytes = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
      const data = sections.map((s) => ({
        section: s.name,
        lines: s.lines.map((l) => (l.kind === "insn" || l.kind === "data" ? { ...l, bytes: hexBytes(l.bytes) } : l)),
      }));
      out(data, () => sections.map((s) => [`Disassembly of section ${s.name}:`, ...renderLines(s.lines, opts)].join("\n")).join("\n\n"));
      return 0;
    }
    if (cmd === "gen" && sub === "skeleton") {
      let outFile: string | undefined, name: string | undefined, importFrom: string | undefined;
      const types: string[] = [];
      const files: string[] = [];
      const rest = args.slice(2);
      const value = (i: number, flag: string) => {
        const v = rest[i];
        if (v === undefined || v === "") throw new UsageError(`gen skeleton: ${flag} needs a value`);
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
        else if (a.startsWith("-")) throw new UsageError(`gen skeleton: unknown option ${a}`);
        else files.push(a);
      }
      if (files.length !== 1) throw new UsageError("gen skeleton needs one object file");
      if (name !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`gen skeleton: --name must be an identifier ([A-Za-z_][A-Za-z0-9_]*), not ${JSON.stringify(name)}`);
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(files[0]!));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new ArgumentError(`gen skeleton ${files[0]}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`, { cause: e });
      }
      const text = generateSkeleton(bytes, { fileName: files[0]!, name, importFrom, types });
      if (outFile) {
        try {
          writeFileSync(outFile, text);
        } catch (e) {
          throw new ArgumentError(`gen skeleton: write ${outFile}: ${(e as Error).message}`, { cause: e });
        }
      } else {
        process.stdout.on("error", (e: NodeJS.ErrnoException) => { if (e.code !== "EPIPE") throw e; });
        process.stdout.write(text);
      }
      return 0;
    }
    throw new UsageError(`unknown command: ${args.join(" ")}`);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`tsbpf: ${e.message}\n\n${usage}`);
      return 2;
    }
    if (e instanceof BpfError) {
      console.error(`tsbpf: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
