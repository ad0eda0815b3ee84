import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { CLI, buildCli, cleanup, cliRunner, expectOneLineError, tmp, waitForOutput, type Running } from '../helpers/cli.js';

// `spritzle start` as a real subprocess from the built dist: it serves the REST API until SIGTERM, then
// exits 0. Everything listens on 127.0.0.1, with port 0 so parallel test files never collide.

/** A daemon runs a DHT node by default; tests keep it off (no public bootstrap routers). */
function offline(args: string[]): string[] {
  return args[0] === 'start' && !args.includes('--no-dht') && !args.includes('--help') ? [...args, '--no-dht'] : args;
}

const { spawnCli, runCli } = cliRunner({ rewrite: offline, timeout: 20_000 });

beforeAll(() => buildCli(), 180_000);

afterAll(() => cleanup());

describe('spritzle start', () => {
  let home: string;
  let run: Running;
  let url: string;

  beforeAll(async () => {
    home = await tmp('cli-start');
    // The XDG variables point the defaults into the temp dir, so the test also shows where they lead
    // and never writes into the real home directory.
    run = spawnCli(['start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0', '--listen-host', '127.0.0.1', '--no-dht'], {
      XDG_DOWNLOAD_DIR: join(home, 'Downloads'), XDG_STATE_HOME: join(home, 'state'), SPRITZLE_TOKEN: '',
    });
    url = (await waitForOutput(run, /^spritzle API on (http:\/\/\S+?)\/?\n/m))[1]!;
    await waitForOutput(run, /^downloads go to .*\n/m);
  }, 60_000);

  afterAll(() => {
    run?.child.kill('SIGKILL');
  });

  it('prints the API URL on 127.0.0.1 and the download dir, which it created', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const dl = join(home, 'Downloads', 'spritzle');
    expect(run.stdout()).toContain(`downloads go to ${dl}\n`);
    expect(statSync(dl).isDirectory()).toBe(true);
    expect(statSync(join(home, 'state', 'spritzle')).isDirectory()).toBe(true);
  });

  it('serves the API: GET /torrent is an empty list, GET /session/dht is false with --no-dht', async () => {
    const list = await fetch(`${url}/torrent`);
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual([]);
    const dht = await fetch(`${url}/session/dht`);
    expect(dht.status).toBe(200);
    expect(await dht.json()).toBe(false);
  });

  it('exits 0 on SIGTERM and stops serving', async () => {
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.code).toBe(0);
    const port = Number(new URL(url).port);
    await expect(new Promise((res, rej) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res('connected'); });
      s.on('error', rej);
    })).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('spritzle start with a token', () => {
  it('takes SPRITZLE_TOKEN from the environment and requires it as a Bearer token', async () => {
    const dir = await tmp('cli-start-token');
    const run = spawnCli(['start', '--port', '0', '--listen-port', '0', '--listen-host', '127.0.0.1',
      '--download-dir', join(dir, 'dl'), '--state-dir', join(dir, 'state')], { SPRITZLE_TOKEN: 'sekrit' });
    try {
      const url = (await waitForOutput(run, /^spritzle API on (http:\/\/\S+?)\/?\n/m))[1]!;
      // Two writes to a pipe: the second line may arrive in a later chunk than the first.
      await waitForOutput(run, /^downloads go to .*\n/m);
      expect(run.stdout()).toContain(`downloads go to ${join(dir, 'dl')}\n`);
      expect((await fetch(`${url}/torrent`)).status).toBe(401);
      expect((await fetch(`${url}/torrent`, { headers: { authorization: 'Bearer sekrit' } })).status).toBe(200);
    } finally {
      run.child.kill('SIGINT');
    }
    expect((await run.done).code).toBe(0);
  }, 60_000);
});

describe('spritzle start errors', () => {
  it('an API port already in use: one line, non-zero', async () => {
    const dir = await tmp('cli-start-busy');
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const busy = (srv.address() as net.AddressInfo).port;
    try {
      const r = await runCli(['start', '--port', String(busy), '--listen-port', '0', '--listen-host', '127.0.0.1',
        '--download-dir', join(dir, 'dl'), '--state-dir', join(dir, 'state')], { SPRITZLE_TOKEN: '' });
      expectOneLineError(r, new RegExp(`${busy}.*in use`), { stackAllowed: true });
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('a peer listen port already in use: one line, non-zero', async () => {
    const dir = await tmp('cli-start-busy2');
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const busy = (srv.address() as net.AddressInfo).port;
    try {
      const r = await runCli(['start', '--port', '0', '--listen-port', String(busy), '--listen-host', '127.0.0.1',
        '--download-dir', join(dir, 'dl'), '--state-dir', join(dir, 'state')], { SPRITZLE_TOKEN: '' });
      expectOneLineError(r, new RegExp(`${busy}.*already in use.*--listen-port`), { stackAllowed: true });
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  // Needs root and unshare for a private /etc/hosts; the new network namespace keeps any bind off real interfaces.
  const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-mn', 'true']).status === 0;
  (canUnshare ? it : it.skip)('--host api.localhost resolving to 0.0.0.0 (hosts file) is refused without a token', async () => {
    const dir = await tmp('cli-start-host');
    const hosts = join(dir, 'hosts');
    await writeFile(hosts, '127.0.0.1 localhost\n0.0.0.0 api.localhost\n');
    const r = spawnSync('unshare', ['-mn', 'sh', '-c', 'mount --bind "$1" /etc/hosts && shift && exec "$@"', 'sh', hosts,
      process.execPath, CLI, 'start', '--host', 'api.localhost', '--port', '0', '--listen-port', '0', '--listen-host', '127.0.0.1', '--no-dht',
      '--download-dir', join(dir, 'dl'), '--state-dir', join(dir, 'state')], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, SPRITZLE_TOKEN: '' } });
    expectOneLineError({ code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }, /api\.localhost \(0\.0\.0\.0\), which is not a loopback address.*token/, { stackAllowed: true });
  });

  it('a bad --port is a usage error (exit 2)', async () => {
    const r = await runCli(['start', '--port', '99999']);
    expectOneLineError(r, /--port/, { stackAllowed: true });
    expect(r.code).toBe(2);
  });
});

describe('spritzle start logs a hostile torrent name escaped', () => {
  // dn= that sets the window title (OSC 0 ... BEL) and clears the screen, plus C1 CSI (U+009B) and DEL.
  const NAME = '\u001b]0;PWNED\u0007\u001b[2J\u009b31m\u007fx';
  const hash = 'c1'.repeat(20);
  const magnetLink = `magnet:?xt=urn:btih:${hash}&dn=${encodeURIComponent(NAME)}`;

  async function addOver(url: string): Promise<void> {
    const res = await fetch(`${url}/torrent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: magnetLink, args: { paused: true } }) });
    expect(res.status).toBe(201);
  }

  async function until(read: () => string, re: RegExp): Promise<void> {
    for (let i = 0; i < 1500 && !re.test(read()); i++) await new Promise((r) => setTimeout(r, 20));
  }

  it('in JSON lines (not a terminal): C1 controls and DEL as \\u escapes, the name intact', async () => {
    const dir = await tmp('cli-start-log-json');
    const run = spawnCli(['start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0', '--listen-host', '127.0.0.1', '--log-level', 'debug',
      '--download-dir', join(dir, 'dl'), '--state-dir', join(dir, 'state')], { SPRITZLE_TOKEN: '' });
    try {
      const url = (await waitForOutput(run, /^spritzle API on (http:\/\/\S+?)\/?\n/m))[1]!;
      await addOver(url);
      await until(run.stderr, /"msg":"torrent added"/);
      const line = run.stderr().split('\n').find((l) => l.includes('"msg":"torrent added"'))!;
      // eslint-disable-next-line no-control-regex
      expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      expect((JSON.parse(line) as { name: string }).name).toBe(NAME);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;
  (hasScript ? it : it.skip)('in pino-pretty lines (a terminal): every control character shown as \\xNN', async () => {
    const dir = await tmp('cli-start-log-tty');
    const args = [process.execPath, CLI, 'start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0', '--listen-host', '127.0.0.1',
      '--no-dht', '--log-level', 'debug', '--download-dir', join(dir, 'dl'), '--state-dir', join(dir, 'state')];
    // script(1) gives the daemon a pseudo-terminal, so it logs for a person.
    const child = spawn('script', ['-qfec', args.map((a) => `'${a}'`).join(' '), '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, SPRITZLE_TOKEN: '' },
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    try {
      await until(() => out, /spritzle API on http:\/\/\S+/);
      const url = /spritzle API on (http:\/\/[^\s/]+)/.exec(out)![1]!;
      await addOver(url);
      await until(() => out, /torrent added/);
      expect(out).toContain('\\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m\\x7fx');
      expect(out).not.toContain('\u001b]0;PWNED');
      expect(out).not.toContain('\u001b[2J');
      expect(out).not.toMatch(/[\u0007\u007f\u009b]/);
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
    }
  });
});
