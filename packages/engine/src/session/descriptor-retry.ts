/**
 * Torrents that stopped for want of file descriptors (EMFILE/ENFILE) wait here to be retried: the error
 * state says why meanwhile, and nothing is dropped. Descriptors come back when connections or other
 * torrents' files close, which the session cannot see directly, so each torrent is retried on a backoff
 * (1 s doubling to a minute). A torrent that falls out again soon after a retry backs off further; one that
 * ran for a minute starts from 1 s again.
 *
 * Pure: the session calls `due(now)` from its tick and retries what comes back.
 */
export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 60_000;

interface Waiting {
  due: number;
  attempt: number;
}

export class DescriptorRetry<T> {
  private readonly waiting = new Map<T, Waiting>();
  /** When each torrent was last retried, and at which attempt: a quick relapse continues the backoff. */
  private readonly retried = new Map<T, { at: number; attempt: number }>();

  get size(): number {
    return this.waiting.size;
  }

  has(item: T): boolean {
    return this.waiting.has(item);
  }

  /** `item` failed for want of descriptors at `now`. */
  add(item: T, now: number): void {
    if (this.waiting.has(item)) return;
    const last = this.retried.get(item);
    this.retried.delete(item);
    const attempt = last !== undefined && now - last.at < RETRY_MAX_MS ? last.attempt + 1 : 0;
    this.waiting.set(item, { due: now + delay(attempt), attempt });
  }

  /** `item` is gone (removed, or resumed by hand): forget it. */
  delete(item: T): void {
    this.waiting.delete(item);
    this.retried.delete(item);
  }

  /** Takes out and returns what is due at `now`, to be retried. */
  due(now: number): T[] {
    const out: T[] = [];
    for (const [item, w] of this.waiting) {
      if (w.due > now) continue;
      this.waiting.delete(item);
      this.retried.set(item, { at: now, attempt: w.attempt });
      out.push(item);
    }
    // Old retry records only matter for a quick relapse.
    if (this.retried.size > 4 * (this.waiting.size + out.length) + 64) {
      for (const [item, r] of this.retried) if (now - r.at >= RETRY_MAX_MS) this.retried.delete(item);
    }
    return out;
  }
}

function delay(attempt: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(attempt, 16));
}
