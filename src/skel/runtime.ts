/**
 * The runtime half of TypeScript skeletons: a generated `*.skel.ts` module (see
 * {@link generateSkeleton}) declares the object's types and calls {@link defineSkeleton} with
 * the embedded ELF; everything a skeleton does (open, load, attach, close) happens here, on top
 * of the ordinary {@link loadCollection} / {@link BpfObject} runtime.
 *
 * @example
 * ```ts
 * import { loadReadhist } from "./readhist.skel.js";
 * using skel = await loadReadhist({ rodata: { targ_pid: 1234 }, programs: ["sys_exit_read"] });
 * skel.attach();
 * skel.maps.hists.lookup(1234)?.slots; // number[] | undefined, typed by the skeleton
 * ```
 */
import { Buffer } from "node:buffer";
import { ArgumentError, BpfError, ObjectError } from "../errors.js";
import { loadCollectionSpec } from "../spec/load.js";
import type { CollectionSpec, MapSpec, ProgramSpec } from "../spec/types.js";
import { loadCollection, type BpfObject, type LoadOptions } from "../collection/object.js";
import { setVariable, variableCodec } from "../collection/variables.js";
import { attachProgram, type AttachTargets } from "../collection/attach.js";
import { codecFor, type Codec, type EncodeInput } from "../codec/codec.js";
import type { BpfMap } from "../map/map.js";
import type { Program } from "../prog/program.js";
import type { Link } from "../link/link.js";

/**
 * The types a generated skeleton declares for its object, the type argument of
 * {@link defineSkeleton}, {@link Skeleton} and {@link OpenSkeleton}:
 * - `maps`: map name to `TypedMap<Key, Value>` (maps with BTF key/value types) or `BpfMap`;
 * - `programs`: program name to `Program`;
 * - `sections`: data section name (`.rodata`, `.data`, `.bss`, `.data.custom`, `.kconfig`, ...)
 *   to the interface of its global variables (as the object's BTF decodes them);
 * - `types`: C tag name (`event` for `struct event`) to the interface of each exported struct or
 *   union, for {@link Skeleton.decoders}.
 */
export interface SkeletonTypes {
  maps: object;
  programs: object;
  sections: { ".rodata": object; ".data": object; ".bss": object };
  types: object;
}

/** What the generated module passes to {@link defineSkeleton}: the ELF and how to type its parts. */
export interface SkeletonDescriptor {
  /** The object name (prefix of the kernel names of its data maps), e.g. "readhist". */
  readonly name: string;
  /** The object file, base64 (whitespace ignored). */
  readonly elf: string;
  /** The maps exposed as TypedMap views (the rest stay raw BpfMap). */
  readonly typedMaps: readonly string[];
  /** The exported struct/union types, by C tag name, with their BTF type ids in the object. */
  readonly types: Readonly<Record<string, number>>;
}

/** Load-option values for the globals of one section: each variable optional, partial structs allowed. */
export type GlobalsInput<G> = { readonly [K in keyof G]?: EncodeInput<G[K]> };

type Sections<T extends SkeletonTypes> = T["sections"];
type ProgramName<T extends SkeletonTypes> = keyof T["programs"] & string;
/** Map names other than the data sections', for `maxEntries`. */
type UserMapName<T extends SkeletonTypes> = Exclude<keyof T["maps"] & string, `.${string}`>;
/** Sections the kernel freezes at load: read-only afterwards. */
type ReadOnlySection = `.rodata${string}` | ".kconfig";

/** Options of a generated `load<Name>()` and of {@link OpenSkeleton.load}. */
export interface SkeletonLoadOptions<T extends SkeletonTypes, P extends ProgramName<T> = ProgramName<T>>
  extends Omit<LoadOptions, "name" | "constants" | "maxEntries" | "programs"> {
  /** Values of `const volatile` globals, written before load (then frozen): `{ targ_pid: 1234 }`. */
  readonly rodata?: GlobalsInput<Sections<T>[".rodata"]>;
  /** Initial values of `.data` globals. */
  readonly data?: GlobalsInput<Sections<T>[".data"]>;
  /** Initial values of `.bss` globals. */
  readonly bss?: GlobalsInput<Sections<T>[".bss"]>;
  /** Initial values by section, for custom sections (`{ ".data.custom": { x: 1 } }`). */
  readonly sections?: { readonly [K in keyof Sections<T>]?: GlobalsInput<Sections<T>[K]> };
  /** Per-map max_entries overrides. */
  readonly maxEntries?: { readonly [K in UserMapName<T>]?: number };
  /**
   * Load only these programs (default: all). The skeleton's `programs` then has exactly these:
   * on a kernel without kprobes, `programs: ["sys_exit_read"]` leaves the kretprobe out.
   */
  readonly programs?: readonly P[];
}

/** Options of {@link Skeleton.attach}. */
export interface SkeletonAttachOptions<P extends string> extends AttachTargets {
  /** Attach only these programs (default: every loaded program not attached yet). */
  readonly programs?: readonly P[];
  /**
   * Default true: a program that fails to attach closes the links made by this call and throws.
   * With false, failures are recorded in {@link Skeleton.skipped} and attaching goes on.
   */
  readonly strict?: boolean;
}

/** The links a skeleton made, by program name (absent: not attached). */
export type SkeletonLinks<P extends string> = { readonly [K in P]?: Link };

/**
 * A loaded object seen through its generated types: what a generated `load<Name>()` returns.
 * Disposable; closing it detaches its links and closes its programs, maps and BTF.
 */
export interface Skeleton<T extends SkeletonTypes, P extends ProgramName<T> = ProgramName<T>> extends Disposable {
  /** The object name. */
  readonly name: string;
  /** The underlying loaded object (untyped). */
  readonly object: BpfObject;
  /** Maps by ELF name: `TypedMap<Key, Value>` where the object's BTF types them, else `BpfMap`. */
  readonly maps: { readonly [K in keyof T["maps"]]: T["maps"][K] };
  /** The loaded programs (all, or those named by the `programs` load option). */
  readonly programs: { readonly [K in P]: K extends keyof T["programs"] ? T["programs"][K] : never };
  /** The `.rodata` constants, decoded; frozen after load (assigning throws E_READ_ONLY). */
  readonly rodata: Readonly<Sections<T>[".rodata"]>;
  /** The `.data` globals, read and written in place. */
  readonly data: Sections<T>[".data"];
  /** The `.bss` globals, read and written in place. */
  readonly bss: Sections<T>[".bss"];
  /** Every data section's globals by section name (custom `.data.*` sections too). */
  readonly sections: { readonly [K in keyof Sections<T>]: K extends ReadOnlySection ? Readonly<Sections<T>[K]> : Sections<T>[K] };
  /**
   * Decoders of the exported structs by C tag name, for ring buffer and perf records:
   * `new RingBuffer(skel.maps.events, { decoder: skel.decoders.event })`.
   */
  readonly decoders: { readonly [K in keyof T["types"]]: (record: Uint8Array) => T["types"][K] };
  /** The links made by {@link attach} so far. */
  readonly links: SkeletonLinks<P>;
  /** Programs a non-strict {@link attach} could not attach, with the reason. */
  readonly skipped: ReadonlyArray<{ program: P; reason: string; error: unknown }>;
  /**
   * Attaches each loaded program whose section says where (tracepoint/..., kprobe/..., ...; see
   * BpfObject.attachAll), or those in `opts.programs`; programs whose section names no target
   * (e.g. `SEC("xdp")` without `opts.xdp`) are left alone. Returns {@link links}.
   * Throws (strict, the default) the first attach error after closing the links this call made.
   */
  attach(opts?: SkeletonAttachOptions<P>): SkeletonLinks<P>;
  /** Detaches the links and closes everything. Idempotent. */
  close(): void;
}

/**
 * An opened, not yet loaded skeleton: the object's spec with typed accessors to edit it
 * before {@link load} (libbpf's `__open` / `__load` split).
 */
export interface OpenSkeleton<T extends SkeletonTypes> {
  /** The spec, editable (see CollectionSpec). */
  readonly spec: CollectionSpec;
  /** The map specs by name: edit `maxEntries`, `pinning`, ... */
  readonly maps: { readonly [K in keyof T["maps"]]: MapSpec };
  /** The program specs by name. */
  readonly programs: { readonly [K in keyof T["programs"]]: ProgramSpec };
  /** The `.rodata` constants, readable and writable until load: `open.rodata.targ_pid = 42`. */
  readonly rodata: Sections<T>[".rodata"];
  /** Initial values of the `.data` globals. */
  readonly data: Sections<T>[".data"];
  /** Initial values of the `.bss` globals. */
  readonly bss: Sections<T>[".bss"];
  /** Every data section's globals (initial values) by section name. */
  readonly sections: Sections<T>;
  /** Loads the (edited) spec; load options are applied on top of the edits. */
  load<P extends ProgramName<T> = ProgramName<T>>(opts?: SkeletonLoadOptions<T, P>): Promise<Skeleton<T, P>>;
}

/** What {@link defineSkeleton} returns: the functions a generated module wraps. */
export interface SkeletonDefinition<T extends SkeletonTypes> {
  /** The embedded object file (decoded once; a copy each call). */
  bytes(): Uint8Array;
  /** Parses the embedded object into a fresh spec and wraps it for editing. */
  open(): OpenSkeleton<T>;
  /** Opens and loads; see {@link SkeletonLoadOptions}. */
  load<P extends ProgramName<T> = ProgramName<T>>(opts?: SkeletonLoadOptions<T, P>): Promise<Skeleton<T, P>>;
}

/**
 * The runtime behind a generated skeleton module. The generated file calls it once with the
 * embedded object and exports typed wrappers of `open` and `load`. The base64 ELF is decoded on
 * first use; each open/load parses a fresh spec, so loads are independent.
 */
export function defineSkeleton<T extends SkeletonTypes>(d: SkeletonDescriptor): SkeletonDefinition<T> {
  let bytes: Uint8Array | undefined;
  const elf = () => (bytes ??= new Uint8Array(Buffer.from(d.elf, "base64")));
  const open = (): OpenSkeleton<T> => new OpenSkeletonImpl<T>(d, loadCollectionSpec(elf().slice(), { name: d.name }));
  return {
    bytes: () => elf().slice(),
    open,
    load: (opts) => open().load(opts),
  };
}

const SECTIONS = { rodata: ".rodata", data: ".data", bss: ".bss" } as const;

/** Section names that have variables, plus .rodata/.data/.bss always. */
function sectionNames(spec: CollectionSpec): string[] {
  const names = [".rodata", ".data", ".bss"];
  for (const v of Object.values(spec.variables)) if (!names.includes(v.map)) names.push(v.map);
  return names;
}

/** Names probed by the runtime, JSON and inspection that read as undefined on section objects. */
const probed = new Set(["then", "toJSON", "constructor", "toString", "valueOf", "toLocaleString", "hasOwnProperty",
  "isPrototypeOf", "propertyIsEnumerable", "__proto__", "inspect", "asymmetricMatch", "$$typeof", "nodeType"]);

/** The globals of `section` in the spec's initial data: reads decode, writes encode (setVariable). */
function specSection(spec: CollectionSpec, section: string): Record<string, any> {
  const vars = Object.values(spec.variables).filter((v) => v.map === section).sort((a, b) => a.offset - b.offset);
  const names = () => vars.map((v) => v.name).join(", ") || "none";
  const guard = new Proxy(Object.create(null) as object, {
    get(_t, key) {
      if (typeof key === "symbol" || probed.has(key)) return undefined;
      throw new ArgumentError(`read variable ${key}: section ${section} has no variable of that name (it has: ${names()})`);
    },
    set(_t, key) {
      throw new ArgumentError(`set variable ${String(key)}: section ${section} has no variable of that name (it has: ${names()})`);
    },
  });
  const obj = Object.create(guard) as Record<string, any>;
  for (const v of vars) {
    Object.defineProperty(obj, v.name, {
      enumerable: true,
      get: () => {
        const data = spec.maps[v.map]?.data;
        if (!data) throw new ObjectError(`read variable ${v.name}: its section ${v.map} holds no data`);
        const c = variableCodec(v, spec.btf);
        return c ? c.decode(data, v.offset) : data.slice(v.offset, v.offset + v.size);
      },
      set: (x) => setVariable(spec, v.name, x),
    });
  }
  return obj;
}

class OpenSkeletonImpl<T extends SkeletonTypes> implements OpenSkeleton<T> {
  readonly spec: CollectionSpec;
  readonly sections: Sections<T>;
  readonly #d: SkeletonDescriptor;
  #loaded = false;

  constructor(d: SkeletonDescriptor, spec: CollectionSpec) {
    this.#d = d;
    this.spec = spec;
    const sections: Record<string, Record<string, any>> = {};
    for (const s of sectionNames(spec)) sections[s] = specSection(spec, s);
    this.sections = sections as unknown as Sections<T>;
  }

  get maps(): OpenSkeleton<T>["maps"] {
    return this.spec.maps as OpenSkeleton<T>["maps"];
  }

  get programs(): OpenSkeleton<T>["programs"] {
    return this.spec.programs as OpenSkeleton<T>["programs"];
  }

  get rodata(): Sections<T>[".rodata"] {
    return this.sections[".rodata"];
  }

  get data(): Sections<T>[".data"] {
    return this.sections[".data"];
  }

  get bss(): Sections<T>[".bss"] {
    return this.sections[".bss"];
  }

  async load<P extends ProgramName<T> = ProgramName<T>>(opts: SkeletonLoadOptions<T, P> = {}): Promise<Skeleton<T, P>> {
    if (this.#loaded) throw new BpfError("E_LOADED", `load skeleton ${this.#d.name}: this opened skeleton was loaded already; open it again for another copy`);
    const { rodata, data, bss, sections, maxEntries, programs, ...rest } = opts;
    const spec = this.spec;
    const set = (section: string, values: object | undefined) => {
      for (const [name, value] of Object.entries(values ?? {})) {
        if (value === undefined) continue;
        const v = spec.variables[name];
        if (!v || v.map !== section) {
          const known = Object.values(spec.variables).filter((x) => x.map === section).map((x) => x.name).join(", ") || "none";
          throw new ArgumentError(`load skeleton ${this.#d.name}: set variable ${name}: section ${section} has no variable of that name (it has: ${known})`);
        }
        setVariable(spec, name, value);
      }
    };
    for (const [key, section] of Object.entries(SECTIONS)) set(section, ({ rodata, data, bss } as Record<string, object | undefined>)[key]);
    for (const [section, values] of Object.entries(sections ?? {})) set(section, values as object | undefined);
    const obj = loadCollection(spec, { ...rest, name: this.#d.name, maxEntries: maxEntries as Record<string, number> | undefined, programs: programs as string[] | undefined });
    this.#loaded = true;
    return new SkeletonImpl(this.#d, obj) as unknown as Skeleton<T, P>;
  }
}

class SkeletonImpl {
  readonly name: string;
  readonly object: BpfObject;
  readonly maps: Record<string, unknown>;
  readonly decoders: Record<string, (record: Uint8Array) => unknown>;
  readonly links: Record<string, Link> = {};
  readonly skipped: Array<{ program: string; reason: string; error: unknown }> = [];
  #closed = false;

  constructor(d: SkeletonDescriptor, obj: BpfObject) {
    this.name = d.name;
    this.object = obj;
    try {
      const maps: Record<string, unknown> = {};
      const typed = new Set(d.typedMaps);
      for (const [name, m] of Object.entries(obj.maps)) maps[name] = typed.has(name) ? (m as BpfMap).typed() : m;
      this.maps = maps;
      const decoders: Record<string, (record: Uint8Array) => unknown> = {};
      const btf = obj.spec.btf;
      for (const [name, id] of Object.entries(d.types)) {
        let codec: Codec | undefined;
        decoders[name] = (record) => {
          if (!btf) throw new ObjectError(`decode ${name}: the object has no BTF`);
          return (codec ??= codecFor(btf, id)).decode(record);
        };
      }
      this.decoders = decoders;
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  get programs(): Readonly<Record<string, Program>> {
    return this.object.programs;
  }

  get sections(): Readonly<Record<string, Record<string, any>>> {
    return this.object.sections;
  }

  get rodata(): Record<string, any> {
    return this.object.rodata;
  }

  get data(): Record<string, any> {
    return this.object.data;
  }

  get bss(): Record<string, any> {
    return this.object.bss;
  }

  attach(opts: SkeletonAttachOptions<string> = {}): Record<string, Link> {
    if (this.#closed) throw new BpfError("E_CLOSED", `attach skeleton ${this.name}: it is closed`);
    const { programs, strict = true, ...targets } = opts;
    const names = programs ?? Object.keys(this.object.programs);
    const made: string[] = [];
    for (const name of names) {
      if (this.links[name]) continue;
      const prog = this.object.programs[name];
      if (!prog) {
        const e = new ArgumentError(`attach ${name}: the skeleton ${this.name} has no loaded program of that name (loaded: ${Object.keys(this.object.programs).join(", ") || "none"})`);
        if (strict) this.#unwind(made, e);
        this.skipped.push({ program: name, reason: e.message, error: e });
        continue;
      }
      try {
        const link = attachProgram(prog, this.object.spec.programs[name]!, targets);
        if (link) {
          this.links[name] = link;
          made.push(name);
        }
      } catch (e) {
        if (strict) this.#unwind(made, e);
        this.skipped.push({ program: name, reason: (e as Error).message, error: e });
      }
    }
    return this.links;
  }

  #unwind(made: string[], e: unknown): never {
    for (const n of made.reverse()) {
      this.links[n]?.close();
      delete this.links[n];
    }
    throw e;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const n of Object.keys(this.links).reverse()) {
      this.links[n]!.close();
      delete this.links[n];
    }
    this.object.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
