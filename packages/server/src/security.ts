import os from 'node:os';
import type { Request, RequestHandler } from 'express';
import { tokenMatcher } from './api-token.js';
import { HttpError } from './errors.js';
import { isUnspecifiedIp } from './ip-address.js';
import type { ResolvedOptions } from './options.js';
import { isPublicUiRequest, uiCookieToken } from './web-ui.js';
import { MEDIA_PATH_RE } from './routes/stream.js';

/** Lower-case, no brackets around IPv6, no trailing dot: the form host names are compared in. */
export function normalizeHostname(h: string): string {
  let s = h.trim().toLowerCase();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (s.endsWith('.')) s = s.slice(0, -1);
  return s;
}

/** The host name of a Host header value ("example:8080", "[::1]:8080"), or null when it is not one. */
function hostnameOfHostHeader(value: string): string | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/@]+)(?::(\d{1,5}))?$/.exec(value.trim());
  return m ? normalizeHostname(m[1]!) : null;
}

/** An address that means "every interface" when bound and "this machine" when connected to. */
export function isWildcardAddress(host: string): boolean {
  const h = normalizeHostname(host);
  return h === '' || isUnspecifiedIp(h);
}

/** This machine's interface addresses: what "the bound host" means when the API listens on all of them. */
export function localInterfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) out.push(normalizeHostname(a.address.split('%')[0]!));
  }
  return out;
}

/** The names a Host header may carry: the loopback names, the bound host and whatever the user added. */
function allowedHostSet(opts: Pick<ResolvedOptions, 'host' | 'allowedHosts'>): Set<string> {
  const set = new Set(['localhost', '127.0.0.1', '::1']);
  if (isWildcardAddress(opts.host)) {
    for (const a of localInterfaceAddresses()) set.add(a);
    set.add(normalizeHostname(os.hostname()));
  } else {
    set.add(normalizeHostname(opts.host));
  }
  for (const h of opts.allowedHosts) set.add(normalizeHostname(h));
  return set;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** `Authorization: Bearer <token>` → the token, or null. The scheme is case-insensitive (RFC 7235). */
function bearerToken(req: Request): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  return m ? m[1]! : null;
}

/** `?token=` on a stream or playlist GET/HEAD only: media players cannot send headers. Elsewhere it is ignored. */
function queryToken(req: Request): string | null {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || !MEDIA_PATH_RE.test(req.path)) return null;
  const t = req.query.token;
  return typeof t === 'string' ? t : null;
}

/**
 * Host allow-list (DNS rebinding), Origin check for state-changing methods (cross-site form posts), then
 * the Bearer token. The Host check comes first: a rebinding page must learn nothing, not even that a token is
 * needed.
 */
export function security(opts: ResolvedOptions): RequestHandler {
  const hosts = allowedHostSet(opts);
  const anyHost = opts.allowedHosts.includes('*');
  const origins = new Set(opts.allowedOrigins.map((o) => o.toLowerCase().replace(/\/+$/, '')));
  const isToken = tokenMatcher(opts.token);

  return (req, _res, next) => {
    const hostHeader = req.headers.host;
    // HTTP/1.0 may omit Host; browsers never do, so a missing Host is no rebinding vector.
    if (hostHeader !== undefined && !anyHost) {
      const name = hostnameOfHostHeader(hostHeader);
      if (name === null || !hosts.has(name)) {
        next(new HttpError(403, 'host_not_allowed',
          `Host "${hostHeader.slice(0, 100)}" is not one of this daemon's names; add it to the allowed hosts if it should be`));
        return;
      }
    }

    if (STATE_CHANGING.has(req.method)) {
      const origin = req.headers.origin;
      if (origin !== undefined) {
        if (!sameOrigin(origin, hostHeader) && !origins.has(origin.toLowerCase().replace(/\/+$/, ''))) {
          next(new HttpError(403, 'origin_not_allowed', `requests from the web origin "${origin.slice(0, 100)}" may not change this daemon's state`));
          return;
        }
      } else {
        // A browser that sends no Origin still labels a cross-site request in Sec-Fetch-Site.
        const site = req.headers['sec-fetch-site'];
        if (site === 'cross-site' || site === 'same-site') {
          next(new HttpError(403, 'origin_not_allowed', `a ${site} request may not change this daemon's state`));
          return;
        }
      }
    }

    if (isToken && !isPublicUiRequest(req)) {
      // The web UI's cookie counts as the header. A browser sends a cookie with every request to this
      // origin, so a cookie alone may change state only from a page that said where it comes from.
      const bearer = bearerToken(req);
      const cookie = bearer === null ? uiCookieToken(req) : null;
      if (cookie !== null && STATE_CHANGING.has(req.method) && req.headers.origin === undefined && req.headers['sec-fetch-site'] !== 'same-origin') {
        next(new HttpError(403, 'origin_not_allowed', 'a cookie-authenticated request that changes state must carry an Origin header'));
        return;
      }
      const given = bearer ?? cookie ?? queryToken(req);
      if (given === null || !isToken(given)) {
        const missing = given === null;
        next(new HttpError(401, 'unauthorized', missing ? 'an API token is required: Authorization: Bearer <token>' : 'the API token is not valid', {
          headers: { 'WWW-Authenticate': missing ? 'Bearer realm="spritzle"' : 'Bearer realm="spritzle", error="invalid_token"' },
        }));
        return;
      }
    }
    next();
  };
}

/** Whether an Origin header names the API itself (scheme aside: a TLS proxy in front changes it). */
function sameOrigin(origin: string, hostHeader: string | undefined): boolean {
  if (hostHeader === undefined) return false;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false; // includes the opaque "null" origin of sandboxed frames and file:// pages
  }
  if (o.protocol !== 'http:' && o.protocol !== 'https:') return false;
  let self: URL;
  try {
    self = new URL(`${o.protocol}//${hostHeader}`);
  } catch {
    return false;
  }
  return o.host === self.host;
}
