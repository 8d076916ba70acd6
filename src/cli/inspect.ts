/**
 * `tsbpf inspect OBJ`: what a BPF object file holds, kernel-free: its ELF sections and what the
 * loader makes of each, maps, programs and subprograms with their relocation entries (map fds,
 * global data, externs, calls, callbacks, CO-RE accesses), global variables and a BTF summary.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { ArgumentError } from "../errors.js";
import { table, UsageError, wantsHelp, type Context } from "./common.js";

export const usage = `usage: tsbpf inspect OBJ [--json]

  What a BPF object file holds, read without the kernel (readelf and bpftool, in eBPF terms):
  - sections: name, ELF type, size, and what the loader makes of each (program, subprograms,
    maps, data, BTF, relocations, license, version, symbols, or ignored);
  - maps, and programs and subprograms (section, type, instructions, linked with subprograms);
  - each function's relocations: instruction (counted from the start of its section, as
    llvm-objdump numbers them), kind (map fd, global data, kconfig/ksym extern, kfunc call,
    subprogram call, callback, CO-RE with the C access path such as task_struct.pid), how the
    loader rewrites the instruction (map_fd, map_value, btf_id, kfunc_call, call, func), target
    and ELF symbol;
  - global variables: section, name, offset, size, type;
  - BTF: types by kind, string table size, .BTF.ext func_info/line_info/CO-RE record counts.
  --json: all of it as one object.`;

export async function run(args: string[], ctx: Context): Promise<number> {
  if (wantsHelp(args)) return (console.log(usage), 0);
  const files = args.filter((a) => !a.startsWith("-"));
  const bad = args.find((a) => a.startsWith("-"));
  if (bad) throw new UsageError(`inspect: unknown option ${bad}`, usage);
  if (files.length !== 1) throw new UsageError("inspect needs one object file", usage);
  const file = files[0]!;
  if (!existsSync(file)) throw new ArgumentError(`open object ${file}: no such file`);
  const { inspectObject } = await import("../spec/inspect.js");
  const b = readFileSync(file);
  const r = inspectObject(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), basename(file).replace(/\.o$/, "").replace(/\.bpf$/, ""));
  ctx.out(r, () => {
    const out = [
      `object ${r.name}: license "${r.license}", ${r.littleEndian ? "little" : "big"}-endian, ${r.btf ? `BTF with ${r.btf.types} types` : "without BTF"}`,
      "", "sections:",
      table([["IDX", "NAME", "TYPE", "SIZE", "ROLE", "DETAIL"], ...r.sections.map((s) => [String(s.index), s.name, s.type, String(s.size), s.role, s.detail])], ["r", "l", "l", "r"]),
      "", "maps:",
      r.maps.length ? table([["NAME", "TYPE", "KEY", "VALUE", "MAX", "FLAGS", "FROM"], ...r.maps.map((m) => [m.name, m.type, String(m.keySize), String(m.valueSize), String(m.maxEntries), `0x${m.flags.toString(16)}`, m.definition])]) : "none",
      "", "programs:",
      table([["NAME", "SECTION", "TYPE", "START", "INSNS", "LINKED", "RELOCS", "CO-RE"], ...r.programs.map((p) => [
        p.name, p.section, p.type, String(p.start), String(p.instructions), p.linkedInstructions === undefined ? "-" : String(p.linkedInstructions),
        String(p.relocations.filter((x) => x.kind !== "CO-RE").length), String(p.relocations.filter((x) => x.kind === "CO-RE").length),
      ])]),
    ];
    for (const p of r.programs.filter((x) => x.relocations.length)) {
      out.push("", `relocations of ${p.name} (${p.section}):`, table([["INSN", "KIND", "LOADS AS", "TARGET", "SYMBOL"], ...p.relocations.map((x) => [
        String(x.insn), x.kind === "CO-RE" ? `CO-RE ${x.elfType}` : x.kind, x.loadsAs, x.kind === "CO-RE" ? `${x.target} (type [${x.typeId}], access ${x.accessStr})` : x.target, x.symbol || "-",
      ])], ["r"]));
    }
    out.push("", "global variables:", r.variables.length
      ? table([["SECTION", "NAME", "OFFSET", "SIZE", "TYPE"], ...r.variables.map((v) => [v.section, v.name, String(v.offset), String(v.size), v.type || "-"])], ["l", "l", "r", "r"])
      : "none");
    if (r.btf) {
      const x = r.btf;
      out.push("", `BTF: ${x.types} types, ${x.stringBytes} bytes of strings; .BTF.ext: ${x.funcInfo} func_info, ${x.lineInfo} line_info, ${x.coreRelocations} CO-RE records`,
        table([["KIND", "COUNT"], ...Object.entries(x.byKind).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, n]) => [k, String(n)])], ["l", "r"]));
    } else {
      out.push("", "BTF: none (built without -g)");
    }
    return out.join("\n");
  });
  return 0;
}
