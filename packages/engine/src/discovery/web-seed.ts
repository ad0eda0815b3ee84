/**
 * Web seeds, the HTTP side: which URL and byte range of which file holds a run of the torrent's bytes
 * (BEP 19, pure), or which `?info_hash=&piece=&ranges=` request of an HTTP seed (BEP 17, pure); and a GET
 * that checks what comes back (redirects bounded, body capped, timed out).
 */
import http from 'node:http';
import https from 'node:https';

/** A file of the torrent as the URL rules see it: its path (multi-file: "<name>/<dirs>/<file>") and length. */
export interface WebSeedFile {
  readonly path: string;
  readonly length: number;
  readonly pad: boolean;
}

/** One HTTP request of a run: `length` bytes of the file at `url` from `start`, going at `into` of the run's buffer. */
export interface RangeRequest {
  url: string;
  start: number;
  length: number;
  into: number;
}

const encodePath = (path: string): string => path.split('/').map(encodeURIComponent).join('/');

/**
 * BEP 19's URL of a file: a single-file torrent's URL is the file itself unless it ends in "/" (then the
 * name is appended); a multi-file torrent's URL is a folder that holds the torrent's name folder.
 */
export function webSeedFileUrl(base: string, file: WebSeedFile, multiFile: boolean): string {
  if (!multiFile && !base.endsWith('/')) return base;
  return `${base.endsWith('/') ? base : `${base}/`}${encodePath(file.path)}`;
}

/**
 * The requests that fetch torrent bytes [offset, offset + length): one per file the run crosses. Pad files
 * are zeros by definition and are not fetched (they need no request; the caller's buffer starts zeroed).
 */
export function rangeRequests(base: string, files: readonly WebSeedFile[], offset: number, length: number): RangeRequest[] {
  const out: RangeRequest[] = [];
  const multiFile = files.length > 1 || (files.length === 1 && files[0]!.path.includes('/'));
  let fileStart = 0;
  const end = offset + length;
  for (const f of files) {
    const fileEnd = fileStart + f.length;
    if (fileEnd > offset && fileStart < end && f.length > 0) {
      const from = Math.max(offset, fileStart);
      const to = Math.min(end, fileEnd);
      if (!f.pad) out.push({ url: webSeedFileUrl(base, f, multiFile), start: from - fileStart, length: to - from, into: from - offset });
    }
    fileStart = fileEnd;
    if (fileStart >= end) break;
  }
  return out;
}

/** Bytes of an info-hash as a query value: every byte but the unreserved characters as %XX. */
function escapeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9.\-_~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * BEP 17 (HTTP seeding, `httpseeds`): the requests that fetch torrent bytes [offset, offset + length), one
 * per piece the run crosses: `<url>?info_hash=<hash>&piece=<index>`, with `&ranges=<first>-<last>` (inclusive,
 * within the piece) unless the whole piece is asked for. `start` is the range's start within its piece.
 */
export function httpSeedRequests(base: string, infoHash: Uint8Array, pieceLength: number, totalLength: number, offset: number, length: number): RangeRequest[] {
  const out: RangeRequest[] = [];
  const prefix = `${base}${base.includes('?') ? '&' : '?'}info_hash=${escapeBytes(infoHash)}&piece=`;
  for (let at = offset, end = offset + length; at < end;) {
    const piece = Math.floor(at / pieceLength);
    const pieceStart = piece * pieceLength;
    const pieceSize = Math.min(pieceLength, totalLength - pieceStart);
    const to = Math.min(end, pieceStart + pieceSize);
    const whole = at === pieceStart && to === pieceStart + pieceSize;
    const ranges = whole ? '' : `&ranges=${at - pieceStart}-${to - pieceStart - 1}`;
    out.push({ url: `${prefix}${piece}${ranges}`, start: at - pieceStart, length: to - at, into: at - offset });
    at = to;
  }
  return out;
}

/** A web seed's HTTP failure, with what to show in its state. */
export class WebSeedHttpError extends Error {
  /** `retryAfter`: seconds a busy HTTP seed (BEP 17's 503) asked us to wait before asking again. */
  constructor(message: string, readonly status = 0, readonly retryAfter?: number) {
    super(message);
    this.name = 'WebSeedHttpError';
  }
}

/** The longest wait a busy HTTP seed may ask for (an hour): beyond it the number is not believed. */
const MAX_RETRY_AFTER_S = 3600;

export interface FetchOptions {
  /** Redirects followed at most (libtorrent follows them too). */
  maxRedirects: number;
  /** The whole request, headers and body. */
  timeoutMs: number;
  signal?: AbortSignal;
  userAgent?: string;
  /**
   * Keep-alive agents (one web seed's connections, reused from request to request); without them every
   * request opens a connection of its own.
   */
  agents?: WebSeedAgents;
  /** Called as the body arrives with the bytes received so far (blocks can be handed on before the end). */
  progress?: (received: number) => void;
  /**
   * A BEP 17 request: the URL names the bytes (no Range header); the answer is a 200 with exactly them, or a
   * 503 whose body is the seconds to wait before asking again.
   */
  httpSeed?: boolean;
}

/** An HTTP and an HTTPS keep-alive agent for one web seed. */
export interface WebSeedAgents {
  http: http.Agent;
  https: https.Agent;
}

/** Keep-alive agents holding at most `sockets` connections each (a web seed's requests in flight). */
export function webSeedAgents(sockets: number): WebSeedAgents {
  return {
    http: new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets }),
    https: new https.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets }),
  };
}

/**
 * GETs `length` bytes from `start` of `url` into `into` at `at`. A 206 must name the range asked for; a 200
 * is accepted only from offset 0 (a server that ignores Range sends the whole file: its first bytes are
 * taken and the rest is not read). Anything else, a short body or a timeout throws WebSeedHttpError.
 */
export function fetchRange(url: string, start: number, length: number, into: Uint8Array, at: number, opts: FetchOptions, redirects = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new WebSeedHttpError(`not a URL: ${url.slice(0, 200)}`));
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      reject(new WebSeedHttpError(`${u.protocol} URLs are not fetched`));
      return;
    }
    const secure = u.protocol === 'https:';
    const mod = secure ? https : http;
    let settled = false;
    const done = (e?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (e) reject(e);
      else resolve();
    };
    const req = mod.get(u, {
      headers: {
        ...(opts.httpSeed ? {} : { range: `bytes=${start}-${start + length - 1}` }), 'user-agent': opts.userAgent ?? 'spritzle', 'accept-encoding': 'identity',
      },
      agent: opts.agents ? (secure ? opts.agents.https : opts.agents.http) : false,
    }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location !== undefined) {
        res.resume();
        req.destroy();
        if (redirects >= opts.maxRedirects) return done(new WebSeedHttpError(`more than ${opts.maxRedirects} redirects`, status));
        let next: string;
        try {
          next = new URL(res.headers.location, u).toString();
        } catch {
          return done(new WebSeedHttpError('a redirect to something that is not a URL', status));
        }
        fetchRange(next, start, length, into, at, { ...opts, timeoutMs: Math.max(1, deadline - Date.now()) }, redirects + 1).then(() => done(), done);
        return;
      }
      if (opts.httpSeed) {
        if (status === 503) {
          // BEP 17: busy; the body is the number of seconds to wait (a few bytes read at most).
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (c: string) => {
            body += c;
            if (body.length > 16) res.destroy();
          });
          const busy = (): void => {
            const n = /^\s*(\d{1,7})\s*$/.exec(body.slice(0, 16));
            const retry = n ? Math.min(MAX_RETRY_AFTER_S, Number(n[1])) : undefined;
            done(new WebSeedHttpError(`busy (HTTP 503)${retry !== undefined ? `: retry after ${retry} s` : ''}`, status, retry));
          };
          res.on('end', busy);
          res.on('close', busy);
          return;
        }
        if (status !== 200) {
          res.destroy();
          return done(new WebSeedHttpError(`HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, status));
        }
      } else if (status === 206) {
        const cr = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
        if (!cr || Number(cr[1]) !== start || Number(cr[2]) !== start + length - 1) {
          res.destroy();
          return done(new WebSeedHttpError(`206 for another range (${String(res.headers['content-range'] ?? 'no Content-Range').slice(0, 80)})`, status));
        }
      } else if (!(status === 200 && start === 0)) {
        res.destroy();
        return done(new WebSeedHttpError(`HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, status));
      }
      // A 206 of exactly the range ends with its last byte: its connection goes back to the agent. Anything
      // longer (a 200 with the whole file) is cut once the range has come.
      const exact = (status === 206 || opts.httpSeed === true) && Number(res.headers['content-length']) === length;
      const progress = opts.progress;
      let got = 0;
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        const take = Math.min(chunk.length, length - got);
        into.set(take === chunk.length ? chunk : chunk.subarray(0, take), at + got);
        got += take;
        progress?.(got);
        if (got === length) {
          if (!exact) res.destroy();
          done();
        }
      });
      res.on('end', () => done(got === length ? undefined : new WebSeedHttpError(`the body ended after ${got} of ${length} bytes`, status)));
      res.on('error', (e) => done(new WebSeedHttpError(e.message, status)));
      res.on('close', () => done(got === length ? undefined : new WebSeedHttpError(`the connection closed after ${got} of ${length} bytes`, status)));
    });
    req.on('error', (e) => done(new WebSeedHttpError(e.message)));
    const deadline = Date.now() + opts.timeoutMs;
    const timer = setTimeout(() => {
      req.destroy();
      done(new WebSeedHttpError(`no complete answer within ${Math.round(opts.timeoutMs / 1000)} s`));
    }, opts.timeoutMs);
    const onAbort = (): void => {
      req.destroy();
      done(new WebSeedHttpError('aborted'));
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort);
  });
}
