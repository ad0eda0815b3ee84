import type { PiecePicker } from '../algo/piece-picker.js';
import { pickTimeCritical, type PieceDeadlines } from '../algo/piece-deadlines.js';
import { WebSeedHttpError, fetchRange, httpSeedRequests, rangeRequests, webSeedAgents, type FetchOptions, type RangeRequest, type WebSeedAgents, type WebSeedFile } from '../discovery/web-seed.js';
import { BLOCK_SIZE } from '../block-size.js';

/** A web seed in a torrent's list (libtorrent's url_seeds, with what spritzle knows of each). */
export interface WebSeedInfo {
  url: string;
  /** url: a BEP 19 url seed; http: a BEP 17 http seed (libtorrent's web_seed_entry type names). */
  type: WebSeedKind;
  /** idle: waits for work; downloading: a request is out; backoff: failed, retried at retry_at; failed: dropped. */
  state: 'idle' | 'downloading' | 'backoff' | 'failed';
  /** The last failure ('' if none). */
  error: string;
  /** Failures in a row (reset by a good answer). */
  failures: number;
  /** Payload bytes received from it. */
  total_download: number;
  /** Bytes/s, averaged over a few seconds. */
  download_rate: number;
  /** Unix ms when a backed-off seed is tried again, 0 otherwise. */
  retry_at: number;
}

/** Failures in a row after which a web seed is dropped (its reason stays in the list). */
export const MAX_WEB_SEED_FAILURES = 5;
/** The first retry waits this long; each failure doubles it, up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;
/**
 * Bytes asked of a web seed per request: four pieces within 256 KiB..1 MiB (fewer round trips than 16 KiB
 * blocks, yet small enough that several web seeds share a torrent); a piece at least.
 */
const MIN_REQUEST_BYTES = 256 * 1024;
const MAX_REQUEST_BYTES = 1 << 20;
/** Requests out at once per web seed (up to 8 MiB), each on a kept-alive connection of its own. */
const IN_FLIGHT = 8;

/** url: a BEP 19 web seed (`url-list`, url_seeds: files by URL, Range requests); http: a BEP 17 HTTP seed
 * (`httpseeds`, http_seeds: a script asked for pieces by info-hash). */
export type WebSeedKind = 'url' | 'http';

/** One web seed: its URL, state and counts. Also a contributor of blocks to pieces (hash-fail accounting). */
export class WebSeed {
  readonly isWebSeed = true;
  state: WebSeedInfo['state'] = 'idle';
  error = '';
  failures = 0;
  totalDownload = 0;
  downloadRate = 0;
  retryAt = 0;
  inFlight = 0;
  /** Trust, as peers have it (kept so a contributor is a contributor). */
  trust = 0;
  private bytesInTick = 0;
  readonly aborts = new Set<AbortController>();
  /** Its connections, kept alive from request to request. */
  readonly agents: WebSeedAgents = webSeedAgents(IN_FLIGHT);

  constructor(readonly url: string, readonly kind: WebSeedKind = 'url') {}

  /** Stops its requests and closes its connections. */
  stop(): void {
    for (const a of this.aborts) a.abort();
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  info(): WebSeedInfo {
    return {
      url: this.url, type: this.kind, state: this.state, error: this.error, failures: this.failures, total_download: this.totalDownload,
      download_rate: Math.round(this.downloadRate), retry_at: this.retryAt,
    };
  }

  received(bytes: number): void {
    this.totalDownload += bytes;
    this.bytesInTick += bytes;
  }

  tick(seconds: number): void {
    this.downloadRate = (this.downloadRate + this.bytesInTick / seconds) / 2;
    this.bytesInTick = 0;
  }
}

/** What the web seeds need of their torrent. */
export interface WebSeedTorrent {
  readonly picker: PiecePicker;
  /** The info-hash HTTP seeds (BEP 17) are asked with (20 bytes). */
  readonly infoHash: Uint8Array;
  readonly files: readonly WebSeedFile[];
  readonly pieceLength: number;
  readonly deadlines: PieceDeadlines;
  /** Not paused, not in error, not closed, not finished. */
  readonly active: boolean;
  /** Disk back-pressure: no new requests. */
  readonly backlogged: boolean;
  /** A block arrived from a web seed (the picker already counted it as requested). */
  block(seed: WebSeed, piece: number, offset: number, data: Uint8Array): void;
  /** A web seed changed state (for an event). */
  changed(seed: WebSeed): void;
}

const ALL = { get: (): boolean => true };

/**
 * A torrent's web seeds (BEP 19): each is asked for runs of up to 1 MiB of blocks the picker hands it
 * (time-critical pieces first), over Range GETs; failures back off exponentially and a seed that keeps
 * failing is dropped with its reason. Data is verified like any other: the blocks go to piece assembly.
 */
export class WebSeeds {
  private readonly seeds = new Map<string, WebSeed>();
  private readonly out: number[] = [];

  constructor(private readonly torrent: WebSeedTorrent, private readonly fetchOpts: Omit<FetchOptions, 'signal'>) {}

  get size(): number {
    return this.seeds.size;
  }

  list(): WebSeedInfo[] {
    return [...this.seeds.values()].map((s) => s.info());
  }

  urls(): string[] {
    return [...this.seeds.keys()];
  }

  add(url: string, kind: WebSeedKind = 'url'): void {
    if (this.seeds.has(url)) return;
    this.seeds.set(url, new WebSeed(url, kind));
    this.pump();
  }

  remove(url: string): boolean {
    const s = this.seeds.get(url);
    if (!s) return false;
    s.stop();
    this.seeds.delete(url);
    return true;
  }

  /** Stops every request (pause, close); their blocks go back to the picker. */
  stopAll(): void {
    for (const s of this.seeds.values()) s.stop();
  }

  /** Once a second: rates, backoff expiry, work for idle seeds. */
  tick(now: number, seconds: number): void {
    for (const s of this.seeds.values()) {
      s.tick(seconds);
      if (s.state === 'backoff' && now >= s.retryAt) {
        s.state = s.inFlight > 0 ? 'downloading' : 'idle';
        s.retryAt = 0;
      }
    }
    this.pump();
  }

  /** A piece failed its hash check and this seed sent (some of) it: a failure like an HTTP error. */
  hashFailed(seed: WebSeed, piece: number): void {
    if (this.seeds.get(seed.url) !== seed) return;
    this.fail(seed, `piece ${piece} failed the hash check`);
  }

  /** Gives every usable seed work, up to IN_FLIGHT requests each, one request per seed per round (they share). */
  pump(): void {
    const t = this.torrent;
    if (!t.active) return;
    for (let round = 0; round < IN_FLIGHT; round++) {
      let asked = false;
      for (const s of this.seeds.values()) {
        if ((s.state !== 'idle' && s.state !== 'downloading') || s.inFlight >= IN_FLIGHT || t.backlogged) continue;
        if (!this.request(s)) return; // nothing left to ask anyone for
        asked = true;
      }
      if (!asked) return;
    }
  }

  /** Picks a run of contiguous blocks and fetches it; false when there is nothing to ask this seed for. */
  private request(seed: WebSeed): boolean {
    const t = this.torrent;
    const picker = t.picker;
    const out = this.out;
    out.length = 0;
    const bytes = Math.min(MAX_REQUEST_BYTES, Math.max(MIN_REQUEST_BYTES, 4 * t.pieceLength));
    const max = Math.max(picker.blocksPerPiece, Math.floor(bytes / BLOCK_SIZE));
    let n = pickTimeCritical(t.deadlines, picker, ALL, max, out, Date.now(), false);
    if (n === 0) n = picker.pick(ALL, max, out, { sequential: true, allowBusy: false });
    if (n === 0) return false;
    // The first contiguous run is fetched; the other blocks go back.
    const bpp = picker.blocksPerPiece;
    const offsetOf = (id: number): number => {
      const piece = Math.floor(id / bpp);
      return piece * t.pieceLength + (id - piece * bpp) * BLOCK_SIZE;
    };
    const lenOf = (id: number): number => {
      const piece = Math.floor(id / bpp);
      return picker.blockLength(piece, id - piece * bpp);
    };
    const ids = out.slice(0, n).sort((a, b) => offsetOf(a) - offsetOf(b));
    let runEnd = 1;
    while (runEnd < ids.length && offsetOf(ids[runEnd]!) === offsetOf(ids[runEnd - 1]!) + lenOf(ids[runEnd - 1]!)) runEnd++;
    for (let i = runEnd; i < ids.length; i++) picker.abortRequest(ids[i]!);
    const run = ids.slice(0, runEnd);
    const start = offsetOf(run[0]!);
    const length = offsetOf(run[run.length - 1]!) + lenOf(run[run.length - 1]!) - start;
    void this.fetchRun(seed, run, start, length);
    return true;
  }

  /**
   * Fetches torrent bytes [start, start + length) (the blocks `run`, in order) and hands each block on as
   * soon as its bytes have come, so pieces are verified while the rest of the run is on the wire.
   */
  private async fetchRun(seed: WebSeed, run: number[], start: number, length: number): Promise<void> {
    const t = this.torrent;
    const picker = t.picker;
    const abort = new AbortController();
    seed.aborts.add(abort);
    seed.inFlight++;
    seed.state = 'downloading';
    const reqs = seed.kind === 'http'
      ? httpSeedRequests(seed.url, t.infoHash, t.pieceLength, picker.totalLength, start, length)
      : rangeRequests(seed.url, t.files, start, length);
    // Pad files' bytes are not fetched and must read as zeros; otherwise every byte is written.
    const buf = reqs.length === 1 && reqs[0]!.length === length ? Buffer.allocUnsafe(length) : new Uint8Array(length);
    const got = new Float64Array(reqs.length);
    const bpp = picker.blocksPerPiece;
    let handed = 0;
    let handedBytes = 0;
    const handOn = (): void => {
      const upTo = receivedPrefix(reqs, got, length);
      while (handed < run.length) {
        const id = run[handed]!;
        const piece = Math.floor(id / bpp);
        const block = id - piece * bpp;
        const len = picker.blockLength(piece, block);
        if (handedBytes + len > upTo) break;
        handed++;
        seed.received(len);
        t.block(seed, piece, block * BLOCK_SIZE, buf.subarray(handedBytes, handedBytes + len));
        handedBytes += len;
      }
    };
    try {
      await Promise.all(reqs.map((r, i) => fetchRange(r.url, r.start, r.length, buf, r.into, {
        ...this.fetchOpts, signal: abort.signal, agents: seed.agents, httpSeed: seed.kind === 'http', progress: (n) => {
          got[i] = n;
          if (!abort.signal.aborted) handOn();
        },
      })));
      handOn();
    } catch (e) {
      const stopped = abort.signal.aborted;
      // The run's other requests (a run across files) stop too: their blocks go back to the picker now.
      abort.abort();
      seed.aborts.delete(abort);
      seed.inFlight--;
      for (let i = handed; i < run.length; i++) picker.abortRequest(run[i]!);
      if (stopped || this.seeds.get(seed.url) !== seed) {
        if (seed.inFlight === 0 && seed.state === 'downloading') seed.state = 'idle';
      } else if (e instanceof WebSeedHttpError && e.retryAfter !== undefined) this.busy(seed, e.message, e.retryAfter);
      else this.fail(seed, (e as Error).message);
      return;
    }
    seed.aborts.delete(abort);
    seed.inFlight--;
    if (seed.failures > 0) {
      seed.failures = 0;
      seed.error = '';
      t.changed(seed);
    }
    if (seed.inFlight === 0 && seed.state === 'downloading') seed.state = 'idle';
    this.pump();
  }

  /** A busy HTTP seed (BEP 17's 503) asked to be left alone for `seconds`: not a failure, so not counted. */
  private busy(seed: WebSeed, why: string, seconds: number): void {
    for (const a of seed.aborts) a.abort();
    seed.error = why;
    seed.state = 'backoff';
    seed.retryAt = Date.now() + seconds * 1000;
    this.torrent.changed(seed);
  }

  private fail(seed: WebSeed, why: string): void {
    seed.failures++;
    seed.error = why;
    if (seed.failures >= MAX_WEB_SEED_FAILURES) {
      seed.state = 'failed';
      seed.retryAt = 0;
      seed.stop();
    } else {
      seed.state = 'backoff';
      seed.retryAt = Date.now() + Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (seed.failures - 1));
    }
    this.torrent.changed(seed);
  }
}

/**
 * How many bytes from the start of a run have come: the requests are in run order; the gaps between them
 * are pad bytes (zeros, never fetched) and so are there already.
 */
export function receivedPrefix(reqs: readonly RangeRequest[], got: Float64Array, length: number): number {
  for (let i = 0; i < reqs.length; i++) {
    if (got[i]! < reqs[i]!.length) return reqs[i]!.into + got[i]!;
  }
  return length;
}
