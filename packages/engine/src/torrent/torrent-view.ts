import type { TorrentInfo } from '../metainfo/metainfo.js';
import type { TorrentState } from './torrent-state.js';
import type { PiecePicker } from '../algo/piece-picker.js';
import type { TorrentDiscovery } from '../discovery/types.js';
import type { ResumeData } from './resume.js';
import type { DeadlineOwner } from '../algo/piece-deadlines.js';
import type { WebSeedInfo } from './web-seeds.js';
import type { TorrentShareLimits } from './share-limits.js';

/** One connected peer, as libtorrent's peer_info (GET /torrent/<hash>/peers). */
export interface PeerInfo {
  ip: string;
  port: number;
  client: string;
  peer_id: string;
  direction: 'incoming' | 'outgoing';
  /** What the connection runs over (libtorrent's peer_info utp_socket flag). */
  transport: 'tcp' | 'utp';
  /** libtorrent-style letters: i/I interest, c/C choke, s snubbed, o optimistic, S seed, E/e encrypted (RC4/plaintext payload). */
  flags: string;
  /** libtorrent's peer_info flags: an MSE connection with an RC4 payload, or with a plaintext payload. */
  rc4_encrypted: boolean;
  plaintext_encrypted: boolean;
  progress: number;
  down_speed: number;
  up_speed: number;
  total_download: number;
  total_upload: number;
  num_pieces: number;
  queue: number;
}

/** One file of a torrent: where it lies, how much of it is there, its priority (0 skips it, 4 is normal). */
export interface FileInfo {
  index: number;
  path: string;
  size: number;
  offset: number;
  progress: number;
  bytes_done: number;
  priority: number;
  pad: boolean;
}

/** What the status reads of the piece picker. */
export type PiecesView = Pick<PiecePicker, 'numPieces' | 'numHave' | 'have' | 'distributedCopies'>;

/** The torrent's connections summed up, for its status. */
export interface ConnectionsView {
  connections: number;
  seeds: number;
  /** Peers we do not choke. */
  uploads: number;
  hasIncoming: boolean;
  /** Bytes read and written by the live connections (payload and protocol). */
  bytesRead: number;
  bytesWritten: number;
}

/** Bytes of the torrent, of all pieces we have, of wanted pieces, and of wanted pieces we have (pad files left out). */
export interface DoneBytes {
  total: number;
  done: number;
  wantedDone: number;
  wanted: number;
}

/**
 * A read-only view of a torrent: what its status and its handle read (implemented by Torrent). Nothing
 * here changes the torrent; the operations are in TorrentControl.
 */
export interface TorrentView {
  readonly infoHash: string;
  readonly shareLimits: Readonly<TorrentShareLimits>;
  readonly category: string;
  readonly tags: readonly string[];
  readonly firstLastPiecePriority: boolean;
  readonly queuePosition: number;
  readonly movingStorage: boolean;
  /** The v2 info-hash (64 hex) of a v2 or hybrid torrent (from its metadata or its magnet). */
  readonly v2Hash: string | undefined;
  /** A v2-only torrent: its infoHash is its truncated v2 hash, it has no v1 hash. */
  readonly v2Only: boolean;
  readonly name: string;
  readonly savePath: string;
  readonly state: TorrentState;
  readonly errorMessage: string;
  /** Index of the file an error concerns, -1 for none. */
  readonly errorFile: number;
  readonly hasError: boolean;
  readonly hasMetadata: boolean;
  readonly isFinished: boolean;
  readonly isSeeding: boolean;
  /** torrent_flags bits. */
  readonly flags: number;
  readonly needSaveResume: boolean;
  /** Pieces hashed so far while checking_files. */
  readonly checkedPieces: number;
  readonly info: Readonly<TorrentInfo> | null;
  /** The .torrent as added, null for a magnet. */
  readonly torrentBytes: Uint8Array | null;
  /** Our pieces; null until the metadata is known. */
  readonly picker: PiecesView | null;
  /** Trackers, DHT, LSD and PEX state; null when the session runs without discovery. */
  readonly discovery: TorrentDiscovery | null;
  readonly peerList: { readonly size: number; readonly connectCandidates: number };
  readonly maxConnections: number;
  readonly maxUploads: number;
  readonly uploadLimit: number;
  readonly downloadLimit: number;

  readonly addedTime: number;
  readonly completedTime: number;
  readonly lastSeenComplete: number;
  readonly lastDownload: number;
  readonly lastUpload: number;
  readonly activeSeconds: number;
  readonly finishedSeconds: number;
  readonly seedingSeconds: number;

  readonly totalDownload: number;
  readonly totalUpload: number;
  readonly totalPayloadDownload: number;
  readonly totalPayloadUpload: number;
  readonly totalFailedBytes: number;
  readonly totalRedundantBytes: number;
  readonly allTimeDownload: number;
  readonly allTimeUpload: number;
  readonly downloadRate: number;
  readonly uploadRate: number;
  readonly downloadPayloadRate: number;
  readonly uploadPayloadRate: number;

  doneBytes(): DoneBytes;
  connections(): ConnectionsView;
  files(): FileInfo[];
  peerInfo(): PeerInfo[];
}

/** What a TorrentHandle does to a torrent: the view and the operations. */
export interface TorrentControl extends TorrentView {
  pause(keepAutoManaged?: boolean): void;
  resume(): void;
  forceRecheck(): Promise<void>;
  /** Remembers the address and dials it at the next chance (backoff or not). */
  connectPeer(host: string, port: number): void;
  setFilePriorities(priorities: number[]): void;
  setFlag(flag: number, on: boolean): void;
  setUploadLimit(bytesPerSecond: number): void;
  setDownloadLimit(bytesPerSecond: number): void;
  setMaxUploads(n: number): void;
  setMaxConnections(n: number): void;
  setShareLimits(limits: TorrentShareLimits): void;
  setCategory(name: string): void;
  setTags(tags: readonly string[]): void;
  setFirstLastPiecePriority(on: boolean): void;
  moveStorage(savePath: string): Promise<void>;
  renameFile(index: number, newPath: string): Promise<void>;
  /** Fast-resume data as it is now; clears need_save_resume. */
  resumeData(): Promise<ResumeData>;
  /** Time-critical pieces (libtorrent's piece deadlines), per owner; `at` is a Date.now() time. */
  setPieceDeadline(owner: DeadlineOwner, piece: number, at: number): void;
  setPieceDeadlines(owner: DeadlineOwner, deadlines: ReadonlyMap<number, number>, replace?: boolean, urgent?: boolean): void;
  resetPieceDeadline(owner: DeadlineOwner, piece: number): void;
  clearPieceDeadlines(owner: DeadlineOwner): void;
  pieceDeadline(piece: number): number | undefined;
  /** BEP 19 web seeds: their state and rates; add and remove (libtorrent's add_url_seed / remove_url_seed). */
  webSeedInfo(): WebSeedInfo[];
  addUrlSeed(url: string): void;
  removeUrlSeed(url: string): boolean;
  /** Reads verified data; throws disk_error if it is not there. */
  readPiece(piece: number, offset: number, length: number): Promise<Uint8Array>;
}
