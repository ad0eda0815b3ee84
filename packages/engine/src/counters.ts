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

  inc(metric: number, by = 1): void {
    this.values[metric]! += by;
  }

  /** For gauges: set the absolute level. */
  set(metric: number, value: number): void {
    this.values[metric] = value;
  }

  get(metric: number): number {
    return this.values[metric]!;
  }

  /** Every name, in libtorrent's naming, as integers. */
  snapshot(): SessionStats {
    const out: SessionStats = {};
    for (let i = 0; i < METRICS.length; i++) out[METRICS[i]![0]] = Math.trunc(this.values[i]!);
    return out;
  }

  static names(): { name: string; type: 'counter' | 'gauge' }[] {
    return METRICS.map(([name, type]) => ({ name, type }));
  }
}

/** Keys of `M` for incoming/outgoing message counters by BitTorrent message id (BEP 3/6/10). */
export const INCOMING_MSG: Partial<Record<number, number>> = {
  0: M.ses_num_incoming_choke,
  1: M.ses_num_incoming_unchoke,
  2: M.ses_num_incoming_interested,
  3: M.ses_num_incoming_not_interested,
  4: M.ses_num_incoming_have,
  5: M.ses_num_incoming_bitfield,
  6: M.ses_num_incoming_request,
  7: M.ses_num_incoming_piece,
  8: M.ses_num_incoming_cancel,
  9: M.ses_num_incoming_dht_port,
  13: M.ses_num_incoming_suggest,
  14: M.ses_num_incoming_have_all,
  15: M.ses_num_incoming_have_none,
  16: M.ses_num_incoming_reject,
  17: M.ses_num_incoming_allowed_fast,
  20: M.ses_num_incoming_extended,
};
