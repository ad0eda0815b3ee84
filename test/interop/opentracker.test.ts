import { describe, it, expect, afterAll } from '@jest/globals';
import { Session } from '@spritzle/engine';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from '../helpers/fixtures.js';
import { waitFor, finished } from '../helpers/engine.js';
import { startOpentracker, type OpenTracker } from '../helpers/trackers.js';

// Debian's opentracker (a tracker spritzle did not write) on 127.0.0.1. It has no event log, so the test
// reads its own view through scrape: a started peer is counted (complete or incomplete), a completed
// download bumps `downloaded`, a stopped peer leaves the counts.
describe('opentracker', () => {
  const sessions: Session[] = [];
  let ot: OpenTracker | undefined;

  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await ot?.stop();
  });

  it('brings an engine seed (UDP) and an engine leecher (HTTP) together and sees started, completed and stopped', async () => {
    const dir = await tmpDir('ot-src');
    // Same data and name, so the same info-hash: the seed's .torrent names the UDP tracker, the leecher's HTTP.
    const plain = await makeTorrent({ dir, name: 'ot', files: 400_000, pieceLength: 32768 });
    ot = await startOpentracker([plain.infoHash]);
    const seed = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    const leecher = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(seed, leecher);
    const sh = await seed.addTorrent({ ti: plain.torrentBytes, save_path: plain.dataRoot, trackers: [ot.udpUrl] });
    await waitFor(() => sh.status().current_tracker === ot!.udpUrl, 10_000, 'the seed announced');
    expect(await ot.scrape(plain.infoHash)).toMatchObject({ complete: 1, incomplete: 0, downloaded: 0 });

    const save = await tmpDir('ot-dl');
    const lh = await leecher.addTorrent({ ti: plain.torrentBytes, save_path: save, trackers: [ot.httpUrl] });
    await finished(leecher, lh, 30_000);
    expect(await sameBytes(dataFiles(plain, plain.dataRoot)[0]!, dataFiles(plain, save)[0]!)).toBe(true);
    // completed: the leecher now counts as complete, and opentracker counted one download.
    await waitFor(() => lh.trackers()[0]?.status === 'working' && lh.status().num_complete === 2, 10_000, 'completed announced');
    expect(await ot.scrape(plain.infoHash)).toMatchObject({ complete: 2, incomplete: 0, downloaded: 1 });

    await leecher.close();
    expect(await ot.scrape(plain.infoHash)).toMatchObject({ complete: 1, incomplete: 0 });
    await seed.close();
    expect(await ot.scrape(plain.infoHash)).toMatchObject({ complete: 0, incomplete: 0, downloaded: 1 });
  });
});
