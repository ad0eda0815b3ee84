import { SUMMARY_FIELDS, type Session, type TorrentHandle, type TorrentStatus, type TorrentSummary } from '@spritzle/engine';

const SUMMARY = new Set<string>(SUMMARY_FIELDS);

/** Some fields of a status; info_hash always comes first, so a list of picked objects is still keyed. */
export function pick(status: TorrentStatus | TorrentSummary, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { info_hash: status.info_hash };
  const all = status as unknown as Record<string, unknown>;
  for (const f of fields) out[f] = all[f];
  return out;
}

/** Those fields for every torrent in the session (GET /torrent?fields=..., the SSE stats event). */
export function statusRows(session: Session, fields: readonly string[]): Record<string, unknown>[] {
  // Fields a summary holds are read from one: a list of 10,000 torrents then builds no piece lists.
  const source = fields.every((f) => SUMMARY.has(f)) ? (h: TorrentHandle) => h.summary() : (h: TorrentHandle) => h.status();
  const rows: Record<string, unknown>[] = [];
  for (const h of session.torrents()) {
    // A torrent removed while the list is built is simply not in it (not a 404 for the whole list).
    if (h.isValid()) rows.push(pick(source(h), fields));
  }
  return rows;
}
