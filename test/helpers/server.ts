// Shared by the server-*.test.ts files: a session + API on 127.0.0.1 with a temp download root, raw HTTP
// requests (fetch cannot set Host, and the fuzz test sends bytes fetch would refuse), and test torrents.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Session } from '@spritzle/engine';
import { startServer, type ServerOptions } from '@spritzle/server';
import { makeTorrent, tmpDir, type TestTorrent } from './fixtures.js';

export interface Api {
  session: Session;
  url: string;
  port: number;
  /** The download root; torrents go below it. */
  root: string;
  /** Where test .torrent files and their data are made (outside the root). */
  work: string;
  close(): Promise<void>;
}

export async function startApi(options: ServerOptions = {}): Promise<Api> {
  const base = await tmpDir('spritzle-server');
  const root = path.join(base, 'downloads');
  const work = path.join(base, 'work');
  await mkdir(root, { recursive: true });
  await mkdir(work, { recursive: true });
  const session = await Session.create({ listen_interfaces: '127.0.0.1:0', save_path: root });
  const server = await startServer(session, { port: 0, downloadRoot: root, log: () => undefined, ...options });
  return {
    session, url: server.url, port: Number(new URL(server.url).port), root, work,
    async close() {
      await server.close();
      await session.close();
      await rm(base, { recursive: true, force: true });
    },
  };
}

let seed = 1;
/** A fresh single-file torrent (distinct data each call), made in `dir`. */
export function testTorrent(dir: string, size = 64 * 1024, name = `t${seed}`): Promise<TestTorrent> {
  return makeTorrent({ dir, name, files: size, pieceLength: 16384, seed: seed++ });
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json(): unknown;
}

export interface RawRequest {
  method?: string;
  /** Sent verbatim as the request target. */
  path: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** Omit the Host header entirely (HTTP/1.0 style). */
  noHost?: boolean;
  /** Give up (rejecting with code ETIMEDOUT) after this long. */
  timeoutMs?: number;
}

/** One HTTP request over node:http with exactly the given headers (Host included) and bytes. */
export function raw(port: number, r: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(r.noHost ? {} : { host: `127.0.0.1:${port}` }), ...r.headers };
    if (r.body !== undefined && headers['content-length'] === undefined) headers['content-length'] = Buffer.byteLength(r.body);
    const req = http.request({ host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path, headers, setHost: false, agent: false, insecureHTTPParser: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) as unknown });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (r.timeoutMs !== undefined) {
      req.setTimeout(r.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${r.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    }
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}

/** A local HTTP server on 127.0.0.1 (for url adds); `handler` decides every answer. */
export async function localHttp(handler: http.RequestListener): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A 127.0.0.1 port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** POST /torrent with a multipart .torrent upload and optional args. */
export function postFile(api: Api, bytes: Uint8Array, args?: Record<string, unknown>): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type: 'application/x-bittorrent' }), 'a.torrent');
  if (args) form.append('args', JSON.stringify(args));
  return fetch(`${api.url}/torrent`, { method: 'POST', body: form });
}

/** POST /torrent urlencoded, as curl -d does. */
export function postForm(api: Api, fields: Record<string, string>): Promise<Response> {
  return fetch(`${api.url}/torrent`, { method: 'POST', body: new URLSearchParams(fields) });
}

export function postJson(api: Api, pathname: string, body: unknown, method = 'POST'): Promise<Response> {
  return fetch(`${api.url}${pathname}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** The `{"error": {...}}` body of an error response. */
export async function errorOf(res: Response): Promise<{ code: string; message: string; field?: string }> {
  const body = (await res.json()) as { error: { code: string; message: string; field?: string } };
  return body.error;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` every 100 ms until it returns something other than undefined; throws after `ms`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
    const v = await probe();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface SseEvent { event: string; data: Record<string, unknown> }

/** The events of a Server-Sent Events response body, as they arrive; the body is cancelled when the loop ends. */
export async function* sseEvents(res: Response): AsyncGenerator<SseEvent> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (.*)$/m.exec(block);
        const data = /^data: (.*)$/m.exec(block);
        if (ev && data) yield { event: ev[1]!, data: JSON.parse(data[1]!) as Record<string, unknown> };
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
