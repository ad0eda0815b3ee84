/**
 * Which BEP 52 hashes to ask peers for, and taking their answers (after libtorrent's hash_picker):
 * - the block hashes of a piece that failed its check, so the bad block can be named and fetched again
 *   alone (first: they hold a piece back);
 * - the piece layers a torrent lacks (a magnet's, or a .torrent without `piece layers`), in chunks of 512
 *   piece hashes with the uncle hashes up to the file's root, so each chunk is proved on arrival.
 * A request unanswered for RETRY_MS may be asked of another peer. Pure: the torrent sends and receives.
 */
import { nextPow2 } from './merkle.js';
import { fileAtPiece, type V2FilePieces, type V2Info } from './v2.js';

export interface HashRequest {
  readonly file: V2FilePieces;
  /** Layer of the hashes asked for (0: blocks). */
  readonly base: number;
  readonly index: number;
  readonly count: number;
  readonly proofLayers: number;
}

/** Piece hashes per request (libtorrent asks for and expects piece layers in buckets of 512). */
export const PIECE_HASH_CHUNK = 512;
/** After this long without an answer, the same hashes may be asked of another peer. */
export const RETRY_MS = 10_000;

const keyOf = (r: { file: V2FilePieces; base: number; index: number }): string => `${r.file.file}:${r.base}:${r.index}`;

export class HashPicker {
  /** Request key → when it was sent. */
  private readonly pending = new Map<string, number>();
  /** Failed pieces whose block hashes are wanted, oldest first: file and piece within the file. */
  private readonly blockWanted: { file: V2FilePieces; filePiece: number; piece: number }[] = [];

  constructor(private readonly v2: V2Info) {}

  /** Whether any file still lacks piece hashes (nothing of it can be verified until they come). */
  needsPieceLayers(): boolean {
    return this.v2.pieces.some((p) => !p.tree.hasPieceLayer());
  }

  /** Whether a piece's hash is known, so it can be checked as soon as its blocks are in. */
  canVerify(piece: number): boolean {
    const at = fileAtPiece(this.v2, piece);
    return at === undefined || at.pieces.tree.pieceHash(at.filePiece) !== undefined;
  }

  /**
   * A piece failed and no block can be named yet: its block hashes are to be asked of a peer that has it.
   * A piece of one block needs no hashes (the block is the piece).
   */
  wantBlockHashes(piece: number): void {
    const at = fileAtPiece(this.v2, piece);
    if (!at || at.pieces.tree.pieceHeight === 0) return;
    if (this.blockWanted.some((b) => b.piece === piece)) return;
    this.blockWanted.push({ file: at.pieces, filePiece: at.filePiece, piece });
  }

  /** The next request for a peer (`peerHas`: whether it has a piece), or null when there is nothing to ask it. */
  pick(now: number, peerHas: (piece: number) => boolean = () => true): HashRequest | null {
    for (const b of this.blockWanted) {
      if (!peerHas(b.piece)) continue;
      const h = b.file.tree.pieceHeight;
      const req: HashRequest = { file: b.file, base: 0, index: b.filePiece * b.file.tree.blocksPerPiece, count: 2 ** h, proofLayers: h - 1 };
      if (this.claim(req, now)) return req;
    }
    for (const f of this.v2.pieces) {
      const tree = f.tree;
      if (f.numPieces <= 1 || tree.hasPieceLayer()) continue;
      for (let index = 0; index < f.numPieces; index += PIECE_HASH_CHUNK) {
        const end = Math.min(f.numPieces, index + PIECE_HASH_CHUNK);
        let known = true;
        for (let p = index; p < end && known; p++) known = tree.pieceHash(p) !== undefined;
        if (known) continue;
        // At least 2: libtorrent answers a single hash with one uncle fewer than it then expects.
        const count = Math.min(PIECE_HASH_CHUNK, Math.max(2, nextPow2(f.numPieces - index)));
        const req: HashRequest = { file: f, base: tree.pieceHeight, index, count, proofLayers: tree.height - tree.pieceHeight - 1 };
        if (this.claim(req, now)) return req;
      }
    }
    return null;
  }

  private claim(req: HashRequest, now: number): boolean {
    const sent = this.pending.get(keyOf(req));
    if (sent !== undefined && now - sent < RETRY_MS) return false;
    this.pending.set(keyOf(req), now);
    return true;
  }

  /**
   * A peer's answer to `req` (hashes and uncles, packed). True when they proved out and were stored; false
   * when they did not (the peer sent wrong hashes: charge it; the request may go to another peer).
   */
  hashes(req: HashRequest, hashes: Uint8Array): boolean {
    this.pending.delete(keyOf(req));
    const ok = req.file.tree.addHashes(req.base, req.index, req.count, req.proofLayers, hashes);
    if (ok && req.base === 0) {
      const i = this.blockWanted.findIndex((b) => b.file === req.file && b.filePiece * req.file.tree.blocksPerPiece === req.index);
      if (i >= 0) this.blockWanted.splice(i, 1);
    }
    return ok;
  }

  /** The peer refused `req` (hash reject): another peer may be asked at once. */
  rejected(req: HashRequest): void {
    this.pending.delete(keyOf(req));
  }

  /** Pieces whose block hashes are still wanted. */
  get wantedBlockHashes(): number {
    return this.blockWanted.length;
  }
}
