// A real Transmission peer for tests: Debian's transmission-daemon in the foreground, its own config
// folder, everything on 127.0.0.1 (peer port and RPC), DHT/LPD/PEX/uTP/port mapping off. Driven over its
// JSON-RPC. Transmission has no RPC to dial a peer, so tests make the other side dial its peer port.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';

export const TRANSMISSION = '/usr/bin/transmission-daemon';

export const hasTransmission: boolean = spawnSync(TRANSMISSION, ['--version'], { stdio: 'ignore' }).status === 0;

/** Throw (so the test fails, never skips) when transmission-daemon is not installed. */
export function requireTransmission(): void {
  if (!hasTransmission) {
    throw new Error('transmission-daemon is missing: install it with `apt-get install transmission-daemon` (CI does).');
  }
}

export interface TransmissionOptions {
  /** Transmission's `encryption`: 0 prefer plaintext, 1 prefer encrypted (default), 2 require encrypted. */
  encryption?: 0 | 1 | 2;
  /** uTP on (libutp, on the UDP peer port); off by default. */
  utp?: boolean;
}

export interface TransmissionTorrent {
  id: number;
  percentDone: number;
  rateDownload: number;
  uploadedEver: number;
  error: number;
  errorString: string;
  peersConnected: number;
  peers: { address: string; port: number; isEncrypted: boolean; clientName: string }[];
}

export interface Transmission {
  peerPort: number;
  rpc<T = Record<string, unknown>>(method: string, args?: Record<string, unknown>): Promise<T>;
  /** Adds a torrent (the .torrent bytes) saving into `downloadDir`; returns its id. */
  add(torrent: Uint8Array, downloadDir: string): Promise<number>;
  torrent(id: number): Promise<TransmissionTorrent>;
  /** Polls until `done(torrent)` holds; throws after `timeoutMs`. */
  waitFor(id: number, done: (t: TransmissionTorrent) => boolean, timeoutMs?: number): Promise<TransmissionTorrent>;
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const live = new Set<ChildProcess>();

export async function startTransmission(dir: string, opts: TransmissionOptions = {}): Promise<Transmission> {
  requireTransmission();
  const configDir = join(dir, 'transmission-config');
  await mkdir(configDir, { recursive: true });
  const [peerPort, rpcPort] = [await freePort(), await freePort()];
  const settings = {
    'bind-address-ipv4': '127.0.0.1',
    'bind-address-ipv6': '::1',
    'peer-port': peerPort,
    'peer-port-random-on-start': false,
    'port-forwarding-enabled': false,
    'dht-enabled': false,
    'lpd-enabled': false,
    'pex-enabled': false,
    'utp-enabled': opts.utp ?? false,
    'blocklist-enabled': false,
    encryption: opts.encryption ?? 1,
    'rpc-enabled': true,
    'rpc-bind-address': '127.0.0.1',
    'rpc-port': rpcPort,
    'rpc-authentication-required': false,
    'rpc-whitelist-enabled': true,
    'rpc-whitelist': '127.0.0.1',
    'rpc-host-whitelist-enabled': false,
    'download-dir': dir,
    'incomplete-dir-enabled': false,
    'watch-dir-enabled': false,
    'speed-limit-down-enabled': false,
    'speed-limit-up-enabled': false,
    'ratio-limit-enabled': false,
    'idle-seeding-limit-enabled': false,
    'start-added-torrents': true,
    'peer-limit-global': 50,
    'peer-limit-per-torrent': 50,
    'message-level': 2,
  };
  await writeFile(join(configDir, 'settings.json'), JSON.stringify(settings, null, 2));
  const proc = spawn(TRANSMISSION, ['-f', '-g', configDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let log = '';
  const keep = (d: Buffer): void => {
    log = (log + d.toString()).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.on('close', () => {
    live.delete(proc);
    resolve();
  }));

  let sessionId = '';
  const url = `http://127.0.0.1:${rpcPort}/transmission/rpc`;
  async function rpc<T>(method: string, args: Record<string, unknown> = {}): Promise<T> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'X-Transmission-Session-Id': sessionId, 'Content-Type': 'application/json' },
        body: JSON.stringify({ method, arguments: args }),
      });
      if (res.status === 409) {
        sessionId = res.headers.get('X-Transmission-Session-Id') ?? '';
        continue;
      }
      const body = (await res.json()) as { result: string; arguments: T };
      if (body.result !== 'success') throw new Error(`transmission ${method}: ${body.result}`);
      return body.arguments;
    }
    throw new Error(`transmission ${method}: no session id`);
  }

  // The RPC port answers once the daemon is up.
  const t0 = Date.now();
  for (;;) {
    try {
      await rpc('session-get');
      break;
    } catch (e) {
      if (proc.exitCode !== null || Date.now() - t0 > 15_000) {
        proc.kill('SIGKILL');
        throw new Error(`transmission-daemon did not start: ${(e as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const fields = ['id', 'percentDone', 'rateDownload', 'uploadedEver', 'error', 'errorString', 'peersConnected', 'peers'];
  const api: Transmission = {
    peerPort,
    rpc,
    async add(torrent, downloadDir) {
      const r = await rpc<{ 'torrent-added'?: { id: number }; 'torrent-duplicate'?: { id: number } }>('torrent-add', {
        metainfo: Buffer.from(torrent).toString('base64'),
        'download-dir': downloadDir,
        paused: false,
      });
      const t = r['torrent-added'] ?? r['torrent-duplicate'];
      if (!t) throw new Error('transmission torrent-add: no id');
      return t.id;
    },
    async torrent(id) {
      const r = await rpc<{ torrents: TransmissionTorrent[] }>('torrent-get', { ids: [id], fields });
      const t = r.torrents[0];
      if (!t) throw new Error(`transmission: no torrent ${id}`);
      return t;
    },
    async waitFor(id, done, timeoutMs = 60_000) {
      const start = Date.now();
      for (;;) {
        const t = await api.torrent(id);
        if (done(t)) return t;
        if (Date.now() - start > timeoutMs) throw new Error(`transmission torrent ${id} not there after ${timeoutMs} ms: ${JSON.stringify(t)}\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    log: () => log,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return api;
}

/** Stops every daemon this module started (registered with jest's afterAll when imported from a test). */
export async function killAllTransmissions(): Promise<void> {
  for (const p of live) p.kill('SIGKILL');
}

const jestGlobals = globalThis as { afterAll?: (fn: () => Promise<void>, timeout?: number) => void };
if (typeof jestGlobals.afterAll === 'function') jestGlobals.afterAll(killAllTransmissions, 10_000);
