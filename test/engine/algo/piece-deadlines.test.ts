// Time-critical pieces (libtorrent's piece deadlines): the pure parts, without a torrent.
import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { PiecePicker } from '../../../packages/engine/src/algo/piece-picker.js';
import { PieceDeadlines, isFastPeer, pickTimeCritical, readAheadPieces, windowDeadlines } from '../../../packages/engine/src/algo/piece-deadlines.js';

const B = 16384;
const all = { get: (): boolean => true };
const none = { get: (): boolean => false };

function order(d: PieceDeadlines): number[] {
  const out: number[] = [];
  for (let i = 0; i < d.size; i++) out.push(d.piece(i));
  return out;
}

describe('PieceDeadlines', () => {
  it('keeps pieces earliest deadline first', () => {
    const d = new PieceDeadlines();
    const a = {};
    d.set(a, 5, 300);
    d.set(a, 2, 100);
    d.set(a, 9, 200);
    expect(order(d)).toEqual([2, 9, 5]);
  });

  it('gives a piece the earliest deadline any owner set', () => {
    const d = new PieceDeadlines();
    const a = {}, b = {};
    d.set(a, 3, 500);
    d.set(b, 3, 100);
    expect(d.deadline(3)).toBe(100);
    d.clearOwner(b);
    expect(d.deadline(3)).toBe(500);
  });

  it('clearing one owner leaves the other owners\' deadlines (several readers)', () => {
    const d = new PieceDeadlines();
    const a = {}, b = {};
    d.set(a, 1, 0);
    d.set(b, 7, 0);
    d.clearOwner(a);
    expect(order(d)).toEqual([7]);
  });

  it('replace swaps an owner\'s window for a new one (a seek cancels the old window)', () => {
    const d = new PieceDeadlines();
    const a = {};
    d.replace(a, new Map([[1, 0], [2, 10]]));
    d.replace(a, new Map([[50, 0], [51, 10]]));
    expect(order(d)).toEqual([50, 51]);
  });

  it('forgets a verified piece for every owner', () => {
    const d = new PieceDeadlines();
    const a = {}, b = {};
    d.set(a, 4, 0);
    d.set(b, 4, 5);
    d.pieceDone(4);
    expect(d.size).toBe(0);
    expect(d.deadline(4)).toBeUndefined();
  });

  it('reset removes one piece of one owner', () => {
    const d = new PieceDeadlines();
    const a = {};
    d.set(a, 4, 0);
    d.set(a, 6, 0);
    d.reset(a, 4);
    expect(order(d)).toEqual([6]);
  });

  it('the order is the effective deadlines sorted, whatever the operations (property)', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('set' as const), o: fc.nat(2), p: fc.nat(20), at: fc.nat(1000) }),
      fc.record({ k: fc.constant('reset' as const), o: fc.nat(2), p: fc.nat(20) }),
      fc.record({ k: fc.constant('clear' as const), o: fc.nat(2) }),
      fc.record({ k: fc.constant('done' as const), p: fc.nat(20) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const owners = [{}, {}, {}];
      const d = new PieceDeadlines();
      const model = owners.map(() => new Map<number, number>());
      for (const o of ops) {
        if (o.k === 'set') { d.set(owners[o.o]!, o.p, o.at); model[o.o]!.set(o.p, o.at); }
        else if (o.k === 'reset') { d.reset(owners[o.o]!, o.p); model[o.o]!.delete(o.p); }
        else if (o.k === 'clear') { d.clearOwner(owners[o.o]!); model[o.o]!.clear(); }
        else { d.pieceDone(o.p); for (const m of model) m.delete(o.p); }
      }
      const eff = new Map<number, number>();
      for (const m of model) for (const [p, at] of m) eff.set(p, Math.min(at, eff.get(p) ?? Infinity));
      const want = [...eff].sort((x, y) => x[1] - y[1] || x[0] - y[0]).map(([p]) => p);
      expect(order(d)).toEqual(want);
    }), { seed: 1616, numRuns: 200 });
  });
});

describe('pickTimeCritical', () => {
  it('picks the blocks of time-critical pieces first, earliest deadline first', () => {
    const picker = new PiecePicker(10, 4 * B, 40 * B, B, 1);
    picker.addSeed();
    const d = new PieceDeadlines();
    d.set({}, 8, 200);
    d.set({}, 3, 100);
    const out: number[] = [];
    const n = pickTimeCritical(d, picker, all, 6, out, 0, false);
    expect(n).toBe(6);
    expect(out).toEqual([12, 13, 14, 15, 32, 33]);
  });

  it('lets the earliest piece take up to firstMax blocks when the room for the others is spent', () => {
    const picker = new PiecePicker(10, 4 * B, 40 * B, B, 1);
    const d = new PieceDeadlines();
    d.set({}, 3, 100);
    d.set({}, 8, 200);
    const out: number[] = [];
    expect(pickTimeCritical(d, picker, all, 0, out, 0, false, undefined, 4)).toBe(4);
    expect(out).toEqual([12, 13, 14, 15]);
  });

  it('skips pieces the peer does not have', () => {
    const picker = new PiecePicker(10, 4 * B, 40 * B, B, 1);
    const d = new PieceDeadlines();
    d.set({}, 3, 0);
    expect(pickTimeCritical(d, picker, none, 4, [], 0, true)).toBe(0);
  });

  it('hands out duplicates of a late piece once its blocks are all requested, never to the peer that has them', () => {
    const picker = new PiecePicker(10, 4 * B, 40 * B, B, 1);
    const d = new PieceDeadlines();
    d.set({}, 3, 100);
    const first: number[] = [];
    pickTimeCritical(d, picker, all, 4, first, 0, true);
    expect(first).toEqual([12, 13, 14, 15]);
    const mine = new Set(first.slice(0, 2));
    const dup: number[] = [];
    expect(pickTimeCritical(d, picker, all, 4, dup, 50, true, (id) => mine.has(id))).toBe(0); // not late yet
    expect(pickTimeCritical(d, picker, all, 4, dup, 100, true, (id) => mine.has(id))).toBe(2);
    expect(dup).toEqual([14, 15]);
    expect(picker.requestCount(14)).toBe(2);
  });

  it('duplicates only the earliest late piece (a window of late pieces is not requested several times over)', () => {
    const picker = new PiecePicker(10, 4 * B, 40 * B, B, 1);
    const d = new PieceDeadlines();
    d.set({}, 3, 100);
    d.set({}, 5, 200);
    pickTimeCritical(d, picker, all, 8, [], 0, true);
    const dup: number[] = [];
    expect(pickTimeCritical(d, picker, all, 8, dup, 1000, true)).toBe(4);
    expect(dup).toEqual([12, 13, 14, 15]);
  });

  it('gives no duplicates to a peer not allowed them (a slow one)', () => {
    const picker = new PiecePicker(10, 4 * B, 40 * B, B, 1);
    const d = new PieceDeadlines();
    d.set({}, 3, 0);
    pickTimeCritical(d, picker, all, 4, [], 0, true);
    expect(pickTimeCritical(d, picker, all, 4, [], 1000, false)).toBe(0);
  });

  it('takes a piece of a skipped file only once it is wanted', () => {
    const picker = new PiecePicker(10, 4 * B, 40 * B, B, 1);
    picker.setPiecePriority(3, 0);
    const d = new PieceDeadlines();
    d.set({}, 3, 0);
    expect(pickTimeCritical(d, picker, all, 4, [], 0, true)).toBe(0);
    picker.setPiecePriority(3, 1);
    expect(pickTimeCritical(d, picker, all, 4, [], 0, true)).toBe(4);
  });

  it('leaves pieces we have alone', () => {
    const picker = new PiecePicker(10, 4 * B, 40 * B, B, 1);
    picker.setHave(3);
    const d = new PieceDeadlines();
    d.set({}, 3, 0);
    expect(pickTimeCritical(d, picker, all, 4, [], 0, true)).toBe(0);
  });
});

describe('read-ahead', () => {
  it('is sized from the consumption rate, at least two pieces, at most the cap', () => {
    expect(readAheadPieces(0, 1 << 20, 8, 64)).toBe(2);
    expect(readAheadPieces(1 << 20, 1 << 20, 8, 64)).toBe(9);
    expect(readAheadPieces(100 << 20, 1 << 20, 8, 64)).toBe(64);
  });

  it('a window\'s deadlines follow the reader\'s rate, the piece under it due at once', () => {
    const d = windowDeadlines(5 * 1000 + 500, 5, 7, 1000, 1 << 20, 10_000);
    expect(d.get(5)).toBe(10_000);
    expect(d.get(6)! - 10_000).toBe(Math.floor((500 / (1 << 20)) * 1000));
    expect(d.get(7)!).toBeGreaterThan(d.get(6)!);
  });

  it('a peer is fast at a quarter of the fastest rate; all are before rates exist', () => {
    expect(isFastPeer(0, 0)).toBe(true);
    expect(isFastPeer(250_000, 1_000_000)).toBe(true);
    expect(isFastPeer(200_000, 1_000_000)).toBe(false);
  });
});
