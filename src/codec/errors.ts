/**
 * The internal error of encoders: thrown at the value that is wrong, with its path filled in on the
 * way up (each struct and array level prepends its part), and turned into an ArgumentError by the
 * codec's `encode`. Paths cost nothing unless something is wrong.
 */
import { ArgumentError } from "../errors.js";

/** A part of a path: a field name or an array index. */
export type PathPart = string | number;

export class EncodeError extends Error {
  readonly parts: PathPart[] = [];
  constructor(readonly problem: string) {
    super(problem);
  }
}

/** Rethrows `e` with `part` prepended to its path when it is an EncodeError. */
export function prepend(e: unknown, part: PathPart): never {
  if (e instanceof EncodeError) e.parts.unshift(part);
  throw e;
}

/** Renders a path as C would write it: `hist.slots[3]`, `cfg.inner.flags`. */
export function renderPath(root: string, parts: readonly PathPart[]): string {
  let s = root;
  for (const p of parts) s += typeof p === "number" ? `[${p}]` : s === "" ? p : `.${p}`;
  return s;
}

/** The ArgumentError for an EncodeError: "<what>: <path>: <problem>". */
export function toArgumentError(e: EncodeError, what: string, root: string): ArgumentError {
  const path = renderPath(root, e.parts);
  return new ArgumentError(`${what}: ${path ? `${path}: ` : ""}${e.problem}`);
}

/** A short description of a value for error messages. */
export function show(v: unknown): string {
  switch (typeof v) {
    case "string": return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
    case "bigint": return `${v}n`;
    case "number": case "boolean": return String(v);
    case "undefined": return "undefined";
    case "function": return "a function";
    case "symbol": return "a symbol";
    default:
      if (v === null) return "null";
      if (Array.isArray(v)) return `an array of ${v.length}`;
      if (v instanceof Uint8Array) return `a Uint8Array of ${v.length} bytes`;
      if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
      return "an object";
  }
}
