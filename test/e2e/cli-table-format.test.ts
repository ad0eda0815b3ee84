import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { compactBytes, compactDuration, compactRatio, displayWidth, fitWidth } from '../../packages/cli/src/format.js';
import { torrentTable, type TableTorrent } from '../../packages/cli/src/client/torrent-table.js';

// The fixed-width pieces of the CLI's torrent table: each figure fits its 5 or 6 columns whatever the value.

describe('compact figures', () => {
  it('bytes: at most 5 columns, with a unit', () => {
    expect([0, 512, 1536, 15_000, 999_999, 1_048_576 * 1.5, 3.4 * 2 ** 30].map(compactBytes)).toEqual(['0', '512', '1.5K', '15K', '977K', '1.5M', '3.4G']);
    fc.assert(fc.property(fc.double({ min: 0, max: 2 ** 60, noNaN: true }), (b) => compactBytes(b).length <= 5), { seed: 7, numRuns: 2000 });
  });

  it('durations: at most 5 columns; "-" when unknown', () => {
    expect([-1, 45, 720, 5 * 3600 + 12 * 60, 14 * 3600, 3 * 86400, 500 * 86400].map(compactDuration)).toEqual(['-', '45s', '12m', '5h12m', '14h', '3d', '>99d']);
    fc.assert(fc.property(fc.integer({ min: -1, max: 2 ** 40 }), (s) => compactDuration(s).length <= 5), { seed: 7, numRuns: 2000 });
  });

  it('ratios: at most 5 columns', () => {
    expect([0, 1.254, 12.34, 123.4, 5000].map(compactRatio)).toEqual(['0.00', '1.25', '12.3', '123', '>999']);
  });
});

describe('fitWidth', () => {
  it('cuts by display columns, CJK counting two, and pads to the exact width', () => {
    expect(fitWidth('日本語のファイル', 7)).toBe('日本語…');
    expect(displayWidth(fitWidth('日本語のファイル', 8))).toBe(8);
    expect(fitWidth('abc', 5)).toBe('abc  ');
  });
});

describe('torrentTable', () => {
  const row = (name: string, over: Partial<TableTorrent> = {}): TableTorrent => ({
    info_hash: 'ab'.repeat(20), name, state: 'downloading', paused: false, error: '', progress: 0.4213, total_wanted: 7e9,
    download_payload_rate: 12_345_678, upload_payload_rate: 0, num_peers: 12, eta: 3725, ratio: 0.05, ...over,
  });

  it('keeps every line within the terminal and every figure whole, whatever the state', () => {
    const rows = [row('x'.repeat(200)), row('b', { state: 'downloading_metadata' }), row('c', { paused: true }), row('d', { state: 'checking_resume_data' })];
    for (const cols of [80, 100, 140]) {
      const lines = torrentTable(rows, { columns: cols }).trimEnd().split('\n');
      for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(cols - 1);
      const stateAt = lines[0]!.indexOf('STATE');
      expect(lines.slice(1).map((l) => l.slice(stateAt).split(/\s+/).slice(0, 9).join(' '))).toEqual([
        'downloading 42.1% 6.5G 12M 0 12 1h02m 0.05 abababab',
        'metadata 42.1% 6.5G 12M 0 12 1h02m 0.05 abababab',
        'paused 42.1% 6.5G 12M 0 12 1h02m 0.05 abababab',
        'checking 42.1% 6.5G 12M 0 12 1h02m 0.05 abababab',
      ]);
    }
  });
});
