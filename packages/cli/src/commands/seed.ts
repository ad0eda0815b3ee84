import { stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { Session, TorrentHandle } from '@spritzle/engine';
import { CliError, describeError } from '../errors.js';
import { formatHostPort } from '../net.js';
import { dhtSettings, openSession, transportSettings, type DhtFlags, type TransportFlags } from '../session.js';
import { trapSignals } from '../signals.js';
import { loadTorrent } from '../torrent-file.js';
import { deferred } from '../wait.js';
import { uploadSummary } from './download.js';

export interface SeedOptions extends DhtFlags, TransportFlags {
  data: string;
  listenPort: number;
  host: string;
}

/**
 * `spritzle seed`: checks the data against the torrent, and once every piece is there serves it until
 * SIGINT/SIGTERM. Incomplete data is an error rather than a silent partial seed: the user asked to seed.
 */
export async function runSeed(file: string, opts: SeedOptions): Promise<number> {
  const torrent = await loadTorrent(file);
  const dataDir = resolvePath(opts.data);
  try {
    if (!(await stat(dataDir)).isDirectory()) throw new CliError(`data directory ${dataDir} is not a directory`);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`data directory ${describeError(e).message}`);
  }
  const hash = torrent.info.infoHash;
  const trap = trapSignals();
  let session: Session | null = null;
  try {
    session = await openSession(opts.host, opts.listenPort, { save_path: dataDir, ...dhtSettings(opts), ...transportSettings(opts) });
    const failed = deferred<never>();
    session.on('torrent_error', ({ info_hash, error, file: errFile }) => {
      if (info_hash === hash) failed.reject(new CliError(`seeding ${hash} failed: ${error}${errFile ? ` (${errFile})` : ''}`));
    });
    const adding = session.addTorrent({ ti: torrent.bytes, save_path: dataDir });
    adding.catch(() => undefined); // a signal may win the race; closing the session then aborts the check
    const handle: TorrentHandle | string = await Promise.race([adding, trap.received]);
    if (typeof handle === 'string') return 0; // stopped while checking: nothing was promised yet
    const st = handle.status();
    if (st.error) throw new CliError(`cannot seed ${hash}: ${st.error}`);
    if (!st.is_seeding) {
      throw new CliError(`data in ${dataDir} is incomplete: ${st.num_pieces} of ${st.pieces.length} pieces`);
    }
    // The listen socket is up since the session started and the torrent is seeding: peers are served.
    process.stdout.write(`seeding ${hash} on ${formatHostPort(opts.host, session.listenPort)}\n`);
    if (session.dhtPort) process.stdout.write(`dht on ${formatHostPort(opts.host, session.dhtPort)}\n`);
    await Promise.race([trap.received, failed.promise]);
    // Stopped by the user: say what was given, and exit 0 (a requested stop is no failure).
    if (handle.isValid()) process.stdout.write(`${uploadSummary(torrent.info.name, handle.status())}\n`);
    return 0;
  } finally {
    await session?.close();
    trap.dispose();
  }
}
