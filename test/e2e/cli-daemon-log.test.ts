import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTorrent } from '../helpers/fixtures.js';
import { buildCli, cleanup, tmp } from '../helpers/cli.js';
import { addTorrentFile, getJson, startDaemon } from '../helpers/daemon.js';

// The daemon's log as an operator reads it: --log-file, adds and removals at info, the torrent's name on
// each line about a torrent, and no flood of per-torrent lines for the torrents a restart restores.

beforeAll(() => buildCli(), 300_000);
afterAll(cleanup);

interface Line { level: number; msg: string; info_hash?: string; name?: string }

async function lines(file: string): Promise<Line[]> {
  return (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
}

describe('the daemon log', () => {
  it('goes to --log-file; adds, finishes and removals are info lines with the torrent\'s name; a restart restores quietly', async () => {
    const dir = await tmp('daemon-log-');
    const dl = join(dir, 'dl');
    const logFile = join(dir, 'logs', 'spritzle.log');
    const t = await makeTorrent({ dir: join(dl, 'x'), name: 'logged.bin', files: 100_000, pieceLength: 16384 });
    const kept = await makeTorrent({ dir: join(dl, 'y'), name: 'kept.bin', files: 100_000, pieceLength: 16384, seed: 5 });
    const state = join(dir, 'state');
    let d = await startDaemon(state, dl, ['--log-file', logFile]);
    await addTorrentFile(d.url, t.torrentBytes, { save_path: 'x' });
    await addTorrentFile(d.url, kept.torrentBytes, { save_path: 'y' });
    for (let i = 0; (await getJson<{ state: string }[]>(`${d.url}/torrent?fields=state`)).some((s) => s.state !== 'seeding'); i++) {
      if (i > 500) throw new Error('never seeding');
      await new Promise((r) => setTimeout(r, 20));
    }
    const del = await fetch(`${d.url}/torrent/${t.infoHash}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    await d.stop('SIGINT');
    expect(d.stderr()).toBe('');
    const first = await lines(logFile);
    const about = (msg: string): Line[] => first.filter((l) => l.msg === msg && l.info_hash === t.infoHash);
    expect(about('torrent added')).toMatchObject([{ level: 30, name: 'logged.bin' }]);
    expect(about('torrent finished')).toMatchObject([{ level: 30, name: 'logged.bin' }]);
    expect(about('torrent removed')).toMatchObject([{ level: 30, name: 'logged.bin' }]);

    d = await startDaemon(state, dl, ['--log-file', logFile]);
    await d.stop('SIGINT');
    const second = (await lines(logFile)).slice(first.length);
    expect(second.map((l) => l.msg)).toEqual(['ready', 'shutting down']);
    expect(second[0]).toMatchObject({ restored: 1 });
  }, 60_000);
});
