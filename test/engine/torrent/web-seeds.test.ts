// A torrent's web seeds over a fake torrent (a real picker, a local HTTP server): back-off and dropping.
import { describe, it, expect, afterAll } from '@jest/globals';
import { PiecePicker } from '../../../packages/engine/src/algo/piece-picker.js';
import { PieceDeadlines } from '../../../packages/engine/src/algo/piece-deadlines.js';
import { MAX_WEB_SEED_FAILURES, WebSeeds, type WebSeed, type WebSeedTorrent } from '../../../packages/engine/src/torrent/web-seeds.js';
import { startWebSeedServer, type WebSeedServer } from '../../helpers/web-seed-server.js';
import { testData } from '../../helpers/memory-torrent.js';

const B = 16384;
const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

function fakeTorrent(length: number) {
  const picker = new PiecePicker(Math.ceil(length / (4 * B)), 4 * B, length, B, 1);
  const blocks: [number, number, number][] = [];
  const changes: string[] = [];
  const t: WebSeedTorrent = {
    picker, files: [{ path: 'f.bin', length, pad: false }], pieceLength: 4 * B, deadlines: new PieceDeadlines(),
    active: true, backlogged: false,
    block: (_seed: WebSeed, piece, offset, data) => {
      picker.markReceived(piece * picker.blocksPerPiece + offset / B);
      blocks.push([piece, offset, data.length]);
    },
    changed: (seed) => void changes.push(`${seed.state}: ${seed.error}`),
  };
  return { t, picker, blocks, changes };
}

describe('WebSeeds', () => {
  let server: WebSeedServer;
  afterAll(async () => server?.close());

  it('backs off after a failure, doubling, and drops a seed after repeated failures with the reason kept', async () => {
    server = await startWebSeedServer(new Map([['/f.bin', testData(8 * B, 2)]]));
    server.fail('/f.bin', 500);
    const { t, picker, changes } = fakeTorrent(8 * B);
    const seeds = new WebSeeds(t, { maxRedirects: 0, timeoutMs: 2000 });
    seeds.add(`${server.url}/f.bin`);
    const retries: number[] = [];
    for (let i = 0; i < MAX_WEB_SEED_FAILURES; i++) {
      for (let k = 0; k < 100 && seeds.list()[0]!.failures === i; k++) await turn();
      const w = seeds.list()[0]!;
      if (w.state === 'backoff') retries.push(w.retry_at - Date.now());
      seeds.tick(w.retry_at + 1, 1); // past the back-off: tried again
    }
    const w = seeds.list()[0]!;
    expect(w).toMatchObject({ state: 'failed', failures: MAX_WEB_SEED_FAILURES, error: 'HTTP 500 Internal Server Error' });
    expect(retries).toHaveLength(MAX_WEB_SEED_FAILURES - 1);
    for (let i = 1; i < retries.length; i++) expect(retries[i]!).toBeGreaterThan(retries[i - 1]!);
    // A dropped seed is asked for nothing, and its blocks went back to the picker.
    const asked = server.log.length;
    seeds.tick(Date.now() + 3_600_000, 1);
    await turn();
    expect(server.log.length).toBe(asked);
    expect(picker.numPartial).toBe(0);
    expect(changes.at(-1)).toBe('failed: HTTP 500 Internal Server Error');
  });

  it('asks for time-critical pieces first', async () => {
    server.fail('/f.bin', 500, 0);
    const { t, blocks } = fakeTorrent(8 * B);
    t.deadlines.set({}, 1, 0);
    const seeds = new WebSeeds(t, { maxRedirects: 0, timeoutMs: 2000 });
    server.log.length = 0;
    seeds.add(`${server.url}/f.bin`);
    for (let k = 0; k < 100 && blocks.length < 4; k++) await turn();
    expect(server.log[0]!.range).toBe(`bytes=${4 * B}-${8 * B - 1}`);
    seeds.stopAll();
  });

  it('hands nothing out while its torrent is not active', async () => {
    const { t } = fakeTorrent(8 * B);
    const seeds = new WebSeeds({ ...t, active: false }, { maxRedirects: 0, timeoutMs: 2000 });
    server.log.length = 0;
    seeds.add(`${server.url}/f.bin`);
    await turn();
    expect(server.log).toHaveLength(0);
  });
});
