import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Request, RequestHandler, Response, Router } from 'express';
import { tokenMatcher } from './api-token.js';
import { HttpError, badRequest } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { accepts, jsonObjectBody, route } from './routes/route.js';

/**
 * The web UI (packages/web): its static files at `/` and `/ui/assets/`, and the login that turns the API
 * token into a cookie, so the page's fetches and its EventSource (which cannot send a header) are
 * authenticated without the token ever being in the URL or in the page's storage.
 */

/**
 * Where the built UI is looked for: beside the packed CLI's bundle (bundle/web/, scripts/pack-cli.mjs), else
 * in the workspace (packages/server/{src,dist} → packages/web/dist).
 */
function defaultWebRoot(): string | null {
  const candidates = [new URL('./web/', import.meta.url), new URL('../../web/dist/', import.meta.url)];
  for (const c of candidates) {
    const dir = fileURLToPath(c);
    if (existsSync(path.join(dir, 'index.html'))) return dir;
  }
  return null;
}

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  cacheControl: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

/** Asset names carry a content hash (esbuild's [hash]), so a browser may keep them for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** index.html names the current hashes: always revalidated. */
const NO_CACHE = 'no-cache';

/** The page loads only its own files and talks only to its own origin. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
  + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

function loadAssets(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const add = (urlPath: string, file: string, cacheControl: string): void => {
    const body = readFileSync(file);
    out.set(urlPath, { body, gzip: gzipSync(body, { level: 9 }), type: TYPES[path.extname(file)] ?? 'application/octet-stream', cacheControl });
  };
  add('/', path.join(dir, 'index.html'), NO_CACHE);
  const assets = path.join(dir, 'assets');
  if (existsSync(assets)) {
    for (const name of readdirSync(assets)) add(`/ui/assets/${name}`, path.join(assets, name), IMMUTABLE);
  }
  return out;
}

function sendAsset(req: Request, res: Response, a: Asset): void {
  res.setHeader('Content-Type', a.type);
  res.setHeader('Cache-Control', a.cacheControl);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Vary', 'Accept-Encoding');
  if (a.type.startsWith('text/html')) {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
  }
  const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gz ? a.gzip : a.body;
  if (gz) res.setHeader('Content-Encoding', 'gzip');
  res.setHeader('Content-Length', String(body.length));
  res.status(200);
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

/**
 * The cookie's name carries the API's port: cookies ignore ports, so two daemons on one host would
 * otherwise send each other their tokens.
 */
export function uiCookieName(req: Request): string {
  return `spritzle_token_${req.socket.localPort ?? 0}`;
}

/** The token from this daemon's UI cookie, or null. */
export function uiCookieToken(req: Request): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  const name = uiCookieName(req);
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      const v = decodeURIComponent(part.slice(eq + 1).trim());
      return v === '' ? null : v;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * What anyone who may reach the daemon (Host check passed) may load without the token: the page itself,
 * its assets, whether it needs the token, and the login and logout routes.
 */
export function isPublicUiRequest(req: Request): boolean {
  const p = req.path;
  if (req.method === 'GET' || req.method === 'HEAD') return p === '/' || p === '/ui/auth' || p.startsWith('/ui/assets/');
  return req.method === 'POST' && (p === '/ui/login' || p === '/ui/logout');
}

function setCookie(req: Request, res: Response, value: string, maxAge?: number): void {
  const attrs = [`${uiCookieName(req)}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (req.secure) attrs.push('Secure');
  if (maxAge !== undefined) attrs.push(`Max-Age=${maxAge}`);
  res.setHeader('Set-Cookie', attrs.join('; '));
  res.setHeader('Cache-Control', 'no-store');
}

/** GET / and /ui/assets/*, GET /ui/auth, POST /ui/login and /ui/logout. */
export function webUiRoutes(router: Router, opts: ResolvedOptions, webRoot: string | null = defaultWebRoot()): void {
  let assets: Map<string, Asset> | null = null;
  const serve: RequestHandler = (req, res, next) => {
    if (webRoot === null) {
      next(new HttpError(404, 'not_found', 'the web UI is not built into this server: run `pnpm run build` (packages/web)'));
      return;
    }
    assets ??= loadAssets(webRoot);
    const a = assets.get(req.path);
    if (!a) {
      next(new HttpError(404, 'not_found', `no UI file ${req.path.slice(0, 100)}`));
      return;
    }
    sendAsset(req, res, a);
  };
  route(router, '/', { get: serve });
  router.get('/ui/assets/:name', serve);

  const isToken = tokenMatcher(opts.token);
  route(router, '/ui/login', {
    post: [accepts(['application/json']), (req, res) => {
      const token = jsonObjectBody(req.body).token;
      if (typeof token !== 'string' || token === '') throw badRequest('token must be a non-empty string', 'token');
      if (isToken === null) {
        res.json({ token_required: false });
        return;
      }
      if (!isToken(token)) throw new HttpError(401, 'unauthorized', 'the API token is not valid');
      setCookie(req, res, token);
      res.json({ token_required: true });
    }],
  });
  // Lets the page choose between its login screen and the app without provoking a 401 first.
  route(router, '/ui/auth', {
    get: (req, res) => {
      const cookie = uiCookieToken(req);
      const authenticated = isToken === null || (cookie !== null && isToken(cookie));
      res.setHeader('Cache-Control', 'no-store');
      res.json({ token_required: isToken !== null, authenticated });
    },
  });
  route(router, '/ui/logout', {
    post: (req, res) => {
      setCookie(req, res, '', 0);
      res.status(204).end();
    },
  });
}
