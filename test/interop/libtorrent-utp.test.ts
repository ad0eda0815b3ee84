import { describe, it, expect } from '@jest/globals';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from '../helpers/fixtures.js';
import { startLtSeed, startLtDownload, requireLibtorrent } from '../helpers/libtorrent.js';
import { waitFor, finished, sessionsForThisFile } from '../helpers/engine.js';

// uTP (BEP 29) against Debian's libtorrent 2.0 with its TCP off in both directions: every byte goes over uTP.
const session = sessionsForThisFile();

describe('uTP with libtorrent (libtorrent\'s TCP off both ways)', () => {
  it('downloads from a libtorrent seed over uTP, byte-identical, and lists the peer as uTP', async () => {
    requireLibtorrent();
    const t = await makeTorrent({ dir: await tmpDir('utp-seed'), name: 'fromlt-utp.bin', files: 6_000_001, pieceLength: 262144, seed: 5 });
    const seed = await startLtSeed(t.torrentPath, t.dataRoot, { transport: 'utp', seedMode: true });
    const s = await session();
    const save = await tmpDir('utp-dl');
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${seed.port}`] });
    let sawUtpPeer = false;
    const watch = setInterval(() => {
      if (h.peers().some((p) => p.transport === 'utp')) sawUtpPeer = true;
    }, 50);
    try {
      await finished(s, h);
    } finally {
      clearInterval(watch);
    }
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    expect(sawUtpPeer).toBe(true);
    const st = s.stats();
    expect(st['utp.utp_payload_pkts_in']!).toBeGreaterThan(6_000_001 / 1500);
    expect(st['utp.utp_packets_out']!).toBeGreaterThan(0);
    expect((await seed.stop()).uploaded).toBeGreaterThanOrEqual(6_000_001);
  }, 90_000);

  it('seeds to a libtorrent downloader that dials in over uTP, byte-identical', async () => {
    requireLibtorrent();
    const t = await makeTorrent({ dir: await tmpDir('utp-eng-seed'), name: 'tolt-utp.bin', files: 5_000_003, pieceLength: 262144, seed: 6 });
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => h.status().state === 'seeding');
    const save = await tmpDir('utp-lt-get');
    const result = await startLtDownload(t.torrentPath, save, [s.listenPort], 60, { transport: 'utp' }).done;
    expect(result.ok).toBe(true);
    expect(result.hash_failures).toBe(0);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    const st = s.stats();
    expect(st['utp.utp_payload_pkts_out']!).toBeGreaterThan(5_000_003 / 1500);
    expect(st['peer.incoming_connections']!).toBeGreaterThan(0);
  }, 90_000);

  it('fetches a magnet (metadata, then data) from a libtorrent seed over uTP', async () => {
    requireLibtorrent();
    const t = await makeTorrent({ dir: await tmpDir('utp-mag'), name: 'magnet-utp.bin', files: 1_500_000, pieceLength: 65536, seed: 7 });
    const seed = await startLtSeed(t.torrentPath, t.dataRoot, { transport: 'utp', seedMode: true });
    const s = await session();
    const save = await tmpDir('utp-mag-dl');
    const h = await s.addTorrent({ url: `magnet:?xt=urn:btih:${t.infoHash}&x.pe=127.0.0.1:${seed.port}`, save_path: save });
    await finished(s, h);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    expect(s.stats()['ses.num_incoming_metadata']!).toBeGreaterThan(0);
    expect(s.stats()['utp.utp_payload_pkts_in']!).toBeGreaterThan(0);
    await seed.stop();
  }, 90_000);

  it('falls back to TCP when a peer does not answer uTP (libtorrent with uTP off)', async () => {
    requireLibtorrent();
    const t = await makeTorrent({ dir: await tmpDir('tcp-only'), name: 'tcp-only.bin', files: 1_000_000, pieceLength: 65536, seed: 8 });
    const seed = await startLtSeed(t.torrentPath, t.dataRoot, { seedMode: true }); // TCP only
    const s = await session({ utp_connect_timeout: 600 });
    const save = await tmpDir('tcp-only-dl');
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${seed.port}`] });
    await finished(s, h);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    expect(s.stats()['utp.utp_timeout']!).toBeGreaterThan(0); // the uTP dial was tried first
    await seed.stop();
  }, 90_000);
});
