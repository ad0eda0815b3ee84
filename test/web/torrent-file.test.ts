import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { torrentFiles } from '../../packages/web/src/torrent-file.js';
import { makeTorrent, tmpDir } from '../helpers/fixtures.js';

// The add dialog's .torrent reader (packages/web/src/torrent-file.ts) runs on whatever file a user picks.

const SEED = 1717;

describe('the web UI\'s .torrent file list', () => {
  it('lists a multi-file torrent\'s files in order, with their sizes', async () => {
    const t = await makeTorrent({ dir: await tmpDir('web-tf'), name: 'set', files: [{ path: 'a/x.bin', size: 1000 }, { path: 'y.bin', size: 20 }] });
    expect(torrentFiles(t.torrentBytes)).toEqual([{ path: 'set/a/x.bin', size: 1000 }, { path: 'set/y.bin', size: 20 }]);
  });

  it('lists a single-file torrent as its one file', async () => {
    const t = await makeTorrent({ dir: await tmpDir('web-tf1'), name: 'one.bin', files: 300 });
    expect(torrentFiles(t.torrentBytes)).toEqual([{ path: 'one.bin', size: 300 }]);
  });

  it('refuses a string length that runs past the end', () => {
    expect(() => torrentFiles(new TextEncoder().encode('d4:info999:xe'))).toThrow(/past the end/);
  });

  it('refuses nesting deeper than 64', () => {
    expect(() => torrentFiles(new TextEncoder().encode(`${'l'.repeat(100)}${'e'.repeat(100)}`))).toThrow(/too deep/);
  });

  it('on any bytes, and on any damaged .torrent, returns a list or throws an Error (never hangs, never crashes otherwise)', async () => {
    const t = await makeTorrent({ dir: await tmpDir('web-tf2'), name: 'set', files: [{ path: 'p.bin', size: 100 }, { path: 'q.bin', size: 5 }] });
    const check = (bytes: Uint8Array): void => {
      try {
        const list = torrentFiles(bytes);
        expect(Array.isArray(list)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        expect((e as Error).message).toMatch(/not a \.torrent file/);
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(b)), { seed: SEED, numRuns: 2000 });
    const mutated = fc.tuple(fc.nat(t.torrentBytes.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(t.torrentBytes.length))
      .map(([at, byte, cut]) => {
        const b = t.torrentBytes.slice(0, Math.max(cut, at + 1));
        b[at] = byte;
        return b;
      });
    fc.assert(fc.property(mutated, (b) => check(b)), { seed: SEED, numRuns: 2000 });
  });
});
