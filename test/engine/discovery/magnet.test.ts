import { describe, it, expect, afterEach } from '@jest/globals';
import { Session } from '@spritzle/engine';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from '../../helpers/fixtures.js';
import { waitFor, finished } from '../../helpers/engine.js';
import { startLtSeed, startLtDownload, type LtSeed } from '../../helpers/libtorrent.js';
import { startLocalTracker, type LocalTracker } from '../../helpers/trackers.js';

// Magnets (BEP 9) against real libtorrent peers on 127.0.0.1: metadata comes from libtorrent over
// ut_metadata, and libtorrent takes metadata from the engine.
describe('magnets with libtorrent', () => {
  const sessions: Session[] = [];
  const seeds: LtSeed[] = [];
  const trackers: LocalTracker[] = [];

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    await Promise.all(seeds.splice(0).map((s) => s.stop()));
    await Promise.all(trackers.splice(0).map((t) => t.close()));
  });

  it('a magnet whose only source is a libtorrent seed (x.pe) goes downloading_metadata → downloading and completes byte-identical', async () => {
    const t = await makeTorrent({ dir: await tmpDir('mag-xpe'), name: 'xpe', files: [{ path: 'a.bin', size: 1_300_000 }, { path: 'b/c.bin', size: 723_457 }], pieceLength: 16384 });
    const lt = await startLtSeed(t.torrentPath, t.dataRoot);
    seeds.push(lt);
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(s);
    const states: string[] = [];
    s.on('state_changed', ({ state }) => states.push(state));
    const save = await tmpDir('mag-xpe-dl');
    const h = await s.addTorrent({ url: `magnet:?xt=urn:btih:${t.infoHash}&dn=shown&x.pe=127.0.0.1:${lt.port}`, save_path: save });
    const first = h.status();
    expect(first.state).toBe('downloading_metadata');
    expect(first.has_metadata).toBe(false);
    expect(first.name).toBe('shown');
    await finished(s, h, 30_000);
    const src = dataFiles(t, t.dataRoot);
    const dst = dataFiles(t, save);
    for (let i = 0; i < src.length; i++) expect(await sameBytes(src[i]!, dst[i]!)).toBe(true);
    expect(h.status()).toMatchObject({ has_metadata: true, name: 'xpe' });
    expect(states).toContain('downloading');
    expect(states.indexOf('downloading')).toBeLessThan(states.indexOf('seeding'));
  });

  it('BEP 53: so=1-999999999 selects files 1 and 2 of three once the metadata arrives (the range clipped to the file count)', async () => {
    const t = await makeTorrent({ dir: await tmpDir('mag-so'), name: 'so', files: [{ path: 'a.bin', size: 300_000 }, { path: 'b.bin', size: 200_000 }, { path: 'c.bin', size: 100_000 }], pieceLength: 16384 });
    const lt = await startLtSeed(t.torrentPath, t.dataRoot);
    seeds.push(lt);
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(s);
    const save = await tmpDir('mag-so-dl');
    const h = await s.addTorrent({ url: `magnet:?xt=urn:btih:${t.infoHash}&so=1-999999999&x.pe=127.0.0.1:${lt.port}`, save_path: save });
    await finished(s, h, 30_000);
    expect(h.files().map((f) => f.priority)).toEqual([0, 4, 4]);
    const src = dataFiles(t, t.dataRoot);
    const dst = dataFiles(t, save);
    for (const i of [1, 2]) expect(await sameBytes(src[i]!, dst[i]!)).toBe(true);
    expect(h.files()[0]!.progress).toBeLessThan(1);
  });

  it('a magnet whose tracker (tr=) knows a libtorrent seed reaches downloading and completes', async () => {
    const tr = await startLocalTracker();
    trackers.push(tr);
    const t = await makeTorrent({ dir: await tmpDir('mag-tr'), name: 'tr', files: 2_000_000, pieceLength: 16384 });
    const lt = await startLtSeed(t.torrentPath, t.dataRoot, { tracker: tr.httpUrl });
    seeds.push(lt);
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(s);
    let downloadingAt = 0;
    s.on('state_changed', ({ state }) => {
      if (state === 'downloading' && !downloadingAt) downloadingAt = Date.now();
    });
    const save = await tmpDir('mag-tr-dl');
    const start = Date.now();
    const h = await s.addTorrent({ url: `magnet:?xt=urn:btih:${t.infoHash}&tr=${encodeURIComponent(tr.httpUrl)}`, save_path: save });
    await finished(s, h, 30_000);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    expect(h.status().current_tracker).toBe(tr.httpUrl);
    expect(downloadingAt).toBeGreaterThan(0);
    console.log(`magnet via tracker on 127.0.0.1: downloading after ${downloadingAt - start} ms, finished after ${Date.now() - start} ms`);
  });

  it("libtorrent fetches a magnet's metadata from an engine seed and completes", async () => {
    const t = await makeTorrent({ dir: await tmpDir('mag-lt'), name: 'ltget', files: 350_000, pieceLength: 32768 });
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(s);
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => h.status().state === 'seeding');
    const save = await tmpDir('mag-lt-dl');
    const res = await startLtDownload(`magnet:?xt=urn:btih:${t.infoHash}&dn=ltget`, save, [s.listenPort], 30).done;
    expect(res.ok).toBe(true);
    expect(res.info_hash).toBe(t.infoHash);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
  });
});
