import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import { startApi, raw, type Api } from '../helpers/server.js';
import { buildWebUi } from './browser.js';

// The server side of the web UI, without a browser: how the page and its assets are served, and how the
// login cookie stands in for the token without opening the door to other sites.

const TOKEN = 'open-sesame';

beforeAll(() => buildWebUi(), 60_000);

/** The assets index.html names (relative URLs). */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(ui\/assets\/[^"]+)"/g)].map((m) => `/${m[1]!}`);
}

describe('the web UI files', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  it('serves index.html at / uncached, with a CSP that allows only its own origin', async () => {
    const r = await raw(api.port, { path: '/' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['content-security-policy']).toContain("default-src 'self'");
    expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(assetsOf(r.text)).toHaveLength(2);
  });

  it('serves the hashed assets cached for a year, and a gzipped copy to who asks', async () => {
    const html = (await raw(api.port, { path: '/' })).text;
    for (const path of assetsOf(html)) {
      expect(path).toMatch(/^\/ui\/assets\/app-[A-Z0-9]{8}\.(js|css)$/);
      const r = await raw(api.port, { path, headers: { 'accept-encoding': 'gzip' } });
      expect(r.status).toBe(200);
      expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(r.headers['content-encoding']).toBe('gzip');
    }
  });

  it('a first load transfers at most 150 KB gzipped', async () => {
    const index = await raw(api.port, { path: '/' });
    let total = gzipSync(index.body).length;
    for (const path of assetsOf(index.text)) {
      total += Number((await raw(api.port, { path, headers: { 'accept-encoding': 'gzip' } })).headers['content-length']);
    }
    console.log(`web UI first load: ${(total / 1024).toFixed(1)} KiB gzipped (index.html and ${assetsOf(index.text).length} assets)`);
    expect(total).toBeLessThanOrEqual(150 * 1024);
  });

  it('answers an unknown asset with a JSON 404', async () => {
    const r = await raw(api.port, { path: '/ui/assets/nope.js' });
    expect(r.status).toBe(404);
    expect(r.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('without a token, /ui/auth says so and a login is not needed', async () => {
    expect((await raw(api.port, { path: '/ui/auth' })).json()).toEqual({ token_required: false, authenticated: true });
  });
});

describe('the web UI login when the daemon has a token', () => {
  let api: Api;
  let cookieName: string;
  beforeAll(async () => {
    api = await startApi({ token: TOKEN });
    cookieName = `spritzle_token_${api.port}`;
  });
  afterAll(() => api.close());

  const login = (token: string, headers: Record<string, string> = {}) => raw(api.port, {
    method: 'POST', path: '/ui/login', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ token }),
  });

  it('serves the page, its assets and /ui/auth without the token, but not the API', async () => {
    const index = await raw(api.port, { path: '/' });
    expect(index.status).toBe(200);
    for (const path of assetsOf(index.text)) expect((await raw(api.port, { path })).status).toBe(200);
    expect((await raw(api.port, { path: '/ui/auth' })).json()).toEqual({ token_required: true, authenticated: false });
    expect((await raw(api.port, { path: '/torrent' })).status).toBe(401);
    expect((await raw(api.port, { path: '/events' })).status).toBe(401);
  });

  it('reads no large body before the token is known: a login of more than 16 KiB is a 413', async () => {
    const r = await raw(api.port, {
      method: 'POST', path: '/ui/login', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'x'.repeat(100_000) }),
    });
    expect(r.status).toBe(413);
    expect(r.json()).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('refuses a wrong token with a 401 and sets no cookie', async () => {
    const r = await login('wrong');
    expect(r.status).toBe(401);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('sets an HttpOnly, SameSite=Strict cookie for the right token, named for the port', async () => {
    const r = await login(TOKEN);
    expect(r.status).toBe(200);
    const cookie = r.headers['set-cookie']![0]!;
    expect(cookie.split('; ')).toEqual(expect.arrayContaining([`${cookieName}=${TOKEN}`, 'HttpOnly', 'SameSite=Strict', 'Path=/']));
  });

  it('accepts the cookie like the Authorization header for reading', async () => {
    const r = await raw(api.port, { path: '/torrent', headers: { cookie: `other=1; ${cookieName}=${TOKEN}` } });
    expect(r.status).toBe(200);
    expect((await raw(api.port, { path: '/ui/auth', headers: { cookie: `${cookieName}=${TOKEN}` } })).json()).toEqual({ token_required: true, authenticated: true });
  });

  it('refuses a wrong cookie, and a right token under another port\'s cookie name', async () => {
    expect((await raw(api.port, { path: '/torrent', headers: { cookie: `${cookieName}=nope` } })).status).toBe(401);
    expect((await raw(api.port, { path: '/torrent', headers: { cookie: `spritzle_token_1=${TOKEN}` } })).status).toBe(401);
  });

  it('a cookie-authenticated state change needs the daemon\'s own Origin', async () => {
    const del = (headers: Record<string, string>) => raw(api.port, { method: 'DELETE', path: '/torrent', headers: { cookie: `${cookieName}=${TOKEN}`, ...headers } });
    const none = await del({});
    expect(none.status).toBe(403);
    expect(none.json()).toMatchObject({ error: { code: 'origin_not_allowed' } });
    expect((await del({ origin: 'http://evil.example' })).status).toBe(403);
    expect((await del({ 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await del({ origin: `http://127.0.0.1:${api.port}` })).status).toBe(200);
    expect((await del({ 'sec-fetch-site': 'same-origin' })).status).toBe(200);
  });

  it('keeps the Bearer header working without an Origin (scripts and the CLI)', async () => {
    expect((await raw(api.port, { method: 'DELETE', path: '/torrent', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('a login from a foreign origin is refused like any state change', async () => {
    expect((await login(TOKEN, { origin: 'http://evil.example' })).status).toBe(403);
  });

  it('logout clears the cookie', async () => {
    const r = await raw(api.port, { method: 'POST', path: '/ui/logout' });
    expect(r.status).toBe(204);
    expect(r.headers['set-cookie']![0]).toMatch(new RegExp(`^${cookieName}=; .*Max-Age=0`));
  });
});
