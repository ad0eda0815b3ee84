/**
 * libtorrent's fixed-slots choker (choker.cpp unchoke_sort with the round_robin seed algorithm,
 * session_impl recalculate_unchoke_slots / recalculate_optimistic_unchoke_slots), over plain data.
 * The caller applies the decision: unchoke the returned peers, choke every other one.
 */

export interface ChokerPeer {
  /** Stable per connection. */
  readonly id: number;
  /** The peer is interested in us. */
  readonly interested: boolean;
  /** We currently choke it. */
  readonly choked: boolean;
  /**
   * Its torrent is seeding. Informational: as in libtorrent the same ranking applies to every peer;
   * a seeding torrent's peers send us no payload, so the round-robin tie-breakers decide for them.
   */
  readonly seeding: boolean;
  /** Payload bytes we received from it since the previous rechoke. */
  readonly downloadedInRound: number;
  /** Payload bytes we sent it since it was last unchoked. */
  readonly uploadedSinceUnchoke: number;
  /** ms timestamp of its last unchoke, 0 if choked. */
  readonly unchokedAt: number;
  /** ms timestamp of its last optimistic unchoke, 0 if never. */
  readonly lastOptimisticAt: number;
  /** ms. */
  readonly connectedAt: number;
  /** Its torrent's piece length (for the seeding quota). */
  readonly pieceLength: number;
}

export interface ChokerSettings {
  /** -1 = unlimited. */
  unchoke_slots_limit: number;
  /** 0 = auto: max(1, slots / 5). */
  num_optimistic_unchoke_slots: number;
  seeding_piece_quota: number;
}

export const DEFAULT_CHOKER_SETTINGS: Readonly<ChokerSettings> = {
  unchoke_slots_limit: 8,
  num_optimistic_unchoke_slots: 0,
  seeding_piece_quota: 20,
};

/** Every peer in neither set is choked. The sets are disjoint. */
export interface ChokeDecision {
  unchoke: Set<number>;
  optimistic: Set<number>;
}

/** A round-robin peer keeps its slot at least this long (libtorrent: one minute). */
export const ROUND_ROBIN_MIN_UNCHOKE_MS = 60_000;
/** libtorrent reports an unlimited slot count as INT_MAX in ses.num_unchoke_slots. */
const UNLIMITED_SLOTS = 2147483647;

export class Choker {
  private settings: ChokerSettings;
  /** The optimistic unchokes, kept between rotations. */
  private optimisticIds = new Set<number>();
  /** When we made each peer optimistic (in case the caller's lastOptimisticAt lags). */
  private readonly optimisticAt = new Map<number, number>();
  /** The last rechoke at which each peer was unchoked: a choked peer has waited since then. */
  private readonly lastUnchoked = new Map<number, number>();

  constructor(settings?: Partial<ChokerSettings>) {
    this.settings = { ...DEFAULT_CHOKER_SETTINGS, ...settings };
  }

  updateSettings(s: Partial<ChokerSettings>): void {
    this.settings = { ...this.settings, ...s };
  }

  /** The gauge ses.num_unchoke_slots. */
  get numUnchokeSlots(): number {
    const limit = this.settings.unchoke_slots_limit;
    return limit < 0 ? UNLIMITED_SLOTS : limit;
  }

  /** Optimistic slots in use under the current settings (0 when unlimited or no slots). */
  get numOptimisticSlots(): number {
    const slots = this.settings.unchoke_slots_limit;
    if (slots <= 0) return 0;
    const n = this.settings.num_optimistic_unchoke_slots;
    return Math.min(slots, n > 0 ? n : Math.max(1, Math.floor(slots / 5)));
  }

  /**
   * Decides who is unchoked. `peers` are all the connections sharing the slots; an id missing
   * from the list is treated as disconnected and its state is forgotten.
   * @param rotateOptimistic true every optimistic_unchoke_interval: hand the optimistic slots to the
   *   choked interested peers that have waited longest since their last optimistic unchoke.
   */
  rechoke(peers: readonly ChokerPeer[], now: number, rotateOptimistic: boolean): ChokeDecision {
    const byId = new Map<number, ChokerPeer>();
    for (const p of peers) byId.set(p.id, p);
    this.forgetAbsent(byId);
    for (const id of this.optimisticIds) {
      if (byId.get(id)?.interested !== true) this.optimisticIds.delete(id);
    }

    // Only interested peers are unchokable; libtorrent chokes the others.
    const interested = peers.filter((p) => p.interested);
    const unchoke = new Set<number>();
    const limit = this.settings.unchoke_slots_limit;

    if (limit < 0) {
      for (const p of interested) unchoke.add(p.id);
      this.optimisticIds.clear();
      this.recordUnchoked(peers, unchoke, now);
      return { unchoke, optimistic: new Set() };
    }

    const numOpt = this.numOptimisticSlots;
    const regularSlots = limit - numOpt;
    if (regularSlots > 0) {
      const quota = this.settings.seeding_piece_quota;
      const ranked = interested.slice().sort((a, b) => this.compareRegular(a, b, now, quota));
      for (let i = 0; i < ranked.length && i < regularSlots; i++) unchoke.add(ranked[i]!.id);
    }
    // An optimistic peer that earned a regular slot is promoted, freeing its optimistic slot.
    for (const id of unchoke) this.optimisticIds.delete(id);

    // Candidates: choked peers left out of the regular set, and the current optimistic ones.
    // A peer that just lost its regular slot is not a candidate (libtorrent chokes it first).
    const candidates = interested.filter((p) => !unchoke.has(p.id) && (p.choked || this.optimisticIds.has(p.id)));
    candidates.sort((a, b) => this.compareOptimistic(a, b));
    if (rotateOptimistic) {
      const next = new Set<number>();
      for (let i = 0; i < candidates.length && next.size < numOpt; i++) next.add(candidates[i]!.id);
      for (const id of next) if (!this.optimisticIds.has(id)) this.optimisticAt.set(id, now);
      this.optimisticIds = next;
    } else {
      // Between rotations the optimistic peers keep their slots; fill any that were freed and
      // drop the most recent ones if the slot count shrank.
      for (let i = 0; i < candidates.length && this.optimisticIds.size < numOpt; i++) {
        const id = candidates[i]!.id;
        if (this.optimisticIds.has(id)) continue;
        this.optimisticIds.add(id);
        this.optimisticAt.set(id, now);
      }
      if (this.optimisticIds.size > numOpt) {
        const keep = [...this.optimisticIds].sort((a, b) => (this.optimisticAt.get(a) ?? 0) - (this.optimisticAt.get(b) ?? 0)).slice(0, numOpt);
        this.optimisticIds = new Set(keep);
      }
    }

    const optimistic = new Set(this.optimisticIds);
    this.recordUnchoked(peers, unchoke, now);
    for (const id of optimistic) this.lastUnchoked.set(id, now);
    return { unchoke, optimistic };
  }

  /**
   * libtorrent's unchoke_compare_rr: more payload received in the last round first; then peers
   * still within their round-robin quota; then the status quo (already unchoked first); then
   * whoever has waited longest.
   */
  private compareRegular(a: ChokerPeer, b: ChokerPeer, now: number, quota: number): number {
    if (a.downloadedInRound !== b.downloadedInRound) return b.downloadedInRound - a.downloadedInRound;
    const qa = quotaComplete(a, now, quota);
    const qb = quotaComplete(b, now, quota);
    if (qa !== qb) return qa ? 1 : -1;
    if (a.choked !== b.choked) return a.choked ? 1 : -1;
    const wa = this.waitingSince(a);
    const wb = this.waitingSince(b);
    if (wa !== wb) return wa - wb;
    return a.id - b.id;
  }

  /** Longest since the last optimistic unchoke first (never = 0, as libtorrent), then longest connected. */
  private compareOptimistic(a: ChokerPeer, b: ChokerPeer): number {
    const oa = Math.max(a.lastOptimisticAt, this.optimisticAt.get(a.id) ?? 0);
    const ob = Math.max(b.lastOptimisticAt, this.optimisticAt.get(b.id) ?? 0);
    if (oa !== ob) return oa - ob;
    if (a.connectedAt !== b.connectedAt) return a.connectedAt - b.connectedAt;
    return a.id - b.id;
  }

  /** An unchoked peer has held its slot since its unchoke; a choked one has waited since it was last unchoked. */
  private waitingSince(p: ChokerPeer): number {
    if (!p.choked) return p.unchokedAt;
    return this.lastUnchoked.get(p.id) ?? p.connectedAt;
  }

  private recordUnchoked(peers: readonly ChokerPeer[], unchoke: ReadonlySet<number>, now: number): void {
    for (const p of peers) if (!p.choked || unchoke.has(p.id)) this.lastUnchoked.set(p.id, now);
  }

  private forgetAbsent(byId: ReadonlyMap<number, ChokerPeer>): void {
    for (const id of this.optimisticIds) if (!byId.has(id)) this.optimisticIds.delete(id);
    for (const id of this.optimisticAt.keys()) if (!byId.has(id)) this.optimisticAt.delete(id);
    for (const id of this.lastUnchoked.keys()) if (!byId.has(id)) this.lastUnchoked.delete(id);
  }
}

/** Round robin: an unchoked peer is done with its slot once it got its quota and held it for a minute. */
function quotaComplete(p: ChokerPeer, now: number, quota: number): boolean {
  return !p.choked && p.uploadedSinceUnchoke > p.pieceLength * quota && now - p.unchokedAt > ROUND_ROBIN_MIN_UNCHOKE_MS;
}
