/** `tsbpf inspect OBJ`: the maps, programs and global variables of a BPF object file, kernel-free. */
import { table, UsageError, wantsHelp, type Context } from "./common.js";

export const usage = `usage: tsbpf inspect OBJ [--json]

  The maps, programs (section, type, instructions, relocations, CO-RE relocations) and global
  variables of a BPF object file, read without the kernel.`;

export async function run(args: string[], ctx: Context): Promise<number> {
  if (wantsHelp(args)) return (console.log(usage), 0);
  const files = args.filter((a) => !a.startsWith("-"));
  const bad = args.find((a) => a.startsWith("-"));
  if (bad) throw new UsageError(`inspect: unknown option ${bad}`, usage);
  if (files.length !== 1) throw new UsageError("inspect needs one object file", usage);
  const { openObjectSync } = await import("../collection/object.js");
  const { mapTypeName } = await import("../map/map.js");
  const { progTypeName } = await import("../prog/program.js");
  const spec = openObjectSync(files[0]!);
  const maps = Object.values(spec.maps).map((m) => ({ name: m.name, type: mapTypeName(m.type), keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, definition: m.definition }));
  const programs = Object.values(spec.programs).map((p) => ({ name: p.name, section: p.section, type: progTypeName(p.type), instructions: p.instructions.length / 8, relocations: p.relocations.length, coreRelocations: p.coreRelocations.length, autoAttach: p.autoAttach }));
  ctx.out({ name: spec.name, license: spec.license, kernelVersion: spec.kernelVersion, btf: !!spec.btf, maps, programs, variables: Object.values(spec.variables) }, () => [
    `object ${spec.name}: license "${spec.license}", ${spec.btf ? "with" : "without"} BTF`,
    "", "maps:",
    table([["NAME", "TYPE", "KEY", "VALUE", "MAX", "FLAGS", "FROM"], ...maps.map((m) => [m.name, m.type, String(m.keySize), String(m.valueSize), String(m.maxEntries), `0x${m.flags.toString(16)}`, m.definition])]),
    "", "programs:",
    table([["NAME", "SECTION", "TYPE", "INSNS", "RELOCS", "CO-RE"], ...programs.map((p) => [p.name, p.section, p.type, String(p.instructions), String(p.relocations), String(p.coreRelocations)])]),
  ].join("\n"));
  return 0;
}
