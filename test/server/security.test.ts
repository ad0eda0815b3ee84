// Safe by default: the Bearer token, the Host allow-list (DNS rebinding), the Origin check (cross-site form
// posts), save_path confinement to the download root, and refused url schemes and self-fetches.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdir, symlink } from 'node:fs/promises';
import dns from 'node:dns';
import net from 'node:net';
import path from 'node:path';
import { Session } from '@spritzle/engine';
import { startServer } from '@spritzle/server';
import { type Api, closedPort, errorOf, localHttp, postFile, postForm, postJson, raw, startApi, testTorrent } from '../helpers/server.js';

const TOKEN = 's3cret-token';
const HASH = '6'.repeat(40);

describe('Bearer token', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi({ token: TOKEN });
  });
  afterAll(async () => {
    await api.close();
  });

  it('answers 401 with WWW-Authenticate when the token is missing', async () => {
    const res = await fetch(`${api.url}/session`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="spritzle"');
    expect((await errorOf(res)).code).toBe('unauthorized');
  });

  it('answers 401 invalid_token for a wrong token', async () => {
    const res = await fetch(`${api.url}/session`, { headers: { authorization: 'Bearer nope' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('answers 401 for the right token without the Bearer scheme', async () => {
    expect((await fetch(`${api.url}/session`, { headers: { authorization: TOKEN } })).status).toBe(401);
  });

  it('serves a request with the right token', async () => {
    expect((await fetch(`${api.url}/session`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('accepts the scheme name in any case', async () => {
    expect((await fetch(`${api.url}/session/dht`, { headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('guards unknown routes too (401, not 404)', async () => {
    expect((await fetch(`${api.url}/nope`)).status).toBe(401);
  });

  it('guards state-changing routes', async () => {
    const res = await postForm(api, { info_hash: HASH });
    expect(res.status).toBe(401);
    expect(api.session.torrents()).toHaveLength(0);
  });
});

describe('startServer host refusal', () => {
  it('refuses a non-loopback host without a token', async () => {
    const session = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    try {
      await expect(startServer(session, { host: '0.0.0.0', port: 0 })).rejects.toThrow(/not a loopback address.*token/);
    } finally {
      await session.close();
    }
  });

  it('refuses a specific non-loopback address without a token', async () => {
    const session = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    try {
      await expect(startServer(session, { host: '192.0.2.1', port: 0 })).rejects.toThrow(/token/);
    } finally {
      await session.close();
    }
  });

  /** Runs `body` while dns.lookup answers `address` for `name` (as a hosts-file line "0.0.0.0 api.localhost" would). */
  async function withHostsEntry(name: string, address: string, body: () => Promise<void>): Promise<void> {
    const real = dns.lookup;
    dns.lookup = ((host: string, ...rest: unknown[]) => {
      const cb = rest[rest.length - 1] as (e: Error | null, address: string, family: number) => void;
      if (host === name) process.nextTick(cb, null, address, net.isIPv6(address) ? 6 : 4);
      else (real as (...a: unknown[]) => void)(host, ...rest);
    }) as typeof dns.lookup;
    try {
      await body();
    } finally {
      dns.lookup = real;
    }
  }

  it('refuses a loopback-looking name that resolves to a non-loopback address without a token', async () => {
    const session = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    try {
      for (const [name, address] of [['api.localhost', '0.0.0.0'], ['localhost', '::'], ['localhost.', '192.0.2.1']] as const) {
        await withHostsEntry(name.replace(/\.$/, ''), address, async () => {
          await expect(startServer(session, { host: name, port: 0 })).rejects.toThrow(new RegExp(`${name.replace('.', '\\.')} \\(${address.replace(/\./g, '\\.')}\\), which is not a loopback address.*token`));
        });
      }
    } finally {
      await session.close();
    }
  });

  it('serves on the address a name resolves to when that is loopback', async () => {
    const session = await Session.create({ listen_interfaces: '127.0.0.1:0' });
    try {
      await withHostsEntry('api.localhost', '127.0.0.1', async () => {
        const server = await startServer(session, { host: 'api.localhost', port: 0 });
        try {
          expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
          expect((await fetch(`${server.url}/session`)).status).toBe(200);
        } finally {
          await server.close();
        }
      });
    } finally {
      await session.close();
    }
  });

  it('reports a port in use clearly', async () => {
    const a = await startApi();
    try {
      await expect(startServer(a.session, { port: a.port })).rejects.toThrow(/already in use/);
    } finally {
      await a.close();
    }
  });
});

describe('Host header allow-list', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi({ allowedHosts: ['spritzle.lan'] });
  });
  afterAll(async () => {
    await api.close();
  });

  it('refuses a foreign Host with 403 host_not_allowed (DNS rebinding)', async () => {
    const res = await raw(api.port, { path: '/session', headers: { host: `attacker.example:${api.port}` } });
    expect(res.status).toBe(403);
    expect((res.json() as { error: { code: string } }).error.code).toBe('host_not_allowed');
  });

  it('refuses a rebinding POST before it reaches the engine', async () => {
    const res = await raw(api.port, {
      method: 'POST', path: '/torrent', headers: { host: 'attacker.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: `info_hash=${HASH}`,
    });
    expect(res.status).toBe(403);
    expect(api.session.torrents()).toHaveLength(0);
  });

  it('accepts localhost', async () => {
    expect((await raw(api.port, { path: '/session/dht', headers: { host: `localhost:${api.port}` } })).status).toBe(200);
  });

  it('accepts [::1]', async () => {
    expect((await raw(api.port, { path: '/session/dht', headers: { host: `[::1]:${api.port}` } })).status).toBe(200);
  });

  it('accepts 127.0.0.1 without a port', async () => {
    expect((await raw(api.port, { path: '/session/dht', headers: { host: '127.0.0.1' } })).status).toBe(200);
  });

  it('accepts a configured extra host name, in any case', async () => {
    expect((await raw(api.port, { path: '/session/dht', headers: { host: `Spritzle.LAN:${api.port}` } })).status).toBe(200);
  });

  it('refuses a Host that is not a host name', async () => {
    expect((await raw(api.port, { path: '/session/dht', headers: { host: 'user@localhost' } })).status).toBe(403);
  });

  it('serves an HTTP/1.0 request without a Host header (no browser sends one, so no rebinding)', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(api.port, '127.0.0.1', () => sock.end('GET /session/dht HTTP/1.0\r\n\r\n'));
      let data = '';
      sock.on('data', (c: Buffer) => { data += c.toString('latin1'); });
      sock.on('end', () => resolve(data));
      sock.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('Origin check', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi({ allowedOrigins: ['http://ui.example:3000'] });
  });
  afterAll(async () => {
    await api.close();
  });

  function postWithOrigin(origin: string | undefined, extra: Record<string, string> = {}): ReturnType<typeof raw> {
    return raw(api.port, {
      method: 'POST', path: '/torrent',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(origin !== undefined ? { origin } : {}), ...extra },
      body: `info_hash=${HASH}&args=${encodeURIComponent('{"paused": true}')}`,
    });
  }

  it('refuses a state-changing request from a foreign origin with 403', async () => {
    const res = await postWithOrigin('http://evil.example');
    expect(res.status).toBe(403);
    expect((res.json() as { error: { code: string } }).error.code).toBe('origin_not_allowed');
    expect(api.session.findTorrent(HASH)).toBeUndefined();
  });

  it('refuses another port on localhost (a different origin)', async () => {
    expect((await postWithOrigin('http://localhost:1')).status).toBe(403);
  });

  it('refuses the opaque "null" origin', async () => {
    expect((await postWithOrigin('null')).status).toBe(403);
  });

  it('refuses DELETE from a foreign origin', async () => {
    const res = await raw(api.port, { method: 'DELETE', path: '/torrent', headers: { origin: 'http://evil.example' } });
    expect(res.status).toBe(403);
  });

  it('refuses a cross-site request without Origin by Sec-Fetch-Site', async () => {
    expect((await postWithOrigin(undefined, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
  });

  it('accepts the API\'s own origin', async () => {
    expect((await postWithOrigin(`http://127.0.0.1:${api.port}`)).status).toBe(201);
  });

  it('accepts a configured origin', async () => {
    expect((await postWithOrigin('http://ui.example:3000')).status).toBe(201);
  });

  it('accepts a request without Origin (curl, scripts)', async () => {
    expect((await postWithOrigin(undefined)).status).toBe(201);
  });

  it('lets a GET from a foreign origin through (reading needs CORS, which is not granted)', async () => {
    const res = await raw(api.port, { path: '/session/dht', headers: { origin: 'http://evil.example' } });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('save_path confinement', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => {
    await api.close();
  });

  it('refuses an absolute save_path outside the download root with 400', async () => {
    const t = await testTorrent(api.work);
    const res = await postFile(api, t.torrentBytes, { save_path: '/tmp' });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_path', field: 'args.save_path' });
    expect(api.session.findTorrent(t.infoHash)).toBeUndefined();
  });

  it('refuses a relative save_path that climbs out with ..', async () => {
    const res = await postForm(api, { info_hash: HASH, args: '{"save_path": "a/../../escape"}' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_path');
  });

  it('refuses a save_path through a symlink that leads outside', async () => {
    await symlink(api.work, path.join(api.root, 'link-out'));
    const res = await postForm(api, { info_hash: HASH, args: '{"save_path": "link-out/x"}' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_path');
  });

  it('takes a relative save_path inside the root', async () => {
    const t = await testTorrent(api.work);
    expect((await postFile(api, t.torrentBytes, { save_path: 'movies/new' })).status).toBe(201);
    const status = (await (await fetch(`${api.url}/torrent/${t.infoHash}`)).json()) as { save_path: string };
    expect(status.save_path).toBe(path.join(api.root, 'movies', 'new'));
  });

  it('takes an absolute save_path inside the root', async () => {
    await mkdir(path.join(api.root, 'abs'), { recursive: true });
    const t = await testTorrent(api.work);
    expect((await postFile(api, t.torrentBytes, { save_path: path.join(api.root, 'abs') })).status).toBe(201);
  });

  it('refuses a save_path setting outside the root', async () => {
    const res = await postJson(api, '/session/settings', { save_path: '/etc' }, 'PATCH');
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_path', field: 'save_path' });
  });

  it('allows any save_path when confinement is off', async () => {
    const open = await startApi({ downloadRoot: null });
    try {
      const res = await postForm(open, { info_hash: HASH, args: JSON.stringify({ save_path: open.work, paused: true }) });
      expect(res.status).toBe(201);
    } finally {
      await open.close();
    }
  });
});

describe('url refusals', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => {
    await api.close();
  });

  for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/a.torrent', 'javascript:alert(1)', 'data:application/x-bittorrent;base64,ZGU=', 'gopher://127.0.0.1/']) {
    it(`refuses the url scheme of ${url.split(':')[0]} with 400`, async () => {
      const res = await postForm(api, { url });
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toMatchObject({ code: 'invalid_param', field: 'url' });
    });
  }

  it('refuses a url that is not a URL', async () => {
    const res = await postForm(api, { url: 'not a url' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).field).toBe('url');
  });

  it('refuses to fetch from its own API address', async () => {
    const res = await postForm(api, { url: `http://127.0.0.1:${api.port}/torrent` });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/own API/);
  });

  it('refuses to fetch from its own API by the name localhost', async () => {
    const res = await postForm(api, { url: `http://localhost:${api.port}/openapi.json` });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/own API/);
  });

  // Every spelling of "this machine" is the daemon itself when the port matches; Node's URL parser already
  // turns 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 into 127.0.0.1 and 0 into 0.0.0.0.
  for (const host of ['[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[::ffff:127.9.9.9]', '[::ffff:0:127.0.0.1]', '[::127.0.0.1]',
    '[64:ff9b::127.0.0.1]', '[::]', '[0:0:0:0:0:0:0:1]', '[::ffff:0.0.0.0]', '0.0.0.0', '0', '127.45.6.7', '2130706433', '0x7f.1', '0177.0.0.1']) {
    it(`refuses to fetch from its own API spelled ${host}`, async () => {
      const res = await postForm(api, { url: `http://${host}:${api.port}/session` });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(/own API/);
    });
  }

  it('answers one message for a refused, a reset and a silent port, so url= cannot scan ports', async () => {
    const refused = await closedPort();
    const reset = net.createServer((s) => s.resetAndDestroy());
    const silent = net.createServer(() => undefined);
    const notHttp = net.createServer((s) => s.end('SSH-2.0-OpenSSH_9.6\r\n'));
    const ports: number[] = [refused];
    for (const srv of [reset, silent, notHttp]) {
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      ports.push((srv.address() as net.AddressInfo).port);
    }
    const quick = await startApi({ fetchTimeoutMs: 300 });
    try {
      const messages: string[] = [];
      for (const port of ports) {
        const res = await postForm(quick, { url: `http://127.0.0.1:${port}/a.torrent` });
        expect(res.status).toBe(400);
        const err = await errorOf(res);
        expect(err.code).toBe('fetch_failed');
        messages.push(err.message.replace(String(port), 'PORT'));
      }
      expect(new Set(messages).size).toBe(1);
      expect(messages[0]).not.toMatch(/ECONN|refused|reset|timed? ?out|HPE_/i);
    } finally {
      await quick.close();
      for (const srv of [reset, silent, notHttp]) {
        srv.close();
      }
    }
  });

  it('refuses a redirect to its own API', async () => {
    const src = await localHttp((_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${api.port}/session` }).end());
    try {
      const res = await postForm(api, { url: `${src.url}/go` });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(/own API/);
    } finally {
      await src.close();
    }
  });

  it('refuses a redirect to a file: url', async () => {
    const src = await localHttp((_req, res) => res.writeHead(302, { location: 'file:///etc/passwd' }).end());
    try {
      const res = await postForm(api, { url: `${src.url}/go` });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(/refused/);
    } finally {
      await src.close();
    }
  });

  it('follows a redirect to a magnet link', async () => {
    const hash = '7'.repeat(40);
    const src = await localHttp((_req, res) => res.writeHead(302, { location: `magnet:?xt=urn:btih:${hash}` }).end());
    try {
      const res = await postForm(api, { url: `${src.url}/go`, args: '{"paused": true}' });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ info_hash: hash });
    } finally {
      await src.close();
    }
  });

  it('refuses credentials in a url', async () => {
    const res = await postForm(api, { url: 'http://user:pw@127.0.0.1:1/a.torrent' });
    expect(res.status).toBe(400);
  });
});

describe('malformed HTTP that Node refuses before the app sees it', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => {
    await api.close();
  });

  /** Sends bytes on a raw socket and reads until the server closes it. */
  function exchange(bytes: string): Promise<{ status: number; contentType: string | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(api.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.on('error', reject);
      sock.on('close', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        const [head = '', body = ''] = text.split('\r\n\r\n', 2);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
        resolve({ status, contentType: /^content-type: *(.*)$/im.exec(head)?.[1], body });
      });
      sock.end(bytes);
    });
  }

  const cases: [string, string, number, string][] = [
    ['a non-numeric Content-Length', 'POST /torrent HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n', 400, 'bad_request'],
    ['two different Content-Lengths', 'POST /torrent HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400, 'bad_request'],
    ['a bad chunk size', 'POST /torrent HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n', 400, 'bad_request'],
    ['a request line that is not HTTP', 'HELLO\r\n\r\n', 400, 'bad_request'],
    ['20 KiB of headers', `GET /session HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`, 431, 'request_header_too_large'],
  ];
  for (const [what, bytes, status, code] of cases) {
    it(`answers ${what} with a JSON ${status} error and closes`, async () => {
      const res = await exchange(bytes);
      expect(res.status).toBe(status);
      expect(res.contentType).toMatch(/^application\/json/);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code, message: expect.any(String) } });
    });
  }

  it('still serves normally afterwards', async () => {
    expect((await fetch(`${api.url}/session`)).status).toBe(200);
  });
});
