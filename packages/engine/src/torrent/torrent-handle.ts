import type { TrackerInfo } from '../discovery/types.js';
import type { FileInfo, PeerInfo, TorrentControl } from './torrent-view.js';
import { buildStatus, type TorrentStatus } from './status.js';
import { TORRENT_FLAGS, flagNames, type TorrentFlagName } from '../session/add-torrent-params.js';
import { encodeTorrentFile } from '../metainfo/metainfo.js';
import { SpritzleError } from '../errors.js';
import { encodeResumeData } from './resume.js';
import { validateTorrentUpdate, type TorrentUpdate } from './torrent-update.js';

export type { TorrentUpdate } from './torrent-update.js';

/** Where a handle checks that its torrent is still in the session (the session). */
export interface TorrentRegistry {
  torrentOf(infoHash: string): TorrentControl | undefined;
}

/**
 * The public face of a torrent in the session, as libtorrent's torrent_handle: every operation checks
 * that the torrent is still in the session (torrent_not_found otherwise).
 */
export class TorrentHandle {
  constructor(private readonly session: TorrentRegistry, private readonly torrentRef: TorrentControl) {}

  get infoHash(): string {
    return this.torrentRef.infoHash;
  }

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

  /** libtorrent's torrent_status, every key of the original spritzle's example. */
  status(): TorrentStatus {
    const t = this.t;
    return buildStatus(t, Date.now(), t.discovery?.status());
  }

  /** Stops the torrent: its peer connections are closed. */
  pause(): void {
    this.t.pause();
  }

  resume(): void {
    this.t.resume();
  }

  /** Re-hashes the data on disk; resolves when checking is done. */
  forceRecheck(): Promise<void> {
    return this.t.forceRecheck();
  }

  /** Dials a peer for this torrent. */
  connectPeer(host: string, port: number): void {
    const t = this.t;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new SpritzleError('invalid_param', `port ${port} is not a TCP port`, { field: 'port' });
    }
    t.connectPeer(host, port);
  }

  files(): FileInfo[] {
    return this.t.files();
  }

  peers(): PeerInfo[] {
    return this.t.peerInfo();
  }

  /** Trackers and their state. */
  trackers(): TrackerInfo[] {
    return this.t.discovery?.trackers() ?? [];
  }

  /** Adds a tracker to the live torrent (tier 0 unless given). */
  addTracker(url: string, tier = 0): void {
    const t = this.t;
    if (!t.discovery) throw new SpritzleError('invalid_state', 'this session runs without trackers');
    t.discovery.addTracker(url, tier);
  }

  /** Removes a tracker; false if the torrent had none with that URL. */
  removeTracker(url: string): boolean {
    return this.t.discovery?.removeTracker(url) ?? false;
  }

  flags(): TorrentFlagName[] {
    return flagNames(this.t.flags);
  }

  /** Changes what can change on a live torrent; checked whole first (validateTorrentUpdate), so a bad key changes nothing. */
  update(update: TorrentUpdate): void {
    const t = this.t;
    const u = validateTorrentUpdate(update);
    if (u.file_priorities !== undefined) t.setFilePriorities(u.file_priorities);
    if (u.sequential_download !== undefined) t.setFlag(TORRENT_FLAGS.sequential_download, u.sequential_download);
    if (u.upload_limit !== undefined) t.setUploadLimit(u.upload_limit);
    if (u.download_limit !== undefined) t.setDownloadLimit(u.download_limit);
    if (u.max_uploads !== undefined) t.setMaxUploads(u.max_uploads);
    if (u.max_connections !== undefined) t.setMaxConnections(u.max_connections);
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

  /** The .torrent file (as added, or built from metadata received from peers); null before metadata. */
  torrentFile(): Uint8Array | null {
    const t = this.t;
    if (t.torrentBytes) return t.torrentBytes;
    return t.info ? encodeTorrentFile(t.info) : null;
  }
}
