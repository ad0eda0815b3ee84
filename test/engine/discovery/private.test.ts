import { describe, it, expect, afterEach } from '@jest/globals';
import { Session, type DiscoveryOptions } from '@spritzle/engine';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { waitFor } from '../../helpers/engine.js';
import { startPlainDhtNodes, stopPlainDhtNodes, type PlainDhtNode } from '../../helpers/dht.js';
import { connectRawPeer, type RawPeer } from '../../helpers/raw-peer.js';
import { listenLsd, type LsdListener } from '../../helpers/lsd.js';
import { freeTcpUdpPort, startLocalTracker, type LocalTracker } from '../../helpers/trackers.js';

// BEP 27: a private torrent uses its trackers only. Every discovery mechanism is switched on and given a
// second to act (the DHT and LSD rounds run every second here), and nothing but the tracker hears of it.
const FAST: DiscoveryOptions = { dhtAnnounceInterval: 1, lsdAnnounceInterval: 1 };

describe('private torrents', () => {
  const sessions: Session[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    for (const c of cleanups.splice(0)) await c();
  });

  async function session(settings: Record<string, unknown> = {}, opts: DiscoveryOptions = FAST): Promise<Session> {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', ...settings }, { discovery: opts });
    sessions.push(s);
    return s;
  }

  async function privateTorrent(name: string, announce: string[] = []) {
    return makeTorrent({ dir: await tmpDir(`priv-${name}`), name, files: 200_000, pieceLength: 32768, private: true, announce });
  }

  it('a private torrent never touches the DHT: its counters stay at 0 while the node runs', async () => {
    const plain: PlainDhtNode[] = await startPlainDhtNodes(2);
    cleanups.push(() => stopPlainDhtNodes(plain));
    const s = await session({ enable_dht: true, dht_bootstrap_nodes: plain[0]!.addr });
    await waitFor(() => s.stats()['dht.dht_nodes']! >= 2, 10_000, 'the node to join the local DHT');
    const t = await privateTorrent('dht');
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => h.status().state === 'seeding');
    await new Promise((r) => setTimeout(r, 2500));
    const st = s.stats();
    for (const name of ['dht.dht_get_peers_out', 'dht.dht_announce_peer_out', 'dht.dht_get_peers_in', 'dht.dht_announce_peer_in', 'dht.dht_torrents', 'dht.dht_peers']) {
      expect([name, st[name]]).toEqual([name, 0]);
    }
    for (const n of plain) {
      expect(n.getPeers).not.toContain(t.infoHash);
      expect(n.announces).not.toContain(t.infoHash);
    }
    expect(h.status().announcing_to_dht).toBe(false);
  });

  it('a private torrent never sends PEX, and does not even offer ut_pex', async () => {
    const t = await privateTorrent('pex');
    const seed = await session();
    await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    const middle = await session();
    const mh = await middle.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('priv-pex-mid'), peers: [`127.0.0.1:${seed.listenPort}`], file_priorities: [0] });
    await waitFor(() => mh.peers().length === 1, 10_000, 'the middle peer to connect to the seed');
    const raw: RawPeer = await connectRawPeer(middle.listenPort, t.infoHash);
    cleanups.push(() => raw.close());
    await waitFor(() => raw.handshake() !== null, 5000, 'the extended handshake');
    expect(raw.handshake()!.m).not.toHaveProperty('ut_pex');
    // A public torrent sends its first PEX message within a second (discovery-pex); give it three.
    await new Promise((r) => setTimeout(r, 3000));
    expect(raw.pex).toHaveLength(0);
    expect(raw.extended).toEqual([]);
  });

  it('a private torrent is never announced over LSD', async () => {
    const lsdPort = await freeTcpUdpPort();
    const listener: LsdListener = await listenLsd(lsdPort);
    cleanups.push(() => listener.close());
    const s = await session({ enable_lsd: true }, { ...FAST, lsdPort });
    const priv = await privateTorrent('lsd');
    const pub = await makeTorrent({ dir: await tmpDir('priv-lsd-pub'), name: 'pub', files: 100_000, pieceLength: 32768 });
    const ph = await s.addTorrent({ ti: priv.torrentBytes, save_path: priv.dataRoot });
    await s.addTorrent({ ti: pub.torrentBytes, save_path: pub.dataRoot });
    // The public one is heard (so the listener works), repeatedly; the private one never.
    await waitFor(() => listener.heard.filter((x) => x.infoHash === pub.infoHash).length >= 2, 5000, 'two LSD rounds');
    expect(listener.heard.map((x) => x.infoHash)).not.toContain(priv.infoHash);
    expect(ph.status().announcing_to_lsd).toBe(false);
  });

  it('a private torrent still uses its trackers', async () => {
    const tr: LocalTracker = await startLocalTracker();
    cleanups.push(() => tr.close());
    const t = await privateTorrent('tracker', [tr.httpUrl]);
    const s = await session({ enable_dht: true, enable_lsd: true }, { ...FAST, lsdPort: await freeTcpUdpPort() });
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => tr.events.some((e) => e.event === 'start' && e.infoHash === t.infoHash), 5000, 'a started announce');
    expect(h.status().announcing_to_trackers).toBe(true);
  });
});
