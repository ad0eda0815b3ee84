import type { FileLayout } from '../storage/file-layout.js';

/**
 * Where a torrent's BEP 47 pad files fall in its pieces. Pad bytes are not the user's: the status, the
 * announce's `left` and the payload counters leave them out (libtorrent's total_wanted and total_done do).
 */
export class PadBytes {
  /** Pad bytes in all. */
  readonly total: number;
  /** Per piece with pad bytes: [start, end) offsets in the piece, flat. */
  private readonly ranges = new Map<number, number[]>();
  private readonly perPiece = new Map<number, number>();

  constructor(layout: FileLayout) {
    let total = 0;
    const pl = layout.pieceLength;
    for (const f of layout.files) {
      if (!f.pad || f.length === 0) continue;
      total += f.length;
      for (let at = f.offset, end = f.offset + f.length; at < end;) {
        const piece = Math.floor(at / pl);
        const stop = Math.min(end, (piece + 1) * pl);
        let r = this.ranges.get(piece);
        if (!r) this.ranges.set(piece, (r = []));
        r.push(at - piece * pl, stop - piece * pl);
        this.perPiece.set(piece, (this.perPiece.get(piece) ?? 0) + stop - at);
        at = stop;
      }
    }
    this.total = total;
  }

  /** The pieces that hold pad bytes. */
  pieces(): IterableIterator<number> {
    return this.ranges.keys();
  }

  /** Writes zeros over the piece's pad bytes in `buf` (the piece's bytes from its start). */
  zero(piece: number, buf: Uint8Array): void {
    const r = this.ranges.get(piece);
    if (r === undefined) return;
    for (let i = 0; i < r.length; i += 2) buf.fill(0, r[i]!, Math.min(r[i + 1]!, buf.length));
  }

  /** Pad bytes in the piece. */
  inPiece(piece: number): number {
    return this.perPiece.get(piece) ?? 0;
  }

  /** Pad bytes among `length` bytes at `offset` of the piece (no allocation: per block). */
  inRange(piece: number, offset: number, length: number): number {
    const r = this.ranges.get(piece);
    if (r === undefined) return 0;
    let n = 0;
    const end = offset + length;
    for (let i = 0; i < r.length; i += 2) {
      const lo = Math.max(offset, r[i]!), hi = Math.min(end, r[i + 1]!);
      if (hi > lo) n += hi - lo;
    }
    return n;
  }
}
