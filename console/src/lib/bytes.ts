// Byte helpers: hex, base64, UTF-8. No DOM; `atob` and `TextEncoder` exist in browsers and in
// Node 18+.
//
// Invariants:
// - `hexToBytes` decodes like the `hex` crate's `decode_to_slice`: exactly `2 * len` characters,
//   upper- or lowercase, anything else is `null`;
// - the returned arrays own a fresh `ArrayBuffer` (safe to hand to WebCrypto).

const UTF8 = new TextEncoder();

/** UTF-8 bytes of `s`. */
export function utf8(s: string): Uint8Array<ArrayBuffer> {
  return UTF8.encode(s) as Uint8Array<ArrayBuffer>;
}

/** `a ‖ b`. */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Lowercase hex of `b`. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

/** Exactly `len` bytes from hex text; `null` on a wrong length or a non-hex character. */
export function hexToBytes(s: string, len: number): Uint8Array<ArrayBuffer> | null {
  if (s.length !== len * 2) return null;
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    const hi = nibble(s.charCodeAt(2 * i));
    const lo = nibble(s.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Bytes of standard base64 (padding required by `atob` rules); `null` if it is not base64. */
export function base64ToBytes(s: string): Uint8Array<ArrayBuffer> | null {
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
