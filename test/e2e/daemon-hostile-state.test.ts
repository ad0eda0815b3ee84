// Issue 9: a resume file containing `l-3:e` crashed the daemon at every start (bencode's decode loops on a
// negative string length). Broken files in the state directory are reported and skipped.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTorrent, tmpDir } from '../helpers/fixtures.js';
import { buildCli } from '../helpers/cli.js';
import { startDaemon, killAllDaemons, getJson, addTorrentFile } from '../helpers/daemon.js';

beforeAll(() => buildCli(), 180_000);
afterAll(() => killAllDaemons());

const L_MINUS_3 = 'l-3:e';

describe('the daemon with l-3:e in its state directory', () => {
  it('starts, reports the broken resume, .torrent and session.state files, keeps the good torrent and shows the broken ones in an error state', async () => {
    const state = await tmpDir('daemon-hostile');
    const root = await tmpDir('daemon-hostile-dl');
    const good = await makeTorrent({ dir: root, name: 'good.bin', files: 100_000, pieceLength: 16384 });
    let d = await startDaemon(state, root);
    const hash = await addTorrentFile(d.url, good.torrentBytes, { save_path: good.dataRoot });
    await d.stop();

    const torrents = join(state, 'torrents');
    await mkdir(torrents, { recursive: true });
    const badResume = 'b'.repeat(40);
    const badTorrent = 'c'.repeat(40);
    await writeFile(join(torrents, `${badResume}.resume`), L_MINUS_3);
    await writeFile(join(torrents, `${badTorrent}.resume`), L_MINUS_3);
    await writeFile(join(torrents, `${badTorrent}.torrent`), L_MINUS_3);
    await writeFile(join(state, 'session.state'), L_MINUS_3);

    d = await startDaemon(state, root);
    // The broken ones stay visible, in an error state that says why, instead of vanishing into the log.
    expect((await getJson<string[]>(`${d.url}/torrent`)).sort()).toEqual([hash, badResume, badTorrent].sort());
    expect((await getJson<{ state: string }>(`${d.url}/torrent/${hash}`)).state).not.toBe('error');
    for (const h of [badResume, badTorrent]) {
      const st = await getJson<{ errc: string; error?: string }>(`${d.url}/torrent/${h}`);
      expect(st.errc).not.toBe('');
    }
    expect(d.stderr()).toMatch(/session state unreadable/);
    expect(d.stderr()).toMatch(/resume file unusable/);
    expect(d.stderr()).toMatch(/\.torrent file unusable/);
    expect(d.stderr()).toContain(badTorrent);
    await d.stop();
  });
});
