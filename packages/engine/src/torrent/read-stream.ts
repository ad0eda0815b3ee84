import { Readable } from 'node:stream';
import { readAheadPieces, windowDeadlines, type DeadlineOwner } from '../algo/piece-deadlines.js';

/** What a reader needs of its torrent (the handle wires it to the torrent and the session's events). */
export interface ReadStreamSource {
  readonly pieceLength: number;
  /** Whether the piece is verified (and so readable). */
  have(piece: number): boolean;
  /** Verified data only. */
  read(piece: number, offset: number, length: number): Promise<Uint8Array>;
  /**
   * Replaces the owner's piece deadlines (Date.now() times); `urgent` when the reader needs the first of
   * them now (a seek, or it caught up with the download).
   */
  setDeadlines(owner: DeadlineOwner, deadlines: ReadonlyMap<number, number>, urgent: boolean): void;
  /** Drops every deadline of the owner. */
  clearDeadlines(owner: DeadlineOwner): void;
  /** Calls `listener` with each piece verified from now on; returns the unsubscribe. */
  onPiece(listener: (piece: number) => void): () => void;
  /** Calls `listener` once if the torrent goes away or stops with an error; returns the unsubscribe. */
  onGone(listener: (err: Error) => void): () => void;
  /** The clock deadlines are in (Date.now()). */
  now(): number;
}

/** Which bytes of the file a reader reads, and how it buffers and reads ahead. */
export interface ReadStreamOptions {
  /** First byte of the file to read (default 0). */
  start?: number;
  /** Last byte of the file to read, inclusive as in fs.createReadStream (default: the file's last byte). */
  end?: number;
  /** Buffered bytes before back-pressure stops reading (default 1 MiB). */
  highWaterMark?: number;
  /** Read-ahead, in seconds of the reader's consumption rate (default 8). */
  readAheadSeconds?: number;
  /** Consumption rate assumed until one is measured, bytes/s (default 1 MiB/s). */
  initialRate?: number;
}

/** At most this many pieces are time-critical for one reader. */
const MAX_WINDOW_PIECES = 64;
/** Bytes handed to the consumer per push at most (a piece can be several MiB). */
const CHUNK = 256 * 1024;

/**
 * A file's bytes as they become verified (libtorrent streaming through piece deadlines): the piece under
 * the reader and a read-ahead window sized from its consumption rate are time-critical; reading waits
 * (without polling) for a missing piece and resumes when it is verified. Destroying the stream frees its
 * deadlines, so a seek (a new stream) cancels the old window. Several readers of one torrent each have
 * their own window.
 */
export class TorrentReadStream extends Readable {
  /** Absolute torrent offsets: next byte to read, and the end (exclusive). */
  private pos: number;
  private readonly endPos: number;
  private readonly lastPiece: number;
  private waitingFor = -1;
  private reading = false;
  private windowFrom = -1;
  private rate: number;
  private rateMeasured = false;
  private pieceEnteredAt: number;
  private readonly readAheadSeconds: number;
  private readonly unsubscribe: (() => void)[];

  /** `fileOffset`/`fileLength`: where the file lies in the torrent. */
  constructor(private readonly source: ReadStreamSource, fileOffset: number, fileLength: number, opts: ReadStreamOptions = {}) {
    super({ highWaterMark: opts.highWaterMark ?? 1024 * 1024 });
    const start = opts.start ?? 0;
    const end = opts.end ?? fileLength - 1;
    this.pos = fileOffset + start;
    this.endPos = fileOffset + Math.min(end, fileLength - 1) + 1;
    this.lastPiece = Math.max(0, Math.floor((this.endPos - 1) / source.pieceLength));
    this.rate = opts.initialRate ?? 1024 * 1024;
    this.readAheadSeconds = opts.readAheadSeconds ?? 8;
    this.pieceEnteredAt = source.now();
    this.unsubscribe = [
      source.onPiece((piece) => this.pieceVerified(piece)),
      source.onGone((err) => this.destroy(err)),
    ];
    if (this.pos < this.endPos) this.moveWindow(this.currentPiece());
  }

  /** The next byte this stream reads, as an offset in the torrent. */
  get position(): number {
    return this.pos;
  }

  /** The reader's measured consumption rate, bytes/s. */
  get consumptionRate(): number {
    return this.rate;
  }

  /** Node's pull: reads on until back-pressure or a missing piece. */
  override _read(): void {
    void this.pump();
  }

  /** @internal Frees the reader's deadlines and listeners. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    for (const u of this.unsubscribe) u();
    this.source.clearDeadlines(this);
    cb(err);
  }

  private currentPiece(): number {
    return Math.floor(this.pos / this.source.pieceLength);
  }

  private async pump(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    const src = this.source;
    const pl = src.pieceLength;
    try {
      while (!this.destroyed && this.pos < this.endPos) {
        const piece = this.currentPiece();
        if (piece !== this.windowFrom) this.enterPiece(piece);
        if (!src.have(piece)) {
          this.waitingFor = piece;
          return;
        }
        const offset = this.pos - piece * pl;
        const len = Math.min(pl - offset, this.endPos - this.pos, CHUNK);
        const data = await src.read(piece, offset, len);
        if (this.destroyed) return;
        this.pos += len;
        if (!this.push(data)) return;
      }
      if (!this.destroyed && this.pos >= this.endPos) {
        src.clearDeadlines(this);
        this.push(null);
      }
    } catch (e) {
      this.destroy(e as Error);
    } finally {
      this.reading = false;
    }
  }

  /** The reader reached a new piece: measure its rate over the last piece, move the window. */
  private enterPiece(piece: number): void {
    const now = this.source.now();
    if (this.windowFrom >= 0 && piece === this.windowFrom + 1) {
      const seconds = Math.max(0.001, (now - this.pieceEnteredAt) / 1000);
      const r = this.source.pieceLength / seconds;
      this.rate = this.rateMeasured ? this.rate * 0.7 + r * 0.3 : r;
      this.rateMeasured = true;
    }
    this.pieceEnteredAt = now;
    this.moveWindow(piece);
  }

  private moveWindow(piece: number): void {
    this.windowFrom = piece;
    const src = this.source;
    const n = readAheadPieces(this.rate, src.pieceLength, this.readAheadSeconds, MAX_WINDOW_PIECES);
    const last = Math.min(this.lastPiece, piece + n - 1);
    const deadlines = windowDeadlines(this.pos, piece, last, src.pieceLength, this.rate, src.now());
    const urgent = !src.have(piece);
    for (const p of deadlines.keys()) if (src.have(p)) deadlines.delete(p);
    src.setDeadlines(this, deadlines, urgent);
  }

  private pieceVerified(piece: number): void {
    if (piece === this.waitingFor) {
      this.waitingFor = -1;
      void this.pump();
    }
  }
}
