/**
 * Bencoding for what we create (.torrent files), byte for byte as libtorrent writes it: dictionary keys
 * sorted by their raw bytes (UTF-8 for text keys; a Map takes binary keys such as `piece layers` roots).
 * JavaScript's string sort compares UTF-16 units, which orders some non-ASCII names differently.
 */
export type BOut = number | string | Uint8Array | RawBencode | readonly BOut[] | { readonly [key: string]: BOut | undefined } | ReadonlyMap<Uint8Array, BOut>;

const enc = new TextEncoder();

/** Bytes that are already bencoded, written as they are (an info dictionary, hashed once and embedded). */
export class RawBencode {
  constructor(readonly bytes: Uint8Array) {}
}

export function bencode(value: BOut): Uint8Array {
  const parts: Uint8Array[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function write(v: BOut, out: Uint8Array[]): void {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`bencode: ${v} is not a safe integer`);
    out.push(enc.encode(`i${v}e`));
  } else if (typeof v === 'string') {
    writeBytes(enc.encode(v), out);
  } else if (v instanceof RawBencode) {
    out.push(v.bytes);
  } else if (v instanceof Uint8Array) {
    writeBytes(v, out);
  } else if (Array.isArray(v)) {
    out.push(enc.encode('l'));
    for (const item of v as readonly BOut[]) write(item, out);
    out.push(enc.encode('e'));
  } else {
    const entries: [Uint8Array, BOut][] = v instanceof Map
      ? [...(v as ReadonlyMap<Uint8Array, BOut>).entries()]
      : Object.entries(v as { [key: string]: BOut | undefined }).filter((e): e is [string, BOut] => e[1] !== undefined).map(([k, x]) => [enc.encode(k), x]);
    entries.sort((a, b) => Buffer.compare(a[0], b[0]));
    out.push(enc.encode('d'));
    for (const [k, x] of entries) {
      writeBytes(k, out);
      write(x, out);
    }
    out.push(enc.encode('e'));
  }
}

function writeBytes(b: Uint8Array, out: Uint8Array[]): void {
  out.push(enc.encode(`${b.length}:`), b);
}
