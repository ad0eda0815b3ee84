// A reader over a fake torrent (no sockets, no files): what it waits for, what it asks for, what it frees.
import { describe, it, expect } from '@jest/globals';
import { TorrentReadStream, type ReadStreamSource } from '../../../packages/engine/src/torrent/read-stream.js';
import { testData } from '../../helpers/memory-torrent.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A torrent of `data` in pieces of `pieceLength` where the test decides which pieces are verified. */
class FakeSource implements ReadStreamSource {
  readonly had = new Set<number>();
  readonly deadlines = new Map<object, ReadonlyMap<number, number>>();
  reads = 0;
  clock = 1_000;
  private pieceListeners = new Set<(p: number) => void>();
  private goneListeners = new Set<(e: Error) => void>();
  constructor(readonly data: Uint8Array, readonly pieceLength: number) {}
  have(p: number): boolean { return this.had.has(p); }
  async read(p: number, o: number, l: number): Promise<Uint8Array> {
    if (!this.had.has(p)) throw new Error(`piece ${p} read before it was verified`);
    this.reads++;
    const at = p * this.pieceLength + o;
    return this.data.slice(at, at + l);
  }
  setDeadlines(owner: object, d: ReadonlyMap<number, number>): void { this.deadlines.set(owner, new Map(d)); }
  clearDeadlines(owner: object): void { this.deadlines.delete(owner); }
  onPiece(l: (p: number) => void): () => void { this.pieceListeners.add(l); return () => this.pieceListeners.delete(l); }
  onGone(l: (e: Error) => void): () => void { this.goneListeners.add(l); return () => this.goneListeners.delete(l); }
  now(): number { return this.clock; }
  verify(p: number): void { this.had.add(p); for (const l of this.pieceListeners) l(p); }
  gone(e: Error): void { for (const l of this.goneListeners) l(e); }
  get listeners(): number { return this.pieceListeners.size + this.goneListeners.size; }
  critical(): number[] { return [...new Set([...this.deadlines.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => a - b); }
}

async function collect(s: TorrentReadStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('TorrentReadStream', () => {
  it('reads a verified range byte for byte, across pieces', async () => {
    const src = new FakeSource(testData(10_000, 3), 1000);
    for (let p = 0; p < 10; p++) src.had.add(p);
    const got = await collect(new TorrentReadStream(src, 2000, 6000, { start: 1500, end: 4999 }));
    expect(Buffer.compare(got, Buffer.from(src.data.subarray(3500, 7000)))).toBe(0);
  });

  it('makes the piece under the reader and its read-ahead time-critical, the first due at once', () => {
    const src = new FakeSource(testData(100_000, 3), 1000);
    const s = new TorrentReadStream(src, 0, 100_000, { start: 5500, initialRate: 4000, readAheadSeconds: 1 });
    const d = src.deadlines.get(s)!;
    expect([...d.keys()]).toEqual([5, 6, 7, 8, 9]);
    expect(d.get(5)).toBe(src.clock);
    s.destroy();
  });

  it('does not make pieces it has time-critical', () => {
    const src = new FakeSource(testData(100_000, 3), 1000);
    src.had.add(6);
    const s = new TorrentReadStream(src, 0, 100_000, { start: 5000, initialRate: 4000, readAheadSeconds: 1 });
    expect(src.critical()).toEqual([5, 7, 8, 9]);
    s.destroy();
  });

  it('waits for a missing piece without reading, and resumes when it is verified', async () => {
    const src = new FakeSource(testData(4000, 5), 1000);
    src.had.add(0);
    const s = new TorrentReadStream(src, 0, 4000);
    const done = collect(s);
    await turn();
    await turn();
    const readsWhileWaiting = src.reads;
    await turn();
    expect(src.reads).toBe(readsWhileWaiting); // no busy loop
    for (const p of [1, 2, 3]) {
      src.verify(p);
      await turn();
    }
    expect(Buffer.compare(await done, Buffer.from(src.data))).toBe(0);
  });

  it('stops reading when the consumer does not read (back-pressure)', async () => {
    const src = new FakeSource(testData(64_000, 5), 1000);
    for (let p = 0; p < 64; p++) src.had.add(p);
    const s = new TorrentReadStream(src, 0, 64_000, { highWaterMark: 4000 });
    s.pause();
    s.on('data', () => undefined);
    s.pause();
    for (let i = 0; i < 10; i++) await turn();
    expect(s.position).toBeLessThan(16_000);
    s.destroy();
  });

  it('frees its deadlines and listeners when destroyed (the client went away, a seek)', () => {
    const src = new FakeSource(testData(10_000, 3), 1000);
    const s = new TorrentReadStream(src, 0, 10_000, { start: 3000 });
    expect(src.deadlines.size).toBe(1);
    s.destroy();
    expect(src.deadlines.size).toBe(0);
    expect(src.listeners).toBe(0);
  });

  it('frees its deadlines when it reaches its end', async () => {
    const src = new FakeSource(testData(3000, 3), 1000);
    const s = new TorrentReadStream(src, 0, 3000);
    const done = collect(s);
    for (const p of [0, 1, 2]) src.verify(p);
    await done;
    expect(src.deadlines.size).toBe(0);
  });

  it('two readers keep two windows', () => {
    const src = new FakeSource(testData(100_000, 3), 1000);
    const a = new TorrentReadStream(src, 0, 100_000, { start: 0, initialRate: 1000, readAheadSeconds: 1 });
    const b = new TorrentReadStream(src, 0, 100_000, { start: 50_000, initialRate: 1000, readAheadSeconds: 1 });
    expect(src.critical()).toEqual([0, 1, 50, 51]);
    a.destroy();
    expect(src.critical()).toEqual([50, 51]);
    b.destroy();
  });

  it('moves its window as it reads, measuring its rate', async () => {
    const src = new FakeSource(testData(100_000, 3), 1000);
    const s = new TorrentReadStream(src, 0, 100_000, { initialRate: 1000, readAheadSeconds: 1 });
    const chunks: number[] = [];
    s.on('data', (c: Buffer) => chunks.push(c.length));
    for (let p = 0; p < 5; p++) {
      src.clock += 100; // a piece every 100 ms: 10,000 bytes/s
      src.verify(p);
      await turn();
      await turn();
    }
    expect(s.position).toBe(5000);
    expect(s.consumptionRate).toBeGreaterThan(5000);
    expect(Math.min(...src.critical())).toBe(5);
    s.destroy();
  });

  it('errs when its torrent goes away', async () => {
    const src = new FakeSource(testData(3000, 3), 1000);
    const s = new TorrentReadStream(src, 0, 3000);
    const done = collect(s);
    src.gone(new Error('torrent removed'));
    await expect(done).rejects.toThrow('torrent removed');
    expect(src.deadlines.size).toBe(0);
  });
});
