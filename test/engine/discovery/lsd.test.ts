import { describe, it, expect, afterEach } from '@jest/globals';
import { Session } from '@spritzle/engine';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from '../../helpers/fixtures.js';
import { waitFor, finished } from '../../helpers/engine.js';
import { freeTcpUdpPort } from '../../helpers/trackers.js';
import { listenLsd, type LsdListener } from '../../helpers/lsd.js';

// Local service discovery (BEP 14) for real, on 127.0.0.1: the sessions multicast on BEP 14's group
// through lo. Each test takes its own free UDP port instead of 6771, so that parallel test files (or an LSD
// client on this machine) are not heard.
describe('LSD', () => {
  const sessions: Session[] = [];
  const listeners: LsdListener[] = [];

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    await Promise.all(listeners.splice(0).map((l) => l.close()));
  });

  it('a leecher and a seed with no other source find each other over the LSD multicast group and the download completes', async () => {
    const lsdPort = await freeTcpUdpPort();
    const t = await makeTorrent({ dir: await tmpDir('lsd-src'), name: 'lsd', files: 300_000, pieceLength: 32768 });
    const make = async (): Promise<Session> => {
      const s = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_lsd: true }, { discovery: { lsdPort } });
      sessions.push(s);
      return s;
    };
    const listener = await listenLsd(lsdPort);
    listeners.push(listener);
    const seed = await make();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => listener.heard.some((h) => h.infoHash === t.infoHash && h.port === seed.listenPort), 5000, "the seed's announce");
    expect(sh.status().announcing_to_lsd).toBe(true);
    const leecher = await make();
    const save = await tmpDir('lsd-dl');
    const h = await leecher.addTorrent({ ti: t.torrentBytes, save_path: save });
    await finished(leecher, h, 20_000);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
  });

  it('reports an LSD socket that cannot start with an lsd_error event', async () => {
    const lsdPort = await freeTcpUdpPort();
    // 127.0.0.1 is no multicast group: joining it fails.
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_lsd: true }, { discovery: { lsdPort, lsdAddress: '127.0.0.1' } });
    sessions.push(s);
    const errors: string[] = [];
    s.on('lsd_error', (e) => errors.push(e.error));
    await waitFor(() => errors.length > 0, 5000, 'the lsd_error event');
    expect(errors[0]).toMatch(/\S/);
  });
});
