import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { readEventStream } from '../../packages/web/src/event-stream.js';

// The web UI reads GET /events through fetch (packages/web/src/event-stream.ts): whatever the network cuts
// the bytes into, the events come out whole and in order.

const SEED = 1707;

function streamOf(bytes: Uint8Array, cuts: number[]): ReadableStream<Uint8Array> {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const c of [...at, bytes.length]) {
    if (c > from) parts.push(bytes.slice(from, c));
    from = Math.max(from, c);
  }
  return new ReadableStream({ start(ctl) { for (const p of parts) ctl.enqueue(p); ctl.close(); } });
}

async function read(text: string, cuts: number[] = []): Promise<[string, string][]> {
  const out: [string, string][] = [];
  await readEventStream(streamOf(new TextEncoder().encode(text), cuts), (name, data) => out.push([name, data]));
  return out;
}

describe('readEventStream', () => {
  it('gives each event its name and data; comments, retry lines and events without data are skipped', async () => {
    const text = 'retry: 3000\n\n: heartbeat\n\nevent: stats\ndata: {"a":1}\n\nevent: torrent_removed\ndata: {"info_hash":"x"}\n\ndata: plain\n\nevent: empty\n\n';
    expect(await read(text)).toEqual([['stats', '{"a":1}'], ['torrent_removed', '{"info_hash":"x"}'], ['message', 'plain']]);
  });

  it('joins several data lines with a newline and keeps colons inside the value', async () => {
    expect(await read('event: e\ndata: a: b\ndata:c\n\n')).toEqual([['e', 'a: b\nc']]);
  });

  it('an event not ended by a blank line when the stream ends is not delivered', async () => {
    expect(await read('event: e\ndata: 1\n\nevent: e\ndata: 2\n')).toEqual([['e', '1']]);
  });

  it('cut anywhere, even inside a multi-byte character, the events are the same (property)', async () => {
    const events = fc.array(fc.tuple(fc.constantFrom('stats', 'torrent_removed', 'piece_finished'), fc.string({ unit: 'grapheme', maxLength: 40 })
      .filter((s) => !s.includes('\n') && !s.includes('\r'))), { maxLength: 8 });
    await fc.assert(fc.asyncProperty(events, fc.array(fc.nat(400), { maxLength: 12 }), async (evs, cuts) => {
      const text = evs.map(([n, d]) => `event: ${n}\ndata: ${d}\n\n: heartbeat\n\n`).join('');
      expect(await read(text, cuts)).toEqual(evs.map(([n, d]) => [n, d]));
    }), { seed: SEED, numRuns: 200 });
  });
});
