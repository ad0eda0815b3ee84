// Debian's transmission-remote (transmission-cli) against a real daemon started with a token: add from a
// file, list, label, stop, start, verify, show the session, remove with data. Data from a libtorrent seed.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { killAllDaemons, startTokenDaemon, type Daemon } from '../../helpers/daemon.js';
import { killAllLtPeers, startLtSeed } from '../../helpers/libtorrent.js';
import { sleep, testTorrent } from '../../helpers/server.js';

const TOKEN = 'tr-remote-token';
const REMOTE = '/usr/bin/transmission-remote';
let daemon: Daemon;
let downloads: string;
let work: string;

beforeAll(async () => {
  ({ daemon, downloads, work } = await startTokenDaemon('spritzle-tr-remote', TOKEN));
});
afterAll(async () => {
  await killAllLtPeers();
  await daemon.stop();
  await killAllDaemons();
});

/** transmission-remote HOST:PORT/transmission/rpc with the token; its stdout (a non-zero exit throws). */
async function remote(...args: string[]): Promise<string> {
  const u = new URL(daemon.url);
  const { stdout } = await promisify(execFile)(REMOTE, [`${u.hostname}:${u.port}`, '--auth', `me:${TOKEN}`, ...args], { timeout: 20_000 });
  return stdout;
}

describe('transmission-remote against the daemon', () => {
  it('refuses a wrong password', async () => {
    const u = new URL(daemon.url);
    await expect(promisify(execFile)(REMOTE, [`${u.hostname}:${u.port}`, '--auth', 'me:wrong', '-l'])).rejects.toMatchObject({ stderr: expect.stringMatching(/401/) });
  });

  it('adds a .torrent, downloads it from a libtorrent seed and lists it at 100%', async () => {
    const t = await testTorrent(work, 400_000, 'remote-file.bin');
    const port = Number(/peers on 127\.0\.0\.1:(\d+)/.exec(daemon.stdout())![1]);
    await startLtSeed(t.torrentPath, t.dataRoot, { peers: [`127.0.0.1:${port}`] });
    expect(await remote('-a', t.torrentPath)).toMatch(/responded: "success"/);
    let list = '';
    for (let i = 0; i < 600 && !/100%/.test(list); i++, await sleep(100)) list = await remote('-l');
    expect(list).toMatch(/^\s+1\s+100%.*remote-file\.bin$/m);
    expect(await remote('-t', '1', '-i')).toMatch(/Hash: [0-9a-f]{40}/);
  });

  it('labels, stops, starts and verifies torrent 1', async () => {
    expect(await remote('-t', '1', '-L', 'tv,hd')).toMatch(/success/);
    expect(await remote('-t', '1', '-i')).toMatch(/Labels: (tv, hd|hd, tv)/);
    await remote('-t', '1', '-S');
    expect(await remote('-l')).toMatch(/^\s+1\s+100%.*Stopped\s+remote-file\.bin$/m);
    await remote('-t', '1', '-s');
    expect(await remote('-l')).not.toMatch(/Stopped/);
    expect(await remote('-t', '1', '-v')).toMatch(/success/);
  });

  it('shows the session and its statistics', async () => {
    expect(await remote('-si')).toMatch(/RPC version: 17/);
    expect(await remote('-st')).toMatch(/CURRENT SESSION/);
  });

  it('removes torrent 1 with its data', async () => {
    const data = path.join(downloads, 'remote-file.bin');
    await access(data);
    expect(await remote('-t', '1', '--remove-and-delete')).toMatch(/success/);
    await expect(access(data)).rejects.toThrow();
    expect(await remote('-l')).not.toMatch(/remote-file/);
  });
});
