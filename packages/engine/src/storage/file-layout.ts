/**
 * Maps the torrent's linear byte space (all files concatenated, pieces laid over it) onto files.
 * Pieces are not aligned to files: one piece may cover the tail of one file, several tiny files and
 * the head of the next, and the last piece is usually short.
 */
import { DEFAULT_PRIORITY, TOP_PRIORITY } from '../algo/piece-picker.js';

export interface LayoutFile {
  /** Relative to save_path, '/'-separated, already sanitised. */
  readonly path: string;
  readonly length: number;
  /** Offset of the file's first byte in the torrent's byte space. */
  readonly offset: number;
  /** BEP 47 pad file: never stored, reads as zeros. */
  readonly pad: boolean;
}

export interface FileSpan {
  file: number;
  fileOffset: number;
  length: number;
  /** Where this span starts inside the caller's buffer (relative to the requested range). */
  bufOffset: number;
}

function isNonNegativeInt(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

export class FileLayout {
  readonly files: readonly LayoutFile[];
  readonly totalLength: number;
  readonly numPieces: number;
  readonly pieceLength: number;
  /** File offsets in a flat array: binary search on it is much cheaper than on the objects. */
  private readonly offsets: number[];

  constructor(files: readonly { path: string; length: number; pad?: boolean }[], pieceLength: number) {
    if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) {
      throw new RangeError(`piece length must be a positive integer, got ${pieceLength}`);
    }
    const out: LayoutFile[] = [];
    const offsets: number[] = [];
    let offset = 0;
    for (const [i, f] of files.entries()) {
      if (!isNonNegativeInt(f.length)) {
        throw new RangeError(`file ${i} (${f.path}) has an invalid length ${f.length}`);
      }
      out.push({ path: f.path, length: f.length, offset, pad: f.pad === true });
      offsets.push(offset);
      offset += f.length;
      if (!Number.isSafeInteger(offset)) throw new RangeError('torrent total length overflows');
    }
    this.files = out;
    this.offsets = offsets;
    this.totalLength = offset;
    this.pieceLength = pieceLength;
    this.numPieces = Math.ceil(offset / pieceLength);
  }

  pieceSize(piece: number): number {
    this.checkPiece(piece);
    return Math.min(this.pieceLength, this.totalLength - piece * this.pieceLength);
  }

  spans(piece: number, offset: number, length: number): FileSpan[] {
    const size = this.pieceSize(piece);
    if (!isNonNegativeInt(offset) || !isNonNegativeInt(length) || offset + length > size) {
      throw new RangeError(`range ${offset}+${length} is outside piece ${piece} (size ${size})`);
    }
    const result: FileSpan[] = [];
    if (length === 0) return result;
    let pos = piece * this.pieceLength + offset;
    const end = pos + length;
    // Largest index whose offset <= pos. Empty files share their offset with the next file, so taking
    // the largest such index lands on the non-empty file that actually contains pos.
    let lo = 0;
    let hi = this.offsets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.offsets[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    for (let i = lo; pos < end && i < this.files.length; i++) {
      const f = this.files[i]!;
      if (f.length === 0) continue;
      const fileOffset = pos - f.offset;
      const n = Math.min(f.length - fileOffset, end - pos);
      result.push({ file: i, fileOffset, length: n, bufOffset: pos - (end - length) });
      pos += n;
    }
    return result;
  }

  filePieceRange(file: number): [first: number, last: number] | null {
    const f = this.files[file];
    if (f === undefined) throw new RangeError(`file index ${file} out of range (0..${this.files.length - 1})`);
    if (f.length === 0) return null;
    return [Math.floor(f.offset / this.pieceLength), Math.floor((f.offset + f.length - 1) / this.pieceLength)];
  }

  piecePriorities(filePriorities: readonly number[]): Uint8Array {
    const out = new Uint8Array(this.numPieces);
    for (let i = 0; i < this.files.length; i++) {
      const f = this.files[i]!;
      // Pad files carry no data anyone wants, so they must not keep a piece alive.
      if (f.pad || f.length === 0) continue;
      const raw = filePriorities[i];
      const prio = raw === undefined || !Number.isFinite(raw) ? DEFAULT_PRIORITY : Math.max(0, Math.min(TOP_PRIORITY, Math.trunc(raw)));
      if (prio === 0) continue;
      const [first, last] = this.filePieceRange(i)!;
      for (let p = first; p <= last; p++) if (out[p]! < prio) out[p] = prio;
    }
    return out;
  }

  fileProgress(havePiece: (p: number) => boolean): number[] {
    const out: number[] = new Array<number>(this.files.length).fill(0);
    for (let i = 0; i < this.files.length; i++) {
      const f = this.files[i]!;
      if (f.length === 0) continue;
      const [first, last] = this.filePieceRange(i)!;
      const fileEnd = f.offset + f.length;
      let done = 0;
      for (let p = first; p <= last; p++) {
        if (!havePiece(p)) continue;
        const start = p * this.pieceLength;
        done += Math.min(fileEnd, start + this.pieceLength) - Math.max(f.offset, start);
      }
      out[i] = done;
    }
    return out;
  }

  private checkPiece(piece: number): void {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.numPieces) {
      throw new RangeError(`piece index ${piece} out of range (0..${this.numPieces - 1})`);
    }
  }
}
