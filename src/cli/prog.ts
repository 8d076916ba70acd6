/** `tsbpf prog list|show|loadall|pin`: bpftool's program commands. */
import { mkdirSync, rmSync, rmdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Cmd } from "../sys/bpf.js";
import { Program, type ProgramInfo } from "../prog/program.js";
import { constantsOf, parse, table, UsageError, wantsHelp, type Context } from "./common.js";
import { bootTimeToDate, byId, ids, pinIt } from "./kernel.js";
import { idArg } from "./common.js";

/** A program by id (all digits) or pinned path. */
function openProgram(arg: string): Program {
  const id = idArg(arg);
  return id !== undefined ? byId("program", id, Program.fromId) : Program.openPinned(arg);
}

export const usage = `usage: tsbpf prog <command> ...

  prog list                       programs loaded in the kernel
  prog show [ID|PIN]              one program: type, name, tag, load time, xlated/jited sizes,
                                  map ids, BTF id, verified instructions, run stats (when
                                  kernel.bpf_stats_enabled is 1); without ID|PIN: every program
  prog loadall OBJ [PINDIR] [--rodata NAME=VALUE]... [--pinmaps DIR] [--log]
                                  load every program and map of OBJ; with PINDIR, pin each
                                  program at PINDIR/<name> (like bpftool prog loadall) so they
                                  stay loaded; without, report what the verifier accepted and
                                  unload. --rodata sets a const volatile global before load;
                                  --pinmaps pins the maps at DIR/<name> too; --log prints
                                  the whole verifier log when a program is rejected
  prog pin ID|PIN PATH            pin a program on bpffs at PATH

  ID is a program id (see prog list); PIN a path under /sys/fs/bpf. --json on list, show and
  loadall.`;

/** What prog show/list report for one program. */
export function describe(i: ProgramInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: i.id, type: i.typeName.toLowerCase(), name: i.name, tag: i.tag, gpl: i.gplCompatible,
    loadedAt: bootTimeToDate(i.loadTime).toISOString(), uid: i.createdByUid,
    xlatedBytes: i.xlatedLength, jitedBytes: i.jitedLength, mapIds: i.mapIds, btfId: i.btfId,
    verifiedInstructions: i.verifiedInstructions,
  };
  if (i.runCount > 0n || i.runTimeNs > 0n) Object.assign(out, { runTimeNs: i.runTimeNs, runCount: i.runCount });
  return out;
}

/** bpftool's time format: local time with the UTC offset, `2024-05-01T12:00:00+0200`. */
function localTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${sign}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
}

function showText(d: Record<string, unknown>): string {
  const lines = [
    `${d.id}: ${d.type}  name ${d.name}  tag ${d.tag}${d.gpl ? "  gpl" : ""}`,
    `\tloaded_at ${localTime(new Date(String(d.loadedAt)))}  uid ${d.uid}`,
    `\txlated ${d.xlatedBytes}B  jited ${d.jitedBytes}B${(d.mapIds as number[]).length ? `  map_ids ${(d.mapIds as number[]).join(",")}` : ""}`,
    `\t${d.btfId ? `btf_id ${d.btfId}  ` : ""}verified_insns ${d.verifiedInstructions}`,
  ];
  if (d.runCount !== undefined) lines.push(`\trun_time_ns ${d.runTimeNs}  run_cnt ${d.runCount}`);
  return lines.join("\n");
}

function listAll(): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const id of ids(Cmd.PROG_GET_NEXT_ID)) {
    try {
      using p = Program.fromId(id);
      rows.push(describe(p.info()));
    } catch {
      /* gone between listing and opening */
    }
  }
  return rows;
}


async function loadall(rest: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parse(rest, { rodata: { type: "string", multiple: true }, pinmaps: { type: "string" }, log: { type: "boolean" } }, "prog loadall", usage);
  if (positionals.length < 1 || positionals.length > 2) throw new UsageError("prog loadall needs an object file and optionally a directory under /sys/fs/bpf", usage);
  const [file, pinDir] = positionals as [string, string | undefined];
  const constants = constantsOf(values.rodata, usage);
  // Before loading: a directory off bpffs would fail at the first pin with a misleading EPERM.
  const { ensurePinPath } = await import("../sys/fs.js");
  if (pinDir) ensurePinPath(pinDir, "prog loadall: pin directory", true);
  if (values.pinmaps) ensurePinPath(values.pinmaps, "prog loadall: --pinmaps directory", true);
  const { loadObject } = await import("../collection/object.js");
  const warnings: string[] = [];
  const { VerifierError, BpfError } = await import("../errors.js");
  let loaded;
  try {
    loaded = await loadObject(file, { constants, onWarning: (m) => warnings.push(m) });
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    if (values.log) console.error(e.log.trimEnd());
    throw new BpfError(e.code, e.message.replace(/The full verifier log is on the error's \.log property$/, values.log ? "The full verifier log is above" : "Pass --log for the full verifier log"), { cause: e });
  }
  using obj = loaded;
  const pinned: string[] = [];
  const made: string[] = [];
  const mkdir = (dir: string) => {
    if (existsSync(dir)) return;
    let d = dir;
    const todo: string[] = [];
    while (!existsSync(d)) {
      todo.unshift(d);
      d = join(d, "..");
    }
    mkdirSync(dir, { recursive: true });
    made.push(...todo.reverse());
  };
  const programs = Object.entries(obj.programs).map(([name, p]) => {
    const i = p.info();
    return { name, section: obj.spec.programs[name]!.section, id: i.id, type: i.typeName.toLowerCase(), verifiedInstructions: i.verifiedInstructions, xlatedBytes: i.xlatedLength, jitedBytes: i.jitedLength, mapIds: i.mapIds, pinned: undefined as string | undefined };
  });
  const maps = Object.entries(obj.maps).map(([name, m]) => {
    const i = m.info();
    return { name, id: i.id, type: i.typeName, pinned: undefined as string | undefined };
  });
  try {
    if (pinDir) {
      mkdir(pinDir);
      for (const p of programs) {
        const path = join(pinDir, p.name);
        pinIt(() => obj.program(p.name).pin(path), path, "program", p.name);
        pinned.push((p.pinned = path));
      }
    }
    if (values.pinmaps) {
      mkdir(values.pinmaps);
      for (const m of maps) {
        const path = join(values.pinmaps, m.name.replace(/^\./, "").replaceAll(".", "_"));
        pinIt(() => obj.map(m.name).pin(path), path, "map", m.name);
        pinned.push((m.pinned = path));
      }
    }
  } catch (e) {
    for (const p of pinned) rmSync(p, { force: true });
    for (const d of made) try { rmdirSync(d); } catch { /* not empty */ }
    throw e;
  }
  for (const w of warnings) console.error(`warning: ${w}`);
  ctx.out({ object: file, programs, maps, kept: !!pinDir }, () => [
    table([["PROGRAM", "ID", "TYPE", "SECTION", "VERIFIED", "XLATED", "JITED", "MAPS", "PINNED"], ...programs.map((p) => [p.name, String(p.id), p.type, p.section, String(p.verifiedInstructions), `${p.xlatedBytes}B`, `${p.jitedBytes}B`, p.mapIds.join(",") || "-", p.pinned ?? "-"])]),
    "",
    table([["MAP", "ID", "TYPE", "PINNED"], ...maps.map((m) => [m.name, String(m.id), m.type, m.pinned ?? "-"])]),
    "",
    pinDir
      ? `${programs.length} program${programs.length === 1 ? "" : "s"} loaded and pinned under ${pinDir}; remove the pins (rm -r ${pinDir}) to unload`
      : `${programs.length} program${programs.length === 1 ? "" : "s"} passed the verifier and ${programs.length === 1 ? "was" : "were"} unloaded (give a PINDIR to keep them loaded)`,
  ].join("\n"));
  return 0;
}


export async function run(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub) throw new UsageError("prog needs a command", usage);
  if (wantsHelp(args)) return (console.log(usage), 0);
  switch (sub) {
    case "list": {
      parse(rest, {}, "prog list", usage);
      const rows = listAll();
      ctx.out(rows, () => table([["ID", "NAME", "TYPE", "TAG", "MAPS", "VERIFIED"], ...rows.map((r) => [String(r.id), String(r.name), String(r.type), String(r.tag), (r.mapIds as number[]).join(","), String(r.verifiedInstructions)])]));
      return 0;
    }
    case "show": {
      const { positionals } = parse(rest, {}, "prog show", usage);
      if (positionals.length > 1) throw new UsageError("prog show takes one program id or pinned path", usage);
      if (positionals.length === 0) {
        const rows = listAll();
        ctx.out(rows, () => rows.map(showText).join("\n"));
        return 0;
      }
      using p = openProgram(positionals[0]!);
      const d = describe(p.info());
      ctx.out(d, () => showText(d));
      return 0;
    }
    case "loadall":
      return loadall(rest, ctx);
    case "pin": {
      const { positionals } = parse(rest, {}, "prog pin", usage);
      if (positionals.length !== 2) throw new UsageError("prog pin needs a program id (or pinned path) and a path under /sys/fs/bpf", usage);
      using p = openProgram(positionals[0]!);
      pinIt(() => p.pin(positionals[1]!), positionals[1]!, "program", p.name);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: prog ${sub}`, usage);
  }
}
