import { describe, it, expect } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import { SpritzleError, parseTorrentFile, decodeResumeData } from '@spritzle/engine';
import { MAX_FILES } from '../../../packages/engine/src/metainfo/metainfo.js';
import { MAX_PARSE_THREADS, OFF_THREAD_PARSE_BYTES, parseThreadsRunning, parseTorrentFileOffThread } from '../../../packages/engine/src/metainfo/parse-thread.js';
import { sessionsForThisFile } from '../../helpers/engine.js';
import { tmpDir } from '../../helpers/fixtures.js';

// Issue 9, section 5: one add must never stall the API. A .torrent at the MAX_FILES cap took most of a
// second of synchronous parsing on the event loop; big ones are now parsed on a worker thread.

const newSession = sessionsForThisFile();

/** A multi-file .torrent of `n` one-byte files, written directly (create-torrent is far too slow for this). */
function manyFilesTorrent(n: number): Uint8Array {
  const pieceLength = 1 << 20;
  const numPieces = Math.ceil(n / pieceLength);
  const files: string[] = [];
  for (let i = 0; i < n; i++) files.push(`d6:lengthi1e4:pathl${String(i).length}:${i}ee`);
  const head = `d4:infod5:filesl${files.join('')}e4:name4:many12:piece lengthi${pieceLength}e6:pieces${numPieces * 20}:`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(numPieces * 20), Buffer.from('ee')]);
}

/** The longest time between two turns of the event loop while `work` runs (setImmediate turns, counted). */
async function longestBlock<T>(work: () => Promise<T>): Promise<{ result: T; longestMs: number; turns: number }> {
  let longestMs = 0;
  let turns = 0;
  let last = performance.now();
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    longestMs = Math.max(longestMs, now - last);
    last = now;
    turns++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const result = await work();
    return { result, longestMs, turns };
  } finally {
    running = false;
  }
}

function syncParseMs(bytes: Uint8Array): number {
  const t0 = performance.now();
  parseTorrentFile(bytes);
  return performance.now() - t0;
}

describe('adding a torrent at the file-count cap (issue 9, section 5)', () => {
  it(`while a ${MAX_FILES}-file torrent is added and checked, the event loop never blocks for most of the synchronous parse time`, async () => {
    const bytes = manyFilesTorrent(MAX_FILES);
    expect(bytes.length).toBeGreaterThan(OFF_THREAD_PARSE_BYTES);
    const session = await newSession();
    const save_path = await tmpDir('big-add-');
    const { result: handle, longestMs, turns } = await longestBlock(async () => {
      const h = await session.addTorrent({ ti: bytes, save_path });
      await h.waitFor('checked');
      return h;
    });
    // Measured after the add, so that the garbage of this parse is not collected during the add.
    const syncMs = syncParseMs(bytes);
    console.log(`sync parse ${syncMs.toFixed(0)} ms; during the add: longest block ${longestMs.toFixed(0)} ms, ${turns} turns`);
    // A synchronous parse would block for all of it (1.0+); alone this measures 0.3-0.4. 0.8 leaves room for a
    // busy CI machine; under far heavier load (other builds beside CI) one run reached 1.17, which no bound that
    // still fails the old code can absorb.
    expect(longestMs).toBeLessThan(syncMs * 0.8);
    expect(handle.infoHash).toBe(parseTorrentFile(bytes).infoHash);
    expect(handle.files()).toHaveLength(MAX_FILES);
  });

  it(`a ${MAX_FILES}-file torrent is restored from its resume data (its info dictionary parsed off the event loop)`, async () => {
    const bytes = manyFilesTorrent(MAX_FILES);
    const first = await (await newSession()).addTorrent({ ti: bytes, save_path: await tmpDir('big-resume-') });
    await first.waitFor('checked');
    const resume = await first.saveResumeData();
    expect(decodeResumeData(resume).info!.length).toBeGreaterThan(OFF_THREAD_PARSE_BYTES);
    const session = await newSession();
    const { result: handle, longestMs } = await longestBlock(async () => {
      const h = await session.addTorrent({ resume_data: resume });
      await h.waitFor('checked');
      return h;
    });
    // Not asserted here: decoding the resume data itself is bounded in test/engine/torrent/big-resume.test.ts.
    console.log(`during the restore: longest block ${longestMs.toFixed(0)} ms`);
    expect(handle.infoHash).toBe(first.infoHash);
    expect(handle.files()).toHaveLength(MAX_FILES);
  });

  it('a big .torrent parsed off the event loop gives exactly the TorrentInfo parseTorrentFile gives', async () => {
    const files: string[] = [];
    for (let i = 0; i < 20_000; i++) files.push(`d6:lengthi${i % 3 === 0 ? 40_000 : 7}e4:pathl3:dir${String(i).length}:${i}ee`);
    files.push('d4:attr1:p6:lengthi5e4:pathl4:.pad1:5ee');
    const total = Math.ceil(20_000 / 3) * 40_000 + (20_000 - Math.ceil(20_000 / 3)) * 7 + 5;
    const pieceLength = 1 << 18;
    const numPieces = Math.ceil(total / pieceLength);
    const pieces = Buffer.alloc(numPieces * 20);
    for (let i = 0; i < pieces.length; i++) pieces[i] = (i * 7) & 0xff;
    const bytes = Buffer.concat([
      Buffer.from('d8:announce17:http://a.example/13:announce-listll17:http://a.example/el17:http://b.example/ee7:comment2:hi'),
      Buffer.from(`4:infod5:filesl${files.join('')}e4:name4:many12:piece lengthi${pieceLength}e6:pieces${pieces.length}:`),
      pieces,
      Buffer.from('e8:url-list18:http://w.example/xe'),
    ]);
    expect(bytes.length).toBeGreaterThan(OFF_THREAD_PARSE_BYTES);
    const expected = parseTorrentFile(bytes);
    const got = await parseTorrentFileOffThread(bytes);
    expect(got).toEqual(expected);
    expect(got.files.filter((f) => f.pad)).toHaveLength(1);
    expect(Buffer.from(got.pieceHashes[numPieces - 1]!)).toEqual(Buffer.from(expected.pieceHashes[numPieces - 1]!));
    expect(Buffer.from(got.infoHashBytes).toString('hex')).toBe(expected.infoHash);
    // The caller's bytes are left intact (the worker is sent a copy).
    expect(parseTorrentFile(bytes).infoHash).toBe(expected.infoHash);
  });

  it(`a burst of big .torrent files is parsed at most ${MAX_PARSE_THREADS} threads at a time, every one correctly`, async () => {
    const bytes = manyFilesTorrent(30_000);
    const expected = parseTorrentFile(bytes).infoHash;
    let most = 0;
    const monitor = setInterval(() => { most = Math.max(most, parseThreadsRunning()); }, 1);
    try {
      const parses = Array.from({ length: MAX_PARSE_THREADS + 3 }, () => parseTorrentFileOffThread(bytes));
      most = Math.max(most, parseThreadsRunning());
      const hashes = (await Promise.all(parses)).map((t) => t.infoHash);
      expect(hashes).toEqual(new Array(MAX_PARSE_THREADS + 3).fill(expected));
    } finally {
      clearInterval(monitor);
    }
    expect(most).toBe(MAX_PARSE_THREADS);
    expect(parseThreadsRunning()).toBe(0);
  });

  it('a session closed while a big .torrent is being parsed refuses the add with session_closed', async () => {
    const session = await newSession();
    const adding = session.addTorrent({ ti: manyFilesTorrent(50_000), save_path: await tmpDir('big-add-closed-') });
    await session.close();
    await expect(adding).rejects.toMatchObject({ code: 'session_closed' });
  });

  it('a malformed big .torrent is refused with the same typed error as the synchronous parser gives', async () => {
    // Valid bencode, far above the threshold, but one file length is negative.
    const good = Buffer.from(manyFilesTorrent(50_000));
    const bad = Buffer.from(good.toString('latin1').replace('d6:lengthi1e4:pathl5:49999e', 'd6:lengthi-1e4:pathl5:49999e'), 'latin1');
    expect(bad.length).toBeGreaterThan(OFF_THREAD_PARSE_BYTES);
    let expected: unknown;
    try {
      parseTorrentFile(bad);
    } catch (e) {
      expected = e;
    }
    expect(expected).toBeInstanceOf(SpritzleError);
    const session = await newSession();
    const err = await session.addTorrent({ ti: bad, save_path: await tmpDir('big-add-bad-') }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(SpritzleError);
    expect((err as SpritzleError).code).toBe((expected as SpritzleError).code);
    expect((err as SpritzleError).message).toBe((expected as SpritzleError).message);
  });

  it('a big .torrent that is not bencode at all is refused with invalid_torrent', async () => {
    const session = await newSession();
    const junk = Buffer.concat([Buffer.from('l-3:e'), Buffer.alloc(OFF_THREAD_PARSE_BYTES)]);
    const err = await session.addTorrent({ ti: junk, save_path: await tmpDir('big-add-junk-') }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(SpritzleError);
    expect((err as SpritzleError).code).toBe('invalid_torrent');
  });
});
