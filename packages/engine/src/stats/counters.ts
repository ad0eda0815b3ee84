import { METRICS, M } from './counters-table.js';

export { M } from './counters-table.js';
export type { MetricType } from './counters-table.js';

/** A snapshot of every session counter by libtorrent's name ('net.recv_bytes' ...), integer values. */
export type SessionStats = Record<string, number>;

/**
 * libtorrent's performance counters: one flat array indexed by the `M` constants, so an increment on
 * the hot path is an array store, never a lookup by name or an allocation. Counters only grow; gauges are
 * levels the owner sets (or adjusts up and down) and never deltas.
 */
export class Counters {
  private readonly values = new Float64Array(METRICS.length);

  /** Adds `by` to a counter (or a gauge), by its `M` index. */
  inc(metric: number, by = 1): void {
    this.values[metric]! += by;
  }

  /** For gauges: set the absolute level. */
  set(metric: number, value: number): void {
    this.values[metric] = value;
  }

  /** The current value, by its `M` index. */
  get(metric: number): number {
    return this.values[metric]!;
  }

  /** Every name, in libtorrent's naming, as integers. */
  snapshot(): SessionStats {
    const out: SessionStats = {};
    for (let i = 0; i < METRICS.length; i++) out[METRICS[i]![0]] = Math.trunc(this.values[i]!);
    return out;
  }

  /** Every metric's name and type, in table order (libtorrent's session_stats_metrics). */
  static names(): { name: string; type: 'counter' | 'gauge' }[] {
    return METRICS.map(([name, type]) => ({ name, type }));
  }
}

