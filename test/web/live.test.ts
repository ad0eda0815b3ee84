import { describe, it, expect, afterEach } from '@jest/globals';
import { Live } from '../../packages/web/src/live.js';
import { waitFor } from '../helpers/engine.js';

// The web UI's live view (packages/web/src/live.ts), fed a scripted GET /events stream through a stubbed fetch.

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

const row = (info_hash: string, name: string): Record<string, unknown> => ({ info_hash, name, download_payload_rate: 0, upload_payload_rate: 0 });

/** A fetch answering ui/auth (no token needed) and GET /events with these SSE frames, then an open stream. */
function stubDaemon(frames: string[]): void {
  globalThis.fetch = (async (input: string | URL | Request) => {
    const url = String(input);
    if (url.startsWith('ui/auth')) return new Response(JSON.stringify({ token_required: false, authenticated: true }));
    const body = new ReadableStream<Uint8Array>({ start(ctl) { for (const f of frames) ctl.enqueue(new TextEncoder().encode(f)); } });
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  }) as typeof fetch;
}

const frame = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

describe('the web UI live view', () => {
  it('after torrent_update (a hybrid now known by its v1 hash) shows one row, under the new hash', async () => {
    const v2 = 'a'.repeat(40);
    const v1 = 'b'.repeat(40);
    stubDaemon([
      frame('stats', { session: {}, torrents: [row(v2, 'hybrid')] }),
      frame('torrent_update', { info_hash: v1, old_info_hash: v2, info_hashes: { v1, v2: 'c'.repeat(64) } }),
      frame('stats', { session: {}, torrents: [row(v1, 'hybrid')], changes: true }),
    ]);
    const live = new Live();
    await live.start();
    try {
      await waitFor(() => live.byHash.has(v1), 5000, 'the row under the v1 hash');
      expect(live.rows.map((r) => r.info_hash)).toEqual([v1]);
      expect(live.byHash.has(v2)).toBe(false);
    } finally {
      live.stop();
    }
  });
});
