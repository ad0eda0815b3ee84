import { describe, it, expect } from '@jest/globals';
import { Session } from '@spritzle/engine';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { waitFor, finished, sessionsForThisFile } from '../../helpers/engine.js';

const session = sessionsForThisFile();

// Upper bounds only: a limiter may be slower than its rate, never faster (rate × time + one second of burst).
describe('bandwidth limits', () => {
  it('a torrent download_limit caps what is downloaded, and lifting it lets the download finish', async () => {
    const t = await makeTorrent({ dir: await tmpDir('bw-src'), name: 'bw.bin', files: 4_000_000, pieceLength: 65536 });
    const seed = await session();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().is_seeding);
    const s = await session();
    const rate = 200_000;
    const start = Date.now();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('bw-dl'), download_limit: rate, peers: [`127.0.0.1:${seed.listenPort}`] });
    await new Promise((r) => setTimeout(r, 1000));
    const elapsed = (Date.now() - start) / 1000;
    expect(h.status().total_payload_download).toBeLessThanOrEqual(rate * elapsed + rate);
    expect(h.status().total_payload_download).toBeGreaterThan(0);
    h.update({ download_limit: -1 });
    await finished(s, h);
  });

  it('the session upload_rate_limit caps what a seed sends', async () => {
    const t = await makeTorrent({ dir: await tmpDir('bwu-src'), name: 'bwu.bin', files: 4_000_000, pieceLength: 65536 });
    const rate = 300_000;
    const seed = await session({ upload_rate_limit: rate });
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().is_seeding);
    const s = await session();
    const start = Date.now();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('bwu-dl'), peers: [`127.0.0.1:${seed.listenPort}`] });
    await new Promise((r) => setTimeout(r, 1000));
    const elapsed = (Date.now() - start) / 1000;
    expect(sh.status().total_payload_upload).toBeLessThanOrEqual(rate * elapsed + rate);
    expect(sh.status().total_payload_upload).toBeGreaterThan(0);
    seed.applySettings({ upload_rate_limit: 0 });
    await finished(s, h);
  });
});
