// Running out of file descriptors (EMFILE) during a download: the torrent shows the error state with the
// reason, and carries on by itself once descriptors are available again. The session runs in a child process
// (helpers/emfile-child.mjs) whose descriptor limit the test caps; the child then takes every free descriptor
// but one, the connection to the seed's, and gives them back when told.
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dataFiles, makeTorrent, sameBytes, tmpDir, type TestTorrent } from '../helpers/fixtures.js';
import { PYTHON, requireLibtorrent, startLtSeed, type LtSeed } from '../helpers/libtorrent.js';

const CHILD = fileURLToPath(new URL('../helpers/emfile-child.mjs', import.meta.url));
const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Sets the soft RLIMIT_NOFILE of a running process (Python's resource.prlimit; the hard limit stays). */
function setFdLimit(pid: number, soft: number): void {
  const r = spawnSync(PYTHON, ['-c', [
    'import resource, sys',
    'pid, soft = int(sys.argv[1]), int(sys.argv[2])',
    'hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]',
    'resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))',
  ].join('\n'), String(pid), String(soft)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prlimit failed: ${r.stderr}`);
}

interface Line {
  ready?: number; fds?: number; event?: string; error?: string; operation?: string; outOfDescriptors?: number;
  status?: { state: string; error: string; errc: string };
}

interface Child {
  /** The next line (from the start) that passes `test`. */
  next(test: (l: Line) => boolean, what: string, ms?: number): Promise<Line>;
  lines: Line[];
  send(command: string): void;
  quit(): Promise<void>;
}

/** Starts helpers/emfile-child.mjs, downloading `torrentPath` from the seed; resolves once its descriptor limit is capped. */
async function startChild(torrentPath: string, save: string, seedPort: number): Promise<Child> {
  const child = spawn(process.execPath, [CHILD, torrentPath, save, String(seedPort)], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const lines: Line[] = [];
  const waiters: { test: (l: Line) => boolean; resolve: (l: Line) => void; fail: (e: Error) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (s) => {
    const l = JSON.parse(s) as Line;
    lines.push(l);
    for (const w of [...waiters]) if (w.test(l)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(l);
    }
  });
  let exited = false;
  const closed = new Promise<void>((r) => child.once('close', (code) => {
    exited = true;
    for (const w of waiters.splice(0)) w.fail(new Error(`the child exited (code ${code}): ${stderr}`));
    r();
  }));
  const next = (test: (l: Line) => boolean, what: string, ms = 60_000): Promise<Line> => {
    const seen = lines.find(test);
    if (seen) return Promise.resolve(seen);
    if (exited) return Promise.reject(new Error(`the child exited before ${what}: ${stderr}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} in ${ms} ms; lines: ${JSON.stringify(lines.slice(-4))} stderr: ${stderr}`)), ms);
      waiters.push({
        test,
        resolve: (l) => { clearTimeout(timer); resolve(l); },
        fail: (e) => { clearTimeout(timer); reject(e); },
      });
    });
  };
  const ready = await next((l) => l.ready !== undefined, 'ready line');
  // A cap, so that taking every free descriptor is quick whatever the hard limit.
  setFdLimit(ready.ready!, ready.fds! + 64);
  return {
    next, lines,
    send: (command) => child.stdin!.write(`${command}\n`),
    quit: async () => {
      child.stdin!.write('quit\n');
      await closed;
    },
  };
}

async function multiFileSeed(): Promise<{ t: TestTorrent; seed: LtSeed }> {
  const t = await makeTorrent({
    dir: await tmpDir('emfile-seed'), name: 'many', pieceLength: 16384,
    files: Array.from({ length: 8 }, (_, i) => ({ path: `f${i}.bin`, size: 100_000 + i })),
  });
  return { t, seed: await startLtSeed(t.torrentPath, t.dataRoot) };
}

async function expectSameData(t: TestTorrent, save: string): Promise<void> {
  const src = dataFiles(t, t.dataRoot);
  const dst = dataFiles(t, save);
  for (let i = 0; i < src.length; i++) expect(await sameBytes(src[i]!, dst[i]!)).toBe(true);
}

describe('out of file descriptors', () => {
  it('a download that hits EMFILE shows the error state with the reason, and recovers when descriptors free up', async () => {
    requireLibtorrent();
    const { t, seed } = await multiFileSeed();
    const save = await tmpDir('emfile-dl');
    const child = await startChild(t.torrentPath, save, seed.port);
    child.send('go');
    const failed = await child.next((l) => l.event === 'torrent_error', 'torrent_error');
    expect(failed.error).toMatch(/too many open files \(EMFILE\)/);
    expect(failed.status!.error).toMatch(/too many open files \(EMFILE\)/);
    expect(failed.error).toMatch(/retried when file descriptors free up/);
    expect(failed.outOfDescriptors).toBeGreaterThanOrEqual(1);
    expect(child.lines.some((l) => l.event === 'torrent_finished')).toBe(false);

    child.send('free');
    const done = await child.next((l) => l.event === 'torrent_finished', 'torrent_finished', 30_000);
    expect(done.status!.error).toBe('');
    await expectSameData(t, save);
    await child.quit();
    await seed.stop();
  }, 120_000);

  it('a peer that cannot be dialled for want of descriptors is told (out_of_descriptors), and dialled again later', async () => {
    requireLibtorrent();
    const { t, seed } = await multiFileSeed();
    const save = await tmpDir('emfile-dial');
    const child = await startChild(t.torrentPath, save, seed.port);
    child.send('go 0');
    const told = await child.next((l) => l.event === 'out_of_descriptors', 'out_of_descriptors');
    expect(told.operation).toBe('connect');
    expect(told.error).toMatch(/EMFILE/);
    child.send('free');
    await child.next((l) => l.event === 'torrent_finished', 'torrent_finished', 30_000);
    await expectSameData(t, save);
    await child.quit();
    await seed.stop();
  }, 120_000);
});
