import type { Torrent } from '../torrent/torrent.js';
import { currentRates } from '../torrent/transfer-rates.js';

/**
 * Which torrents changed since the last state_update (libtorrent's post_torrent_updates): a cheap
 * fingerprint of each torrent's moving parts is compared, so full statuses are built only for those.
 */
export class StateUpdates {
  private readonly last = new WeakMap<Torrent, string>();

  /** The torrents whose fingerprint differs from the one seen last time (and remembers the new ones). */
  changed(torrents: Iterable<Torrent>, now: number): Torrent[] {
    const out: Torrent[] = [];
    for (const t of torrents) {
      const f = fingerprint(t, now);
      if (this.last.get(t) !== f) {
        this.last.set(t, f);
        out.push(t);
      }
    }
    return out;
  }
}

/** What a status row shows moving: state, flags, error, progress, bytes, rates (they fall after the bytes stop), peers. */
function fingerprint(t: Torrent, now: number): string {
  const r = currentRates(t, now);
  const c = t.connections();
  const read = c.bytesRead, written = c.bytesWritten;
  return `${t.state}|${t.flags}|${t.errorMessage}|${t.hasMetadata}|${t.checkedPieces}|${t.picker?.numHave ?? 0}|` +
    `${t.totalPayloadDownload}|${t.totalPayloadUpload}|${t.totalDownload + read}|${t.totalUpload + written}|${c.connections}|${t.peerList.size}|` +
    `${r.download_rate}|${r.upload_rate}|${r.download_payload_rate}|${r.upload_payload_rate}`;
}
