// BEP 52 merkle trees: roots and piece layers, per-piece verification that names the bad block, and hash
// requests answered with proofs that a tree knowing only its root accepts (and refuses when tampered).
import { describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  BLOCK_SIZE, HASH_SIZE, FileHashTree, blockHashes, fileHashes, fillSubtree, hashPair, merkleRoot, numUncles, padHash, sha256,
  subtreeHashCount,
} from '../../../packages/engine/src/metainfo/merkle.js';

const SEED = Number(process.env.MERKLE_SEED ?? 0x52);
const h = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A seeder's tree: the root, the piece layer and every piece verified from its blocks. */
function seededTree(data: Uint8Array, pieceLength: number): { tree: FileHashTree; blocks: Uint8Array; root: Uint8Array; layer: Uint8Array } {
  const blocks = blockHashes(data);
  const { root, pieceLayer } = fileHashes(blocks, pieceLength);
  const tree = new FileHashTree(root, data.length, pieceLength);
  expect(tree.setPieceLayer(pieceLayer)).toBe(true);
  for (let p = 0; p < tree.numPieces; p++) {
    const [first, end] = tree.pieceBlocks(p);
    expect(tree.verifyPiece(p, blocks.subarray(first * HASH_SIZE, end * HASH_SIZE))).toEqual({ result: 'passed' });
  }
  return { tree, blocks, root, layer: pieceLayer };
}

describe('merkle roots', () => {
  it('pads with zero hashes: the padding subtree of height 1 is SHA-256 of 64 zero bytes', () => {
    expect(h(padHash(0))).toBe('00'.repeat(32));
    expect(h(padHash(1))).toBe(createHash('sha256').update(new Uint8Array(64)).digest('hex'));
  });

  it('takes a one-block file\'s root as the hash of its bytes (the last block may be short)', () => {
    const data = randomBytes(100);
    expect(h(fileHashes(blockHashes(data), 16384).root)).toBe(h(sha256(data)));
  });

  it('builds a three-block file\'s root over four leaves, the fourth a zero hash', () => {
    const data = randomBytes(2 * BLOCK_SIZE + 5);
    const b = blockHashes(data);
    const leaf = (i: number): Uint8Array => b.subarray(i * 32, i * 32 + 32);
    const root = hashPair(hashPair(leaf(0), leaf(1)), hashPair(leaf(2), padHash(0)));
    expect(h(fileHashes(b, 16384).root)).toBe(h(root));
    // With 32 KiB pieces the piece layer is [H(b0,b1), H(b2,0)]: the last piece padded to a whole piece.
    expect(h(fileHashes(b, 32768).pieceLayer)).toBe(h(hashPair(leaf(0), leaf(1))) + h(hashPair(leaf(2), padHash(0))));
  });
});

describe('a piece\'s subtree in one pass (what a disk thread computes)', () => {
  it('lays out each layer bottom-up and ends with the root merkleRoot computes, padding included', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 }), (n, extra, base) => {
      const top = Math.ceil(Math.log2(n)) + extra;
      const tree = new Uint8Array(subtreeHashCount(n, top) * HASH_SIZE);
      tree.set(randomBytes(n * HASH_SIZE));
      fillSubtree(tree, n, top, base);
      expect(h(tree.subarray(tree.length - HASH_SIZE))).toBe(h(merkleRoot(tree.subarray(0, n * HASH_SIZE), 2 ** top, base)));
      // The first layer above the leaves: pairs side by side, the odd last one with a padding sibling.
      const pairs = Math.ceil(n / 2);
      if (top > 0) {
        const last = 2 * (pairs - 1);
        const right = last + 1 < n ? tree.subarray((last + 1) * HASH_SIZE, (last + 2) * HASH_SIZE) : padHash(base);
        expect(h(tree.subarray((n + pairs - 1) * HASH_SIZE, (n + pairs) * HASH_SIZE))).toBe(h(hashPair(tree.subarray(last * HASH_SIZE, (last + 1) * HASH_SIZE), right)));
      }
    }), { seed: SEED, numRuns: 200 });
  });

  it('verifies a piece from its packed subtree as from its block hashes alone, and names the bad block the same way', () => {
    const data = randomBytes(11 * BLOCK_SIZE + 7);
    const { root, layer, blocks } = seededTree(data, 4 * BLOCK_SIZE);
    const fresh = new FileHashTree(root, data.length, 4 * BLOCK_SIZE);
    expect(fresh.setPieceLayer(layer)).toBe(true);
    for (let p = 0; p < fresh.numPieces; p++) {
      const [first, end] = fresh.pieceBlocks(p);
      const sub = new Uint8Array(subtreeHashCount(end - first, fresh.pieceHeight) * HASH_SIZE);
      sub.set(blocks.subarray(first * HASH_SIZE, end * HASH_SIZE));
      fillSubtree(sub, end - first, fresh.pieceHeight);
      expect(fresh.verifyPiece(p, sub)).toEqual({ result: 'passed' });
    }
    // Every block hash is known now, so a wrong one is named from a packed subtree too.
    const [first, end] = fresh.pieceBlocks(1);
    const bad = new Uint8Array(subtreeHashCount(end - first, fresh.pieceHeight) * HASH_SIZE);
    bad.set(blocks.subarray(first * HASH_SIZE, end * HASH_SIZE));
    bad[2 * HASH_SIZE] ^= 1;
    fillSubtree(bad, end - first, fresh.pieceHeight);
    expect(fresh.verifyPiece(1, bad)).toEqual({ result: 'failed', badBlocks: [2] });
    expect(() => fresh.verifyPiece(1, bad.subarray(HASH_SIZE))).toThrow(RangeError);
  });
});

describe('a file\'s hash tree', () => {
  it('accepts the piece layer that hashes to its root and refuses one changed hash', () => {
    const data = randomBytes(5 * BLOCK_SIZE);
    const { root, layer } = seededTree(data, 32768);
    const bad = layer.slice();
    bad[40] ^= 1;
    expect(new FileHashTree(root, data.length, 32768).setPieceLayer(bad)).toBe(false);
    expect(new FileHashTree(root, data.length, 32768).setPieceLayer(layer)).toBe(true);
  });

  it('names exactly the bad block of a failed piece once it knows the block hashes', () => {
    const data = randomBytes(8 * BLOCK_SIZE);
    const { root, layer, blocks } = seededTree(data, 4 * BLOCK_SIZE);
    const tree = new FileHashTree(root, data.length, 4 * BLOCK_SIZE);
    tree.setPieceLayer(layer);
    const received = blocks.slice(4 * 32, 8 * 32); // piece 1
    received[2 * 32] ^= 0xff; // its third block is corrupt
    // Without block hashes the piece fails, but no block can be named: ask a peer for them.
    expect(tree.verifyPiece(1, received)).toEqual({ result: 'failed', badBlocks: [] });
    const seeder = seededTree(data, 4 * BLOCK_SIZE).tree;
    const answer = seeder.getHashes(0, 4, 4, 1)!;
    expect(tree.addHashes(0, 4, 4, 1, answer)).toBe(true);
    expect(tree.verifyPiece(1, received)).toEqual({ result: 'failed', badBlocks: [2] });
  });

  it('names the block of a failed one-block piece (16 KiB pieces) without asking for hashes', () => {
    const data = randomBytes(3 * BLOCK_SIZE);
    const { root, layer, blocks } = seededTree(data, BLOCK_SIZE);
    const tree = new FileHashTree(root, data.length, BLOCK_SIZE);
    tree.setPieceLayer(layer);
    const bad = blocks.slice(32, 64);
    bad[0] ^= 1;
    expect(tree.verifyPiece(1, bad)).toEqual({ result: 'failed', badBlocks: [0] });
  });

  it('says "unknown" for a piece whose hash is not known yet (a magnet before the piece layer)', () => {
    const data = randomBytes(3 * 32768);
    const { root, blocks } = seededTree(data, 32768);
    const tree = new FileHashTree(root, data.length, 32768);
    expect(tree.verifyPiece(0, blocks.subarray(0, 64))).toEqual({ result: 'unknown' });
  });

  it('refuses hashes whose proof does not reach a known node', () => {
    const data = randomBytes(16 * BLOCK_SIZE);
    const { tree: seeder, root } = seededTree(data, 2 * BLOCK_SIZE);
    const answer = seeder.getHashes(1, 0, 4, 2)!; // 4 piece hashes and 1 uncle: reaches the root
    expect(numUncles(4, 2)).toBe(1);
    const tamperedUncle = answer.slice();
    tamperedUncle[4 * 32] ^= 1;
    expect(new FileHashTree(root, data.length, 2 * BLOCK_SIZE).addHashes(1, 0, 4, 2, tamperedUncle)).toBe(false);
    const tamperedHash = answer.slice();
    tamperedHash[0] ^= 1;
    expect(new FileHashTree(root, data.length, 2 * BLOCK_SIZE).addHashes(1, 0, 4, 2, tamperedHash)).toBe(false);
    // Too few uncles: the subtree root is not known, nothing anchors the hashes.
    expect(new FileHashTree(root, data.length, 2 * BLOCK_SIZE).addHashes(1, 0, 4, 1, answer.subarray(0, 4 * 32))).toBe(false);
    expect(new FileHashTree(root, data.length, 2 * BLOCK_SIZE).addHashes(1, 0, 4, 2, answer)).toBe(true);
  });

  it('holds a verified piece of an 8 TiB file without allocating for the whole file', () => {
    // All-zero data: every block hash is Z, every node at height k is H^k(Z), so the root is cheap to know.
    const z = sha256(new Uint8Array(BLOCK_SIZE));
    const up = (k: number): Uint8Array => { let x = z; for (let i = 0; i < k; i++) x = hashPair(x, x); return x; };
    const tree = new FileHashTree(up(29), 2 ** 43, 4 * BLOCK_SIZE);
    expect([tree.height, tree.pieceHeight]).toEqual([29, 2]);
    // Pieces 0 and 1 (height 2) with their uncles up to the root (heights 3..28).
    const answer = Buffer.concat([up(2), up(2), ...Array.from({ length: 26 }, (_, k) => up(3 + k))]);
    expect(tree.addHashes(2, 0, 2, 26, answer)).toBe(true);
    expect(tree.verifyPiece(0, Buffer.concat([z, z, z, z]))).toEqual({ result: 'passed' });
    expect(h(tree.getHashes(0, 0, 4, 1)!)).toBe(h(Buffer.concat([z, z, z, z])));
  });

  it('rejects malformed hash requests (base at or above the root, ranges outside the layer, too many proof layers, count 0)', () => {
    const { tree } = seededTree(randomBytes(8 * BLOCK_SIZE), 2 * BLOCK_SIZE); // height 3
    expect(tree.getHashes(3, 0, 1, 0)).toBeNull();
    expect(tree.getHashes(0, 6, 4, 0)).toBeNull();
    expect(tree.getHashes(0, 0, 2, 3)).toBeNull();
    expect(tree.getHashes(0, 0, 0, 0)).toBeNull();
    expect(tree.getHashes(-1, 0, 2, 0)).toBeNull();
    expect(tree.getHashes(0, 0, 8, 2)).not.toBeNull();
  });

  it('answers hash requests for what it knows, and a tree that knows only the root takes the answers', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }), // blocks
        fc.integer({ min: 0, max: 4 }), // log2 blocks per piece
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (nBlocks, lbpp, r) => {
          const pieceLength = BLOCK_SIZE << lbpp;
          const data = new Uint8Array(nBlocks * BLOCK_SIZE - (r % 1000));
          new DataView(data.buffer).setUint32(0, r);
          const { tree: seeder, root, layer } = seededTree(data, pieceLength);
          fc.pre(seeder.height > seeder.pieceHeight);
          // The piece layer in 512-hash chunks (libtorrent's requests), proofs up to the root.
          const leecher = new FileHashTree(root, data.length, pieceLength);
          const base = seeder.pieceHeight;
          const layerWidth = 2 ** (seeder.height - base);
          const count = Math.min(512, layerWidth);
          const proofLayers = seeder.height - base - 1;
          for (let index = 0; index < seeder.numPieces; index += count) {
            const answer = seeder.getHashes(base, index, count, proofLayers);
            expect(answer).not.toBeNull();
            expect(leecher.addHashes(base, index, count, proofLayers, answer!)).toBe(true);
          }
          expect(h(leecher.pieceLayer()!)).toBe(h(layer));
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
  });
});
