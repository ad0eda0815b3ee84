import { describe, it, expect } from '@jest/globals';
import { FileLayout } from '../../../packages/engine/src/storage/file-layout.js';

describe('FileLayout', () => {
  // a: 10 bytes, b: 1 byte, c: empty, d: 9 bytes → 20 bytes, pieces of 8: [0,8) [8,16) [16,20)
  const layout = (): FileLayout =>
    new FileLayout(
      [
        { path: 'a', length: 10 },
        { path: 'b', length: 1 },
        { path: 'c', length: 0 },
        { path: 'd', length: 9 },
      ],
      8,
    );

  it('computes file offsets, total length and piece count', () => {
    const l = layout();
    expect(l.files.map((f) => f.offset)).toEqual([0, 10, 11, 11]);
    expect(l.files.every((f) => !f.pad)).toBe(true);
    expect(l.totalLength).toBe(20);
    expect(l.numPieces).toBe(3);
    expect(l.pieceLength).toBe(8);
  });

  it('maps a piece spanning three files, including a 1-byte file, and skips the empty file', () => {
    expect(layout().spans(1, 0, 8)).toEqual([
      { file: 0, fileOffset: 8, length: 2, bufOffset: 0 },
      { file: 1, fileOffset: 0, length: 1, bufOffset: 2 },
      { file: 3, fileOffset: 0, length: 5, bufOffset: 3 },
    ]);
  });

  it('maps a sub-range of a piece with bufOffset relative to the range', () => {
    expect(layout().spans(1, 1, 3)).toEqual([
      { file: 0, fileOffset: 9, length: 1, bufOffset: 0 },
      { file: 1, fileOffset: 0, length: 1, bufOffset: 1 },
      { file: 3, fileOffset: 0, length: 1, bufOffset: 2 },
    ]);
  });

  it('starts a range at a file boundary in the right file', () => {
    expect(layout().spans(1, 3, 2)).toEqual([{ file: 3, fileOffset: 0, length: 2, bufOffset: 0 }]);
  });

  it('returns no spans for a zero-length range', () => {
    expect(layout().spans(0, 4, 0)).toEqual([]);
  });

  it('makes the last piece short', () => {
    const l = layout();
    expect(l.pieceSize(0)).toBe(8);
    expect(l.pieceSize(2)).toBe(4);
    expect(l.spans(2, 0, 4)).toEqual([{ file: 3, fileOffset: 5, length: 4, bufOffset: 0 }]);
  });

  it('gives a full last piece when the total is a multiple of the piece length', () => {
    const l = new FileLayout([{ path: 'x', length: 16 }], 8);
    expect(l.numPieces).toBe(2);
    expect(l.pieceSize(1)).toBe(8);
  });

  it('rejects ranges outside the piece and bad piece indexes', () => {
    const l = layout();
    expect(() => l.spans(2, 0, 5)).toThrow(RangeError);
    expect(() => l.spans(3, 0, 1)).toThrow(RangeError);
    expect(() => l.pieceSize(-1)).toThrow(RangeError);
  });

  it('handles empty files at the start and the end', () => {
    const l = new FileLayout(
      [
        { path: 'e1', length: 0 },
        { path: 'x', length: 5 },
        { path: 'e2', length: 0 },
      ],
      4,
    );
    expect(l.spans(0, 0, 4)).toEqual([{ file: 1, fileOffset: 0, length: 4, bufOffset: 0 }]);
    expect(l.spans(1, 0, 1)).toEqual([{ file: 1, fileOffset: 4, length: 1, bufOffset: 0 }]);
  });

  it('finds the right file among many by binary search', () => {
    const files = Array.from({ length: 1000 }, (_, i) => ({ path: `f${i}`, length: 3 }));
    const l = new FileLayout(files, 64);
    expect(l.spans(10, 0, 64)[0]).toEqual({ file: 213, fileOffset: 1, length: 2, bufOffset: 0 });
  });

  it('gives each file its piece range and null for empty files', () => {
    const l = layout();
    expect(l.filePieceRange(0)).toEqual([0, 1]);
    expect(l.filePieceRange(1)).toEqual([1, 1]);
    expect(l.filePieceRange(2)).toBeNull();
    expect(l.filePieceRange(3)).toEqual([1, 2]);
  });

  it('computes piece priorities as the max over non-pad files, 0 for pad-only pieces, default 4', () => {
    // pieces of 4: a [0,6) pad [6,12) b [12,14) c [14,20)
    const l = new FileLayout(
      [
        { path: 'a', length: 6 },
        { path: '.pad/6', length: 6, pad: true },
        { path: 'b', length: 2 },
        { path: 'c', length: 6 },
      ],
      4,
    );
    // a=0 (skip), the pad's 7 must be ignored, b=1, c missing → default 4
    expect(Array.from(l.piecePriorities([0, 7, 1]))).toEqual([0, 0, 0, 4, 4]);
    expect(Array.from(l.piecePriorities([2, 7, 6, 3]))).toEqual([2, 2, 0, 6, 3]);
  });

  it('clamps priorities to 0..7', () => {
    const l = new FileLayout([{ path: 'a', length: 4 }], 4);
    expect(Array.from(l.piecePriorities([99]))).toEqual([7]);
  });

  it('reports per-file progress from whole verified pieces only', () => {
    const l = layout();
    const have = new Set([1]);
    expect(l.fileProgress((p) => have.has(p))).toEqual([2, 1, 0, 5]);
    expect(l.fileProgress(() => true)).toEqual([10, 1, 0, 9]);
  });
});
