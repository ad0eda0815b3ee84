/**
 * WebTorrent (the npm package, run by test/interop/webtorrent-client.mjs with its default settings, so
 * `secure: 1`: every connection it dials opens with an MSE/PE handshake) downloads from a spritzle seed on
 * 127.0.0.1; the data is compared byte for byte and spritzle's peer list says the connection was encrypted.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PeerInfo, Session, TorrentHandle } from '@spritzle/engine';
import { dataFiles, makeTorrent, sameBytes, tmpDir, type TestTorrent } from '../helpers/fixtures.js';
import { sessionsForThisFile, waitFor } from '../helpers/engine.js';

const CLIENT = fileURLToPath(new URL('./webtorrent-client.mjs', import.meta.url));
const newSession = sessionsForThisFile();
/** A seed that takes a few seconds, so that the connection is still in the peer list when looked at. */
const SLOW_UP = { upload_rate_limit: 1024 * 1024 } as const;

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

interface Got { code: number | null; stdout: string; stderr: string }

/** WebTorrent downloading `t` from 127.0.0.1:`port` into `save`; resolves when its process exits. */
function webtorrentGet(t: TestTorrent, port: number, save: string): Promise<Got> {
  const child = spawn(process.execPath, [CLIENT, t.torrentPath, `127.0.0.1:${port}`, save], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (code) => {
    children.delete(child);
    resolve({ code, stdout, stderr });
  }));
}

/** The peer list's first entry, polled until one appears (the connection is up). */
async function peerSeen(h: TorrentHandle): Promise<PeerInfo> {
  let seen: PeerInfo | undefined;
  await waitFor(() => (seen = h.peers()[0]) !== undefined, 30_000, 'WebTorrent in the peer list');
  return seen!;
}

async function seed(session: Session, name: string): Promise<{ t: TestTorrent; h: TorrentHandle }> {
  const t = await makeTorrent({ dir: await tmpDir(`wt-${name}`), name: `${name}.bin`, files: 3_000_000, pieceLength: 65536 });
  const h = await session.addTorrent({ ti: t.torrentBytes, save_path: t.dataRoot });
  await waitFor(() => h.status().is_seeding, 30_000, 'the seed to have checked its data');
  return { t, h };
}

async function sameData(t: TestTorrent, save: string): Promise<void> {
  const src = dataFiles(t, t.dataRoot);
  const dst = dataFiles(t, save);
  for (let i = 0; i < src.length; i++) expect(await sameBytes(src[i]!, dst[i]!)).toBe(true);
}

describe('WebTorrent downloads from spritzle', () => {
  it('with both on their default settings, over an MSE-encrypted connection', async () => {
    const session = await newSession(SLOW_UP); // default policy: enabled, MSE and plaintext both accepted
    const { t, h } = await seed(session, 'defaults');
    const save = await tmpDir('wt-defaults-get');
    const got = webtorrentGet(t, session.listenPort, save);
    const p = await peerSeen(h);
    expect(p.rc4_encrypted || p.plaintext_encrypted).toBe(true);
    const r = await got;
    expect(r).toMatchObject({ code: 0 });
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ secure: 1 });
    await sameData(t, save);
  });

  it('with spritzle forcing RC4 payload, so that every byte WebTorrent receives went through both RC4s', async () => {
    const session = await newSession({ out_enc_policy: 'forced', in_enc_policy: 'forced', allowed_enc_level: 'rc4', ...SLOW_UP });
    const { t, h } = await seed(session, 'forced');
    const save = await tmpDir('wt-forced-get');
    const got = webtorrentGet(t, session.listenPort, save);
    const p = await peerSeen(h);
    expect(p.rc4_encrypted).toBe(true);
    expect((await got).code).toBe(0);
    await sameData(t, save);
  });
});
