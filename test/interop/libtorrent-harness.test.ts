// The test helpers themselves: libtorrent seeds, libtorrent downloads from it (lt -> lt), and
// the fixtures are deterministic.  No spritzle code is involved.  Without python3-libtorrent
// these tests FAIL on purpose: CI installs it, and a silent skip would hide a broken setup.
import { afterAll, describe, expect, test } from '@jest/globals';
import { rm, truncate } from 'node:fs/promises';
import { dataFiles, makeTorrent, sameBytes, sha1File, tmpDir } from '../helpers/fixtures.js';
import { hasLibtorrent, killAllLtPeers, ltDownload, MISSING_LIBTORRENT, startLtDownload, startLtSeed } from '../helpers/libtorrent.js';
import type { TestTorrent } from '../helpers/fixtures.js';

const dirs: string[] = [];
async function fresh(prefix: string): Promise<string> {
  const d = await tmpDir(`spritzle-lt-${prefix}`);
  dirs.push(d);
  return d;
}

afterAll(async () => {
  await killAllLtPeers();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

// 4 MiB over files whose boundaries fall inside pieces, plus an empty file and a subfolder.
const FILES = [
  { path: 'a.bin', size: 1_000_003 },
  { path: 'sub/b.bin', size: 2 * 1024 * 1024 + 17 },
  { path: 'sub/empty.bin', size: 0 },
  { path: 'c.bin', size: 4 * 1024 * 1024 - 1_000_003 - (2 * 1024 * 1024 + 17) },
];

async function expectSameData(t: TestTorrent, savePath: string): Promise<void> {
  const want = dataFiles(t, t.dataRoot);
  const got = dataFiles(t, savePath);
  for (let i = 0; i < want.length; i++) {
    expect({ file: got[i], same: await sameBytes(want[i]!, got[i]!) }).toEqual({ file: got[i], same: true });
  }
}

test('python3-libtorrent is installed', () => {
  if (!hasLibtorrent) throw new Error(MISSING_LIBTORRENT);
});

describe('fixtures', () => {
  test('makeTorrent is deterministic and keeps the given file order', async () => {
    const [d1, d2] = [await fresh('fx1'), await fresh('fx2')];
    const t1 = await makeTorrent({ dir: d1, name: 'data', files: FILES, pieceLength: 65536, seed: 7 });
    const t2 = await makeTorrent({ dir: d2, name: 'data', files: FILES, pieceLength: 65536, seed: 7 });
    expect(t2.infoHash).toBe(t1.infoHash);
    expect(Buffer.from(t2.torrentBytes).equals(Buffer.from(t1.torrentBytes))).toBe(true);
    expect(await sha1File(dataFiles(t2, d2)[1]!)).toBe(await sha1File(dataFiles(t1, d1)[1]!));
    const t3 = await makeTorrent({ dir: await fresh('fx3'), name: 'data', files: FILES, pieceLength: 65536, seed: 8 });
    expect(t3.infoHash).not.toBe(t1.infoHash);
    // the .torrent lists the files in the given order, and no tracker / web seed was added
    const text = Buffer.from(t1.torrentBytes).toString('latin1');
    const order = ['l5:a.bine', 'l3:sub5:b.bine', 'l3:sub9:empty.bine', 'l5:c.bine'].map((s) => text.indexOf(s));
    expect(order.every((p, i) => p > 0 && (i === 0 || p > order[i - 1]!))).toBe(true);
    expect(text).not.toContain('announce');
    expect(text).not.toMatch(/url-listl[^e]/);
  });
});

describe('libtorrent peers (lt -> lt)', () => {
  test('seed a 4 MiB multi-file torrent, download it, identical bytes', async () => {
    if (!hasLibtorrent) throw new Error(MISSING_LIBTORRENT);
    const t = await makeTorrent({ dir: await fresh('seed'), name: 'multi', files: FILES });
    const seed = await startLtSeed(t.torrentPath, t.dataRoot);
    expect(seed.port).toBeGreaterThan(0);
    const out = await fresh('get');
    const res = await ltDownload(t.torrentPath, out, [`127.0.0.1:${seed.port}`], 60);
    expect(res).toMatchObject({ ok: true, bytes: 4 * 1024 * 1024, hash_failures: 0, info_hash: t.infoHash });
    await expectSameData(t, out);
    const stats = await seed.stop();
    expect(stats.uploaded).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(stats.peers_seen.some((p) => p.client.toLowerCase().includes('libtorrent'))).toBe(true);
  });

  test('magnet download through ut_metadata (startLtDownload)', async () => {
    if (!hasLibtorrent) throw new Error(MISSING_LIBTORRENT);
    const t = await makeTorrent({ dir: await fresh('mseed'), name: 'single.bin', files: 3 * 65536 + 5, pieceLength: 65536 });
    const seed = await startLtSeed(t.torrentPath, t.dataRoot);
    const dl = startLtDownload(`magnet:?xt=urn:btih:${t.infoHash}&dn=single.bin`, await fresh('mget'), [seed.port], 60);
    expect(await dl.port).toBeGreaterThan(0);
    const res = await dl.done;
    expect(res).toMatchObject({ ok: true, bytes: 3 * 65536 + 5, hash_failures: 0, info_hash: t.infoHash });
    await seed.stop();
  });

  test('incomplete data: startLtSeed rejects with the reason', async () => {
    if (!hasLibtorrent) throw new Error(MISSING_LIBTORRENT);
    const t = await makeTorrent({ dir: await fresh('bad'), name: 'cut.bin', files: 200_000, pieceLength: 32768 });
    await truncate(dataFiles(t, t.dataRoot)[0]!, 100_000);
    await expect(startLtSeed(t.torrentPath, t.dataRoot)).rejects.toThrow(/code 3\).*incomplete/s);
  });

  test('non-loopback tracker or peer is refused (exit 64)', async () => {
    if (!hasLibtorrent) throw new Error(MISSING_LIBTORRENT);
    const t = await makeTorrent({ dir: await fresh('ref'), name: 'r.bin', files: 1000 });
    await expect(startLtSeed(t.torrentPath, t.dataRoot, { tracker: 'http://192.0.2.1:6969/announce' }))
      .rejects.toThrow(/code 64\)/);
    await expect(ltDownload(t.torrentPath, await fresh('ref-get'), ['192.0.2.1:6881'], 5)).rejects.toThrow(/code 64\)/);
  });

  test('a download that cannot finish times out with ok: false', async () => {
    if (!hasLibtorrent) throw new Error(MISSING_LIBTORRENT);
    const t = await makeTorrent({ dir: await fresh('to'), name: 't.bin', files: 1000 });
    // port 1 on loopback: nothing listens, the dial is refused at once
    const res = await ltDownload(t.torrentPath, await fresh('to-get'), ['127.0.0.1:1'], 2);
    expect(res).toMatchObject({ ok: false, error: 'timeout' });
  });
});
