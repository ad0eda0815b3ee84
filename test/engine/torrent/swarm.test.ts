import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { Session, type TorrentHandle, type SessionEvents } from '@spritzle/engine';
import { makeTorrent, tmpDir, sameBytes, dataFiles, type TestTorrent } from '../../helpers/fixtures.js';
import { waitFor, finished } from '../../helpers/engine.js';

// One engine seed and three engine leechers on 127.0.0.1, a multi-file torrent whose pieces straddle
// files (and a short last piece).
describe('a swarm of engines', () => {
  let t: TestTorrent;
  let seed: Session;
  const leechers: Session[] = [];
  const saves: string[] = [];
  const handles: TorrentHandle[] = [];
  const events: (keyof SessionEvents)[] = [];

  beforeAll(async () => {
    const dir = await tmpDir('swarm-src');
    t = await makeTorrent({
      dir, name: 'multi', pieceLength: 32768,
      files: [{ path: 'a.bin', size: 300_001 }, { path: 'sub/b.bin', size: 1 }, { path: 'sub/c.bin', size: 1_000_000 }, { path: 'd.bin', size: 77_777 }],
    });
    seed = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().state === 'seeding');
    for (let i = 0; i < 3; i++) {
      const s = await Session.create({ listen_interfaces: '127.0.0.1:0' });
      s.onAny((name) => events.push(name));
      leechers.push(s);
      saves.push(await tmpDir(`swarm-dl${i}`));
    }
    // Each leecher knows the seed and the leechers before it, so pieces also flow between leechers.
    for (let i = 0; i < 3; i++) {
      const peers = [`127.0.0.1:${seed.listenPort}`, ...leechers.slice(0, i).map((l) => `127.0.0.1:${l.listenPort}`)];
      handles.push(await leechers[i]!.addTorrent({ ti: t.torrentBytes, save_path: saves[i]!, peers }));
    }
    await Promise.all(handles.map((h, i) => finished(leechers[i]!, h)));
  });

  afterAll(async () => {
    await Promise.all([seed, ...leechers].map((s) => s?.close()));
  });

  it('every leecher ends up with every byte of every file', async () => {
    const src = dataFiles(t, t.dataRoot);
    for (const save of saves) {
      const dst = dataFiles(t, save);
      for (let f = 0; f < src.length; f++) expect(await sameBytes(src[f]!, dst[f]!)).toBe(true);
    }
  });

  it('every leecher reports seeding with progress 1', () => {
    for (const h of handles) {
      const st = h.status();
      expect(st.state).toBe('seeding');
      expect(st.progress).toBe(1);
      expect(st.is_seeding).toBe(true);
      expect(st.total_wanted_done).toBe(st.total_wanted);
      expect(st.pieces.every(Boolean)).toBe(true);
    }
  });

  it('the leechers emitted the lifecycle events', () => {
    for (const name of ['torrent_added', 'state_changed', 'piece_finished', 'torrent_finished', 'peer_connected'] as const) {
      expect(events).toContain(name);
    }
  });

  it('byte counters account for the payload', () => {
    const size = t.files.reduce((a, f) => a + f.size, 0);
    let payload = 0;
    for (const l of leechers) {
      const s = l.stats();
      payload += s['net.recv_payload_bytes']!;
      expect(s['net.recv_bytes']!).toBeGreaterThanOrEqual(s['net.recv_payload_bytes']!);
      expect(s['ses.num_piece_passed']).toBe(Math.ceil(size / 32768));
      expect(s['ses.num_incoming_piece']!).toBeGreaterThan(0);
      expect(s['ses.num_outgoing_request']!).toBeGreaterThan(0);
      expect(s['ses.num_outgoing_interested']!).toBeGreaterThan(0);
      expect(s['ses.num_incoming_unchoke']!).toBeGreaterThan(0);
      expect(s['disk.num_blocks_written']!).toBeGreaterThan(0);
      expect(s['disk.num_write_ops']!).toBeGreaterThan(0);
      expect(s['disk.num_blocks_hashed']!).toBeGreaterThan(0);
      expect(s['ses.num_seeding_torrents']).toBe(1);
      expect(s['ses.num_have_pieces']).toBe(Math.ceil(size / 32768));
      expect(s['peer.connection_attempts']!).toBeGreaterThan(0);
    }
    expect(payload).toBeGreaterThanOrEqual(3 * size);
    const ss = seed.stats();
    expect(ss['net.sent_payload_bytes']!).toBeGreaterThan(0);
    expect(ss['ses.num_outgoing_piece']!).toBeGreaterThan(0);
    expect(ss['disk.num_blocks_read']!).toBeGreaterThan(0);
    expect(ss['peer.incoming_connections']!).toBeGreaterThan(0);
  });
});
