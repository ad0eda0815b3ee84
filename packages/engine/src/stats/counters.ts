import { METRICS, M, type MetricType } from './counters-table.js';

export { M } from './counters-table.js';
export type { MetricType } from './counters-table.js';

/**
 * spritzle's own metrics, for what libtorrent 2.0's session stats have no name for; prefixed `spritzle.` and
 * after libtorrent's in the table.
 */
const SPRITZLE_METRICS: readonly (readonly [name: string, type: MetricType])[] = [
  /** Files the session's file pool holds open (at most file_pool_size, beyond it only while all are in use). */
  ['spritzle.disk.file_pool_open', 'gauge'],
  /** Opens that found the file open already, opens that had to open it, and files closed to make room. */
  ['spritzle.disk.file_pool_hits', 'counter'],
  ['spritzle.disk.file_pool_misses', 'counter'],
  ['spritzle.disk.file_pool_evictions', 'counter'],
  /** Times the process ran out of file descriptors (EMFILE/ENFILE): opening a file, accepting or dialling a peer. */
  ['spritzle.ses.out_of_descriptors', 'counter'],
];

const ALL_METRICS = [...METRICS, ...SPRITZLE_METRICS];

/** Index of each of spritzle's own metrics ('spritzle.disk.file_pool_open' → disk_file_pool_open). */
export const SM = {
  disk_file_pool_open: METRICS.length,
  disk_file_pool_hits: METRICS.length + 1,
  disk_file_pool_misses: METRICS.length + 2,
  disk_file_pool_evictions: METRICS.length + 3,
  ses_out_of_descriptors: METRICS.length + 4,
} as const;

/** A snapshot of every session counter by libtorrent's name ('net.recv_bytes' ...), integer values. */
export type SessionStats = Record<string, number>;

/**
 * libtorrent's performance counters: one flat array indexed by the `M` constants, so an increment on
 * the hot path is an array store, never a lookup by name or an allocation. Counters only grow; gauges are
 * levels the owner sets (or adjusts up and down) and never deltas.
 */
export class Counters {
  private readonly values = new Float64Array(ALL_METRICS.length);

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
    for (let i = 0; i < ALL_METRICS.length; i++) out[ALL_METRICS[i]![0]] = Math.trunc(this.values[i]!);
    return out;
  }

  /** Every metric's name and type, in table order (libtorrent's session_stats_metrics, then spritzle's own). */
  static names(): { name: string; type: 'counter' | 'gauge' }[] {
    return ALL_METRICS.map(([name, type]) => ({ name, type }));
  }
}

