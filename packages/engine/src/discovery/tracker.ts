import querystring from 'node:querystring';
import bencode from 'bencode';
import type { Client, AnnounceOptions, AnnounceResponse, ScrapeResponse } from 'bittorrent-tracker';

/** bittorrent-tracker, loaded at the first announce: sessions without trackers never pay for it. */
let trackerModule: Promise<typeof import('bittorrent-tracker')> | null = null;
import { M, type Counters } from '../counters.js';
import { SpritzleError } from '../errors.js';
import type { DiscoveryStatus } from '../status.js';
import type { TrackerInfo } from '../torrent-handle.js';
import { parseEndpoint } from './addr.js';
import type { DiscoveryTorrent } from './types.js';

/** Seconds between announces when a tracker names no interval (libtorrent's default). */
const DEFAULT_INTERVAL_S = 1800;
/** libtorrent's tracker_retry_delay_max and tracker_backoff (percent). */
const RETRY_DELAY_MAX_S = 3600;
const BACKOFF_PERCENT = 250;
/** bittorrent-tracker gives up after 15 s; this guard only catches a request the library never settles. */
const REQUEST_GUARD_MS = 20_000;
/** How long close() waits for event=stopped answers (libtorrent's stop_tracker_timeout is 5 s; 2 s keeps shutdown snappy). */
const STOP_WAIT_MS = 2000;
/**
 * Most trackers per torrent. libtorrent sets no hard number but bounds what it parses; real torrents and
 * magnets list a few dozen (the biggest public lists hold a few hundred), so 1,000 is never reached by an
 * honest one and keeps the per-announce walk and the list's memory small.
 */
export const MAX_TRACKERS = 1000;

export function tooManyTrackers(field: string): never {
  throw new SpritzleError('invalid_param', `more than ${MAX_TRACKERS} trackers for one torrent (the cap per torrent)`, { field });
}

/**
 * Inserts `item` after every element of a lower or equal tier (the list stays ordered by tier, insertion
 * order within a tier). Appending, the common case, costs one comparison; otherwise a binary search.
 */
export function insertByTier<T extends { readonly tier: number }>(list: T[], item: T): void {
  const tier = item.tier;
  if (list.length === 0 || list[list.length - 1]!.tier <= tier) {
    list.push(item);
    return;
  }
  let lo = 0;
  let hi = list.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.tier <= tier) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
}

/** Most peers taken from one answer (a hostile tracker could send thousands). */
const MAX_PEERS_PER_ANSWER = 500;

// Byte estimates. bittorrent-tracker does not expose what it puts on the wire, so the tracker byte counters
// are computed from the protocol: UDP (BEP 15) messages have fixed sizes, plus 28 bytes of IPv4 + UDP header
// per datagram as libtorrent counts them; HTTP requests are the real request line (the query string is built
// the way the library builds it) plus typical fetch headers, responses are the re-encoded bencoded body (the
// same length when the tracker encodes canonically, as bencode requires) plus a typical header block.
const UDP_HEADER = 28;
const UDP_CONNECT = 16;
const UDP_ANNOUNCE_REQ = 98;
const UDP_ANNOUNCE_RESP = 20;
const UDP_SCRAPE_REQ = 16 + 20;
const UDP_SCRAPE_RESP = 8 + 12;
const HTTP_RESPONSE_HEADERS = 120;

type Kind = 'http' | 'udp';
type EventName = 'started' | 'completed' | 'stopped' | '';

/** What a tracker list needs from the session. */
export interface TrackerHost {
  readonly counters: Counters;
  readonly peerId: Uint8Array;
  readonly listenPort: number;
  readonly userAgent: string;
  /** Seconds: floor under a tracker's interval. */
  readonly minAnnounceInterval: number;
  /** Seconds: first retry delay after a failure. */
  readonly retryDelayMin: number;
  readonly numWant: number;
  /** Moves tracker.num_queued_tracker_announces (requests in flight across the session). */
  queued(delta: number): void;
  /** Our own address, as a tracker hands it back. */
  isSelf(host: string, port: number): boolean;
}

interface TrackerEntry {
  url: string;
  tier: number;
  /** null: a scheme we cannot announce to (ws:, garbage); shown with an error, never announced. */
  kind: Kind | null;
  fails: number;
  message: string;
  /** ms timestamps */
  nextAnnounce: number;
  minAnnounce: number;
  lastScrape: number;
  intervalS: number;
  startSent: boolean;
  completeSent: boolean;
  /** It answered an announce at least once. */
  verified: boolean;
  updating: boolean;
  numPeers: number;
  trackerId: string;
}

type Result =
  | { ok: true; data: AnnounceResponse | ScrapeResponse; peers: string[]; warning: string; intervalMs: number | null }
  | { ok: false; error: string; peers: string[] };

interface LibraryTracker {
  setInterval(ms?: number): void;
}

/** Which protocol a tracker URL speaks; null for anything spritzle cannot announce to. */
export function trackerKind(url: string): Kind | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if ((u.protocol === 'http:' || u.protocol === 'https:') && u.hostname) return 'http';
  if (u.protocol === 'udp:' && u.hostname && u.port) return 'udp';
  return null;
}

function canScrape(e: TrackerEntry): boolean {
  // BEP 48: an HTTP tracker scrapes at the announce URL with "announce" replaced by "scrape" in the last
  // path component; UDP trackers always can (BEP 15).
  return e.kind === 'udp' || (e.kind === 'http' && /\/announce[^/]*$/.test(new URL(e.url).pathname));
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The query string as bittorrent-tracker builds it (querystring with `escape`, and @*\/+ escaped too). */
function libraryQuery(params: Record<string, string | number>): string {
  return querystring.stringify(params, undefined, undefined, { encodeURIComponent: escape })
    .replace(/[@*/+]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * One torrent's trackers, libtorrent's way: tiers tried in order, the first tracker of the first tier that
 * answers is used and promoted to the front of its tier (BEP 12); a failing tracker backs off (17.5 s, then
 * growing quadratically, at most an hour: libtorrent's formula) while the next one stands in; intervals come from the tracker,
 * floored by min_announce_interval; started / completed / stopped go to each tracker once, as libtorrent
 * sends them. One request is in flight per torrent (stops aside), so answers never race.
 */
export class TrackerList {
  private readonly entries: TrackerEntry[] = [];
  /** The entries' URLs: the duplicate check is one lookup, not a walk of the list. */
  private readonly urls = new Set<string>();
  private started = false;
  private closed = false;
  private completedPending = false;
  /** Bumped by start and stop: answers to requests of an earlier run are stale. */
  private generation = 0;
  private busy: { entry: TrackerEntry } | null = null;
  private current: TrackerEntry | null = null;
  private scrapeWanted = false;
  private numComplete = -1;
  private numIncomplete = -1;
  private lastScrapeAt = 0;
  private readonly stops = new Set<Promise<void>>();
  private readonly live = new Set<Client>();

  constructor(private readonly host: TrackerHost, private readonly t: DiscoveryTorrent, urls: readonly string[], tiers?: readonly number[]) {
    if (urls.length > MAX_TRACKERS) tooManyTrackers('trackers');
    let tier = 0;
    urls.forEach((url, i) => {
      // libtorrent: a tracker without a tier of its own shares the previous one's.
      if (tiers && i < tiers.length) tier = tiers[i]!;
      this.insert(url, tier);
    });
  }

  // ---------------------------------------------------------------- list

  /** Adds a tracker (a duplicate URL is ignored); an unusable URL is kept and shown with an error. */
  private insert(rawUrl: string, tier: number): boolean {
    const url = rawUrl.trim().replace(/\/$/, '');
    if (url === '' || this.urls.has(url)) return false;
    const kind = trackerKind(url);
    const e: TrackerEntry = {
      url, tier, kind, fails: 0, message: kind ? '' : 'unsupported tracker protocol',
      nextAnnounce: 0, minAnnounce: 0, lastScrape: 0, intervalS: 0,
      startSent: false, completeSent: false, verified: false, updating: false, numPeers: 0, trackerId: '',
    };
    insertByTier(this.entries, e);
    this.urls.add(url);
    return true;
  }

  add(url: string, tier: number): void {
    if (!trackerKind(url.trim())) {
      throw new SpritzleError('invalid_param', `tracker "${url}" is not an http(s):// or udp://host:port URL`, { field: 'url' });
    }
    if (!Number.isInteger(tier) || tier < 0) throw new SpritzleError('invalid_param', 'tier must be a non-negative integer', { field: 'tier' });
    if (this.entries.length >= MAX_TRACKERS) tooManyTrackers('url');
    if (this.insert(url, tier) && this.started) this.tick(Date.now());
  }

  remove(url: string): boolean {
    const u = url.trim().replace(/\/$/, '');
    const i = this.entries.findIndex((e) => e.url === u);
    if (i < 0) return false;
    const [e] = this.entries.splice(i, 1);
    this.urls.delete(u);
    if (this.current === e) this.current = null;
    if (this.busy?.entry === e) this.busy = null;
    return true;
  }

  /** Trackers from metadata that arrived later (a magnet): added to what the torrent already has. */
  merge(tiers: readonly (readonly string[])[]): void {
    // Metadata arrives on its own: past the cap, further trackers are left out rather than refused.
    tiers.forEach((urls, tier) => urls.forEach((u) => {
      if (this.entries.length < MAX_TRACKERS) this.insert(u, tier);
    }));
    if (this.started) this.tick(Date.now());
  }

  info(): TrackerInfo[] {
    return this.entries.map((e) => ({
      url: e.url,
      tier: e.tier,
      status: !e.kind ? 'error' : e.updating ? 'announcing' : e.fails > 0 ? 'error' : e.verified ? 'working' : 'idle',
      message: e.message,
      num_peers: e.numPeers,
    }));
  }

  get hasTrackers(): boolean {
    return this.entries.some((e) => e.kind !== null);
  }

  // ---------------------------------------------------------------- life

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.generation++;
    for (const e of this.entries) e.nextAnnounce = 0;
    this.tick(Date.now());
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.generation++;
    this.busy = null;
    // libtorrent sends stopped only to trackers that were told started.
    for (const e of this.entries) {
      if (!e.startSent) continue;
      e.startSent = false;
      this.sendStopped(e);
    }
  }

  completed(): void {
    this.completedPending = true;
    if (this.started) this.tick(Date.now());
  }

  forceReannounce(): void {
    // libtorrent's force_reannounce honours the tracker's min interval by default.
    for (const e of this.entries) e.nextAnnounce = e.minAnnounce;
    if (this.started) this.tick(Date.now());
  }

  scrape(): void {
    this.scrapeWanted = true;
    this.tick(Date.now());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stop();
    this.closed = true;
    if (this.stops.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(this.stops),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, STOP_WAIT_MS);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
    }
    for (const c of this.live) c.destroy();
  }

  // ---------------------------------------------------------------- scheduling

  /** Starts the announce or scrape that is due, if none is in flight. Cheap when nothing is due. */
  tick(now: number): void {
    if (this.closed || this.busy) return;
    if (this.started) {
      for (const e of this.entries) {
        if (!e.kind) continue;
        const due = e.nextAnnounce <= now || (this.completedPending && e.startSent && !e.completeSent);
        if (!due) {
          // A working tracker that is not due yet: the trackers after it wait (BEP 12).
          if (e.fails === 0 && e.startSent) break;
          // Backing off: the next one stands in.
          continue;
        }
        void this.announce(e);
        return;
      }
    }
    const s = this.current ?? this.entries.find((e) => e.kind && canScrape(e));
    if (!s || !canScrape(s)) return;
    const scrapeDue = this.scrapeWanted || (this.started && s.verified && now - s.lastScrape >= s.intervalS * 1000);
    if (scrapeDue) void this.scrapeOne(s);
  }

  private eventFor(e: TrackerEntry): EventName {
    if (!e.startSent) return 'started';
    if (this.completedPending && !e.completeSent) return 'completed';
    return '';
  }

  private announceOptions(e: TrackerEntry, event: EventName): AnnounceOptions {
    const t = this.t;
    const opts: AnnounceOptions = {
      numwant: event === 'stopped' ? 0 : this.host.numWant,
      uploaded: t.uploaded,
      downloaded: t.downloaded,
      left: t.left,
    };
    // The HTTP client copies unknown keys into the query string: BEP 3's trackerid goes back as given.
    if (e.trackerId) opts.trackerid = e.trackerId;
    return opts;
  }

  private async announce(e: TrackerEntry): Promise<void> {
    const token = { entry: e };
    this.busy = token;
    e.updating = true;
    const gen = this.generation;
    const event = this.eventFor(e);
    const r = await this.request(e, 'announce', event, this.announceOptions(e, event));
    e.updating = false;
    if (this.busy === token) this.busy = null;
    if (this.closed || !this.entries.includes(e)) return;
    if (gen !== this.generation) {
      // Stopped while this was in flight: a tracker that just registered us is told we left.
      if (r.ok && event !== 'stopped' && !this.started) this.sendStopped(e);
      return;
    }
    const now = Date.now();
    if (r.ok) this.announced(e, event, r.data as AnnounceResponse, r.peers, r.warning, r.intervalMs, now);
    else this.failed(e, r.error, now);
    this.tick(now);
  }

  private announced(e: TrackerEntry, event: EventName, data: AnnounceResponse, peers: string[], warning: string, intervalMs: number | null, now: number): void {
    const asked = typeof data.interval === 'number' && data.interval > 0 ? data.interval : intervalMs ? intervalMs / 1000 : DEFAULT_INTERVAL_S;
    const minInterval = typeof data['min interval'] === 'number' ? data['min interval'] : 0;
    e.intervalS = Math.max(asked, minInterval, this.host.minAnnounceInterval);
    e.nextAnnounce = now + e.intervalS * 1000;
    e.minAnnounce = now + minInterval * 1000;
    e.fails = 0;
    e.verified = true;
    e.message = warning;
    if (event === 'started') e.startSent = true;
    if (event === 'completed') e.completeSent = true;
    if (data['tracker id'] instanceof Uint8Array) e.trackerId = latin1(data['tracker id']);
    if (typeof data.complete === 'number') this.numComplete = data.complete;
    if (typeof data.incomplete === 'number') this.numIncomplete = data.incomplete;
    let n = 0;
    for (const addr of peers) {
      const p = parseEndpoint(addr);
      if (!p || this.host.isSelf(p.host, p.port)) continue;
      n++;
      this.t.addPeer(p.host, p.port, 'tracker');
    }
    e.numPeers = n;
    // BEP 12: the tracker that answered moves to the front of its tier.
    const i = this.entries.indexOf(e);
    const first = this.entries.findIndex((x) => x.tier === e.tier);
    if (i > first) {
      this.entries.splice(i, 1);
      this.entries.splice(first, 0, e);
    }
    this.current = e;
  }

  private failed(e: TrackerEntry, error: string, now: number): void {
    e.fails++;
    e.message = error;
    const min = this.host.retryDelayMin;
    const delay = Math.min(RETRY_DELAY_MAX_S, min + (e.fails * e.fails * min * BACKOFF_PERCENT) / 100);
    e.nextAnnounce = now + delay * 1000;
  }

  private sendStopped(e: TrackerEntry): void {
    const p = this.request(e, 'announce', 'stopped', this.announceOptions(e, 'stopped')).then((r) => {
      if (!r.ok) e.message = r.error;
    });
    this.stops.add(p);
    void p.finally(() => this.stops.delete(p));
  }

  private async scrapeOne(e: TrackerEntry): Promise<void> {
    const token = { entry: e };
    this.busy = token;
    this.scrapeWanted = false;
    const r = await this.request(e, 'scrape', '', {});
    if (this.busy === token) this.busy = null;
    if (this.closed) return;
    const now = Date.now();
    // A failed scrape is not retried before the next interval either: scrapes are informational.
    e.lastScrape = now;
    if (r.ok) {
      const d = r.data as ScrapeResponse;
      if (typeof d.complete === 'number') this.numComplete = d.complete;
      if (typeof d.incomplete === 'number') this.numIncomplete = d.incomplete;
      this.lastScrapeAt = now;
    }
    this.tick(now);
  }

  // ---------------------------------------------------------------- one request

  /**
   * One request on a fresh bittorrent-tracker Client holding just this URL: its events then belong to this
   * request alone (the library reports errors as bare 'warning's without saying which tracker or request),
   * and no library timer outlives it. UDP opens a socket per request in the library anyway.
   */
  private async request(e: TrackerEntry, kind: 'announce' | 'scrape', event: EventName, opts: AnnounceOptions): Promise<Result> {
    const h = this.host;
    trackerModule ??= import('bittorrent-tracker');
    const { Client: TrackerClient } = await trackerModule;
    const client: Client = new TrackerClient({
      infoHash: this.t.infoHashBytes, peerId: h.peerId, announce: [e.url], port: h.listenPort, userAgent: h.userAgent, wrtc: false,
    });
    // The library re-arms its own announce timer from each answer; spritzle schedules announces itself, so
    // the timer is replaced by a recorder of the interval the tracker asked for (UDP reports it nowhere else).
    let intervalMs: number | null = null;
    for (const lt of (client as unknown as { _trackers: LibraryTracker[] })._trackers) {
      lt.setInterval = (ms?: number): void => {
        if (ms) intervalMs = ms;
      };
    }
    this.live.add(client);
    h.queued(1);
    return new Promise<Result>((resolve) => {
      let settled = false;
      let warning = '';
      const peers: string[] = [];
      const finish = (r: { ok: true; data: AnnounceResponse | ScrapeResponse } | { ok: false; error: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        // An answer's peers are 'peer' events emitted right after its 'update', in the same tick.
        setImmediate(() => {
          this.live.delete(client);
          client.destroy();
          h.queued(-1);
          const result: Result = r.ok ? { ...r, peers, warning, intervalMs } : { ...r, peers };
          this.account(e, kind, event, opts, result);
          resolve(result);
        });
      };
      client.on('update', (data: AnnounceResponse) => finish({ ok: true, data }));
      client.on('scrape', (data: ScrapeResponse) => finish({ ok: true, data }));
      client.on('peer', (addr: string) => {
        if (peers.length < MAX_PEERS_PER_ANSWER) peers.push(addr);
      });
      client.on('warning', (err: Error) => {
        warning = err.message;
        // An HTTP tracker's "warning message" is emitted just before the answer it came with: that answer wins.
        setImmediate(() => finish({ ok: false, error: err.message }));
      });
      client.on('error', (err: Error) => finish({ ok: false, error: err.message }));
      const guard = setTimeout(() => finish({ ok: false, error: 'tracker request timed out' }), REQUEST_GUARD_MS);
      guard.unref();
      try {
        if (kind === 'scrape') client.scrape({});
        else if (event === 'started') client.start(opts);
        else if (event === 'completed') client.complete(opts);
        else if (event === 'stopped') client.stop(opts);
        else client.update(opts);
      } catch (err) {
        finish({ ok: false, error: (err as Error).message });
      }
    });
  }

  /** net.sent_tracker_bytes / net.recv_tracker_bytes (estimates: see the constants above). */
  private account(e: TrackerEntry, kind: 'announce' | 'scrape', event: EventName, opts: AnnounceOptions, r: Result): void {
    const c = this.host.counters;
    let sent: number;
    let recv = 0;
    if (e.kind === 'udp') {
      // Without an answer we cannot tell whether the connect exchange got through: count the connect only.
      sent = UDP_CONNECT + UDP_HEADER;
      if (r.ok) {
        sent += (kind === 'scrape' ? UDP_SCRAPE_REQ : UDP_ANNOUNCE_REQ) + UDP_HEADER;
        recv = UDP_CONNECT + UDP_HEADER + (kind === 'scrape' ? UDP_SCRAPE_RESP : UDP_ANNOUNCE_RESP + 6 * r.peers.length) + UDP_HEADER;
      }
    } else {
      const url = new URL(e.url);
      const params: Record<string, string | number> = {
        info_hash: latin1(this.t.infoHashBytes),
      };
      let path = url.pathname;
      if (kind === 'announce') {
        for (const [k, v] of Object.entries(opts)) if (typeof v === 'number' || typeof v === 'string') params[k] = v;
        if (event) params.event = event;
        Object.assign(params, { compact: 1, peer_id: latin1(this.host.peerId), port: this.host.listenPort });
      } else {
        path = path.replace(/announce([^/]*)$/, 'scrape$1');
      }
      const requestLine = `GET ${path}${url.search ? `${url.search}&` : '?'}${libraryQuery(params)} HTTP/1.1\r\n`;
      const headers = `Host: ${url.host}\r\nUser-Agent: ${this.host.userAgent}\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: close\r\n\r\n`;
      sent = requestLine.length + headers.length;
      if (r.ok) {
        let body: Record<string, unknown>;
        if (kind === 'scrape') {
          const d = r.data as ScrapeResponse;
          body = { files: { [latin1(this.t.infoHashBytes)]: { complete: d.complete, downloaded: d.downloaded, incomplete: d.incomplete } } };
        } else {
          const { announce: _a, infoHash: _i, ...rest } = r.data as AnnounceResponse;
          body = rest;
        }
        recv = bencode.encode(body).length + HTTP_RESPONSE_HEADERS;
      }
    }
    c.inc(M.net_sent_tracker_bytes, sent);
    c.inc(M.net_recv_tracker_bytes, recv);
  }

  // ---------------------------------------------------------------- status

  status(now: number): Pick<DiscoveryStatus, 'current_tracker' | 'next_announce_s' | 'announce_interval_s' | 'num_complete' | 'num_incomplete' | 'last_scrape' | 'announcing_to_trackers'> {
    return {
      current_tracker: this.current?.url ?? '',
      next_announce_s: this.nextAnnounceS(now),
      announce_interval_s: this.current?.intervalS ?? 0,
      num_complete: this.numComplete,
      num_incomplete: this.numIncomplete,
      last_scrape: this.lastScrapeAt ? Math.floor((now - this.lastScrapeAt) / 1000) : -1,
      announcing_to_trackers: this.started && this.hasTrackers,
    };
  }

  /** Seconds until tick() would announce next, following the same walk. */
  private nextAnnounceS(now: number): number {
    if (!this.started || this.busy) return 0;
    let best = Infinity;
    for (const e of this.entries) {
      if (!e.kind) continue;
      best = Math.min(best, e.nextAnnounce);
      if (e.fails === 0 && e.startSent) break;
    }
    return best === Infinity ? 0 : Math.max(0, Math.ceil((best - now) / 1000));
  }
}
