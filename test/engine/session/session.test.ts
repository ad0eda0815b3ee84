import { describe, it, expect } from '@jest/globals';
import { readFile, readdir, writeFile, truncate, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import bencode from 'bencode';
import { Session, SpritzleError, type SessionEvents } from '@spritzle/engine';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from '../../helpers/fixtures.js';
import { waitFor, finished, sessionsForThisFile } from '../../helpers/engine.js';

const require = createRequire(import.meta.url);
const specStatusKeys = (require('../../fixtures/spec-status-keys.json') as { keys: string[] }).keys;
const statNames = (require('../../fixtures/session-stats-names.json') as { names: string[] }).names;

const session = sessionsForThisFile();

function caught(f: () => unknown): Promise<SpritzleError> {
  return Promise.resolve().then(f).then(
    () => { throw new Error('expected a SpritzleError'); },
    (e: unknown) => {
      if (!(e instanceof SpritzleError)) throw e;
      return e;
    },
  );
}

describe('session stats', () => {
  it('hold every libtorrent counter name, as integers, and only spritzle.-prefixed names besides', async () => {
    const s = await session();
    const stats = s.stats();
    for (const name of statNames) expect(typeof stats[name]).toBe('number');
    const own = Object.keys(stats).filter((n) => !statNames.includes(n));
    expect(own.filter((n) => !n.startsWith('spritzle.'))).toEqual([]);
    expect(Object.values(stats).every((v) => Number.isInteger(v))).toBe(true);
  });

  it('report ses.num_unchoke_slots as libtorrent does (8 by default)', async () => {
    expect((await session()).stats()['ses.num_unchoke_slots']).toBe(8);
  });
});

describe('adding torrents', () => {
  it('a torrent added over complete data is checked and seeds with zero bytes downloaded', async () => {
    const t = await makeTorrent({ dir: await tmpDir('complete'), name: 'full.bin', files: 1_000_000, pieceLength: 65536 });
    const s = await session();
    const states: string[] = [];
    s.on('state_changed', ({ state }) => states.push(state));
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => h.status().is_seeding);
    const st = h.status();
    expect(states).toEqual(['checking_files', 'seeding']);
    expect(st.total_payload_download).toBe(0);
    expect(st.progress).toBe(1);
    expect(st.num_pieces).toBe(16);
    expect(s.stats()['disk.num_blocks_hashed']).toBeGreaterThan(0);
    expect(s.stats()['ses.num_seeding_torrents']).toBe(1);
  });

  it('a torrent added over partial data downloads only the missing pieces', async () => {
    const t = await makeTorrent({ dir: await tmpDir('partial-src'), name: 'part.bin', files: 1_048_576, pieceLength: 65536 });
    const seed = await session();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().is_seeding);
    const save = await tmpDir('partial-dl');
    const copy = join(save, 'part.bin');
    await writeFile(copy, await readFile(dataFiles(t, t.dataRoot)[0]!));
    await truncate(copy, 65536 * 10); // 10 of 16 pieces present
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${seed.listenPort}`] });
    await finished(s, h);
    expect(await sameBytes(copy, dataFiles(t, t.dataRoot)[0]!)).toBe(true);
    expect(h.status().total_payload_download).toBe(6 * 65536);
  });

  it('a torrent whose file paths escape save_path is refused and writes nothing', async () => {
    const evil = bencode.encode({
      info: {
        name: 'innocent', 'piece length': 16384, pieces: new Uint8Array(20),
        files: [{ length: 10, path: ['..', '..', 'escaped.txt'] }],
      },
    });
    const save = await tmpDir('escape');
    const s = await session();
    const e = await caught(() => s.addTorrent({ ti: evil, save_path: save }));
    expect(e.code).toBe('invalid_path');
    expect(e.message).toMatch(/\.\./);
    expect(s.torrents()).toHaveLength(0);
    expect(await readdir(save)).toEqual([]);
  });

  it('an absolute path inside a torrent is refused', async () => {
    const evil = bencode.encode({
      info: { name: 'x', 'piece length': 16384, pieces: new Uint8Array(20), files: [{ length: 10, path: ['/etc', 'passwd'] }] },
    });
    const e = await caught(async () => (await session()).addTorrent({ ti: evil, save_path: await tmpDir('abs') }));
    expect(e.code).toBe('invalid_path');
  });

  it('malformed .torrent bytes are an invalid_torrent error', async () => {
    const s = await session();
    for (const bad of [new Uint8Array(0), Buffer.from('not bencode'), bencode.encode({ info: { name: 'x' } })]) {
      expect((await caught(() => s.addTorrent({ ti: bad }))).code).toBe('invalid_torrent');
    }
    expect(s.torrents()).toHaveLength(0);
  });

  it('unknown and ill-typed params are refused, naming the field', async () => {
    const s = await session();
    const e1 = await caught(() => s.addTorrent({ info_hash: 'a'.repeat(40), bogus_key: 1 } as never));
    expect([e1.code, e1.field]).toEqual(['invalid_param', 'bogus_key']);
    const e2 = await caught(() => s.addTorrent({ info_hash: 'a'.repeat(40), file_priorities: [9] }));
    expect(e2.field).toBe('file_priorities[0]');
    const e3 = await caught(() => s.addTorrent({ info_hash: 'xyz' }));
    expect(e3.field).toBe('info_hash');
    const e4 = await caught(() => s.addTorrent({ info_hash: 'a'.repeat(40), flags: ['paused', 'nonsense'] as never }));
    expect(e4.field).toBe('flags');
    expect(s.torrents()).toHaveLength(0);
  });

  it('a duplicate add returns the existing torrent, or fails with duplicate_is_error', async () => {
    const t = await makeTorrent({ dir: await tmpDir('dup'), name: 'dup.bin', files: 50_000 });
    const s = await session();
    const a = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    const b = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    expect(b).toBe(a);
    expect(s.torrents()).toHaveLength(1);
    const e = await caught(() => s.addTorrent({ ti: t.torrentBytes, flags: ['duplicate_is_error'] }));
    expect(e.code).toBe('duplicate_torrent');
  });

  it('an added torrent exposes every status key of the spec example', async () => {
    const t = await makeTorrent({ dir: await tmpDir('keys'), name: 'keys.bin', files: 70_000, pieceLength: 16384 });
    const h = await (await session()).addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('keys-dl') });
    const st = h.status() as unknown as Record<string, unknown>;
    for (const k of specStatusKeys) expect(st).toHaveProperty(k);
    expect(st.state).toBe('downloading');
    expect(st.block_size).toBe(16384);
    expect(st.pieces).toEqual([false, false, false, false, false]);
    expect(st.info_hash).toBe(t.infoHash);
    expect(st.next_announce).toBe('0.0');
    expect(st.errc).toEqual({ value: 0, message: 'Success', category: { name: 'system', message: 'Success' } });
    expect(JSON.parse(JSON.stringify(st))).toEqual(st);
  });

  it('paused by flag, a torrent makes no connections until resumed', async () => {
    const t = await makeTorrent({ dir: await tmpDir('paused-src'), name: 'p.bin', files: 200_000, pieceLength: 16384 });
    const seed = await session();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().is_seeding);
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('paused-dl'), flags: ['paused'], peers: [`127.0.0.1:${seed.listenPort}`] });
    await new Promise((r) => setTimeout(r, 200));
    expect(h.status().paused).toBe(true);
    expect(s.stats()['peer.connection_attempts']).toBe(0);
    h.resume();
    await finished(s, h);
    expect(h.status().paused).toBe(false);
  });
});

describe('a running torrent', () => {
  it('pause closes its peer connections and resume reconnects', async () => {
    const t = await makeTorrent({ dir: await tmpDir('pr-src'), name: 'pr.bin', files: 100_000 });
    const seed = await session();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().is_seeding);
    const s = await session();
    // Priority 0 for the only file: connected and finished but wanting nothing, so the link stays up.
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: await tmpDir('pr-dl'), file_priorities: [0], peers: [`127.0.0.1:${seed.listenPort}`] });
    await waitFor(() => h.status().num_peers === 1, 5000, 'a connection');
    expect(h.status().state).toBe('finished');
    h.pause();
    await waitFor(() => h.status().num_peers === 0 && sh.status().num_peers === 0, 5000, 'connections to close');
    expect(h.status().paused).toBe(true);
    h.resume();
    await waitFor(() => h.status().num_peers === 1, 5000, 'a reconnection');
  });

  it('removeTorrent with deleteFiles removes the data; an unknown hash is torrent_not_found', async () => {
    const t = await makeTorrent({ dir: await tmpDir('rm'), name: 'rmdir', files: [{ path: 'a/b.bin', size: 40_000 }, { path: 'c.bin', size: 10 }] });
    const s = await session();
    const events: SessionEvents['torrent_removed'][] = [];
    s.on('torrent_removed', (e) => events.push(e));
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => h.status().is_seeding);
    await s.removeTorrent(t.infoHash, { deleteFiles: true });
    expect(await readdir(t.dataRoot)).toEqual(['rmdir.torrent']);
    expect(events).toEqual([{ info_hash: t.infoHash, deleted_files: true }]);
    expect(h.isValid()).toBe(false);
    expect((await caught(() => h.status())).code).toBe('torrent_not_found');
    expect((await caught(() => s.removeTorrent(t.infoHash))).code).toBe('torrent_not_found');
  });

  it('forceRecheck finds a damaged piece and downloads it again', async () => {
    const t = await makeTorrent({ dir: await tmpDir('rc-src'), name: 'rc.bin', files: 500_000, pieceLength: 32768 });
    const seed = await session();
    const sh = await seed.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
    await waitFor(() => sh.status().is_seeding);
    const save = await tmpDir('rc-dl');
    const s = await session();
    const h = await s.addTorrent({ ti: t.torrentBytes, save_path: save, peers: [`127.0.0.1:${seed.listenPort}`] });
    await finished(s, h);
    const file = join(save, 'rc.bin');
    const bytes = await readFile(file);
    bytes[40_000] = bytes[40_000]! ^ 0xff; // piece 1
    await writeFile(file, bytes);
    await h.forceRecheck();
    expect(h.status().pieces[1]).toBe(false);
    expect(h.status().state).toBe('downloading');
    h.connectPeer('127.0.0.1', seed.listenPort);
    await finished(s, h);
    expect(await sameBytes(file, dataFiles(t, t.dataRoot)[0]!)).toBe(true);
    expect((await stat(file)).size).toBe(500_000);
  });
});
