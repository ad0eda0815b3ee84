import { describe, it, expect } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseTorrentFile, parseTorrentFileOffThread } from '@spritzle/engine';
import { MAX_FILES, parseInfoDict } from '../../../packages/engine/src/metainfo/metainfo.js';
import { OFF_THREAD_PARSE_BYTES, checkMetadataOffThread } from '../../../packages/engine/src/metainfo/parse-thread.js';
import { blockHashes, fileHashes, FileHashTree } from '../../../packages/engine/src/metainfo/merkle.js';
import { longestStall } from '../../helpers/event-loop.js';

// Issue 9 for v2 and hybrid torrents: a big info dictionary is parsed on a parser thread, and the result
// (files, layout, merkle trees) crosses back as buffers, not parsed a second time on the event loop.

const PIECE = 16384;

/**
 * A v2-only .torrent of `n` one-byte files (names sorted as bencode wants them) and, first, one file of
 * `bigBlocks` blocks whose piece layer is given, so that trees with hashes below their roots cross too.
 */
function manyFilesV2Torrent(n: number, bigBlocks = 64): Uint8Array {
  const big = fileHashes(blockHashes(randomBytes(bigBlocks * 16384)), PIECE);
  const parts: Buffer[] = [Buffer.from(`1:!d0:d6:lengthi${bigBlocks * 16384}e11:pieces root32:`, 'latin1'), Buffer.from(big.root), Buffer.from('ee')];
  // One string, not a buffer per file: little garbage left to be collected while the event loop is timed.
  const small: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = String(i).padStart(6, '0');
    small.push(`${k.length}:${k}d0:d6:lengthi1e11:pieces root32:${k.padEnd(32, 'r')}ee`);
  }
  parts.push(Buffer.from(small.join(''), 'latin1'));
  const layers = Buffer.concat([Buffer.from('d32:', 'latin1'), Buffer.from(big.root), Buffer.from(`${big.pieceLayer.length}:`), Buffer.from(big.pieceLayer), Buffer.from('e')]);
  return Buffer.concat([
    Buffer.from('d4:infod9:file treed', 'latin1'), ...parts,
    Buffer.from(`e12:meta versioni2e4:name4:many12:piece lengthi${PIECE}ee12:piece layers`, 'latin1'), layers, Buffer.from('e'),
  ]);
}

describe('big v2 metadata off the event loop (issue 9)', () => {
  it('a file\'s merkle tree known only by its root costs no page of hashes (8 KiB each: 800 MB for 100,000 files)', () => {
    const before = process.memoryUsage().arrayBuffers;
    const trees = Array.from({ length: 10_000 }, (_, i) => new FileHashTree(new Uint8Array(32).fill(i % 255 + 1), 1, PIECE));
    const grown = process.memoryUsage().arrayBuffers - before;
    // Each root is 32 bytes of its own; a page per tree would be 80 MB here.
    expect(grown).toBeLessThan(10_000 * 1024);
    expect(trees[9999]!.pieceHash(0)).toEqual(new Uint8Array(32).fill(9999 % 255 + 1));
  });

  it('a v2 .torrent parsed on a parser thread is the same TorrentInfo as parsed here: files, layout and merkle trees', async () => {
    const bytes = manyFilesV2Torrent(4000);
    expect(bytes.length).toBeGreaterThan(OFF_THREAD_PARSE_BYTES);
    const here = parseTorrentFile(bytes);
    const there = await parseTorrentFileOffThread(bytes);
    const { v2: v2Here, ...restHere } = here;
    const { v2: v2There, ...restThere } = there;
    expect(restThere).toEqual(restHere);
    expect(v2There!.files).toEqual(v2Here!.files);
    expect(v2There!.layout).toEqual(v2Here!.layout);
    expect([v2There!.numPieces, v2There!.singleFile, v2There!.infoHashV2, v2There!.piecesByRoot.size])
      .toEqual([v2Here!.numPieces, v2Here!.singleFile, v2Here!.infoHashV2, v2Here!.piecesByRoot.size]);
    expect(v2There!.pieces.map((p) => [p.file, p.firstPiece, p.numPieces, p.tree.hasPieceLayer(), Buffer.from(p.tree.pieceLayer()!)]))
      .toEqual(v2Here!.pieces.map((p) => [p.file, p.firstPiece, p.numPieces, p.tree.hasPieceLayer(), Buffer.from(p.tree.pieceLayer()!)]));
    // The big file's tree answers a hash request (its piece layer with proofs) as the one parsed here does.
    const big = v2Here!.pieces[0]!.tree;
    expect(Buffer.from(v2There!.pieces[0]!.tree.getHashes(big.pieceHeight, 0, 4, 2)!)).toEqual(Buffer.from(big.getHashes(big.pieceHeight, 0, 4, 2)!));
  });

  it(`parsing a ${MAX_FILES}-file v2 .torrent off the event loop never blocks it for half the synchronous parse time`, async () => {
    const bytes = manyFilesV2Torrent(MAX_FILES - 1);
    const { result: info, longestMs } = await longestStall(() => parseTorrentFileOffThread(bytes));
    // Measured after, so that the garbage of this parse is not collected during it.
    const t0 = performance.now();
    parseTorrentFile(bytes);
    const syncMs = performance.now() - t0;
    console.log(`sync parse ${syncMs.toFixed(0)} ms; off the event loop: longest block ${longestMs.toFixed(0)} ms`);
    // Relative to the synchronous parse timed in the same test (the machine is shared and loaded).
    expect(longestMs).toBeLessThan(syncMs / 2);
    expect(info.v2!.files).toHaveLength(MAX_FILES);
  });

  it(`a ${MAX_FILES}-file v2 info dictionary from a peer (a btmh magnet's metadata) is checked and parsed without blocking the event loop for half the synchronous parse time`, async () => {
    const torrent = manyFilesV2Torrent(MAX_FILES - 1);
    const info = torrent.subarray('d4:info'.length, Buffer.from(torrent).lastIndexOf('12:piece layers'));
    expect(info.length).toBeGreaterThan(OFF_THREAD_PARSE_BYTES);
    const v2 = createHash('sha256').update(info).digest('hex');
    const { result, longestMs } = await longestStall(() => checkMetadataOffThread(info, { infoHash: v2.slice(0, 40), v2 }));
    const t0 = performance.now();
    parseInfoDict(info);
    const syncMs = performance.now() - t0;
    console.log(`sync parse ${syncMs.toFixed(0)} ms; checked off the event loop: longest block ${longestMs.toFixed(0)} ms`);
    expect(longestMs).toBeLessThan(syncMs / 2);
    expect(result.ok && result.info.v2!.files.length).toBe(MAX_FILES);
  });
});
