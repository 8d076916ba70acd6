/**
 * C layout of BTF structs and unions, for the C header generator: decides, per struct, whether
 * clang's natural layout (the rules of `-target bpf`, the same as x86-64's SysV rules) can give
 * the BTF offsets and size with explicit padding, or whether `__attribute__((packed))` is needed;
 * and which unnamed bitfields fill the gaps. Unnamed bitfields do not change a struct's alignment.
 */
import { BtfError } from "../errors.js";
import type { Btf } from "./btf.js";
import type { BtfComposite } from "./types.js";

/** The layout decision for one struct or union: packed or not, and the padding to write. */
export interface Layout {
  readonly packed: boolean;
  /** C alignment of the emitted type in bytes. */
  readonly align: number;
  /** Unnamed-bitfield padding declarations before each member (`"long: 64"`), or undefined. */
  readonly before: (readonly string[] | undefined)[];
  /** Padding after the last member. */
  readonly tail: readonly string[];
}

const NO_PAD: readonly string[] = [];
const PAD_UNITS: ReadonlyArray<readonly [string, number]> = [["char", 8], ["short", 16], ["int", 32], ["long", 64]];

/**
 * Gaps up to this many bits are written like bpftool (one unnamed bitfield per 64 bits: `long: 64`,
 * 512 lines for the kernel's largest gap, a 4 KiB page); longer ones as one `char` array.
 */
export const PAD_ARRAY_MIN_BITS = 8192 * 8;

/**
 * The padding declarations that fill the bit range [from, to): unnamed bitfields in pieces that
 * end at 64-bit boundaries, each declared with the smallest type whose storage unit contains it (so
 * the compiler never moves it), e.g. `int: 32`, `long: 64`. A gap of more than
 * {@link PAD_ARRAY_MIN_BITS} has its whole 64-bit words written as one `char __pad_<byte offset>[N]`
 * (alignment 1, so the layout is the same), which keeps the output small whatever size the BTF
 * declares. None of these change a struct's alignment.
 */
export function padding(from: number, to: number): string[] {
  const out: string[] = [];
  let cur = from;
  while (cur < to) {
    if (cur % 64 === 0 && to - from > PAD_ARRAY_MIN_BITS && to - cur >= 64) {
      const words = Math.floor((to - cur) / 64);
      out.push(`char __pad_${cur / 8}[${words * 8}]`);
      cur += words * 64;
      continue;
    }
    const end = Math.min(to, (Math.floor(cur / 64) + 1) * 64);
    for (const [name, bits] of PAD_UNITS) {
      if (Math.floor(cur / bits) === Math.floor((end - 1) / bits)) { out.push(`${name}: ${end - cur}`); break; }
    }
    cur = end;
  }
  return out;
}

const roundUp = (v: number, a: number) => Math.ceil(v / a) * a;
const MAX_DEPTH = 2000;

/** Layout decisions for the composites of one BTF, computed on demand and cached. */
export class CLayouts {
  readonly #btf: Btf;
  readonly #layouts = new Map<number, Layout>();
  readonly #aligns: Uint8Array;
  #depth = 0;

  constructor(btf: Btf) {
    this.#btf = btf;
    this.#aligns = new Uint8Array(btf.count);
  }

  /** Size in bits of a member's type as C will see it (the BTF size: emitted types reproduce it). */
  #bits(id: number): number {
    try {
      return this.#btf.sizeof(id) * 8;
    } catch {
      return 0;
    }
  }

  /** Alignment in bytes that clang gives the emitted C type. */
  align(id: number): number {
    const cached = this.#aligns[id]!;
    if (cached) return cached;
    const t = this.#btf.type(id);
    let a: number;
    switch (t.kind) {
      case "int": case "float": case "enum": case "enum64":
        a = t.size === 1 || t.size === 2 || t.size === 4 || t.size === 8 || t.size === 16 ? t.size : 1;
        break;
      case "ptr": a = 8; break;
      case "typedef": case "const": case "volatile": case "restrict": case "type_tag":
        a = this.align(t.typeId); break;
      case "array": a = this.align(t.elemTypeId); break;
      case "struct": case "union": a = this.layout(id).align; break;
      default: a = 1; break;
    }
    this.#aligns[id] = a;
    return a;
  }

  layout(id: number): Layout {
    let L = this.#layouts.get(id);
    if (L) return L;
    if (++this.#depth > MAX_DEPTH) throw new BtfError(`format BTF as C: types nest more than ${MAX_DEPTH} deep at type ${id} (a loop?)`);
    try {
      const t = this.#btf.type(id) as BtfComposite;
      L = this.#tryLayout(t, false) ?? this.#tryLayout(t, true) ?? this.#bestEffort(t);
    } finally {
      this.#depth--;
    }
    this.#layouts.set(id, L);
    return L;
  }

  /** Where C puts member `m` when the previous member ended at bit `cur`. */
  #place(bitfield: number, typeId: number, cur: number, packed: boolean, align: number): number {
    if (bitfield === 0) return packed ? roundUp(cur, 8) : roundUp(cur, align * 8);
    if (packed) return cur;
    const unit = align * 8;
    // A bitfield that would cross a boundary of its type's storage unit moves to the next one.
    return (cur % unit) + bitfield > this.#bits(typeId) ? roundUp(cur, unit) : cur;
  }

  /**
   * Lays out a struct or union the way clang will, inserting padding to reach each BTF offset.
   * Returns undefined when that cannot match the BTF (a member would land after its offset, or the
   * size is not a multiple of the alignment).
   */
  #tryLayout(t: BtfComposite, packed: boolean): Layout | undefined {
    const isStruct = t.kind === "struct";
    let cur = 0, end = 0, maxAlign = 1;
    const before: (readonly string[] | undefined)[] = new Array(t.members.length);
    for (let i = 0; i < t.members.length; i++) {
      const m = t.members[i]!;
      const natural = this.align(m.typeId);
      if (natural > maxAlign) maxAlign = natural;
      const a = packed ? 1 : natural;
      const target = m.bitOffset;
      if (isStruct) {
        const pos = this.#place(m.bitfieldSize, m.typeId, cur, packed, a);
        if (pos > target) return undefined;
        if (pos < target) {
          if (this.#place(m.bitfieldSize, m.typeId, target, packed, a) !== target) return undefined;
          before[i] = padding(cur, target);
        }
        cur = target + (m.bitfieldSize || this.#bits(m.typeId));
      } else {
        if (target !== 0) return undefined;
        const sz = m.bitfieldSize || this.#bits(m.typeId);
        if (sz > cur) cur = sz;
      }
      if (cur > end) end = cur;
    }
    const align = packed ? 1 : maxAlign;
    const total = t.size * 8;
    if (t.size % align !== 0 || end > total) return undefined;
    let tail: readonly string[] = NO_PAD;
    if (roundUp(end, align * 8) !== total) {
      // A union's padding is one unnamed bitfield at offset 0 (at most 64 bits wide), or a char
      // array as wide as the union.
      if (isStruct) tail = padding(end, total);
      else if (total <= 64) tail = [total <= 8 ? `char: ${total}` : total <= 16 ? `short: ${total}` : total <= 32 ? `int: ${total}` : `long: ${total}`];
      else tail = [`char __pad_0[${t.size}]`];
    }
    return { packed, align, before, tail };
  }

  /** Layout for BTF that no C declaration reproduces (overlapping members): packed, no padding. */
  #bestEffort(t: BtfComposite): Layout {
    return { packed: true, align: 1, before: new Array(t.members.length), tail: NO_PAD };
  }
}
