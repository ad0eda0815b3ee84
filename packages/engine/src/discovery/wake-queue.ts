/** An item of a WakeQueue: the queue keeps its wake time and its place in the heap on it (no side map). */
export interface Wakeable {
  /** When the item wants to be visited (ms); meaningful while it is queued. */
  wakeAt: number;
  /** Its index in the heap, -1 when not queued. */
  wakeIndex: number;
}

/**
 * The discovery items to visit, earliest first: a binary min-heap on wakeAt with the index kept on the item,
 * so that bringing a wake forward or removing an item is O(log n). The session's discovery timer pops only
 * what is due, so an idle torrent (paused, or with nothing due for minutes) costs nothing per second.
 */
export class WakeQueue<T extends Wakeable> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** Wakes `item` at `at` or earlier (an earlier wake already queued stands); Infinity queues nothing. */
  wakeBy(item: T, at: number): void {
    if (!(at < Infinity)) return;
    if (item.wakeIndex >= 0) {
      if (at >= item.wakeAt) return;
      item.wakeAt = at;
      this.up(item.wakeIndex);
      return;
    }
    item.wakeAt = at;
    item.wakeIndex = this.heap.length;
    this.heap.push(item);
    this.up(item.wakeIndex);
  }

  /** The earliest item due at `now` (wakeAt ≤ now), taken off the queue; undefined when none is. */
  popDue(now: number): T | undefined {
    const top = this.heap[0];
    if (top === undefined || top.wakeAt > now) return undefined;
    this.removeAt(0);
    return top;
  }

  remove(item: T): void {
    if (item.wakeIndex >= 0 && this.heap[item.wakeIndex] === item) this.removeAt(item.wakeIndex);
  }

  private removeAt(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    const last = heap.pop()!;
    item.wakeIndex = -1;
    if (last === item) return;
    heap[i] = last;
    last.wakeIndex = i;
    this.down(i);
    this.up(last.wakeIndex);
  }

  private up(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.wakeAt <= item.wakeAt) break;
      heap[i] = parent;
      parent.wakeIndex = i;
      i = p;
    }
    heap[i] = item;
    item.wakeIndex = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]!.wakeAt < heap[l]!.wakeAt ? r : l;
      const child = heap[c]!;
      if (child.wakeAt >= item.wakeAt) break;
      heap[i] = child;
      child.wakeIndex = i;
      i = c;
    }
    heap[i] = item;
    item.wakeIndex = i;
  }
}
