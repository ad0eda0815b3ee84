import type { TrackerInfo } from '../discovery/types.js';
import type { FileInfo, PeerInfo, TorrentControl } from './torrent-view.js';
import { buildStatus, buildSummary, type TorrentStatus, type TorrentSummary } from './status.js';
import { TORRENT_FLAGS, flagNames, type TorrentFlagName } from '../session/add-torrent-params.js';
import { encodeTorrentFile } from '../metainfo/metainfo.js';
import { SpritzleError } from '../errors.js';
import { encodeResumeData } from './resume.js';
import { validateShareLimits, type TorrentShareLimits } from './share-limits.js';
import { validateCategoryName, validateTags } from './labels.js';
import type { SessionEvents, TypedEmitter } from '../session/events.js';
import { validateTorrentUpdate, type TorrentUpdate } from './torrent-update.js';
import { TorrentReadStream, type ReadStreamOptions } from './read-stream.js';
import type { WebSeedInfo } from './web-seeds.js';

/** The owner of the deadlines set through the handle (readers own theirs). */
const USER_DEADLINES = {};

export type { TorrentUpdate } from './torrent-update.js';

/** Where a handle checks that its torrent is still in the session, and hears the session's events (the session). */
export interface TorrentRegistry extends Pick<TypedEmitter<SessionEvents>, 'on' | 'off'> {
  torrentOf(infoHash: string): TorrentControl | undefined;
  moveInQueue(infoHash: string, to: 'up' | 'down' | 'top' | 'bottom' | number): void;
  /** A change is being made to the torrent: the session's tick looks at it again. */
  touch(infoHash: string): void;
}

/**
 * What {@link TorrentHandle.waitFor} can wait for:
 * - `checked`: checking is over (the state is past checking_files / checking_resume_data);
 * - `metadata`: the torrent has its metadata (a magnet's info dictionary arrived);
 * - `downloading`: the state is downloading;
 * - `finished`: every wanted piece is there (libtorrent's is_finished: finished or seeding);
 * - `seeding`: every piece is there (is_seeding).
 */
export type TorrentCondition = 'checked' | 'metadata' | 'downloading' | 'finished' | 'seeding';

function holds(st: TorrentStatus, c: TorrentCondition): boolean {
  switch (c) {
    case 'checked': return st.state !== 'checking_files' && st.state !== 'checking_resume_data';
    case 'metadata': return st.has_metadata;
    case 'downloading': return st.state === 'downloading';
    case 'finished': return st.is_finished;
    case 'seeding': return st.is_seeding;
  }
}

/** The events after which a condition may have come to hold. */
const WAKE_EVENTS = ['state_changed', 'torrent_finished', 'torrent_checked', 'metadata_received'] as const;

/**
 * The public face of a torrent in the session, as libtorrent's torrent_handle: every operation checks
 * that the torrent is still in the session (torrent_not_found otherwise).
 */
export class TorrentHandle {
  /** @internal Handles come from Session.addTorrent, torrents() and findTorrent(). */
  constructor(private readonly session: TorrentRegistry, private readonly torrentRef: TorrentControl) {}

  /**
   * The info-hash it is known by, 40 lower-case hex digits: v1, or the truncated v2 of a v2-only torrent
   * (libtorrent's get_best()). A hybrid added by its v2 hash alone takes its v1 hash once the metadata
   * arrives (the torrent_update event); its earlier hash still finds it.
   */
  get infoHash(): string {
    return this.torrentRef.infoHash;
  }

  /** The torrent's name (its info-hash until a magnet's metadata arrives). */
  get name(): string {
    return this.torrentRef.name;
  }

  /** Where the torrent's files are (libtorrent's save_path), without building a whole status. */
  savePath(): string {
    return this.t.savePath;
  }

  /** Whether the torrent is still in the session. */
  isValid(): boolean {
    return this.session.torrentOf(this.torrentRef.infoHash) === this.torrentRef;
  }

  private get t(): TorrentControl {
    if (!this.isValid()) throw new SpritzleError('torrent_not_found', `torrent ${this.torrentRef.infoHash} is no longer in the session`);
    return this.torrentRef;
  }

  /** The torrent, for a change: the session's tick looks at it again (it visits only torrents that may change). */
  private get w(): TorrentControl {
    const t = this.t;
    this.session.touch(t.infoHash);
    return t;
  }

  /** libtorrent's torrent_status, every key of the original spritzle's example. */
  status(): TorrentStatus {
    const t = this.t;
    return buildStatus(t, Date.now(), t.discovery?.status());
  }

  /** The fields of status() a list of many torrents shows (SUMMARY_FIELDS), without building the rest. */
  summary(): TorrentSummary {
    return buildSummary(this.t, Date.now());
  }

  /**
   * Resolves once `condition` holds, at once if it already does (so it cannot miss an event that came
   * before the call, e.g. data found complete while the torrent was added). Rejects with
   * `torrent_not_found` when the torrent is removed, `invalid_state` when it stops with an error, and
   * the signal's reason when `signal` aborts.
   *
   * ```ts
   * const handle = await session.addTorrent({ ti, save_path: '/tmp/dl' });
   * await handle.waitFor('finished');
   * ```
   */
  waitFor(condition: TorrentCondition, options: { signal?: AbortSignal } = {}): Promise<TorrentStatus> {
    // this.infoHash, read at each event: a hybrid from a btmh magnet changes it once (torrent_update).
    const { signal } = options;
    return new Promise<TorrentStatus>((resolve, reject) => {
      const stop = (): void => {
        for (const e of WAKE_EVENTS) this.session.off(e, check);
        this.session.off('torrent_error', onError);
        this.session.off('torrent_removed', onRemoved);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (e: unknown): void => {
        stop();
        reject(e);
      };
      function onAbort(this: void): void {
        fail(signal!.reason);
      }
      const onError = (e: { info_hash: string; error: string }): void => {
        if (e.info_hash === this.infoHash) fail(new SpritzleError('invalid_state', `torrent ${this.infoHash} stopped with an error: ${e.error}`));
      };
      const onRemoved = (e: { info_hash: string }): void => {
        if (e.info_hash === this.infoHash) fail(new SpritzleError('torrent_not_found', `torrent ${this.infoHash} was removed from the session`));
      };
      const check = (e?: { info_hash: string }): void => {
        if (e && e.info_hash !== this.infoHash) return;
        if (!this.isValid()) return onRemoved({ info_hash: this.infoHash });
        const st = this.status();
        if (holds(st, condition)) {
          stop();
          resolve(st);
        } else if (st.error !== '') {
          onError({ info_hash: this.infoHash, error: st.error });
        }
      };
      if (signal?.aborted) return reject(signal.reason);
      for (const e of WAKE_EVENTS) this.session.on(e, check);
      this.session.on('torrent_error', onError);
      this.session.on('torrent_removed', onRemoved);
      signal?.addEventListener('abort', onAbort);
      check();
    });
  }

  /** Stops the torrent: its peer connections are closed. */
  pause(): void {
    this.w.pause();
  }

  /** Starts a paused torrent again (libtorrent's resume). */
  resume(): void {
    this.w.resume();
  }

  /** Re-hashes the data on disk; resolves when checking is done. */
  forceRecheck(): Promise<void> {
    return this.w.forceRecheck();
  }

  /** Dials a peer for this torrent. */
  connectPeer(host: string, port: number): void {
    const t = this.w;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new SpritzleError('invalid_param', `port ${port} is not a TCP port`, { field: 'port' });
    }
    t.connectPeer(host, port);
  }

  /** Its files in torrent order, with progress and priority; empty before metadata. */
  files(): FileInfo[] {
    return this.t.files();
  }

  /** Its connected peers (libtorrent's get_peer_info). */
  peers(): PeerInfo[] {
    return this.t.peerInfo();
  }

  /** Trackers and their state. */
  trackers(): TrackerInfo[] {
    return this.t.discovery?.trackers() ?? [];
  }

  /** Adds a tracker to the live torrent (tier 0 unless given). */
  addTracker(url: string, tier = 0): void {
    const t = this.w;
    if (!t.discovery) throw new SpritzleError('invalid_state', 'this session runs without trackers');
    t.discovery.addTracker(url, tier);
  }

  /** Removes a tracker; false if the torrent had none with that URL. */
  removeTracker(url: string): boolean {
    return this.w.discovery?.removeTracker(url) ?? false;
  }

  /** Its torrent_flags that are set, by name. */
  flags(): TorrentFlagName[] {
    return flagNames(this.t.flags);
  }

  /**
   * libtorrent's force_reannounce: announces to its trackers now (a paused torrent or a session without
   * trackers has none to tell: invalid_state).
   */
  forceReannounce(): void {
    const t = this.w;
    if (!t.discovery) throw new SpritzleError('invalid_state', 'this session runs without trackers');
    if ((t.flags & TORRENT_FLAGS.paused) !== 0) throw new SpritzleError('invalid_state', 'a paused torrent does not announce; resume it first');
    t.discovery.forceReannounce();
  }

  /**
   * libtorrent's move_storage: moves its files to `savePath` while it runs and resolves once they are there
   * (storage_moved); if the move fails the files stay where they were and it rejects (storage_moved_failed).
   * Files already at the destination are not replaced: the move fails instead.
   */
  moveStorage(savePath: string): Promise<void> {
    if (typeof savePath !== 'string' || savePath.length === 0 || savePath.includes('\0')) {
      return Promise.reject(new SpritzleError('invalid_param', 'save_path must be a non-empty path', { field: 'save_path' }));
    }
    return this.w.moveStorage(savePath);
  }

  /**
   * libtorrent's rename_file: file `index` is named `newPath` (relative to the save path; "/" makes folders)
   * on disk and in files(), while it runs; resolves once renamed (file_renamed). Nothing is replaced; the new
   * name is kept with the resume data.
   */
  renameFile(index: number, newPath: string): Promise<void> {
    if (typeof newPath !== 'string' || newPath.includes('\0')) {
      return Promise.reject(new SpritzleError('invalid_param', 'the new name must be a relative path', { field: 'name' }));
    }
    return this.w.renameFile(index, newPath);
  }

  /** Its place in the download queue (0 at the top), -1 once finished (libtorrent's queue_position). */
  queuePosition(): number {
    return this.t.queuePosition;
  }

  /** libtorrent's queue_position_up: one place towards the top. */
  queuePositionUp(): void {
    this.session.moveInQueue(this.t.infoHash, 'up');
  }

  /** libtorrent's queue_position_down. */
  queuePositionDown(): void {
    this.session.moveInQueue(this.t.infoHash, 'down');
  }

  /** libtorrent's queue_position_top. */
  queuePositionTop(): void {
    this.session.moveInQueue(this.t.infoHash, 'top');
  }

  /** libtorrent's queue_position_bottom. */
  queuePositionBottom(): void {
    this.session.moveInQueue(this.t.infoHash, 'bottom');
  }

  /** libtorrent's queue_position_set: to `position` (clamped to the queue). */
  setQueuePosition(position: number): void {
    if (!Number.isInteger(position) || position < 0) throw new SpritzleError('invalid_param', 'a queue position is an integer ≥ 0', { field: 'queue_position' });
    this.session.moveInQueue(this.t.infoHash, position);
  }

  /** Its category, "" for none. */
  category(): string {
    return this.t.category;
  }

  /**
   * Puts it in a category ("" for none). The category need not have a save path; this does not move the
   * torrent's files (qBittorrent's manual mode).
   */
  setCategory(name: string): void {
    const t = this.w;
    t.setCategory(name === '' ? '' : validateCategoryName(name));
  }

  /** Its tags, sorted. */
  tags(): string[] {
    return [...this.t.tags];
  }

  /** Gives it these tags besides the ones it has; answers its tags after. */
  addTags(tags: readonly string[]): string[] {
    const t = this.w;
    const next = validateTags([...t.tags, ...tags]);
    t.setTags(next);
    return next;
  }

  /** Takes the given tags off it; none given takes them all. */
  removeTags(tags: readonly string[] = []): string[] {
    const t = this.w;
    const next = tags.length === 0 ? [] : t.tags.filter((x) => !tags.includes(x));
    t.setTags(next);
    return next;
  }

  /** Its share limits and what happens when one is reached (share-limits.ts). */
  shareLimits(): TorrentShareLimits {
    return { ...this.t.shareLimits };
  }

  /**
   * Changes some of its share limits (ratio_limit, seeding_time_limit in seconds, inactive_seeding_time_limit
   * in seconds: -1 none, -2 the session's) or the action (pause, remove, remove_with_files). Checked whole first.
   */
  setShareLimits(partial: Partial<TorrentShareLimits>): TorrentShareLimits {
    const t = this.w;
    const next = { ...t.shareLimits, ...validateShareLimits(partial) };
    t.setShareLimits(next);
    return { ...next };
  }

  /** Changes what can change on a live torrent; checked whole first (validateTorrentUpdate), so a bad key changes nothing. */
  update(update: TorrentUpdate): void {
    const t = this.w;
    const u = validateTorrentUpdate(update);
    const limits = u.share_limits !== undefined ? { ...t.shareLimits, ...u.share_limits } : undefined;
    if (u.category !== undefined) t.setCategory(u.category);
    if (u.tags !== undefined) t.setTags(u.tags);
    if (u.first_last_piece_priority !== undefined) t.setFirstLastPiecePriority(u.first_last_piece_priority);
    if (u.auto_managed !== undefined) t.setFlag(TORRENT_FLAGS.auto_managed, u.auto_managed);
    if (u.file_priorities !== undefined) t.setFilePriorities(u.file_priorities);
    if (limits !== undefined) t.setShareLimits(limits);
    if (u.sequential_download !== undefined) t.setFlag(TORRENT_FLAGS.sequential_download, u.sequential_download);
    if (u.upload_limit !== undefined) t.setUploadLimit(u.upload_limit);
    if (u.download_limit !== undefined) t.setDownloadLimit(u.download_limit);
    if (u.max_uploads !== undefined) t.setMaxUploads(u.max_uploads);
    if (u.max_connections !== undefined) t.setMaxConnections(u.max_connections);
    // Last: moving in the queue runs the auto-manager, which may start or stop it.
    if (u.queue_position !== undefined) this.session.moveInQueue(t.infoHash, u.queue_position);
  }

  /**
   * Fast-resume data (bencoded): pass it back as `resume_data` to addTorrent to restore this torrent
   * without re-hashing files that did not change. Write it to disk atomically.
   */
  async saveResumeData(): Promise<Uint8Array> {
    return encodeResumeData(await this.t.resumeData());
  }

  /** Whether anything worth saving changed since the last saveResumeData(). */
  needSaveResume(): boolean {
    return this.t.needSaveResume;
  }

  /** libtorrent's url_seeds(): the web seeds' URLs (BEP 19). */
  urlSeeds(): string[] {
    return this.t.webSeedInfo().map((w) => w.url);
  }

  /** The web seeds with their state (idle, downloading, backoff, failed), last error and rates. */
  webSeeds(): WebSeedInfo[] {
    return this.t.webSeedInfo();
  }

  /** libtorrent's add_url_seed: an http(s) URL, by BEP 19's rules (a file, or a folder for multi-file torrents). */
  addUrlSeed(url: string): void {
    const t = this.w;
    if (typeof url !== 'string' || !/^https?:\/\/\S+$/i.test(url) || !URL.canParse(url)) {
      throw new SpritzleError('invalid_param', `"${String(url).slice(0, 100)}" is not an http(s) URL`, { field: 'url' });
    }
    t.addUrlSeed(url);
  }

  /** libtorrent's remove_url_seed; false if the torrent had no such web seed. */
  removeUrlSeed(url: string): boolean {
    return this.w.removeUrlSeed(url);
  }

  /**
   * libtorrent's set_piece_deadline: the piece is wanted within `ms` milliseconds; it is requested
   * before other pieces, from the fastest peers, with duplicate requests once it is late.
   */
  setPieceDeadline(piece: number, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new SpritzleError('invalid_param', 'a deadline is a number of milliseconds >= 0', { field: 'deadline' });
    this.w.setPieceDeadline(USER_DEADLINES, piece, Date.now() + ms);
  }

  /** libtorrent's reset_piece_deadline: the piece goes back to the normal order. */
  resetPieceDeadline(piece: number): void {
    this.w.resetPieceDeadline(USER_DEADLINES, piece);
  }

  /** libtorrent's clear_piece_deadlines (those set through setPieceDeadline; readers keep theirs). */
  clearPieceDeadlines(): void {
    this.w.clearPieceDeadlines(USER_DEADLINES);
  }

  /**
   * A file's bytes `start`..`end` (inclusive, as fs.createReadStream) as a Node Readable, while the
   * torrent downloads: the pieces under the reader and a read-ahead window are time-critical, reading
   * waits for them to be verified, back-pressure holds it, and destroying the stream frees its deadlines
   * (a seek is a new stream). It errs with torrent_not_found if the torrent is removed.
   *
   * ```ts
   * handle.createReadStream(0, { start: 1 << 20 }).pipe(res);
   * ```
   */
  createReadStream(fileIndex: number, options: ReadStreamOptions = {}): TorrentReadStream {
    const t = this.w;
    const info = t.info;
    if (!info) throw new SpritzleError('invalid_state', 'the torrent has no metadata yet');
    const file = info.files[fileIndex];
    if (!Number.isInteger(fileIndex) || !file) {
      throw new SpritzleError('invalid_param', `file ${fileIndex} is not in 0..${info.files.length - 1}`, { field: 'file' });
    }
    const start = options.start ?? 0;
    const end = options.end ?? file.length - 1;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end >= file.length || (start > end && file.length > 0)) {
      throw new SpritzleError('invalid_param', `range ${start}-${end} is not inside the file's ${file.length} bytes`, { field: 'range' });
    }
    let fileOffset = 0;
    for (let i = 0; i < fileIndex; i++) fileOffset += info.files[i]!.length;
    const hash = this.infoHash;
    const session = this.session;
    const picker = t.picker!;
    return new TorrentReadStream({
      pieceLength: info.pieceLength,
      have: (p) => picker.have(p),
      read: (p, o, l) => t.readPiece(p, o, l),
      setDeadlines: (owner, d, urgent) => {
        if (this.isValid()) t.setPieceDeadlines(owner, d, true, urgent);
      },
      clearDeadlines: (owner) => t.clearPieceDeadlines(owner),
      onPiece: (listener) => {
        const on = (e: { info_hash: string; piece_index: number }): void => {
          if (e.info_hash === hash) listener(e.piece_index);
        };
        session.on('piece_finished', on);
        return () => session.off('piece_finished', on);
      },
      onGone: (listener) => {
        const removed = (e: { info_hash: string }): void => {
          if (e.info_hash === hash) listener(new SpritzleError('torrent_not_found', `torrent ${hash} was removed from the session`));
        };
        const failed = (e: { info_hash: string; error: string }): void => {
          if (e.info_hash === hash) listener(new SpritzleError('invalid_state', `torrent ${hash} stopped with an error: ${e.error}`));
        };
        session.on('torrent_removed', removed);
        session.on('torrent_error', failed);
        return () => {
          session.off('torrent_removed', removed);
          session.off('torrent_error', failed);
        };
      },
      now: () => Date.now(),
    }, fileOffset, file.length, { ...options, start, end });
  }

  /** The .torrent file (as added, or built from metadata received from peers); null before metadata. */
  torrentFile(): Uint8Array | null {
    const t = this.t;
    if (t.torrentBytes) return t.torrentBytes;
    return t.info ? encodeTorrentFile(t.info) : null;
  }
}
