// Streaming a file while it downloads from libtorrent seeds (Debian's libtorrent 2.0).
import { describe, it, expect, afterAll } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from '../helpers/fixtures.js';
import { startLtSeed, requireLibtorrent, type LtSeed } from '../helpers/libtorrent.js';
import { finished, sessionsForThisFile } from '../helpers/engine.js';

const newSession = sessionsForThisFile();

/** Reads the stream until `n` bytes (or its end), then destroys it. */
async function readBytes(s: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  for await (const c of s) {
    parts.push(c as Buffer);
    got += (c as Buffer).length;
    if (got >= n) break;
  }
  s.destroy();
  return Buffer.concat(parts).subarray(0, n);
}

describe('streaming from libtorrent seeds while downloading', () => {
  const seeds: LtSeed[] = [];
  afterAll(async () => {
    await Promise.all(seeds.map((s) => s.stop()));
  });

  it('serves identical bytes at random offsets, answers seeks to unfetched offsets, frees deadlines, and completes', async () => {
    requireLibtorrent();
    const t = await makeTorrent({
      dir: await tmpDir('stream-seed'), name: 'movie', pieceLength: 65536, seed: 16,
      files: [{ path: 'a.mkv', size: 6_000_000 }, { path: 'b.srt', size: 300_001 }],
    });
    seeds.push(await startLtSeed(t.torrentPath, t.dataRoot), await startLtSeed(t.torrentPath, t.dataRoot));
    const session = await newSession();
    const save = await tmpDir('stream-dl');
    // Slow enough that the reads below happen while most of the file is missing.
    const h = await session.addTorrent({
      ti: t.torrentBytes, save_path: save, download_limit: 1_000_000,
      peers: seeds.map((s) => `127.0.0.1:${s.port}`),
    });
    const source = await readFile(dataFiles(t, t.dataRoot)[0]!);
    // xorshift offsets from a fixed seed, printed on failure through the expectation's message.
    let x = 1616;
    const next = (): number => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0));
    for (let i = 0; i < 6; i++) {
      const start = next() % (source.length - 70_000);
      const progressBefore = h.status().progress;
      const got = await readBytes(h.createReadStream(0, { start }), 70_000);
      expect({ start, same: Buffer.compare(got, source.subarray(start, start + 70_000)) === 0 }).toEqual({ start, same: true });
      if (i === 0) expect(progressBefore).toBeLessThan(0.5); // the first seek was to unfetched data
    }
    // The last bytes of the second file: a range ending at the file's end.
    const b = await readFile(dataFiles(t, t.dataRoot)[1]!);
    const tail = await readBytes(h.createReadStream(1, { start: 300_001 - 1000 }), 1000);
    expect(Buffer.compare(tail, b.subarray(-1000))).toBe(0);

    // A client that goes away mid-stream leaves no deadline behind.
    const torrent = session.torrentOf(h.infoHash)!;
    const s = h.createReadStream(0, { start: 5_900_000 });
    const firstPiece = Math.floor(5_900_000 / 65536);
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.destroy();
    for (let p = firstPiece; p < firstPiece + 8; p++) expect(torrent.pieceDeadline(p)).toBeUndefined();

    await finished(session, h, 60_000);
    const src = dataFiles(t, t.dataRoot);
    const dst = dataFiles(t, save);
    for (let i = 0; i < src.length; i++) expect(await sameBytes(src[i]!, dst[i]!)).toBe(true);
    expect(h.status().total_failed_bytes).toBe(0);
  }, 90_000);
});
