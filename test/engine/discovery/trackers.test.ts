import { describe, it, expect, afterEach } from '@jest/globals';
import { Session, type DiscoveryOptions } from '@spritzle/engine';
import { makeTorrent, tmpDir, sameBytes, dataFiles, type TestTorrent } from '../../helpers/fixtures.js';
import { waitFor, finished } from '../../helpers/engine.js';
import { startLocalTracker, startScriptedTracker, deadHttpTrackerUrl, type ScriptedTracker, type LocalTracker } from '../../helpers/trackers.js';

// Trackers on 127.0.0.1 only: bittorrent-tracker's server (HTTP and UDP) and scripted HTTP trackers.
// minAnnounceInterval 0 lets a tracker's own short interval through; the retry base is shortened so that
// back-off shows within a test.
const FAST: DiscoveryOptions = { minAnnounceInterval: 0, trackerRetryDelayMin: 0.2 };
const SIZE = 300_000;

const sessions: Session[] = [];
const closers: (() => Promise<void>)[] = [];

async function session(): Promise<Session> {
  const s = await Session.create({ listen_interfaces: '127.0.0.1:0' }, { discovery: FAST });
  sessions.push(s);
  return s;
}

async function torrent(name: string, announce: string[], extra: { private?: boolean } = {}): Promise<TestTorrent> {
  return makeTorrent({ dir: await tmpDir(`trk-${name}`), name, files: SIZE, pieceLength: 32768, announce, ...extra });
}

function track<T extends LocalTracker | ScriptedTracker>(t: T): T {
  closers.push(() => t.close());
  return t;
}

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(closers.splice(0).map((c) => c()));
});

describe('trackers', () => {
  it('a local HTTP tracker brings an engine seed and two engine leechers together and sees started, completed and stopped', async () => {
    const tr = track(await startLocalTracker());
    const t = await torrent('http-swarm', [tr.httpUrl]);
    const seed = await session();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().state === 'seeding');
    const leechers = [await session(), await session()];
    const saves = [await tmpDir('trk-http-dl0'), await tmpDir('trk-http-dl1')];
    const handles = await Promise.all(leechers.map((l, i) => l.addTorrent({ ti: t.torrentBytes, save_path: saves[i]! })));
    await Promise.all(handles.map((h, i) => finished(leechers[i]!, h, 30_000)));
    for (const save of saves) expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);

    const ports = [seed, ...leechers].map((s) => s.listenPort);
    const of = (event: string, port: number) => tr.events.filter((e) => e.event === event && e.port === port && e.type === 'http');
    for (const port of ports) expect(of('start', port)).toHaveLength(1);
    expect(of('start', seed.listenPort)[0]!.left).toBe(0);
    for (const l of leechers) {
      expect(of('start', l.listenPort)[0]!.left).toBe(SIZE);
      const done = of('complete', l.listenPort);
      expect(done).toHaveLength(1);
      expect(done[0]!.left).toBe(0);
      expect(done[0]!.downloaded).toBeGreaterThanOrEqual(SIZE);
    }
    // The seed added complete never says completed.
    expect(of('complete', seed.listenPort)).toHaveLength(0);

    await Promise.all(sessions.splice(0).map((s) => s.close()));
    for (const port of ports) expect(of('stop', port)).toHaveLength(1);
    const uploaded = ports.map((p) => of('stop', p)[0]!.uploaded).reduce((a, b) => a + b, 0);
    expect(uploaded).toBeGreaterThanOrEqual(2 * SIZE);
  });

  it('a local UDP tracker (BEP 15) brings an engine seed and a leecher together and sees started, completed and stopped', async () => {
    const tr = track(await startLocalTracker());
    const t = await torrent('udp-swarm', [tr.udpUrl]);
    const seed = await session();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().state === 'seeding');
    const leecher = await session();
    const lh = await leecher.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('trk-udp-dl') });
    await finished(leecher, lh, 30_000);
    const udp = (event: string, port: number) => tr.events.filter((e) => e.event === event && e.port === port && e.type === 'udp');
    expect(udp('start', seed.listenPort)).toHaveLength(1);
    expect(udp('start', leecher.listenPort)[0]!.left).toBe(SIZE);
    await waitFor(() => udp('complete', leecher.listenPort).length === 1, 5000, 'completed over UDP');
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    expect(udp('stop', seed.listenPort)).toHaveLength(1);
    expect(udp('stop', leecher.listenPort)).toHaveLength(1);
  });

  it('status fields and tracker counters come alive after an announce and a scrape', async () => {
    const tr = track(await startLocalTracker({ intervalMs: 600_000 }));
    const t = await torrent('status', [tr.httpUrl]);
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => h.status().last_scrape >= 0, 10_000, 'a scrape');
    const st = h.status();
    expect(st.current_tracker).toBe(tr.httpUrl);
    expect(st.announcing_to_trackers).toBe(true);
    expect(st.announce_interval).toBe('600.0');
    expect(Number(st.next_announce)).toBeGreaterThan(590);
    expect(st.num_complete).toBe(1);
    expect(st.num_incomplete).toBe(0);
    const [info] = h.trackers();
    expect(info).toMatchObject({ url: tr.httpUrl, tier: 0, status: 'working', message: '' });
    // The tracker hands us back to ourselves; that address is never counted nor dialled.
    expect(info!.num_peers).toBe(0);
    const stats = s.stats();
    expect(stats['net.sent_tracker_bytes']).toBeGreaterThan(2 * 200);
    expect(stats['net.recv_tracker_bytes']).toBeGreaterThan(2 * 100);
    expect(stats['tracker.num_queued_tracker_announces']).toBe(0);
  });

  it('announces carry our listen port, numwant, the real left, and follow the interval and min interval the tracker asks for', async () => {
    // interval 1 s but min interval 2 s: announces come no closer than 2 s.
    const tr = track(await startScriptedTracker(() => ({ interval: 1, 'min interval': 2, complete: 1, incomplete: 0, peers: new Uint8Array(0) })));
    const t = await torrent('interval', []);
    const s = await session();
    await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('trk-interval-dl'), trackers: [tr.url] });
    await waitFor(() => tr.requests.filter((r) => r.path === '/announce').length >= 2, 10_000, 'two announces');
    const ann = tr.requests.filter((r) => r.path === '/announce');
    expect(ann[0]!.infoHash).toBe(t.infoHash);
    expect(ann[0]!.query.get('event')).toBe('started');
    expect(ann[1]!.query.get('event')).toBeNull();
    expect(ann[0]!.query.get('port')).toBe(String(s.listenPort));
    expect(ann[0]!.query.get('numwant')).toBe('200');
    expect(ann[0]!.query.get('left')).toBe(String(SIZE));
    expect(ann[0]!.query.get('compact')).toBe('1');
    expect(ann[1]!.at - ann[0]!.at).toBeGreaterThanOrEqual(1900);
  });

  it('a tracker shows when it last answered an announce and when the next announce is due', async () => {
    const tr = track(await startScriptedTracker(() => ({ interval: 600, complete: 0, incomplete: 0, peers: new Uint8Array(0) })));
    const t = await torrent('times', []);
    const s = await session();
    const before = Math.floor(Date.now() / 1000);
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('trk-times-dl'), trackers: [tr.url] });
    await waitFor(() => h.trackers()[0]!.status === 'working', 10_000, 'an answered announce');
    const after = Math.floor(Date.now() / 1000);
    const [info] = h.trackers();
    expect(info!.last_announce).toBeGreaterThanOrEqual(before);
    expect(info!.last_announce).toBeLessThanOrEqual(after);
    expect(info!.next_announce - info!.last_announce).toBeGreaterThanOrEqual(599);
    expect(info!.next_announce - info!.last_announce).toBeLessThanOrEqual(601);
  });

  it('a failing tracker shows its error and is retried with growing back-off', async () => {
    const tr = track(await startScriptedTracker(() => ({ 'failure reason': 'torrent not registered' })));
    const t = await torrent('failing', [tr.url]);
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => tr.requests.length >= 3 && h.trackers()[0]!.status === 'error', 15_000, 'three failed attempts');
    // A tracker that never answered is not scraped.
    expect(tr.requests.every((r) => r.path === '/announce')).toBe(true);
    const [a, b, c] = tr.requests;
    // Every attempt is still a "started": the tracker never took the first one.
    expect([a, b, c].map((r) => r!.query.get('event'))).toEqual(['started', 'started', 'started']);
    const gap1 = b!.at - a!.at;
    const gap2 = c!.at - b!.at;
    expect(gap1).toBeGreaterThanOrEqual(500);
    expect(gap2).toBeGreaterThan(gap1 + 800);
    expect(h.trackers()[0]).toMatchObject({ status: 'error', message: 'torrent not registered' });
    expect(h.status().current_tracker).toBe('');
  });

  it('BEP 12: a dead tracker is skipped within its tier, the one that answers moves to the front, later tiers stay unused', async () => {
    const dead = await deadHttpTrackerUrl();
    const ok = track(await startScriptedTracker(() => ({ interval: 600, peers: new Uint8Array(0) })));
    const later = track(await startScriptedTracker(() => ({ interval: 600, peers: new Uint8Array(0) })));
    const t = await torrent('tiers', []);
    const s = await session();
    const h = await s.addTorrent({
      ti: t.torrentBytes, save_path: t.dataRoot, trackers: [dead, ok.url, later.url], tracker_tiers: [0, 0, 1],
    });
    await waitFor(() => h.status().current_tracker === ok.url, 10_000, 'the second tracker to answer');
    const list = h.trackers();
    expect(list.map((x) => [x.url, x.tier, x.status])).toEqual([[ok.url, 0, 'working'], [dead, 0, 'error'], [later.url, 1, 'idle']]);
    expect(list[1]!.message).not.toBe('');
    expect(later.requests).toHaveLength(0);
  });

  it('trackers are added to and removed from a live torrent', async () => {
    const tr = track(await startScriptedTracker(() => ({ interval: 600, peers: new Uint8Array(0) })));
    const t = await torrent('live-edit', []);
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    expect(h.trackers()).toEqual([]);
    h.addTracker(tr.url);
    await waitFor(() => tr.requests.some((r) => r.path === '/announce'), 5000, 'an announce to the new tracker');
    expect(tr.requests[0]!.query.get('event')).toBe('started');
    expect(() => h.addTracker('ws://127.0.0.1:1/announce')).toThrow(/not an http/);
    expect(h.removeTracker(tr.url)).toBe(true);
    expect(h.removeTracker(tr.url)).toBe(false);
    expect(h.trackers()).toEqual([]);
  });
});
