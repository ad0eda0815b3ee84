// First/last piece priority: each wanted file's first and last piece at the top priority.
import { describe, it, expect } from '@jest/globals';
import { decodeResumeData } from '@spritzle/engine';
import { boostFirstAndLastPieces } from '../../../packages/engine/src/torrent/first-last-piece.js';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { sessionsForThisFile } from '../../helpers/engine.js';

const newSession = sessionsForThisFile();

describe('boostFirstAndLastPieces', () => {
  it('raises the first and last piece of every wanted file, and of no skipped or pad file', () => {
    const ranges: [number, number][] = [[0, 3], [3, 6], [7, 9], [9, 9]];
    const layout = { files: [{ pad: false, length: 1 }, { pad: false, length: 1 }, { pad: true, length: 1 }, { pad: false, length: 1 }], filePieceRange: (i: number) => ranges[i]! };
    const prios = new Uint8Array(10).fill(4);
    boostFirstAndLastPieces(prios, layout, [4, 1, 4, 0]);
    expect([...prios]).toEqual([7, 4, 4, 7, 4, 4, 7, 4, 4, 4]);
  });
});

describe('first_last_piece_priority on a torrent', () => {
  it('sets the picker\'s priorities, shows in the status and comes back from resume data', async () => {
    const dir = await tmpDir('spritzle-flp');
    const t = await makeTorrent({ dir, name: 'flp', files: [{ path: 'a.bin', size: 5 * 16384 }, { path: 'b.bin', size: 4 * 16384 }], pieceLength: 16384, seed: 77 });
    const s = await newSession({ save_path: await tmpDir('spritzle-flp-dl') });
    const h = await s.addTorrent({ ti: t.torrentBytes, paused: true });
    const picker = () => s.torrentOf(h.infoHash)!.picker!;
    expect([0, 4, 5, 8].map((i) => picker().piecePriority(i))).toEqual([4, 4, 4, 4]);
    h.update({ first_last_piece_priority: true });
    expect([0, 1, 4, 5, 6, 8].map((i) => picker().piecePriority(i))).toEqual([7, 4, 7, 7, 4, 7]);
    expect(h.status().first_last_piece_priority).toBe(true);
    const resume = await h.saveResumeData();
    expect(decodeResumeData(resume).first_last_piece_priority).toBe(true);
    h.update({ first_last_piece_priority: false });
    expect(picker().piecePriority(0)).toBe(4);
  });
});
