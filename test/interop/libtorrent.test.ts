import { describe, it, expect, afterAll } from '@jest/globals';
import { Session } from '@spritzle/engine';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from '../helpers/fixtures.js';
import { startLtSeed, startLtDownload, requireLibtorrent } from '../helpers/libtorrent.js';
import { waitFor, finished } from '../helpers/engine.js';

// Interop with a real peer written by someone else: Debian's libtorrent 2.0 (python3-libtorrent).
describe('interop with libtorrent', () => {
  const sessions: Session[] = [];
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
  });

  it('the engine downloads a multi-file torrent from a libtorrent seed, byte-identical', async () => {
    requireLibtorrent();
    const t = await makeTorrent({
      dir: await tmpDir('lt-seed'), name: 'fromlt', pieceLength: 65536,
      files: [{ path: 'one.bin', size: 3_000_000 }, { path: 'two/three.bin', size: 1_234_567 }],
    });
    const seed = await startLtSeed(t.torrentPath, t.dataRoot);
    const session = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(session);
    const save = await tmpDir('lt-dl');
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${seed.port}`] });
    await finished(session, h);
    const src = dataFiles(t, t.dataRoot);
    const dst = dataFiles(t, save);
    for (let i = 0; i < src.length; i++) expect(await sameBytes(src[i]!, dst[i]!)).toBe(true);
    expect(h.status().total_payload_download).toBeGreaterThanOrEqual(4_234_567);
    expect(h.status().num_seeds).toBe(0); // both seeds now: libtorrent's connection was closed
    const stats = await seed.stop();
    expect(stats.uploaded).toBeGreaterThanOrEqual(4_234_567);
  });

  it('libtorrent downloads from an engine seed, byte-identical', async () => {
    requireLibtorrent();
    const t = await makeTorrent({ dir: await tmpDir('eng-seed'), name: 'tolt.bin', files: 5_000_003, pieceLength: 262144 });
    const session = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(session);
    const h = await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => h.status().state === 'seeding');
    const save = await tmpDir('lt-get');
    const dl = startLtDownload(t.torrentPath, save, [session.listenPort], 60);
    const result = await dl.done;
    expect(result.ok).toBe(true);
    expect(result.hash_failures).toBe(0);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    const s = session.stats();
    expect(s['net.sent_payload_bytes']!).toBeGreaterThanOrEqual(5_000_003);
    expect(s['ses.num_incoming_request']!).toBeGreaterThan(0);
    expect(s['ses.num_outgoing_unchoke']!).toBeGreaterThan(0);
  });
});
