/**
 * A read-only view of checked bencode that keeps what `bdecode` loses and BEP 52 needs: dictionary entries
 * in their byte order with their raw key bytes (a JS object reorders integer-like keys, so a file tree of
 * "10" and "9" would change its file order), and each value's offsets (to hash or copy exact bytes).
 * One pass over bytes that `checkBencode` has already accepted, so the limits on depth and values hold.
 */
import { checkBencode, type BencodeLimits } from './bencode.js';

export type BNode =
  | { readonly kind: 'int'; readonly start: number; readonly end: number; readonly value: number }
  | { readonly kind: 'str'; readonly start: number; readonly end: number; readonly value: Uint8Array }
  | { readonly kind: 'list'; readonly start: number; readonly end: number; readonly items: readonly BNode[] }
  | { readonly kind: 'dict'; readonly start: number; readonly end: number; readonly entries: readonly BEntry[] };

export interface BEntry {
  readonly key: Uint8Array;
  readonly value: BNode;
}

const I = 0x69, L = 0x6c, D = 0x64, E = 0x65, COLON = 0x3a, MINUS = 0x2d, ZERO = 0x30;

/** Parses one bencoded value at `start` (checked first with `limits`; throws BencodeError when not valid). */
export function parseBNode(data: Uint8Array, limits: BencodeLimits, start = 0): BNode {
  checkBencode(data, limits, start);
  const r = { pos: start };
  return read(data, r);
}

function read(data: Uint8Array, r: { pos: number }): BNode {
  const start = r.pos;
  const c = data[start]!;
  if (c === I) {
    const end = data.indexOf(E, start + 1);
    const neg = data[start + 1] === MINUS;
    let n = 0;
    for (let i = neg ? start + 2 : start + 1; i < end; i++) n = n * 10 + (data[i]! - ZERO);
    r.pos = end + 1;
    return { kind: 'int', start, end: r.pos, value: neg ? -n : n };
  }
  if (c === L) {
    r.pos++;
    const items: BNode[] = [];
    while (data[r.pos] !== E) items.push(read(data, r));
    r.pos++;
    return { kind: 'list', start, end: r.pos, items };
  }
  if (c === D) {
    r.pos++;
    const entries: BEntry[] = [];
    while (data[r.pos] !== E) {
      const key = readString(data, r);
      entries.push({ key, value: read(data, r) });
    }
    r.pos++;
    return { kind: 'dict', start, end: r.pos, entries };
  }
  const value = readString(data, r);
  return { kind: 'str', start, end: r.pos, value };
}

function readString(data: Uint8Array, r: { pos: number }): Uint8Array {
  let len = 0;
  let pos = r.pos;
  for (let c = data[pos]!; c !== COLON; c = data[++pos]!) len = len * 10 + (c - ZERO);
  r.pos = pos + 1 + len;
  return data.subarray(pos + 1, pos + 1 + len);
}

const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1');

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The value for an ASCII `key` in a dict node, or undefined (the caller refuses duplicate keys where they matter). */
export function dictGet(node: BNode | undefined, key: string): BNode | undefined {
  if (!node || node.kind !== 'dict') return undefined;
  const want = latin1(key);
  for (const e of node.entries) if (sameBytes(e.key, want)) return e.value;
  return undefined;
}

/** Whether two keys of a dict node are equal (byte for byte). */
export function hasDuplicateKeys(node: BNode & { kind: 'dict' }): boolean {
  const seen = new Set<string>();
  for (const e of node.entries) {
    const k = Buffer.from(e.key.buffer, e.key.byteOffset, e.key.byteLength).toString('latin1');
    if (seen.has(k)) return true;
    seen.add(k);
  }
  return false;
}
