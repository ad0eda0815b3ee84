import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Session, encodeResumeData, parseTorrentFile } from '@spritzle/engine';
import { ResumeStore, saveBudgetMs } from '../../packages/cli/src/daemon/resume-store.js';
import { Journal, readJournalDir } from '../../packages/cli/src/daemon/journal.js';
import { frameValue } from '../../packages/cli/src/daemon/journal-frames.js';
import { decodeTorrentRecord, encodeTorrentRecord, type TorrentRecord } from '../../packages/cli/src/daemon/torrent-record.js';
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

/** The records of a stopped daemon's state journal. */
async function records(state: string): Promise<Map<string, TorrentRecord>> {
  const { frames } = await readJournalDir(join(state, 'torrents'));
  return new Map([...frames].map(([k, f]) => [k, decodeTorrentRecord(frameValue(f)!)]));
}

/** Writes a record into a stopped daemon's state journal, as something other than the daemon might. */
async function putRecord(state: string, hash: string, record: TorrentRecord): Promise<void> {
  const { journal } = await Journal.open(join(state, 'torrents'));
  await journal.write([{ key: hash, value: encodeTorrentRecord(record) }]);
  await journal.close();
}

describe('restoring torrents from the state directory', () => {
  it('resume data whose save_path is outside the download root brings the torrent back in an error state, writing nothing there', async () => {
    const dl = await tmpDir('hostile-dl');
    const outside = await tmpDir('hostile-outside');
    const t = await makeTorrent({ dir: join(dl, 'mine'), name: 'h.bin', files: 100_000, pieceLength: 16384 });
    const { state, hashes: [h] } = await stateWith(dl, [{ bytes: t.torrentBytes, savePath: t.dataRoot }]);
    const hostile = encodeResumeData({
      info_hash: h!, name: 'h.bin', save_path: outside, flags: 0, info: parseTorrentFile(t.torrentBytes).infoBytes,
      trackers: [], tracker_tiers: [], peers: [], added_time: 0, completed_time: 0, total_uploaded: 0,
      total_downloaded: 0, active_time: 0, finished_time: 0, seeding_time: 0,
    });
    await putRecord(state, h!, { ...(await records(state)).get(h!), resume: hostile });
    const d = await startDaemon(state, dl);
    const s = await getJson<Status>(`${d.url}/torrent/${h}`);
    expect(s.errc.value).not.toBe(0);
    expect(s.error).toContain(`is outside the download root ${dl}`);
    expect(s.save_path).toBe(t.dataRoot);
    expect(d.stderr()).toMatch(/resume data unusable/);
    expect(await readdir(outside)).toEqual([]);
    await d.stop();
  });

  it('a record holding another torrent\'s resume data: both torrents are listed, the damaged one in an error state saying so', async () => {
    const dl = await tmpDir('swap-dl');
    const a = await makeTorrent({ dir: join(dl, 'a'), name: 'a.bin', files: 100_000, pieceLength: 16384 });
    const b = await makeTorrent({ dir: join(dl, 'b'), name: 'b.bin', files: 120_000, pieceLength: 16384 });
    const { state, hashes: [ha, hb] } = await stateWith(dl, [{ bytes: a.torrentBytes, savePath: a.dataRoot }, { bytes: b.torrentBytes, savePath: b.dataRoot }]);
    const saved = await records(state);
    await putRecord(state, ha!, { ...saved.get(ha!), resume: saved.get(hb!)!.resume! });
    const d = await startDaemon(state, dl);
    expect((await getJson<string[]>(`${d.url}/torrent`)).sort()).toEqual([ha, hb].sort());
    const sa = await getJson<Status>(`${d.url}/torrent/${ha}`);
    expect(sa.error).toContain(`another torrent's resume data (${hb})`);
    expect(sa.save_path).toBe(a.dataRoot);
    expect((await getJson<Status>(`${d.url}/torrent/${hb}`)).state).toBe('seeding');
    await d.stop();
  });

  it('damaged resume data in a record that kept its .torrent (a migrated one) keeps the torrent and its own save path, in an error state until resumed, then it re-checks and seeds', async () => {
    const dl = await tmpDir('damaged-dl');
    const t = await makeTorrent({ dir: join(dl, 'own'), name: 'd.bin', files: 100_000, pieceLength: 16384 });
    const { state, hashes: [h] } = await stateWith(dl, [{ bytes: t.torrentBytes, savePath: t.dataRoot }]);
    await putRecord(state, h!, { ...(await records(state)).get(h!), resume: Buffer.from('d4:junk'), torrent: t.torrentBytes });
    const d = await startDaemon(state, dl);
    const s = await getJson<Status>(`${d.url}/torrent/${h}`);
    expect(s.save_path).toBe(t.dataRoot);
    expect(s.errc.value).not.toBe(0);
    expect(s.error).toMatch(/resume data is unusable/);
    expect((await fetch(`${d.url}/torrent/${h}/resume`, { method: 'POST' })).status).toBe(200);
    const after = await waitStatus(d.url, h, (x) => x.state === 'seeding');
    expect(after.error).toBe('');
    await d.stop();
  });

  it('a torrent with neither usable resume data nor metadata left is listed in an error state, not dropped', async () => {
    const dl = await tmpDir('bare-dl');
    const t = await makeTorrent({ dir: join(dl, 'x'), name: 'x.bin', files: 50_000, pieceLength: 16384 });
    const { state, hashes: [h] } = await stateWith(dl, [{ bytes: t.torrentBytes, savePath: t.dataRoot }]);
    await putRecord(state, h!, { resume: Buffer.from('garbage'), savePath: t.dataRoot });
    const d = await startDaemon(state, dl);
    const s = await getJson<Status>(`${d.url}/torrent/${h}`);
    expect(s.error).toMatch(/its metadata is missing/);
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
    expect((await readdir(dir)).filter((n) => !/^(journal\.\d+|snapshot)$/.test(n))).toEqual(['notes.tmp']);
    expect((await readdir(state)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(d.stderr()).toMatch(/removed temporary files of an interrupted save/);
    await d.stop();
  });

  it('a graceful stop saves every torrent, folds the journal into its snapshot and leaves no temporary file', async () => {
    const state = await tmpDir('stop-state');
    const dl = await tmpDir('stop-dl');
    const d = await startDaemon(state, dl);
    const hashes: string[] = [];
    for (const n of ['s1', 's2', 's3']) {
      const t = await makeTorrent({ dir: dl, name: `${n}.bin`, files: 20_000 });
      hashes.push(await addTorrentFile(d.url, t.torrentBytes, { save_path: dl, flags: ['paused'] }));
    }
    expect((await d.stop()).code).toBe(0);
    expect((await readdir(join(state, 'torrents'))).sort()).toEqual([expect.stringMatching(/^journal\.\d+$/), 'snapshot']);
    const saved = await records(state);
    expect([...saved.keys()].sort()).toEqual([...hashes].sort());
    for (const h of hashes) expect(saved.get(h)).toEqual({ resume: expect.any(Uint8Array), savePath: dl });
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

/**
 * A state directory of the per-torrent-file layout, as the releases before the journal wrote it for these
 * torrents (their ResumeStore wrote exactly these bytes, each file atomically): `<hash>.resume` from
 * saveResumeData(), `<hash>.torrent` from torrentFile() once there is metadata, `<hash>.save_path`. The
 * session is waited on until every torrent's check is over, as a daemon stopped later would have it.
 */
async function oldLayoutState(add: (s: Session) => Promise<string[]>, dl: string): Promise<{ state: string; hashes: string[] }> {
  const state = await tmpDir('old-layout-state');
  const dir = join(state, 'torrents');
  await mkdir(dir, { recursive: true });
  const session = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: false, save_path: dl });
  try {
    const hashes = await add(session);
    for (const h of session.torrents()) {
      await writeFile(join(dir, `${h.infoHash}.save_path`), h.savePath());
      const t = h.torrentFile();
      if (t) await writeFile(join(dir, `${h.infoHash}.torrent`), t);
      await writeFile(join(dir, `${h.infoHash}.resume`), await h.saveResumeData());
    }
    // What a stop cut short left of the old layout's atomic writes.
    await writeFile(join(dir, `${hashes[0]}.resume.999999.0.tmp`), 'partial');
    return { state, hashes };
  } finally {
    await session.close();
  }
}

describe('a state directory of the per-torrent-file layout (before the journal)', () => {
  it('loads whole: every torrent back in its state and save path, the old files moved into the journal, then restarts from the journal alone', async () => {
    const dl = await tmpDir('old-layout-dl');
    const seeding = await makeTorrent({ dir: join(dl, 'a'), name: 'seeding.bin', files: 200_000, pieceLength: 16384 });
    const paused = await makeTorrent({ dir: join(dl, 'b'), name: 'paused.bin', files: 50_000, pieceLength: 16384 });
    const magnet = 'c'.repeat(40);
    const { state, hashes } = await oldLayoutState(async (s) => {
      const a = await s.addTorrent({ ti: seeding.torrentBytes, save_path: seeding.dataRoot });
      const b = await s.addTorrent({ ti: paused.torrentBytes, save_path: join(dl, 'elsewhere'), flags: ['paused'] });
      const c = await s.addTorrent({ info_hash: magnet, save_path: join(dl, 'm'), flags: ['paused'] });
      return [a.infoHash, b.infoHash, c.infoHash];
    }, dl);
    const [ha, hb, hc] = hashes as [string, string, string];
    for (let run = 0; run < 2; run++) {
      const d = await startDaemon(state, dl);
      expect((await getJson<string[]>(`${d.url}/torrent`)).sort()).toEqual([...hashes].sort());
      const a = await waitStatus(d.url, ha, (s) => s.state === 'seeding');
      expect(a.save_path).toBe(seeding.dataRoot);
      expect((await getJson<Record<string, number>>(`${d.url}/session`))['disk.num_blocks_hashed']).toBe(0);
      const b = await getJson<Status>(`${d.url}/torrent/${hb}`);
      expect({ paused: b.paused, save_path: b.save_path, errc: b.errc.value }).toEqual({ paused: true, save_path: join(dl, 'elsewhere'), errc: 0 });
      const c = await getJson<Status>(`${d.url}/torrent/${hc}`);
      expect({ paused: c.paused, save_path: c.save_path, state: c.state }).toEqual({ paused: true, save_path: join(dl, 'm'), state: 'downloading_metadata' });
      const log = d.stderr();
      if (run === 0) {
        expect(log).toMatch(/moved the torrents of the per-torrent-file layout into the state journal/);
        expect(log).toMatch(/"migrated":3/);
        expect(log).toMatch(/removed temporary files of an interrupted save/);
      } else {
        expect(log).toMatch(/"migrated":0/);
      }
      // Killed: what the migration wrote must already be on disk.
      await d.stop(run === 0 ? 'SIGKILL' : 'SIGTERM');
      expect((await readdir(join(state, 'torrents'))).filter((n) => !/^(journal\.\d+|snapshot)$/.test(n))).toEqual([]);
    }
  });
});
