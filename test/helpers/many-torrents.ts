// Many tiny single-file torrents (one piece each) and their data, made fast for file-pool tests; plus a
// libtorrent downloader that fetches a list of them in turn (test/peers/lt_many_get.py) and a descriptor
// count of a process.
import bencode from 'bencode';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PYTHON, requireLibtorrent } from './libtorrent.js';

export interface TinyTorrent {
  name: string;
  /** Written only for the torrents `withFile` picked ('' otherwise). */
  torrentPath: string;
  torrentBytes: Uint8Array;
  infoHash: string;
}

/**
 * `n` single-file torrents of `size` bytes (one piece of 16 KiB at most), data in `dir/<name>`, .torrent files
 * in `dir/torrents/<name>.torrent` for those `withFile` picks; each file's content differs (it starts with its name).
 */
export async function makeTinyTorrents(
  dir: string, n: number, { size = 1024, prefix = 't', withFile = () => true }: { size?: number; prefix?: string; withFile?: (i: number) => boolean } = {},
): Promise<TinyTorrent[]> {
  if (size > 16384) throw new Error('makeTinyTorrents: one piece of 16 KiB at most');
  await mkdir(join(dir, 'torrents'), { recursive: true });
  const out: TinyTorrent[] = [];
  const fill = Buffer.alloc(size, 0x5a);
  for (let i = 0; i < n; i++) {
    const name = `${prefix}${i}`;
    const data = Buffer.from(fill);
    data.write(`${name}\n`, 0, 'latin1');
    const info = { length: size, name: Buffer.from(name), 'piece length': 16384, pieces: createHash('sha1').update(data).digest() };
    const torrentBytes = bencode.encode({ info }) as Uint8Array;
    const infoHash = createHash('sha1').update(bencode.encode(info) as Uint8Array).digest('hex');
    const torrentPath = withFile(i) ? join(dir, 'torrents', `${name}.torrent`) : '';
    await writeFile(join(dir, name), data);
    if (torrentPath !== '') await writeFile(torrentPath, torrentBytes);
    out.push({ name, torrentPath, torrentBytes, infoHash });
  }
  return out;
}

/** Open descriptors of a process (Linux /proc). */
export async function countFds(pid: number | 'self' = 'self'): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

export interface ManyGetResult { ok: number; failed: { torrent: string; error: string }[]; seconds: number }

const SCRIPT = fileURLToPath(new URL('../peers/lt_many_get.py', import.meta.url));

/**
 * libtorrent downloads `torrentPaths` in turn from 127.0.0.1:`port` into `savePath`, `parallel` at a time
 * (libtorrent dials once a second, so one at a time would take a second each).
 */
export function ltGetInTurn(torrentPaths: string[], savePath: string, port: number, { perTorrentS = 30, parallel = 10 } = {}): Promise<ManyGetResult> {
  requireLibtorrent();
  const proc = spawn(PYTHON, [SCRIPT, ...torrentPaths, '--save-path', savePath, '--peer', `127.0.0.1:${port}`,
    '--timeout', String(perTorrentS), '--parallel', String(parallel), '--stdin-lifeline'], { stdio: ['pipe', 'pipe', 'pipe'] });
  proc.stdin.on('error', () => {});
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (s: string) => {
    err = (err + s).slice(-20_000);
  });
  let result: ManyGetResult | undefined;
  createInterface({ input: proc.stdout }).on('line', (line) => {
    if (line.startsWith('{')) result = JSON.parse(line) as ManyGetResult;
  });
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => {
      proc.stdin.end();
      if (result) resolve(result);
      else reject(new Error(`lt_many_get.py exited (code ${code}) without a result: ${err.trim()}`));
    });
  });
}
