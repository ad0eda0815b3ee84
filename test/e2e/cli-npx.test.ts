import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, delimiter, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// The npx package: scripts/pack-cli.mjs bundles the CLI with all its dependencies into one file and packs
// a tarball without dependencies. Here it runs as on a clean machine: npx from a fresh folder outside the
// workspace, with an empty npm cache, no npmrc (HOME is a temp dir) and the registry pointed at a closed
// port on 127.0.0.1, so anything it tried to fetch would fail; nothing of the workspace is on its paths.

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const run = promisify(execFile);

let base = '';
let tarball = '';
let runDir = '';
let env: NodeJS.ProcessEnv = {};
const children = new Set<ChildProcess>();

interface Exit { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** `npx --yes <args>` in the run folder with the clean environment; its own process group, so cleanup reaches sh and node. */
function npx(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; done: Promise<Exit> } {
  const child = spawn('npx', ['--yes', ...args], { cwd: runDir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const done = new Promise<Exit>((res) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      res({ code, signal, stdout, stderr });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

async function until<T>(what: string, probe: () => T | undefined, exited: Promise<Exit>, ms: number): Promise<T> {
  let gone: Exit | null = null;
  void exited.then((e) => { gone = e; });
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (gone) throw new Error(`exited before ${what}: ${JSON.stringify(gone)}`);
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'spritzle-npx-'));
  const out = join(base, 'pack');
  const { stdout } = await run(process.execPath, [join(ROOT, 'scripts/pack-cli.mjs'), '--out', out], {
    cwd: ROOT, timeout: 90_000, encoding: 'utf8',
  });
  tarball = stdout.trim().split('\n').pop()!;
  runDir = join(base, 'run');
  for (const d of ['run', 'home', 'npm-cache', 'state', 'downloads']) await mkdir(join(base, d));
  env = {
    // Without the workspace's node_modules/.bin that `pnpm test` puts on PATH (it has a `spritzle` too).
    PATH: (process.env.PATH ?? '').split(delimiter).filter((p) => relative(ROOT, p).startsWith('..')).join(delimiter),
    HOME: join(base, 'home'),
    npm_config_cache: join(base, 'npm-cache'),
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
}, 120_000);

afterAll(async () => {
  for (const c of children) {
    try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ }
  }
  if (base) await rm(base, { recursive: true, force: true });
});

describe('npx of the packed CLI tarball', () => {
  it('is a spritzle tarball outside the workspace', () => {
    expect(basename(tarball)).toMatch(/^spritzle-\d+\.\d+\.\d+.*\.tgz$/);
    expect(relative(ROOT, tarball).startsWith('..')).toBe(true);
    expect(relative(ROOT, runDir).startsWith('..')).toBe(true);
  });

  it('prints the version with nothing installed but the tarball', async () => {
    // A relative path, as a user would type it from a download folder.
    const r = await npx([relative(runDir, tarball), '--version']).done;
    expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    // npm installed the package alone: it has no dependencies.
    const [tree] = await readdir(join(base, 'npm-cache', '_npx'));
    const installed = (await readdir(join(base, 'npm-cache', '_npx', tree!, 'node_modules'))).filter((n) => !n.startsWith('.'));
    expect(installed).toEqual(['spritzle']);
  }, 30_000);

  it('starts the daemon, which answers GET /session, and stops on SIGTERM with exit 0', async () => {
    const daemon = npx([`file:${tarball}`, 'start', '--port', '0', '--host', '127.0.0.1', '--listen-port', '0',
      '--listen-host', '127.0.0.1', '--no-dht', '--state-dir', join(base, 'state'), '--download-dir', join(base, 'downloads')]);
    const url = await until('"spritzle API on <url>"', () => /^spritzle API on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(daemon.stdout())?.[1],
      daemon.done, 30_000);
    const res = await fetch(`${url}/session`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const stats = await res.json() as Record<string, unknown>;
    expect(typeof stats['net.recv_bytes']).toBe('number');

    // npx runs the bin through `sh -c`, and a signal to npx reaches only the shell: signal the daemon
    // itself, by the pid in its JSON "ready" log line. Its exit status then comes back through sh and npx.
    const pid = await until('the "ready" log line', () => {
      for (const line of daemon.stderr().split('\n')) {
        try {
          const rec = JSON.parse(line) as { msg?: string; pid?: number };
          if (rec.msg === 'ready' && typeof rec.pid === 'number') return rec.pid;
        } catch { /* not JSON */ }
      }
      return undefined;
    }, daemon.done, 10_000);
    if (process.platform === 'linux') {
      // The daemon runs from npx's install in the empty cache, not from the workspace.
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      expect(cmdline[1]).toContain(join(base, 'npm-cache', '_npx'));
    }
    process.kill(pid, 'SIGTERM');
    const exit = await daemon.done;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.stderr).toMatch(/"msg":"shutting down"/);
  }, 45_000);
});
