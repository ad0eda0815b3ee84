// A bounded, seeded loop of malformed requests to every route: bad hashes, queries, bodies, encodings and
// headers. None may answer 500 (or crash the server): bad input is always the client's error, a 4xx.
//
// Every generated url, peer and tracker points at 127.0.0.1 (or is refused before use), and DHT/LSD settings
// only ever get ill-typed values, so the loop never reaches past this machine.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { prng } from '../helpers/prng.mjs';
import { type Api, closedPort, raw, type RawRequest, startApi, testTorrent } from '../helpers/server.js';

const SEED = 20240601;
const ITERATIONS = 700;

let api: Api;
let existing: string;
let deadPort: number;
const logged: string[] = [];

beforeAll(async () => {
  api = await startApi({ log: (m, e) => logged.push(`${m}: ${e instanceof Error ? e.stack : String(e)}`), maxTorrentBytes: 64 * 1024 });
  const t = await testTorrent(api.root);
  const res = await fetch(`${api.url}/torrent`, { method: 'POST', body: (() => { const f = new FormData(); f.append('file', new Blob([t.torrentBytes]), 'x.torrent'); return f; })() });
  expect(res.status).toBe(201);
  existing = t.infoHash;
  deadPort = await closedPort();
});
afterAll(async () => {
  await api.close();
});

describe('fuzzing every route with malformed input', () => {
  it(`answers ${ITERATIONS} malformed requests without a single 5xx`, async () => {
    const rnd = prng(SEED);
    const int = (n: number): number => Math.floor(rnd() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
    const chance = (p: number): boolean => rnd() < p;

    const randomText = (max = 40): string => {
      const alphabet = 'abcdefXYZ0123456789-_.~!$&\'()*+,;=:@/?#[]{}"\\<>|^`% \t\u00e9\u4e2d\u{1F600}\u0000\n';
      const chars = [...alphabet];
      let s = '';
      for (let i = int(max); i > 0; i--) s += pick(chars);
      return s;
    };
    /** Printable bytes 0x21..0x7e plus %-escapes (good and broken): what may go in a request target. */
    const randomPathPart = (): string => {
      const parts = ['%', '%zz', '%00', '%2F', '%2e%2e', '..', '.', 'a'.repeat(int(300)), 'F'.repeat(40), 'f'.repeat(39), 'g'.repeat(40), '%C3%A9', '%FF', ';', ':', '@', '~'];
      let s = '';
      for (let i = 1 + int(4); i > 0; i--) s += chance(0.5) ? pick(parts) : encodeURIComponent(randomText(10));
      return s;
    };
    const randomJsonValue = (depth = 0): unknown => {
      switch (int(depth > 2 ? 6 : 9)) {
        case 0: return null;
        case 1: return chance(0.5);
        case 2: return pick([0, -1, -2, 1.5, 1e308, -1e308, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 7, 8, 65536]);
        case 3: return randomText();
        case 4: return pick(['', 'true', '1', '-1', 'paused', existing, 'x'.repeat(5000)]);
        case 5: return pick([[], {}, [null], ['paused', 'nope'], [1, 2, 3], [9]]);
        case 6: return Array.from({ length: int(4) }, () => randomJsonValue(depth + 1));
        default: {
          const o: Record<string, unknown> = {};
          for (let i = int(4); i > 0; i--) o[pick(['a', '__proto__', 'constructor', 'toString', randomText(8)])] = randomJsonValue(depth + 1);
          return o;
        }
      }
    };
    // Values for add-param keys: mostly wrong, some right; anything that names an address names 127.0.0.1.
    const addArgValue = (key: string): unknown => {
      if (key === 'peers' || key === 'dht_nodes') return pick([[`127.0.0.1:${deadPort}`], ['garbage'], [5], [['127.0.0.1', 0]], ['[::1]:99999'], 'x', [['127.0.0.1', deadPort]]]);
      if (key === 'trackers') return pick([[`http://127.0.0.1:${deadPort}/announce`], [1], 'x', ['not a url']]);
      if (key === 'save_path') return pick(['/etc', '../..', 'sub/dir', '', '\u0000', 5, 'a/'.repeat(200), api.root]);
      if (key === 'flags') return pick([['paused'], ['nope'], 16, -1, 2 ** 40, 'paused,seed_mode', 1.5, 'x', [1]]);
      return randomJsonValue();
    };
    const ADD_KEYS = ['save_path', 'name', 'flags', 'paused', 'seed_mode', 'duplicate_is_error', 'file_priorities', 'piece_priorities',
      'peers', 'trackers', 'tracker_tiers', 'dht_nodes', 'upload_limit', 'download_limit', 'max_uploads', 'max_connections', 'storage_mode',
      'url_seeds', 'ti', 'info_hash', 'url', 'resume_data', 'bogus'];
    const randomArgs = (): unknown => {
      if (chance(0.2)) return randomJsonValue();
      const o: Record<string, unknown> = {};
      for (let i = 1 + int(3); i > 0; i--) {
        const k = pick(ADD_KEYS);
        o[k] = addArgValue(k);
      }
      if (chance(0.5)) o.paused = true;
      return o;
    };
    const randomUrl = (): string => pick([
      'file:///etc/passwd', 'ftp://127.0.0.1/x', 'javascript:alert(1)', 'data:,x', `http://127.0.0.1:${deadPort}/x.torrent`,
      `http://127.0.0.1:${api.port}/torrent`, `http://localhost:${api.port}/session`, 'http://', 'http://[::1', 'magnet:', 'magnet:?xt=urn:btih:zz',
      `magnet:?xt=urn:btih:${'a'.repeat(40)}`, `magnet:?xt=urn:btih:${'b'.repeat(40)}&x.pe=127.0.0.1:${deadPort}`, 'magnet:?xt=urn:btih:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567',
      randomText(), '', 'http://user:pw@127.0.0.1:1/', 'HTTP://127.0.0.1:1/%zz', `${'http://127.0.0.1:1/'}${'a'.repeat(3000)}`,
    ]);
    const sourceValue = (k: string): unknown => k === 'url' ? randomUrl()
      : k === 'info_hash' ? pick([existing, existing.toUpperCase(), 'f'.repeat(40), 'xyz', '', 'g'.repeat(40), 5, randomText()])
        : pick(['ZGU=', '!!!notbase64', '', 'ZDQ6aW5mb2Rl', Buffer.from(randomText(50)).toString('base64'), 7]);
    const randomAddBody = (): Record<string, unknown> => {
      // Half the time one well-formed source, so the malformed args reach the engine's own checks.
      if (chance(0.5)) {
        const source = pick(['info_hash', 'url', 'file']);
        const value = source === 'info_hash' ? pick([existing, 'c'.repeat(40), 'd'.repeat(40)])
          : source === 'url' ? `magnet:?xt=urn:btih:${'e'.repeat(40)}` : 'ZGU=';
        return { [source]: value, args: chance(0.7) ? JSON.stringify(randomArgs()) : randomArgs() };
      }
      const o: Record<string, unknown> = {};
      for (let i = int(3); i >= 0; i--) {
        const k = pick(['file', 'url', 'info_hash', 'info_hash', 'url', 'args', 'args', 'extra', '']);
        o[k] = k === 'args' ? (chance(0.5) ? JSON.stringify(randomArgs()) : pick([randomArgs(), '{bad json', '[]', 'null', randomText()])) : sourceValue(k);
      }
      return o;
    };
    const SETTING_KEYS = ['connections_limit', 'upload_rate_limit', 'download_rate_limit', 'unchoke_slots_limit', 'peer_timeout', 'save_path',
      'listen_interfaces', 'peer_fingerprint', 'enable_dht', 'enable_lsd', 'dht_bootstrap_nodes', 'user_agent', 'nope', '__proto__'];
    const randomSettings = (): unknown => {
      if (chance(0.2)) return randomJsonValue();
      const o: Record<string, unknown> = {};
      for (let i = 1 + int(3); i > 0; i--) {
        const k = pick(SETTING_KEYS);
        // DHT/LSD switches and bootstrap nodes only ever get values the engine must refuse: no traffic leaves.
        o[k] = k === 'enable_dht' || k === 'enable_lsd' ? pick(['maybe', 2, null, []])
          : k === 'dht_bootstrap_nodes' ? pick([5, null, false])
            : k === 'save_path' ? pick(['/etc', 'x', '', 5, '../..'])
              : k === 'listen_interfaces' ? pick(['0.0.0.0:1', 'x', 5, '127.0.0.1:99999']) : randomJsonValue();
      }
      return o;
    };
    const randomUpdate = (): unknown => {
      if (chance(0.2)) return randomJsonValue();
      const o: Record<string, unknown> = {};
      for (let i = 1 + int(3); i > 0; i--) {
        o[pick(['sequential_download', 'file_priorities', 'upload_limit', 'download_limit', 'max_uploads', 'max_connections', 'paused', 'x'])] = randomJsonValue();
      }
      return o;
    };

    const urlencode = (o: Record<string, unknown>): string => Object.entries(o)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v) ?? '')}`)
      .concat(chance(0.2) ? ['info_hash=1&info_hash=2', 'args[x]=1', '%zz=%zz', '=', '&&&'].slice(int(5)) : [])
      .join('&');
    const multipart = (o: Record<string, unknown>): { body: Buffer; type: string } => {
      const b = `----fuzz${int(1e9)}`;
      const parts: Buffer[] = [];
      for (const [k, v] of Object.entries(o)) {
        const asFile = k === 'file' && chance(0.6);
        parts.push(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="${k.replace(/"/g, '')}"${asFile ? '; filename="x.torrent"' : ''}\r\n\r\n`));
        parts.push(asFile ? Buffer.from(pick(['d4:infodee', 'de', '', 'garbage', 'x'.repeat(70 * 1024), 'd4:infod6:lengthi-1eee']))
          : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v) ?? ''));
        parts.push(Buffer.from('\r\n'));
      }
      if (chance(0.1)) parts.push(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="y"\r\n\r\nmore\r\n`));
      parts.push(Buffer.from(chance(0.85) ? `--${b}--\r\n` : `--${b}`));
      let body = Buffer.concat(parts);
      if (chance(0.1)) body = body.subarray(0, int(body.length));
      const type = pick([`multipart/form-data; boundary=${b}`, `multipart/form-data; boundary=${b}`, 'multipart/form-data', `multipart/form-data; boundary="${b}x"`, `multipart/mixed; boundary=${b}`]);
      return { body, type };
    };
    /** A body for a route in one of the encodings, sometimes broken on purpose. */
    const encode = (value: unknown, kind: 'add' | 'json'): { body?: Buffer | string; headers: Record<string, string> } => {
      const choice = int(10);
      if (choice === 0) return { headers: {} };
      if (choice === 1) return { body: Buffer.from(Array.from({ length: int(200) }, () => int(256))), headers: { 'content-type': pick(['application/json', 'application/x-www-form-urlencoded', 'application/octet-stream', 'text/plain', '']) } };
      if (choice === 2) return { body: '{"a": ', headers: { 'content-type': 'application/json' } };
      if (choice === 3) return { body: JSON.stringify(value), headers: { 'content-type': pick(['application/json; charset=utf-7', 'application/json; charset=latin1', 'application/json', 'application/vnd.api+json']) } };
      if (choice === 4) return { body: Buffer.from('not gzip'), headers: { 'content-type': 'application/json', 'content-encoding': pick(['gzip', 'deflate', 'br', 'zstd', 'bogus']) } };
      if (kind === 'add' && choice >= 5 && choice <= 6) {
        const m = multipart(value as Record<string, unknown>);
        return { body: m.body, headers: { 'content-type': m.type } };
      }
      if (kind === 'add' && choice === 7) return { body: urlencode(value as Record<string, unknown>), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
      return { body: JSON.stringify(value) ?? 'undefined', headers: { 'content-type': 'application/json' } };
    };
    const hashPart = (): string => pick([existing, existing.toUpperCase(), 'f'.repeat(40), 'zz', '', randomPathPart(), `${existing}x`, `${existing}/`, `${existing}%20`]);
    const query = (): string => {
      if (chance(0.5)) return '';
      const items = Array.from({ length: 1 + int(3) }, () => pick([
        `fields=${encodeURIComponent(pick(['name', 'name,state', 'nope', '', ',,,', 'info_hash,pieces', randomText(10)]))}`,
        'fields=name&fields=state', 'fields[]=name', 'fields[a]=b', 'delete_files', 'delete_files=0', '%zz', `${randomPathPart()}=${randomPathPart()}`,
      ]));
      return `?${items.join('&')}`;
    };

    type Gen = () => RawRequest;
    const gens: Gen[] = [
      () => ({ method: pick(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']), path: `/session${query()}` }),
      () => ({ method: pick(['GET', 'DELETE', 'PATCH']), path: `/session/dht${query()}` }),
      () => ({ method: pick(['GET', 'PATCH', 'PATCH', 'PUT', 'POST']), path: '/session/settings', ...encode(randomSettings(), 'json') }),
      () => ({ method: pick(['GET', 'GET', 'PUT', 'PATCH']), path: `/torrent${query()}` }),
      () => ({ method: 'POST', path: `/torrent${query()}`, ...encode(randomAddBody(), 'add') }),
      () => ({ method: 'POST', path: '/torrent', ...encode(randomAddBody(), 'add') }),
      () => ({ method: 'DELETE', path: `/torrent${query()}` }),
      () => ({ method: pick(['GET', 'DELETE', 'PUT', 'POST', 'HEAD']), path: `/torrent/${hashPart()}${query()}` }),
      () => ({ method: 'PATCH', path: `/torrent/${hashPart()}`, ...encode(randomUpdate(), 'json') }),
      () => ({ method: pick(['POST', 'GET']), path: `/torrent/${hashPart()}/${pick(['pause', 'resume', 'recheck'])}`, ...(chance(0.3) ? encode(randomJsonValue(), 'json') : { headers: {} }) }),
      () => ({ method: pick(['GET', 'POST']), path: `/torrent/${hashPart()}/${pick(['files', 'peers', 'trackers', 'nope', ''])}${query()}` }),
      () => ({ method: pick(['GET', 'POST', 'DELETE']), path: `/${pick(['metrics', 'openapi.json', 'nope', 'torrent/', '', 'session/', randomPathPart()])}${query()}` }),
      () => ({ method: 'GET', path: `/${randomPathPart()}/${randomPathPart()}` }),
    ];

    const failures: string[] = [];
    const seen = new Map<number, number>();
    for (let i = 0; i < ITERATIONS; i++) {
      const r = pick(gens)();
      // Odd headers now and then; never ones that would point the request elsewhere.
      if (chance(0.1)) r.headers = { ...r.headers, authorization: pick(['Bearer', 'Basic x', 'Bearer a b', randomText(20).replace(/[^\x21-\x7e]/g, 'x')]) };
      if (chance(0.05)) r.headers = { ...r.headers, accept: pick(['text/html', '*/*', 'application/xml']) };
      const what = `#${i} ${r.method ?? 'GET'} ${r.path.slice(0, 120)} [${r.headers?.['content-type'] ?? ''}] ${String(r.body ?? '').slice(0, 120)}`;
      let res;
      try {
        res = await raw(api.port, { ...r, timeoutMs: 10_000 });
      } catch (e) {
        // A reset is the server refusing to read a body (e.g. after a 413); a timeout is a hang, a failure.
        if ((e as NodeJS.ErrnoException).code === 'ECONNRESET' || (e as NodeJS.ErrnoException).code === 'EPIPE') continue;
        failures.push(`${what} → ${(e as Error).message}`);
        continue;
      }
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      if (res.status >= 500) failures.push(`${what} → ${res.status} ${res.text.slice(0, 200)}`);
      else if (res.status >= 400 && r.method !== 'HEAD' && res.body.length > 0) {
        let ok = false;
        try {
          const body = res.json() as { error?: { code?: unknown; message?: unknown } };
          ok = typeof body.error?.code === 'string' && typeof body.error.message === 'string';
        } catch {
          ok = false;
        }
        // Node's own parser answers some malformed requests before Express sees them (no JSON there).
        if (!ok && res.headers['content-type'] !== undefined) failures.push(`${what} → ${res.status} without the JSON error body: ${res.text.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(logged).toEqual([]);
    // The loop exercised both success and refusal paths.
    expect([...seen.keys()].some((s) => s < 300)).toBe(true);
    expect([...seen.keys()].filter((s) => s >= 400).length).toBeGreaterThanOrEqual(4);
  });

  it('still serves normally after the fuzzing', async () => {
    expect((await fetch(`${api.url}/session`)).status).toBe(200);
    expect((await fetch(`${api.url}/torrent`)).status).toBe(200);
    expect((await fetch(`${api.url}/torrent/${'f'.repeat(40)}`)).status).toBe(404);
  });
});
