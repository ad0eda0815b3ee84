import { describe, it, expect } from '@jest/globals';
import { PiecePicker } from '../../../packages/engine/src/algo/piece-picker.js';
import type { PickOptions, PieceSet } from '../../../packages/engine/src/algo/piece-picker.js';

const KiB = 1024;
const ALL: PieceSet = { get: () => true };
const only = (...pieces: number[]): PieceSet => ({ get: (i) => pieces.includes(i) });
const except = (...pieces: number[]): PieceSet => ({ get: (i) => !pieces.includes(i) });
const RARE: PickOptions = { sequential: false };
const SEQ: PickOptions = { sequential: true };

/** A picker of `n` pieces of `blocks` 16 KiB blocks each, seeded for reproducible ties. */
function picker(n: number, blocks = 1, seed = 1): PiecePicker {
  return new PiecePicker(n, blocks * 16 * KiB, n * blocks * 16 * KiB, 16 * KiB, seed);
}

function pick(pp: PiecePicker, peer: PieceSet, max: number, opts: PickOptions = RARE): number[] {
  const out: number[] = [];
  pp.pick(peer, max, out, opts);
  return out;
}

/** Leaves random-first mode by having the first `count` pieces. */
function haveFirst(pp: PiecePicker, count: number): void {
  for (let i = 0; i < count; i++) pp.setHave(i);
}

describe('PiecePicker geometry', () => {
  it('gives the short last piece fewer blocks and a short last block', () => {
    // 3 pieces of 64 KiB; the last one holds 40 KiB + 100 bytes.
    const pp = new PiecePicker(3, 64 * KiB, 128 * KiB + 40 * KiB + 100);
    expect(pp.blockSize).toBe(16 * KiB);
    expect(pp.blocksPerPiece).toBe(4);
    expect(pp.blocksInPiece(0)).toBe(4);
    expect(pp.blocksInPiece(2)).toBe(3);
    expect(pp.blockLength(0, 3)).toBe(16 * KiB);
    expect(pp.blockLength(2, 1)).toBe(16 * KiB);
    expect(pp.blockLength(2, 2)).toBe(8 * KiB + 100);
  });

  it('caps the block size at the piece length', () => {
    const pp = new PiecePicker(2, 8 * KiB, 16 * KiB);
    expect(pp.blockSize).toBe(8 * KiB);
    expect(pp.blocksPerPiece).toBe(1);
  });

  it('rejects a piece count that does not match the lengths', () => {
    expect(() => new PiecePicker(3, 64 * KiB, 64 * KiB)).toThrow(RangeError);
  });

  it('never picks past the last block of a short last piece', () => {
    const pp = new PiecePicker(2, 64 * KiB, 64 * KiB + 20 * KiB, 16 * KiB, 1);
    pp.addSeed();
    const got = pick(pp, ALL, 100, SEQ);
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('PiecePicker.pick', () => {
  it('returns only blocks the peer has, we lack, are wanted and are not requested yet', () => {
    const pp = picker(6, 2);
    const peer = except(1);
    pp.addPeerPieces(peer);
    pp.setHave(2);
    pp.setPiecePriority(3, 0);
    const first = pick(pp, peer, 2, SEQ); // piece 0
    expect(first).toEqual([0, 1]);
    const rest = pick(pp, peer, 100, { sequential: true, allowBusy: false });
    expect(rest.sort((a, b) => a - b)).toEqual([8, 9, 10, 11]); // pieces 4 and 5
    expect(pick(pp, peer, 100, { sequential: true, allowBusy: false })).toEqual([]);
  });

  it('appends to the caller array and returns the count appended', () => {
    const pp = picker(2, 2);
    pp.addSeed();
    const out = [99];
    expect(pp.pick(ALL, 3, out, SEQ)).toBe(3);
    expect(out).toEqual([99, 0, 1, 2]);
  });

  it('continues a partial piece before starting a new one', () => {
    const pp = picker(10, 4);
    pp.addSeed();
    const a = pick(pp, ALL, 1);
    const piece = Math.floor(a[0]! / 4);
    const b = pick(pp, ALL, 3);
    expect(b.map((id) => Math.floor(id / 4))).toEqual([piece, piece, piece]);
    expect(new Set([...a, ...b]).size).toBe(4);
    expect(pp.numPartial).toBe(1);
  });

  it('starts a new piece when the peer lacks the partial ones', () => {
    const pp = picker(10, 4);
    pp.addSeed();
    const a = pick(pp, ALL, 1);
    const partial = Math.floor(a[0]! / 4);
    const b = pick(pp, except(partial), 2);
    expect(b.every((id) => Math.floor(id / 4) !== partial)).toBe(true);
    expect(pp.numPartial).toBe(2);
  });

  it('picks the first pieces at random until it has 4 pieces', () => {
    const firsts = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const pp = picker(100, 1, seed);
      pp.addSeed();
      firsts.add(pick(pp, ALL, 1)[0]!);
      expect(pp.counters.piece_picker_rand_start_loops).toBeGreaterThan(0);
      expect(pp.counters.piece_picker_rare_loops).toBe(0);
    }
    expect(firsts.size).toBeGreaterThan(5);
  });

  it('picks rarest first once it has 4 pieces', () => {
    const pp = picker(10, 2);
    pp.addPeerPieces(ALL);
    pp.addPeerPieces(except(6));
    pp.addPeerPieces(except(6, 8));
    // availability: piece 6 = 1, piece 8 = 2, others 3
    haveFirst(pp, 4);
    expect(pick(pp, ALL, 2)).toEqual([12, 13]);
    expect(pick(pp, ALL, 2)).toEqual([16, 17]);
    expect(pp.counters.piece_picker_rare_loops).toBeGreaterThan(0);
  });

  it('follows availability changes from HAVE messages and departing peers', () => {
    const pp = picker(8, 1);
    const a = only(4, 5, 6, 7);
    pp.addPeerPieces(ALL);
    pp.addPeerPieces(ALL);
    pp.addPeerPieces(a);
    haveFirst(pp, 4);
    pp.removePeerPieces(a); // 4..7 back to 2
    pp.addPeerHave(4);
    pp.addPeerHave(6);
    pp.addPeerHave(7); // 5 is now the rarest
    expect(pick(pp, ALL, 1)).toEqual([5]);
  });

  it('keeps rarest-first order when availability grows past many peers', () => {
    const pp = picker(8, 1);
    for (let k = 0; k < 40; k++) pp.addPeerPieces(k < 30 ? ALL : except(5, 6));
    for (let k = 0; k < 5; k++) pp.addPeerHave(6);
    haveFirst(pp, 4);
    // piece 5: 30 peers, piece 6: 35, pieces 4 and 7: 40
    expect(pick(pp, ALL, 2)).toEqual([5, 6]);
    expect(pp.availability(7)).toBe(40);
  });

  it('picks the most common pieces first for a snubbed peer', () => {
    const pp = picker(10, 1);
    pp.addPeerPieces(ALL);
    pp.addPeerPieces(only(4, 5, 6, 7, 8, 9));
    pp.addPeerPieces(only(9));
    haveFirst(pp, 4);
    expect(pick(pp, ALL, 1, { sequential: false, snubbed: true })).toEqual([9]);
    expect(pp.counters.piece_picker_reverse_rare_loops).toBeGreaterThan(0);
  });

  it('picks the lowest index first in sequential mode', () => {
    const pp = picker(6, 2);
    const peer = except(2);
    pp.addPeerPieces(peer);
    const got: number[] = [];
    for (let i = 0; i < 6; i++) got.push(...pick(pp, peer, 1, SEQ));
    expect(got).toEqual([0, 1, 2, 3, 6, 7]); // piece 2 (blocks 4, 5) is skipped
    expect(pp.counters.piece_picker_sequential_loops).toBeGreaterThan(0);
  });

  it('picks the highest index first in sequential mode for a snubbed peer', () => {
    const pp = picker(6, 1);
    pp.addSeed();
    expect(pick(pp, ALL, 3, { sequential: true, snubbed: true })).toEqual([5, 4, 3]);
  });

  it('goes back to an aborted piece in sequential mode', () => {
    const pp = picker(6, 1);
    pp.addSeed();
    expect(pick(pp, ALL, 2, SEQ)).toEqual([0, 1]);
    pp.abortRequest(0);
    expect(pick(pp, ALL, 1, SEQ)).toEqual([0]);
  });

  it('picks higher priority pieces first and never priority 0', () => {
    const pp = picker(10, 1);
    pp.addPeerPieces(ALL);
    pp.addPeerPieces(only(0, 1, 2, 3, 4)); // make 5..9 the rarest
    haveFirst(pp, 4);
    pp.setPiecePriority(4, 7);
    pp.setPiecePriority(5, 1);
    pp.setPiecePriority(6, 0);
    const got = pick(pp, ALL, 10, { sequential: false, allowBusy: false });
    expect(got[0]).toBe(4);
    expect(got[got.length - 1]).toBe(5);
    expect(got).not.toContain(6);
    expect(got.length).toBe(5); // 4, 7, 8, 9, 5
  });

  it('respects priorities in sequential mode', () => {
    const pp = picker(6, 1);
    pp.addSeed();
    pp.setPiecePriority(4, 6);
    pp.setPiecePriority(0, 1);
    expect(pick(pp, ALL, 6, SEQ)).toEqual([4, 1, 2, 3, 5, 0]);
  });

  it('counts the pick reason', () => {
    const pp = picker(4, 1);
    pp.addSeed();
    pp.pick(ALL, 1, [], { sequential: false, reason: 'unchoke' });
    pp.pick(ALL, 1, [], { sequential: false, reason: 'incoming' });
    expect(pp.counters.unchoke_piece_picks).toBe(1);
    expect(pp.counters.incoming_piece_picks).toBe(1);
  });
});

describe('PiecePicker request outcomes', () => {
  it('frees a block when its request is aborted', () => {
    const pp = picker(1, 2);
    pp.addSeed();
    expect(pick(pp, ALL, 2)).toEqual([0, 1]);
    expect(pp.requestCount(1)).toBe(1);
    pp.abortRequest(1);
    expect(pp.requestCount(1)).toBe(0);
    expect(pick(pp, ALL, 2, { sequential: false, allowBusy: false })).toEqual([1]);
  });

  it('drops a piece from the partial list when its last request is aborted', () => {
    const pp = picker(4, 2);
    pp.addSeed();
    const got = pick(pp, ALL, 2);
    expect(pp.numPartial).toBe(1);
    for (const id of got) pp.abortRequest(id);
    expect(pp.numPartial).toBe(0);
  });

  it('reports a redundant block as already received', () => {
    const pp = picker(2, 2);
    pp.addSeed();
    pick(pp, ALL, 2, SEQ);
    expect(pp.markReceived(0)).toBe(true);
    expect(pp.markReceived(0)).toBe(false);
    expect(pp.markReceived(1)).toBe(true);
    expect(pp.isPieceComplete(0)).toBe(true);
    pp.pieceVerified(0);
    expect(pp.markReceived(1)).toBe(false);
  });

  it('frees every block of a piece that failed the hash check and picks it again', () => {
    const pp = picker(1, 3);
    pp.addSeed();
    for (const id of pick(pp, ALL, 3)) pp.markReceived(id);
    expect(pp.isPieceComplete(0)).toBe(true);
    pp.pieceFailed(0);
    expect(pp.have(0)).toBe(false);
    expect(pp.isPieceComplete(0)).toBe(false);
    expect(pick(pp, ALL, 3, { sequential: false, allowBusy: false })).toEqual([0, 1, 2]);
  });

  it('leaves the partial list when a piece is verified', () => {
    const pp = picker(2, 1);
    pp.addSeed();
    const [id] = pick(pp, ALL, 1);
    pp.markReceived(id!);
    pp.pieceVerified(id!);
    expect(pp.numPartial).toBe(0);
    expect(pp.have(id!)).toBe(true);
    expect(pp.numHave).toBe(1);
  });

  it('makes a piece pickable again after clearHave', () => {
    const pp = picker(2, 1);
    pp.addSeed();
    pp.setHave(0);
    pp.setHave(1);
    expect(pp.isSeed()).toBe(true);
    pp.clearHave(1);
    expect(pp.isSeed()).toBe(false);
    expect(pick(pp, ALL, 5, { sequential: false, allowBusy: false })).toEqual([1]);
  });
});

describe('PiecePicker end-game', () => {
  it('hands out no duplicate while a free block is left for the peer', () => {
    const pp = picker(2, 2);
    pp.addSeed();
    pick(pp, ALL, 2, SEQ); // piece 0 fully requested
    expect(pick(pp, ALL, 10, SEQ)).toEqual([2, 3]);
    expect(pp.counters.end_game_piece_picks).toBe(0);
  });

  it('hands out requested blocks once nothing is free, and requestCount reflects it', () => {
    const pp = picker(2, 2);
    pp.addSeed();
    expect(pp.inEndGame).toBe(false);
    const a = pick(pp, ALL, 4);
    expect(a.length).toBe(4);
    expect(pp.inEndGame).toBe(true);
    pp.markReceived(a[0]!);
    const b = pick(pp, ALL, 10);
    expect(b.sort((x, y) => x - y)).toEqual(a.filter((id) => id !== a[0]).sort((x, y) => x - y));
    for (const id of b) expect(pp.requestCount(id)).toBe(2);
    expect(pp.requestCount(a[0]!)).toBe(0);
    expect(pp.counters.end_game_piece_picks).toBe(3);
  });

  it('prefers blocks with the fewest outstanding requests and skips excluded ones', () => {
    const pp = picker(1, 3);
    pp.addSeed();
    pick(pp, ALL, 3); // blocks 0, 1, 2: one request each
    expect(pick(pp, ALL, 1, { sequential: false, exclude: (id) => id === 0 })).toEqual([1]);
    // block 1 now has 2 requests; 0 and 2 have 1
    const next = pick(pp, ALL, 2, { sequential: false, exclude: (id) => id === 1 });
    expect(next.sort((x, y) => x - y)).toEqual([0, 2]);
    expect(pick(pp, ALL, 1)).toEqual([0]);
  });

  it('never returns the same block twice in one call', () => {
    const pp = picker(1, 2);
    pp.addSeed();
    pick(pp, ALL, 2);
    expect(pick(pp, ALL, 10).sort((x, y) => x - y)).toEqual([0, 1]);
  });

  it('hands out no duplicate when busy blocks are not allowed', () => {
    const pp = picker(1, 2);
    pp.addSeed();
    pick(pp, ALL, 2);
    expect(pick(pp, ALL, 10, { sequential: false, allowBusy: false })).toEqual([]);
  });

  it('gives back a duplicate request on abort without freeing the block', () => {
    const pp = picker(1, 1);
    pp.addSeed();
    pick(pp, ALL, 1);
    pick(pp, ALL, 1);
    expect(pp.requestCount(0)).toBe(2);
    pp.abortRequest(0);
    expect(pp.requestCount(0)).toBe(1);
    expect(pick(pp, ALL, 1, { sequential: false, allowBusy: false })).toEqual([]);
  });
});

describe('PiecePicker state', () => {
  it('is finished when every wanted piece is had, even if others are not', () => {
    const pp = picker(4, 1);
    pp.setPiecePriority(2, 0);
    pp.setPiecePriority(3, 0);
    expect(pp.numWanted).toBe(2);
    pp.setHave(0);
    expect(pp.isFinished()).toBe(false);
    pp.setHave(1);
    expect(pp.numWantedHave).toBe(2);
    expect(pp.isFinished()).toBe(true);
    expect(pp.isSeed()).toBe(false);
    pp.setPiecePriority(3, 4);
    expect(pp.isFinished()).toBe(false);
  });

  it('sets all priorities at once', () => {
    const pp = picker(4, 1);
    pp.addSeed();
    pp.setHave(0);
    pp.setPiecePriorities([0, 0, 7, 1]);
    expect(pp.numWanted).toBe(2);
    expect(pp.numWantedHave).toBe(0);
    expect(pick(pp, ALL, 4, SEQ)).toEqual([2, 3]);
  });

  it('counts HAVE_ALL peers in every piece availability', () => {
    const pp = picker(3, 1);
    expect(pp.availability(0)).toBe(0);
    pp.addSeed();
    pp.addPeerHave(0);
    expect(pp.availability(0)).toBe(2);
    expect(pp.availability(2)).toBe(1);
    pp.removeSeed();
    expect(pp.availability(0)).toBe(1);
    expect(pp.availability(2)).toBe(0);
  });

  it('computes distributed copies like libtorrent', () => {
    const pp = picker(4, 1);
    expect(pp.distributedCopies()).toBe(0);
    pp.addPeerPieces(ALL);
    pp.addPeerPieces(only(0, 1));
    expect(pp.distributedCopies()).toBe(1.5); // min 1, half the pieces above it
    pp.addSeed();
    expect(pp.distributedCopies()).toBe(2.5);
    pp.setHave(2);
    pp.setHave(3); // our own copies count
    expect(pp.distributedCopies()).toBe(3);
    const three = picker(3, 1);
    three.addPeerHave(0);
    expect(three.distributedCopies()).toBe(0.333);
  });

  it('picks every block of 100,000 pieces exactly once', () => {
    const n = 100_000;
    const pp = new PiecePicker(n, 32 * KiB, n * 32 * KiB - 1000, 16 * KiB, 7);
    pp.addSeed();
    pp.addPeerPieces({ get: (i) => i % 3 === 0 });
    const blocks = (n - 1) * 2 + pp.blocksInPiece(n - 1);
    const seen = new Uint8Array(n * 2);
    const out: number[] = [];
    const opts: PickOptions = { sequential: false, allowBusy: false };
    let total = 0;
    let round = 0;
    for (;;) {
      out.length = 0;
      const got = pp.pick(ALL, 64, out, opts);
      if (got === 0) break;
      for (const id of out) {
        seen[id]!++;
        // Leave every other round in flight for a while, so partial and fully requested pieces pile up.
        if (round % 2 === 0) {
          pp.markReceived(id);
          const piece = Math.floor(id / 2);
          if (pp.isPieceComplete(piece)) pp.pieceVerified(piece);
        }
      }
      total += got;
      round++;
    }
    expect(total).toBe(blocks);
    expect(seen.subarray(0, blocks).every((c) => c === 1)).toBe(true);
    expect(pp.inEndGame).toBe(true);
  });
  it('agrees with a simple model under random operations', () => {
    const n = 300;
    const bpp = 3;
    const pp = new PiecePicker(n, bpp * 16 * KiB, n * bpp * 16 * KiB - 5000, 16 * KiB, 11);
    let seed = 12345;
    const rnd = (k: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % k;
    };
    const peers: Uint8Array[] = [];
    const asSet = (bits: Uint8Array): PieceSet => ({ get: (i) => bits[i] === 1 });
    const requests = new Int32Array(n * bpp);
    const received = new Uint8Array(n * bpp);
    const isFree = (id: number): boolean => requests[id] === 0 && received[id] === 0;
    const freeFor = (bits: Uint8Array): boolean => {
      for (let piece = 0; piece < n; piece++) {
        if (bits[piece] !== 1 || pp.have(piece) || pp.piecePriority(piece) === 0) continue;
        for (let b = 0; b < pp.blocksInPiece(piece); b++) if (isFree(piece * bpp + b)) return true;
      }
      return false;
    };
    const outstanding = (): number => {
      const start = rnd(n * bpp);
      for (let k = 0; k < n * bpp; k++) {
        const id = (start + k) % (n * bpp);
        if (requests[id]! > 0) return id;
      }
      return -1;
    };
    let verified = 0;
    const errors: string[] = [];
    const clearPiece = (piece: number): void => {
      for (let b = 0; b < bpp; b++) {
        requests[piece * bpp + b] = 0;
        received[piece * bpp + b] = 0;
      }
    };
    for (let step = 0; step < 10_000; step++) {
      const op = rnd(100);
      if (op < 5 || peers.length === 0) {
        const bits = new Uint8Array(n).map(() => (rnd(3) === 0 ? 0 : 1));
        peers.push(bits);
        pp.addPeerPieces(asSet(bits));
      } else if (op < 8) {
        const bits = peers.splice(rnd(peers.length), 1)[0]!;
        pp.removePeerPieces(asSet(bits));
      } else if (op < 60) {
        const bits = peers[rnd(peers.length)]!;
        const out: number[] = [];
        const got = pp.pick(asSet(bits), 1 + rnd(8), out, { sequential: rnd(4) === 0, snubbed: rnd(5) === 0, allowBusy: false });
        if (got !== out.length) errors.push(`step ${step}: returned ${got} for ${out.length} blocks`);
        for (const id of out) {
          const piece = Math.floor(id / bpp);
          if (bits[piece] !== 1 || pp.have(piece) || pp.piecePriority(piece) === 0 || !isFree(id)) {
            errors.push(`step ${step}: picked block ${id} that is not pickable`);
          }
          requests[id]++;
        }
        if (got === 0 && freeFor(bits)) errors.push(`step ${step}: picked nothing though a free block was left`);
      } else if (op < 75) {
        const id = outstanding();
        if (id >= 0) {
          pp.abortRequest(id);
          requests[id]--;
        }
      } else if (op < 92) {
        const id = outstanding();
        const piece = Math.floor(id / bpp);
        if (id >= 0) {
          if (!pp.markReceived(id)) errors.push(`step ${step}: block ${id} reported redundant`);
          requests[id]--;
          received[id] = 1;
          if (pp.isPieceComplete(piece)) {
            if (rnd(4) === 0) pp.pieceFailed(piece);
            else {
              pp.pieceVerified(piece);
              verified++;
            }
            clearPiece(piece);
          }
        }
      } else if (op < 97) {
        const piece = rnd(n);
        pp.setPiecePriority(piece, rnd(8));
      } else {
        const piece = rnd(n);
        if (pp.have(piece)) pp.clearHave(piece);
      }
    }
    let have = 0;
    for (let i = 0; i < n; i++) have += pp.have(i) ? 1 : 0;
    expect(pp.numHave).toBe(have);
    expect(errors).toEqual([]);
    expect(verified).toBeGreaterThan(50);
  });
});

describe('PiecePicker BEP 47 padding', () => {
  it('never hands out a pad block, and a piece is complete once its other blocks arrive', () => {
    const pp = picker(2, 4);
    pp.setPadBlocks(0, [2, 3]);
    expect(pick(pp, only(0), 10, SEQ)).toEqual([0, 1]);
    expect(pp.markReceived(0)).toBe(true);
    expect(pp.isPieceComplete(0)).toBe(false);
    expect(pp.markReceived(1)).toBe(true);
    expect(pp.isPieceComplete(0)).toBe(true);
  });

  it('drops a piece whose only requests were aborted, and skips its pad blocks when it starts again', () => {
    const pp = picker(2, 4);
    pp.setPadBlocks(1, [3]);
    expect(pick(pp, only(1), 10, SEQ)).toEqual([4, 5, 6]);
    for (const id of [4, 5, 6]) pp.abortRequest(id);
    expect(pp.numPartial).toBe(0);
    expect(pick(pp, only(1), 10, SEQ)).toEqual([4, 5, 6]);
  });

  it('refuses a piece of padding only', () => {
    expect(() => picker(1, 2).setPadBlocks(0, [0, 1])).toThrow(RangeError);
  });
});
