import cliProgress from 'cli-progress';
import type { StatsEvent } from '@spritzle/server';
import { resolveHash } from '../client/api.js';
import { clientFrom, displayName, percent, print, printJson, rate, stateLabel, truncate } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { CliError } from '../errors.js';
import { escapeControl, formatBytes } from '../format.js';
import { exitCodeFor, trapSignals, type StopSignal } from '../signals.js';

export type WatchOptions = ClientCommandOptions;

type StatsTorrent = StatsEvent['torrents'][number];

const NAME_WIDTH = 30;
const BAR_TOTAL = 1000;

/** What the stream's abort carries when the user stops watching. */
class Interrupted extends Error {
  readonly signal: StopSignal;
  constructor(signal: StopSignal) {
    super(`interrupted by ${signal}`);
    this.signal = signal;
  }
}

function isComplete(t: StatsTorrent): boolean {
  return t.state === 'finished' || t.state === 'seeding';
}

/**
 * Whether watching is over: every torrent complete, except those that cannot get there by themselves
 * (paused, or stopped by an error), which are not waited for.
 */
function allDone(torrents: readonly StatsTorrent[]): boolean {
  return torrents.every((t) => isComplete(t) || t.paused || t.error !== '');
}

/** How an update is shown: bars on a terminal, a line per change into a pipe, JSON lines for scripts. */
interface View {
  update(torrents: readonly StatsTorrent[], event: StatsEvent): Promise<void>;
  stop(): void;
}

/** --json: each stats event (torrents narrowed to those watched) as one line, the API's JSON. */
class JsonView implements View {
  async update(torrents: readonly StatsTorrent[], event: StatsEvent): Promise<void> {
    await printJson({ ...event, torrents });
  }
  stop(): void {}
}

/** Not a terminal: a line for a torrent whenever its state or its progress (to 0.1%) changed. */
class LinesView implements View {
  private readonly shown = new Map<string, string>();
  async update(torrents: readonly StatsTorrent[]): Promise<void> {
    let out = '';
    const seen = new Set<string>();
    for (const t of torrents) {
      seen.add(t.info_hash);
      const key = `${stateLabel(t)}  ${percent(t.progress)}`;
      if (this.shown.get(t.info_hash) === key) continue;
      this.shown.set(t.info_hash, key);
      out += `${displayName(t)}  ${key}  down ${rate(t.download_payload_rate)}  up ${rate(t.upload_payload_rate)}\n`;
    }
    for (const hash of this.shown.keys()) {
      if (!seen.has(hash)) {
        this.shown.delete(hash);
        out += `${escapeControl(hash)}  removed\n`;
      }
    }
    if (out !== '') await print(out);
  }
  stop(): void {}
}

/** A terminal: cli-progress's MultiBar, a bar per torrent, on stdout (the bars are this command's output). */
class BarsView implements View {
  private multibar: cliProgress.MultiBar | null = null;
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  update(torrents: readonly StatsTorrent[]): Promise<void> {
    this.multibar ??= new cliProgress.MultiBar({
      stream: process.stdout,
      // What matters first, as a narrow terminal cuts the line's end.
      format: ' {name} {bar} {pct}  {state}  down {down}  up {up}  {size}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      barsize: 20,
      emptyOnZero: true,
    }, cliProgress.Presets.shades_classic);
    const width = Math.min(NAME_WIDTH, Math.max(4, ...torrents.map((t) => displayName(t).length)));
    const seen = new Set<string>();
    for (const t of torrents) {
      seen.add(t.info_hash);
      const payload = {
        name: truncate(displayName(t), width).padEnd(width),
        pct: percent(t.progress).padStart(6),
        state: stateLabel(t),
        size: `${formatBytes(t.total_done)} of ${formatBytes(t.total_wanted)}`,
        down: rate(t.download_payload_rate),
        up: rate(t.upload_payload_rate),
      };
      const value = Math.floor(t.progress * BAR_TOTAL);
      const bar = this.bars.get(t.info_hash);
      if (bar) bar.update(value, payload);
      else this.bars.set(t.info_hash, this.multibar.create(BAR_TOTAL, value, payload));
    }
    for (const [hash, bar] of this.bars) {
      if (!seen.has(hash)) {
        this.multibar.remove(bar);
        this.bars.delete(hash);
      }
    }
    return Promise.resolve();
  }

  stop(): void {
    // Draws the last state and gives the cursor back.
    this.multibar?.stop();
    this.multibar = null;
  }
}

/** The closing line, or the error for torrents that stopped on one. */
function verdict(torrents: readonly StatsTorrent[]): string {
  const failed = torrents.filter((t) => t.error !== '');
  if (failed.length === 1) throw new CliError(`${displayName(failed[0]!)}: ${escapeControl(failed[0]!.error)}`);
  if (failed.length > 1) {
    throw new CliError(`${failed.length} torrents stopped with an error; ${displayName(failed[0]!)}: ${escapeControl(failed[0]!.error)}`);
  }
  const finished = torrents.filter(isComplete).length;
  const paused = torrents.length - finished;
  if (paused === 0) return torrents.length === 1 ? `${displayName(torrents[0]!)} finished` : `all ${finished} torrents finished`;
  return `${finished} finished; ${paused} paused before finishing`;
}

/**
 * `spritzle watch [hash...]`: follows GET /events (a stats event every second) until every torrent watched
 * (all of them, or those named) is finished, or SIGINT/SIGTERM (exit 130/143). Paused torrents and torrents
 * in error are shown but not waited for; an error makes the exit code 1.
 */
export async function runWatch(hashArgs: string[], opts: WatchOptions): Promise<number> {
  const client = clientFrom(opts);
  let wanted: Set<string> | null = null;
  if (hashArgs.length > 0) {
    wanted = new Set();
    for (const arg of hashArgs) {
      // Asking for it also answers the API's 400 or 404 for a hash that is not in the session.
      wanted.add((await client.torrentFields(await resolveHash(client, arg), ['state'])).info_hash);
    }
  }
  const view: View = opts.json ? new JsonView() : process.stdout.isTTY ? new BarsView() : new LinesView();
  const trap = trapSignals();
  const stop = new AbortController();
  void trap.received.then((sig) => stop.abort(new Interrupted(sig)));
  let closing = '';
  try {
    for await (const ev of client.events(stop.signal)) {
      if (ev.event !== 'stats') continue;
      let event: StatsEvent;
      try {
        event = JSON.parse(ev.data) as StatsEvent;
      } catch {
        throw new CliError(`the daemon at ${client.url} sent a stats event that is not JSON; is it a spritzle daemon?`);
      }
      const torrents = wanted === null ? event.torrents : event.torrents.filter((t) => wanted.has(t.info_hash));
      await view.update(torrents, event);
      if (wanted !== null && torrents.length < wanted.size) {
        const gone = [...wanted].find((h) => !torrents.some((t) => t.info_hash === h))!;
        throw new CliError(`torrent ${gone} was removed from the session`);
      }
      if (torrents.length === 0) {
        closing = 'no torrents to watch';
        break;
      }
      if (allDone(torrents)) {
        view.stop();
        closing = verdict(torrents);
        break;
      }
    }
  } catch (e) {
    if (e instanceof Interrupted) return exitCodeFor(e.signal);
    throw e;
  } finally {
    view.stop();
    stop.abort();
    trap.dispose();
  }
  if (!opts.json) await print(`${closing}\n`);
  return 0;
}
