/**
 * Creating v2 and hybrid .torrent files (BEP 52), with the same info dictionary byte for byte as
 * libtorrent's create_torrent for the same files, piece size and flags:
 * - files sorted by path, compared component by component as bytes (file_storage::canonicalize);
 * - hybrid: a BEP 47 pad file (`attr` "p", path [".pad", "<size>"]) after every non-empty file that does
 *   not end on a piece boundary, the last one included, unless the torrent has a single file;
 * - the file tree gives each file `length` and (non-empty files) `pieces root`; `attr` "x" for executables;
 * - `piece layers` (beside the info dictionary) hold the piece hashes of files longer than one piece.
 * The hashing is fed chunks (TorrentHasher), so files are read once, streaming; createTorrentFromPath is
 * the file-system edge.
 */
import { createHash, type Hash } from 'node:crypto';
import { lstat, readdir, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { SpritzleError } from '../errors.js';
import { bencode, RawBencode, type BOut } from './bencode-writer.js';
import { BLOCK_SIZE, fileHashes, sha256 } from './merkle.js';

/** What kind of torrent to create: v2 only, or hybrid (v1 and v2 in one info dictionary). */
export type TorrentVersion = 'v2' | 'hybrid';

export interface CreateFile {
  /** Path components under the torrent's root directory (for a single-file torrent: [name]). */
  readonly path: readonly string[];
  readonly length: number;
  readonly executable?: boolean;
}

/** How to create a torrent (libtorrent's create_torrent flags and fields). */
export interface CreateOptions {
  readonly version: TorrentVersion;
  /** A power of two, at least 16 KiB (BEP 52). */
  readonly pieceLength: number;
  /** The torrent's name: the directory's (or the single file's) base name. */
  readonly name: string;
  /** A single file, not a directory (its CreateFile path is [name]). */
  readonly singleFile: boolean;
  readonly private?: boolean;
  /** Tracker tiers: `announce` is the first URL; `announce-list` is written when there is more than one. */
  readonly trackers?: readonly (readonly string[])[];
  readonly webSeeds?: readonly string[];
  readonly comment?: string;
  readonly createdBy?: string;
  /** Seconds since the epoch; omitted when undefined. */
  readonly creationDate?: number;
}

/** A created .torrent: its bytes, the info dictionary inside them, and its info-hashes. */
export interface CreatedTorrent {
  readonly torrent: Uint8Array;
  readonly infoBytes: Uint8Array;
  /** 64 hex. */
  readonly infoHashV2: string;
  /** 40 hex, hybrid only. */
  readonly infoHashV1?: string;
}

const enc = new TextEncoder();

/** A piece size for `total` bytes: about a thousand pieces, a power of two from 16 KiB to 16 MiB. */
export function autoPieceLength(total: number): number {
  let p = BLOCK_SIZE;
  while (p < 16 << 20 && p * 1024 < total) p *= 2;
  return p;
}

/** libtorrent's canonical file order: by path, component by component, comparing bytes. */
export function canonicalOrder<T extends { path: readonly string[] }>(files: readonly T[]): T[] {
  const keyed = files.map((f) => ({ f, comps: f.path.map((c) => Buffer.from(enc.encode(c))) }));
  keyed.sort((a, b) => {
    const n = Math.min(a.comps.length, b.comps.length);
    for (let i = 0; i < n; i++) {
      const c = Buffer.compare(a.comps[i]!, b.comps[i]!);
      if (c !== 0) return c;
    }
    return a.comps.length - b.comps.length;
  });
  return keyed.map((k) => k.f);
}

/** The v1 layout of a hybrid: each file and, where needed, the pad file after it. */
export function hybridLayout(files: readonly CreateFile[], pieceLength: number): { file?: CreateFile; pad?: number }[] {
  const out: { file?: CreateFile; pad?: number }[] = [];
  let offset = 0;
  for (const f of files) {
    out.push({ file: f });
    offset += f.length;
    if (files.length > 1 && f.length > 0 && offset % pieceLength !== 0) {
      const pad = pieceLength - (offset % pieceLength);
      out.push({ pad });
      offset += pad;
    }
  }
  return out;
}

/**
 * Hashes the torrent's content as it is fed, file by file in canonical order: SHA-256 of each 16 KiB
 * block (v2) and, for a hybrid, SHA-1 of each piece of the padded v1 layout.
 */
export class TorrentHasher {
  private readonly blocks: Uint8Array[] = [];
  private readonly fileBlocks: Uint8Array[] = [];
  private block = new Uint8Array(BLOCK_SIZE);
  private blockFill = 0;
  private readonly v1Pieces: Uint8Array[] = [];
  private piece: Hash | null = null;
  private pieceFill = 0;
  private file = -1;
  private fileFed = 0;

  constructor(private readonly files: readonly CreateFile[], private readonly pieceLength: number, private readonly v1: boolean) {}

  /** Starts the next file (in the order given). */
  beginFile(): void {
    this.file++;
    this.fileFed = 0;
  }

  update(chunk: Uint8Array): void {
    const f = this.files[this.file];
    if (!f || this.fileFed + chunk.length > f.length) throw new SpritzleError('disk_error', `a file grew while it was hashed: ${f?.path.join('/')}`);
    this.fileFed += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(BLOCK_SIZE - this.blockFill, chunk.length - at);
      this.block.set(chunk.subarray(at, at + n), this.blockFill);
      this.blockFill += n;
      if (this.blockFill === BLOCK_SIZE) this.flushBlock();
      at += n;
    }
    if (this.v1) this.feedV1(chunk);
  }

  private flushBlock(): void {
    if (this.blockFill === 0) return;
    this.blocks.push(sha256(this.block.subarray(0, this.blockFill)));
    this.blockFill = 0;
  }

  private feedV1(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      this.piece ??= createHash('sha1');
      const n = Math.min(this.pieceLength - this.pieceFill, chunk.length - at);
      this.piece.update(chunk.subarray(at, at + n));
      this.pieceFill += n;
      at += n;
      if (this.pieceFill === this.pieceLength) this.endPiece();
    }
  }

  private endPiece(): void {
    if (!this.piece) return;
    this.v1Pieces.push(this.piece.digest());
    this.piece = null;
    this.pieceFill = 0;
  }

  /** Ends the current file: its block hashes are kept, and `pad` zero bytes follow it in the v1 layout. */
  endFile(pad: number): void {
    const f = this.files[this.file]!;
    if (this.fileFed !== f.length) throw new SpritzleError('disk_error', `a file shrank while it was hashed: ${f.path.join('/')}`);
    this.flushBlock();
    this.fileBlocks.push(Buffer.concat(this.blocks.splice(0)));
    if (this.v1 && pad > 0) this.feedV1(new Uint8Array(pad));
  }

  /** Per file: its block hashes (packed); for a hybrid, the v1 piece hashes. */
  finish(): { fileBlocks: Uint8Array[]; v1Pieces?: Uint8Array } {
    if (this.v1) this.endPiece();
    return { fileBlocks: this.fileBlocks, ...(this.v1 ? { v1Pieces: Buffer.concat(this.v1Pieces) } : {}) };
  }
}

function checkOptions(files: readonly CreateFile[], o: CreateOptions): void {
  const bad = (why: string): never => {
    throw new SpritzleError('invalid_param', why, { field: 'piece_size' });
  };
  if (!Number.isSafeInteger(o.pieceLength) || o.pieceLength < BLOCK_SIZE || (o.pieceLength & (o.pieceLength - 1)) !== 0) {
    bad(`piece size ${o.pieceLength} must be a power of two of at least 16 KiB for a v2 or hybrid torrent`);
  }
  if (files.length === 0 || files.every((f) => f.length === 0)) {
    throw new SpritzleError('invalid_param', 'a torrent needs at least one non-empty file', { field: 'path' });
  }
  if (o.singleFile && files.length !== 1) throw new SpritzleError('invalid_param', 'a single-file torrent has one file', { field: 'path' });
}

/**
 * The .torrent for `files` (already in canonical order) from their hashes (TorrentHasher.finish()).
 * Pure: the same files and hashes give the same bytes.
 */
export function buildTorrent(files: readonly CreateFile[], hashes: { fileBlocks: Uint8Array[]; v1Pieces?: Uint8Array }, o: CreateOptions): CreatedTorrent {
  checkOptions(files, o);
  const hybrid = o.version === 'hybrid';
  const fileTree = new Map<Uint8Array, BOut>();
  const pieceLayers = new Map<Uint8Array, BOut>();
  for (const [i, f] of files.entries()) {
    const entry: { [k: string]: BOut | undefined } = { length: f.length, attr: f.executable ? 'x' : undefined };
    if (f.length > 0) {
      const { root, pieceLayer } = fileHashes(hashes.fileBlocks[i]!, o.pieceLength);
      entry['pieces root'] = root;
      if (f.length > o.pieceLength) pieceLayers.set(root, pieceLayer);
    }
    const comps = o.singleFile ? [o.name] : f.path;
    let dir = fileTree;
    for (const c of comps.slice(0, -1)) {
      const key = findKey(dir, c);
      let sub = key && dir.get(key);
      if (!(sub instanceof Map)) {
        if (key) conflict(f);
        sub = new Map<Uint8Array, BOut>();
        dir.set(enc.encode(c), sub);
      }
      dir = sub as Map<Uint8Array, BOut>;
    }
    if (findKey(dir, comps[comps.length - 1]!)) conflict(f);
    dir.set(enc.encode(comps[comps.length - 1]!), new Map([[new Uint8Array(0), entry]]));
  }

  const info: { [k: string]: BOut | undefined } = {
    'file tree': fileTree,
    'meta version': 2,
    name: o.name,
    'piece length': o.pieceLength,
    private: o.private ? 1 : undefined,
  };
  if (hybrid) {
    if (!hashes.v1Pieces) throw new Error('buildTorrent: a hybrid needs the v1 piece hashes');
    info.pieces = hashes.v1Pieces;
    if (o.singleFile) {
      info.length = files[0]!.length;
      // (a renamed single file keeps its v1 name equal to the tree's key: both are o.name)
      if (files[0]!.executable) info.attr = 'x';
    } else {
      info.files = hybridLayout(files, o.pieceLength).map((e) => e.file
        ? { length: e.file.length, path: [...e.file.path], attr: e.file.executable ? 'x' : undefined }
        : { attr: 'p', length: e.pad!, path: ['.pad', String(e.pad)] });
    }
  }
  const infoBytes = bencode(info);
  const announce = (o.trackers ?? []).flat();
  const outer: { [k: string]: BOut | undefined } = {
    announce: announce[0],
    'announce-list': announce.length > 1 ? o.trackers!.filter((t) => t.length > 0).map((t) => [...t]) : undefined,
    comment: o.comment || undefined,
    'created by': o.createdBy || undefined,
    'creation date': o.creationDate || undefined,
    'url-list': o.webSeeds?.length ? (o.webSeeds.length === 1 ? o.webSeeds[0]! : [...o.webSeeds]) : undefined,
    info: new RawBencode(infoBytes),
    'piece layers': pieceLayers,
  };
  const torrent = bencode(outer);
  return {
    torrent,
    infoBytes,
    infoHashV2: createHash('sha256').update(infoBytes).digest('hex'),
    ...(hybrid ? { infoHashV1: createHash('sha1').update(infoBytes).digest('hex') } : {}),
  };
}

function findKey(dir: Map<Uint8Array, BOut>, name: string): Uint8Array | undefined {
  const want = Buffer.from(enc.encode(name));
  for (const k of dir.keys()) if (want.equals(k)) return k;
  return undefined;
}

function conflict(f: CreateFile): never {
  throw new SpritzleError('invalid_param', `"${f.path.join('/')}" is both a file and a directory in the torrent`, { field: 'path' });
}

/** What to hash from the file system: the files under `root` (or `root` itself), in canonical order. */
export async function collectFiles(root: string): Promise<{ name: string; singleFile: boolean; files: (CreateFile & { abs: string })[] }> {
  const st = await stat(root);
  const name = path.basename(path.resolve(root));
  if (st.isFile()) return { name, singleFile: true, files: [{ path: [name], length: st.size, executable: (st.mode & 0o100) !== 0, abs: root }] };
  const files: (CreateFile & { abs: string })[] = [];
  const walk = async (dir: string, comps: string[]): Promise<void> => {
    for (const e of await readdir(dir)) {
      const abs = path.join(dir, e);
      const l = await lstat(abs);
      const s = l.isSymbolicLink() ? await stat(abs) : l; // symlinks are followed, as libtorrent does by default
      if (s.isDirectory()) await walk(abs, [...comps, e]);
      else if (s.isFile()) files.push({ path: [...comps, e], length: s.size, executable: (s.mode & 0o100) !== 0, abs });
    }
  };
  await walk(root, []);
  return { name, singleFile: false, files: canonicalOrder(files) };
}

/** Creates a v2 or hybrid .torrent for a file or a directory, reading each file once. */
export async function createTorrentFromPath(
  root: string,
  options: Omit<CreateOptions, 'name' | 'singleFile' | 'pieceLength'> & {
    /** Default: about a thousand pieces (autoPieceLength). */
    pieceLength?: number;
    name?: string;
    onProgress?: (hashedBytes: number, totalBytes: number) => void;
  },
): Promise<CreatedTorrent> {
  const { name, singleFile, files } = await collectFiles(root);
  const total = files.reduce((a, f) => a + f.length, 0);
  const o: CreateOptions = { ...options, pieceLength: options.pieceLength ?? autoPieceLength(total), name: options.name ?? name, singleFile };
  checkOptions(files, o);
  const hybrid = o.version === 'hybrid';
  const hasher = new TorrentHasher(files, o.pieceLength, hybrid);
  const layout: { file?: CreateFile; pad?: number }[] = hybrid ? hybridLayout(files, o.pieceLength) : files.map((file) => ({ file }));
  let hashed = 0;
  for (let i = 0; i < layout.length; i++) {
    const e = layout[i]!;
    if (!e.file) continue;
    hasher.beginFile();
    const f = e.file as CreateFile & { abs: string };
    if (f.length > 0) {
      for await (const chunk of createReadStream(f.abs, { highWaterMark: 1 << 20 })) {
        hasher.update(chunk as Buffer);
        hashed += (chunk as Buffer).length;
        options.onProgress?.(hashed, total);
      }
    }
    hasher.endFile(layout[i + 1]?.pad ?? 0);
  }
  return buildTorrent(files, hasher.finish(), o);
}

/** Creates a v2 or hybrid .torrent from bytes in memory (tests, small generated content); files in any order. */
export function createTorrentFromData(
  files: readonly { path: readonly string[]; data: Uint8Array; executable?: boolean }[],
  options: CreateOptions,
): CreatedTorrent {
  const sorted = canonicalOrder(files.map((f) => ({ path: f.path, length: f.data.length, executable: f.executable === true, data: f.data })));
  checkOptions(sorted, options);
  const hybrid = options.version === 'hybrid';
  const hasher = new TorrentHasher(sorted, options.pieceLength, hybrid);
  const layout: { file?: CreateFile; pad?: number }[] = hybrid ? hybridLayout(sorted, options.pieceLength) : sorted.map((file) => ({ file }));
  for (let i = 0; i < layout.length; i++) {
    const f = layout[i]!.file as (typeof sorted)[number] | undefined;
    if (!f) continue;
    hasher.beginFile();
    if (f.length > 0) hasher.update(f.data);
    hasher.endFile(layout[i + 1]?.pad ?? 0);
  }
  return buildTorrent(sorted, hasher.finish(), options);
}
