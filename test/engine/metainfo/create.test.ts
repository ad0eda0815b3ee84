// Creating v2 and hybrid torrents: the info dictionary, piece layers and info-hashes must be libtorrent's,
// byte for byte, for the same files, piece size and flags (test/peers/lt_create.py prints libtorrent's); and
// our reader must lay libtorrent's .torrent out as libtorrent does.
import { describe, expect, it, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { createTorrentFromPath } from '../../../packages/engine/src/metainfo/create.js';
import { parseBNode, dictGet } from '../../../packages/engine/src/metainfo/bnode.js';
import { readV2, hasAllPieceLayers } from '../../../packages/engine/src/metainfo/v2.js';
import { hybridMismatch } from '../../../packages/engine/src/metainfo/hybrid.js';
import { parseInfoDict } from '../../../packages/engine/src/metainfo/metainfo.js';
import { PYTHON, requireLibtorrent } from '../../helpers/libtorrent.js';

const LT_CREATE = fileURLToPath(new URL('../../peers/lt_create.py', import.meta.url));
const SEED = Number(process.env.CREATE_SEED ?? 0x2052);
const LIMITS = { maxFiles: 100_000, maxPieces: 0x200000, decode: { maxDepth: 100, maxTokens: 3_000_000 } };
const work = mkdtempSync(path.join(tmpdir(), 'spritzle-create-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface LtReference {
  mode: string; info: string; piece_layers: Record<string, string>; v1: string | null; v2: string | null; torrent: string;
  files: [string, number, number, boolean][];
}

function libtorrentCreates(p: string, pieceSize: number): LtReference[] {
  const out = execFileSync(PYTHON, [LT_CREATE, p, String(pieceSize), 'v2', 'hybrid'], { encoding: 'utf8', timeout: 60_000 });
  return out.trim().split('\n').map((l) => JSON.parse(l) as LtReference);
}

function pieceLayersOf(torrent: Uint8Array): Record<string, string> {
  const top = parseBNode(torrent, LIMITS.decode);
  const layers = dictGet(top, 'piece layers');
  const out: Record<string, string> = {};
  if (layers?.kind === 'dict') {
    for (const e of layers.entries) if (e.value.kind === 'str') out[Buffer.from(e.key).toString('hex')] = Buffer.from(e.value.value).toString('hex');
  }
  return out;
}

async function expectSameAsLibtorrent(p: string, pieceSize: number): Promise<void> {
  for (const ref of libtorrentCreates(p, pieceSize)) {
    const ours = await createTorrentFromPath(p, { version: ref.mode as 'v2' | 'hybrid', pieceLength: pieceSize });
    expect({ mode: ref.mode, info: Buffer.from(ours.infoBytes).toString('latin1') })
      .toEqual({ mode: ref.mode, info: Buffer.from(ref.info, 'hex').toString('latin1') });
    expect(pieceLayersOf(ours.torrent)).toEqual(ref.piece_layers);
    expect([ours.infoHashV1 ?? null, ours.infoHashV2]).toEqual([ref.v1, ref.v2]);
    expectSameReading(ref);
  }
}

/** Our reader gives libtorrent's .torrent the layout libtorrent gives it (pad files by size and offset). */
function expectSameReading(ref: LtReference): void {
  const torrent = Buffer.from(ref.torrent, 'hex');
  const top = parseBNode(torrent, LIMITS.decode);
  const info = dictGet(top, 'info')!;
  const layers = dictGet(top, 'piece layers')!;
  const infoBytes = torrent.subarray(info.start, info.end);
  const name = Buffer.from((dictGet(info, 'name') as { value: Uint8Array }).value).toString();
  const v2 = readV2(infoBytes, torrent.subarray(layers.start, layers.end), name, LIMITS)!;
  expect(v2.infoHashV2).toBe(ref.v2);
  expect(hasAllPieceLayers(v2)).toBe(true);
  let layout: readonly { path: string; length: number; pad: boolean }[] = v2.layout;
  if (ref.mode === 'hybrid') {
    const v1 = parseInfoDict(infoBytes);
    expect(hybridMismatch(v1.files, v2.layout)).toBeNull();
    layout = v1.files;
  }
  let offset = 0;
  const ours = layout.map((f) => {
    const row = [f.pad ? '(pad)' : f.path, f.length, offset, f.pad];
    offset += f.length;
    return row;
  });
  const theirs = ref.files.map(([p, size, off, pad], i) => [pad ? '(pad)' : renamedBack(p, ours[i]?.[0] as string), size, off, pad]);
  expect(ours).toEqual(theirs);
}

/**
 * libtorrent renames a file whose path equals another's but for case ("B" beside a folder "b") on load,
 * for case-insensitive file systems: "B" → "B.1", "b.txt" → "b.1.txt". Spritzle keeps the names the
 * torrent gives; this maps libtorrent's renamed path back when it is exactly that renaming of ours.
 */
function renamedBack(lt: string, ours: string): string {
  if (lt === ours) return lt;
  const slash = ours.lastIndexOf('/');
  const file = ours.slice(slash + 1);
  const dot = file.lastIndexOf('.');
  const [base, ext] = dot > 0 ? [file.slice(0, dot), file.slice(dot)] : [file, ''];
  const re = new RegExp(`^${escape(ours.slice(0, slash + 1) + base)}\\.\\d+${escape(ext)}$`);
  return re.test(lt) ? ours : lt;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Names that sort differently as bytes, as UTF-16 and as integers ("10" before "9"), upper before lower.
const name = fc.constantFrom('a', 'B', 'b.txt', 'b', '10', '9', 'é', 'z_z', 'ünï', '日本', 'data.bin');
const size = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 100 }),
  fc.constantFrom(16383, 16384, 16385, 32768, 65536 + 1),
  fc.integer({ min: 1, max: 3 * 1024 * 1024 }),
);
const file = fc.record({ dirs: fc.array(name, { maxLength: 3 }), name, size, exec: fc.boolean() });
const tree = fc.record({
  files: fc.array(file, { minLength: 1, maxLength: 6 }),
  pieceSize: fc.integer({ min: 14, max: 22 }).map((e) => 2 ** e),
  single: fc.boolean(),
});

/** Writes the files (dropping any whose path is taken by a file or a directory); null when none has data. */
interface TreeCase { files: { dirs: string[]; name: string; size: number; exec: boolean }[]; single: boolean }

function writeTree(dir: string, t: TreeCase): string | null {
  mkdirSync(dir, { recursive: true });
  if (t.single) {
    const f = t.files[0]!;
    if (f.size === 0) return null;
    const p = path.join(dir, f.name);
    writeFileSync(p, randomBytes(f.size));
    if (f.exec) chmodSync(p, 0o755);
    return p;
  }
  const root = path.join(dir, 'root');
  const files = new Set<string>();
  const dirs = new Set<string>();
  let data = false;
  for (const f of t.files) {
    const rel = [...f.dirs, f.name].join('/');
    const prefixes = f.dirs.map((_, i) => f.dirs.slice(0, i + 1).join('/'));
    if (files.has(rel) || dirs.has(rel) || prefixes.some((p) => files.has(p))) continue;
    files.add(rel);
    for (const p of prefixes) dirs.add(p);
    const abs = path.join(root, ...f.dirs, f.name);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, randomBytes(f.size));
    if (f.exec) chmodSync(abs, 0o755);
    data ||= f.size > 0;
  }
  return data ? root : null;
}

describe('creating v2 and hybrid torrents', () => {
  it('writes libtorrent\'s info dict for a tree with an empty file, a file in a subfolder and files smaller than a piece', async () => {
    requireLibtorrent();
    const root = path.join(work, 'fixed', 'd');
    mkdirSync(path.join(root, 'sub'), { recursive: true });
    writeFileSync(path.join(root, 'a.bin'), randomBytes(40000));
    writeFileSync(path.join(root, 'empty'), '');
    writeFileSync(path.join(root, 'sub', 'small'), randomBytes(100));
    writeFileSync(path.join(root, 'sub', 'B.bin'), randomBytes(70000));
    await expectSameAsLibtorrent(root, 32768);
  });

  it('writes libtorrent\'s info dict for a single file (no pad file in the hybrid\'s v1 part)', async () => {
    requireLibtorrent();
    const dir = path.join(work, 'single');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'x.bin'), randomBytes(50000));
    await expectSameAsLibtorrent(path.join(dir, 'x.bin'), 32768);
  });

  it(`writes libtorrent's info dict, and reads libtorrent's .torrent with libtorrent's layout, for 20 random file trees, v2 and hybrid (seed ${SEED})`, async () => {
    requireLibtorrent();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(tree, async (t) => {
        const p = writeTree(path.join(work, `random-${n++}`), t);
        fc.pre(p !== null);
        await expectSameAsLibtorrent(p!, t.pieceSize);
      }),
      { seed: SEED, numRuns: 20, endOnFailure: true },
    );
  }, 600_000);

  it('refuses a piece size that is not a power of two of at least 16 KiB', async () => {
    const dir = path.join(work, 'bad-piece');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'f'), 'x');
    await expect(createTorrentFromPath(path.join(dir, 'f'), { version: 'v2', pieceLength: 8192 })).rejects.toMatchObject({ code: 'invalid_param' });
    await expect(createTorrentFromPath(path.join(dir, 'f'), { version: 'hybrid', pieceLength: 49152 })).rejects.toMatchObject({ code: 'invalid_param' });
  });
});
