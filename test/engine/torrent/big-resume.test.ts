import { describe, it, expect, beforeAll } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import { bdecode, decodeResumeData, encodeResumeData, SpritzleError, type TorrentHandle } from '@spritzle/engine';
import { MAX_FILES, METADATA_DECODE_LIMITS } from '../../../packages/engine/src/metainfo/metainfo.js';
import { sessionsForThisFile } from '../../helpers/engine.js';
import { longestStall, manyFilesTorrent } from '../../helpers/event-loop.js';
import { tmpDir } from '../../helpers/fixtures.js';

// Issue 9: the resume data of a torrent at the file-count cap was decoded whole (its info dictionary twice)
// at every start, and decoded and re-encoded at every save: 0.3-1.1 s of event loop each. Both are now
// linear with small constants: the info dictionary is carried as the bytes it is.
//
// The bounds are relative to decoding the same resume data whole (what the old decodeResumeData did, and
// less than the old encodeResumeData did), timed on the same machine in the same test: the machine is
// shared and loaded, and a bound in milliseconds would hold on one run and not the next.

const newSession = sessionsForThisFile();

/** The shortest of `runs` timings of `f` (the least disturbed by the rest of the machine). */
function fastestMs(f: () => unknown, runs = 3): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** What decoding `resume` whole costs: the old decodeResumeData's work. */
const wholeDecodeMs = (resume: Uint8Array): number => fastestMs(() => bdecode(resume, METADATA_DECODE_LIMITS));

describe(`the resume data of a ${MAX_FILES}-file torrent (issue 9)`, () => {
  let handle: TorrentHandle;
  let resume: Uint8Array;

  beforeAll(async () => {
    const session = await newSession();
    handle = await session.addTorrent({ ti: manyFilesTorrent(MAX_FILES), save_path: await tmpDir('big-resume-') });
    await handle.waitFor('checked');
    resume = await handle.saveResumeData();
  }, 60_000);

  it('is saved without blocking the event loop as long as decoding it whole takes', async () => {
    // The least disturbed of three saves (the old encoder blocked for two to four whole decodes every time).
    let longestMs = Number.POSITIVE_INFINITY;
    let saved: Uint8Array = resume;
    for (let i = 0; i < 3; i++) {
      const run = await longestStall(() => handle.saveResumeData());
      longestMs = Math.min(longestMs, run.longestMs);
      saved = run.result;
    }
    const wholeMs = wholeDecodeMs(saved);
    console.log(`save: longest block ${longestMs.toFixed(0)} ms; a whole decode ${wholeMs.toFixed(0)} ms`);
    expect(longestMs).toBeLessThan(wholeMs);
    expect(decodeResumeData(saved).file_sizes).toHaveLength(MAX_FILES);
  });

  it('is decoded in well under the time decoding it whole takes', () => {
    // The old decodeResumeData decoded it whole, and then some.
    const decodeMs = fastestMs(() => decodeResumeData(resume), 5);
    const wholeMs = fastestMs(() => bdecode(resume, METADATA_DECODE_LIMITS), 5);
    console.log(`decodeResumeData ${decodeMs.toFixed(0)} ms; a whole decode ${wholeMs.toFixed(0)} ms`);
    expect(decodeMs).toBeLessThan(wholeMs * 0.6);
  });

  it('encodes back to the same bytes, its info dictionary written as the bytes it is', () => {
    const r = decodeResumeData(resume);
    expect(r.file_sizes).toHaveLength(MAX_FILES);
    expect(r.file_priorities).toHaveLength(MAX_FILES);
    expect(Buffer.compare(Buffer.from(encodeResumeData(r)), Buffer.from(resume))).toBe(0);
    // Both copies of the info dictionary are the torrent's bytes.
    const whole = bdecode(resume, METADATA_DECODE_LIMITS) as Record<string, unknown>;
    expect(Buffer.compare(whole['info-bytes'] as Uint8Array, r.info!)).toBe(0);
  });
});

describe('resume data, decoded key by key (issue 9)', () => {
  const base = {
    info_hash: 'aa'.repeat(20), name: 'n', save_path: '/tmp/x', flags: 0, trackers: [], tracker_tiers: [], peers: [],
    added_time: 1, completed_time: 0, total_uploaded: 0, total_downloaded: 0, active_time: 0, finished_time: 0, seeding_time: 0,
  };
  const reason = (bytes: Uint8Array): string => {
    try {
      decodeResumeData(bytes);
    } catch (e) {
      expect(e).toBeInstanceOf(SpritzleError);
      return (e as SpritzleError).message;
    }
    return 'accepted';
  };

  it('an info dictionary that is not one bencoded value is refused when encoding, not written raw', () => {
    expect(() => encodeResumeData({ ...base, info: Buffer.from('d4:name1:xe trailing') })).toThrow(SpritzleError);
    expect(() => encodeResumeData({ ...base, info: Buffer.from('l-3:e') })).toThrow(SpritzleError);
  });

  it('a non-canonical info dictionary is kept byte for byte (its hash depends on them)', () => {
    const info = Buffer.from('d4:name1:x12:piece lengthi16384e6:lengthi1e6:pieces20:aaaaaaaaaaaaaaaaaaaae');
    expect(Buffer.from(decodeResumeData(encodeResumeData({ ...base, info })).info!)).toEqual(info);
  });

  it('per-file lists longer than the file-count cap are refused without being decoded', () => {
    const sizes = Array.from({ length: MAX_FILES + 1 }, (): [number, number] => [1, 2]);
    expect(reason(encodeResumeData({ ...base, file_sizes: sizes }))).toMatch(/more than/);
    expect(reason(encodeResumeData({ ...base, file_priorities: new Array<number>(MAX_FILES + 1).fill(4) }))).toMatch(/more than/);
    expect(decodeResumeData(encodeResumeData({ ...base, file_sizes: sizes.slice(1) })).file_sizes).toHaveLength(MAX_FILES);
  });

  it('per-file lists of another shape are malformed (file sizes) or ignored (priorities), as before', () => {
    const withKey = (key: string, value: string): Buffer => {
      const b = Buffer.from(encodeResumeData(base)).toString('latin1');
      // Keys are sorted; these two sort after "completed_time" and before "file-format".
      return Buffer.from(b.replace('14:completed_timei0e', `14:completed_timei0e${key.length}:${key}${value}`), 'latin1');
    };
    expect(reason(withKey('file sizes', 'lli1ei2ei3eee'))).toMatch(/file sizes is malformed/);
    expect(reason(withKey('file sizes', 'll1:ai2eee'))).toMatch(/file sizes is malformed/);
    expect(reason(withKey('file sizes', 'i5e'))).toMatch(/file sizes is malformed/);
    expect(reason(withKey('file sizes', 'lli99999999999999999ei2eee'))).toMatch(/file sizes is malformed/);
    expect(decodeResumeData(withKey('file sizes', 'lli-1ei2eee')).file_sizes).toEqual([[-1, 2]]);
    expect(decodeResumeData(withKey('file_priorities', 'li1e1:ae')).file_priorities).toBeUndefined();
    expect(decodeResumeData(withKey('file_priorities', 'li1ei7ee')).file_priorities).toEqual([1, 7]);
  });

  it('damage anywhere, a skipped key included, is still refused', () => {
    const good = Buffer.from(encodeResumeData({ ...base, info: Buffer.from('d4:name1:xe') })).toString('latin1');
    expect(reason(Buffer.from(good, 'latin1'))).toBe('accepted');
    // The decoded "info" copy is not read, but it is checked.
    expect(reason(Buffer.from(good.replace('4:infod4:name1:xe', '4:infod4:name-1:xe'), 'latin1'))).toMatch(/not bencoded/);
    expect(reason(Buffer.from(good.slice(0, -1), 'latin1'))).toMatch(/not bencoded/);
    expect(reason(Buffer.from('le'))).toMatch(/not bencoded/);
    expect(reason(Buffer.from(good.replace('11:file-format', 'i1e'), 'latin1'))).toMatch(/not bencoded/);
  });
});
