import { RateWindow } from '../stats/rate-window.js';
import type { TorrentView } from './torrent-view.js';

/** A torrent's four rates, each a sliding window over one of its byte counters. */
interface TorrentRates {
  payloadDown: RateWindow;
  payloadUp: RateWindow;
  allDown: RateWindow;
  allUp: RateWindow;
}

export interface RateFigures {
  download_rate: number;
  upload_rate: number;
  download_payload_rate: number;
  upload_payload_rate: number;
}

/** Per torrent, kept beside it (a WeakMap: a removed torrent takes its windows with it). */
const windows = new WeakMap<TorrentView, TorrentRates>();

/** Cumulative bytes: payload and everything, finished connections and live sockets alike. */
function totals(t: TorrentView): [number, number, number, number] {
  const c = t.connections();
  return [t.totalPayloadDownload, t.totalPayloadUpload, t.totalDownload + c.bytesRead, t.totalUpload + c.bytesWritten];
}

function ratesOf(t: TorrentView): TorrentRates {
  let r = windows.get(t);
  if (!r) {
    r = { payloadDown: new RateWindow(), payloadUp: new RateWindow(), allDown: new RateWindow(), allUp: new RateWindow() };
    windows.set(t, r);
  }
  return r;
}

/** Takes a sample of the torrent's counters (on add and on every session tick). */
export function sampleRates(t: TorrentView, now: number): void {
  const r = ratesOf(t);
  const [pd, pu, ad, au] = totals(t);
  r.payloadDown.sample(now, pd);
  r.payloadUp.sample(now, pu);
  r.allDown.sample(now, ad);
  r.allUp.sample(now, au);
}

/** The torrent's rates at `now`, in bytes per second (whole numbers, as libtorrent's int fields). */
export function currentRates(t: TorrentView, now: number): RateFigures {
  const r = ratesOf(t);
  const [pd, pu, ad, au] = totals(t);
  return {
    download_payload_rate: Math.round(r.payloadDown.rate(now, pd)),
    upload_payload_rate: Math.round(r.payloadUp.rate(now, pu)),
    download_rate: Math.round(r.allDown.rate(now, ad)),
    upload_rate: Math.round(r.allUp.rate(now, au)),
  };
}
