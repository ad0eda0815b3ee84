/**
 * BEP 19 web seeds, the HTTP side: which URL and byte range of which file holds a run of the torrent's
 * bytes (pure), and a Range GET that checks what comes back (redirects bounded, body capped, timed out).
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

/** A web seed's HTTP failure, with what to show in its state. */
export class WebSeedHttpError extends Error {
  constructor(message: string, readonly status = 0) {
    super(message);
    this.name = 'WebSeedHttpError';
  }
}

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
      headers: { range: `bytes=${start}-${start + length - 1}`, 'user-agent': opts.userAgent ?? 'spritzle', 'accept-encoding': 'identity' },
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
      if (status === 206) {
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
      const exact = status === 206 && Number(res.headers['content-length']) === length;
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
