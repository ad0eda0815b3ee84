import cliProgress from 'cli-progress';
import type { StatsEvent } from '@spritzle/server';
import { resolveHash } from '../client/api.js';
import { clientFrom, displayName, percent, print, printJson, rate, stateLabel } from '../client/display.js';
import { FIXED_WIDTH, torrentTable } from '../client/torrent-table.js';
import { terminalColumns } from './ls.js';
import type { ClientCommandOptions } from '../client/options.js';
import { CliError } from '../errors.js';
import { compactDuration, displayWidth, escapeControl } from '../format.js';
import { exitCodeFor, trapSignals, type StopSignal } from '../signals.js';

export type WatchOptions = ClientCommandOptions;

type StatsTorrent = StatsEvent['torrents'][number];

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
      const eta = t.eta > 0 ? `  eta ${compactDuration(t.eta)}` : '';
      out += `${displayName(t)}  ${key}  down ${rate(t.download_payload_rate)}  up ${rate(t.upload_payload_rate)}${eta}\n`;
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

/**
 * A terminal: the table of `ls` (without hashes) with a progress bar after the name when the terminal is
 * wide enough, redrawn in place by cli-progress's MultiBar (one "bar" per line, its text drawn here).
 */
class BarsView implements View {
  private multibar: cliProgress.MultiBar | null = null;
  private header: cliProgress.SingleBar | null = null;
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  update(torrents: readonly StatsTorrent[]): Promise<void> {
    this.multibar ??= new cliProgress.MultiBar({
      stream: process.stdout,
      format: '{line}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      emptyOnZero: true,
    }, cliProgress.Presets.shades_classic);
    const lines = watchLines(torrents, terminalColumns() ?? 80);
    if (this.header) this.header.update(0, { line: lines[0] });
    else this.header = this.multibar.create(BAR_TOTAL, 0, { line: lines[0] });
    const seen = new Set<string>();
    torrents.forEach((t, i) => {
      seen.add(t.info_hash);
      const payload = { line: lines[i + 1] };
      const value = Math.floor(t.progress * BAR_TOTAL);
      const bar = this.bars.get(t.info_hash);
      if (bar) bar.update(value, payload);
      else this.bars.set(t.info_hash, this.multibar!.create(BAR_TOTAL, value, payload));
    });
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
    this.header = null;
    this.bars.clear();
  }
}

/**
 * watch's lines for a terminal `columns` wide: the table's header and rows, with a bar between the name
 * and the state when there is room for it (the name keeps at least 8 columns).
 */
export function watchLines(torrents: readonly StatsTorrent[], columns: number): string[] {
  const room = columns - 1 - FIXED_WIDTH - 2;
  const barSize = room >= 8 + 2 + 30 ? 20 : room >= 8 + 2 + 16 ? 10 : 0;
  const table = torrentTable(torrents, { columns: columns - (barSize ? barSize + 2 : 0), noHash: true }).split('\n').slice(0, -1);
  if (barSize === 0) return table;
  const nameWidth = table[0]!.indexOf('STATE') - 2;
  const at = (l: string): [string, string] => {
    const cut = [...l];
    let w = 0;
    let i = 0;
    while (i < cut.length && w < nameWidth) w += displayWidth(cut[i++]!);
    return [cut.slice(0, i).join(''), cut.slice(i).join('')];
  };
  return table.map((l, i) => {
    const [name, rest] = at(l);
    const bar = i === 0 ? ' '.repeat(barSize) : progressBar(torrents[i - 1]!.progress, barSize);
    return `${name}  ${bar}${rest}`;
  });
}

function progressBar(progress: number, size: number): string {
  const full = Math.min(size, Math.floor(progress * size));
  return '\u2588'.repeat(full) + '\u2591'.repeat(size - full);
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
