// A Range-capable HTTP server for web seed tests (BEP 19), on 127.0.0.1, with faults the test switches on:
// a corrupted byte range, error statuses, slow bodies, redirects.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebSeedServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Every request path served, in order (with its Range). */
  readonly log: { path: string; range: string | undefined; status: number }[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Flip the bytes of [from, to) of this path's file in the next `times` answers that cover them. */
  corrupt(path: string, from: number, to: number, times?: number): void;
  /** Answer this status (404, 500...) for the path, `times` times (default: always). */
  fail(path: string, status: number, times?: number): void;
  /** Send bodies in 16 KiB chunks `ms` apart. */
  slow(ms: number): void;
  /** Answer the path with a redirect to `to`. */
  redirect(path: string, to: string): void;
  close(): Promise<void>;
}

/** Serves `files` (URL path, e.g. "/seed/movie/a.bin", → bytes). */
export async function startWebSeedServer(files: Map<string, Uint8Array>): Promise<WebSeedServer> {
  const log: WebSeedServer['log'] = [];
  const corruptions: { path: string; from: number; to: number; times: number }[] = [];
  const failures = new Map<string, { status: number; times: number }>();
  const redirects = new Map<string, string>();
  let slowMs = 0;
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const range = req.headers.range;
    const answer = (status: number): void => {
      log.push({ path, range, status });
      res.statusCode = status;
    };
    const to = redirects.get(path);
    if (to !== undefined) {
      answer(302);
      res.setHeader('location', to);
      res.end();
      return;
    }
    const f = failures.get(path);
    if (f && f.times > 0) {
      f.times--;
      answer(f.status);
      res.end('no');
      return;
    }
    const data = files.get(path);
    if (!data) {
      answer(404);
      res.end('not found');
      return;
    }
    let start = 0;
    let end = data.length - 1;
    const m = /^bytes=(\d+)-(\d*)$/.exec(range ?? '');
    if (m) {
      start = Number(m[1]);
      end = m[2] === '' ? data.length - 1 : Math.min(Number(m[2]), data.length - 1);
      if (start >= data.length) {
        answer(416);
        res.setHeader('content-range', `bytes */${data.length}`);
        res.end();
        return;
      }
      answer(206);
      res.setHeader('content-range', `bytes ${start}-${end}/${data.length}`);
    } else answer(200);
    const body = Buffer.from(data.subarray(start, end + 1));
    for (const c of corruptions) {
      if (c.path !== path || c.times <= 0 || c.to <= start || c.from > end) continue;
      c.times--;
      for (let i = Math.max(c.from, start); i < Math.min(c.to, end + 1); i++) body[i - start]! ^= 0xff;
    }
    res.setHeader('content-length', body.length);
    res.setHeader('accept-ranges', 'bytes');
    if (slowMs === 0) {
      res.end(body);
      return;
    }
    let at = 0;
    const next = (): void => {
      if (res.destroyed) return;
      if (at >= body.length) {
        res.end();
        return;
      }
      res.write(body.subarray(at, at + 16384));
      at += 16384;
      setTimeout(next, slowMs);
    };
    next();
  });
  let connections = 0;
  server.on('connection', () => void connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    get connections() {
      return connections;
    },
    corrupt: (path, from, to, times = 1) => void corruptions.push({ path, from, to, times }),
    fail: (path, status, times = Infinity) => void failures.set(path, { status, times }),
    slow: (ms) => { slowMs = ms; },
    redirect: (path, to) => void redirects.set(path, to),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
