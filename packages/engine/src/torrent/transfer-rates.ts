import { RateWindow } from '../stats/rate-window.js';
import type { TorrentView } from './torrent-view.js';

export interface RateFigures {
  download_rate: number;
  upload_rate: number;
  download_payload_rate: number;
  upload_payload_rate: number;
}

/**
 * A torrent's four rates (payload down, payload up, all down, all up), kept beside it while it moves bytes:
 * a torrent the session's tick does not visit (no peers) has none, and reads zero. A WeakMap: a removed
 * torrent takes its window with it.
 */
const windows = new WeakMap<TorrentView, RateWindow>();

const ZERO: Readonly<RateFigures> = Object.freeze({ download_rate: 0, upload_rate: 0, download_payload_rate: 0, upload_payload_rate: 0 });

/** Takes a sample of the torrent's counters (when the tick starts visiting it, and on every tick it visits it). */
export function sampleRates(t: TorrentView, now: number): void {
  let w = windows.get(t);
  if (!w) {
    w = new RateWindow(3000, 5, 4);
    windows.set(t, w);
  }
  const c = t.connections();
  w.sample(now, t.totalPayloadDownload, t.totalPayloadUpload, t.totalDownload + c.bytesRead, t.totalUpload + c.bytesWritten);
}

/** Starts the torrent's rates at `now` if they are not running (a peer joined a torrent the tick had let go). */
export function startRates(t: TorrentView, now: number): void {
  if (!windows.has(t)) sampleRates(t, now);
}

/** The torrent's rates at `now`, in bytes per second (whole numbers, as libtorrent's int fields). */
export function currentRates(t: TorrentView, now: number): RateFigures {
  const w = windows.get(t);
  if (!w) return { ...ZERO };
  const c = t.connections();
  return {
    download_payload_rate: Math.round(w.rate(now, t.totalPayloadDownload, 0)),
    upload_payload_rate: Math.round(w.rate(now, t.totalPayloadUpload, 1)),
    download_rate: Math.round(w.rate(now, t.totalDownload + c.bytesRead, 2)),
    upload_rate: Math.round(w.rate(now, t.totalUpload + c.bytesWritten, 3)),
  };
}

/**
 * Whether every rate reads zero at `now`; if so the window is dropped (the torrent reads zero without one),
 * so that a torrent that went quiet holds no rate memory. The session asks before it stops visiting a torrent.
 */
export function settleRates(t: TorrentView, now: number): boolean {
  const w = windows.get(t);
  if (!w) return true;
  const r = currentRates(t, now);
  if (r.download_payload_rate !== 0 || r.upload_payload_rate !== 0 || r.download_rate !== 0 || r.upload_rate !== 0) return false;
  windows.delete(t);
  return true;
}
