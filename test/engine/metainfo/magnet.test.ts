import { describe, it, expect, afterEach } from '@jest/globals';
import { Session, parseMagnet } from '@spritzle/engine';
import { selectedFilePriorities, MAX_SELECT_RANGES } from '../../../packages/engine/src/metainfo/magnet.js';
import { tmpDir } from '../../helpers/fixtures.js';
import { localHttp, postForm, startApi } from '../../helpers/server.js';

// Our own magnet parser (BEP 9 + BEP 53's so=): hostile magnets answer with a typed error or a bounded result.
const HEX = '0123456789abcdef0123456789abcdef01234567';
// base32 of the 20 bytes above
const B32 = Buffer.from(HEX, 'hex').reduce<{ bits: number; value: number; out: string }>((acc, b) => {
  acc.value = (acc.value << 8) | b;
  acc.bits += 8;
  while (acc.bits >= 5) {
    acc.bits -= 5;
    acc.out += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[(acc.value >>> acc.bits) & 31];
  }
  return acc;
}, { bits: 0, value: 0, out: '' }).out;

async function refusal(uri: string): Promise<{ code?: string; message: string }> {
  return parseMagnet(uri).then(() => ({ message: 'parsed' }), (e: { code?: string; message: string }) => e);
}

describe('magnet parsing', () => {
  it('reads 40 hex and 32 base32 characters as the same info-hash', async () => {
    expect(B32).toHaveLength(32);
    expect((await parseMagnet(`magnet:?xt=urn:btih:${HEX.toUpperCase()}`)).infoHash).toBe(HEX);
    expect((await parseMagnet(`magnet:?xt=urn:btih:${B32}`)).infoHash).toBe(HEX);
  });

  it('refuses an xt of 39 hex characters instead of reading it as base32', async () => {
    const e = await refusal(`magnet:?xt=urn:btih:${HEX.slice(0, 39)}`);
    expect(e.code).toBe('invalid_param');
    expect(e.message).toMatch(/40 hex or 32 base32/);
  });

  it('refuses two xt=urn:btih: with different hashes', async () => {
    const e = await refusal(`magnet:?xt=urn:btih:${HEX}&xt=urn:btih:${'1'.repeat(40)}`);
    expect(e.code).toBe('invalid_param');
    expect(e.message).toMatch(/two different info-hashes/);
  });

  it('accepts the same btih twice and a btih with a btmh (a BEP 52 hybrid)', async () => {
    expect((await parseMagnet(`magnet:?xt=urn:btih:${HEX}&xt.1=urn:btih:${B32}`)).infoHash).toBe(HEX);
    expect((await parseMagnet(`magnet:?xt=urn:btmh:1220${'ab'.repeat(32)}&xt=urn:btih:${HEX}`)).infoHash).toBe(HEX);
  });

  it('reads dn, tr and x.pe', async () => {
    const m = await parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=a+b%20c&tr=${encodeURIComponent('http://t.example/announce?x=1&y=2')}&x.pe=127.0.0.1:6881&x.pe=[::1]:7000`);
    expect(m).toEqual({ infoHash: HEX, name: 'a b c', trackers: ['http://t.example/announce?x=1&y=2'], peers: [{ host: '127.0.0.1', port: 6881 }, { host: '::1', port: 7000 }] });
  });

  it('drops x.pe peers at 0.0.0.0, multicast, broadcast or port 0', async () => {
    const m = await parseMagnet(`magnet:?xt=urn:btih:${HEX}&x.pe=0.0.0.0:1&x.pe=224.0.0.1:2&x.pe=255.255.255.255:3&x.pe=[ff02::1]:4&x.pe=127.0.0.1:0&x.pe=127.0.0.1:5`);
    expect(m.peers).toEqual([{ host: '127.0.0.1', port: 5 }]);
  });

  it('keeps so=0-999999999 as one range instead of expanding it', async () => {
    const m = await parseMagnet(`magnet:?xt=urn:btih:${HEX}&so=0-999999999`);
    expect(m.selectOnly).toEqual([{ first: 0, last: 999999999 }]);
    // Applied to a torrent's file count, clipped to it.
    expect(selectedFilePriorities(m.selectOnly!, 3)).toEqual([4, 4, 4]);
    expect(selectedFilePriorities([{ first: 1, last: 1 }, { first: 3, last: 1e9 }], 5)).toEqual([0, 4, 0, 4, 4]);
  });

  it(`refuses more than ${MAX_SELECT_RANGES} so= ranges and malformed ones`, async () => {
    const many = Array.from({ length: MAX_SELECT_RANGES + 1 }, (_, i) => String(2 * i)).join(',');
    expect((await refusal(`magnet:?xt=urn:btih:${HEX}&so=${many}`)).message).toMatch(/more than 1000 ranges/);
    expect((await refusal(`magnet:?xt=urn:btih:${HEX}&so=5-2`)).code).toBe('invalid_param');
    expect((await refusal(`magnet:?xt=urn:btih:${HEX}&so=-3`)).code).toBe('invalid_param');
  });

  it('refuses a magnet with 330,000 tr= entries, saying the cap', async () => {
    const uri = `magnet:?xt=urn:btih:${HEX}` + Array.from({ length: 330_000 }, (_, i) => `&tr=udp%3A%2F%2Ft${i}.example%3A80`).join('');
    const e = await refusal(uri);
    expect(e.code).toBe('invalid_param');
    expect(e.message).toMatch(/more than 1000 trackers/);
  });
});

describe('magnets through the library', () => {
  const sessions: Session[] = [];
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
  });

  it('addTorrent({ url }) with so=0-999999999 adds the torrent (the range waits for the metadata)', async () => {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: false, enable_lsd: false });
    sessions.push(s);
    const before = process.memoryUsage().heapUsed;
    const h = await s.addTorrent({ url: `magnet:?xt=urn:btih:${HEX}&so=0-999999999`, save_path: await tmpDir('mag-so') });
    expect(h.status().state).toBe('downloading_metadata');
    // An expanded range would be 10^9 numbers (gigabytes); a range is a few bytes.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('addTorrent({ trackers }) with more than 1000 trackers is refused, saying the cap', async () => {
    const s = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: false, enable_lsd: false });
    sessions.push(s);
    const trackers = Array.from({ length: 10_000 }, (_, i) => `http://t${i}.example/announce`);
    await expect(s.addTorrent({ info_hash: HEX, trackers, save_path: await tmpDir('mag-trk') })).rejects.toMatchObject({ code: 'invalid_param', message: expect.stringMatching(/more than 1000 trackers/) });
  });
});

describe('magnets through REST', () => {
  it('a url= server redirecting to a magnet with so=0-999999999 answers 201 promptly', async () => {
    const api = await startApi();
    const src = await localHttp((_req, res) => res.writeHead(302, { location: `magnet:?xt=urn:btih:${HEX}&so=0-999999999` }).end());
    try {
      const res = await postForm(api, { url: `${src.url}/go`, args: '{"paused": true}' });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ info_hash: HEX });
    } finally {
      await src.close();
      await api.close();
    }
  });
});
