/**
 * The skeleton generator (`tsbpf gen skeleton`): from a BPF object, a TypeScript module that
 * embeds the ELF and declares its types, so `skel.maps.hists.lookup(pid)` is checked against the
 * object's BTF at compile time. The module holds types and one {@link defineSkeleton} call; the
 * behaviour stays in the runtime (src/skel/runtime.ts). Kernel-free and deterministic: the same
 * object gives the same text.
 *
 * Which types are exported (as `export interface Hist { ... }` / `export type Color = ...`):
 * 1. every named struct, union and enum reachable (through members and arrays, not pointers)
 *    from the key and value types of the maps and from the global variables of every data
 *    section (`.rodata`, `.data`, `.bss`, `.data.*`, `.rodata.*`, `.kconfig`);
 * 2. event types: ring buffer and perf event array maps carry no value type, and clang puts a
 *    struct used only through `bpf_ringbuf_reserve` into no BTF at all. An object declares its
 *    event types with an unused global pointer whose name starts with `unused`, the bpf2go
 *    convention: `struct event *unused_event __attribute__((unused));`. The pointee (a named
 *    struct, union or enum) is exported, as in rule 1;
 * 3. any struct, union, enum or typedef named in the `types` option (`--type NAME`), like
 *    bpf2go's `-type`, when the object's BTF has it.
 * Structs and unions so exported also get a decoder in `skel.decoders.<c name>`. Named types
 * are referred to by name wherever they appear; anonymous ones are written inline.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { basename } from "node:path";
import { ArgumentError } from "../errors.js";
import type { Btf } from "../btf/btf.js";
import { loadCollectionSpec } from "../spec/load.js";
import type { CollectionSpec, MapSpec, VariableSpec } from "../spec/types.js";
import { MapType } from "../spec/kernel-enums.js";
import { codecFor } from "../codec/codec.js";
import { typeScriptType } from "../codec/typescript.js";
import { isPerCpu } from "../map/map.js";

/** Options of {@link generateSkeleton}. */
export interface GenerateSkeletonOptions {
  /**
   * The object name: names the exports (`readhist` gives `loadReadhist`, `ReadhistSkeleton`) and
   * prefixes the kernel names of the data maps. Default: from `fileName` (`readhist.bpf.o` gives
   * `readhist`); one of the two is required.
   */
  readonly name?: string;
  /** The object's file name, for the header comment (and the default name). */
  readonly fileName?: string;
  /** The module the generated code imports the runtime from (default "tsbpf"). */
  readonly importFrom?: string;
  /** Extra types to export by C name (struct, union, enum or typedef), like bpf2go's `-type`. */
  readonly types?: readonly string[];
}

/** Map types whose keys/values are fds or absent: never typed (as the loader gives them no BTF). */
const untypedMapTypes = new Set<number>([
  MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.STACK_TRACE, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS,
  MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.SOCKHASH,
  MapType.QUEUE, MapType.STACK, MapType.REUSEPORT_SOCKARRAY, MapType.PROG_ARRAY, MapType.RINGBUF, MapType.USER_RINGBUF,
  MapType.STRUCT_OPS,
]);

/** Global type names a generated declaration must not shadow. */
const RESERVED = new Set([
  "Array", "ArrayBuffer", "BigInt", "BigInt64Array", "BigUint64Array", "Boolean", "DataView", "Date", "Disposable", "Error",
  "Exclude", "Extract", "Float32Array", "Float64Array", "Function", "Int16Array", "Int32Array", "Int8Array", "Iterable",
  "Iterator", "JSON", "Map", "Math", "NonNullable", "Number", "Object", "Omit", "Partial", "Pick", "Promise", "Proxy",
  "Readonly", "ReadonlyArray", "Record", "RegExp", "Required", "ReturnType", "Set", "String", "Symbol", "Uint16Array",
  "Uint32Array", "Uint8Array", "Uint8ClampedArray", "WeakMap", "WeakSet", "Buffer", "NodeJS",
  "TypedMap", "BpfMap", "Program", "Skeleton", "OpenSkeleton", "SkeletonLoadOptions", "defineSkeleton",
]);

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const prop = (n: string) => (IDENT.test(n) ? n : JSON.stringify(n));

/** `readhist` → `Readhist`, `memcpy_stat` → `MemcpyStat`, `__sk_buff` → `SkBuff`. */
function pascal(s: string): string {
  const out = s.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
  return /^[0-9]/.test(out) ? `T${out}` : out || "T";
}

function objectNameOf(fileName: string): string {
  return basename(fileName).replace(/\.o$/, "").replace(/\.bpf$/, "");
}

/** Section names with variables, plus .rodata/.data/.bss always (as BpfObject.sections has them). */
function sectionNames(spec: CollectionSpec): string[] {
  const names = [".rodata", ".data", ".bss"];
  for (const v of Object.values(spec.variables)) if (!names.includes(v.map)) names.push(v.map);
  return names;
}

type Exported = { id: number; kind: "struct" | "union" | "enum" | "enum64"; cName: string; tsName: string };

/**
 * Generates the skeleton module (TypeScript source) for the object `objectBytes`. Throws
 * ElfError/ObjectError for a bad object, ArgumentError for a missing name or an unknown
 * `types` entry.
 *
 * @example
 * ```ts
 * const text = generateSkeleton(readFileSync("readhist.bpf.o"), { fileName: "readhist.bpf.o" });
 * writeFileSync("readhist.skel.ts", text);
 * ```
 */
export function generateSkeleton(objectBytes: Uint8Array, opts: GenerateSkeletonOptions = {}): string {
  const name = opts.name ?? (opts.fileName ? objectNameOf(opts.fileName) : undefined);
  if (!name) throw new ArgumentError("generate skeleton: the object needs a name; pass { name } or { fileName }");
  const bytes = new Uint8Array(objectBytes.buffer, objectBytes.byteOffset, objectBytes.byteLength);
  const spec = loadCollectionSpec(bytes.slice(), { name });
  const btf = spec.btf;
  const Name = pascal(name);
  const importFrom = opts.importFrom ?? "tsbpf";
  const sha256 = createHash("sha256").update(bytes).digest("hex");

  // Which maps get TypedMap views, and with which key/value type ids.
  const typedMaps: Array<{ m: MapSpec; key: number; value: number }> = [];
  if (btf) {
    for (const m of Object.values(spec.maps)) {
      if (m.definition === "data" || untypedMapTypes.has(m.type) || m.btfVmlinuxValueTypeId) continue;
      const key = m.keySize === 0 ? 0 : m.btfKeyTypeId;
      const fits = (id: number, size: number) => {
        if (!id) return false;
        try {
          return codecFor(btf, id).size === size;
        } catch {
          return false;
        }
      };
      const k = fits(key, m.keySize) ? key : 0;
      const v = fits(m.btfValueTypeId, m.valueSize) ? m.btfValueTypeId : 0;
      if (k || v) typedMaps.push({ m, key: k, value: v });
    }
  }
  const sections = sectionNames(spec);
  const varsOf = (s: string): VariableSpec[] => Object.values(spec.variables).filter((v) => v.map === s).sort((a, b) => a.offset - b.offset);
  const hasCodec = (v: VariableSpec) => {
    if (!btf || !v.typeId) return false;
    try {
      return codecFor(btf, v.typeId).size === v.size;
    } catch {
      return false;
    }
  };

  // The exported named types (rules 1-3 above).
  const exported = new Map<number, Exported>();
  const used = new Set<string>(RESERVED);
  const sectionIface = new Map<string, string>();
  const reserve = (n: string) => {
    let out = n, i = 2;
    while (used.has(out)) out = `${n}${i++}`;
    used.add(out);
    return out;
  };
  for (const n of ["Types", "Skeleton", "Open", "LoadOptions", "ProgramName", "MapName"]) used.add(`${Name}${n}`);
  for (const s of sections) {
    const base = s === ".rodata" ? "Rodata" : s === ".data" ? "Data" : s === ".bss" ? "Bss" : pascal(s);
    sectionIface.set(s, reserve(`${Name}${base}`));
  }
  if (btf) {
    const seen = new Set<number>();
    const walk = (id: number, throughPointer: boolean) => {
      const r = btf.resolve(id);
      if (seen.has(r)) return;
      const t = btf.type(r);
      if (t.kind === "ptr" && throughPointer) return walk(t.typeId, false);
      seen.add(r);
      switch (t.kind) {
        case "struct": case "union":
          if (t.name) addType(r, t.kind, t.name);
          for (const m of t.members) walk(m.typeId, false);
          break;
        case "enum": case "enum64":
          if (t.name) addType(r, t.kind, t.name);
          break;
        case "array":
          walk(t.elemTypeId, false);
          break;
        default:
          break;
      }
    };
    const addType = (id: number, kind: Exported["kind"], cName: string) => {
      if (!exported.has(id)) exported.set(id, { id, kind, cName, tsName: "" });
    };
    for (const { key, value } of typedMaps) {
      if (key) walk(key, false);
      if (value) walk(value, false);
    }
    for (const s of sections) {
      for (const v of varsOf(s)) {
        if (!v.typeId) continue;
        if (v.name.startsWith("unused")) walk(v.typeId, true);
        else if (hasCodec(v)) walk(v.typeId, false);
      }
    }
    for (const t of opts.types ?? []) {
      const id = btf.findByName(t, "struct") ?? btf.findByName(t, "union") ?? btf.findByName(t, "enum") ?? btf.findByName(t, "enum64") ?? btf.findByName(t, "typedef");
      if (id === undefined) throw new ArgumentError(`generate skeleton ${name}: the object's BTF has no struct, union, enum or typedef named ${t}; declare it in the BPF program (e.g. struct ${t} *unused_${t} __attribute__((unused));)`);
      walk(id, false);
      const r = btf.resolve(id);
      const k = btf.kindOf(r);
      // A typedef of an anonymous struct/union/enum is exported under the typedef's name.
      if ((k === "struct" || k === "union" || k === "enum" || k === "enum64") && !exported.has(r)) addType(r, k, t);
    }
    // TypeScript names: PascalCase of the C name, in type id order, made unique.
    for (const e of [...exported.values()].sort((a, b) => a.id - b.id)) e.tsName = reserve(pascal(e.cName));
  } else if (opts.types?.length) {
    throw new ArgumentError(`generate skeleton ${name}: the object has no BTF, so it has no types to export (${opts.types.join(", ")})`);
  }

  const reference = (id: number) => exported.get(id)?.tsName;
  const tsType = (id: number, indent?: string): string => {
    const r = btf!.resolve(id);
    return reference(r) ?? typeScriptType(btf!, id, { reference, indent });
  };
  const arrayOf = (t: string) => (/^[A-Za-z0-9_$<>, ]+$/.test(t) || t.startsWith("{") ? `${t}[]` : `(${t})[]`);
  const varType = (v: VariableSpec) => (hasCodec(v) ? tsType(v.typeId) : "Uint8Array");

  const out: string[] = [];
  const line = (s = "") => out.push(s);
  const src = opts.fileName ? basename(opts.fileName) : `${name}.bpf.o`;
  line(`// Generated by \`tsbpf gen skeleton\` from ${src} (sha256 ${sha256}).`);
  line(`// DO NOT EDIT: regenerate it from the object instead. It holds types only; the behaviour is`);
  line(`// tsbpf's (defineSkeleton).`);
  line(`/* eslint-disable */`);
  line(`import { defineSkeleton, type BpfMap, type OpenSkeleton, type Program, type Skeleton, type SkeletonLoadOptions, type TypedMap } from ${JSON.stringify(importFrom)};`);
  line();

  // Exported struct/union/enum types, in type id order.
  for (const e of [...exported.values()].sort((a, b) => a.id - b.id)) {
    const body = typeScriptType(btf!, e.id, { reference, indent: "  " });
    line(`/** \`${e.kind === "enum64" ? "enum" : e.kind} ${e.cName}\` (BTF type ${e.id}). */`);
    if (body.startsWith("{")) line(`export interface ${e.tsName} ${body}`);
    else line(`export type ${e.tsName} = ${body};`);
    line();
  }

  // Globals by section.
  for (const s of sections) {
    const vars = varsOf(s);
    line(`/** The globals of \`${s}\`${s.startsWith(".rodata") || s === ".kconfig" ? " (read-only once loaded)" : ""}. */`);
    if (vars.length === 0) {
      line(`export interface ${sectionIface.get(s)} {}`);
    } else {
      line(`export interface ${sectionIface.get(s)} {`);
      for (const v of vars) line(`  ${prop(v.name)}: ${varType(v)};`);
      line(`}`);
    }
    line();
  }

  // The skeleton's type table.
  const typed = new Map(typedMaps.map((t) => [t.m.name, t]));
  const programs = Object.keys(spec.programs);
  const structs = [...exported.values()].filter((e) => e.kind === "struct" || e.kind === "union").sort((a, b) => a.id - b.id);
  line(`/** The types of ${src}: maps, programs, global data sections, exported structs. */`);
  line(`export interface ${Name}Types {`);
  const block = (key: string, entries: string[]) => {
    if (entries.length === 0) return line(`  ${key}: {};`);
    line(`  ${key}: {`);
    for (const e of entries) line(`    ${e};`);
    line(`  };`);
  };
  block("maps", Object.values(spec.maps).map((m) => {
    const t = typed.get(m.name);
    let ty = "BpfMap";
    if (t) {
      const k = m.keySize === 0 ? "null" : t.key ? tsType(t.key) : "Uint8Array";
      let v = t.value ? tsType(t.value) : "Uint8Array";
      if (isPerCpu(m.type)) v = arrayOf(v);
      ty = `TypedMap<${k}, ${v}>`;
    }
    return `${prop(m.name)}: ${ty}`;
  }));
  block("programs", programs.map((p) => `${prop(p)}: Program`));
  block("sections", sections.map((s) => `${prop(s)}: ${sectionIface.get(s)}`));
  block("types", structs.map((e) => `${prop(e.cName)}: ${e.tsName}`));
  line(`}`);
  line();
  line(`/** The names of the programs in ${src}. */`);
  line(`export type ${Name}ProgramName = ${programs.map((p) => JSON.stringify(p)).join(" | ") || "never"};`);
  line(`/** The names of the maps in ${src}. */`);
  line(`export type ${Name}MapName = ${Object.keys(spec.maps).map((m) => JSON.stringify(m)).join(" | ") || "never"};`);
  line(`/** A loaded ${src}: \`maps\`, \`programs\` (those loaded), \`rodata\`, \`data\`, \`bss\`, \`attach()\`, \`close()\`. */`);
  line(`export type ${Name}Skeleton<P extends ${Name}ProgramName = ${Name}ProgramName> = Skeleton<${Name}Types, P>;`);
  line(`/** An opened, not yet loaded ${src}: edit \`rodata\`, \`maps.<name>.maxEntries\`, ..., then \`load()\`. */`);
  line(`export type ${Name}Open = OpenSkeleton<${Name}Types>;`);
  line(`/** Options of {@link load${Name}}: \`rodata\`, \`data\`, \`bss\` values, \`maxEntries\`, \`programs\`, ... */`);
  line(`export type ${Name}LoadOptions<P extends ${Name}ProgramName = ${Name}ProgramName> = SkeletonLoadOptions<${Name}Types, P>;`);
  line();
  line(`const skeleton = defineSkeleton<${Name}Types>({`);
  line(`  name: ${JSON.stringify(name)},`);
  line(`  typedMaps: [${typedMaps.map((t) => JSON.stringify(t.m.name)).join(", ")}],`);
  line(`  types: {${structs.map((e) => ` ${prop(e.cName)}: ${e.id}`).join(",")}${structs.length ? " " : ""}},`);
  line(`  elf: \``);
  const b64 = Buffer.from(bytes).toString("base64");
  for (let i = 0; i < b64.length; i += 100) line(b64.slice(i, i + 100));
  line("`,");
  line(`});`);
  line();
  line(`/**`);
  line(` * Loads ${src} (embedded in this module): creates its maps, sets the globals given in`);
  line(` * \`opts\`, loads its programs (all, or \`opts.programs\`). Attach with \`skel.attach()\`; close`);
  line(` * with \`skel.close()\` or \`using\`.`);
  line(` */`);
  line(`export function load${Name}<P extends ${Name}ProgramName = ${Name}ProgramName>(opts?: ${Name}LoadOptions<P>): Promise<${Name}Skeleton<P>> {`);
  line(`  return skeleton.load(opts);`);
  line(`}`);
  line();
  line(`/** Opens ${src} without loading it, to edit its spec (constants, map sizes, programs) before \`load()\`. */`);
  line(`export function open${Name}(): ${Name}Open {`);
  line(`  return skeleton.open();`);
  line(`}`);
  line();
  line(`/** The embedded object file. */`);
  line(`export function ${Name[0]!.toLowerCase()}${Name.slice(1)}Object(): Uint8Array {`);
  line(`  return skeleton.bytes();`);
  line(`}`);
  return out.join("\n") + "\n";
}
