import { api, ApiError, type TorrentExtra, type TorrentRow } from './api.js';

/**
 * The live view of the daemon, fed only by the SSE stream (GET /events): its `stats` event every second
 * carries every torrent's summary and the session counters; the other events mark what changed. No polling.
 */

export type Connection = 'connecting' | 'open' | 'lost' | 'login';

export interface RateSample { down: number; up: number }

/** Five minutes of one-second samples. */
export const HISTORY = 300;

export type Row = TorrentRow & Partial<TorrentExtra>;

type Listener = () => void;

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

  private source: EventSource | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private extras = new Map<string, TorrentExtra>();
  private listeners = new Set<Listener>();

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  start(): void {
    this.stop();
    const es = new EventSource('events');
    this.source = es;
    es.addEventListener('open', () => {
      this.connection = 'open';
      this.changed();
      void this.loadExtras();
    });
    es.addEventListener('stats', (e) => this.onStats(JSON.parse((e as MessageEvent<string>).data) as { session: Record<string, number>; torrents: TorrentRow[] }));
    es.addEventListener('torrent_added', (e) => void this.loadExtra((JSON.parse((e as MessageEvent<string>).data) as { info_hash: string }).info_hash));
    es.addEventListener('torrent_removed', (e) => this.onRemoved((JSON.parse((e as MessageEvent<string>).data) as { info_hash: string }).info_hash));
    for (const name of ['piece_finished', 'torrent_finished', 'state_changed', 'metadata_received', 'torrent_paused', 'torrent_resumed', 'torrent_checked']) {
      es.addEventListener(name, (e) => {
        this.lastEventHash = (JSON.parse((e as MessageEvent<string>).data) as { info_hash: string }).info_hash;
      });
    }
    es.addEventListener('error', () => {
      // EventSource retries by itself after a dropped stream; an HTTP error (401, 5xx) closes it for good.
      if (this.connection !== 'lost') {
        this.connection = 'lost';
        this.changed();
      }
      if (es.readyState === EventSource.CLOSED) void this.afterClosed();
    });
  }

  stop(): void {
    this.source?.close();
    this.source = null;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  /** The stream was refused: a login is needed, or the daemon is away; try again in a while. */
  private async afterClosed(): Promise<void> {
    try {
      await api.probe();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        this.stop();
        this.connection = 'login';
        this.changed();
        return;
      }
    }
    this.retry = setTimeout(() => this.start(), 3000);
  }

  private onStats(ev: { session: Record<string, number>; torrents: TorrentRow[] }): void {
    this.counters = ev.session;
    const rows: Row[] = new Array(ev.torrents.length);
    const byHash = new Map<string, Row>();
    let down = 0;
    let up = 0;
    for (let i = 0; i < ev.torrents.length; i++) {
      const t = ev.torrents[i]!;
      const x = this.extras.get(t.info_hash);
      const row: Row = x ? { ...t, ...x } : t;
      rows[i] = row;
      byHash.set(t.info_hash, row);
      down += t.download_payload_rate;
      up += t.upload_payload_rate;
    }
    this.rows = rows;
    this.byHash = byHash;
    push(this.history, { down, up });
    if (this.watched) {
      const r = byHash.get(this.watched.hash);
      push(this.watched.history, { down: r?.download_payload_rate ?? 0, up: r?.upload_payload_rate ?? 0 });
    }
    if (this.connection !== 'open') this.connection = 'open';
    this.changed();
  }

  private onRemoved(hash: string): void {
    this.extras.delete(hash);
    if (!this.byHash.has(hash)) return;
    this.byHash.delete(hash);
    this.rows = this.rows.filter((r) => r.info_hash !== hash);
    this.changed();
  }

  private async loadExtras(): Promise<void> {
    try {
      for (const x of await api.extras()) this.extras.set(x.info_hash, x);
    } catch {
      return; // shown as missing dates; the next connection tries again
    }
  }

  private async loadExtra(hash: string): Promise<void> {
    try {
      this.extras.set(hash, await api.extra(hash));
    } catch {
      // removed again at once, or the connection dropped
    }
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
