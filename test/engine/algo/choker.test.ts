import { describe, it, expect } from '@jest/globals';
import { Choker } from '../../../packages/engine/src/algo/choker.js';
import type { ChokeDecision, ChokerPeer } from '../../../packages/engine/src/algo/choker.js';

const SEC = 1000;
const PIECE = 256 * 1024;

function peer(id: number, over: Partial<ChokerPeer> = {}): ChokerPeer {
  return {
    id,
    interested: true,
    choked: true,
    seeding: false,
    downloadedInRound: 0,
    uploadedSinceUnchoke: 0,
    unchokedAt: 0,
    lastOptimisticAt: 0,
    connectedAt: id, // lower ids connected earlier
    pieceLength: PIECE,
    ...over,
  };
}

/** The peers as the caller would update them after applying a decision at `now`. */
function apply(peers: readonly ChokerPeer[], d: ChokeDecision, now: number): ChokerPeer[] {
  return peers.map((p) => {
    const unchoked = d.unchoke.has(p.id) || d.optimistic.has(p.id);
    return {
      ...p,
      choked: !unchoked,
      unchokedAt: unchoked ? (p.choked ? now : p.unchokedAt) : 0,
      uploadedSinceUnchoke: unchoked && !p.choked ? p.uploadedSinceUnchoke : 0,
      lastOptimisticAt: d.optimistic.has(p.id) && p.choked ? now : p.lastOptimisticAt,
      downloadedInRound: 0,
    };
  });
}

const unchokedIds = (d: ChokeDecision): number[] => [...d.unchoke, ...d.optimistic].sort((a, b) => a - b);

describe('Choker', () => {
  it('reports 8 unchoke slots by default', () => {
    expect(new Choker().numUnchokeSlots).toBe(8);
    expect(new Choker().numOptimisticSlots).toBe(1);
  });

  it('unchokes at most the regular slots plus the optimistic slots', () => {
    const choker = new Choker();
    const peers = Array.from({ length: 20 }, (_, i) => peer(i + 1));
    const d = choker.rechoke(peers, 1000 * SEC, true);
    expect(d.unchoke.size).toBe(7);
    expect(d.optimistic.size).toBe(1);
    expect(unchokedIds(d).length).toBe(8);
  });

  it('derives optimistic slots from the slot count when set to auto', () => {
    const choker = new Choker({ unchoke_slots_limit: 20 });
    expect(choker.numOptimisticSlots).toBe(4);
    choker.updateSettings({ num_optimistic_unchoke_slots: 2 });
    expect(choker.numOptimisticSlots).toBe(2);
  });

  it('gives regular slots to the peers that sent us the most in the last round', () => {
    const choker = new Choker({ unchoke_slots_limit: 4 }); // 3 regular + 1 optimistic
    const peers = [10, 500, 40, 300, 0, 200].map((bytes, i) => peer(i + 1, { downloadedInRound: bytes }));
    const d = choker.rechoke(peers, 1000 * SEC, true);
    expect([...d.unchoke].sort((x, y) => x - y)).toEqual([2, 4, 6]);
  });

  it('never unchokes a peer that is not interested', () => {
    const choker = new Choker();
    const peers = [peer(1, { interested: false, downloadedInRound: 1e6, choked: false, unchokedAt: 1 }), peer(2)];
    const d = choker.rechoke(peers, 1000 * SEC, true);
    expect(unchokedIds(d)).toEqual([2]);
  });

  it('unchokes every interested peer when slots are unlimited', () => {
    const choker = new Choker({ unchoke_slots_limit: -1 });
    const peers = Array.from({ length: 50 }, (_, i) => peer(i + 1, { interested: i % 5 !== 0 }));
    const d = choker.rechoke(peers, 1000 * SEC, true);
    expect(d.unchoke.size).toBe(40);
    expect(d.optimistic.size).toBe(0);
    expect(choker.numUnchokeSlots).toBe(2147483647);
  });

  it('unchokes nobody with zero slots', () => {
    const choker = new Choker({ unchoke_slots_limit: 0 });
    const d = choker.rechoke([peer(1), peer(2)], 1000 * SEC, true);
    expect(unchokedIds(d)).toEqual([]);
  });

  it('gives the optimistic slot to the choked peer that waited longest and keeps it between rotations', () => {
    const choker = new Choker({ unchoke_slots_limit: 5 }); // 4 regular + 1 optimistic
    let peers = [1, 2, 3, 4].map((id) => peer(id, { downloadedInRound: 1000 * id }));
    peers.push(peer(5, { lastOptimisticAt: 500 * SEC }), peer(6, { lastOptimisticAt: 100 * SEC }), peer(7, { lastOptimisticAt: 300 * SEC }));
    let t = 1000 * SEC;
    let d = choker.rechoke(peers, t, true);
    expect([...d.optimistic]).toEqual([6]);

    peers = apply(peers, d, t);
    t += 15 * SEC;
    d = choker.rechoke(peers, t, false);
    expect([...d.optimistic]).toEqual([6]);

    peers = apply(peers, d, t);
    t += 15 * SEC;
    d = choker.rechoke(peers, t, true);
    expect([...d.optimistic]).toEqual([7]);
    expect(unchokedIds(d)).not.toContain(6);
  });

  it('prefers peers never optimistically unchoked for the optimistic slot', () => {
    const choker = new Choker({ unchoke_slots_limit: 2 });
    const peers = [peer(1, { downloadedInRound: 10 }), peer(2, { lastOptimisticAt: 1 }), peer(3)];
    const d = choker.rechoke(peers, 1000 * SEC, true);
    expect([...d.optimistic]).toEqual([3]);
  });

  it('rotates a seeding peer out after its quota and a minute so a waiting peer gets a slot', () => {
    const choker = new Choker({ unchoke_slots_limit: 2 }); // 1 regular + 1 optimistic
    const quota = 20 * PIECE;
    const a = peer(1, { seeding: true, choked: false, unchokedAt: 0 });
    const b = peer(2, { seeding: true });
    const c = peer(3, { seeding: true });

    // Over its quota but unchoked for only 30 s: A keeps its slot, B gets the optimistic one.
    let d = choker.rechoke([{ ...a, uploadedSinceUnchoke: quota + 1 }, b, c], 30 * SEC, true);
    expect([...d.unchoke]).toEqual([1]);
    expect([...d.optimistic]).toEqual([2]);

    // Unchoked 61 s but under quota: A still keeps it.
    const bOpt = { ...b, choked: false, unchokedAt: 30 * SEC, lastOptimisticAt: 30 * SEC };
    d = choker.rechoke([{ ...a, uploadedSinceUnchoke: quota }, bOpt, c], 61 * SEC, false);
    expect([...d.unchoke]).toEqual([1]);

    // Over quota and over a minute: A rotates out, B takes the regular slot, C the optimistic one.
    d = choker.rechoke([{ ...a, uploadedSinceUnchoke: quota + 1 }, bOpt, c], 62 * SEC, false);
    expect([...d.unchoke]).toEqual([2]);
    expect([...d.optimistic]).toEqual([3]);
    expect(unchokedIds(d)).not.toContain(1);
  });

  it('gives a regular slot to the peer that has waited longest when rates tie', () => {
    const choker = new Choker({ unchoke_slots_limit: 2 });
    const now = 1000 * SEC;
    const peers = [peer(1, { connectedAt: 900 * SEC }), peer(2, { connectedAt: 100 * SEC }), peer(3, { connectedAt: 500 * SEC })];
    const d = choker.rechoke(peers, now, true);
    expect([...d.unchoke]).toEqual([2]);
  });

  it('frees the slot of a peer that disconnected', () => {
    const choker = new Choker({ unchoke_slots_limit: 2 });
    let peers = [peer(1, { downloadedInRound: 100 }), peer(2), peer(3)];
    let t = 1000 * SEC;
    let d = choker.rechoke(peers, t, true);
    expect(unchokedIds(d)).toEqual([1, 2]);

    peers = apply(peers, d, t).filter((p) => p.id !== 2);
    t += 15 * SEC;
    d = choker.rechoke(peers, t, false);
    expect(unchokedIds(d)).toEqual([1, 3]);
    expect([...d.optimistic]).toEqual([3]);
  });

  it('fills the optimistic slot when its peer loses interest', () => {
    const choker = new Choker({ unchoke_slots_limit: 2 });
    let peers = [peer(1, { downloadedInRound: 100 }), peer(2), peer(3)];
    let t = 1000 * SEC;
    let d = choker.rechoke(peers, t, true);
    expect([...d.optimistic]).toEqual([2]);

    peers = apply(peers, d, t).map((p) => (p.id === 2 ? { ...p, interested: false } : p));
    t += 5 * SEC;
    d = choker.rechoke(peers, t, false);
    expect([...d.optimistic]).toEqual([3]);
    expect(unchokedIds(d)).not.toContain(2);
  });

  it('promotes an optimistic peer that earns a regular slot and hands the optimistic slot on', () => {
    const choker = new Choker({ unchoke_slots_limit: 3 }); // 2 regular + 1 optimistic
    let peers = [peer(1, { downloadedInRound: 100 }), peer(2, { downloadedInRound: 50 }), peer(3), peer(4)];
    let t = 1000 * SEC;
    let d = choker.rechoke(peers, t, true);
    expect([...d.optimistic]).toEqual([3]);

    peers = apply(peers, d, t).map((p) => (p.id === 3 ? { ...p, downloadedInRound: 500 } : p.id === 1 ? { ...p, downloadedInRound: 100 } : p));
    t += 15 * SEC;
    d = choker.rechoke(peers, t, false);
    expect([...d.unchoke].sort((x, y) => x - y)).toEqual([1, 3]);
    expect([...d.optimistic]).toEqual([4]);
  });
});
