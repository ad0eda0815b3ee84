import { EventEmitter } from 'node:events';
import type { TorrentStatus } from '../torrent/status.js';

import type { TorrentState } from '../torrent/torrent-state.js';

// The torrent's own vocabulary, re-exported beside the events that carry it.
export { STATE_VALUES, type TorrentState } from '../torrent/torrent-state.js';

/**
 * The session's events, in the spirit of libtorrent's alerts (the names drop the `_alert` suffix).
 * Every payload is plain JSON-ready data.
 */
export interface SessionEvents {
  torrent_added: { info_hash: string; name: string };
  torrent_removed: { info_hash: string; deleted_files: boolean };
  state_changed: { info_hash: string; state: TorrentState; prev_state: TorrentState };
  metadata_received: { info_hash: string; name: string };
  /**
   * libtorrent's torrent_update_alert: the torrent is known by another info-hash from now on (a hybrid added
   * by its v2 hash alone, whose metadata showed its v1 hash). Every later event carries `info_hash`; the old
   * hash, the v1 and the full v2 hash all keep naming the torrent (findTorrent, the REST routes).
   */
  torrent_update: { info_hash: string; old_info_hash: string; info_hashes: { v1: string; v2: string } };
  piece_finished: { info_hash: string; piece_index: number };
  hash_failed: { info_hash: string; piece_index: number };
  torrent_finished: { info_hash: string };
  torrent_paused: { info_hash: string };
  /** A seeding torrent reached one of its share limits; the action (pause or remove) follows at once. */
  share_limit_reached: { info_hash: string; limit: 'ratio' | 'seeding_time' | 'inactive_seeding_time'; action: 'pause' | 'remove' | 'remove_with_files' };
  torrent_resumed: { info_hash: string };
  torrent_checked: { info_hash: string };
  /** Resume data could not be used (files changed, damaged data): the torrent is checked instead. */
  fastresume_rejected: { info_hash: string; error: string };
  torrent_error: { info_hash: string; error: string; file?: string };
  peer_connected: { info_hash: string; ip: string; port: number; peer_id: string; direction: 'incoming' | 'outgoing' };
  peer_disconnected: { info_hash: string; ip: string; port: number; reason: string };
  peer_banned: { info_hash: string; ip: string; port: number; reason: string };
  /** libtorrent's url_seed_alert: a web seed (BEP 19) failed, backed off, was dropped or recovered. */
  url_seed: { info_hash: string; url: string; state: 'idle' | 'downloading' | 'backoff' | 'failed'; error: string };
  /**
   * libtorrent's state_update_alert: once a second (the session's tick), while anyone listens, the
   * statuses of the torrents whose status changed since the last one (none: no event). Also on
   * session.postTorrentUpdates(). Only to its own listeners (on('state_update')), not to onAny's: whole
   * statuses are large, and the REST event stream has its own periodic `stats` event.
   */
  state_update: { status: TorrentStatus[] };
  /** rename_file finished: file `index` is named `name` (relative to the save path) now. */
  file_renamed: { info_hash: string; index: number; name: string };
  /** move_storage finished: the torrent's files are under save_path now. */
  storage_moved: { info_hash: string; save_path: string };
  /** move_storage failed; the files stay (or were put back) where they were. */
  storage_moved_failed: { info_hash: string; error: string };
  /**
   * A torrent's category, tags or share limits changed (through its handle, or the session removing a
   * category or tag it had): nothing else announces it, and the compat adapters' caches wait for an event.
   */
  torrent_labels_changed: { info_hash: string; changed: 'category' | 'tags' | 'share_limits' };
  /** The categories or the tags known without a torrent changed (for whoever saves the session's state). */
  labels_changed: { categories: { name: string; save_path: string }[]; tags: string[] };
  /** The DHT node could not start (libtorrent's dht_error_alert); it stays off until the settings change. */
  dht_error: { error: string };
  /** The LSD socket could not start (libtorrent's lsd_error_alert); LSD stays off until the settings change. */
  lsd_error: { error: string };
  /** applySettings changed these settings (name → new value). */
  settings_changed: { changed: Record<string, string | number | boolean> };
  /**
   * The process ran out of file descriptors (EMFILE/ENFILE) accepting or dialling a peer: at most one a second
   * (spritzle.ses.out_of_descriptors counts them all). A torrent that cannot open its files errs instead (torrent_error).
   */
  out_of_descriptors: { operation: 'accept' | 'connect'; error: string };
}

/** The name of a session event (a key of {@link SessionEvents}). */
export type SessionEventName = keyof SessionEvents;

/** EventEmitter with the payload type tied to the event name. */
export class TypedEmitter<E extends { [K in keyof E]: unknown }> {
  private readonly ee = new EventEmitter();
  constructor() {
    this.ee.setMaxListeners(0);
  }
  /** Calls `fn` with the payload of every `name` event. */
  on<K extends keyof E & string>(name: K, fn: (payload: E[K]) => void): this {
    this.ee.on(name, fn);
    return this;
  }
  /** Calls `fn` with the payload of the next `name` event only. */
  once<K extends keyof E & string>(name: K, fn: (payload: E[K]) => void): this {
    this.ee.once(name, fn);
    return this;
  }
  /** Removes a listener added with on() or once(). */
  off<K extends keyof E & string>(name: K, fn: (payload: E[K]) => void): this {
    this.ee.off(name, fn);
    return this;
  }
  /** Listen to every event: (name, payload). Used by the SSE stream. */
  onAny(fn: (name: keyof E & string, payload: E[keyof E]) => void): () => void {
    const wrapped = (name: keyof E & string, payload: E[keyof E]): void => fn(name, payload);
    this.ee.on('*', wrapped);
    return () => this.ee.off('*', wrapped);
  }
  /** Whether anything listens to `name` itself (onAny's listeners not counted). */
  protected hasListeners(name: keyof E & string): boolean {
    return this.ee.listenerCount(name) > 0;
  }
  /** Sends an event to its own listeners only, not to onAny's (for events too large to stream to everyone). */
  protected emitDirect<K extends keyof E & string>(name: K, payload: E[K]): void {
    if (this.ee.listenerCount(name) > 0) this.ee.emit(name, payload);
  }
  /** Sends an event to its listeners and to onAny's. */
  protected emit<K extends keyof E & string>(name: K, payload: E[K]): void {
    if (this.ee.listenerCount(name) > 0) this.ee.emit(name, payload);
    if (this.ee.listenerCount('*') > 0) this.ee.emit('*', name, payload);
  }
}
