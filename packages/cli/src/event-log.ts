/**
 * What the daemon logs about its torrents: adds, removals, finishes, errors, each line with the torrent's
 * name beside its info-hash (a person reads names; hashes are for grepping). Torrents restored at start
 * are summed up by the "ready" line, so their adds (and the finishes of complete ones) are debug lines
 * until then.
 */
import type { Logger } from 'pino';
import type { Session } from '@spritzle/engine';

export interface EventLog {
  /** From now on adds and finishes are info lines (call once the restored torrents are loaded). */
  ready(): void;
}

export function logSessionEvents(session: Session, log: Logger): EventLog {
  // Names by hash, kept past removal for the removal's own line.
  const names = new Map<string, string>();
  const nameOf = (hash: string): string => names.get(hash) ?? session.findTorrent(hash)?.name ?? '';
  let started = false;
  session.on('torrent_added', (e) => {
    names.set(e.info_hash, e.name);
    log[started ? 'info' : 'debug'](e, 'torrent added');
  });
  session.on('metadata_received', (e) => {
    names.set(e.info_hash, e.name);
    log.info(e, 'metadata received');
  });
  session.on('torrent_finished', (e) => log[started ? 'info' : 'debug']({ ...e, name: nameOf(e.info_hash) }, 'torrent finished'));
  session.on('torrent_removed', (e) => {
    log.info({ ...e, name: nameOf(e.info_hash) }, 'torrent removed');
    names.delete(e.info_hash);
  });
  session.on('torrent_error', (e) => log.error({ ...e, name: nameOf(e.info_hash) }, 'torrent error'));
  session.on('fastresume_rejected', (e) => log.warn({ ...e, name: nameOf(e.info_hash) }, 'resume data rejected; checking the data'));
  session.on('dht_error', (e) => log.warn(e, 'the DHT could not start; it stays off until the settings change'));
  session.on('lsd_error', (e) => log.warn(e, 'local service discovery could not start; it stays off until the settings change'));
  session.on('out_of_descriptors', (e) => log.error(e, 'out of file descriptors (raise ulimit -n, or lower file_pool_size)'));
  return {
    ready() {
      started = true;
    },
  };
}
