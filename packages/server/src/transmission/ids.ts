/**
 * Transmission's numeric torrent ids: given in the order torrents are first seen, never reused, stable for
 * the daemon's life (a client may keep them between calls). Removed ids are remembered for a while, for
 * `recently-active`'s `removed` list.
 */
export class TorrentIds {
  private next = 1;
  private readonly byHash = new Map<string, number>();
  private readonly byId = new Map<number, string>();
  private removed: { id: number; at: number }[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  idOf(hash: string): number {
    let id = this.byHash.get(hash);
    if (id === undefined) {
      id = this.next++;
      this.byHash.set(hash, id);
      this.byId.set(id, hash);
    }
    return id;
  }

  hashOf(id: number): string | undefined {
    return this.byId.get(id);
  }

  /** The torrent is known by another hash now (the engine's torrent_update): it keeps its id. */
  rename(from: string, to: string): void {
    const id = this.byHash.get(from);
    if (id === undefined || this.byHash.has(to)) return;
    this.byHash.delete(from);
    this.byHash.set(to, id);
    this.byId.set(id, to);
  }

  forget(hash: string): void {
    const id = this.byHash.get(hash);
    if (id === undefined) return;
    this.byHash.delete(hash);
    this.byId.delete(id);
    this.removed.push({ id, at: this.now() });
    if (this.removed.length > 10_000) this.removed = this.removed.slice(-5_000);
  }

  /** Ids removed within the last `withinMs`. */
  removedSince(withinMs: number): number[] {
    const since = this.now() - withinMs;
    return this.removed.filter((r) => r.at >= since).map((r) => r.id);
  }
}
