import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { Session, type DiscoveryOptions, type TorrentHandle } from '@spritzle/engine';
import { makeTorrent, tmpDir, sameBytes, dataFiles, type TestTorrent } from '../../helpers/fixtures.js';
import { waitFor, finished } from '../../helpers/engine.js';
import { Discovery } from '../../../packages/engine/src/discovery/discovery.js';
import { Counters, DEFAULT_SETTINGS } from '@spritzle/engine';
import { startPlainDhtNodes, stopPlainDhtNodes, type PlainDhtNode } from '../../helpers/dht.js';

// A local DHT on 127.0.0.1: three plain bittorrent-dht nodes in a mesh plus engine sessions with enable_dht,
// each bootstrapped from one plain node (never the public routers). No tracker anywhere. dhtAnnounceInterval
// 1 s repeats each torrent's get_peers + announce_peer every second instead of every 15 minutes, so a
// lookup that ran before the seed had announced is soon repeated.
const FAST: DiscoveryOptions = { dhtAnnounceInterval: 1 };

describe('DHT', () => {
  let plain: PlainDhtNode[];
  let t: TestTorrent;
  let seed: Session;
  let seedHandle: TorrentHandle;
  const sessions: Session[] = [];

  async function dhtSession(bootstrap: string): Promise<Session> {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: true, dht_bootstrap_nodes: bootstrap }, { discovery: FAST });
    sessions.push(s);
    return s;
  }

  beforeAll(async () => {
    plain = await startPlainDhtNodes(3);
    t = await makeTorrent({ dir: await tmpDir('dht-src'), name: 'dht', files: 500_000, pieceLength: 32768 });
    seed = await dhtSession(plain[0]!.addr);
    seedHandle = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => plain.some((n) => n.announces.includes(t.infoHash)), 10_000, 'the seed to announce itself');
  });

  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await stopPlainDhtNodes(plain ?? []);
  });

  it('five nodes (two engines, three plain) find the seed by info-hash with no tracker, and the download completes', async () => {
    const leecher = await dhtSession(plain[1]!.addr);
    const save = await tmpDir('dht-dl');
    const h = await leecher.addTorrent({ ti: t.torrentBytes, save_path: save });
    await finished(leecher, h, 30_000);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    expect(h.status().announcing_to_dht).toBe(true);
  });

  it('isDhtRunning and the dht.* counters are live', async () => {
    expect(seed.isDhtRunning()).toBe(true);
    // The leecher's announce_peer reaches the seed's node too (every node that answered its get_peers).
    await waitFor(() => seed.stats()['dht.dht_announce_peer_in']! > 0, 5000, 'an announce_peer to the seed');
    const s = seed.stats();
    expect(s['dht.dht_nodes']).toBeGreaterThanOrEqual(3);
    expect(s['dht.dht_messages_out']).toBeGreaterThan(0);
    expect(s['dht.dht_messages_in']).toBeGreaterThan(0);
    expect(s['dht.dht_bytes_out']).toBeGreaterThan(s['dht.dht_messages_out']! * 20);
    expect(s['dht.dht_bytes_in']).toBeGreaterThan(s['dht.dht_messages_in']! * 20);
    expect(s['dht.dht_get_peers_out']).toBeGreaterThan(0);
    expect(s['dht.dht_announce_peer_out']).toBeGreaterThan(0);
    // ... which now stores a peer for one torrent.
    expect(s['dht.dht_torrents']).toBe(1);
    expect(s['dht.dht_peers']).toBeGreaterThanOrEqual(1);
    expect(seedHandle.status().announcing_to_dht).toBe(true);
    // One node per session, on the session's own port (UDP), as libtorrent does.
    expect(plain.some((n) => n.dht.nodes.toArray().some((x) => x.port === seed.listenPort))).toBe(true);
  });

  it('a magnet with only the info-hash reaches downloading through the DHT and completes', async () => {
    const leecher = await dhtSession(plain[2]!.addr);
    const save = await tmpDir('dht-magnet');
    const start = Date.now();
    let downloadingAt = 0;
    leecher.on('state_changed', ({ info_hash, state }) => {
      if (info_hash === t.infoHash && state === 'downloading' && !downloadingAt) downloadingAt = Date.now();
    });
    const h = await leecher.addTorrent({ url: `magnet:?xt=urn:btih:${t.infoHash}`, save_path: save });
    expect(h.status().state).toBe('downloading_metadata');
    await finished(leecher, h, 30_000);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    expect(downloadingAt).toBeGreaterThan(0);
    console.log(`magnet via DHT on 127.0.0.1: downloading after ${downloadingAt - start} ms, finished after ${Date.now() - start} ms`);
  });

  it('the routing table is saved and loaded: a session without bootstrap nodes rejoins from the state', async () => {
    const donor = await dhtSession(plain[1]!.addr);
    await waitFor(() => donor.stats()['dht.dht_nodes']! >= 3, 10_000, 'a populated routing table');
    const state = donor.dhtState() as { 'dht state': { 'node-id': Uint8Array; nodes: Uint8Array } };
    expect(state['dht state']['node-id']).toHaveLength(20);
    expect(state['dht state'].nodes.length % 6).toBe(0);
    expect(state['dht state'].nodes.length).toBeGreaterThanOrEqual(3 * 6);
    await donor.close();

    const fresh = await dhtSession('');
    expect(fresh.stats()['dht.dht_nodes']).toBe(0);
    fresh.loadDhtState(state);
    await waitFor(() => fresh.stats()['dht.dht_nodes']! >= 3, 10_000, 'the loaded nodes to answer');
    const after = fresh.dhtState() as typeof state;
    expect(Buffer.from(after['dht state']['node-id']).equals(Buffer.from(state['dht state']['node-id']))).toBe(true);
  });

  it('hands the dht_nodes of add params to the DHT node', async () => {
    const s = await dhtSession('');
    expect(s.stats()['dht.dht_nodes']).toBe(0);
    const lonely = await makeTorrent({ dir: await tmpDir('dht-nodes'), name: 'dht-nodes', files: 1000 });
    await s.addTorrent({ ti: lonely.torrentBytes, save_path: lonely.dataRoot, dht_nodes: [plain[2]!.addr] });
    await waitFor(() => s.stats()['dht.dht_nodes']! >= 1, 10_000, 'the given node to join the routing table');
  });

  it('enable_dht starts and stops the node at runtime', async () => {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(s);
    expect(s.isDhtRunning()).toBe(false);
    s.applySettings({ enable_dht: true, dht_bootstrap_nodes: plain[2]!.addr });
    await waitFor(() => s.isDhtRunning() && s.stats()['dht.dht_nodes']! > 0, 10_000, 'the node to start and bootstrap');
    s.applySettings({ enable_dht: false });
    await waitFor(() => !s.isDhtRunning(), 5000, 'the node to stop');
  });

  it('reports a DHT node that cannot start through the discovery context (the session emits dht_error)', async () => {
    const errors: string[] = [];
    // 192.0.2.1 (TEST-NET-1) is no address of this machine: binding the UDP socket fails, nothing is sent.
    const d = new Discovery({
      counters: new Counters(), settings: { ...DEFAULT_SETTINGS, enable_dht: true, dht_bootstrap_nodes: '', enable_lsd: false },
      peerId: new Uint8Array(20), listenPort: 6881, listenHost: '192.0.2.1',
      onError: (what, error) => void errors.push(`${what}: ${error}`),
    });
    await d.start();
    await d.close();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^dht: \S/);
  });
});
