// A hybrid torrent's v1 list and v2 file tree must describe the same bytes at the same offsets.
import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import bencode from 'bencode';
import { SpritzleError } from '@spritzle/engine';
import { parseInfoDict } from '../../../packages/engine/src/metainfo/metainfo.js';
import { readV2 } from '../../../packages/engine/src/metainfo/v2.js';
import { checkHybrid, hybridMismatch } from '../../../packages/engine/src/metainfo/hybrid.js';
import { createTorrentFromData } from '../../../packages/engine/src/metainfo/create.js';

const LIMITS = { maxFiles: 100_000, maxPieces: 0x200000, decode: { maxDepth: 100, maxTokens: 3_000_000 } };

/** The v1 view (the info dict read without its v2 keys) and the v2 layout of one info dict. */
function views(infoBytes: Uint8Array) {
  const info = bencode.decode(infoBytes) as Record<string, unknown>;
  delete info['meta version'];
  delete info['file tree'];
  const v1 = parseInfoDict(bencode.encode(info));
  const v2 = readV2(infoBytes, undefined, v1.name, LIMITS)!;
  return { v1: v1.files, v2: v2.layout };
}

interface V1File { length: number; path: Uint8Array[]; attr?: Uint8Array }
/** The info dict with its v1 `files` list changed (the v2 file tree left as it was). */
function withV1Files(infoBytes: Uint8Array, change: (files: V1File[]) => void): Uint8Array {
  const info = bencode.decode(infoBytes) as { files: V1File[] };
  change(info.files);
  return bencode.encode(info);
}

const multi = createTorrentFromData([
  { path: ['a.bin'], data: randomBytes(40000) },
  { path: ['empty'], data: new Uint8Array(0) },
  { path: ['sub', 'b.bin'], data: randomBytes(70000) },
], { version: 'hybrid', pieceLength: 32768, name: 'd', singleFile: false });

describe('the hybrid cross-check', () => {
  it('accepts a hybrid whose two views agree', () => {
    const { v1, v2 } = views(multi.infoBytes);
    expect(hybridMismatch(v1, v2)).toBeNull();
  });

  it('accepts a single-file hybrid, whose v1 part has no tail padding', () => {
    const t = createTorrentFromData([{ path: ['x'], data: randomBytes(50000) }], { version: 'hybrid', pieceLength: 32768, name: 'x', singleFile: true });
    const { v1, v2 } = views(t.infoBytes);
    expect(v2.length).toBe(v1.length + 1);
    expect(hybridMismatch(v1, v2)).toBeNull();
  });

  it('refuses a v1 file of another size, naming it', () => {
    const bad = withV1Files(multi.infoBytes, (fs) => {
      fs[0]!.length = 40001;
      fs[1]!.length = 25535; // the pad shrinks so that the pieces still add up
    });
    const { v1, v2 } = views(bad);
    expect(hybridMismatch(v1, v2)).toBe('"d/a.bin" is 40001 bytes in v1 but 40000 in v2');
    expect(() => checkHybrid(v1, v2)).toThrow(SpritzleError);
    expect(() => checkHybrid(v1, v2)).toThrow(/not a valid hybrid \.torrent: its v1 and v2 parts disagree/);
  });

  it('is what the .torrent parser does: a hybrid whose views disagree is refused with invalid_torrent, saying where', () => {
    const bad = withV1Files(multi.infoBytes, (fs) => { fs[3]!.path = [Buffer.from('sub'), Buffer.from('c.bin')]; });
    expect(() => parseInfoDict(bad)).toThrow(expect.objectContaining({
      code: 'invalid_torrent',
      message: 'not a valid hybrid .torrent: its v1 and v2 parts disagree (file 3 is "d/sub/c.bin" in v1 but "d/sub/b.bin" in v2)',
    }) as unknown as Error);
    expect(parseInfoDict(multi.infoBytes).infoHashes).toEqual({ v1: multi.infoHashV1, v2: multi.infoHashV2 });
  });

  it('refuses a v1 list with another file name', () => {
    const bad = withV1Files(multi.infoBytes, (fs) => { fs[3]!.path = [Buffer.from('sub'), Buffer.from('c.bin')]; });
    const { v1, v2 } = views(bad);
    expect(hybridMismatch(v1, v2)).toBe('file 3 is "d/sub/c.bin" in v1 but "d/sub/b.bin" in v2');
  });

  it('refuses a v1 list without the pad file that aligns the next file', () => {
    const bad = withV1Files(multi.infoBytes, (fs) => {
      fs.splice(1, 1);
      fs.push({ length: 25536, path: [Buffer.from('.pad'), Buffer.from('25536')], attr: Buffer.from('p') });
    });
    const { v1, v2 } = views(bad);
    expect(hybridMismatch(v1, v2)).toBe('file 2 is "d/sub/b.bin" (70000 bytes) in v1 but "d/empty" (0 bytes) in v2');
  });
});
