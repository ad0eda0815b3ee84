// Fuzzing the v2 (BEP 52) readers of outside bytes: mutated v2 and hybrid .torrent files, and the fields
// and hashes of hash messages a peer sends. Each ends in a result or a typed SpritzleError, never a crash.
import { describe, it, expect } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { parseBNode, dictGet } from '../../../packages/engine/src/metainfo/bnode.js';
import { readV2 } from '../../../packages/engine/src/metainfo/v2.js';
import { checkHybrid } from '../../../packages/engine/src/metainfo/hybrid.js';
import { createTorrentFromData } from '../../../packages/engine/src/metainfo/create.js';
import { BLOCK_SIZE, FileHashTree, blockHashes, fileHashes, numUncles } from '../../../packages/engine/src/metainfo/merkle.js';
import { parseInfoDict } from '../../../packages/engine/src/metainfo/metainfo.js';
import { mutated, params, typedOutcome } from '../../helpers/mutate.js';

const LIMITS = { maxFiles: 100_000, maxPieces: 0x200000, decode: { maxDepth: 100, maxTokens: 3_000_000 } };
const files = [
  { path: ['a.bin'], data: randomBytes(40000) },
  { path: ['empty'], data: new Uint8Array(0) },
  { path: ['sub', '10'], data: randomBytes(70000) },
  { path: ['sub', '9'], data: randomBytes(100) },
];
const seeds = [
  createTorrentFromData(files, { version: 'v2', pieceLength: 16384, name: 'd', singleFile: false }).torrent,
  createTorrentFromData(files, { version: 'hybrid', pieceLength: 32768, name: 'd', singleFile: false }).torrent,
  createTorrentFromData([files[2]!], { version: 'hybrid', pieceLength: 16384, name: '10', singleFile: true }).torrent,
];

/** What the .torrent parser will do with a v2 or hybrid file: both views, cross-checked. */
function readAll(torrent: Uint8Array): string {
  const top = parseBNode(torrent, LIMITS.decode);
  const info = dictGet(top, 'info');
  if (info?.kind !== 'dict') return 'no info';
  const infoBytes = torrent.subarray(info.start, info.end);
  const layers = dictGet(top, 'piece layers');
  const nameNode = dictGet(info, 'name');
  const name = nameNode?.kind === 'str' ? Buffer.from(nameNode.value).toString() : 'x';
  const v2 = readV2(infoBytes, layers ? torrent.subarray(layers.start, layers.end) : undefined, name, LIMITS);
  if (v2 && dictGet(info, 'pieces')) checkHybrid(parseInfoDict(infoBytes).files, v2.layout);
  return v2 ? 'v2' : 'v1';
}

describe('v2 fuzzing', () => {
  it('mutated v2 and hybrid .torrent files are read or refused with a typed error', () => {
    const outcomes = new Map<string, number>();
    fc.assert(fc.property(mutated(seeds), (torrent) => {
      const r = typedOutcome(() => readAll(torrent));
      const k = typeof r === 'string' ? r : r.code;
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
      if (typeof r !== 'string') expect(['invalid_torrent', 'invalid_path', 'invalid_bencode']).toContain(r.code);
    }), params);
    expect(outcomes.get('v2')).toBeGreaterThan(0); // the valid path was exercised too
  });

  it('hash messages with any fields and any bytes are taken or refused, never thrown', () => {
    const data = randomBytes(37 * BLOCK_SIZE + 5);
    const blocks = blockHashes(data);
    const { root, pieceLayer } = fileHashes(blocks, 4 * BLOCK_SIZE);
    const seeder = new FileHashTree(root, data.length, 4 * BLOCK_SIZE);
    seeder.setPieceLayer(pieceLayer);
    const field = fc.oneof(fc.integer({ min: -2, max: 70 }), fc.constantFrom(2 ** 31 - 1, 2 ** 32 - 1, -(2 ** 31), 512, 8192, 8193));
    const message = fc.record({ base: field, index: field, count: field, proofLayers: field });
    fc.assert(fc.property(message, fc.uint8Array({ maxLength: 40 * 32 }), fc.boolean(), (m, bytes, honest) => {
      const served = seeder.getHashes(m.base, m.index, m.count, m.proofLayers);
      const leecher = new FileHashTree(root, data.length, 4 * BLOCK_SIZE);
      const taken = leecher.addHashes(m.base, m.index, m.count, m.proofLayers, honest && served ? served : bytes);
      expect(typeof taken).toBe('boolean');
      if (!honest || !served) return;
      // What we serve, a tree that knows only the root takes, when the proof reaches the root and the hashes
      // are one subtree's layer (as spritzle's and libtorrent's requests are).
      const width = 2 ** Math.ceil(Math.log2(m.count));
      const reachesRoot = m.base + Math.log2(width) + numUncles(m.count, m.proofLayers) === leecher.height;
      if (m.index % width === 0 && reachesRoot) expect(taken).toBe(true);
    }), params);
  });
});
