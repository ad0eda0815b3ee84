import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { makeTorrent, type TestTorrent } from '../helpers/fixtures.js';
import { buildCli, cleanup, CLI, tmp } from '../helpers/cli.js';
import { addTorrentFile, getJson, startDaemon, type Daemon } from '../helpers/daemon.js';
import { displayWidth } from '../../packages/cli/src/format.js';

// `ls` and `watch` as a person sees them: run in a pseudo-terminal (util-linux `script`) of 80 and 140
// columns, the output captured and checked line by line: nothing wider than the terminal, names cut
// (never numbers), every row's columns where the header puts them.

let d: Daemon;
const torrents: TestTorrent[] = [];
const LONG = 'A very long torrent name that would never fit in eighty columns, with a CJK tail 日本語のファイル名';

/** The command in a pty of `cols` columns; what the terminal received, escape sequences removed. */
function inTerminal(args: string[], cols: number): Promise<string> {
  const cmd = `stty cols ${cols} rows 40; exec ${[process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], {
      env: { ...process.env, SPRITZLE_URL: d.url, SPRITZLE_TOKEN: '', TERM: 'xterm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { out += s; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`exit ${code}: ${out}`));
      // eslint-disable-next-line no-control-regex
      else resolve(out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r\n/g, '\n'));
    });
  });
}

/** The screen's lines as the terminal last drew them (a \r returns to the line's start). */
function screenLines(out: string): string[] {
  return out.split('\n').map((l) => l.split('\r').filter((x) => x !== '').pop() ?? '').filter((l) => l.trim() !== '');
}

beforeAll(async () => {
  buildCli();
  const dir = await tmp('cli-terminal-');
  d = await startDaemon(join(dir, 'state'), join(dir, 'dl'));
  for (const [i, name] of ['short.bin', LONG].entries()) {
    const t = await makeTorrent({ dir: join(dir, 'dl', `t${i}`), name, files: 300_000 + i, pieceLength: 32768, seed: 40 + i });
    await addTorrentFile(d.url, t.torrentBytes, { save_path: `t${i}` });
    torrents.push(t);
  }
  const end = Date.now() + 20_000;
  while ((await getJson<{ state: string }[]>(`${d.url}/torrent?fields=state`)).some((s) => s.state !== 'seeding')) {
    if (Date.now() > end) throw new Error('torrents did not seed');
    await new Promise((r) => setTimeout(r, 50));
  }
}, 300_000);
afterAll(async () => {
  await d?.stop();
  await cleanup();
});

describe.each([80, 140])('at %i columns', (cols) => {
  it('ls fits: the long name is cut, the numbers and the short hash are whole and aligned', async () => {
    const raw = await inTerminal(["ls"], cols);
    if (process.env.SHOW) console.log(raw);
    const lines = screenLines(raw);
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(cols);
    const [header, ...rows] = lines;
    expect(header).toMatch(/^NAME\s+STATE\s+DONE\s+SIZE\s+DOWN\s+UP\s+PEERS\s+ETA\s+RATIO\s+HASH$/);
    for (const [i, t] of torrents.entries()) {
      const row = rows.find((r) => r.endsWith(t.infoHash.slice(0, 8)))!;
      expect(row).toMatch(/seeding\s+100\.0%\s+29\dK\s+0\s+0\s+0\s+done\s+0\.00\s+[0-9a-f]{8}$/);
      // Every column starts under its header (display columns, CJK counted double).
      const at = (s: string, word: string): number => displayWidth(s.slice(0, s.indexOf(word)));
      expect(at(row, 'seeding')).toBe(at(header!, 'STATE'));
      expect(at(row, t.infoHash.slice(0, 8))).toBe(at(header!, 'HASH'));
      if (i === 1) expect(row).toContain('…');
    }
  });

  it('watch fits and ends when every torrent is complete', async () => {
    const out = await inTerminal(["watch"], cols);
    if (process.env.SHOW) console.log(JSON.stringify(out));
    const lines = screenLines(out);
    for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(cols);
    expect(lines.some((l) => /^NAME\s.*STATE\s+DONE\s+SIZE\s+DOWN\s+UP\s+PEERS\s+ETA\s+RATIO$/.test(l))).toBe(true);
    expect(lines.filter((l) => /seeding\s+100\.0%\s+29\dK\s+0\s+0\s+0\s+done\s+0\.00$/.test(l))).toHaveLength(2);
    expect(lines.at(-1)).toBe('all 2 torrents finished');
  });
});
