import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { writeFile, readFile, rm, stat } from 'node:fs/promises';
import bencode from 'bencode';
import { join } from 'node:path';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from '../helpers/fixtures.js';
import { startLtSeed, requireLibtorrent } from '../helpers/libtorrent.js';
import { buildCli } from '../helpers/cli.js';
import { startDaemon, killAllDaemons, getJson, addTorrentFile } from '../helpers/daemon.js';

type Status = { state: string; progress: number; paused: boolean; total_wanted_done: number; total_payload_download: number; total_wanted: number };
type Stats = Record<string, number>;

beforeAll(() => buildCli(), 180_000);
afterAll(() => killAllDaemons());

async function waitStatus(base: string, hash: string, cond: (s: Status) => boolean, ms = 30_000): Promise<Status> {
  let last: Status | null = null;
  const end = Date.now() + ms;
  for (;;) {
    last = await getJson<Status>(`${base}/torrent/${hash}`);
    if (cond(last)) return last;
    if (Date.now() > end) throw new Error(`status never matched: ${JSON.stringify({ state: last.state, progress: last.progress })}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the daemon (spritzle start) across restarts', () => {
  it('brings its torrents back after a restart, paused ones paused, without re-hashing complete data', async () => {
    const state = await tmpDir('daemon-state');
    const root = await tmpDir('daemon-data');
    const t = await makeTorrent({ dir: root, name: 'kept.bin', files: 2_000_000, pieceLength: 65536 });
    const u = await makeTorrent({ dir: root, name: 'paused.bin', files: 300_000 });
    let d = await startDaemon(state, t.dataRoot);
    const h = await addTorrentFile(d.url, t.torrentBytes, { save_path: t.dataRoot });
    const p = await addTorrentFile(d.url, u.torrentBytes, { save_path: u.dataRoot, flags: ['paused'] });
    await waitStatus(d.url, h, (s) => s.state === 'seeding');
    expect((await d.stop()).code).toBe(0);

    d = await startDaemon(state, t.dataRoot);
    expect((await getJson<string[]>(`${d.url}/torrent`)).sort()).toEqual([h, p].sort());
    expect((await getJson<Status>(`${d.url}/torrent/${h}`)).state).toBe('seeding');
    expect((await getJson<Status>(`${d.url}/torrent/${p}`)).paused).toBe(true);
    expect((await getJson<Stats>(`${d.url}/session`))['disk.num_blocks_hashed']).toBe(0);
    expect((await d.stop()).code).toBe(0);
  });

  it('a torrent removed and added again at once keeps its files: after a SIGKILL it is still there', async () => {
    const state = await tmpDir('daemon-readd');
    const root = await tmpDir('daemon-readd-data');
    const t = await makeTorrent({ dir: root, name: 'again.bin', files: 300_000 });
    const d = await startDaemon(state, t.dataRoot);
    const h = await addTorrentFile(d.url, t.torrentBytes, { save_path: t.dataRoot });
    await waitStatus(d.url, h, (s) => s.state === 'seeding');
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${d.url}/torrent/${h}`, { method: 'DELETE' })).status).toBe(200);
      expect(await addTorrentFile(d.url, t.torrentBytes, { save_path: t.dataRoot })).toBe(h);
    }
    // A 201 means on disk: die at once, without a chance to save more.
    await d.stop('SIGKILL');
    const d2 = await startDaemon(state, t.dataRoot);
    expect(await getJson<string[]>(`${d2.url}/torrent`)).toEqual([h]);
    expect((await d2.stop()).code).toBe(0);
  });

  it('a second daemon on the same state directory refuses to start', async () => {
    const state = await tmpDir('daemon-lock');
    const d = await startDaemon(state, await tmpDir('daemon-lock-dl'));
    await expect(startDaemon(state, await tmpDir('daemon-lock-dl2'))).rejects.toThrow(/another spritzle daemon \(pid \d+\) is using the state directory/);
    await d.stop();
  });

  it('a daemon killed with SIGKILL leaves a lock that the next start takes over', async () => {
    const state = await tmpDir('daemon-stale');
    const d = await startDaemon(state, await tmpDir('daemon-stale-dl'));
    await d.stop('SIGKILL');
    const d2 = await startDaemon(state, await tmpDir('daemon-stale-dl2'));
    expect((await d2.stop()).code).toBe(0);
  });

  it('survives a damaged resume file and a deleted data file: restarts, reports, rechecks when asked, loses nothing else', async () => {
    const state = await tmpDir('daemon-damage');
    const root = await tmpDir('dmg');
    const a = await makeTorrent({ dir: root, name: 'a.bin', files: 500_000, pieceLength: 32768 });
    const b = await makeTorrent({ dir: root, name: 'b.bin', files: 500_000, pieceLength: 32768 });
    let d = await startDaemon(state, a.dataRoot);
    const ha = await addTorrentFile(d.url, a.torrentBytes, { save_path: a.dataRoot });
    const hb = await addTorrentFile(d.url, b.torrentBytes, { save_path: b.dataRoot });
    await waitStatus(d.url, ha, (s) => s.state === 'seeding');
    await waitStatus(d.url, hb, (s) => s.state === 'seeding');
    await d.stop();

    await writeFile(join(state, 'torrents', `${ha}.resume`), 'd4:junk');
    await rm(dataFiles(b, b.dataRoot)[0]!);
    d = await startDaemon(state, a.dataRoot);
    expect((await getJson<string[]>(`${d.url}/torrent`)).sort()).toEqual([ha, hb].sort());
    // a: back from its .torrent in an error state saying why; resumed, its data is re-hashed: complete.
    expect((await getJson<{ error: string }>(`${d.url}/torrent/${ha}`)).error).toMatch(/resume file is unusable/);
    expect((await fetch(`${d.url}/torrent/${ha}/resume`, { method: 'POST' })).status).toBe(200);
    await waitStatus(d.url, ha, (s) => s.state === 'seeding');
    // b: its data is gone; the resume data is refused and the torrent waits for peers.
    const sb = await waitStatus(d.url, hb, (s) => s.state === 'downloading');
    expect(sb.progress).toBe(0);
    expect(d.stderr()).toMatch(/resume file unusable/);
    expect(d.stderr()).toMatch(/resume data rejected/);
    await expect(stat(join(state, 'torrents', `${ha}.resume.bad`))).resolves.toBeDefined();
    await d.stop();
  });

  it('killed with SIGKILL mid-download from a libtorrent seed, it restarts and completes byte-identical, downloading again at most what was not yet on disk', async () => {
    requireLibtorrent();
    const t = await makeTorrent({ dir: await tmpDir('crash-src'), name: 'crash.bin', files: 8_000_000, pieceLength: 65536 });
    const seed = await startLtSeed(t.torrentPath, t.dataRoot);
    const state = await tmpDir('crash-state');
    const dl = await tmpDir('crash-dl');
    let d = await startDaemon(state, dl);
    // Slow enough to be caught in the middle.
    const h = await addTorrentFile(d.url, t.torrentBytes, { save_path: dl, peers: [`127.0.0.1:${seed.port}`], download_limit: 2_000_000 });
    const before = await waitStatus(d.url, h, (s) => s.total_wanted_done >= 2_000_000);
    await d.stop('SIGKILL');

    d = await startDaemon(state, dl);
    const hashes = await getJson<string[]>(`${d.url}/torrent`);
    expect(hashes).toEqual([h]);
    await fetch(`${d.url}/torrent/${h}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ download_limit: -1 }) });
    const done = await waitStatus(d.url, h, (s) => s.state === 'seeding', 60_000);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, dl)[0]!)).toBe(true);
    expect(done.total_payload_download).toBeLessThanOrEqual(t.files[0]!.size - before.total_wanted_done);
    await d.stop();
    await seed.stop();
  }, 120_000);
});

describe('the daemon configuration', () => {
  it('takes options from a config file, with flags winning over it', async () => {
    const state = await tmpDir('daemon-config');
    const dl = await tmpDir('daemon-config-dl');
    await writeFile(join(state, 'config.json'), JSON.stringify({ 'download-dir': dl, logLevel: 'warn', port: 1 }));
    const d = await startDaemon(state, dl);
    expect(d.stdout()).toContain(`downloads go to ${dl}`);
    expect(d.url).not.toMatch(/:1$/);
    await d.stop();
  });

  it('refuses a config file with an unknown option, naming it', async () => {
    const state = await tmpDir('daemon-badconfig');
    await writeFile(join(state, 'config.json'), JSON.stringify({ prot: 8080 }));
    await expect(startDaemon(state, await tmpDir('daemon-badconfig-dl'))).rejects.toThrow(/unknown option "prot"/);
  });

  it('keeps settings changed over the API across a restart', async () => {
    const state = await tmpDir('daemon-settings');
    const dl = await tmpDir('daemon-settings-dl');
    let d = await startDaemon(state, dl);
    const r = await fetch(`${d.url}/session/settings`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ upload_rate_limit: 123456, unchoke_slots_limit: 5 }) });
    expect(r.status).toBe(200);
    await d.stop();
    d = await startDaemon(state, dl);
    const s = await getJson<Record<string, unknown>>(`${d.url}/session/settings`);
    expect([s.upload_rate_limit, s.unchoke_slots_limit]).toEqual([123456, 5]);
    await d.stop();
  });
});

describe('the daemon DHT state', () => {
  it('keeps the DHT routing table in session.state across restarts', async () => {
    const { default: DHT } = await import('bittorrent-dht');
    const node = new DHT({ bootstrap: false, host: false });
    await new Promise<void>((r) => node.listen(0, '127.0.0.1', () => r()));
    const nodePort = (node.address() as { port: number }).port;
    try {
      const state = await tmpDir('daemon-dht');
      const dl = await tmpDir('daemon-dht-dl');
      const args = ['--dht-bootstrap', `127.0.0.1:${nodePort}`];
      let d = await startDaemon(state, dl, args.concat('--dht'));
      await waitFor(async () => (await getJson<Stats>(`${d.url}/session`))['dht.dht_nodes']! > 0, 10_000);
      await d.stop();
      const saved = bencode.decode(await readFile(join(state, 'session.state'))) as { dht?: { 'dht state'?: { 'node-id'?: Uint8Array; nodes?: Uint8Array } } };
      const id = saved.dht?.['dht state']?.['node-id'];
      expect(id?.length).toBe(20);
      expect(saved.dht?.['dht state']?.nodes?.length).toBeGreaterThanOrEqual(6);
      // A run without the DHT keeps what it found.
      d = await startDaemon(state, dl);
      await d.stop();
      const again = bencode.decode(await readFile(join(state, 'session.state'))) as typeof saved;
      expect(Buffer.from(again.dht!['dht state']!['node-id']!).equals(Buffer.from(id!))).toBe(true);
    } finally {
      node.destroy();
    }
  });
});

async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
