/**
 * BEP 52's hash messages between a v2 (or hybrid) torrent and its peers, both ways:
 * - asking v2 peers for the hashes the torrent lacks (HashPicker decides which: block hashes of a failed
 *   piece, piece layers of a magnet), at most MAX_OUTSTANDING per peer, and taking their answers (hashes
 *   that do not prove out end the connection, as in libtorrent);
 * - answering other peers' requests from our trees, within a budget per peer so a request flood costs a
 *   bounded amount of upload (beyond it we reject; a peer that keeps going is disconnected).
 */
import { MSG } from '../wire/codec.js';
import type { PeerConnection } from '../peer/peer-connection.js';
import { HashPicker, type HashRequest } from '../metainfo/hash-picker.js';
import { fileByRoot, type V2Info } from '../metainfo/v2.js';

/** Hash requests we keep outstanding at one peer (libtorrent: 2). */
export const MAX_OUTSTANDING = 2;
/** Hash requests answered per peer: a burst, then REFILL_PER_SECOND; beyond, rejected. */
export const ANSWER_BURST = 64;
export const REFILL_PER_SECOND = 8;
/** Rejected requests in a row beyond which a peer is flooding and is disconnected. */
export const FLOOD_REJECTS = 256;

export interface HashExchangeHost {
  readonly v2: V2Info;
  readonly peers: Iterable<PeerConnection>;
  /** Hashes were added to the trees: pieces waiting for them may be judged now. */
  hashesArrived(): void;
}

interface Budget {
  tokens: number;
  at: number;
  rejectedInARow: number;
}

export class HashExchange {
  readonly picker: HashPicker;
  private readonly outstanding = new Map<PeerConnection, HashRequest[]>();
  private readonly budgets = new WeakMap<PeerConnection, Budget>();
  /** Hashes answered and received, for tests and stats. */
  readonly stats = { answered: 0, rejected: 0, received: 0, refused: 0 };

  constructor(private readonly host: HashExchangeHost) {
    this.picker = new HashPicker(host.v2);
  }

  /** Asks `peer` for wanted hashes, if it speaks v2 and has room. */
  request(peer: PeerConnection, now = Date.now()): void {
    if (!peer.v2 || peer.closed) return;
    let mine = this.outstanding.get(peer);
    while ((mine?.length ?? 0) < MAX_OUTSTANDING) {
      const req = this.picker.pick(now, (p) => peer.pieces.get(p));
      if (!req) return;
      if (!mine) this.outstanding.set(peer, mine = []);
      mine.push(req);
      peer.sendHashMessage(MSG.hashRequest, req.file.tree.root, req.base, req.index, req.count, req.proofLayers);
    }
  }

  requestAll(now = Date.now()): void {
    for (const p of this.host.peers) this.request(p, now);
  }

  /**
   * A piece failed and its bad blocks cannot be named yet: its block hashes are asked of v2 peers that have
   * it. False when no connected peer could answer (the piece then fails as a whole).
   */
  wantBlockHashes(piece: number): boolean {
    let any = false;
    for (const p of this.host.peers) if (p.v2 && !p.closed && p.pieces.get(piece)) any = true;
    if (!any) return false;
    this.picker.wantBlockHashes(piece);
    this.requestAll();
    return true;
  }

  onRequest(peer: PeerConnection, root: Uint8Array, base: number, index: number, count: number, proofLayers: number, now = Date.now()): void {
    const b = this.budget(peer, now);
    const file = fileByRoot(this.host.v2, root);
    const hashes = b.tokens >= 1 && file ? file.tree.getHashes(base, index, count, proofLayers) : null;
    if (!hashes) {
      this.stats.rejected++;
      if (++b.rejectedInARow > FLOOD_REJECTS) {
        peer.close(`hash request flood: more than ${FLOOD_REJECTS} refused in a row`);
        return;
      }
      peer.sendHashMessage(MSG.hashReject, root, base, index, count, proofLayers);
      return;
    }
    b.tokens--;
    b.rejectedInARow = 0;
    this.stats.answered++;
    peer.sendHashMessage(MSG.hashes, root, base, index, count, proofLayers, hashes);
  }

  onHashes(peer: PeerConnection, root: Uint8Array, base: number, index: number, count: number, proofLayers: number, hashes: Uint8Array): void {
    const req = this.take(peer, root, base, index, count, proofLayers);
    if (!req) return; // not asked (or asked and given up on): ignored
    if (!this.picker.hashes(req, hashes)) {
      this.stats.refused++;
      peer.close('sent hashes that do not match the torrent');
      return;
    }
    this.stats.received++;
    this.host.hashesArrived();
    this.request(peer);
  }

  onReject(peer: PeerConnection, root: Uint8Array, base: number, index: number, count: number, proofLayers: number): void {
    const req = this.take(peer, root, base, index, count, proofLayers);
    if (!req) return;
    this.picker.rejected(req);
    // Another peer may have them; this one is not asked the same again before the retry time.
    for (const p of this.host.peers) if (p !== peer) this.request(p);
  }

  /** The peer is gone: what it was asked may be asked of others. */
  peerGone(peer: PeerConnection): void {
    for (const req of this.outstanding.get(peer) ?? []) this.picker.rejected(req);
    this.outstanding.delete(peer);
  }

  private take(peer: PeerConnection, root: Uint8Array, base: number, index: number, count: number, proofLayers: number): HashRequest | undefined {
    const mine = this.outstanding.get(peer);
    const i = mine?.findIndex((r) => r.base === base && r.index === index && r.count === count && r.proofLayers === proofLayers
      && Buffer.compare(r.file.tree.root, root) === 0) ?? -1;
    if (i < 0) return undefined;
    return mine!.splice(i, 1)[0];
  }

  private budget(peer: PeerConnection, now: number): Budget {
    let b = this.budgets.get(peer);
    if (!b) this.budgets.set(peer, b = { tokens: ANSWER_BURST, at: now, rejectedInARow: 0 });
    b.tokens = Math.min(ANSWER_BURST, b.tokens + ((now - b.at) / 1000) * REFILL_PER_SECOND);
    b.at = now;
    return b;
  }
}
