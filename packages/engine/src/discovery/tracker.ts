import { randomBytes } from 'node:crypto';
import { M, type Counters } from '../stats/counters.js';
import { SpritzleError } from '../errors.js';
import { isDialable } from './addr.js';
import { httpAnnounce, httpScrape } from './http-tracker.js';
import { TrackerRequestError, type AnnounceReply, type AnnounceRequest, type Exchange, type ScrapeReply } from './tracker-protocol.js';
import { udpAnnounce, udpScrape } from './udp-tracker.js';
import type { DiscoveryStatus, DiscoveryTorrent, TrackerInfo } from './types.js';

/** Seconds between announces when a tracker names no interval (libtorrent's default). */
const DEFAULT_INTERVAL_S = 1800;
/** libtorrent's tracker_retry_delay_max and tracker_backoff (percent). */
const RETRY_DELAY_MAX_S = 3600;
const BACKOFF_PERCENT = 250;
/** Guard over a whole request (UDP: connect and announce, each with retries); the protocols time out sooner. */
const REQUEST_GUARD_MS = 35_000;
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
  /** When the last announce was answered or failed; 0 before any. */
  lastAnnounce: number;
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
  | { ok: true; announce?: AnnounceReply; scrape?: ScrapeReply }
  | { ok: false; error: string };

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
  /** event=stopped requests in flight (made at the first: most loaded torrents never send one). */
  private stops: Set<Promise<void>> | null = null;
  /** Requests in flight, aborted when the list closes (made at the first request). */
  private live: Set<AbortController> | null = null;
  /** BEP 3 / BEP 15 `key`: one random number per torrent, so a tracker knows us across address changes. */
  /** libtorrent's tracker key, drawn at the first announce (a restore of 50,000 torrents spent 0.4 s drawing them). */
  private keyValue = -1;
  private get key(): number {
    if (this.keyValue < 0) this.keyValue = randomBytes(4).readUInt32BE(0);
    return this.keyValue;
  }

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
      nextAnnounce: 0, lastAnnounce: 0, minAnnounce: 0, lastScrape: 0, intervalS: 0,
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
      last_announce: e.lastAnnounce > 0 ? Math.floor(e.lastAnnounce / 1000) : -1,
      // nextAnnounce is 0 for "at once" (a start or a new tracker): shown as now rather than 1970.
      next_announce: this.started && e.kind ? Math.floor(Math.max(e.nextAnnounce, Date.now()) / 1000) : -1,
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

  /**
   * The torrent is known by another info-hash now (a hybrid from a btmh magnet learnt its v1 hash): a swarm
   * new to every tracker, so each is told `started` at once, not at its next interval.
   */
  swarmChanged(): void {
    for (const e of this.entries) {
      e.startSent = false;
      e.nextAnnounce = 0;
    }
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
    if (this.stops && this.stops.size > 0) {
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
    if (this.live) for (const c of this.live) c.abort();
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

  private announceRequest(e: TrackerEntry, event: EventName): AnnounceRequest {
    const t = this.t;
    const h = this.host;
    return {
      infoHash: t.infoHashBytes, peerId: h.peerId, port: h.listenPort,
      uploaded: t.uploaded, downloaded: t.downloaded, left: t.left, event,
      numWant: event === 'stopped' ? 0 : h.numWant,
      // BEP 3's trackerid goes back as given.
      trackerId: e.trackerId, key: this.key, userAgent: h.userAgent,
    };
  }

  private async announce(e: TrackerEntry): Promise<void> {
    const token = { entry: e };
    this.busy = token;
    e.updating = true;
    const gen = this.generation;
    const event = this.eventFor(e);
    const r = await this.request(e, event);
    e.updating = false;
    if (this.busy === token) this.busy = null;
    if (this.closed || !this.entries.includes(e)) return;
    if (gen !== this.generation) {
      // Stopped while this was in flight: a tracker that just registered us is told we left.
      if (r.ok && event !== 'stopped' && !this.started) this.sendStopped(e);
      return;
    }
    const now = Date.now();
    if (!r.ok) this.failed(e, r.error, now);
    else if (r.announce) this.announced(e, event, r.announce, now);
    this.tick(now);
  }

  private announced(e: TrackerEntry, event: EventName, data: AnnounceReply, now: number): void {
    const asked = data.intervalS > 0 ? data.intervalS : DEFAULT_INTERVAL_S;
    const minInterval = data.minIntervalS;
    e.intervalS = Math.max(asked, minInterval, this.host.minAnnounceInterval);
    e.nextAnnounce = now + e.intervalS * 1000;
    e.lastAnnounce = now;
    e.minAnnounce = now + minInterval * 1000;
    e.fails = 0;
    e.verified = true;
    e.message = data.warning;
    if (event === 'started') e.startSent = true;
    if (event === 'completed') e.completeSent = true;
    if (data.trackerId) e.trackerId = data.trackerId;
    if (data.complete >= 0) this.numComplete = data.complete;
    if (data.incomplete >= 0) this.numIncomplete = data.incomplete;
    let n = 0;
    for (const p of data.peers) {
      // 0.0.0.0, multicast, broadcast, port 0 and ourselves never become connect candidates.
      if (!isDialable(p.host, p.port) || this.host.isSelf(p.host, p.port)) continue;
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
    e.lastAnnounce = now;
  }

  private sendStopped(e: TrackerEntry): void {
    const p = this.request(e, 'stopped').then((r) => {
      if (!r.ok) e.message = r.error;
    });
    const stops = (this.stops ??= new Set());
    stops.add(p);
    void p.finally(() => stops.delete(p));
  }

  private async scrapeOne(e: TrackerEntry): Promise<void> {
    const token = { entry: e };
    this.busy = token;
    this.scrapeWanted = false;
    const r = await this.request(e, null);
    if (this.busy === token) this.busy = null;
    if (this.closed) return;
    const now = Date.now();
    // A failed scrape is not retried before the next interval either: scrapes are informational.
    e.lastScrape = now;
    if (r.ok && r.scrape) {
      const d = r.scrape;
      if (d.complete >= 0) this.numComplete = d.complete;
      if (d.incomplete >= 0) this.numIncomplete = d.incomplete;
      this.lastScrapeAt = now;
    }
    this.tick(now);
  }

  // ---------------------------------------------------------------- one request

  /**
   * One announce (event given) or scrape (event null) with our own HTTP (BEP 3/23/7/48) or UDP (BEP 15)
   * client: bounded answers, bdecode, no timer outliving the request. Never throws: a failure is a result.
   */
  private async request(e: TrackerEntry, event: EventName | null): Promise<Result> {
    const h = this.host;
    const ac = new AbortController();
    const guard = setTimeout(() => ac.abort(), REQUEST_GUARD_MS);
    guard.unref();
    const live = (this.live ??= new Set());
    live.add(ac);
    h.queued(1);
    let sent = 0;
    let recv = 0;
    try {
      let x: Exchange<AnnounceReply> | Exchange<ScrapeReply>;
      if (event === null) {
        x = e.kind === 'udp' ? await udpScrape(e.url, this.t.infoHashBytes, ac.signal) : await httpScrape(e.url, this.t.infoHashBytes, h.userAgent, ac.signal);
      } else {
        const req = this.announceRequest(e, event);
        x = e.kind === 'udp' ? await udpAnnounce(e.url, req, ac.signal) : await httpAnnounce(e.url, req, ac.signal);
        // BEP 52: a hybrid is in two swarms; it announces its truncated v2 hash too and takes both peer lists.
        const v2 = this.t.v2SwarmHash;
        if (v2) {
          const req2 = { ...req, infoHash: Buffer.from(v2, 'hex') };
          const x2 = await (e.kind === 'udp' ? udpAnnounce(e.url, req2, ac.signal) : httpAnnounce(e.url, req2, ac.signal)).catch(() => null);
          if (x2) {
            (x.reply as AnnounceReply).peers.push(...x2.reply.peers);
            x = { ...x, sent: x.sent + x2.sent, recv: x.recv + x2.recv };
          }
        }
      }
      sent = x.sent;
      recv = x.recv;
      return event === null ? { ok: true, scrape: x.reply as ScrapeReply } : { ok: true, announce: x.reply as AnnounceReply };
    } catch (err) {
      if (err instanceof TrackerRequestError) {
        sent = err.spent.sent;
        recv = err.spent.recv;
      }
      const message = ac.signal.aborted && !this.closed ? 'tracker request timed out' : (err as Error).message;
      return { ok: false, error: message };
    } finally {
      clearTimeout(guard);
      live.delete(ac);
      h.queued(-1);
      // net.sent_tracker_bytes / net.recv_tracker_bytes: what went over the wire (headers estimated for HTTP).
      h.counters.inc(M.net_sent_tracker_bytes, sent);
      h.counters.inc(M.net_recv_tracker_bytes, recv);
    }
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

  /**
   * The earliest time tick() may start a request (ms): `now` while one is in flight (its answer sets the next,
   * so the caller looks again soon), Infinity when only a call on the list can make one due (stopped, no
   * usable tracker). Never later than tick() would act, so a caller that ticks then misses nothing.
   */
  nextDueAt(now: number): number {
    if (this.closed) return Infinity;
    if (this.busy || this.scrapeWanted) return now;
    if (!this.started) return Infinity;
    let best = Infinity;
    for (const e of this.entries) {
      if (!e.kind) continue;
      if (this.completedPending && e.startSent && !e.completeSent) return now;
      if (e.nextAnnounce < best) best = e.nextAnnounce;
      if (e.fails === 0 && e.startSent) break;
    }
    const s = this.current ?? this.entries.find((e) => e.kind && canScrape(e));
    if (s && s.verified && canScrape(s)) best = Math.min(best, s.lastScrape + s.intervalS * 1000);
    return best;
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
