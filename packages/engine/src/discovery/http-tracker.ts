import http from 'node:http';
import https from 'node:https';
import { bdecode, type BDict, type BValue } from '../metainfo/bencode.js';
import { decodeCompact4, decodeCompact6, type Endpoint } from './addr.js';
import {
  badAnswer, MAX_PEERS_PER_ANSWER, REQUEST_TIMEOUT_MS, TrackerRequestError,
  type AnnounceReply, type AnnounceRequest, type Exchange, type ScrapeReply,
} from './tracker-protocol.js';

/** Largest HTTP tracker answer read: 500 peers compact are 3 KB; 1 MiB is far past any honest answer. */
export const MAX_HTTP_BODY = 1024 * 1024;
/** Redirects followed per request (trackers move, but a chain is a loop or a trap). */
export const MAX_REDIRECTS = 3;

function text(v: BValue | undefined): string {
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8') : '';
}

function num(v: BValue | undefined, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;
}

function dict(body: Uint8Array): BDict {
  const d = bdecode(body);
  if (typeof d !== 'object' || d instanceof Uint8Array || Array.isArray(d)) badAnswer('not a dictionary');
  const failure = d['failure reason'];
  if (failure !== undefined) throw new TrackerRequestError(text(failure).slice(0, 300) || 'tracker failure');
  return d;
}

/** BEP 3 peers as a list of dictionaries ({ ip, port }). */
function dictPeers(list: BValue[], out: Endpoint[]): void {
  for (const p of list) {
    if (out.length >= MAX_PEERS_PER_ANSWER) return;
    if (typeof p !== 'object' || p instanceof Uint8Array || Array.isArray(p)) continue;
    const host = text(p.ip);
    const port = p.port;
    if (host && typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536) out.push({ host, port });
  }
}

/** An HTTP tracker's announce answer (BEP 3, BEP 23 compact peers, BEP 7 peers6). Throws a SpritzleError. */
export function parseHttpAnnounce(body: Uint8Array): AnnounceReply {
  const d = dict(body);
  const peers: Endpoint[] = [];
  if (d.peers instanceof Uint8Array) peers.push(...decodeCompact4(d.peers, MAX_PEERS_PER_ANSWER));
  else if (Array.isArray(d.peers)) dictPeers(d.peers, peers);
  if (d.peers6 instanceof Uint8Array) peers.push(...decodeCompact6(d.peers6, MAX_PEERS_PER_ANSWER - peers.length));
  return {
    intervalS: num(d.interval, 0),
    minIntervalS: num(d['min interval'], 0),
    trackerId: d['tracker id'] instanceof Uint8Array ? Buffer.from(d['tracker id']).toString('latin1') : '',
    complete: num(d.complete, -1),
    incomplete: num(d.incomplete, -1),
    warning: text(d['warning message']).slice(0, 300),
    peers,
  };
}

/** An HTTP scrape answer (BEP 48): the one torrent asked about. */
export function parseHttpScrape(body: Uint8Array): ScrapeReply {
  const d = dict(body);
  const files = d.files;
  if (typeof files !== 'object' || files instanceof Uint8Array || Array.isArray(files)) badAnswer('scrape without files');
  const entry = Object.values(files)[0];
  if (typeof entry !== 'object' || entry instanceof Uint8Array || Array.isArray(entry)) badAnswer('scrape without the torrent');
  return { complete: num(entry.complete, -1), incomplete: num(entry.incomplete, -1), downloaded: num(entry.downloaded, -1) };
}

/** Percent-encodes every byte but the unreserved ones (info_hash and peer_id are binary). */
function escapeBytes(b: Uint8Array): string {
  let s = '';
  for (const c of b) {
    const ch = String.fromCharCode(c);
    s += /[A-Za-z0-9.\-_~]/.test(ch) ? ch : `%${c.toString(16).padStart(2, '0').toUpperCase()}`;
  }
  return s;
}

export function announceUrl(base: string, r: AnnounceRequest): string {
  const q = [
    `info_hash=${escapeBytes(r.infoHash)}`, `peer_id=${escapeBytes(r.peerId)}`, `port=${r.port}`,
    `uploaded=${r.uploaded}`, `downloaded=${r.downloaded}`, `left=${r.left}`, 'compact=1',
    `numwant=${r.numWant}`, `key=${(r.key >>> 0).toString(16)}`,
  ];
  if (r.event) q.push(`event=${r.event}`);
  if (r.trackerId) q.push(`trackerid=${encodeURIComponent(r.trackerId)}`);
  return `${base}${base.includes('?') ? '&' : '?'}${q.join('&')}`;
}

/** BEP 48: "announce" in the last path component becomes "scrape"; null if the URL has none. */
export function scrapeUrl(base: string, infoHash: Uint8Array): string | null {
  const u = new URL(base);
  if (!/\/announce[^/]*$/.test(u.pathname)) return null;
  u.pathname = u.pathname.replace(/announce([^/]*)$/, 'scrape$1');
  const s = u.toString();
  return `${s}${u.search ? '&' : '?'}info_hash=${escapeBytes(infoHash)}`;
}

/**
 * GET with a size cap: reading stops (and the request fails) once the body passes `MAX_HTTP_BODY`, so a
 * tracker cannot make us hold more than that; at most MAX_REDIRECTS redirects, to http(s) only.
 */
export function httpGet(url: string, userAgent: string, signal: AbortSignal): Promise<Exchange<Uint8Array>> {
  const spent = { sent: 0, recv: 0 };
  const once = (target: string, hops: number): Promise<Uint8Array> => new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(target);
    } catch {
      reject(new TrackerRequestError('tracker: invalid URL', spent));
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      reject(new TrackerRequestError(`tracker: redirected to a ${u.protocol} URL`, spent));
      return;
    }
    const mod = u.protocol === 'https:' ? https : http;
    const headers = { 'user-agent': userAgent, 'accept-encoding': 'identity', connection: 'close' };
    spent.sent += `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n`.length + 80 + userAgent.length;
    const req = mod.get(u, { headers, agent: false, signal, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      spent.recv += 120; // status line and headers, roughly
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (hops >= MAX_REDIRECTS) {
          reject(new TrackerRequestError(`tracker: more than ${MAX_REDIRECTS} redirects`, spent));
          return;
        }
        // Parsed here, not by once(): a Location that is no URL would otherwise throw out of this callback.
        let next: string;
        try {
          next = new URL(res.headers.location, u).href;
        } catch {
          reject(new TrackerRequestError('tracker: redirected to an invalid URL', spent));
          return;
        }
        once(next, hops + 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new TrackerRequestError(`tracker: HTTP ${status} ${res.statusMessage ?? ''}`.trim(), spent));
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (declared > MAX_HTTP_BODY) {
        req.destroy();
        reject(new TrackerRequestError(`tracker: answer of ${declared} bytes is over the ${MAX_HTTP_BODY}-byte limit`, spent));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        spent.recv += c.length;
        if (size > MAX_HTTP_BODY) {
          req.destroy();
          reject(new TrackerRequestError(`tracker: answer over the ${MAX_HTTP_BODY}-byte limit`, spent));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
      res.on('error', (e) => reject(new TrackerRequestError(`tracker: ${e.message}`, spent)));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(new TrackerRequestError(signal.aborted ? 'tracker request aborted' : `tracker: ${e.message}`, spent)));
  });
  return once(url, 0).then((reply) => ({ reply, ...spent }));
}

export async function httpAnnounce(base: string, r: AnnounceRequest, signal: AbortSignal): Promise<Exchange<AnnounceReply>> {
  const x = await httpGet(announceUrl(base, r), r.userAgent, signal);
  try {
    return { ...x, reply: parseHttpAnnounce(x.reply) };
  } catch (e) {
    throw new TrackerRequestError((e as Error).message, x);
  }
}

export async function httpScrape(base: string, infoHash: Uint8Array, userAgent: string, signal: AbortSignal): Promise<Exchange<ScrapeReply>> {
  const url = scrapeUrl(base, infoHash);
  if (!url) throw new TrackerRequestError('tracker: cannot scrape (no "announce" in the URL)');
  const x = await httpGet(url, userAgent, signal);
  try {
    return { ...x, reply: parseHttpScrape(x.reply) };
  } catch (e) {
    throw new TrackerRequestError((e as Error).message, x);
  }
}
