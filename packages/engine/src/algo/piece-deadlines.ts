/**
 * Time-critical pieces (libtorrent's set_piece_deadline): each owner (a reader, or the user through the
 * handle) gives pieces a deadline; a piece's deadline is the earliest any owner gave it. The pieces are
 * kept in deadline order so the request path picks them first without sorting or allocating per block.
 * Pure: no clock, no torrent; times are whatever the caller passes (ms).
 */
import type { PiecePicker, PieceSet } from './piece-picker.js';

/** Below this rate (bytes/s, 16 KiB/s) the fastest peer's rate says too little to call any peer slow. */
const MIN_MEASURED_RATE = 0x4000;

export type DeadlineOwner = object;

export class PieceDeadlines {
  private readonly byOwner = new Map<DeadlineOwner, Map<number, number>>();
  /** Time-critical pieces, earliest deadline first (rebuilt on change: changes are per piece, not per block). */
  private pieces = new Int32Array(16);
  private at = new Float64Array(16);
  private count = 0;

  /** Number of time-critical pieces. */
  get size(): number {
    return this.count;
  }

  /** The i-th time-critical piece, earliest deadline first. */
  piece(i: number): number {
    return this.pieces[i]!;
  }

  /** The i-th earliest deadline. */
  deadlineAt(i: number): number {
    return this.at[i]!;
  }

  /** The piece's effective deadline, undefined when it has none. */
  deadline(piece: number): number | undefined {
    let best: number | undefined;
    for (const m of this.byOwner.values()) {
      const d = m.get(piece);
      if (d !== undefined && (best === undefined || d < best)) best = d;
    }
    return best;
  }

  /** Whether this owner gave the piece a deadline. */
  owns(owner: DeadlineOwner, piece: number): boolean {
    return this.byOwner.get(owner)?.has(piece) ?? false;
  }

  set(owner: DeadlineOwner, piece: number, at: number): void {
    let m = this.byOwner.get(owner);
    if (!m) this.byOwner.set(owner, (m = new Map()));
    m.set(piece, at);
    this.rebuild();
  }

  /** Sets several of one owner's deadlines at once, replacing all its others (a reader's window moving). */
  replace(owner: DeadlineOwner, deadlines: ReadonlyMap<number, number>): void {
    if (deadlines.size === 0) this.byOwner.delete(owner);
    else this.byOwner.set(owner, new Map(deadlines));
    this.rebuild();
  }

  reset(owner: DeadlineOwner, piece: number): void {
    const m = this.byOwner.get(owner);
    if (!m?.delete(piece)) return;
    if (m.size === 0) this.byOwner.delete(owner);
    this.rebuild();
  }

  /** Every deadline of this owner (a reader closed or seeked). */
  clearOwner(owner: DeadlineOwner): void {
    if (this.byOwner.delete(owner)) this.rebuild();
  }

  /** The piece is verified: nobody waits for it any more. */
  pieceDone(piece: number): void {
    let changed = false;
    for (const [owner, m] of this.byOwner) {
      if (m.delete(piece)) changed = true;
      if (m.size === 0) this.byOwner.delete(owner);
    }
    if (changed) this.rebuild();
  }

  clear(): void {
    this.byOwner.clear();
    this.count = 0;
  }

  private rebuild(): void {
    const eff = new Map<number, number>();
    for (const m of this.byOwner.values()) {
      for (const [p, d] of m) {
        const cur = eff.get(p);
        if (cur === undefined || d < cur) eff.set(p, d);
      }
    }
    const list = [...eff].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    if (list.length > this.pieces.length) {
      let cap = this.pieces.length;
      while (cap < list.length) cap *= 2;
      this.pieces = new Int32Array(cap);
      this.at = new Float64Array(cap);
    }
    for (let i = 0; i < list.length; i++) {
      this.pieces[i] = list[i]![0];
      this.at[i] = list[i]![1];
    }
    this.count = list.length;
  }
}

/**
 * The deadline pass of a pick: free blocks of time-critical pieces the peer has, earliest deadline first;
 * the earliest piece, once past its deadline (late: a reader waits for it), may be requested again from
 * this peer as a duplicate (`duplicates` false keeps slow peers from taking them). Only that one: when the
 * swarm is slower than the reader every piece of its window turns late, and duplicating them all would
 * spend the bandwidth several times over. The earliest piece may take up to `firstMax` blocks even when `max`
 * leaves no room (it is the one a reader waits for). Returns how many block ids it appended to `out`.
 */
export function pickTimeCritical(
  deadlines: PieceDeadlines,
  picker: PiecePicker,
  peer: PieceSet,
  max: number,
  out: number[],
  now: number,
  duplicates: boolean,
  exclude?: (blockId: number) => boolean,
  firstMax = max,
): number {
  const count = deadlines.size;
  if (count === 0) return 0;
  const late = duplicates && deadlines.deadlineAt(0) <= now;
  let n = picker.pickPiece(deadlines.piece(0), peer, Math.max(max, firstMax), out, late, exclude);
  for (let i = 1; i < count && n < max; i++) n += picker.pickPiece(deadlines.piece(i), peer, max - n, out, false, exclude);
  return n;
}

/** A peer worth time-critical requests: at least a quarter of the fastest peer's rate (all are, before rates exist). */
export function isFastPeer(rate: number, fastestRate: number): boolean {
  return fastestRate < MIN_MEASURED_RATE || rate * 4 >= fastestRate;
}

/**
 * How many pieces a reader keeps ahead of its position: `seconds` of its consumption rate, at least 2
 * pieces, at most `maxPieces`.
 */
export function readAheadPieces(bytesPerSecond: number, pieceLength: number, seconds: number, maxPieces: number): number {
  const want = Math.ceil((Math.max(0, bytesPerSecond) * seconds) / pieceLength);
  return Math.max(2, Math.min(maxPieces, want + 1));
}

/**
 * Deadlines for a reader's window: piece k of the window is due when the reader, at its rate, reaches it
 * (the first one at once).
 */
export function windowDeadlines(
  position: number,
  firstPiece: number,
  lastPiece: number,
  pieceLength: number,
  bytesPerSecond: number,
  now: number,
): Map<number, number> {
  const out = new Map<number, number>();
  const rate = Math.max(bytesPerSecond, 64 * 1024);
  for (let p = firstPiece; p <= lastPiece; p++) {
    const ahead = Math.max(0, p * pieceLength - position);
    out.set(p, now + Math.floor((ahead / rate) * 1000));
  }
  return out;
}
