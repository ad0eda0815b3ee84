import cliProgress from 'cli-progress';
import type { TorrentHandle, TorrentStatus } from '@spritzle/engine';
import { compactDuration, formatBytes, mib } from './format.js';

/** Something drawn while a command works; stop() leaves the terminal clean for the final line. */
export interface Progress {
  stop(): void;
}

const NO_PROGRESS: Progress = { stop() {} };

const REFRESH_MS = 500;

/** Whether to draw: only for a person watching a terminal, never into a pipe or a log file. */
export function progressWanted(stream: NodeJS.WriteStream = process.stderr): boolean {
  return stream.isTTY === true;
}

/**
 * What the bar says it is doing: for a magnet still without metadata, what it has to go on (DHT nodes
 * known, peers found); otherwise the state and the ETA.
 */
export function activityText(st: TorrentStatus | null, dhtNodes: number): string {
  if (!st) return '';
  if (st.state === 'downloading_metadata') {
    return `fetching metadata: ${dhtNodes} DHT node${dhtNodes === 1 ? '' : 's'}, ${st.list_peers} peer${st.list_peers === 1 ? '' : 's'} found`;
  }
  if (st.state === 'downloading' && st.eta > 0) return `downloading, ${compactDuration(st.eta)} left`;
  return st.state;
}

/**
 * A download bar on stderr (stdout stays for results such as --json): percent, MiB/s, peers, what it
 * is doing. Polls the handle's status twice a second.
 */
export function downloadProgress(handle: TorrentHandle, dhtNodes: () => number = () => 0): Progress {
  if (!progressWanted()) return NO_PROGRESS;
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: ' {bar} {percentage}% | {done} of {total_h} | {speed} MiB/s | {peers} | {state}',
    hideCursor: true,
    clearOnComplete: true,
    barsize: 30,
  }, cliProgress.Presets.shades_classic);
  const payload = (): { value: number; total: number; p: Record<string, string | number> } => {
    const st = handle.isValid() ? handle.status() : null;
    const total = Math.max(1, st?.total_wanted ?? 1);
    const value = st?.state === 'checking_files' ? Math.round(st.progress * total) : st?.total_wanted_done ?? 0;
    return {
      value,
      total,
      p: {
        done: formatBytes(value),
        total_h: formatBytes(st?.total_wanted ?? 0),
        speed: mib(st?.download_payload_rate ?? 0).toFixed(1),
        peers: `${st?.num_peers ?? 0} peer${st?.num_peers === 1 ? '' : 's'}`,
        state: activityText(st, dhtNodes()),
      },
    };
  };
  const first = payload();
  bar.start(first.total, first.value, first.p);
  const timer = setInterval(() => {
    const next = payload();
    bar.setTotal(next.total);
    bar.update(next.value, next.p);
  }, REFRESH_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      bar.stop();
    },
  };
}

/** A bar for hashing files while a .torrent is made (create-torrent reports bytes hashed). */
export function hashProgress(): { update(done: number, total: number): void } & Progress {
  if (!progressWanted()) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: ' hashing {bar} {percentage}% | {done}',
    hideCursor: true,
    clearOnComplete: true,
    barsize: 30,
  }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(Math.max(1, total), done, { done: formatBytes(done) });
        started = true;
      } else {
        bar.setTotal(Math.max(1, total));
        bar.update(done, { done: formatBytes(done) });
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
