import { ROW_FIELDS, api, type TorrentRow } from './api.js';
import { readEventStream } from './event-stream.js';

/** Events after which an open detail view reads the torrent's files and pieces again. */
const FILE_EVENTS = new Set(['piece_finished', 'torrent_finished', 'state_changed', 'metadata_received', 'torrent_paused', 'torrent_resumed', 'torrent_checked']);

/**
 * The live view of the daemon, fed only by the SSE stream (GET /events?changes=1&fields=<what the table
 * shows>, read through fetch: see event-stream.ts): its first `stats` event
 * carries every torrent's summary, the later ones (every second) only the summaries that changed, both with
 * the session counters; the other events mark what changed. No polling.
 */

export type Connection = 'connecting' | 'open' | 'lost' | 'login';

export interface RateSample { down: number; up: number }

/** Five minutes of one-second samples. */
export const HISTORY = 300;

export type Row = TorrentRow;

type Listener = () => void;

/** The stats event of GET /events?changes=1; `changes` marks one that lists only the changed torrents. */
interface StatsEvent { session: Record<string, number>; torrents: TorrentRow[]; changes?: true }

export class Live {
  connection: Connection = 'connecting';
  rows: Row[] = [];
  byHash = new Map<string, Row>();
  counters: Record<string, number> = {};
  /** Session totals of payload rates, oldest first. */
  history: RateSample[] = [];
  /** One torrent's rates while its detail view is open. */
  watched: { hash: string; history: RateSample[] } | null = null;
  /** Bumped on every change: components compare it to know whether to recompute. */
  version = 0;
  /** Bumped on events that change a torrent's files or pieces, so an open detail view refreshes. */
  lastEventHash = '';

  private source: AbortController | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<Listener>();

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  /** The daemon wants a token and this browser has signed in with it (a sign-out makes sense). */
  signedIn = false;
  /** The page may use the API: no token needed, or signed in. Until then it asks for nothing else. */
  authorized = false;

  /** Asks whether a login is needed first, then opens the stream. */
  async start(): Promise<void> {
    this.stop();
    try {
      const a = await api.auth();
      this.signedIn = a.token_required && a.authenticated;
      this.authorized = a.authenticated;
      if (!a.authenticated) {
        this.connection = 'login';
        this.changed();
        return;
      }
      this.changed();
    } catch {
      this.connection = 'lost';
      this.changed();
      this.retry = setTimeout(() => void this.start(), 3000);
      return;
    }
    this.open();
  }

  private open(): void {
    const ctl = new AbortController();
    this.source = ctl;
    void (async () => {
      try {
        const res = await fetch(`events?changes=1&fields=${ROW_FIELDS.join(',')}`, { signal: ctl.signal, headers: { accept: 'text/event-stream' } });
        if (!res.ok || res.body === null) throw new Error(`GET /events answered ${res.status}`);
        this.connection = 'open';
        this.changed();
        await readEventStream(res.body, (name, data) => this.onEvent(name, data));
      } catch {
        // Dropped, refused or unreachable: all the same to the user, a lost connection.
      }
      if (ctl.signal.aborted) return;
      this.source = null;
      this.connection = 'lost';
      this.changed();
      // (start() asks /ui/auth first, so a token that stopped working shows the login screen.)
      this.retry = setTimeout(() => void this.start(), 3000);
    })();
  }

  private onEvent(name: string, data: string): void {
    if (name === 'stats') this.onStats(JSON.parse(data) as StatsEvent);
    else if (name === 'torrent_removed') this.onRemoved((JSON.parse(data) as { info_hash: string }).info_hash);
    else if (name === 'torrent_update') this.onRenamed(JSON.parse(data) as { info_hash: string; old_info_hash: string });
    else if (FILE_EVENTS.has(name)) this.lastEventHash = (JSON.parse(data) as { info_hash: string }).info_hash;
  }

  stop(): void {
    this.source?.abort();
    this.source = null;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  private onStats(ev: StatsEvent): void {
    this.counters = ev.session;
    if (ev.changes) this.applyChanges(ev.torrents);
    else this.replaceRows(ev.torrents);
    let down = 0;
    let up = 0;
    for (const r of this.rows) {
      down += r.download_payload_rate;
      up += r.upload_payload_rate;
    }
    push(this.history, { down, up });
    if (this.watched) {
      const r = this.byHash.get(this.watched.hash);
      push(this.watched.history, { down: r?.download_payload_rate ?? 0, up: r?.upload_payload_rate ?? 0 });
    }
    if (this.connection !== 'open') this.connection = 'open';
    this.changed();
  }

  /** A stream's first stats event: every torrent. */
  private replaceRows(torrents: TorrentRow[]): void {
    this.rows = torrents;
    this.byHash = new Map(torrents.map((t) => [t.info_hash, t]));
  }

  /** A later one: only the torrents that changed (a new one is appended; a removed one came as torrent_removed). */
  private applyChanges(torrents: TorrentRow[]): void {
    if (torrents.length === 0) return;
    const updated = new Map<string, Row>(torrents.map((t) => [t.info_hash, t]));
    // A new array, so components that compare rows by identity see the change.
    const rows = this.rows.map((r) => updated.get(r.info_hash) ?? r);
    for (const [hash, row] of updated) {
      if (!this.byHash.has(hash)) rows.push(row);
      this.byHash.set(hash, row);
    }
    this.rows = rows;
  }

  private onRemoved(hash: string): void {
    if (!this.byHash.has(hash)) return;
    this.byHash.delete(hash);
    this.rows = this.rows.filter((r) => r.info_hash !== hash);
    this.changed();
  }

  /**
   * A hybrid added by its v2 hash is known by its v1 hash from now on: its row under the old hash goes (the
   * next stats event brings it under the new one, a hash that stream has not sent yet).
   */
  private onRenamed({ info_hash, old_info_hash }: { info_hash: string; old_info_hash: string }): void {
    if (this.watched?.hash === old_info_hash) this.watched = { hash: info_hash, history: this.watched.history };
    this.onRemoved(old_info_hash);
  }

  watch(hash: string | null): void {
    this.watched = hash === null ? null : this.watched?.hash === hash ? this.watched : { hash, history: [] };
  }
}

function push(h: RateSample[], s: RateSample): void {
  h.push(s);
  if (h.length > HISTORY) h.shift();
}

export const live = new Live();
