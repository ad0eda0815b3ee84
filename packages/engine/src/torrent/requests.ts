import type { PiecePicker } from '../algo/piece-picker.js';
import type { RateLimiter } from '../algo/bandwidth.js';
import type { Counters } from '../stats/counters.js';
import { M } from '../stats/counters.js';
import type { PeerConnection } from '../peer/peer-connection.js';

export const BLOCK = 16384;
/** accept(): the block was not ours to use and the peer is being disconnected. */
export const BLOCK_DROPPED = -1;
/** accept(): a block we no longer wanted (cancelled or given up on): counted as redundant. */
export const BLOCK_REDUNDANT = -2;
/** Blocks a peer may send that we never requested (nor gave up on) before it is disconnected. */
const UNSOLICITED_BLOCK_TOLERANCE = 8;

/** What the requests need of their torrent, read on every top-up. */
export interface RequestTorrent {
  readonly paused: boolean;
  readonly sequential: boolean;
  /** Verified pieces wait for the disk: stop requesting (back-pressure). */
  readonly diskBacklogged: boolean;
  readonly peers: Iterable<PeerConnection>;
  /** Requests were held back for bandwidth: make sure the limiter clock runs. */
  limiterWake(): void;
}

/**
 * The picker ↔ peer glue (libtorrent's request_blocks.cpp): which blocks a peer is asked for, what its
 * requests become when it chokes, snubs or leaves, and whether an arriving block was asked for.
 */
export class BlockRequests {
  /** Requests were held back for download bandwidth. */
  throttled = false;
  private readonly pickOut: number[] = [];

  constructor(
    private readonly torrent: RequestTorrent,
    private readonly picker: PiecePicker,
    private readonly counters: Counters,
    private readonly limiter: RateLimiter,
    private readonly sessionLimiter: RateLimiter,
  ) {}

  /** The picker's block id of (index, offset), or -1 if no block starts there. */
  blockId(index: number, offset: number): number {
    const picker = this.picker;
    if (index >= picker.numPieces || offset % BLOCK !== 0) return -1;
    const block = offset / BLOCK;
    if (block >= picker.blocksInPiece(index)) return -1;
    return index * picker.blocksPerPiece + block;
  }

  wants(piece: number): boolean {
    const picker = this.picker;
    return !picker.have(piece) && picker.piecePriority(piece) > 0;
  }

  /** Interested iff the peer has a piece we want and lack. */
  updateInterest(peer: PeerConnection): void {
    const picker = this.picker;
    if (peer.closed) return;
    if (picker.isFinished()) {
      peer.notInterested();
      return;
    }
    const pieces = peer.pieces;
    let want = false;
    for (let i = 0; i < picker.numPieces && !want; i++) want = pieces.get(i) && this.wants(i);
    if (want) peer.interested();
    else peer.notInterested();
  }

  /** Tops up the peer's request queue. `now` when the caller has it (the per-block path). */
  request(peer: PeerConnection, now?: number): void {
    const picker = this.picker;
    if (peer.closed || peer.peerChoking || !peer.amInterested || this.torrent.paused) return;
    if (this.torrent.diskBacklogged) return;
    let want = peer.queueTarget - peer.outstanding.size;
    // Refill in batches of an eighth of the queue: fewer picker calls, the pipe stays full.
    if (want <= 0 || (want < peer.queueTarget >> 3 && peer.outstanding.size > 0)) return;
    const limited = this.limiter.limited || this.sessionLimiter.limited;
    if (limited) {
      // Bandwidth is spent when a block is requested (libtorrent limits the socket; the effect is the same).
      now ??= Date.now();
      const allowed = Math.min(this.limiter.available(now), this.sessionLimiter.available(now));
      want = Math.min(want, Math.floor(allowed / BLOCK));
      if (want <= 0) {
        this.throttled = true;
        this.torrent.limiterWake();
        return;
      }
    }
    const out = this.pickOut;
    out.length = 0;
    const opts = peer.pickOptions;
    opts.sequential = this.torrent.sequential;
    opts.snubbed = peer.snubbed;
    // libtorrent's strict end-game: a busy block (a duplicate) only for a peer with nothing outstanding.
    opts.allowBusy = peer.outstanding.size === 0;
    const n = picker.pick(peer.pieces, want, out, opts);
    if (limited) {
      this.limiter.consume(n * BLOCK);
      this.sessionLimiter.consume(n * BLOCK);
    }
    const bpp = picker.blocksPerPiece;
    for (let i = 0; i < n; i++) {
      const id = out[i]!;
      const piece = (id / bpp) | 0;
      const block = id - piece * bpp;
      peer.outstanding.add(id);
      peer.request(piece, block * BLOCK, picker.blockLength(piece, block));
    }
    if (n > 0) peer.lastRequestAt = now ?? Date.now();
    else if (peer.outstanding.size === 0) this.updateInterest(peer);
  }

  /** Bandwidth came back: peers held back are asked again. */
  unthrottle(): void {
    if (!this.throttled) return;
    this.throttled = false;
    for (const p of this.torrent.peers) this.request(p);
  }

  /** Gives the peer's requests back to the picker; `stragglers`: the peer may still send them (no cancel went out). */
  abortAll(peer: PeerConnection, stragglers: boolean): void {
    const picker = this.picker;
    for (const id of peer.outstanding) picker.abortRequest(id);
    if (stragglers) peer.stragglers += peer.outstanding.size;
    peer.outstanding.clear();
  }

  /** The peer rejected a request (BEP 6). */
  rejected(peer: PeerConnection, index: number, offset: number): void {
    const id = this.blockId(index, offset);
    if (id >= 0 && peer.outstanding.delete(id)) this.picker.abortRequest(id);
    this.counters.inc(M.peer_piece_rejects);
  }

  /**
   * A block arrived: its id if we asked this peer for it and it has the right length; BLOCK_REDUNDANT if
   * we gave up on it; BLOCK_DROPPED if the peer is disconnected (a stream of unrequested blocks, a wrong length).
   */
  accept(peer: PeerConnection, index: number, offset: number, len: number): number {
    const id = this.blockId(index, offset);
    // Cancelled or given up on before it arrived (end-game, snubbing), or never asked for.
    if (id < 0 || !peer.outstanding.delete(id)) return unsolicitedBlock(peer, this.counters, len);
    if (len !== this.picker.blockLength(index, offset / BLOCK)) {
      this.picker.abortRequest(id);
      peer.protocolError('block of the wrong length');
      return BLOCK_DROPPED;
    }
    return id;
  }

  /** End-game: the block came from one peer, so the duplicate requests elsewhere are cancelled. */
  cancelElsewhere(from: PeerConnection, id: number, index: number, offset: number, len: number): void {
    if (this.picker.requestCount(id) === 0) return;
    for (const p of this.torrent.peers) {
      if (p === from || !p.outstanding.delete(id)) continue;
      this.picker.abortRequest(id);
      p.cancel(index, offset, len);
      this.counters.inc(M.ses_waste_piece_cancelled, len);
    }
  }
}

/**
 * A block from a peer that has no requests of ours (before the metadata: nothing was asked): a few are
 * tolerated (cancelled or given up on, a duplicate answer), a stream of them ends the connection.
 */
export function unsolicitedBlock(peer: PeerConnection, counters: Counters, len: number): number {
  if (peer.stragglers > 0) peer.stragglers--;
  else if (++peer.unsolicitedBlocks > UNSOLICITED_BLOCK_TOLERANCE) {
    peer.protocolError(`sent ${peer.unsolicitedBlocks} blocks we never requested`);
    return BLOCK_DROPPED;
  }
  counters.inc(M.net_recv_redundant_bytes, len);
  return BLOCK_REDUNDANT;
}
