import type { FileLayout } from './file-layout.js';

/** Operation counts of a storage back-end (moved into the disk.* counters). */
export interface StorageStats {
  writeOps: number;
  readOps: number;
  blocksWritten: number;
  blocksRead: number;
  blocksHashed: number;
}

/** Does a piece's positional writes: `spans` holds [fd, offset in the piece, length, file offset] per file part. */
export type PieceWriter = (spans: number[]) => Promise<PieceWriteResult>;

/** What a piece write did: write calls made, and the first failure with the index of its span. */
export interface PieceWriteResult {
  ops: number;
  error?: { code?: string; message: string };
  failedSpan?: number;
}

/** A file's [size in bytes, modification time in ms], [0, 0] when it is missing (as resume data records them). */
export type FileStat = [number, number];

/**
 * One torrent's piece storage as the torrent uses it (libtorrent's storage_interface): the file-system
 * back-end (`Storage`) in the session, an in-memory one (`MemoryStorage`) in tests.
 */
export interface TorrentStorage {
  /** Operation counts, moved into the disk.* counters by the torrent. */
  readonly stats: StorageStats;
  /** Writes one whole verified piece; `writer`, when the back-end has file descriptors for it, does the writes. */
  writePiece(piece: number, data: Uint8Array, writer?: PieceWriter): Promise<void>;
  /** Reads for uploads; throws disk_error if the data is not there. */
  read(piece: number, offset: number, length: number): Promise<Uint8Array>;
  /** Hashes what is there against `pieceHashes`; which pieces are had. Stops early when `signal` aborts. */
  check(
    pieceHashes: readonly Uint8Array[],
    opts?: { onPiece?: (piece: number, ok: boolean) => void; signal?: AbortSignal },
  ): Promise<boolean[]>;
  /** Whether any of the torrent's (non-pad) files exists. */
  hasAnyFile(): Promise<boolean>;
  /** Each file's size and modification time now, for fast-resume. */
  fileStats(): Promise<FileStat[]>;
  deleteFiles(): Promise<void>;
  close(): Promise<void>;
}

/** Opens a torrent's storage: the session's choice of back-end. */
export type StorageOpener = (savePath: string, layout: FileLayout) => TorrentStorage;
