// Fuzzing Session.addTorrent, the library's entry for outside bytes and strings (issue 9): `ti` with mutated
// real .torrent files, `info_hash` and `url` with hostile strings. Every call resolves or rejects with a
// typed SpritzleError within 1 s; the session keeps working; heap growth bounded. Torrents are added paused
// and removed at once, and the seeds name no tracker or peer, so nothing is contacted.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fc from 'fast-check';
import { Session, SpritzleError, type AddTorrentParams } from '@spritzle/engine';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { CallMeter, mutated, params } from '../../helpers/mutate.js';

const SLOWEST_MS = 1000;
const MAX_HEAP_GROWTH = 256 * 1024 * 1024;

let session: Session;
let torrents: Uint8Array[] = [];

beforeAll(async () => {
  const dir = await tmpDir('fuzz-add');
  const single = await makeTorrent({ dir, name: 'one.bin', files: 40_000, pieceLength: 16384 });
  const multi = await makeTorrent({ dir, name: 'many', files: [{ path: 'a/x.txt', size: 10_000 }, { path: 'b.bin', size: 30_000 }], pieceLength: 16384 });
  torrents = [single.torrentBytes, multi.torrentBytes];
  session = await Session.create({ listen_interfaces: '127.0.0.1:0', save_path: await tmpDir('fuzz-add-dl') });
});

afterAll(async () => {
  await session?.close();
});

/** Adds (paused) and removes again; returns the rejection if there was one. Anything untyped fails the property. */
async function addAndRemove(m: CallMeter, p: AddTorrentParams): Promise<SpritzleError | null> {
  try {
    const h = await m.timeAsync(() => session.addTorrent({ ...p, paused: true }));
    await session.removeTorrent(h.infoHash);
    return null;
  } catch (e) {
    if (e instanceof SpritzleError) return e;
    throw new Error(`untyped error: ${(e as Error)?.stack ?? String(e)}`);
  }
}

const HEX = '0123456789abcdefABCDEF';
const hexish = fc.oneof(
  fc.string({ unit: fc.constantFrom(...HEX.split('')), minLength: 38, maxLength: 42 }),
  fc.string({ unit: fc.constantFrom(...`${HEX}g -:%\0\u00e9`.split('')), minLength: 0, maxLength: 48 }),
  fc.string({ maxLength: 64 }),
);
const MAGNETS = [
  `magnet:?xt=urn:btih:${'ab'.repeat(20)}&dn=hello%20world`,
  `magnet:?xt=urn:btih:${'A'.repeat(32)}&dn=b32`,
  `magnet:?xt=urn:btih:${'cd'.repeat(20)}&tr=udp%3A%2F%2F127.0.0.1%3A1&ws=http%3A%2F%2F127.0.0.1%3A1%2F`,
].map((s) => Buffer.from(s, 'latin1'));

describe('Session.addTorrent fuzzing', () => {
  it('ti: mutated real torrents are added or refused with a typed error', async () => {
    const m = new CallMeter();
    let added = 0;
    await fc.assert(fc.asyncProperty(mutated(torrents), async (ti) => {
      const e = await addAndRemove(m, { ti });
      if (e) expect(['invalid_torrent', 'invalid_path', 'invalid_param']).toContain(e.code);
      else added++;
    }), params);
    expect(added).toBeGreaterThan(0);
    expect(m.slowestMs).toBeLessThan(SLOWEST_MS);
    expect(m.heapGrowth()).toBeLessThan(MAX_HEAP_GROWTH);
    expect(session.torrents()).toEqual([]);
  });

  it('info_hash: hostile strings are added or refused with a typed error', async () => {
    const m = new CallMeter();
    await fc.assert(fc.asyncProperty(hexish, async (info_hash) => {
      const e = await addAndRemove(m, { info_hash });
      if (e) expect(e.code).toBe('invalid_param');
      else expect(info_hash).toMatch(/^[0-9a-fA-F]{40}$/);
    }), params);
    expect(m.slowestMs).toBeLessThan(SLOWEST_MS);
    expect(m.heapGrowth()).toBeLessThan(MAX_HEAP_GROWTH);
  });

  it('url: mutated magnet links and hostile strings are added or refused with a typed error', async () => {
    const m = new CallMeter();
    // Byte mutations of magnets, read back as text; plain strings too.
    const urls = fc.oneof(mutated(MAGNETS).map((b) => Buffer.from(b).toString('latin1')), fc.string({ maxLength: 80 }).map((s) => `magnet:?${s}`), fc.string({ maxLength: 80 }));
    await fc.assert(fc.asyncProperty(urls, async (url) => {
      const e = await addAndRemove(m, { url });
      if (e) expect(['invalid_param', 'invalid_info_hash']).toContain(e.code);
    }), params);
    expect(m.slowestMs).toBeLessThan(SLOWEST_MS);
    expect(m.heapGrowth()).toBeLessThan(MAX_HEAP_GROWTH);
  });
});
