import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './helpers/fixtures.js';

// `spritzle start` as a real subprocess from the built dist: it serves the REST API until SIGTERM, then
// exits 0. Everything listens on 127.0.0.1, with port 0 so parallel test files never collide.

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const CLI = join(ROOT, 'packages/cli/dist/main.js');

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
interface Running { child: ChildProcess; stdout: () => string; done: Promise<Run> }

const children = new Set<ChildProcess>();
const tmpDirs: string[] = [];

async function tmp(prefix: string): Promise<string> {
  const d = await tmpDir(prefix);
  tmpDirs.push(d);
  return d;
}

/** A daemon runs a DHT node by default; tests keep it off (no public bootstrap routers). */
function offline(args: string[]): string[] {
  return args[0] === 'start' && !args.includes('--no-dht') && !args.includes('--help') ? [...args, '--no-dht'] : args;
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [CLI, ...offline(args)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const done = new Promise<Run>((res) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      res({ code, signal, stdout, stderr });
    });
  });
  return { child, stdout: () => stdout, done };
}

/** Waits until stdout matches `re`, failing early if the process exits first. */
async function waitForOutput(r: Running, re: RegExp, ms = 30_000): Promise<RegExpExecArray> {
  const end = Date.now() + ms;
  let exited: Run | null = null;
  void r.done.then((x) => { exited = x; });
  for (;;) {
    const m = re.exec(r.stdout());
    if (m) return m;
    if (exited) throw new Error(`exited before printing ${re}: ${JSON.stringify(exited)}`);
    if (Date.now() > end) throw new Error(`no ${re} in ${ms} ms; stdout so far: ${r.stdout()}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** Runs to completion, killed after `ms` (a start that should have refused must not hang the suite). */
async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, ms = 20_000): Promise<Run> {
  const r = spawnCli(args, env);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), ms);
  const out = await r.done;
  clearTimeout(timer);
  return out;
}

function expectOneLineError(r: Run, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^spritzle: /);
  expect(lines[0]).toMatch(pattern);
}

beforeAll(() => {
  const r = spawnSync('npx', ['tsc', '-b'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) console.warn(`tsc -b exited ${r.status}:\n${r.stdout}${r.stderr}`);
  if (!existsSync(CLI)) throw new Error(`${CLI} was not built:\n${r.stdout}${r.stderr}`);
}, 180_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

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
      expectOneLineError(r, new RegExp(`${busy}.*in use`));
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
      expectOneLineError(r, new RegExp(`${busy}.*already in use.*--listen-port`));
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('a bad --port is a usage error (exit 2)', async () => {
    const r = await runCli(['start', '--port', '99999']);
    expectOneLineError(r, /--port/);
    expect(r.code).toBe(2);
  });
});
