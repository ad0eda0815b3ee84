import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { makeTorrent, tmpDir, sameBytes, dataFiles } from '../helpers/fixtures.js';
import { buildCli, cliRunner, killChildren, waitForOutput } from '../helpers/cli.js';

// Two one-shot commands meet over a local DHT, with no tracker and no --peer: `seed` announces into a DHT
// (here one plain bittorrent-dht node on 127.0.0.1 stands for "the DHT"), `download` of a magnet link
// bootstraps from the seed's own DHT port (--dht-port) and finds the seed by its info-hash.
const { spawnCli: run } = cliRunner();
beforeAll(() => buildCli(), 180_000);
afterAll(() => killChildren());

describe('spritzle seed and download over a local DHT', () => {
  it('a magnet download finds the seed through the DHT alone and completes byte-identical', async () => {
    const t = await makeTorrent({ dir: await tmpDir('clidht'), name: 'dht.bin', files: 1_500_000, pieceLength: 16384 });
    const { default: DHT } = await import('bittorrent-dht');
    const node = new DHT({ bootstrap: false, host: false });
    await new Promise<void>((r) => node.listen(0, '127.0.0.1', () => r()));
    const nodePort = (node.address() as { port: number }).port;
    const seed = run(['seed', t.torrentPath, '--data', t.dataRoot, '--host', '127.0.0.1', '--listen-port', '0',
      '--dht-port', '0', '--dht-bootstrap', `127.0.0.1:${nodePort}`]);
    const dhtPort = Number((await waitForOutput(seed, /^dht on 127\.0\.0\.1:(\d+)$/m, 20_000))[1]);
    const save = await tmpDir('clidht-dl');
    const magnet = `magnet:?xt=urn:btih:${t.infoHash}&dn=dht.bin`;
    const dl = run(['download', magnet, '-o', save, '--host', '127.0.0.1', '--dht-bootstrap', `127.0.0.1:${dhtPort}`, '--json', '--timeout', '60']);
    expect((await dl.done).code).toBe(0);
    const result = JSON.parse(dl.stdout().trim()) as { info_hash: string; bytes: number };
    expect(result.info_hash).toBe(t.infoHash);
    expect(result.bytes).toBe(1_500_000);
    expect(await sameBytes(dataFiles(t, t.dataRoot)[0]!, dataFiles(t, save)[0]!)).toBe(true);
    seed.child.kill('SIGINT');
    expect((await seed.done).code).toBe(0);
    node.destroy();
  }, 90_000);
});
