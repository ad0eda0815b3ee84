import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { HttpError, badRequest } from './errors.js';
import { canonicalIp, isLoopbackIp, isUnspecifiedIp } from './ip-address.js';
import { isWildcardAddress, localInterfaceAddresses, normalizeHostname } from './security.js';

/** The API's own socket address, so a url add cannot make the daemon call itself. */
export interface SelfAddress {
  /** The address the API listens on (may be a wildcard). */
  boundHost: string;
  /** The local address and port this request arrived on. */
  localAddress: string | undefined;
  localPort: number | undefined;
}

export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
}

/** What a `url` turned out to be: .torrent bytes, or a magnet link (given directly or by a redirect). */
export type FetchedTorrent = { kind: 'torrent'; bytes: Uint8Array } | { kind: 'magnet'; url: string };

const FIELD = 'url';

function fetchFailed(message: string, cause?: unknown): HttpError {
  return new HttpError(400, 'fetch_failed', message, { field: FIELD, ...(cause !== undefined ? { cause } : {}) });
}

/** Parses a `url` field; only http, https and magnet are accepted (no file:, data:, ftp:...). */
export function parseTorrentUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw badRequest(`url: "${raw.slice(0, 200)}" is not a URL`, FIELD, 'invalid_param');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'magnet:') {
    throw badRequest(`url: the scheme "${u.protocol.slice(0, -1).slice(0, 20)}" is refused; use http, https or magnet`, FIELD, 'invalid_param');
  }
  if (u.protocol !== 'magnet:' && (u.username || u.password)) {
    // Credentials in a url would be sent on every redirect hop; there is no reason a .torrent needs them here.
    throw badRequest('url: credentials in the url are not supported', FIELD, 'invalid_param');
  }
  return u;
}

function defaultPort(u: URL): number {
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}

/** True when host:port (after DNS) is the API this daemon serves. */
async function isSelf(u: URL, self: SelfAddress, signal: AbortSignal): Promise<boolean> {
  if (self.localPort === undefined || defaultPort(u) !== self.localPort) return false;
  const host = normalizeHostname(u.hostname);
  let addresses: string[];
  if (net.isIP(host)) addresses = [host];
  else {
    try {
      // dns.lookup takes no signal; race it so a hanging resolver still ends at the fetch deadline.
      const aborted = new Promise<never>((_resolve, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
      aborted.catch(() => undefined);
      addresses = (await Promise.race([lookup(host, { all: true, verbatim: true }), aborted])).map((a) => normalizeHostname(a.address));
    } catch (e) {
      throw fetchFailed(signal.aborted ? `url: cannot resolve "${host.slice(0, 200)}" in time`
        : `url: cannot resolve "${host.slice(0, 200)}" (${(e as NodeJS.ErrnoException).code ?? 'error'})`, e);
    }
  }
  const own = new Set<string>();
  if (self.localAddress) own.add(canonicalIp(normalizeHostname(self.localAddress)));
  own.add(canonicalIp(normalizeHostname(self.boundHost)));
  if (isWildcardAddress(self.boundHost)) for (const a of localInterfaceAddresses()) own.add(canonicalIp(a));
  // Loopback and "any" addresses reach this machine whatever the API is bound to, in whichever spelling.
  return addresses.some((a) => own.has(canonicalIp(a)) || isLoopbackIp(a) || isUnspecifiedIp(a));
}

/** Reads a body up to `max` bytes; one byte more is an error, whatever Content-Length claimed. */
async function readLimited(res: Response, max: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) throw fetchFailed(`url: the .torrent is larger than ${max} bytes`);
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw fetchFailed(`url: the .torrent is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Fetches the .torrent at an http(s) url with global fetch: one deadline for the whole exchange, a size
 * limit, and redirects followed by hand so that each hop's scheme and address are checked (a redirect to
 * the daemon's own API, or to file:, is refused; one to a magnet link is what some sites do and is accepted).
 *
 * The self check resolves the name before fetch resolves it again, so a name whose DNS answer changes in
 * between is not caught; it keeps honest mistakes and simple rebinding out, not a racing DNS server.
 */
export async function fetchTorrent(start: URL, self: SelfAddress, limits: FetchLimits): Promise<FetchedTorrent> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let url = start;
  for (let hop = 0; ; hop++) {
    if (url.protocol === 'magnet:') return { kind: 'magnet', url: url.href };
    if (await isSelf(url, self, signal)) {
      throw badRequest(`url: ${url.host} is this daemon's own API; refusing to fetch from it`, FIELD, 'invalid_param');
    }
    let res: Response;
    try {
      res = await fetch(url, {
        redirect: 'manual',
        signal,
        headers: { accept: 'application/x-bittorrent, application/octet-stream;q=0.9, */*;q=0.1' },
      });
    } catch (e) {
      // One message for refused, reset, timed out, not HTTP...: the difference would let anyone who can add a
      // url scan this machine's (or its network's) ports through the error text.
      throw fetchFailed(`url: could not fetch ${url.origin}: no HTTP answer within ${limits.timeoutMs} ms`, e);
    }
    if (res.status >= 300 && res.status < 400 && res.status !== 304) {
      await res.body?.cancel().catch(() => undefined);
      const location = res.headers.get('location');
      if (!location) throw fetchFailed(`url: a ${res.status} redirect without a Location`);
      if (hop >= limits.maxRedirects) throw fetchFailed(`url: more than ${limits.maxRedirects} redirects`);
      let next: URL;
      try {
        next = parseTorrentUrl(new URL(location, url).href);
      } catch (e) {
        throw fetchFailed(`url: redirected to a refused location (${(e as Error).message})`, e);
      }
      url = next;
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw fetchFailed(`url: the server answered ${res.status} ${res.statusText}`.trim());
    }
    try {
      return { kind: 'torrent', bytes: await readLimited(res, limits.maxBytes) };
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw fetchFailed(`url: could not fetch ${url.origin}: the .torrent did not arrive whole within ${limits.timeoutMs} ms`, e);
    }
  }
}
