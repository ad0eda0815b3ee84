import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { buildCli, cleanup, cliRunner, closedPort, CLI, ROOT, tmp } from '../helpers/cli.js';
import { shellBlocks, words, type ShellBlock } from '../helpers/readme.js';

// The README as a specification of what a reader can type. Every fenced shell block carries a marker:
// `run` blocks are run as written, one after another in one shell (as a reader following the README
// does), in a temp folder, offline; `setup` and `check` blocks are checked without running them (they
// install, build, or take minutes): the pnpm they fetch is the pinned one, the scripts and files they
// name exist, the tarballs they name are what the pack steps make. Every `spritzle` command anywhere is
// checked against its own --help. The Node program (the ```ts block) is compiled strictly and run against
// a seeder.

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = shellBlocks(README);
const commands = blocks.flatMap((b) => b.commands.map((c) => ({ block: b, command: c })));
const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { packageManager: string; scripts: Record<string, string> };
const pkgOf = (dir: string): { name: string; version: string } => JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8'));

/** `spritzle <sub> args` (from PATH, or an npx'd tarball) → [sub, ...args]; null for other commands. */
function spritzleArgs(command: string): string[] | null {
  const w = words(command).filter((x) => !/^\w+=/.test(x) || x.includes('$('));
  const first = w.findIndex((x) => x === 'spritzle' || /^hash=\$\(spritzle$/.test(x));
  if (first >= 0) return w.slice(first + 1).map((x) => x.replace(/\)$/, ''));
  if (w[0] === 'npx' && w.some((x) => /spritzle-[\d.]+\.tgz$/.test(x))) return w.slice(w.findIndex((x) => x.endsWith('.tgz')) + 1);
  return null;
}

beforeAll(() => buildCli(), 300_000);
afterAll(cleanup);

describe('README', () => {
  it('marks every shell block as setup, check or run', () => {
    const unmarked = blocks.filter((b) => b.kind === null).map((b) => `line ${b.line}`);
    expect(unmarked).toEqual([]);
    expect(blocks.filter((b) => b.kind === 'run').length).toBeGreaterThan(0);
  });

  it('uses no global pnpm: pnpm is fetched by npx -y at the pinned version', () => {
    const pinned = rootPkg.packageManager;
    for (const { command } of commands) {
      const w = words(command);
      expect(w[0]).not.toBe('pnpm');
      if (w[0] === 'npx') expect(w[1]).toBe('-y');
      const pnpm = w.find((x) => x.startsWith('pnpm@'));
      if (pnpm) expect(pnpm).toBe(pinned);
    }
  });

  it('runs only root scripts and files that exist', () => {
    for (const { command } of commands) {
      const w = words(command);
      const run = w.indexOf('run');
      if (w.some((x) => x.startsWith('pnpm@')) && run >= 0) expect(Object.keys(rootPkg.scripts)).toContain(w[run + 1]);
      if (w[0] === 'node' || w[0] === 'bash') expect(existsSync(join(ROOT, w[1]!))).toBe(true);
    }
  });

  it('names the tarballs the pack steps make', () => {
    const cli = pkgOf('packages/cli');
    const engine = pkgOf('packages/engine');
    const server = pkgOf('packages/server');
    const tarballs = commands.flatMap(({ command }) => words(command).filter((x) => x.endsWith('.tgz')));
    expect(tarballs.length).toBeGreaterThan(0);
    const expected = new Set([`./${cli.name}-${cli.version}.tgz`, ...[engine, server].map((p) => `./${p.name.replace('@', '').replace('/', '-')}-${p.version}.tgz`)]);
    for (const t of tarballs) expect(expected).toContain(t);
  });

  it('gives every spritzle command only options its --help lists', () => {
    const calls = commands.map(({ command }) => spritzleArgs(command)).filter((a): a is string[] => a !== null);
    expect(calls.length).toBeGreaterThan(5);
    const helpOf = new Map<string, string>();
    for (const args of calls) {
      const sub = args[0]!.startsWith('-') ? '' : args[0]!;
      if (!helpOf.has(sub)) {
        const r = spawnSync(process.execPath, [CLI, ...(sub ? [sub] : []), '--help'], { encoding: 'utf8' });
        expect(r.status).toBe(0);
        helpOf.set(sub, r.stdout);
      }
      for (const opt of args.filter((a) => a.startsWith('--'))) expect(`${sub}: ${helpOf.get(sub)}`).toContain(opt);
    }
  });

  it('runs its run blocks as written, in order, offline', async () => {
    const dir = await tmp('spritzle-readme-');
    const home = join(dir, 'home');
    const work = join(dir, 'work');
    await mkdir(join(home, '.local/state/spritzle'), { recursive: true });
    await mkdir(work);
    // Offline and private: no DHT (the daemon's config file), and the README's well-known ports (8080,
    // 68xx) replaced by free ones so that tests running beside this one do not collide.
    await writeFile(join(home, '.local/state/spritzle/config.json'), JSON.stringify({ dht: false }));
    await symlink(join(ROOT, 'node_modules'), join(work, 'node_modules'));
    const script0 = blocks.filter((b): b is ShellBlock => b.kind === 'run').map((b) => b.text).join('\n');
    const ports = new Map<string, string>();
    for (const p of new Set(script0.match(/\b(?:8080|68\d\d)\b/g) ?? [])) ports.set(p, String(await closedPort()));
    ports.set('8080', ports.get('8080') ?? String(await closedPort()));
    const script = script0.replace(/\b(?:8080|68\d\d)\b/g, (p) => ports.get(p)!);
    // The daemon's own defaults (8080, 6881) come through the variables it documents.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '', HOME: home, LANG: 'C.UTF-8',
      SPRITZLE_PORT: ports.get('8080'), SPRITZLE_URL: `http://127.0.0.1:${ports.get('8080')}`, SPRITZLE_LISTEN_PORT: String(await closedPort()),
    };
    const shell = spawn('bash', ['-euo', 'pipefail', '-c', `export PATH="$PWD/node_modules/.bin${delimiter}$PATH"\n${script}`], {
      cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let out = '';
    let err = '';
    shell.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    shell.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const killer = setTimeout(() => process.kill(-shell.pid!, "SIGKILL"), 90_000);
    // 'exit', not 'close': a background command the script left running still holds its stdout.
    const code = await new Promise<number | null>((res) => shell.on('exit', (c) => res(c)));
    clearTimeout(killer);
    try { process.kill(-shell.pid!, 'SIGKILL'); } catch { /* all gone */ }
    await new Promise((res) => setTimeout(res, 100));
    if (code !== 0) throw new Error(`exit ${code}\nstdout:\n${out}\nstderr:\n${err}`);
    if (process.env.README_TEST_SHOW) console.log(out, err);
    expect(out).toContain('same bytes');
    const hash = /^[0-9a-f]{40}$/m.exec(out)?.[0];
    expect(hash).toBeDefined();
    expect(out).toContain(`{"info_hash":"${hash}"}`);
    expect(out).toMatch(/"eta":-?\d+,"ratio":\d/);
    expect(out).toMatch(/^NAME\s+STATE/m);
  }, 120_000);

  it('has a Node program that compiles and downloads from a seeder as written', async () => {
    const code = /```ts\n([\s\S]*?)```/.exec(README)![1]!;
    const work = await tmp('spritzle-readme-node-');
    await symlink(join(ROOT, 'node_modules'), join(work, 'node_modules'));
    await mkdir(join(work, 'demo/data'), { recursive: true });
    await writeFile(join(work, 'demo/data/hello.txt'), 'hello, swarm\n');
    const { runCli, startCli } = cliRunner();
    expect((await runCli(['create', join(work, 'demo/data/hello.txt'), '-o', join(work, 'demo/hello.torrent')])).code).toBe(0);
    const seeder = await startCli(['seed', join(work, 'demo/hello.torrent'), '--data', join(work, 'demo/data'), '--host', '127.0.0.1', '--no-dht'], /on 127\.0\.0\.1:(\d+)\n/);
    const program = code.replace('127.0.0.1:6882', `127.0.0.1:${seeder.match[1]}`).replace('0.0.0.0:6881', `127.0.0.1:${await closedPort()}`)
      .replace("'/tmp/dl'", JSON.stringify(join(work, 'dl')));
    await writeFile(join(work, 'program.ts'), program);
    await writeFile(join(work, 'package.json'), JSON.stringify({ type: 'module' }));
    // Strict, but skipLibCheck: the library's own .d.ts are held to skipLibCheck false by packed-library.test.ts.
    await writeFile(join(work, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], strict: true, skipLibCheck: true, outDir: 'out' },
      files: ['program.ts'],
    }));
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', work], { cwd: work, encoding: 'utf8' });
    expect(tsc.stdout).toBe('');
    const r = spawnSync(process.execPath, [join(work, 'out/program.js')], { cwd: work, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^seeding 13 \d+\n$/);
    seeder.child.kill('SIGINT');
    await seeder.done;
  }, 120_000);
});
