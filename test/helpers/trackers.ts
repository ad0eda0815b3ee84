// Local trackers for the discovery tests, all on 127.0.0.1: bittorrent-tracker's server (HTTP and UDP),
// a scripted HTTP tracker whose answers a test decides, and Debian's opentracker.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import bencode from 'bencode';
import { Server, type ServerAnnounceParams } from 'bittorrent-tracker';
import { tmpDir } from './fixtures.js';

export interface TrackerEvent {
  event: 'start' | 'complete' | 'stop' | 'update';
  type: 'http' | 'udp' | 'ws';
  infoHash: string;
  port: number;
  left: number;
  uploaded: number;
  downloaded: number;
  at: number;
}

export interface LocalTracker {
  httpUrl: string;
  udpUrl: string;
  server: Server;
  /** Every announce the tracker accepted, in order. */
  events: TrackerEvent[];
  close(): Promise<void>;
}

/**
 * bittorrent-tracker's server with HTTP and UDP on 127.0.0.1 (its IPv6 socket is closed before listening:
 * toolchain.md §5, and nothing but 127.0.0.1 is used in tests). `intervalMs` is what it tells clients.
 */
export async function startLocalTracker(opts: { intervalMs?: number } = {}): Promise<LocalTracker> {
  const server = new Server({ http: true, udp: true, ws: false, stats: false, ...(opts.intervalMs ? { interval: opts.intervalMs } : {}) });
  server.udp6?.close();
  server.udp6 = null;
  const events: TrackerEvent[] = [];
  for (const event of ['start', 'complete', 'stop', 'update'] as const) {
    server.on(event, (_addr: string, p: ServerAnnounceParams) => {
      events.push({
        event, type: p.type, infoHash: p.info_hash, port: Number(p.port), left: Number(p.left),
        uploaded: Number(p.uploaded), downloaded: Number(p.downloaded), at: Date.now(),
      });
    });
  }
  server.on('warning', () => undefined);
  server.on('error', () => undefined);
  const httpServer = server.http!;
  const udp = server.udp4!;
  await Promise.all([
    new Promise<void>((resolve) => httpServer.once('listening', () => resolve())),
    new Promise<void>((resolve) => udp.once('listening', () => resolve())),
    Promise.resolve(server.listen(0, { http: '127.0.0.1', udp: '127.0.0.1' })),
  ]);
  const httpPort = (httpServer.address() as net.AddressInfo).port;
  const udpPort = udp.address().port;
  return {
    httpUrl: `http://127.0.0.1:${httpPort}/announce`,
    udpUrl: `udp://127.0.0.1:${udpPort}`,
    server,
    events,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ScriptedRequest {
  path: string;
  query: URLSearchParams;
  /** info_hash and peer_id as hex (they are binary in the query string). */
  infoHash: string;
  at: number;
}

export interface ScriptedTracker {
  url: string;
  requests: ScriptedRequest[];
  close(): Promise<void>;
}

/** Percent-decodes a binary query value (as trackers must: it is not UTF-8). */
function binaryParam(rawQuery: string, name: string): string {
  const m = new RegExp(`(?:^|&)${name}=([^&]*)`).exec(rawQuery);
  if (!m) return '';
  const bytes: number[] = [];
  const s = m[1]!;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(s.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('hex');
}

/** An HTTP tracker on 127.0.0.1 that answers each announce with what `answer` returns (bencoded). */
export async function startScriptedTracker(answer: (req: ScriptedRequest, n: number) => Record<string, unknown>): Promise<ScriptedTracker> {
  const requests: ScriptedRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
    const r: ScriptedRequest = { path: url.split('?')[0]!, query: new URLSearchParams(q), infoHash: binaryParam(q, 'info_hash'), at: Date.now() };
    requests.push(r);
    res.end(Buffer.from(bencode.encode(answer(r, requests.length))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/announce`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A port on 127.0.0.1 free for both TCP and UDP right now (opentracker takes the same number for both). */
export async function freeTcpUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const tcp = net.createServer();
    const port = await new Promise<number>((resolve) => tcp.listen(0, '127.0.0.1', () => resolve((tcp.address() as net.AddressInfo).port)));
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (ok) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      return port;
    }
    udp.close();
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

/** A dead HTTP tracker: a port on 127.0.0.1 nothing listens on (connections are refused at once). */
export async function deadHttpTrackerUrl(): Promise<string> {
  const s = net.createServer();
  const port = await new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as net.AddressInfo).port)));
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}/announce`;
}

export interface OpenTracker {
  httpUrl: string;
  udpUrl: string;
  /** The tracker's own view of a torrent (HTTP scrape). */
  scrape(infoHash: string): Promise<{ complete: number; incomplete: number; downloaded: number }>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();

/**
 * Debian's opentracker on 127.0.0.1 (HTTP and UDP on one port), whitelisting `infoHashes`: it chroots into a
 * fresh folder and drops to nobody, so the whitelist lives inside that folder, world-readable
 * (harness/README.md, "opentracker").
 */
export async function startOpentracker(infoHashes: string[]): Promise<OpenTracker> {
  const dir = await tmpDir('opentracker');
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  await writeFile(`${dir}/whitelist`, infoHashes.map((h) => `${h}\n`).join(''), { mode: 0o644 });
  const port = await freeTcpUdpPort();
  const proc = spawn('/usr/bin/opentracker', ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-d', dir, '-w', '/whitelist'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  live.add(proc);
  let stderr = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => {
    live.delete(proc);
    resolve();
  }));
  const scrape = async (infoHash: string): Promise<{ complete: number; incomplete: number; downloaded: number }> => {
    const escaped = [...Buffer.from(infoHash, 'hex')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    // A fresh connection per request (agent: false): opentracker closes each one after answering, and a
    // pooled keep-alive socket (fetch's) can be reused just as it is closed ("fetch failed").
    const bytes = await new Promise<Buffer>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: `/scrape?info_hash=${escaped}`, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      }).on('error', reject);
    });
    const body = bencode.decode(new Uint8Array(bytes)) as { files?: Record<string, { complete: number; incomplete: number; downloaded: number }> };
    const entry = Object.values(body.files ?? {})[0];
    return { complete: entry?.complete ?? 0, incomplete: entry?.incomplete ?? 0, downloaded: entry?.downloaded ?? 0 };
  };
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      await scrape(infoHashes[0] ?? '00'.repeat(20));
      break;
    } catch {
      if (proc.exitCode !== null || Date.now() > end) {
        proc.kill('SIGKILL');
        throw new Error(`opentracker did not come up on 127.0.0.1:${port}: ${stderr || '(no stderr)'}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    httpUrl: `http://127.0.0.1:${port}/announce`,
    udpUrl: `udp://127.0.0.1:${port}`,
    scrape,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

// Whatever a failing test left running is ended by its id when the file's tests are done.
const jestGlobals = globalThis as { afterAll?: (fn: () => void) => void };
if (typeof jestGlobals.afterAll === 'function') {
  jestGlobals.afterAll(() => {
    for (const p of live) p.kill('SIGKILL');
  });
}
