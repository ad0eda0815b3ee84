// Issue 19: the daemon's state journal (group commit, torn tails, compaction) without a daemon.
import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Journal, readJournalDir } from '../../packages/cli/src/daemon/journal.js';
import {
  HEADER_BYTES, JOURNAL_MAGIC, encodeFrame, encodeHeader, parseFrames, type JournalEntry,
} from '../../packages/cli/src/daemon/journal-frames.js';
import { decodeTorrentRecord, encodeTorrentRecord } from '../../packages/cli/src/daemon/torrent-record.js';
import { tmpDir } from '../helpers/fixtures.js';

const SEED = 19;
const key = fc.stringMatching(/^[0-9a-f]{40}$/);
const entry: fc.Arbitrary<JournalEntry> = fc.record({ key, value: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }) });

/** The map a list of entries makes, applied in order. */
function mapOf(entries: readonly JournalEntry[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of entries) {
    if (e.value) m.set(e.key, Buffer.from(e.value).toString('hex'));
    else m.delete(e.key);
  }
  return m;
}

const hexMap = (m: Map<string, Uint8Array>): Map<string, string> => new Map([...m].map(([k, v]) => [k, Buffer.from(v).toString('hex')]));

function fileOf(entries: readonly JournalEntry[]): Buffer {
  return Buffer.concat([encodeHeader(JOURNAL_MAGIC, 0), ...entries.map(encodeFrame)]);
}

describe('journal frames', () => {
  it('read back exactly the entries written', () => {
    fc.assert(fc.property(fc.array(entry, { maxLength: 30 }), (entries) => {
      const parsed = parseFrames(fileOf(entries));
      expect(parsed.damage).toBeNull();
      expect(parsed.frames.map((f) => f.entry)).toEqual(entries.map((e) => ({ key: e.key, value: e.value ? Buffer.from(e.value) : null })));
    }), { seed: SEED, numRuns: 200 });
  });

  it('a file cut anywhere (a crash while appending) reads as a prefix of the entries, never a partial one', () => {
    fc.assert(fc.property(fc.array(entry, { minLength: 1, maxLength: 10 }), fc.nat(), (entries, cutAt) => {
      const bytes = fileOf(entries);
      const cut = HEADER_BYTES + (cutAt % (bytes.length - HEADER_BYTES));
      const parsed = parseFrames(bytes.subarray(0, cut));
      const n = parsed.frames.length;
      expect(parsed.frames.map((f) => f.entry.key)).toEqual(entries.slice(0, n).map((e) => e.key));
      expect(parsed.end).toBe(HEADER_BYTES + entries.slice(0, n).reduce((s, e) => s + encodeFrame(e).length, 0));
      expect(parsed.damage === null).toBe(parsed.end === cut);
    }), { seed: SEED, numRuns: 300 });
  });

  it('a changed byte costs the one entry it is in, not the entries after it', () => {
    fc.assert(fc.property(fc.array(entry, { minLength: 1, maxLength: 10 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (entries, at, flip) => {
      const bytes = fileOf(entries);
      const pos = HEADER_BYTES + (at % (bytes.length - HEADER_BYTES));
      bytes[pos]! ^= flip;
      let hit = 0;
      for (let o = HEADER_BYTES + encodeFrame(entries[0]!).length; o <= pos; o += encodeFrame(entries[hit]!).length) hit++;
      const parsed = parseFrames(bytes);
      expect(parsed.damage).toMatch(/damaged frame at byte/);
      expect(parsed.frames.map((f) => f.entry.key)).toEqual(entries.filter((_, i) => i !== hit).map((e) => e.key));
    }), { seed: SEED, numRuns: 300 });
  });

  it('damage that reads as a frame head at every fourth byte costs checksums of at most twice the file, and the frames after it are still read', () => {
    // 01 01 01 00 at each offset: a put with a one-byte key and a 65,793-byte payload, and a wrong checksum.
    // Each such head used to be checksummed: the file's size squared over 4 (hours for a few MB of it).
    const damaged = Buffer.alloc(400_000);
    for (let i = 0; i < damaged.length; i += 4) damaged.set([1, 1, 1, 0], i);
    const after: JournalEntry = { key: 'a'.repeat(40), value: Uint8Array.of(7) };
    const bytes = Buffer.concat([encodeHeader(JOURNAL_MAGIC, 0), damaged, encodeFrame(after)]);
    const parsed = parseFrames(bytes);
    expect(parsed.resyncChecksummed).toBeLessThanOrEqual(2 * bytes.length);
    expect(parsed.damage).toMatch(/damaged frame at byte 16/);
    expect(parsed.frames.map((f) => f.entry.key)).toEqual([after.key]);
  });
});

describe('torrent records', () => {
  it('keep their resume data, .torrent and save path', () => {
    const r = { resume: Uint8Array.from([1, 2, 3]), torrent: Uint8Array.from([4]), savePath: '/dl/é' };
    const back = decodeTorrentRecord(encodeTorrentRecord(r));
    expect({ ...back, resume: Buffer.from(back.resume!), torrent: Buffer.from(back.torrent!) }).toEqual({ ...r, resume: Buffer.from(r.resume), torrent: Buffer.from(r.torrent) });
  });

  it('bytes that are not a record are refused', () => {
    for (const bad of ['l-3:e', 'i1e', 'd6:resumei1ee', 'd9:save_pathli1eee', '']) expect(() => decodeTorrentRecord(Buffer.from(bad))).toThrow();
  });
});

describe('the journal', () => {
  it('gives back after a reopen every change written, in order', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.array(entry, { maxLength: 8 }), { maxLength: 6 }), async (batches) => {
      const dir = await tmpDir('journal');
      const { journal } = await Journal.open(dir);
      await Promise.all(batches.map((b) => journal.write(b)));
      await journal.close();
      const { journal: again, report } = await Journal.open(dir);
      expect(hexMap(report.entries)).toEqual(mapOf(batches.flat()));
      await again.close();
    }), { seed: SEED, numRuns: 25 });
  });

  it('writes handed in while a batch is on its way share one write and one fsync', async () => {
    const dir = await tmpDir('journal-group');
    const { journal } = await Journal.open(dir);
    const writes = Array.from({ length: 1000 }, (_, i) => journal.write([{ key: i.toString(16).padStart(40, '0'), value: Buffer.from(`v${i}`) }]));
    await Promise.all(writes);
    // The first went alone; the 999 handed in meanwhile went together.
    expect(journal.batches).toBe(2);
    await journal.close();
    const again = await Journal.open(dir);
    expect(again.report.entries.size).toBe(1000);
    await again.journal.close();
  });

  it('a torn tail is ignored, reported, and never appended to', async () => {
    const dir = await tmpDir('journal-torn');
    const { journal } = await Journal.open(dir);
    await journal.write([{ key: 'a'.repeat(40), value: Buffer.from('one') }]);
    await journal.write([{ key: 'b'.repeat(40), value: Buffer.from('two') }]);
    await journal.close();
    const file = join(dir, 'journal.0');
    await truncate(file, (await stat(file)).size - 2);
    const { journal: j2, report } = await Journal.open(dir);
    expect([...report.entries.keys()]).toEqual(['a'.repeat(40)]);
    expect(report.damaged).toEqual([expect.stringMatching(/^journal\.0: a torn or damaged frame at byte 69, 51 bytes skipped$/)]);
    await j2.write([{ key: 'c'.repeat(40), value: Buffer.from('three') }]);
    await j2.close();
    const { journal: j3, report: r3 } = await Journal.open(dir);
    expect([...r3.entries.keys()].sort()).toEqual(['a'.repeat(40), 'c'.repeat(40)]);
    await j3.close();
  });

  it('compaction folds the journals into one snapshot, after which the map reads the same', async () => {
    const dir = await tmpDir('journal-compact');
    const { journal } = await Journal.open(dir, { compactBytes: 2_000 });
    const written: JournalEntry[] = [];
    for (let i = 0; i < 200; i++) {
      const e = { key: (i % 50).toString(16).padStart(40, '0'), value: i % 7 === 0 ? null : Buffer.alloc(40, i) };
      written.push(e);
      await journal.write([e]);
    }
    await journal.compact();
    await journal.close();
    const names = (await readdir(dir)).sort();
    expect(names).toEqual([expect.stringMatching(/^journal\.\d+$/), 'snapshot']);
    const contents = await readJournalDir(dir);
    expect(contents.replayed).toBe(0);
    const { journal: again, report } = await Journal.open(dir);
    expect(hexMap(report.entries)).toEqual(mapOf(written));
    await again.close();
  });

  it('reopening without changes rewrites nothing and leaves no journal behind', async () => {
    const dir = await tmpDir('journal-reopen');
    const first = await Journal.open(dir);
    await first.journal.write([{ key: 'a'.repeat(40), value: Buffer.from('A') }]);
    await first.journal.compact();
    await first.journal.close();
    const snapshot = await stat(join(dir, 'snapshot'));
    for (let i = 0; i < 3; i++) {
      const again = await Journal.open(dir);
      expect(again.report.entries.size).toBe(1);
      await again.journal.close();
    }
    expect((await readdir(dir)).sort()).toEqual([expect.stringMatching(/^journal\.\d+$/), 'snapshot']);
    expect((await stat(join(dir, 'snapshot'))).mtimeMs).toBe(snapshot.mtimeMs);
  });

  it('a crash at any step of a compaction loses nothing', async () => {
    // The files a compaction leaves at each step: journal g+1 created; snapshot g+1 in place; old journals gone.
    const dir = await tmpDir('journal-crash');
    const { journal } = await Journal.open(dir);
    const a = { key: 'a'.repeat(40), value: Buffer.from('A') };
    const b = { key: 'b'.repeat(40), value: Buffer.from('B') };
    await journal.write([a]);
    await journal.close();
    // Step 1: a new, empty journal beside the old one, no snapshot yet.
    await writeFile(join(dir, 'journal.1'), encodeHeader(JOURNAL_MAGIC, 1));
    // ...and a crash even before its header was on disk.
    await writeFile(join(dir, 'journal.2'), '');
    const r1 = await Journal.open(dir);
    expect(hexMap(r1.report.entries)).toEqual(mapOf([a]));
    await r1.journal.write([b]);
    await r1.journal.compact();
    await r1.journal.close();
    // Step 2: snapshot written, old journals still there (they must not be read again over it).
    const snapshot = await readFile(join(dir, 'snapshot'));
    await writeFile(join(dir, 'journal.0'), fileOf([{ key: a.key, value: null }]));
    await writeFile(join(dir, 'snapshot'), snapshot);
    const r2 = await Journal.open(dir);
    expect(hexMap(r2.report.entries)).toEqual(mapOf([a, b]));
    await r2.journal.close();
    expect(await readdir(dir)).not.toContain('journal.0');
  });
});
