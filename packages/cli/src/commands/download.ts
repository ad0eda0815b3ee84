import { mkdir } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Session, TorrentHandle, TorrentStatus } from '@spritzle/engine';
import { CliError, describeError } from '../errors.js';
import { escapeControl, formatBytes, jsonForTerminal, mib, round } from '../format.js';
import { downloadProgress } from '../progress.js';
import { dhtSettings, openSession, transportSettings, type DhtFlags, type TransportFlags } from '../session.js';
import { exitCodeFor, trapSignals, type SignalTrap } from '../signals.js';
import { loadTorrent } from '../torrent-file.js';
import { deadline, deferred } from '../wait.js';

export interface DownloadOptions extends DhtFlags, TransportFlags {
  /** Save path; the current folder when not given. */
  output?: string;
  /** Stay and seed once complete, until SIGINT/SIGTERM. */
  keepSeeding?: boolean;
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

/** "1 peer", "3 peers". */
export function peersText(n: number): string {
  return `${n} peer${n === 1 ? '' : 's'}`;
}


function progressText(st: TorrentStatus | null): string {
  if (!st) return 'the torrent was not added yet';
  const peers = st.num_peers === 0 ? 'no peer connected' : `${peersText(st.num_peers)} connected`;
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
  const saveDir = resolvePath(opts.output ?? '.');
  try {
    await mkdir(saveDir, { recursive: true });
  } catch (e) {
    throw new CliError(`cannot create the download directory ${describeError(e).message}`);
  }
  const peers = opts.peer ?? [];
  const trap = trapSignals();
  let session: Session | null = null;
  try {
    session = await openSession(opts.host, opts.listenPort, { save_path: saveDir, ...dhtSettings(opts), ...transportSettings(opts) });
    if (peers.length === 0 && !torrent.hasTrackers && !opts.dht) {
      // Without DHT such a download can only be fed by peers that dial in; say so instead of
      // leaving the user to wonder why nothing happens. (After the session opened, so that a listen
      // failure stays the only line.)
      process.stderr.write(`spritzle: warning: no --peer given and the torrent lists no trackers; waiting for peers to connect on port ${session.listenPort}\n`);
    }
    const { alreadyComplete, ...result } = await download(session, torrent, saveDir, peers, opts.timeout, trap);
    if (opts.json) {
      process.stdout.write(`${jsonForTerminal(result)}\n`);
    } else if (alreadyComplete) {
      process.stdout.write(`${escapeControl(torrent.name)} (${result.info_hash}): already complete (verified), ` +
        `${formatBytes(result.bytes)} in ${escapeControl(saveDir)}\n`);
    } else {
      process.stdout.write(`downloaded ${escapeControl(torrent.name)} (${result.info_hash}): ${formatBytes(result.bytes)} in ` +
        `${result.seconds.toFixed(2)} s, ${result.mib_per_s.toFixed(1)} MiB/s\n`);
    }
    if (opts.keepSeeding && !trap.signal) {
      process.stderr.write(`seeding on port ${session.listenPort} until Ctrl-C\n`);
      await trap.received;
      const handle = session.findTorrent(torrent.infoHash);
      if (handle?.isValid()) process.stdout.write(`${uploadSummary(torrent.name, handle.status())}\n`);
    }
    await session.close();
    session = null;
    return 0;
  } finally {
    await session?.close();
    trap.dispose();
  }
}

/** What a seed says when it stops: how much it gave. */
export function uploadSummary(name: string, st: TorrentStatus): string {
  return `uploaded ${formatBytes(st.total_payload_upload)} of ${escapeControl(name)}, ratio ${st.ratio.toFixed(2)}`;
}

async function download(
  session: Session, torrent: Source, saveDir: string, peers: string[], timeoutS: number | undefined, trap: SignalTrap,
): Promise<DownloadResult & { alreadyComplete: boolean }> {
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
  let metadataWatch = { stop() {} };
  let alreadyComplete = false;
  try {
    const adding = session.addTorrent({ ...torrent.params, save_path: saveDir, peers });
    adding.catch(() => undefined); // may lose the race to a signal; its fate then no longer matters
    handle = await Promise.race([adding, interrupted, timeout.promise]);
    const st = handle.status();
    if (st.error) throw new CliError(`download failed: ${st.error}`);
    alreadyComplete = st.is_finished;
    // Data already complete on disk: checking found every piece; there is nothing to wait for.
    if (!alreadyComplete) {
      progress = downloadProgress(handle, () => session.stats()['dht.dht_nodes'] ?? 0);
      metadataWatch = watchMetadata(handle, session, hash);
      await Promise.race([finished.promise, interrupted, timeout.promise]);
    }
  } finally {
    timeout.cancel();
    progress.stop();
    metadataWatch.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const bytes = handle.status().total_wanted;
  return {
    info_hash: hash,
    bytes,
    seconds: round(seconds, 6),
    mib_per_s: round(seconds > 0 && !alreadyComplete ? mib(bytes) / seconds : 0, 3),
    alreadyComplete,
  };
}

/** How long a magnet may wait for its metadata before we say that no DHT node answered. */
export const DHT_SILENCE_WARNING_MS = 15_000;

/**
 * While a magnet's metadata is awaited: after 15 s with DHT on and no DHT node known, one warning on
 * stderr (the usual cause is blocked UDP), as the progress line alone would just sit there.
 */
function watchMetadata(handle: TorrentHandle, session: Session, hash: string): { stop(): void } {
  if (!session.isDhtRunning()) return { stop() {} };
  const timer = setTimeout(() => {
    if (!handle.isValid() || handle.status().has_metadata) return;
    if ((session.stats()['dht.dht_nodes'] ?? 0) > 0) return;
    process.stderr.write(`spritzle: warning: no DHT node answered in ${DHT_SILENCE_WARNING_MS / 1000} s while looking for ` +
      `${hash}'s metadata; is UDP blocked? (--dht-bootstrap <host:port>, or --peer <host:port>)\n`);
  }, DHT_SILENCE_WARNING_MS);
  timer.unref();
  return { stop: () => clearTimeout(timer) };
}
