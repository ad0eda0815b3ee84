import { describe, it, expect } from '@jest/globals';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import Wire from 'bittorrent-protocol';
import { Session, type SessionStats } from '@spritzle/engine';
import { makeTorrent, tmpDir } from '../../helpers/fixtures.js';
import { waitFor, finished, sessionsForThisFile } from '../../helpers/engine.js';

const session = sessionsForThisFile();

// Each counter the engine claims to drive moves when its event happens.
describe('session counters', () => {
  it('gauges follow torrents and connections while they exist', async () => {
    const t = await makeTorrent({ dir: await tmpDir('gauge'), name: 'g.bin', files: 3_000_000, pieceLength: 16384 });
    const seed = await session();
    let checking: SessionStats | null = null;
    seed.on('state_changed', ({ state }) => {
      if (state === 'checking_files') checking = seed.stats();
    });
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    expect(checking!['ses.num_checking_torrents']).toBe(1);
    expect(checking!['ses.num_loaded_torrents']).toBe(1);
    await waitFor(() => sh.status().is_seeding);
    expect(seed.stats()['ses.num_checking_torrents']).toBe(0);
    expect(seed.stats()['ses.num_total_pieces_added']).toBe(Math.ceil(3_000_000 / 16384));

    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('gauge-dl'), peers: [`127.0.0.1:${seed.listenPort}`] });
    await waitFor(() => h.status().num_peers === 1, 5000);
    const during = s.stats();
    expect(during['peer.num_peers_connected']).toBe(1);
    // Two spritzles talk uTP (tried first, as libtorrent does).
    expect(during['peer.num_utp_peers']).toBe(1);
    expect(during['peer.num_tcp_peers']).toBe(0);
    expect(during['ses.num_downloading_torrents'] + during['ses.num_seeding_torrents']!).toBe(1);
    await finished(s, h);
    await waitFor(() => s.stats()['peer.num_peers_connected'] === 0, 5000, 'the seeds to part');
    const after = s.stats();
    expect(after['ses.num_downloading_torrents']).toBe(0);
    expect(after['ses.num_seeding_torrents']).toBe(1);
    expect(after['ses.num_have_pieces']).toBe(Math.ceil(3_000_000 / 16384));
    expect(after['net.sent_bytes']!).toBeGreaterThan(0);
    expect(after['ses.num_incoming_have_all']! + after['ses.num_incoming_bitfield']!).toBe(1);
    expect(after['ses.num_outgoing_have_none']! + after['ses.num_outgoing_bitfield']!).toBe(1);
    expect(after['ses.num_outgoing_have']).toBeGreaterThan(0);
    expect(after['ses.num_incoming_extended']).toBeGreaterThan(0);
    expect(after['ses.num_incoming_ext_handshake']).toBe(1);
    expect(after['ses.num_outgoing_interested']).toBe(1);
    expect(after['peer.disconnected_peers']).toBe(1);
    const ss = seed.stats();
    expect(ss['disk.num_read_ops']).toBeGreaterThan(0);
    expect(ss['ses.num_incoming_interested']).toBe(1);
    expect(ss['peer.piece_requests']).toBe(ss['ses.num_incoming_request']);
  });

  it('an unrequested block counts as redundant bytes and is not stored', async () => {
    const t = await makeTorrent({ dir: await tmpDir('redundant'), name: 'r.bin', files: 100_000, pieceLength: 16384 });
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('redundant-dl') });
    await new Promise<void>((resolve) => {
      const sock = net.connect(s.listenPort, '127.0.0.1', () => {
        const wire = new Wire('tcpOutgoing');
        sock.pipe(wire as never);
        wire.pipe(sock);
        wire.on('handshake', () => {
          wire.piece(0, 0, randomBytes(16384)); // never requested
          setTimeout(() => { sock.destroy(); resolve(); }, 200);
        });
        wire.handshake(t.infoHash, randomBytes(20), { fast: true });
      });
      sock.on('error', () => undefined);
    });
    expect(s.stats()['net.recv_redundant_bytes']).toBe(16384);
    expect(h.status().total_redundant_bytes).toBe(16384);
    expect(h.status().num_pieces).toBe(0);
    expect(s.stats()['ses.num_incoming_piece']).toBe(1);
  });
});
