import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { SpritzleError } from '../errors.js';
import { decodeCompact4, decodeCompact6 } from './addr.js';
import {
  badAnswer, MAX_PEERS_PER_ANSWER, REQUEST_TIMEOUT_MS, TrackerRequestError,
  type AnnounceReply, type AnnounceRequest, type Exchange, type ScrapeReply,
} from './tracker-protocol.js';

// BEP 15. Actions and the magic protocol id of a connect request.
const CONNECT = 0;
const ANNOUNCE = 1;
const SCRAPE = 2;
const ERROR = 3;
const PROTOCOL_ID = 0x41727101980n;
/** IPv4 + UDP header per datagram, as libtorrent counts tracker bytes. */
const UDP_HEADER = 28;
/** A connection id is good for a minute (BEP 15); we reuse it a little less long. */
const CONNECTION_ID_MS = 50_000;
/**
 * Waits per attempt. BEP 15 says 15 * 2^n s (up to an hour); libtorrent gives a UDP tracker a few short
 * tries within its tracker timeouts instead, and so do we: 3 tries, 15 s in all (REQUEST_TIMEOUT_MS).
 */
const ATTEMPT_MS = [3000, 5000, 7000];

const EVENTS = { '': 0, completed: 1, started: 2, stopped: 3 } as const;

/** Connection ids per tracker address (host:port), reused while fresh. */
const connectionIds = new Map<string, { id: Buffer; until: number }>();

/** An announce answer (action 1): interval, leechers, seeders, then 6 (IPv4) or 18 (IPv6) bytes per peer. */
export function parseUdpAnnounce(msg: Uint8Array, v6: boolean): AnnounceReply {
  const b = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  if (b.length < 20 || b.readUInt32BE(0) !== ANNOUNCE) badAnswer('not an announce answer');
  const peersBytes = b.subarray(20);
  return {
    intervalS: b.readUInt32BE(8),
    minIntervalS: 0,
    trackerId: '',
    incomplete: b.readUInt32BE(12),
    complete: b.readUInt32BE(16),
    warning: '',
    peers: v6 ? decodeCompact6(peersBytes, MAX_PEERS_PER_ANSWER) : decodeCompact4(peersBytes, MAX_PEERS_PER_ANSWER),
  };
}

/** A scrape answer (action 2) for one torrent: seeders, completed, leechers. */
export function parseUdpScrape(msg: Uint8Array): ScrapeReply {
  const b = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  if (b.length < 20 || b.readUInt32BE(0) !== SCRAPE) badAnswer('not a scrape answer');
  return { complete: b.readUInt32BE(8), downloaded: b.readUInt32BE(12), incomplete: b.readUInt32BE(16) };
}

/** An error answer (action 3) carries a message; anything else of the wrong action is a bad answer. */
function checkAction(b: Buffer, want: number): void {
  if (b.length < 8) badAnswer('shorter than 8 bytes');
  const action = b.readUInt32BE(0);
  if (action === ERROR) {
    throw new TrackerRequestError(b.subarray(8, 308).toString('utf8') || 'tracker error');
  }
  if (action !== want) badAnswer(`action ${action} where ${want} was expected`);
}

/** One UDP exchange with a tracker: a socket of its own, retries, and the bytes it took. */
class UdpSession {
  private readonly socket: dgram.Socket;
  private waiting: { tid: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  sent = 0;
  recv = 0;

  constructor(readonly host: string, readonly port: number, readonly v6: boolean) {
    this.socket = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    this.socket.on('error', (e) => this.waiting?.reject(e));
    this.socket.on('message', (msg, rinfo) => {
      // Only the tracker's own answers (right port, right transaction) count; the rest is dropped.
      if (rinfo.port !== this.port || msg.length < 8 || !this.waiting) return;
      this.recv += msg.length + UDP_HEADER;
      if (msg.readUInt32BE(4) !== this.waiting.tid) return;
      const w = this.waiting;
      this.waiting = null;
      w.resolve(msg);
    });
  }

  /** Sends `body` (transaction id at offset 12 for connect-based requests, written here) and waits, retrying. */
  async exchange(build: (tid: number) => Buffer, signal: AbortSignal): Promise<Buffer> {
    for (const wait of ATTEMPT_MS) {
      if (signal.aborted) throw new TrackerRequestError('tracker request aborted');
      const tid = randomBytes(4).readUInt32BE(0);
      const msg = build(tid);
      const answer = new Promise<Buffer | null>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiting = null;
          signal.removeEventListener('abort', onAbort);
          resolve(null);
        }, wait);
        const onAbort = (): void => {
          clearTimeout(timer);
          this.waiting = null;
          reject(new TrackerRequestError('tracker request aborted'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiting = {
          tid,
          resolve: (b) => {
            clearTimeout(timer);
            signal.removeEventListener('abort', onAbort);
            resolve(b);
          },
          reject: (e) => {
            clearTimeout(timer);
            signal.removeEventListener('abort', onAbort);
            reject(e);
          },
        };
      });
      this.socket.send(msg, this.port, this.host);
      this.sent += msg.length + UDP_HEADER;
      const got = await answer;
      if (got) return got;
    }
    throw new TrackerRequestError('tracker: no UDP answer (timed out)');
  }

  close(): void {
    this.socket.close();
  }
}

async function resolveHost(hostname: string): Promise<{ host: string; v6: boolean }> {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(h)) return { host: h, v6: net.isIPv6(h) };
  try {
    const a = await dns.lookup(h);
    return { host: a.address, v6: a.family === 6 };
  } catch (e) {
    throw new TrackerRequestError(`tracker: cannot resolve ${h.slice(0, 100)} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

async function withConnection<T>(url: string, signal: AbortSignal, run: (s: UdpSession, cid: Buffer) => Promise<T>): Promise<Exchange<T>> {
  const u = new URL(url);
  const { host, v6 } = await resolveHost(u.hostname);
  const port = Number(u.port);
  const s = new UdpSession(host, port, v6);
  const key = `${host}:${port}`;
  try {
    let cid = connectionIds.get(key);
    if (!cid || cid.until < Date.now()) {
      const answer = await s.exchange((tid) => {
        const b = Buffer.alloc(16);
        b.writeBigUInt64BE(PROTOCOL_ID, 0);
        b.writeUInt32BE(CONNECT, 8);
        b.writeUInt32BE(tid, 12);
        return b;
      }, signal);
      checkAction(answer, CONNECT);
      if (answer.length < 16) badAnswer('connect answer shorter than 16 bytes');
      cid = { id: Buffer.from(answer.subarray(8, 16)), until: Date.now() + CONNECTION_ID_MS };
      connectionIds.set(key, cid);
      // The map only ever holds trackers in use; an old entry is dropped when it is next looked at.
      if (connectionIds.size > 10_000) connectionIds.clear();
    }
    const reply = await run(s, cid.id);
    return { reply, sent: s.sent, recv: s.recv };
  } catch (e) {
    if (e instanceof SpritzleError && !(e instanceof TrackerRequestError)) throw new TrackerRequestError(e.message, { sent: s.sent, recv: s.recv });
    if (e instanceof TrackerRequestError) throw new TrackerRequestError(e.message, { sent: s.sent, recv: s.recv });
    throw new TrackerRequestError(`tracker: ${(e as Error).message}`, { sent: s.sent, recv: s.recv });
  } finally {
    s.close();
  }
}

export function udpAnnounce(url: string, r: AnnounceRequest, signal: AbortSignal): Promise<Exchange<AnnounceReply>> {
  return withConnection(url, signal, async (s, cid) => {
    const answer = await s.exchange((tid) => {
      const b = Buffer.alloc(98);
      cid.copy(b, 0);
      b.writeUInt32BE(ANNOUNCE, 8);
      b.writeUInt32BE(tid, 12);
      b.set(r.infoHash, 16);
      b.set(r.peerId, 36);
      b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(r.downloaded))), 56);
      b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(r.left))), 64);
      b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(r.uploaded))), 72);
      b.writeUInt32BE(EVENTS[r.event], 80);
      b.writeUInt32BE(0, 84); // ip: the sender's
      b.writeUInt32BE(r.key >>> 0, 88);
      b.writeInt32BE(r.numWant, 92);
      b.writeUInt16BE(r.port, 96);
      return b;
    }, signal);
    checkAction(answer, ANNOUNCE);
    return parseUdpAnnounce(answer, s.v6);
  });
}

export function udpScrape(url: string, infoHash: Uint8Array, signal: AbortSignal): Promise<Exchange<ScrapeReply>> {
  return withConnection(url, signal, async (s, cid) => {
    const answer = await s.exchange((tid) => {
      const b = Buffer.alloc(36);
      cid.copy(b, 0);
      b.writeUInt32BE(SCRAPE, 8);
      b.writeUInt32BE(tid, 12);
      b.set(infoHash, 16);
      return b;
    }, signal);
    checkAction(answer, SCRAPE);
    return parseUdpScrape(answer);
  });
}
