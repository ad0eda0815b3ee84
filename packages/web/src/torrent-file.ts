/**
 * Just enough of a .torrent to offer its file list before adding it: a bounded bencode reader (depth and
 * length checked, never trusting a length past the end) and the info dictionary's file paths and sizes.
 * The daemon parses the file again for real; this only feeds the add dialog.
 */

type Value = number | Uint8Array | Value[] | Map<string, Value>;

const MAX_DEPTH = 64;
const text = new TextDecoder();

function decode(b: Uint8Array): Value {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not a .torrent file (${why} at byte ${i})`);
  };
  const digitsUntil = (end: number): number => {
    const start = i;
    while (i < b.length && b[i] !== end) i++;
    if (i >= b.length || i === start || i - start > 20) fail('bad number');
    const s = text.decode(b.subarray(start, i));
    if (!/^-?\d+$/.test(s)) fail('bad number');
    i++; // the terminator
    return Number(s);
  };
  const value = (depth: number): Value => {
    if (depth > MAX_DEPTH) fail('too deep');
    const c = b[i];
    if (c === undefined) return fail('truncated');
    if (c === 0x69) { // i<digits>e
      i++;
      return digitsUntil(0x65);
    }
    if (c === 0x6c || c === 0x64) { // l...e, d...e
      i++;
      const list: Value[] = [];
      const dict = new Map<string, Value>();
      while (b[i] !== 0x65) {
        if (i >= b.length) fail('truncated');
        if (c === 0x6c) list.push(value(depth + 1));
        else {
          const k = value(depth + 1);
          if (!(k instanceof Uint8Array)) fail('a key that is not a string');
          dict.set(text.decode(k as Uint8Array), value(depth + 1));
        }
      }
      i++;
      return c === 0x6c ? list : dict;
    }
    if (c >= 0x30 && c <= 0x39) { // <len>:<bytes>
      const len = digitsUntil(0x3a);
      if (len < 0 || i + len > b.length) fail('a string past the end');
      const s = b.subarray(i, i + len);
      i += len;
      return s;
    }
    return fail('unexpected byte');
  };
  return value(0);
}

export interface TorrentFileEntry { path: string; size: number }

/** The files of a .torrent, in the order file_priorities counts them (BEP 47 padding files included). */
export function torrentFiles(bytes: Uint8Array): TorrentFileEntry[] {
  const root = decode(bytes);
  const info = root instanceof Map ? root.get('info') : undefined;
  if (!(info instanceof Map)) throw new Error('not a .torrent file (no info dictionary)');
  const str = (v: Value | undefined): string => (v instanceof Uint8Array ? text.decode(v) : '');
  const name = str(info.get('name.utf-8') ?? info.get('name'));
  const files = info.get('files');
  if (!Array.isArray(files)) {
    // A v2-only torrent lists its files in a tree instead; the dialog then offers no selection.
    const length = info.get('length');
    return typeof length === 'number' ? [{ path: name, size: length }] : [];
  }
  return files.map((f) => {
    const m = f instanceof Map ? f : new Map<string, Value>();
    const parts = m.get('path.utf-8') ?? m.get('path');
    const rel = Array.isArray(parts) ? parts.map(str).join('/') : '';
    return { path: `${name}/${rel}`, size: typeof m.get('length') === 'number' ? (m.get('length') as number) : 0 };
  });
}
