// Reading the v2 part of .torrent files (BEP 52): the file tree in its byte order, pieces roots, piece
// layers checked against them, the v2 info-hash, libtorrent's piece layout, and typed refusals.
import { describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import bencode from 'bencode';
import { SpritzleError, parseTorrentFile } from '@spritzle/engine';
import { encodeTorrentFile } from '../../../packages/engine/src/metainfo/metainfo.js';
import { parseBNode, dictGet } from '../../../packages/engine/src/metainfo/bnode.js';
import { readV2, fileAtPiece, fileByRoot, hasAllPieceLayers, v2PieceCheck, type V2Info } from '../../../packages/engine/src/metainfo/v2.js';
import fc from 'fast-check';
import { createTorrentFromData } from '../../../packages/engine/src/metainfo/create.js';
import { bencode as bencodeOut, RawBencode } from '../../../packages/engine/src/metainfo/bencode-writer.js';

const LIMITS = { maxFiles: 100_000, maxPieces: 0x200000, decode: { maxDepth: 100, maxTokens: 3_000_000 } };

/** The v2 part of a whole .torrent, as the .torrent parser will read it. */
function readTorrent(torrent: Uint8Array, withLayers = true): V2Info | null {
  const top = parseBNode(torrent, LIMITS.decode);
  const info = dictGet(top, 'info')!;
  const layers = dictGet(top, 'piece layers');
  const name = Buffer.from((dictGet(info, 'name') as { value: Uint8Array }).value).toString();
  return readV2(torrent.subarray(info.start, info.end), withLayers && layers ? torrent.subarray(layers.start, layers.end) : undefined, name, LIMITS);
}

/** A .torrent around a hand-made info dict (bencode sorts its keys) and optional piece layers. */
function torrentOf(info: object, layers?: Map<Uint8Array, Uint8Array>): Uint8Array {
  return bencodeOut({ info: new RawBencode(bencode.encode(info)), ...(layers ? { 'piece layers': layers } : {}) });
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof SpritzleError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'ok';
}

const root32 = (b: number): Uint8Array => new Uint8Array(32).fill(b);

describe('the v2 part of a .torrent', () => {
  const files = [
    { path: ['a.bin'], data: randomBytes(40000) },
    { path: ['empty'], data: new Uint8Array(0) },
    { path: ['sub', 'B.bin'], data: randomBytes(70000) },
    { path: ['sub', 'small'], data: randomBytes(100) },
  ];
  const made = createTorrentFromData(files, { version: 'v2', pieceLength: 32768, name: 'd', singleFile: false });

  it('lists the files in file tree order under the torrent\'s name, with roots for non-empty files', () => {
    const v2 = readTorrent(made.torrent)!;
    expect(v2.files.map((f) => [f.path, f.length, f.piecesRoot !== undefined])).toEqual([
      ['d/a.bin', 40000, true], ['d/empty', 0, false], ['d/sub/B.bin', 70000, true], ['d/sub/small', 100, true],
    ]);
  });

  it('takes the v2 info-hash as SHA-256 of the exact info bytes', () => {
    const v2 = readTorrent(made.torrent)!;
    expect(v2.infoHashV2).toBe(createHash('sha256').update(made.infoBytes).digest('hex'));
    expect(v2.infoHashV2).toBe(made.infoHashV2);
  });

  it('lays the files out as libtorrent does: a pad file after each file that does not end on a piece, the last included', () => {
    const v2 = readTorrent(made.torrent)!;
    expect(v2.layout.map((f) => [f.path, f.length, f.pad])).toEqual([
      ['d/a.bin', 40000, false], ['d/.pad/25536', 25536, true], ['d/empty', 0, false],
      ['d/sub/B.bin', 70000, false], ['d/.pad/28304', 28304, true], ['d/sub/small', 100, false], ['d/.pad/32668', 32668, true],
    ]);
    expect(v2.numPieces).toBe(6);
    expect([0, 1, 2, 4, 5].map((p) => { const at = fileAtPiece(v2, p)!; return [v2.files[at.pieces.file]!.path, at.filePiece]; }))
      .toEqual([['d/a.bin', 0], ['d/a.bin', 1], ['d/sub/B.bin', 0], ['d/sub/B.bin', 2], ['d/sub/small', 0]]);
  });

  it('loads the piece layers and finds a file by its root', () => {
    const v2 = readTorrent(made.torrent)!;
    expect(hasAllPieceLayers(v2)).toBe(true);
    expect(fileByRoot(v2, v2.files[2]!.piecesRoot!)?.numPieces).toBe(3);
  });

  it('leaves the piece layers to be asked of peers when the .torrent has none', () => {
    const v2 = readTorrent(made.torrent, false)!;
    expect(hasAllPieceLayers(v2)).toBe(false);
    expect(v2.pieces.find((p) => p.numPieces === 1)!.tree.hasPieceLayer()).toBe(true); // one piece: the root
  });

  it('keeps the byte order of file names that look like numbers ("10" before "9")', () => {
    const t = createTorrentFromData([{ path: ['9'], data: randomBytes(10) }, { path: ['10'], data: randomBytes(20) }], {
      version: 'v2', pieceLength: 16384, name: 'n', singleFile: false,
    });
    expect(readTorrent(t.torrent)!.files.map((f) => f.path)).toEqual(['n/10', 'n/9']);
  });

  it('reads a single-file tree as a single file named by its key', () => {
    const t = createTorrentFromData([{ path: ['x.bin'], data: randomBytes(50000) }], { version: 'v2', pieceLength: 32768, name: 'x.bin', singleFile: true });
    const v2 = readTorrent(t.torrent)!;
    expect(v2.singleFile).toBe(true);
    expect(v2.layout.map((f) => [f.path, f.length, f.pad])).toEqual([['x.bin', 50000, false], ['.pad/15536', 15536, true]]);
  });

  it('is null for a v1 torrent', () => {
    expect(readTorrent(torrentOf({ name: 'x', 'piece length': 16384, length: 1, pieces: new Uint8Array(20) }))).toBeNull();
  });

  it('refuses a piece layer that does not hash to its file\'s root, naming the file', () => {
    const top = parseBNode(made.torrent, LIMITS.decode);
    const info = dictGet(top, 'info')!;
    const root = readTorrent(made.torrent)!.files[2]!.piecesRoot!;
    const bad = torrentOf(bencode.decode(made.torrent.subarray(info.start, info.end)) as object, new Map([[root, new Uint8Array(96).fill(7)]]));
    expect(code(() => readTorrent(bad))).toBe('invalid_torrent: not a valid .torrent: the piece layer for "d/sub/B.bin" does not match its "pieces root"');
  });

  const base = { name: 'd', 'piece length': 16384, 'meta version': 2 };
  it.each([
    ['meta version 3', { ...base, 'meta version': 3, 'file tree': { a: { '': { length: 1, 'pieces root': root32(1) } } } }, 'meta version 3'],
    ['no file tree', base, 'without a "file tree"'],
    ['a file tree without meta version', { name: 'd', 'piece length': 16384, pieces: new Uint8Array(20), length: 1, 'file tree': {} }, 'without "meta version" 2'],
    ['a piece length that is not a power of two', { ...base, 'piece length': 3 * 16384, 'file tree': { a: { '': { length: 1, 'pieces root': root32(1) } } } }, 'power of two'],
    ['a piece length below 16 KiB', { ...base, 'piece length': 8192, 'file tree': { a: { '': { length: 1, 'pieces root': root32(1) } } } }, 'power of two'],
    ['a short pieces root', { ...base, 'file tree': { a: { '': { length: 1, 'pieces root': new Uint8Array(31) } } } }, 'no 32-byte "pieces root"'],
    ['an all-zero pieces root', { ...base, 'file tree': { a: { '': { length: 1, 'pieces root': root32(0) } } } }, 'all-zero'],
    ['a negative length', { ...base, 'file tree': { a: { '': { length: -1, 'pieces root': root32(1) } } } }, 'negative'],
    ['a file that is also a directory', { ...base, 'file tree': { a: { '': { length: 1, 'pieces root': root32(1) }, b: { '': { length: 1, 'pieces root': root32(2) } } } } }, 'an empty name'],
    ['a file entry that is not a dictionary', { ...base, 'file tree': { a: 5 } }, 'is not a dictionary'],
    ['no files', { ...base, 'file tree': {} }, 'holds no files'],
    ['only empty files', { ...base, 'file tree': { a: { '': { length: 0 } } } }, 'holds no data'],
    ['a symbolic link', { ...base, 'file tree': { a: { '': { length: 0, attr: 'l' } }, b: { '': { length: 1, 'pieces root': root32(1) } } } }, 'symbolic link'],
  ])('refuses %s as invalid_torrent', (_what, info, message) => {
    expect(code(() => readTorrent(torrentOf(info)))).toMatch(new RegExp(`^invalid_torrent: .*${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('refuses a path that climbs out of the save path as invalid_path', () => {
    expect(code(() => readTorrent(torrentOf({ ...base, 'file tree': { '..': { x: { '': { length: 1, 'pieces root': root32(1) } } } } })))).toMatch(/^invalid_path:/);
  });

  it('refuses a key that appears twice in the file tree', () => {
    const file = 'd0:d6:lengthi1e11:pieces root32:' + 'a'.repeat(32) + 'ee';
    const info = Buffer.from(`d9:file treed1:a${file}1:a${file}e12:meta versioni2e4:name1:d12:piece lengthi16384ee`, 'latin1');
    const torrent = bencodeOut({ info: new RawBencode(info) });
    expect(code(() => readTorrent(torrent))).toMatch(/appears twice/);
  });

  it('is read by parseTorrentFile: known by its truncated v2 hash, both hashes listed, the v2 layout as its files', () => {
    const t = parseTorrentFile(made.torrent);
    expect(t.infoHash).toBe(made.infoHashV2.slice(0, 40));
    expect(t.infoHashes).toEqual({ v2: made.infoHashV2 });
    expect(t.pieceHashes).toEqual([]);
    expect([t.numPieces, t.totalLength, t.files.length, t.name]).toEqual([6, 6 * 32768, 7, 'd']);
    expect(t.v2 && hasAllPieceLayers(t.v2)).toBe(true);
  });

  it('writes its piece layers back into the .torrent it encodes', () => {
    const again = parseTorrentFile(encodeTorrentFile(parseTorrentFile(made.torrent)));
    expect(again.infoHashes).toEqual({ v2: made.infoHashV2 });
    expect(again.v2 && hasAllPieceLayers(again.v2)).toBe(true);
  });

  it('is read by parseTorrentFile as a hybrid: known by its v1 hash, with both', () => {
    const h = createTorrentFromData(files, { version: 'hybrid', pieceLength: 32768, name: 'd', singleFile: false });
    const t = parseTorrentFile(h.torrent);
    expect(t.infoHash).toBe(h.infoHashV1);
    expect(t.infoHashes).toEqual({ v1: h.infoHashV1, v2: h.infoHashV2 });
    expect(t.pieceHashes.length).toBe(6);
  });
});

describe('checking v2 data on disk (v2PieceCheck)', () => {
  const PIECE = 4 * 16384;
  const data = Buffer.from(Array.from({ length: 3 * PIECE + 20_000 }, (_, i) => (i * 31 + (i >> 9)) & 255));
  const t = createTorrentFromData([{ path: ['f.bin'], data }], { version: 'v2', pieceLength: PIECE, name: 'check', singleFile: true });

  /** Feeds piece p's bytes (flipped at `flip` when given) in reads cut at `cuts`, and says whether it matches. */
  function check(p: number, cuts: number[], flip?: number): boolean {
    const v2 = readTorrent(t.torrent)!;
    const bytes = Buffer.from(data.subarray(p * PIECE, Math.min(data.length, (p + 1) * PIECE)));
    if (flip !== undefined) bytes[flip % bytes.length] ^= 1;
    const c = v2PieceCheck(v2, PIECE).start(p);
    let at = 0;
    for (const cut of [...new Set(cuts.map((x) => x % bytes.length))].sort((a, b) => a - b).concat(bytes.length)) {
      c.update(bytes.subarray(at, cut));
      at = cut;
    }
    return c.matches();
  }

  it('finds each piece, the short last one too, however its bytes are cut into reads (whole blocks hashed in place, split ones gathered)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 3 }), fc.array(fc.nat(), { maxLength: 6 }), (p, cuts) => check(p, cuts)), { seed: 0x5214, numRuns: 100 });
  });

  it('refuses a piece with one byte changed, wherever the reads cut it', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 3 }), fc.array(fc.nat(), { maxLength: 6 }), fc.nat(), (p, cuts, flip) => !check(p, cuts, flip)), { seed: 0x5215, numRuns: 100 });
  });
});

