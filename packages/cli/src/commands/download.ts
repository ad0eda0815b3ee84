import { mkdir } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Session, TorrentHandle, TorrentStatus } from '@spritzle/engine';
import { CliError, describeError } from '../errors.js';
import { escapeControl, formatBytes, jsonForTerminal, mib, round } from '../format.js';
import { downloadProgress } from '../progress.js';
import { dhtSettings, openSession, type DhtFlags } from '../session.js';
import { exitCodeFor, trapSignals, type SignalTrap } from '../signals.js';
import { loadTorrent } from '../torrent-file.js';
import { deadline, deferred } from '../wait.js';

export interface DownloadOptions extends DhtFlags {
  output: string;
  peer?: string[];
  listenPort: number;
  host: string;
  json?: boolean;
  timeout?: number;
}

/** What `--json` prints: exactly these keys, one line. */
export interface DownloadResult {
  info_hash: string;
  bytes: number;
  seconds: number;
  mib_per_s: number;
}


function progressText(st: TorrentStatus | null): string {
  if (!st) return 'the torrent was not added yet';
  const peers = st.num_peers === 0 ? 'no peer connected' : `${st.num_peers} peer${st.num_peers === 1 ? '' : 's'} connected`;
  return `${formatBytes(st.total_wanted_done)} of ${formatBytes(st.total_wanted)} done, ${peers}`;
}

/**
 * `spritzle download`: one session, one torrent, until every wanted piece is verified and written; then
 * the session closes (it does not stay to seed) and the command exits 0.
 */
/** What to download: a .torrent read from disk, or a magnet link whose metadata comes from peers. */
interface Source {
  infoHash: string;
  name: string;
  /** Trackers in the .torrent or the magnet's tr= */
  hasTrackers: boolean;
  params: { ti: Uint8Array } | { url: string };
}

async function resolveSource(arg: string): Promise<Source> {
  if (/^magnet:/i.test(arg)) {
    const { parseMagnet, isSpritzleError } = await import('@spritzle/engine');
    try {
      const m = await parseMagnet(arg);
      return { infoHash: m.infoHash, name: m.name ?? m.infoHash, hasTrackers: m.trackers.length > 0 || m.peers.length > 0, params: { url: arg } };
    } catch (e) {
      if (isSpritzleError(e)) throw new CliError(e.message.replace(/^url: /, ''));
      throw e;
    }
  }
  const t = await loadTorrent(arg);
  return { infoHash: t.info.infoHash, name: t.info.name, hasTrackers: t.info.announce.length > 0, params: { ti: t.bytes } };
}

export async function runDownload(file: string, opts: DownloadOptions): Promise<number> {
  const torrent = await resolveSource(file);
  const saveDir = resolvePath(opts.output);
  try {
    await mkdir(saveDir, { recursive: true });
  } catch (e) {
    throw new CliError(`cannot create the download directory ${describeError(e).message}`);
  }
  const peers = opts.peer ?? [];
  const trap = trapSignals();
  let session: Session | null = null;
  try {
    session = await openSession(opts.host, opts.listenPort, { save_path: saveDir, ...dhtSettings(opts) });
    if (peers.length === 0 && !torrent.hasTrackers && !opts.dht) {
      // Without DHT such a download can only be fed by peers that dial in; say so instead of
      // leaving the user to wonder why nothing happens. (After the session opened, so that a listen
      // failure stays the only line.)
      process.stderr.write(`spritzle: warning: no --peer given and the torrent lists no trackers; waiting for peers to connect on port ${session.listenPort}\n`);
    }
    const result = await download(session, torrent, saveDir, peers, opts.timeout, trap);
    await session.close();
    session = null;
    if (opts.json) {
      process.stdout.write(`${jsonForTerminal(result)}\n`);
    } else {
      process.stdout.write(`downloaded ${escapeControl(torrent.name)} (${result.info_hash}): ${formatBytes(result.bytes)} in ` +
        `${result.seconds.toFixed(2)} s, ${result.mib_per_s.toFixed(1)} MiB/s\n`);
    }
    return 0;
  } finally {
    await session?.close();
    trap.dispose();
  }
}

async function download(
  session: Session, torrent: Source, saveDir: string, peers: string[], timeoutS: number | undefined, trap: SignalTrap,
): Promise<DownloadResult> {
  const hash = torrent.infoHash;
  let handle: TorrentHandle | null = null;
  const status = (): TorrentStatus | null => (handle?.isValid() ? handle.status() : null);

  // Listen before adding: the events carry the info-hash, known from the .torrent already.
  const finished = deferred<void>();
  session.on('torrent_finished', ({ info_hash }) => {
    if (info_hash === hash) finished.resolve();
  });
  session.on('torrent_error', ({ info_hash, error, file }) => {
    if (info_hash === hash) finished.reject(new CliError(`download failed: ${error}${file ? ` (${file})` : ''}`));
  });
  const interrupted = trap.received.then((sig): never => {
    throw new CliError(`interrupted by ${sig}: ${progressText(status())}`, exitCodeFor(sig));
  });
  interrupted.catch(() => undefined);
  const timeout = deadline(timeoutS === undefined ? undefined : timeoutS * 1000,
    () => new CliError(`timed out after ${timeoutS} s: ${progressText(status())}`));

  const started = performance.now();
  let progress = { stop() {} };
  try {
    const adding = session.addTorrent({ ...torrent.params, save_path: saveDir, peers });
    adding.catch(() => undefined); // may lose the race to a signal; its fate then no longer matters
    handle = await Promise.race([adding, interrupted, timeout.promise]);
    progress = downloadProgress(handle);
    const st = handle.status();
    if (st.error) throw new CliError(`download failed: ${st.error}`);
    // Data already complete on disk: checking found every piece and no torrent_finished will follow.
    if (!st.is_finished) await Promise.race([finished.promise, interrupted, timeout.promise]);
  } finally {
    timeout.cancel();
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const bytes = handle.status().total_wanted;
  return {
    info_hash: hash,
    bytes,
    seconds: round(seconds, 6),
    mib_per_s: round(seconds > 0 ? mib(bytes) / seconds : 0, 3),
  };
}
