/**
 * Piece picker with libtorrent's semantics: partial pieces first, random-first until
 * `initialPickerThreshold` pieces are had, then rarest-first (or sequential), priorities 0..7,
 * snubbed peers picking in reverse, and end-game duplicates.
 *
 * Performance model: `pick()` and `markReceived()` run once per 16 KiB block, so neither allocates
 * nor scans every piece. Per-piece state lives in typed arrays; per-block state exists only for
 * partial pieces, in a pool of slots (libtorrent's downloading_piece / block_info), and the partial
 * pieces that still have free blocks are listed apart. Wanted pieces not started yet are kept in one
 * array partitioned into buckets by (priority, availability), as libtorrent does with m_pieces and
 * m_priority_boundaries, so an availability change moves a piece by one swap.
 */

/** A peer's pieces. The `bitfield` npm BitField satisfies it. */
import { BLOCK_SIZE } from '../block-size.js';

export interface PieceSet {
  get(index: number): boolean;
}

/** Why the caller is picking; counted in the matching `<reason>_piece_picks` counter. */
export type PickReason =
  | 'interesting'
  | 'unchoke'
  | 'incoming'
  | 'incoming_redundant'
  | 'reject'
  | 'snubbed'
  | 'hash_fail';

export interface PickOptions {
  /** The torrent's sequential_download: lowest-index wanted pieces first. */
  sequential: boolean;
  /** libtorrent's "reverse": most common pieces first (highest index in sequential mode). */
  snubbed?: boolean;
  /**
   * Whether end-game duplicates may be handed out when no free block is left for this peer
   * (default true). Pass false when the peer still has requests outstanding: libtorrent only lets
   * a peer request a busy block when its own queue is empty.
   */
  allowBusy?: boolean;
  /** End-game only: blocks this peer already requested, so it never asks for one twice. */
  exclude?: (blockId: number) => boolean;
  /** Counted in counters[`${reason}_piece_picks`]. */
  reason?: PickReason;
}

/** The `picker.*` session counters, libtorrent names without the prefix. */
export interface PickerCounters {
  reject_piece_picks: number;
  unchoke_piece_picks: number;
  incoming_redundant_piece_picks: number;
  incoming_piece_picks: number;
  /** Blocks handed out as end-game duplicates. */
  end_game_piece_picks: number;
  snubbed_piece_picks: number;
  interesting_piece_picks: number;
  hash_fail_piece_picks: number;
  /** Partial pieces examined. */
  piece_picker_partial_loops: number;
  /** Always 0: there are no suggest messages. */
  piece_picker_suggest_loops: number;
  /** Pieces examined in sequential order (either direction). */
  piece_picker_sequential_loops: number;
  /** Pieces examined most-common-first (snubbed peers). */
  piece_picker_reverse_rare_loops: number;
  /** Pieces examined rarest-first. */
  piece_picker_rare_loops: number;
  /** Random starting points chosen (random-first). */
  piece_picker_rand_start_loops: number;
  /** Pieces examined after a random starting point. */
  piece_picker_rand_loops: number;
  /** Blocks examined while looking for end-game duplicates. */
  piece_picker_busy_loops: number;
}

/** libtorrent's initial_picker_threshold. */
export const INITIAL_PICKER_THRESHOLD = 4;
export const DEFAULT_PRIORITY = 4;
export const TOP_PRIORITY = 7;
/** Number of wanted priority levels (1..7); each has its own run of availability buckets. */
const LEVELS = 7;
const MAX_REQUESTS = 0xffff;
/** The slot arrays of a picker with no partial piece yet: shared, since nothing can be written to them. */
const NO_I32 = new Int32Array(0);
const NO_U8 = new Uint8Array(0);
const NO_U16 = new Uint16Array(0);
const NO_U32 = new Uint32Array(0);
/** Slots made at a torrent's first partial piece. */
const FIRST_SLOTS = 16;

export class PiecePicker {
  readonly numPieces: number;
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly blockSize: number;
  readonly blocksPerPiece: number;
  /** Below this many had pieces, new pieces are picked at random (libtorrent's default is 4). */
  initialPickerThreshold = INITIAL_PICKER_THRESHOLD;

  private readonly lastPieceLength: number;
  private readonly lastPieceBlocks: number;

  // Per-piece state.
  private readonly haveArr: Uint8Array;
  private readonly prio: Uint8Array;
  /** Connected peers (not counting HAVE_ALL seeds) that have the piece. */
  private readonly avail: Int32Array;
  /** Slot of a partial piece, -1 when the piece has no per-block state. */
  private readonly pieceSlot: Int32Array;

  private numSeeds = 0;
  private _numHave = 0;
  private _numWanted: number;
  private _numWantedHave = 0;
  /** Wanted pieces we lack that have no slot, by priority: tells pick() which levels to search. */
  private readonly unstarted = new Int32Array(TOP_PRIORITY + 1);
  private numUnstarted: number;

  // Buckets: order[bStart[b] .. bStart[b+1]) holds the wanted, not-had, not-started pieces of
  // bucket b = (7 - priority) * L + availability; pos[piece] >= 0 exactly for those pieces.
  private L = 16;
  private readonly order: Int32Array;
  private readonly pos: Int32Array;
  private bStart: Int32Array;

  // Sequential cursors per priority: no unstarted wanted piece of that priority lies below
  // seqCursor (or above revCursor), so scans resume where they stopped.
  private readonly seqCursor = new Int32Array(TOP_PRIORITY + 1);
  private readonly revCursor = new Int32Array(TOP_PRIORITY + 1);

  // Slots (partial pieces), kept dense in 0..numSlots-1: the partial list is the slot range. None exist
  // until the first partial piece: a seed, or a torrent that is not downloading, never makes them.
  private slotCap = 0;
  private numSlots = 0;
  private slotPiece = NO_I32;
  /** Blocks neither requested nor received. */
  private slotFree = NO_I32;
  private slotReceived = NO_I32;
  /** No free block below this index: resumes the block scan. */
  private slotHint = NO_I32;
  /** Slots with at least one free block, so pick() does not walk fully requested pieces. */
  private openList = NO_I32;
  /** Index of a slot in openList, -1 when it has no free block. */
  private openPos = NO_I32;
  private numOpen = 0;
  private blkReceived = NO_U8;
  private blkReq = NO_U16;
  /** BEP 47: per piece, its blocks that lie wholly in padding (zeros by definition: never requested). Most torrents have none. */
  private padBlocks: Map<number, readonly number[]> | null = null;
  /** Marks blocks already handed out (or excluded) by the current end-game pick. */
  private blkStamp = NO_U32;
  private epoch = 0;

  private rng: number;
  private readonly _counters: PickerCounters = {
    reject_piece_picks: 0,
    unchoke_piece_picks: 0,
    incoming_redundant_piece_picks: 0,
    incoming_piece_picks: 0,
    end_game_piece_picks: 0,
    snubbed_piece_picks: 0,
    interesting_piece_picks: 0,
    hash_fail_piece_picks: 0,
    piece_picker_partial_loops: 0,
    piece_picker_suggest_loops: 0,
    piece_picker_sequential_loops: 0,
    piece_picker_reverse_rare_loops: 0,
    piece_picker_rare_loops: 0,
    piece_picker_rand_start_loops: 0,
    piece_picker_rand_loops: 0,
    piece_picker_busy_loops: 0,
  };

  /**
   * @param blockSize capped at pieceLength, as libtorrent's block_size is min(piece_length, 16 KiB).
   * @param seed seeds the tie-breaking PRNG (tests); random by default.
   */
  constructor(numPieces: number, pieceLength: number, totalLength: number, blockSize = BLOCK_SIZE, seed?: number) {
    if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) throw new RangeError(`invalid piece length ${pieceLength}`);
    if (!Number.isSafeInteger(totalLength) || totalLength < 0) throw new RangeError(`invalid total length ${totalLength}`);
    if (!Number.isSafeInteger(blockSize) || blockSize <= 0) throw new RangeError(`invalid block size ${blockSize}`);
    if (numPieces !== Math.ceil(totalLength / pieceLength)) {
      throw new RangeError(`${numPieces} pieces do not match ${totalLength} bytes in pieces of ${pieceLength}`);
    }
    this.numPieces = numPieces;
    this.pieceLength = pieceLength;
    this.totalLength = totalLength;
    this.blockSize = Math.min(blockSize, pieceLength);
    this.blocksPerPiece = Math.ceil(pieceLength / this.blockSize);
    this.lastPieceLength = numPieces > 0 ? totalLength - (numPieces - 1) * pieceLength : 0;
    this.lastPieceBlocks = Math.ceil(this.lastPieceLength / this.blockSize);

    this.haveArr = new Uint8Array(numPieces);
    this.prio = new Uint8Array(numPieces).fill(DEFAULT_PRIORITY);
    this.avail = new Int32Array(numPieces);
    this.pieceSlot = new Int32Array(numPieces).fill(-1);
    this._numWanted = numPieces;
    this.unstarted[DEFAULT_PRIORITY] = numPieces;
    this.numUnstarted = numPieces;

    this.order = new Int32Array(numPieces);
    this.pos = new Int32Array(numPieces);
    this.bStart = new Int32Array(LEVELS * this.L + 1);
    this.rng = (seed ?? Math.floor(Math.random() * 0x100000000)) >>> 0 || 0x9e3779b9;
    this.resetCursors();
    this.rebuild(this.L);
  }

  get counters(): Readonly<PickerCounters> {
    return this._counters;
  }

  // ---- geometry ----

  blocksInPiece(piece: number): number {
    return piece === this.numPieces - 1 ? this.lastPieceBlocks : this.blocksPerPiece;
  }

  blockLength(piece: number, block: number): number {
    const len = piece === this.numPieces - 1 ? this.lastPieceLength : this.pieceLength;
    return Math.min(this.blockSize, len - block * this.blockSize);
  }

  /**
   * Blocks of `piece` that lie wholly in BEP 47 padding: counted as received whenever the piece starts, so
   * they are never requested (libtorrent's mark_as_pad). A piece always keeps at least one real block.
   */
  setPadBlocks(piece: number, blocks: readonly number[]): void {
    this.checkPiece(piece);
    const nb = this.blocksInPiece(piece);
    const valid = [...new Set(blocks)].filter((b) => Number.isInteger(b) && b >= 0 && b < nb);
    if (valid.length >= nb) throw new RangeError(`piece ${piece} cannot be padding only`);
    if (this.pieceSlot[piece] >= 0) throw new Error(`piece ${piece} is already under way`);
    if (valid.length === 0) this.padBlocks?.delete(piece);
    else (this.padBlocks ??= new Map()).set(piece, valid);
  }

  /** Blocks of the piece that are not padding (the ones a peer must send). */
  private realBlocks(piece: number): number {
    return this.blocksInPiece(piece) - (this.padBlocks?.get(piece)?.length ?? 0);
  }

  // ---- what we have ----

  have(piece: number): boolean {
    return this.haveArr[piece] === 1;
  }

  get numHave(): number {
    return this._numHave;
  }

  get numWanted(): number {
    return this._numWanted;
  }

  get numWantedHave(): number {
    return this._numWantedHave;
  }

  isFinished(): boolean {
    return this._numWantedHave === this._numWanted;
  }

  isSeed(): boolean {
    return this._numHave === this.numPieces;
  }

  /** A verified piece (also used when checking existing data). Drops any partial state. */
  setHave(piece: number): void {
    this.checkPiece(piece);
    if (this.haveArr[piece] === 1) return;
    const p = this.prio[piece];
    const slot = this.pieceSlot[piece];
    if (this.pos[piece] >= 0) this.bucketRemove(piece);
    if (p > 0 && slot < 0) this.adjUnstarted(p, -1);
    this.haveArr[piece] = 1;
    this._numHave++;
    if (p > 0) this._numWantedHave++;
    if (slot >= 0) this.releaseSlot(slot);
  }

  /** E.g. a recheck found the piece missing. */
  clearHave(piece: number): void {
    this.checkPiece(piece);
    if (this.haveArr[piece] === 0) return;
    this.haveArr[piece] = 0;
    this._numHave--;
    const p = this.prio[piece];
    if (p > 0) {
      this._numWantedHave--;
      this.bucketInsert(piece);
      this.adjUnstarted(p, 1);
      this.becameCandidate(piece);
    }
  }

  // ---- priorities ----

  piecePriority(piece: number): number {
    return this.prio[piece];
  }

  setPiecePriority(piece: number, priority: number): void {
    this.checkPiece(piece);
    checkPriority(priority);
    const old = this.prio[piece];
    if (old === priority) return;
    const had = this.haveArr[piece] === 1;
    const unstarted = !had && this.pieceSlot[piece] < 0;
    if (this.pos[piece] >= 0) this.bucketRemove(piece);
    if (old > 0) {
      this._numWanted--;
      if (had) this._numWantedHave--;
      if (unstarted) this.adjUnstarted(old, -1);
    }
    this.prio[piece] = priority;
    if (priority > 0) {
      this._numWanted++;
      if (had) this._numWantedHave++;
      if (unstarted) {
        this.bucketInsert(piece);
        this.adjUnstarted(priority, 1);
        this.becameCandidate(piece);
      }
    }
  }

  /** Sets every piece's priority at once (file priorities): one O(pieces) rebuild instead of per-piece moves. */
  setPiecePriorities(priorities: ArrayLike<number>): void {
    if (priorities.length !== this.numPieces) throw new RangeError(`expected ${this.numPieces} priorities, got ${priorities.length}`);
    for (let i = 0; i < this.numPieces; i++) checkPriority(priorities[i]);
    this._numWanted = 0;
    this._numWantedHave = 0;
    this.unstarted.fill(0);
    this.numUnstarted = 0;
    for (let i = 0; i < this.numPieces; i++) {
      const p = priorities[i];
      this.prio[i] = p;
      if (p === 0) continue;
      this._numWanted++;
      if (this.haveArr[i] === 1) this._numWantedHave++;
      else if (this.pieceSlot[i] < 0) this.adjUnstarted(p, 1);
    }
    this.resetCursors();
    this.rebuild(this.L);
  }

  // ---- availability ----

  addPeerPieces(peer: PieceSet): void {
    for (let i = 0; i < this.numPieces; i++) if (peer.get(i)) this.incAvail(i);
  }

  removePeerPieces(peer: PieceSet): void {
    for (let i = 0; i < this.numPieces; i++) if (peer.get(i)) this.decAvail(i);
  }

  /** A peer's HAVE message. */
  addPeerHave(piece: number): void {
    this.checkPiece(piece);
    this.incAvail(piece);
  }

  /** A HAVE_ALL peer: counted once instead of touching every piece. */
  addSeed(): void {
    this.numSeeds++;
  }

  removeSeed(): void {
    if (this.numSeeds > 0) this.numSeeds--;
  }

  get seeds(): number {
    return this.numSeeds;
  }

  availability(piece: number): number {
    return this.avail[piece] + this.numSeeds;
  }

  /**
   * libtorrent's distributed_copies: the lowest availability plus the fraction of pieces above it
   * (in thousandths, as torrent_status reports it). Like libtorrent, our own copy counts.
   */
  distributedCopies(): number {
    const n = this.numPieces;
    if (n === 0) return 0;
    let min = Number.MAX_SAFE_INTEGER;
    let atMin = 0;
    let above = 0;
    for (let i = 0; i < n; i++) {
      const c = this.avail[i] + this.haveArr[i];
      if (c < min) {
        above += atMin;
        min = c;
        atMin = 1;
      } else if (c === min) atMin++;
      else above++;
    }
    return min + this.numSeeds + Math.floor((above * 1000) / n) / 1000;
  }

  // ---- picking ----

  /**
   * Appends up to `max` block ids (piece * blocksPerPiece + block) that `peer` has, we lack, are
   * wanted and are not requested yet, marks them requested, and returns how many it appended.
   * When there are none it may hand out end-game duplicates (see PickOptions.allowBusy).
   * The peer's pieces must be counted (addPeerPieces/addPeerHave/addSeed) for rarest-first to find them.
   */
  pick(peer: PieceSet, max: number, out: number[], opts: PickOptions): number {
    if (max <= 0) return 0;
    if (opts.reason !== undefined) this.countReason(opts.reason);
    let n = this.pickPartials(peer, max, out, 0);
    if (n < max && this.numUnstarted > 0) {
      if (opts.sequential) n = opts.snubbed === true ? this.pickReverseSequential(peer, max, out, n) : this.pickSequential(peer, max, out, n);
      else if (this._numHave < this.initialPickerThreshold) n = this.pickRandom(peer, max, out, n);
      else n = this.pickRare(peer, max, out, n, opts.snubbed === true);
    }
    if (n === 0 && opts.allowBusy !== false) n = this.pickBusy(peer, max, out, opts.exclude);
    return n;
  }

  /**
   * Time-critical picking (libtorrent's deadline pieces): appends up to `max` free blocks of `piece`,
   * starting it if needed, when `peer` has it and we want and lack it. With `duplicates` (the piece is
   * late) and no free block left, hands out blocks already requested elsewhere, fewest requests first,
   * skipping those `exclude` names (the peer's own). Returns how many it appended.
   */
  pickPiece(piece: number, peer: PieceSet, max: number, out: number[], duplicates: boolean, exclude?: (blockId: number) => boolean): number {
    if (max <= 0 || this.haveArr[piece] === 1 || this.prio[piece] === 0 || !peer.get(piece)) return 0;
    let s = this.pieceSlot[piece];
    if (s < 0) s = this.startPiece(piece);
    let n = this.slotFree[s] > 0 ? this.takeBlocks(s, max, out, 0) : 0;
    if (n > 0 || !duplicates) return n;
    const bpp = this.blocksPerPiece;
    const nb = this.blocksInPiece(piece);
    const base = s * bpp;
    if (this.epoch === 0xffffffff) {
      this.blkStamp.fill(0);
      this.epoch = 0;
    }
    const epoch = ++this.epoch;
    // At most three requests per block; fewest first, each block once per call (stamped).
    for (let want = 1; want <= 2 && n < max; want++) {
      for (let b = 0; b < nb && n < max; b++) {
        const idx = base + b;
        if (this.blkReceived[idx] === 1 || this.blkReq[idx] !== want || this.blkStamp[idx] === epoch) continue;
        if (exclude !== undefined && exclude(piece * bpp + b)) continue;
        this.blkStamp[idx] = epoch;
        this.blkReq[idx] = want + 1;
        out.push(piece * bpp + b);
        n++;
        this._counters.end_game_piece_picks++;
      }
    }
    return n;
  }

  /** The request for a block is gone (choke, reject, timeout, disconnect, cancel). */
  abortRequest(blockId: number): void {
    const piece = Math.floor(blockId / this.blocksPerPiece);
    const block = blockId - piece * this.blocksPerPiece;
    if (piece < 0 || piece >= this.numPieces || block >= this.blocksInPiece(piece)) return;
    const s = this.pieceSlot[piece];
    if (s < 0) return;
    const idx = s * this.blocksPerPiece + block;
    const req = this.blkReq[idx];
    if (req === 0) return;
    this.blkReq[idx] = req - 1;
    if (req === 1 && this.blkReceived[idx] === 0) {
      const free = ++this.slotFree[s];
      if (free === 1) this.openAdd(s);
      if (block < this.slotHint[s]) this.slotHint[s] = block;
      // Nothing requested or received any more: like libtorrent, the piece stops being partial.
      if (free === this.realBlocks(piece)) this.releaseSlot(s);
    }
  }

  /**
   * Block data arrived: returns false if it had already been received (redundant), true otherwise.
   * Also counts one outstanding request for the block as fulfilled.
   */
  markReceived(blockId: number): boolean {
    const piece = Math.floor(blockId / this.blocksPerPiece);
    const block = blockId - piece * this.blocksPerPiece;
    if (piece < 0 || piece >= this.numPieces || block >= this.blocksInPiece(piece)) throw new RangeError(`invalid block id ${blockId}`);
    if (this.haveArr[piece] === 1) return false;
    let s = this.pieceSlot[piece];
    if (s < 0) s = this.startPiece(piece); // unrequested data for a piece we lack is still data
    const idx = s * this.blocksPerPiece + block;
    const req = this.blkReq[idx];
    if (this.blkReceived[idx] === 1) {
      if (req > 0) this.blkReq[idx] = req - 1;
      return false;
    }
    this.blkReceived[idx] = 1;
    this.slotReceived[s]++;
    if (req > 0) this.blkReq[idx] = req - 1;
    else if (--this.slotFree[s] === 0) this.openRemove(s);
    return true;
  }

  /** All blocks received (ready to hash); true for pieces we have. */
  isPieceComplete(piece: number): boolean {
    if (this.haveArr[piece] === 1) return true;
    const s = this.pieceSlot[piece];
    return s >= 0 && this.slotReceived[s] === this.blocksInPiece(piece);
  }

  /** Hash failed: every block is free again and the piece is not had. */
  pieceFailed(piece: number): void {
    this.checkPiece(piece);
    if (this.haveArr[piece] === 1) this.clearHave(piece);
    const s = this.pieceSlot[piece];
    if (s >= 0) this.releaseSlot(s);
  }

  /** BEP 52: these blocks of a piece failed their hashes (the others are good): only they are wanted again. */
  blocksFailed(piece: number, blocks: readonly number[]): void {
    const s = this.pieceSlot[piece];
    if (s < 0 || this.haveArr[piece] === 1) return;
    for (const block of blocks) {
      const idx = s * this.blocksPerPiece + block;
      if (block >= this.blocksInPiece(piece) || this.blkReceived[idx] === 0) continue;
      this.blkReceived[idx] = 0;
      this.slotReceived[s]--;
      if (this.blkReq[idx] === 0) {
        if (++this.slotFree[s] === 1) this.openAdd(s);
        if (block < this.slotHint[s]) this.slotHint[s] = block;
      }
    }
  }

  /** Hash passed: same as setHave; the piece leaves the partial list. */
  pieceVerified(piece: number): void {
    this.setHave(piece);
  }

  /** Outstanding requests for a block (for end-game cancels). */
  requestCount(blockId: number): number {
    const piece = Math.floor(blockId / this.blocksPerPiece);
    if (piece < 0 || piece >= this.numPieces) return 0;
    const s = this.pieceSlot[piece];
    return s < 0 ? 0 : this.blkReq[s * this.blocksPerPiece + blockId - piece * this.blocksPerPiece];
  }

  /** Pieces with per-block state (requested or received blocks, not yet had). */
  get numPartial(): number {
    return this.numSlots;
  }

  /**
   * Every block of every wanted piece we lack is requested or received: only end-game duplicates
   * are left to pick.
   */
  get inEndGame(): boolean {
    if (this._numWantedHave === this._numWanted || this.numUnstarted > 0) return false;
    for (let i = 0; i < this.numOpen; i++) {
      if (this.prio[this.slotPiece[this.openList[i]]] > 0) return false;
    }
    return true;
  }

  // ---- pick passes ----

  private pickPartials(peer: PieceSet, max: number, out: number[], n: number): number {
    const c = this._counters;
    // Downwards: takeBlocks may drop the current entry, which swaps in an already visited one.
    for (let i = this.numOpen - 1; i >= 0 && n < max; i--) {
      c.piece_picker_partial_loops++;
      const s = this.openList[i];
      const piece = this.slotPiece[s];
      if (this.prio[piece] === 0 || !peer.get(piece)) continue;
      n = this.takeBlocks(s, max, out, n);
    }
    return n;
  }

  private pickSequential(peer: PieceSet, max: number, out: number[], n: number): number {
    const c = this._counters;
    const np = this.numPieces;
    for (let p = TOP_PRIORITY; p >= 1; p--) {
      if (this.unstarted[p] === 0) continue;
      let advancing = true;
      for (let i = this.seqCursor[p]; i < np; i++) {
        c.piece_picker_sequential_loops++;
        if (this.prio[i] !== p || this.haveArr[i] === 1 || this.pieceSlot[i] >= 0) {
          if (advancing) this.seqCursor[p] = i + 1;
          continue;
        }
        if (!peer.get(i)) {
          advancing = false;
          continue;
        }
        if (advancing) this.seqCursor[p] = i + 1;
        n = this.takeBlocks(this.startPiece(i), max, out, n);
        if (n >= max) return n;
      }
    }
    return n;
  }

  private pickReverseSequential(peer: PieceSet, max: number, out: number[], n: number): number {
    const c = this._counters;
    for (let p = TOP_PRIORITY; p >= 1; p--) {
      if (this.unstarted[p] === 0) continue;
      let advancing = true;
      for (let i = this.revCursor[p]; i >= 0; i--) {
        c.piece_picker_sequential_loops++;
        if (this.prio[i] !== p || this.haveArr[i] === 1 || this.pieceSlot[i] >= 0) {
          if (advancing) this.revCursor[p] = i - 1;
          continue;
        }
        if (!peer.get(i)) {
          advancing = false;
          continue;
        }
        if (advancing) this.revCursor[p] = i - 1;
        n = this.takeBlocks(this.startPiece(i), max, out, n);
        if (n >= max) return n;
      }
    }
    return n;
  }

  /** Random-first: a random start within each priority level's pieces, then onwards. */
  private pickRandom(peer: PieceSet, max: number, out: number[], n: number): number {
    const c = this._counters;
    const L = this.L;
    for (let g = 0; g < LEVELS; g++) {
      // Starting a piece takes it out of the level, so each new piece gets a fresh random start.
      search: while (n < max) {
        const lo = this.bStart[g * L];
        const hi = this.bStart[(g + 1) * L];
        const size = hi - lo;
        if (size === 0) break;
        c.piece_picker_rand_start_loops++;
        let idx = lo + (this.rand() % size);
        for (let k = 0; k < size; k++, idx++) {
          if (idx === hi) idx = lo;
          c.piece_picker_rand_loops++;
          const piece = this.order[idx];
          if (!peer.get(piece)) continue;
          n = this.takeBlocks(this.startPiece(piece), max, out, n);
          continue search;
        }
        break;
      }
      if (n >= max) return n;
    }
    return n;
  }

  /** Rarest-first (or most-common-first for snubbed peers) within each priority level. */
  private pickRare(peer: PieceSet, max: number, out: number[], n: number, reverse: boolean): number {
    const L = this.L;
    // Peer-count 0 pieces are only available from HAVE_ALL peers; without any, nobody has them.
    const a0 = this.numSeeds > 0 ? 0 : 1;
    for (let g = 0; g < LEVELS; g++) {
      if (this.unstarted[TOP_PRIORITY - g] === 0) continue;
      if (this.bStart[g * L] === this.bStart[(g + 1) * L]) continue;
      if (reverse) {
        for (let a = L - 1; a >= a0; a--) {
          n = this.scanBucket(g * L + a, peer, max, out, n, true);
          if (n >= max) return n;
        }
      } else {
        for (let a = a0; a < L; a++) {
          n = this.scanBucket(g * L + a, peer, max, out, n, false);
          if (n >= max) return n;
        }
      }
    }
    return n;
  }

  /**
   * Starts the bucket's pieces the peer has, each found from a random offset so equal rarity is
   * shuffled (starting a piece takes it out of the bucket, hence the fresh search each time).
   */
  private scanBucket(b: number, peer: PieceSet, max: number, out: number[], n: number, reverse: boolean): number {
    const c = this._counters;
    search: while (n < max) {
      const lo = this.bStart[b];
      const hi = this.bStart[b + 1];
      const size = hi - lo;
      if (size === 0) return n;
      let idx = lo + (this.rand() % size);
      for (let k = 0; k < size; k++, idx++) {
        if (idx === hi) idx = lo;
        if (reverse) c.piece_picker_reverse_rare_loops++;
        else c.piece_picker_rare_loops++;
        const piece = this.order[idx];
        if (!peer.get(piece)) continue;
        n = this.takeBlocks(this.startPiece(piece), max, out, n);
        continue search;
      }
      return n;
    }
    return n;
  }

  /**
   * End-game: requested-but-not-received blocks of pieces the peer has, fewest outstanding
   * requests first, each at most once per call.
   */
  private pickBusy(peer: PieceSet, max: number, out: number[], exclude: ((blockId: number) => boolean) | undefined): number {
    const c = this._counters;
    const bpp = this.blocksPerPiece;
    if (this.epoch === 0xffffffff) {
      this.blkStamp.fill(0);
      this.epoch = 0;
    }
    const epoch = ++this.epoch;
    let n = 0;
    while (n < max) {
      // First pass: the lowest request count among candidates (stamping excluded blocks so the
      // callback runs once per block).
      let min = MAX_REQUESTS + 1;
      for (let s = 0; s < this.numSlots; s++) {
        const piece = this.slotPiece[s];
        const nb = this.blocksInPiece(piece);
        if (this.slotReceived[s] === nb || this.prio[piece] === 0 || !peer.get(piece)) continue;
        const base = s * bpp;
        for (let b = 0; b < nb; b++) {
          const idx = base + b;
          const req = this.blkReq[idx];
          if (req === 0 || this.blkReceived[idx] === 1 || this.blkStamp[idx] === epoch) continue;
          c.piece_picker_busy_loops++;
          if (exclude !== undefined && exclude(piece * bpp + b)) {
            this.blkStamp[idx] = epoch;
            continue;
          }
          if (req < min) min = req;
        }
      }
      if (min > MAX_REQUESTS) break;
      // Second pass: hand out the blocks at that count.
      for (let s = 0; s < this.numSlots && n < max; s++) {
        const piece = this.slotPiece[s];
        const nb = this.blocksInPiece(piece);
        if (this.slotReceived[s] === nb || this.prio[piece] === 0 || !peer.get(piece)) continue;
        const base = s * bpp;
        for (let b = 0; b < nb && n < max; b++) {
          const idx = base + b;
          if (this.blkReq[idx] !== min || this.blkReceived[idx] === 1 || this.blkStamp[idx] === epoch) continue;
          if (min < MAX_REQUESTS) this.blkReq[idx] = min + 1;
          this.blkStamp[idx] = epoch;
          out.push(piece * bpp + b);
          n++;
          c.end_game_piece_picks++;
        }
      }
    }
    return n;
  }

  /** Requests the slot's free blocks in order until `max`. */
  private takeBlocks(s: number, max: number, out: number[], n: number): number {
    const piece = this.slotPiece[s];
    const nb = this.blocksInPiece(piece);
    const base = s * this.blocksPerPiece;
    const id0 = piece * this.blocksPerPiece;
    let free = this.slotFree[s];
    let b = this.slotHint[s];
    for (; b < nb && n < max && free > 0; b++) {
      const idx = base + b;
      if (this.blkReceived[idx] === 0 && this.blkReq[idx] === 0) {
        this.blkReq[idx] = 1;
        free--;
        out.push(id0 + b);
        n++;
      }
    }
    this.slotFree[s] = free;
    this.slotHint[s] = b;
    if (free === 0) this.openRemove(s);
    return n;
  }

  private countReason(reason: PickReason): void {
    const c = this._counters;
    switch (reason) {
      case 'interesting': c.interesting_piece_picks++; break;
      case 'unchoke': c.unchoke_piece_picks++; break;
      case 'incoming': c.incoming_piece_picks++; break;
      case 'incoming_redundant': c.incoming_redundant_piece_picks++; break;
      case 'reject': c.reject_piece_picks++; break;
      case 'snubbed': c.snubbed_piece_picks++; break;
      case 'hash_fail': c.hash_fail_piece_picks++; break;
    }
  }

  // ---- slots ----

  private startPiece(piece: number): number {
    if (this.numSlots === this.slotCap) this.growSlots(Math.max(FIRST_SLOTS, this.slotCap * 2));
    const s = this.numSlots++;
    const bpp = this.blocksPerPiece;
    this.slotPiece[s] = piece;
    this.pieceSlot[piece] = s;
    this.slotFree[s] = this.blocksInPiece(piece);
    this.slotReceived[s] = 0;
    this.slotHint[s] = 0;
    this.blkReceived.fill(0, s * bpp, s * bpp + bpp);
    this.blkReq.fill(0, s * bpp, s * bpp + bpp);
    const pad = this.padBlocks?.get(piece);
    if (pad !== undefined) {
      for (const b of pad) this.blkReceived[s * bpp + b] = 1;
      this.slotReceived[s] = pad.length;
      this.slotFree[s] -= pad.length;
    }
    this.openPos[s] = -1;
    this.openAdd(s);
    if (this.pos[piece] >= 0) {
      this.bucketRemove(piece);
      this.adjUnstarted(this.prio[piece], -1);
    }
    return s;
  }

  /** Drops a piece's block state; the last slot moves into the hole so the list stays dense. */
  private releaseSlot(s: number): void {
    const piece = this.slotPiece[s];
    const bpp = this.blocksPerPiece;
    this.pieceSlot[piece] = -1;
    if (this.openPos[s] >= 0) this.openRemove(s);
    const last = --this.numSlots;
    if (s !== last) {
      const moved = this.slotPiece[last];
      this.slotPiece[s] = moved;
      this.pieceSlot[moved] = s;
      this.slotFree[s] = this.slotFree[last];
      this.slotReceived[s] = this.slotReceived[last];
      this.slotHint[s] = this.slotHint[last];
      this.blkReceived.copyWithin(s * bpp, last * bpp, last * bpp + bpp);
      this.blkReq.copyWithin(s * bpp, last * bpp, last * bpp + bpp);
      this.blkStamp.copyWithin(s * bpp, last * bpp, last * bpp + bpp);
      const op = this.openPos[last];
      this.openPos[s] = op;
      if (op >= 0) this.openList[op] = s;
    }
    this.openPos[last] = -1;
    const p = this.prio[piece];
    if (p > 0 && this.haveArr[piece] === 0) {
      this.bucketInsert(piece);
      this.adjUnstarted(p, 1);
      this.becameCandidate(piece);
    }
  }

  /** Doubles the slot pool; amortised, so picking does not allocate per call. */
  private growSlots(cap: number): void {
    const bpp = this.blocksPerPiece;
    const slotPiece = new Int32Array(cap);
    slotPiece.set(this.slotPiece);
    this.slotPiece = slotPiece;
    const slotFree = new Int32Array(cap);
    slotFree.set(this.slotFree);
    this.slotFree = slotFree;
    const slotReceived = new Int32Array(cap);
    slotReceived.set(this.slotReceived);
    this.slotReceived = slotReceived;
    const slotHint = new Int32Array(cap);
    slotHint.set(this.slotHint);
    this.slotHint = slotHint;
    const blkReceived = new Uint8Array(cap * bpp);
    blkReceived.set(this.blkReceived);
    this.blkReceived = blkReceived;
    const blkReq = new Uint16Array(cap * bpp);
    blkReq.set(this.blkReq);
    this.blkReq = blkReq;
    const blkStamp = new Uint32Array(cap * bpp);
    blkStamp.set(this.blkStamp);
    this.blkStamp = blkStamp;
    const openList = new Int32Array(cap);
    openList.set(this.openList);
    this.openList = openList;
    const openPos = new Int32Array(cap).fill(-1);
    openPos.set(this.openPos);
    this.openPos = openPos;
    this.slotCap = cap;
  }

  private openAdd(s: number): void {
    this.openPos[s] = this.numOpen;
    this.openList[this.numOpen++] = s;
  }

  private openRemove(s: number): void {
    const i = this.openPos[s];
    const moved = this.openList[--this.numOpen];
    this.openList[i] = moved;
    this.openPos[moved] = i;
    this.openPos[s] = -1;
  }

  private adjUnstarted(p: number, d: number): void {
    this.unstarted[p] += d;
    this.numUnstarted += d;
  }

  /** The piece became pickable as a new piece again: pull the sequential cursors back to it. */
  private becameCandidate(piece: number): void {
    const p = this.prio[piece];
    if (this.seqCursor[p] > piece) this.seqCursor[p] = piece;
    if (this.revCursor[p] < piece) this.revCursor[p] = piece;
  }

  private resetCursors(): void {
    this.seqCursor.fill(0);
    this.revCursor.fill(this.numPieces - 1);
  }

  // ---- buckets ----

  private bucketOf(piece: number): number {
    return (TOP_PRIORITY - this.prio[piece]) * this.L + this.avail[piece];
  }

  private incAvail(piece: number): void {
    const a = this.avail[piece];
    if (this.pos[piece] >= 0) {
      if (a + 1 >= this.L) this.rebuild(this.L * 2);
      // Last of bucket b becomes first of bucket b + 1.
      const b = this.bucketOf(piece);
      const last = this.bStart[b + 1] - 1;
      this.swap(this.pos[piece], last);
      this.bStart[b + 1] = last;
    }
    this.avail[piece] = a + 1;
  }

  private decAvail(piece: number): void {
    const a = this.avail[piece];
    if (a === 0) return;
    if (this.pos[piece] >= 0) {
      // First of bucket b becomes last of bucket b - 1.
      const b = this.bucketOf(piece);
      const first = this.bStart[b];
      this.swap(this.pos[piece], first);
      this.bStart[b] = first + 1;
    }
    this.avail[piece] = a - 1;
  }

  /** Adds a piece at the end of its bucket, shifting each later bucket by one (first element to its end). */
  private bucketInsert(piece: number): void {
    if (this.avail[piece] >= this.L) {
      let l = this.L * 2;
      while (l <= this.avail[piece]) l *= 2;
      this.rebuild(l); // places the piece too
      return;
    }
    const K = LEVELS * this.L;
    const b = this.bucketOf(piece);
    const bs = this.bStart;
    let hole = bs[K];
    bs[K] = hole + 1;
    for (let c = K - 1; c > b; c--) {
      const first = bs[c];
      if (first !== hole) {
        const moved = this.order[first];
        this.order[hole] = moved;
        this.pos[moved] = hole;
      }
      bs[c] = first + 1;
      hole = first;
    }
    this.order[hole] = piece;
    this.pos[piece] = hole;
  }

  /** Removes a piece (key from its current priority and availability), shifting later buckets back. */
  private bucketRemove(piece: number): void {
    const K = LEVELS * this.L;
    const b = this.bucketOf(piece);
    const bs = this.bStart;
    let hole = bs[b + 1] - 1;
    this.swap(this.pos[piece], hole);
    for (let c = b + 1; c < K; c++) {
      const last = bs[c + 1] - 1;
      if (last !== hole) {
        const moved = this.order[last];
        this.order[hole] = moved;
        this.pos[moved] = hole;
      }
      bs[c] = hole;
      hole = last;
    }
    bs[K] = hole;
    this.pos[piece] = -1;
  }

  private swap(i: number, j: number): void {
    if (i === j) return;
    const a = this.order[i];
    const b = this.order[j];
    this.order[i] = b;
    this.pos[b] = i;
    this.order[j] = a;
    this.pos[a] = j;
  }

  /** Counting sort of every unstarted wanted piece we lack into L availability levels, shuffled within buckets. */
  private rebuild(L: number): void {
    const np = this.numPieces;
    let maxAvail = 0;
    for (let i = 0; i < np; i++) if (this.avail[i] > maxAvail) maxAvail = this.avail[i];
    while (L <= maxAvail) L *= 2;
    this.L = L;
    const K = LEVELS * L;
    const bs = new Int32Array(K + 1);
    for (let i = 0; i < np; i++) {
      if (this.prio[i] > 0 && this.haveArr[i] === 0 && this.pieceSlot[i] < 0) bs[this.bucketOf(i) + 1]++;
    }
    for (let b = 0; b < K; b++) bs[b + 1] += bs[b];
    const fill = bs.slice(0, K);
    for (let i = 0; i < np; i++) {
      if (this.prio[i] > 0 && this.haveArr[i] === 0 && this.pieceSlot[i] < 0) {
        const at = fill[this.bucketOf(i)]++;
        this.order[at] = i;
        this.pos[i] = at;
      } else this.pos[i] = -1;
    }
    this.bStart = bs;
    for (let b = 0; b < K; b++) {
      const lo = bs[b];
      for (let j = bs[b + 1] - 1; j > lo; j--) this.swap(j, lo + (this.rand() % (j - lo + 1)));
    }
  }

  /** xorshift32: cheap tie-breaking, seedable for tests. */
  private rand(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng;
  }

  private checkPiece(piece: number): void {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.numPieces) throw new RangeError(`invalid piece index ${piece}`);
  }
}

function checkPriority(priority: number): void {
  if (!Number.isInteger(priority) || priority < 0 || priority > TOP_PRIORITY) throw new RangeError(`invalid piece priority ${priority}`);
}
