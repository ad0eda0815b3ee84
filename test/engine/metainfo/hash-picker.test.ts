// Which hashes a v2 torrent asks peers for: piece layers it lacks in proved chunks of 512, and the block
// hashes of a failed piece (first, and only of peers that have the piece).
import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { parseBNode, dictGet } from '../../../packages/engine/src/metainfo/bnode.js';
import { readV2, hasAllPieceLayers, type V2Info } from '../../../packages/engine/src/metainfo/v2.js';
import { createTorrentFromData } from '../../../packages/engine/src/metainfo/create.js';
import { FileHashTree, HASH_SIZE, blockHashes, fileHashes } from '../../../packages/engine/src/metainfo/merkle.js';
import { HashPicker, RETRY_MS, type HashRequest } from '../../../packages/engine/src/metainfo/hash-picker.js';

const LIMITS = { maxFiles: 100_000, maxPieces: 0x200000, decode: { maxDepth: 100, maxTokens: 3_000_000 } };
const PIECE = 32768;
const big = randomBytes(600 * PIECE - 1000); // 600 pieces: a chunk of 512 and one of 88
const small = randomBytes(3 * PIECE);
const made = createTorrentFromData([{ path: ['big'], data: big }, { path: ['small'], data: small }], { version: 'v2', pieceLength: PIECE, name: 't', singleFile: false });

/** What a magnet knows once it has the info dict: roots, no piece layers. */
function magnetView(): V2Info {
  const top = parseBNode(made.torrent, LIMITS.decode);
  const info = dictGet(top, 'info')!;
  return readV2(made.torrent.subarray(info.start, info.end), undefined, 't', LIMITS)!;
}

/** A seed's trees, which know every block. */
function seedTree(data: Uint8Array): FileHashTree {
  const blocks = blockHashes(data);
  const { root, pieceLayer } = fileHashes(blocks, PIECE);
  const tree = new FileHashTree(root, data.length, PIECE);
  tree.setPieceLayer(pieceLayer);
  for (let p = 0; p < tree.numPieces; p++) {
    const [a, b] = tree.pieceBlocks(p);
    tree.verifyPiece(p, blocks.subarray(a * HASH_SIZE, b * HASH_SIZE));
  }
  return tree;
}
const seed = { big: seedTree(big), small: seedTree(small) };
const answer = (r: HashRequest): Uint8Array => (r.file.numPieces === 600 ? seed.big : seed.small).getHashes(r.base, r.index, r.count, r.proofLayers)!;

describe('the hash picker', () => {
  it('asks for a magnet\'s piece layers in chunks of 512 with proofs up to the root, and they complete the torrent', () => {
    const v2 = magnetView();
    const picker = new HashPicker(v2);
    expect(picker.needsPieceLayers()).toBe(true);
    const asked: [number, number, number][] = [];
    for (let r = picker.pick(0); r; r = picker.pick(0)) {
      asked.push([r.file.numPieces, r.index, r.count]);
      expect(picker.hashes(r, answer(r))).toBe(true);
    }
    expect(asked).toEqual([[600, 0, 512], [600, 512, 128], [3, 0, 4]]);
    expect(hasAllPieceLayers(v2)).toBe(true);
    expect(picker.canVerify(599)).toBe(true);
  });

  it('does not ask for the same hashes twice until an answer is overdue, and at once after a reject', () => {
    const picker = new HashPicker(magnetView());
    const first = picker.pick(0)!;
    expect(picker.pick(1)!.index).toBe(512);
    picker.pick(1); // the small file's
    expect(picker.pick(2)).toBeNull();
    expect(picker.pick(RETRY_MS)).toMatchObject({ index: 0, count: 512 });
    picker.rejected(first);
    expect(picker.pick(RETRY_MS + 1)).toMatchObject({ index: 0, count: 512 });
  });

  it('refuses wrong hashes (the sender is to be charged) and asks again', () => {
    const picker = new HashPicker(magnetView());
    const r = picker.pick(0)!;
    const bad = answer(r).slice();
    bad[5] ^= 1;
    expect(picker.hashes(r, bad)).toBe(false);
    expect(picker.pick(1)).toMatchObject({ index: 0, count: 512 });
  });

  it('asks first for the block hashes of a failed piece, only of a peer that has it, and they name the bad block', () => {
    const top = parseBNode(made.torrent, LIMITS.decode);
    const info = dictGet(top, 'info')!;
    const layers = dictGet(top, 'piece layers')!;
    const v2 = readV2(made.torrent.subarray(info.start, info.end), made.torrent.subarray(layers.start, layers.end), 't', LIMITS)!;
    const picker = new HashPicker(v2);
    expect(picker.pick(0)).toBeNull(); // a .torrent with its layers needs nothing
    const blocks = blockHashes(big.subarray(7 * PIECE, 8 * PIECE));
    blocks[HASH_SIZE] ^= 1; // block 1 of piece 7 is bad
    const tree = v2.pieces[0]!.tree;
    expect(tree.verifyPiece(7, blocks)).toEqual({ result: 'failed', badBlocks: [] });
    picker.wantBlockHashes(7);
    expect(picker.pick(0, (p) => p !== 7)).toBeNull();
    const r = picker.pick(0, (p) => p === 7)!;
    expect([r.base, r.index, r.count, r.proofLayers]).toEqual([0, 14, 2, 0]);
    expect(picker.hashes(r, answer(r))).toBe(true);
    expect(picker.wantedBlockHashes).toBe(0);
    expect(tree.verifyPiece(7, blocks)).toEqual({ result: 'failed', badBlocks: [1] });
  });
});
