import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from './helpers/fixtures.js';
import { buildCli, CLI } from './helpers/daemon.js';

// Two one-shot commands meet over a local DHT, with no tracker and no --peer: `seed` announces into a DHT
// (here one plain bittorrent-dht node on 127.0.0.1 stands for "the DHT"), `download` of a magnet link
// bootstraps from the seed's own DHT port (--dht-port) and finds the seed by its info-hash.
const children = new Set<ChildProcess>();
beforeAll(() => buildCli(), 180_000);
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

function run(args: string[]): { child: ChildProcess; out: () => string; err: () => string; done: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const done = new Promise<number | null>((r) => child.on('close', (code) => { children.delete(child); r(code); }));
  return { child, out: () => out, err: () => err, done };
}

async function waitOut(p: ReturnType<typeof run>, re: RegExp): Promise<RegExpExecArray> {
  const end = Date.now() + 20_000;
  for (;;) {
    const m = re.exec(p.out());
    if (m) return m;
    if (Date.now() > end) throw new Error(`no ${re}: ${p.out()} ${p.err()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('spritzle seed and download over a local DHT', () => {
  it('a magnet download finds the seed through the DHT alone and completes byte-identical', async () => {
    const t = await makeTorrent({ dir: await tmpDir('clidht'), name: 'dht.bin', files: 1_500_000, pieceLength: 16384 });
    const { default: DHT } = await import('bittorrent-dht');
    const node = new DHT({ bootstrap: false, host: false });
    await new Promise<void>((r) => node.listen(0, '127.0.0.1', () => r()));
    const nodePort = (node.address() as { port: number }).port;
    const seed = run(['seed', t.torrentPath, '--data', t.dataRoot, '--host', '127.0.0.1', '--listen-port', '0',
      '--dht-port', '0', '--dht-bootstrap', `127.0.0.1:${nodePort}`]);
    const dhtPort = Number((await waitOut(seed, /^dht on 127\.0\.0\.1:(\d+)$/m))[1]);
    const save = await tmpDir('clidht-dl');
    const magnet = `magnet:?xt=urn:btih:${t.infoHash}&dn=dht.bin`;
    const dl = run(['download', magnet, '-o', save, '--host', '127.0.0.1', '--dht-bootstrap', `127.0.0.1:${dhtPort}`, '--json', '--timeout', '60']);
    expect(await dl.done).toBe(0);
    const result = JSON.parse(dl.out().trim()) as { info_hash: string; bytes: number };
    expect(result.info_hash).toBe(t.infoHash);
    expect(result.bytes).toBe(1_500_000);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    seed.child.kill('SIGINT');
    expect(await seed.done).toBe(0);
    node.destroy();
  }, 90_000);
});
