import { describe, it, expect, afterAll } from '@jest/globals';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Wire from 'bittorrent-protocol';
import { Session, type SessionSettings } from '@spritzle/engine';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { waitFor, finished, sessionsForThisFile } from '../../helpers/engine.js';
import { servePeers, type PeerServer } from '../../helpers/raw-peer.js';

const session = sessionsForThisFile();
const servers: PeerServer[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

/** A peer that completes the handshake, claims every piece, unchokes, and then never sends a block. */
async function startStaller(silent: boolean): Promise<number> {
  const server = await servePeers((wire) => {
    wire.on('handshake', (infoHash: string) => {
      wire.handshake(infoHash, randomBytes(20), { fast: true });
      if (silent) return;
      wire.haveAll();
      wire.unchoke();
    });
  });
  servers.push(server);
  return server.port;
}

describe('peer rules', () => {
  it('a peer that stays silent past peer_timeout is disconnected', async () => {
    const t = await makeTorrent({ dir: await tmpDir('silent'), name: 's.bin', files: 100_000 });
    const port = await startStaller(true);
    const s = await session({ peer_timeout: 1 });
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('silent-dl'), peers: [`127.0.0.1:${port}`] });
    const reasons: string[] = [];
    s.on('peer_disconnected', ({ reason }) => reasons.push(reason));
    await waitFor(() => reasons.length > 0, 5000, 'a disconnect');
    expect(reasons[0]).toBe('peer timed out');
    expect(s.stats()['peer.timeout_peers']).toBe(1);
    expect(h.status().num_peers).toBe(0);
  });

  it('a peer that unchokes but sends no blocks is snubbed and its requests go to an honest peer', async () => {
    const t = await makeTorrent({ dir: await tmpDir('snub'), name: 'n.bin', files: 400_000, pieceLength: 16384 });
    const staller = await startStaller(false);
    const seed = await session();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().is_seeding);
    const s = await session({ piece_timeout: 1 });
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('snub-dl'), peers: [`127.0.0.1:${staller}`] });
    await waitFor(() => h.peers().some((p) => p.queue > 0), 5000, 'requests to the staller');
    await waitFor(() => h.peers().some((p) => p.flags.includes('s')), 5000, 'the staller to be snubbed');
    // Snubbed: its requests went back to the picker; it keeps at most one.
    expect(h.peers()[0]!.queue).toBeLessThanOrEqual(1);
    h.connectPeer('127.0.0.1', seed.listenPort);
    await finished(s, h, 20_000);
  });

  it('a connection to ourselves is dropped and not dialled again', async () => {
    const t = await makeTorrent({ dir: await tmpDir('self'), name: 'self.bin', files: 50_000 });
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('self-dl') });
    h.connectPeer('127.0.0.1', s.listenPort);
    await waitFor(() => s.stats()['peer.connection_attempts'] === 1 && s.stats()['peer.incoming_connections'] === 1, 5000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.status().num_peers).toBe(0);
    expect(s.stats()['peer.connection_attempts']).toBe(1);
  });

  it('a second connection from a peer id already connected is dropped', async () => {
    const t = await makeTorrent({ dir: await tmpDir('dupid'), name: 'd.bin', files: 50_000 });
    const s = await session();
    await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('dupid-dl') });
    const id = randomBytes(20);
    const open = (): Promise<net.Socket> => new Promise((resolve) => {
      const sock = net.connect(s.listenPort, '127.0.0.1', () => {
        const wire = new Wire('tcpOutgoing');
        sock.pipe(wire as never);
        wire.pipe(sock);
        wire.handshake(t.infoHash, id, { fast: true });
        resolve(sock);
      });
      sock.on('error', () => undefined);
    });
    const first = await open();
    const h = s.findTorrent(t.infoHash)!;
    await waitFor(() => h.status().num_peers === 1, 5000);
    const second = await open();
    await new Promise<void>((resolve) => second.on('close', () => resolve()));
    expect(h.status().num_peers).toBe(1);
    first.destroy();
  });

  it('peers on one address with different ports are different peers', async () => {
    const t = await makeTorrent({ dir: await tmpDir('multi-port'), name: 'm.bin', files: 50_000 });
    const seed = await session();
    await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    const a = await session();
    const b = await session();
    const dl = await tmpDir('mp');
    await a.addTorrent({ ti: t.torrentBytes, save_path: join(dl, 'a'), file_priorities: [0], peers: [`127.0.0.1:${seed.listenPort}`] });
    await b.addTorrent({ ti: t.torrentBytes, save_path: join(dl, 'b'), file_priorities: [0], peers: [`127.0.0.1:${seed.listenPort}`] });
    await waitFor(() => seed.findTorrent(t.infoHash)!.status().num_peers === 2, 5000, 'two peers at the seed');
  });
});

describe('disk errors', () => {
  it('a save_path that cannot be written puts the torrent in an error state with the reason', async () => {
    const t = await makeTorrent({ dir: await tmpDir('diskerr-src'), name: 'e.bin', files: 100_000, pieceLength: 16384 });
    const seed = await session();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().is_seeding);
    const blocker = join(await tmpDir('diskerr'), 'a-file');
    await writeFile(blocker, 'not a directory');
    const s = await session();
    const errors: string[] = [];
    s.on('torrent_error', ({ error }) => errors.push(error));
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: blocker, peers: [`127.0.0.1:${seed.listenPort}`] });
    await waitFor(() => errors.length > 0, 10_000, 'a torrent error');
    const st = h.status();
    expect(st.errc.value).not.toBe(0);
    expect(st.errc.message).toMatch(/ENOTDIR|not a directory/);
    expect(st.num_peers).toBe(0);
    expect(s.stats()['ses.num_error_torrents']).toBe(1);
  });
});

describe('simultaneous connections', () => {
  it('two peers that dial each other at once keep exactly one connection', async () => {
    const t = await makeTorrent({ dir: await tmpDir('simul'), name: 'simul.bin', files: 2_000_000, pieceLength: 16384 });
    const a = await session();
    const b = await session();
    // Neither has data and neither wants it: nothing ends the connection but the duplicate rule.
    const ha = await a.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('simul-a'), file_priorities: [0] });
    const hb = await b.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('simul-b'), file_priorities: [0] });
    ha.connectPeer('127.0.0.1', b.listenPort);
    hb.connectPeer('127.0.0.1', a.listenPort);
    await waitFor(() => ha.status().num_peers === 1 && hb.status().num_peers === 1, 5000, 'one connection each');
    await new Promise((r) => setTimeout(r, 300));
    expect([ha.status().num_peers, hb.status().num_peers]).toEqual([1, 1]);
    expect(ha.peers()[0]!.direction).not.toBe(hb.peers()[0]!.direction);
  });
});
