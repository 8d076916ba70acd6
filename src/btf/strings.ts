/** Small byte/string helpers shared by the BTF parser, writer and .BTF.ext reader. Internal. */

const utf8Decoder = new TextDecoder("utf-8");
const utf8Encoder = new TextEncoder();

// Node's native UTF-8 slice (what Buffer#toString("utf8", start, end) calls after its argument
// checks) works on any Uint8Array and costs about 0.3 µs a call even before V8 has optimized the
// caller, where the JavaScript loop below costs several µs per name: decoding names is most of what
// decoding a type costs, and CO-RE decodes the large kernel structs once per process.
const utf8Slice = (globalThis as { Buffer?: { prototype?: { utf8Slice?: unknown } } }).Buffer?.prototype?.utf8Slice as
  ((this: Uint8Array, start: number, end: number) => string) | undefined;

/** Decodes bytes [start, end) as UTF-8 (invalid sequences become U+FFFD, as with TextDecoder). */
export function decodeString(bytes: Uint8Array, start: number, end: number): string {
  if (utf8Slice !== undefined) return utf8Slice.call(bytes, start, end);
  if (end - start <= 64) {
    let s = "";
    for (let i = start; i < end; i++) {
      const c = bytes[i]!;
      if (c >= 0x80) return utf8Decoder.decode(bytes.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8Decoder.decode(bytes.subarray(start, end));
}

/** UTF-8 encoding of a string. */
export function encodeString(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** FNV-1a 32-bit hash of bytes [start, NUL or end). */
export function hashCString(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c === 0) break;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a 32-bit hash of a whole byte array (must match {@link hashCString}). */
export function hashBytes(q: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < q.length; i++) h = Math.imul(h ^ q[i]!, 0x01000193);
  return h >>> 0;
}

/** True when the NUL-terminated string at `start` (bounded by `end`) equals `q`. */
export function cStringEquals(bytes: Uint8Array, start: number, end: number, q: Uint8Array): boolean {
  const n = q.length;
  if (start + n > end) return false;
  for (let i = 0; i < n; i++) if (bytes[start + i] !== q[i]) return false;
  return start + n === end || bytes[start + n] === 0;
}
