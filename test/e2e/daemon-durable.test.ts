// Issue 19: every torrent that got a 201 survives a stop, a crash and a restart, at any add rate; a removal
// answered 200 does not come back; a crash at a random moment never brings back half a torrent or one the
// API did not acknowledge (unless its add was in flight).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import bencode from 'bencode';
import { tmpDir } from '../helpers/fixtures.js';
import { buildCli } from '../helpers/cli.js';
import { startDaemon, killAllDaemons, getJson, type Daemon } from '../helpers/daemon.js';
import { prng } from '../helpers/prng.mjs';

beforeAll(() => buildCli(), 180_000);
afterAll(() => killAllDaemons());

const CLIENTS = 8;
const SEED = 19;

/** What each torrent of these tests is added with, and must come back with. */
interface Expected { name: string; savePath: string; paused: boolean }

/** Torrent `name`: one 16 KiB piece, no data on disk (nothing to check or fetch). */
function torrentOf(name: string): { bytes: Uint8Array; hash: string } {
  const info = { name, 'piece length': 16384, length: 16384, pieces: createHash('sha1').update(name).digest() };
  return { bytes: bencode.encode({ info }), hash: createHash('sha1').update(bencode.encode(info)).digest('hex') };
}

/** Adds torrent `name` (a JSON body) with its expected save path and paused flag; resolves with the answer's status. */
async function add(base: string, name: string, e: Expected): Promise<number> {
  const body = JSON.stringify({
    file: Buffer.from(torrentOf(name).bytes).toString('base64'),
    args: { save_path: e.savePath, ...(e.paused ? { flags: ['paused'] } : {}) },
  });
  const r = await fetch(`${base}/torrent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await r.arrayBuffer();
  return r.status;
}

/** Runs `task(i)` for i in [0, n) from CLIENTS concurrent clients. */
async function concurrently(n: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (next < n) await task(next++);
  }));
}

type Row = { info_hash: string; name: string; save_path: string; paused: boolean; state: string; errc: { value: number } };
const listed = async (base: string): Promise<Map<string, Row>> =>
  new Map((await getJson<Row[]>(`${base}/torrent?fields=name,save_path,paused,state,errc`)).map((r) => [r.info_hash, r]));

/** Every listed torrent is one that was expected, whole: its name, save path and paused flag, not in error. */
function expectWhole(rows: Map<string, Row>, expected: Map<string, Expected>): void {
  for (const [hash, row] of rows) {
    const e = expected.get(hash);
    expect(e).toBeDefined();
    expect({ name: row.name, savePath: row.save_path, paused: row.paused, errc: row.errc.value }).toEqual({ ...e, errc: 0 });
  }
}

const noTemps = async (state: string): Promise<string[]> =>
  [...await readdir(state), ...await readdir(join(state, 'torrents'))].filter((n) => n.endsWith('.tmp'));

describe('a 201 means the torrent survives', () => {
  it('20,000 adds from 8 clients, then kill -9 at once: all back with state and save path; 2,000 removes and kill -9: none back; 2,000 adds and SIGTERM at once: all back', async () => {
    const N = 20_000;
    const REMOVES = 2_000;
    const state = await tmpDir('durable-state');
    const dl = await tmpDir('durable-dl');
    const expected = new Map<string, Expected>();
    const expect201 = async (d: Daemon, from: number, n: number): Promise<void> => {
      await concurrently(n, async (i) => {
        const name = `d-${from + i}`;
        const e = { name, savePath: join(dl, `sp${i % 4}`), paused: i % 3 !== 0 };
        expect(await add(d.url, name, e)).toBe(201);
        expected.set(torrentOf(name).hash, e);
      });
    };

    let d = await startDaemon(state, dl);
    await expect201(d, 0, N);
    await d.stop('SIGKILL');
    d = await startDaemon(state, dl);
    let rows = await listed(d.url);
    expect(rows.size).toBe(N);
    expectWhole(rows, expected);

    const gone = [...expected.keys()].slice(0, REMOVES);
    await concurrently(REMOVES, async (i) => {
      expect((await fetch(`${d.url}/torrent/${gone[i]}`, { method: 'DELETE' })).status).toBe(200);
      expected.delete(gone[i]!);
    });
    await d.stop('SIGKILL');
    d = await startDaemon(state, dl);
    rows = await listed(d.url);
    expect(rows.size).toBe(N - REMOVES);
    for (const h of gone) expect(rows.has(h)).toBe(false);

    await expect201(d, N, REMOVES);
    expect((await d.stop('SIGTERM')).code).toBe(0);
    expect(await noTemps(state)).toEqual([]);
    d = await startDaemon(state, dl);
    rows = await listed(d.url);
    expect(rows.size).toBe(N);
    expectWhole(rows, expected);
    expect((await d.stop()).code).toBe(0);
  }, 600_000);
});

describe('a crash at a random moment', () => {
  it('20 rounds of kill -9 while adding and removing: every acknowledged change is kept, nothing unacknowledged appears unless in flight, nothing is half-restored', async () => {
    const state = await tmpDir('random-kill-state');
    const dl = await tmpDir('random-kill-dl');
    const rand = prng(SEED);
    /** What must be there (acknowledged adds not yet removed). */
    const present = new Map<string, Expected>();
    /** What may be there: in flight when the daemon died (adds and removes). */
    const maybe = new Map<string, Expected>();
    const all = new Map<string, Expected>();
    let made = 0;
    let d = await startDaemon(state, dl);
    for (let round = 0; round < 20; round++) {
      let dying = false;
      const clients = Array.from({ length: CLIENTS }, async (_, c) => {
        while (!dying) {
          const victims = [...present.keys()];
          if (c === 0 && victims.length > 0 && rand() < 0.5) {
            const h = victims[Math.floor(rand() * victims.length)]!;
            const e = present.get(h)!;
            present.delete(h);
            maybe.set(h, e);
            const r = await fetch(`${d.url}/torrent/${h}`, { method: 'DELETE' }).catch(() => null);
            if (r?.status === 200) maybe.delete(h);
            continue;
          }
          const name = `r-${made++}`;
          const e = { name, savePath: join(dl, `sp${made % 3}`), paused: made % 2 === 0 };
          const h = torrentOf(name).hash;
          all.set(h, e);
          maybe.set(h, e);
          const status = await add(d.url, name, e).catch(() => null);
          if (status === 201) {
            maybe.delete(h);
            present.set(h, e);
          }
        }
      });
      await new Promise((r) => setTimeout(r, 50 + Math.floor(rand() * 400)));
      dying = true;
      await d.stop('SIGKILL');
      await Promise.all(clients);
      d = await startDaemon(state, dl);
      const rows = await listed(d.url);
      for (const h of present.keys()) expect(rows.has(h)).toBe(true);
      for (const h of rows.keys()) expect(present.has(h) || maybe.has(h)).toBe(true);
      expectWhole(rows, all);
      expect(await noTemps(state)).toEqual([]);
      // What was in flight is settled now: it is there or not, as the restart says.
      for (const [h, e] of maybe) if (rows.has(h)) present.set(h, e);
      maybe.clear();
    }
    expect(present.size).toBeGreaterThan(100);
    expect((await d.stop()).code).toBe(0);
  }, 600_000);
});
