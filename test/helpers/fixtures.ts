// Deterministic test data and .torrent files for spritzle's tests.
//
// makeTorrent() writes pseudo-random bytes (xorshift32, seeded per file from `seed` and the
// file's path) and builds the .torrent with create-torrent.  Identical arguments give
// identical data, identical info-hash and identical .torrent bytes (the creation date is fixed).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import createTorrent from 'create-torrent';
import type { CreateTorrentOptions } from 'create-torrent';

export interface FixtureFile { path: string; size: number }

export interface MakeTorrentOptions {
  /** folder that gets `name` (the data) and `name.torrent` */
  dir: string;
  /** torrent name: the file (single-file torrent) or the folder holding `files` */
  name: string;
  /** a number = single-file torrent of that size; a list = multi-file torrent, in this order */
  files: FixtureFile[] | number;
  /** default 256 KiB */
  pieceLength?: number;
  /** PRNG seed, default 1 */
  seed?: number;
  private?: boolean;
  /** tracker URLs, one tier each */
  announce?: string[];
}

export interface TestTorrent {
  name: string;
  /** true for `files: number` (the data is the file `dataRoot/name`) */
  singleFile: boolean;
  torrentPath: string;
  torrentBytes: Uint8Array;
  /** v1 info-hash, 40 lower-case hex digits */
  infoHash: string;
  /** the save path: the folder that contains `name` */
  dataRoot: string;
  files: FixtureFile[];
}

const CHUNK = 4 << 20; // bytes generated and written per step (a multiple of 4)
const CREATION_DATE = new Date('2024-01-01T00:00:00Z');

/** 32-bit FNV-1a of a string, for deriving a per-file PRNG state. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** xorshift32 (Marsaglia), filling whole 32-bit words; the state is never 0. */
class XorShift32 {
  private state: number;
  constructor(seed: number, stream: string) {
    let x = fnv1a(`${seed >>> 0}:${Math.floor(seed / 2 ** 32)}:${stream}`);
    // one round of a murmur3-style finaliser so that close seeds diverge immediately
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    this.state = x === 0 ? 0x9e3779b9 : x;
  }
  fill(words: Uint32Array): void {
    let x = this.state;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    this.state = x >>> 0;
  }
}

/** Write `size` deterministic bytes to `path` (the bytes are the PRNG words, little-endian). */
async function writeRandomFile(path: string, size: number, seed: number, stream: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const rng = new XorShift32(seed, stream);
  const words = new Uint32Array(Math.ceil(Math.min(size, CHUNK) / 4));
  const bytes = Buffer.from(words.buffer, words.byteOffset, words.byteLength);
  const fh = await open(path, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(CHUNK, size - done);
      rng.fill(words);
      await fh.write(bytes, 0, n);
      done += n;
    }
  } finally {
    await fh.close();
  }
}

function checkRelPath(p: string): void {
  const parts = p.split('/');
  if (p === '' || p.startsWith('/') || parts.some((x) => x === '' || x === '.' || x === '..')) {
    throw new Error(`makeTorrent: bad file path ${JSON.stringify(p)} (use a/b/c, relative)`);
  }
  // create-torrent silently drops hidden junk files such as .DS_Store; refuse them instead
  if (parts.some((x) => x.startsWith('.'))) throw new Error(`makeTorrent: hidden path ${JSON.stringify(p)}`);
}

function createTorrentAsync(input: string | Readable[], opts: CreateTorrentOptions): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    createTorrent(input, opts, (err, torrent) => (err ? reject(err) : resolve(torrent)));
  });
}

export async function makeTorrent(opts: MakeTorrentOptions): Promise<TestTorrent> {
  const seed = opts.seed ?? 1;
  const pieceLength = opts.pieceLength ?? 16384 * 16;
  if (!opts.name || opts.name.includes('/') || opts.name.startsWith('.')) {
    throw new Error(`makeTorrent: bad name ${JSON.stringify(opts.name)}`);
  }
  const root = join(opts.dir, opts.name);
  const single = typeof opts.files === 'number';
  const files: FixtureFile[] = typeof opts.files === 'number'
    ? [{ path: opts.name, size: opts.files }]
    : opts.files.map((f) => ({ path: f.path, size: f.size }));
  if (!single) {
    if (files.length === 0) throw new Error('makeTorrent: no files');
    files.forEach((f) => checkRelPath(f.path));
    if (new Set(files.map((f) => f.path)).size !== files.length) throw new Error('makeTorrent: duplicate path');
  }
  for (const f of files) {
    if (!Number.isSafeInteger(f.size) || f.size < 0) throw new Error(`makeTorrent: bad size for ${f.path}`);
  }

  await mkdir(opts.dir, { recursive: true });
  await Promise.all(files.map((f) =>
    writeRandomFile(single ? root : join(root, ...f.path.split('/')), f.size, seed, f.path)));

  const ctOpts: CreateTorrentOptions = {
    name: opts.name,
    pieceLength,
    announceList: (opts.announce ?? []).map((u) => [u]),
    urlList: [],
    creationDate: CREATION_DATE,
    createdBy: 'spritzle-tests',
  };
  if (opts.private !== undefined) ctOpts.private = opts.private;

  // A folder path would be walked in readdir order (filesystem-dependent), so a multi-file
  // torrent is made from streams named `name/<path>`: the torrent keeps the given order.
  // A single-entry list also goes through the folder path (a lone stream would become a
  // single-file torrent).
  if (!single && files.length === 1) {
    const found = await readdir(root, { recursive: true, withFileTypes: true });
    const extra = found.filter((e) => !e.isDirectory()).length;
    if (extra !== 1) throw new Error(`makeTorrent: ${root} holds other files; use a fresh dir`);
  }
  const input: string | Readable[] = single || files.length === 1
    ? root
    : files.map((f) => Object.assign(createReadStream(join(root, ...f.path.split('/'))), {
      fullPath: `${opts.name}/${f.path}`,
    }));
  const torrentBytes = await createTorrentAsync(input, ctOpts);
  const torrentPath = join(opts.dir, `${opts.name}.torrent`);
  await writeFile(torrentPath, torrentBytes);
  return {
    name: opts.name, singleFile: single, torrentPath, torrentBytes,
    infoHash: infoHashOf(torrentBytes), dataRoot: opts.dir, files,
  };
}

/**
 * v1 info-hash (hex) of a .torrent: SHA-1 over the exact bytes of its bencoded `info` value.
 * A minimal bencode walker, so that no decode/re-encode round trip can change the bytes.
 */
export function infoHashOf(torrent: Uint8Array): string {
  const buf = Buffer.from(torrent.buffer, torrent.byteOffset, torrent.byteLength);
  const fail = (why: string, at: number): never => {
    throw new Error(`infoHashOf: ${why} at byte ${at}`);
  };
  const readInt = (from: number, end: number): number => {
    const s = buf.toString('latin1', from, end);
    if (!/^-?\d+$/.test(s)) fail('bad integer', from);
    return Number(s);
  };
  /** index just past the value starting at i */
  const skip = (i: number): number => {
    const c = buf[i];
    if (c === 0x69 /* i */) {
      const e = buf.indexOf(0x65, i);
      if (e < 0) fail('unterminated integer', i);
      readInt(i + 1, e);
      return e + 1;
    }
    if (c === 0x6c /* l */ || c === 0x64 /* d */) {
      let j = i + 1;
      while (buf[j] !== 0x65) {
        if (j >= buf.length) fail('unterminated list/dict', i);
        j = skip(j);
      }
      return j + 1;
    }
    if (c !== undefined && c >= 0x30 && c <= 0x39) {
      const colon = buf.indexOf(0x3a, i);
      if (colon < 0) fail('bad string', i);
      const end = colon + 1 + readInt(i, colon);
      if (end > buf.length) fail('string past end', i);
      return end;
    }
    return fail('unexpected byte', i);
  };
  if (buf[0] !== 0x64) fail('not a dictionary', 0);
  let i = 1;
  while (i < buf.length && buf[i] !== 0x65) {
    const keyEnd = skip(i);
    const key = buf.toString('latin1', buf.indexOf(0x3a, i) + 1, keyEnd);
    const valEnd = skip(keyEnd);
    if (key === 'info') return createHash('sha1').update(buf.subarray(keyEnd, valEnd)).digest('hex');
    i = valEnd;
  }
  return fail('no info dictionary', i);
}

/** A fresh empty folder under the OS temp dir (the caller removes it). */
export async function tmpDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix.endsWith('-') ? prefix : `${prefix}-`));
}

export async function sha1File(path: string): Promise<string> {
  const h = createHash('sha1');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** true iff both files exist with the same size and the same bytes (streamed compare). */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  if (sa.size !== sb.size) return false;
  const [fa, fb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const ba = Buffer.allocUnsafe(1 << 20);
    const bb = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; pos < sa.size; ) {
      const want = Math.min(ba.length, sa.size - pos);
      const [ra, rb] = await Promise.all([fa.read(ba, 0, want, pos), fb.read(bb, 0, want, pos)]);
      if (ra.bytesRead !== want || rb.bytesRead !== want) return false; // changed under us
      if (!ba.subarray(0, want).equals(bb.subarray(0, want))) return false;
      pos += want;
    }
    return true;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

/** Absolute paths of the torrent's files under `savePath` (e.g. a download's save path), in order. */
export function dataFiles(t: Pick<TestTorrent, 'name' | 'singleFile' | 'files'>, savePath: string): string[] {
  return t.singleFile
    ? [join(savePath, t.name)]
    : t.files.map((f) => join(savePath, t.name, ...f.path.split('/')));
}
