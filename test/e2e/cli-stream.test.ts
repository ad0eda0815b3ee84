import { describe, it, expect, afterAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTorrent } from '../helpers/fixtures.js';
import { CLI, buildCli, cleanup, cliRunner, tmp, waitForOutput } from '../helpers/cli.js';

// `spritzle stream` against a real `spritzle start` with a token: the URL it prints plays, --stdout pipes.

const TOKEN = 'stream-sekrit';
const { spawnCli, runCli } = cliRunner({ unset: ['SPRITZLE_URL', 'SPRITZLE_TOKEN'], timeout: 30_000 });
afterAll(cleanup);

describe('spritzle stream', () => {
  it('adds a .torrent, prints a URL a player can open (token in the query), and --stdout writes the bytes', async () => {
    buildCli();
    const dir = await tmp('cli-stream');
    const downloadDir = join(dir, 'dl');
    const run = spawnCli(['start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0', '--listen-host', '127.0.0.1',
      '--download-dir', downloadDir, '--state-dir', join(dir, 'state'), '--no-dht', '--token', TOKEN]);
    const url = (await waitForOutput(run, /^spritzle API on (http:\/\/\S+?)\/?\n/m))[1]!;
    // Complete data where the daemon saves by default: it seeds, so the stream needs no peer.
    const t = await makeTorrent({ dir: downloadDir, name: 'film.mkv', files: 300_000, pieceLength: 32768, seed: 77 });
    const data = await readFile(join(downloadDir, 'film.mkv'));
    const env = { SPRITZLE_URL: url, SPRITZLE_TOKEN: TOKEN };

    const r = await runCli(['stream', t.torrentPath], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${url}/torrent/${t.infoHash}/files/0/stream?token=${TOKEN}\n`);
    const res = await fetch(r.stdout.trim(), { headers: { range: 'bytes=1000-1999' } });
    expect(res.status).toBe(206);
    expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), data.subarray(1000, 2000))).toBe(0);

    // A second time with the same .torrent: already there, same URL.
    expect((await runCli(['stream', t.torrentPath], env)).stdout).toBe(r.stdout);

    const child = spawn(process.execPath, [CLI, 'stream', t.infoHash.slice(0, 8), '--stdout'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(Buffer.compare(Buffer.concat(chunks), data)).toBe(0);

    const bad = await runCli(['stream', t.infoHash, '--file', '3'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--file 3/);
    run.child.kill('SIGTERM');
    await run.done;
  }, 60_000);
});
