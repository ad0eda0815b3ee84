import type { PickReason, PickerCounters, PiecePicker } from '../algo/piece-picker.js';
import { RateLimiter } from '../algo/bandwidth.js';
import type { Counters } from '../stats/counters.js';
import { M } from '../stats/counters.js';
import { PieceDeadlines, isFastPeer, pickTimeCritical, type DeadlineOwner } from '../algo/piece-deadlines.js';
import type { PeerConnection } from '../peer/peer-connection.js';
import { BLOCK_SIZE } from '../block-size.js';
import { isUtp } from '../transport/utp/connection.js';

/** accept(): the block was not ours to use and the peer is being disconnected. */
export const BLOCK_DROPPED = -1;
/** accept(): a block we no longer wanted (cancelled or given up on): counted as redundant. */
export const BLOCK_REDUNDANT = -2;
/** Blocks a peer may send that we never requested (nor gave up on) before it is disconnected. */
const UNSOLICITED_BLOCK_TOLERANCE = 8;
/** While pieces are time-critical, a peer's ordinary requests cover this many seconds of its rate: a
 * deep queue of ordinary blocks would delay the critical ones behind it (peers answer in order). */
const CRITICAL_QUEUE_SECONDS = 0.1;
/** Time-critical blocks a peer may be asked for beyond its shallow queue: enough to keep the link busy
 * (a few bandwidth-delay products), few enough that a seek does not wait behind a read-ahead already sent
 * (a peer writes what it was asked for into its socket at once, and a cancel cannot take that back). */
const CRITICAL_EXTRA_BLOCKS = 8;
/** Queues stay shallow this long after the last deadline went (a player seeking closes one range and opens
 * the next: the deep queue refilled in between would be on the wire before the next seek's blocks). */
const CRITICAL_LINGER_MS = 5000;
/** A time-critical piece is duplicated to other peers only once this late: a seek's piece is due at once,
 * and duplicating it at once sent it three times over, each copy queued ahead of the next seek's blocks. */
const DUPLICATE_AFTER_MS = 150;

/** The picker's own counts and the session's picker.* counters they feed (libtorrent's names). */
const PICKER_METRICS: readonly (readonly [keyof PickerCounters, number])[] = [
  ['reject_piece_picks', M.picker_reject_piece_picks],
  ['unchoke_piece_picks', M.picker_unchoke_piece_picks],
  ['incoming_redundant_piece_picks', M.picker_incoming_redundant_piece_picks],
  ['incoming_piece_picks', M.picker_incoming_piece_picks],
  ['end_game_piece_picks', M.picker_end_game_piece_picks],
  ['snubbed_piece_picks', M.picker_snubbed_piece_picks],
  ['interesting_piece_picks', M.picker_interesting_piece_picks],
  ['hash_fail_piece_picks', M.picker_hash_fail_piece_picks],
  ['piece_picker_partial_loops', M.picker_piece_picker_partial_loops],
  ['piece_picker_suggest_loops', M.picker_piece_picker_suggest_loops],
  ['piece_picker_sequential_loops', M.picker_piece_picker_sequential_loops],
  ['piece_picker_reverse_rare_loops', M.picker_piece_picker_reverse_rare_loops],
  ['piece_picker_rare_loops', M.picker_piece_picker_rare_loops],
  ['piece_picker_rand_start_loops', M.picker_piece_picker_rand_start_loops],
  ['piece_picker_rand_loops', M.picker_piece_picker_rand_loops],
  ['piece_picker_busy_loops', M.picker_piece_picker_busy_loops],
];

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
  /** The picker's counts already added to the session's counters. */
  private readonly synced: PickerCounters;
  /** Time-critical pieces (set_piece_deadline, readers): picked first, from the fastest peers. */
  readonly deadlines = new PieceDeadlines();
  private fastestRate = 0;
  private fastestAt = 0;
  /** When pieces were last seen time-critical (see CRITICAL_LINGER_MS). */
  private criticalAt = -Infinity;

  constructor(
    private readonly torrent: RequestTorrent,
    private readonly picker: PiecePicker,
    private readonly counters: Counters,
    private readonly limiter: RateLimiter,
    private readonly sessionLimiter: RateLimiter,
    /** The TCP peer class's download limit (mixed_mode_algorithm): a TCP peer's requests pass it too. */
    private readonly tcpLimiter: RateLimiter = new RateLimiter(),
  ) {
    this.synced = { ...picker.counters };
  }

  /** Adds what the picker counted since the last call into the session's picker.* counters. */
  syncCounters(): void {
    const now = this.picker.counters;
    const synced = this.synced;
    for (const [name, metric] of PICKER_METRICS) {
      const delta = now[name] - synced[name];
      if (delta !== 0) this.counters.inc(metric, delta);
      synced[name] = now[name];
    }
  }

  /** The picker's block id of (index, offset), or -1 if no block starts there. */
  blockId(index: number, offset: number): number {
    const picker = this.picker;
    if (index >= picker.numPieces || offset % BLOCK_SIZE !== 0) return -1;
    const block = offset / BLOCK_SIZE;
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

  /**
   * Tops up the peer's request queue. `now` when the caller has it (the per-block path); `reason`, why we
   * ask (counted in the picker.<reason>_piece_picks counter, as libtorrent does); `criticalShare`, the
   * time-critical blocks this call may ask for at most.
   */
  request(peer: PeerConnection, now?: number, reason?: PickReason, criticalShare = Infinity): void {
    const picker = this.picker;
    if (peer.closed || peer.peerChoking || !peer.amInterested || this.torrent.paused) return;
    if (this.torrent.diskBacklogged) return;
    const critical = this.deadlines.size > 0;
    if (critical || this.criticalAt > 0) {
      now ??= Date.now();
      if (critical) this.criticalAt = now;
      else if (now - this.criticalAt > CRITICAL_LINGER_MS) this.criticalAt = -Infinity;
    }
    const shallow = this.criticalAt > 0 ? this.shallowTarget(peer) : 0;
    const target = shallow > 0 ? shallow : peer.queueTarget;
    let want = target - peer.outstanding.size;
    // The earliest critical piece (a reader waits for it) may go beyond that room: it is one piece.
    const criticalRoom = critical ? shallow + CRITICAL_EXTRA_BLOCKS - peer.outstanding.size : 0;
    const firstRoom = critical ? Math.min(this.picker.blocksPerPiece, criticalShare) : 0;
    // Refill in batches of an eighth of the queue: fewer picker calls, the pipe stays full.
    if (criticalRoom <= 0 && firstRoom <= 0 && (want <= 0 || (want < peer.queueTarget >> 3 && peer.outstanding.size > 0))) return;
    const tcpLimited = this.tcpLimiter.limited && !isUtp(peer.transport);
    const limited = this.limiter.limited || this.sessionLimiter.limited || tcpLimited;
    let allowed = Infinity;
    if (limited) {
      // Bandwidth is spent when a block is requested (libtorrent limits the socket; the effect is the same).
      now ??= Date.now();
      let available = Math.min(this.limiter.available(now), this.sessionLimiter.available(now));
      if (tcpLimited) available = Math.min(available, this.tcpLimiter.available(now));
      allowed = Math.floor(available / BLOCK_SIZE);
      if (allowed <= 0) {
        this.throttled = true;
        this.torrent.limiterWake();
        return;
      }
    }
    const out = this.pickOut;
    out.length = 0;
    const opts = peer.pickOptions;
    let n = 0;
    if (critical) {
      now ??= Date.now();
      const fast = isFastPeer(peer.downloadRate, this.fastest(now));
      // Slow peers take time-critical blocks nobody asked for yet; only fast ones take duplicates of late ones.
      n = pickTimeCritical(this.deadlines, picker, peer.pieces, Math.min(criticalRoom, allowed, criticalShare), out, now - DUPLICATE_AFTER_MS,
        fast && !peer.snubbed, opts.exclude, Math.min(firstRoom, allowed));
    }
    want = Math.min(want - n, allowed - n);
    if (want > 0) {
      opts.sequential = this.torrent.sequential;
      opts.snubbed = peer.snubbed;
      // libtorrent's strict end-game: a busy block (a duplicate) only for a peer with nothing outstanding.
      opts.allowBusy = peer.outstanding.size === 0 && n === 0;
      opts.reason = reason;
      n += picker.pick(peer.pieces, want, out, opts);
    }
    if (limited) {
      this.limiter.consume(n * BLOCK_SIZE);
      this.sessionLimiter.consume(n * BLOCK_SIZE);
      if (tcpLimited) this.tcpLimiter.consume(n * BLOCK_SIZE);
    }
    const bpp = picker.blocksPerPiece;
    for (let i = 0; i < n; i++) {
      const id = out[i]!;
      const piece = (id / bpp) | 0;
      const block = id - piece * bpp;
      peer.outstanding.add(id);
      peer.request(piece, block * BLOCK_SIZE, picker.blockLength(piece, block));
    }
    if (n > 0) peer.lastRequestAt = now ?? Date.now();
    else if (peer.outstanding.size === 0) this.updateInterest(peer);
  }

  /** The fastest peer's download rate, refreshed once a second. */
  private fastest(now: number): number {
    if (now - this.fastestAt >= 1000) {
      this.fastestAt = now;
      let best = 0;
      for (const p of this.torrent.peers) if (!p.peerChoking && p.downloadRate > best) best = p.downloadRate;
      this.fastestRate = best;
    }
    return this.fastestRate;
  }

  /** While pieces are time-critical: the ordinary requests a peer keeps (see CRITICAL_QUEUE_SECONDS). */
  private shallowTarget(peer: PeerConnection): number {
    return Math.min(peer.queueTarget, Math.max(4, Math.ceil((peer.downloadRate * CRITICAL_QUEUE_SECONDS) / BLOCK_SIZE)));
  }

  /**
   * Time-critical pieces changed: when `urgent` (a reader seeked, or waits), requests queued beyond the
   * shallow target are cancelled, newest first, since peers answer in order and they would delay the critical blocks;
   * and the earliest piece is shared out among the peers that have it (each sends a part: it comes several times
   * sooner than whole from one). Then every peer is asked at once, fastest first, instead of at its next block.
   */
  requestCritical(urgent: boolean, owner: DeadlineOwner): void {
    const peers = [...this.torrent.peers].sort((a, b) => b.downloadRate - a.downloadRate);
    if (urgent && this.deadlines.size > 0) {
      for (const p of peers) this.trimForCritical(p, owner);
      const first = this.deadlines.piece(0);
      let sources = 0;
      for (const p of peers) if (!p.closed && !p.peerChoking && p.amInterested && p.pieces.get(first)) sources++;
      if (sources > 1) {
        const share = Math.ceil(this.picker.blocksInPiece(first) / sources);
        for (const p of peers) this.request(p, undefined, undefined, share);
      }
    }
    for (const p of peers) this.request(p);
  }

  private trimForCritical(peer: PeerConnection, owner: DeadlineOwner): void {
    let excess = peer.outstanding.size - this.shallowTarget(peer);
    if (excess <= 0 || peer.closed) return;
    const picker = this.picker;
    const bpp = picker.blocksPerPiece;
    const ids = [...peer.outstanding];
    const first = this.deadlines.piece(0);
    for (let i = ids.length - 1; i >= 0 && excess > 0; i--) {
      // The owner's read-ahead stays (cancelling it at every catch-up would throw away what is on the wire);
      // the earliest critical piece's go too, to be asked for again at the front. Another owner's window
      // (a reader closing as the player seeks) goes like ordinary requests; its pieces are asked for again.
      const id = ids[i]!;
      const piece = (id / bpp) | 0;
      if (piece !== first && this.deadlines.owns(owner, piece)) continue;
      const block = id - piece * bpp;
      peer.outstanding.delete(id);
      picker.abortRequest(id);
      peer.cancel(piece, block * BLOCK_SIZE, picker.blockLength(piece, block));
      // It may be on the wire already: tolerated when it comes.
      peer.stragglers++;
      excess--;
    }
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
    if (len !== this.picker.blockLength(index, offset / BLOCK_SIZE)) {
      this.picker.abortRequest(id);
      peer.protocolError('block of the wrong length');
      return BLOCK_DROPPED;
    }
    return id;
  }

  /** End-game: the block came from one peer, so the duplicate requests elsewhere are cancelled. */
  cancelElsewhere(from: PeerConnection | null, id: number, index: number, offset: number, len: number): void {
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
