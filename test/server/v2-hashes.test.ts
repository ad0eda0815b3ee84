// The REST routes take a v2 torrent's hashes wherever they take an info-hash: 40 hex (v1, or a v2 torrent's
// truncated v2 hash, as libtorrent's info_hashes.get_best()) and 64 hex (the full v2 hash); status carries
// libtorrent's info_hashes {v1, v2} while info_hash keeps its meaning.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createTorrentFromData } from '../../packages/engine/src/metainfo/create.js';
import { type Api, postFile, startApi } from '../helpers/server.js';

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api?.close();
});

const files = [{ path: ['a.bin'], data: randomBytes(40_000) }, { path: ['b.bin'], data: randomBytes(10) }];

describe('REST and v2 info-hashes', () => {
  it('adds a v2-only torrent: answers its truncated v2 hash, finds it by that and by the full v2 hash', async () => {
    const t = createTorrentFromData(files, { version: 'v2', pieceLength: 16384, name: 'v2rest', singleFile: false });
    const res = await postFile(api, t.torrent, { flags: ['paused'] });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ info_hash: t.infoHashV2.slice(0, 40) });
    for (const hash of [t.infoHashV2.slice(0, 40), t.infoHashV2, t.infoHashV2.toUpperCase()]) {
      const st = await fetch(`${api.url}/torrent/${hash}`);
      expect(st.status).toBe(200);
      expect(await st.json()).toMatchObject({ info_hash: t.infoHashV2.slice(0, 40), info_hashes: { v1: '', v2: t.infoHashV2 } });
    }
  });

  it('lists both hashes of a hybrid and finds it by either', async () => {
    const t = createTorrentFromData(files, { version: 'hybrid', pieceLength: 16384, name: 'hybridrest', singleFile: false });
    expect((await postFile(api, t.torrent, { flags: ['paused'] })).status).toBe(201);
    for (const hash of [t.infoHashV1!, t.infoHashV2, t.infoHashV2.slice(0, 40)]) {
      const st = await fetch(`${api.url}/torrent/${hash}`);
      expect(await st.json()).toMatchObject({ info_hash: t.infoHashV1, info_hashes: { v1: t.infoHashV1, v2: t.infoHashV2 } });
    }
    const del = await fetch(`${api.url}/torrent/${t.infoHashV2}`, { method: 'DELETE' });
    expect(del.status).toBeLessThan(300);
    expect((await fetch(`${api.url}/torrent/${t.infoHashV1!}`)).status).toBe(404);
  });

  it('documents every route\'s :hash as 40 or 64 hex digits in the OpenAPI document (the stream and web-seed routes too)', async () => {
    type Param = { name: string; in: string; schema: { pattern: string } };
    const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { parameters?: Param[] }>> };
    const patterns = new Set<string>();
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const op of Object.values(ops)) for (const q of op.parameters ?? []) if (q.in === 'path' && q.name === 'hash') patterns.add(`${p.includes('stream') || p.includes('web_seeds') ? 'stream/web' : 'other'} ${q.schema.pattern}`);
    }
    expect([...patterns].sort()).toEqual(['other ^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$', 'stream/web ^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$']);
  });

  it('refuses 63 or 65 hex digits as invalid_info_hash', async () => {
    for (const bad of ['a'.repeat(63), 'a'.repeat(65)]) {
      const r = await fetch(`${api.url}/torrent/${bad}`);
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({ error: { code: 'invalid_info_hash' } });
    }
  });
});
