import { describe, it, expect, afterEach } from '@jest/globals';
import { Session } from '@spritzle/engine';
import type Wire from 'bittorrent-protocol';
import { makeTorrent, tmpDir, sameBytes, dataFiles, type TestTorrent } from '../../helpers/fixtures.js';
import { waitFor, finished } from '../../helpers/engine.js';
import { connectRawPeer, compactPeers, type RawPeer } from '../../helpers/raw-peer.js';
import { PexPeer, PEX_INTERVAL_MS, PEX_MAX_PEERS } from '../../../packages/engine/src/discovery/pex.js';

// Peer exchange (BEP 11) between engines on 127.0.0.1, with no tracker, DHT or LSD: whatever a peer learns
// beyond the addresses it was given, it learned over ut_pex.
describe('PEX', () => {
  const sessions: Session[] = [];
  const raws: RawPeer[] = [];

  afterEach(async () => {
    for (const r of raws.splice(0)) r.close();
    await Promise.all(sessions.splice(0).map((s) => s.close()));
  });

  async function session(): Promise<Session> {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    sessions.push(s);
    return s;
  }

  /**
   * A seed S, and A connected to S that wants nothing (so A keeps S connected and has no pieces of its own).
   * S runs without PEX: otherwise A tells S about the newcomer too, and S and the newcomer dial each other at
   * the same moment; the session's duplicate-peer-id rule then drops both connections (reported, not a PEX
   * matter), which would make this test about that rule instead.
   */
  async function seedAndMiddle(name: string): Promise<{ t: TestTorrent; seed: Session; middle: Session }> {
    const t = await makeTorrent({ dir: await tmpDir(`pex-${name}`), name, files: 300_000, pieceLength: 32768 });
    const seed = await session();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot, flags: ['disable_pex'] });
    await waitFor(() => sh.status().state === 'seeding');
    const middle = await session();
    const mh = await middle.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir(`pex-${name}-mid`), peers: [`127.0.0.1:${seed.listenPort}`], file_priorities: [0] });
    await waitFor(() => mh.peers().length === 1, 10_000, 'the middle peer to connect to the seed');
    return { t, seed, middle };
  }

  it('a leecher that knows only one peer learns of a third from it and connects', async () => {
    const { t, seed, middle } = await seedAndMiddle('third');
    const leecher = await session();
    const save = await tmpDir('pex-third-dl');
    const dialled: string[] = [];
    leecher.on('peer_connected', ({ port, direction }) => dialled.push(`${direction}:${port}`));
    const h = await leecher.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${middle.listenPort}`] });
    // The middle peer has no pieces: the data can only come from the seed, known only through PEX.
    await finished(leecher, h, 20_000);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    expect(dialled).toContain(`outgoing:${seed.listenPort}`);
  });

  it('the first message lists the connected peers at once; no second one comes within the minute', async () => {
    const { t, seed, middle } = await seedAndMiddle('rate');
    const raw = await connectRawPeer(middle.listenPort, t.infoHash);
    raws.push(raw);
    await waitFor(() => raw.pex.length === 1, 5000, 'a first PEX message');
    expect(raw.handshake()?.m).toHaveProperty('ut_pex');
    // BEP 10 `p`: the engine says where it listens, so that PEX can pass its address on.
    expect(raw.handshake()?.p).toBe(middle.listenPort);
    expect(compactPeers(raw.pex[0]!.msg.added)).toEqual([`127.0.0.1:${seed.listenPort}`]);
    // The middle peer's peer set changes, yet nothing more is sent for a minute.
    const another = await session();
    await another.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('pex-rate-other'), peers: [`127.0.0.1:${middle.listenPort}`], file_priorities: [0] });
    await new Promise((r) => setTimeout(r, 3000));
    expect(raw.pex).toHaveLength(1);
  });

  it('a message carries at most 50 added peers, and at most 50 are taken from one', () => {
    const sent: { name: string; msg: Record<string, Uint8Array> }[] = [];
    const fakeWire = {
      destroyed: false,
      peerExtendedHandshake: {},
      once: () => undefined,
      extended: (name: string, msg: Record<string, Uint8Array>) => sent.push({ name, msg }),
    } as unknown as Wire;
    const received: number[] = [];
    const pex = new PexPeer(fakeWire, { enabled: () => true, received: (p) => received.push(p.length), detach: () => undefined }, { ip: '127.0.0.1', port: 1 });
    pex.onExtendedHandshake({ m: { ut_pex: 1 } });
    const peers = Array.from({ length: 80 }, (_, i) => ({ host: `10.0.${i >> 8}.${i & 255}`, port: 6881 }));
    const now = Date.now();
    pex.maybeSend(now, peers);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.msg.added!.length).toBe(PEX_MAX_PEERS * 6);
    expect(sent[0]!.msg['added.f']!.length).toBe(PEX_MAX_PEERS);
    pex.maybeSend(now + 1000, peers);
    expect(sent).toHaveLength(1);
    pex.maybeSend(now + PEX_INTERVAL_MS, peers);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.msg.added!.length).toBe(30 * 6);

    // Incoming: 80 peers in one message → 50 taken; a second message right after is ignored.
    const big = Buffer.concat([Buffer.from(`d5:added${80 * 6}:`), Buffer.alloc(80 * 6, 1), Buffer.from('e')]);
    const fresh = new PexPeer(fakeWire, { enabled: () => true, received: (p) => received.push(p.length), detach: () => undefined }, { ip: '127.0.0.1', port: 1 });
    fresh.onMessage(big);
    fresh.onMessage(big);
    expect(received).toEqual([PEX_MAX_PEERS]);
  });
});
