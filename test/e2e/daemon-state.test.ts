import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Session, encodeResumeData, parseTorrentFile } from '@spritzle/engine';
import { ResumeStore, saveBudgetMs } from '../../packages/cli/src/daemon/resume-store.js';
import { makeTorrent, tmpDir } from '../helpers/fixtures.js';
import { buildCli } from '../helpers/cli.js';
import { startDaemon, killAllDaemons, getJson, addTorrentFile } from '../helpers/daemon.js';

type Status = { state: string; save_path: string; error: string; error_file: number; errc: { value: number; message: string }; paused: boolean };

beforeAll(() => buildCli(), 180_000);
afterAll(() => killAllDaemons());

async function waitStatus(base: string, hash: string, cond: (s: Status) => boolean, ms = 30_000): Promise<Status> {
  const end = Date.now() + ms;
  for (;;) {
    const s = await getJson<Status>(`${base}/torrent/${hash}`);
    if (cond(s)) return s;
    if (Date.now() > end) throw new Error(`status never matched: ${JSON.stringify({ state: s.state, error: s.error })}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A state directory whose daemon has `t` seeding from `savePath` (inside `dl`), stopped again. */
async function stateWith(dl: string, torrents: { bytes: Uint8Array; savePath: string }[]): Promise<{ state: string; hashes: string[] }> {
  const state = await tmpDir('state');
  const d = await startDaemon(state, dl);
  const hashes: string[] = [];
  for (const t of torrents) {
    const h = await addTorrentFile(d.url, t.bytes, { save_path: t.savePath });
    await waitStatus(d.url, h, (s) => s.state === 'seeding');
    hashes.push(h);
  }
  expect((await d.stop()).code).toBe(0);
  return { state, hashes };
}

describe('restoring torrents from the state directory', () => {
  it('a resume file whose save_path is outside the download root brings the torrent back in an error state, writing nothing there', async () => {
    const dl = await tmpDir('hostile-dl');
    const outside = await tmpDir('hostile-outside');
    const t = await makeTorrent({ dir: join(dl, 'mine'), name: 'h.bin', files: 100_000, pieceLength: 16384 });
    const { state, hashes: [h] } = await stateWith(dl, [{ bytes: t.torrentBytes, savePath: t.dataRoot }]);
    const hostile = encodeResumeData({
      info_hash: h!, name: 'h.bin', save_path: outside, flags: 0, info: parseTorrentFile(t.torrentBytes).infoBytes,
      trackers: [], tracker_tiers: [], peers: [], added_time: 0, completed_time: 0, total_uploaded: 0,
      total_downloaded: 0, active_time: 0, finished_time: 0, seeding_time: 0,
    });
    await writeFile(join(state, 'torrents', `${h}.resume`), hostile);
    const d = await startDaemon(state, dl);
    const s = await getJson<Status>(`${d.url}/torrent/${h}`);
    expect(s.errc.value).not.toBe(0);
    expect(s.error).toContain(`is outside the download root ${dl}`);
    expect(s.save_path).toBe(t.dataRoot);
    expect(d.stderr()).toMatch(/resume file unusable/);
    expect(await readdir(outside)).toEqual([]);
    await d.stop();
  });

  it('a resume file holding another torrent\'s data: both torrents are listed, the damaged one in an error state saying so', async () => {
    const dl = await tmpDir('swap-dl');
    const a = await makeTorrent({ dir: join(dl, 'a'), name: 'a.bin', files: 100_000, pieceLength: 16384 });
    const b = await makeTorrent({ dir: join(dl, 'b'), name: 'b.bin', files: 120_000, pieceLength: 16384 });
    const { state, hashes: [ha, hb] } = await stateWith(dl, [{ bytes: a.torrentBytes, savePath: a.dataRoot }, { bytes: b.torrentBytes, savePath: b.dataRoot }]);
    const dir = join(state, 'torrents');
    await writeFile(join(dir, `${ha}.resume`), await readFile(join(dir, `${hb}.resume`)));
    const d = await startDaemon(state, dl);
    expect((await getJson<string[]>(`${d.url}/torrent`)).sort()).toEqual([ha, hb].sort());
    const sa = await getJson<Status>(`${d.url}/torrent/${ha}`);
    expect(sa.error).toContain(`another torrent's resume data (${hb})`);
    expect(sa.save_path).toBe(a.dataRoot);
    expect((await getJson<Status>(`${d.url}/torrent/${hb}`)).state).toBe('seeding');
    await d.stop();
  });

  it('a damaged resume file keeps the torrent and its own save path, in an error state until resumed, then it re-checks and seeds', async () => {
    const dl = await tmpDir('damaged-dl');
    const t = await makeTorrent({ dir: join(dl, 'own'), name: 'd.bin', files: 100_000, pieceLength: 16384 });
    const { state, hashes: [h] } = await stateWith(dl, [{ bytes: t.torrentBytes, savePath: t.dataRoot }]);
    await writeFile(join(state, 'torrents', `${h}.resume`), 'd4:junk');
    const d = await startDaemon(state, dl);
    const s = await getJson<Status>(`${d.url}/torrent/${h}`);
    expect(s.save_path).toBe(t.dataRoot);
    expect(s.errc.value).not.toBe(0);
    expect(s.error).toMatch(/resume file is unusable/);
    expect((await fetch(`${d.url}/torrent/${h}/resume`, { method: 'POST' })).status).toBe(200);
    const after = await waitStatus(d.url, h, (x) => x.state === 'seeding');
    expect(after.error).toBe('');
    await d.stop();
  });

  it('a torrent with neither resume file nor .torrent left is listed in an error state, not dropped', async () => {
    const dl = await tmpDir('bare-dl');
    const t = await makeTorrent({ dir: join(dl, 'x'), name: 'x.bin', files: 50_000, pieceLength: 16384 });
    const { state, hashes: [h] } = await stateWith(dl, [{ bytes: t.torrentBytes, savePath: t.dataRoot }]);
    await writeFile(join(state, 'torrents', `${h}.resume`), 'garbage');
    const { rm } = await import('node:fs/promises');
    await rm(join(state, 'torrents', `${h}.torrent`));
    const d = await startDaemon(state, dl);
    const s = await getJson<Status>(`${d.url}/torrent/${h}`);
    expect(s.error).toMatch(/\.torrent is missing/);
    expect(s.save_path).toBe(t.dataRoot);
    await d.stop();
  });
});

describe('temporary files of the state directory', () => {
  it('leftovers of an interrupted save are removed at start; nothing else is', async () => {
    const state = await tmpDir('tmp-state');
    const dir = join(state, 'torrents');
    await mkdir(dir, { recursive: true });
    const stale = [join(dir, `${'ab'.repeat(20)}.resume.4242.0.tmp`), join(dir, `${'ab'.repeat(20)}.torrent.4242.1.tmp`), join(state, 'session.state.4242.2.tmp')];
    for (const f of stale) await writeFile(f, '');
    await writeFile(join(dir, 'notes.tmp'), 'mine');
    const d = await startDaemon(state, await tmpDir('tmp-dl'));
    expect((await readdir(dir)).sort()).toEqual(['notes.tmp']);
    expect((await readdir(state)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(d.stderr()).toMatch(/removed temporary files of an interrupted save/);
    await d.stop();
  });

  it('a graceful stop saves every torrent and leaves no temporary file', async () => {
    const state = await tmpDir('stop-state');
    const dl = await tmpDir('stop-dl');
    const d = await startDaemon(state, dl);
    const hashes: string[] = [];
    for (const n of ['s1', 's2', 's3']) {
      const t = await makeTorrent({ dir: dl, name: `${n}.bin`, files: 20_000 });
      hashes.push(await addTorrentFile(d.url, t.torrentBytes, { save_path: dl, flags: ['paused'] }));
    }
    expect((await d.stop()).code).toBe(0);
    const names = await readdir(join(state, 'torrents'));
    expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]);
    for (const h of hashes) expect(names).toEqual(expect.arrayContaining([`${h}.resume`, `${h}.torrent`, `${h}.save_path`]));
    expect((await readdir(state)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(d.stderr()).toMatch(/"limit_ms":\d+/);
  });
});

describe('saving resume data at shutdown', () => {
  it('the time given to the saves grows with the measured work, within bounds', () => {
    expect(saveBudgetMs(0)).toBe(5_000);
    expect(saveBudgetMs(10_000)).toBe(20_000);
    expect(saveBudgetMs(10_000_000)).toBe(120_000);
  });

  it('past its deadline the store starts no more saves and says how many torrents were not saved', async () => {
    const session = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: false });
    try {
      const dl = await tmpDir('deadline-dl');
      for (const n of ['p', 'q', 'r']) {
        const t = await makeTorrent({ dir: dl, name: `${n}.bin`, files: 10_000 });
        await session.addTorrent({ ti: t.torrentBytes, save_path: dl, flags: ['paused'] });
      }
      const lines: string[] = [];
      const log = { info: () => undefined, warn: () => undefined, error: (_o: unknown, msg?: string) => void lines.push(msg ?? '') };
      const dir = await tmpDir('deadline-state');
      const store = new ResumeStore(session, dir, log, { defaultSavePath: dl });
      expect(store.estimatedSaveMs()).toBeGreaterThan(0);
      expect(await store.close(Date.now() - 1)).toEqual({ saved: 0, unsaved: 3 });
      expect(lines).toEqual(['shutdown limit reached: the resume data of 3 of 3 torrents was not saved; they keep their last saved state']);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await session.close();
    }
  });
});
