import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type FileInfo, type PeerInfo, type TorrentStatus, type TrackerInfo } from '../api.js';
import { formatBytes, formatDate, formatDuration, formatPercent, formatRate, formatRatio } from '../format.js';
import { useLive } from '../hooks.js';
import { live } from '../live.js';
import { displayState } from '../table.js';
import { PieceMap, RateGraph } from './Graph.js';

const TABS = ['general', 'files', 'peers', 'trackers', 'pieces', 'speed'] as const;
type Tab = (typeof TABS)[number];

const PRIORITIES: [number, string][] = [[0, 'skip'], [1, 'low'], [4, 'normal'], [7, 'high']];

/**
 * One torrent. What the stats event does not carry (files, peers, trackers, pieces) is fetched when the tab
 * opens and again after each stats event while it stays open, one request at a time: live without a timer.
 */
export function Detail({ hash, tab }: { hash: string; tab: string }) {
  const version = useLive();
  const current: Tab = (TABS as readonly string[]).includes(tab) ? (tab as Tab) : 'general';
  const row = live.byHash.get(hash);
  const [data, setData] = useState<{ tab: Tab; status?: TorrentStatus; files?: FileInfo[]; peers?: PeerInfo[]; trackers?: TrackerInfo[] } | null>(null);
  const [inFlight, setInFlight] = useState(false);
  const [error, setError] = useState('');
  const [gone, setGone] = useState(false);

  useEffect(() => {
    live.watch(hash);
    return () => live.watch(null);
  }, [hash]);

  useEffect(() => {
    if (inFlight || gone || current === 'speed') return;
    setInFlight(true);
    const load = async (): Promise<void> => {
      try {
        if (current === 'files') setData({ tab: current, files: await api.files(hash) });
        else if (current === 'peers') setData({ tab: current, peers: await api.peers(hash) });
        else if (current === 'trackers') setData({ tab: current, trackers: await api.trackers(hash) });
        else setData({ tab: current, status: await api.status(hash) });
        setError('');
      } catch (e) {
        setError((e as Error).message);
        if (e instanceof ApiError && e.status === 404) setGone(true);
      } finally {
        setInFlight(false);
      }
    };
    void load();
  }, [hash, current, version, gone]);

  if (gone) {
    return <section class="detail" aria-label="Torrent"><p class="crumbs"><a href="#/">← Torrents</a></p><p role="alert">{error}</p></section>;
  }
  const name = row?.name ?? data?.status?.name ?? hash;
  const shown = data?.tab === current ? data : null;
  return (
    <section class="detail" aria-label={`Torrent ${name}`}>
      <p class="crumbs"><a href="#/">← Torrents</a></p>
      <h2 class="title">{name}</h2>
      {row && <p class="muted">{displayState(row)} · {formatPercent(row.progress)} · down {formatRate(row.download_payload_rate)} · up {formatRate(row.upload_payload_rate)}</p>}
      <nav class="tabs" aria-label="Torrent details">
        {TABS.map((t) => <a key={t} href={`#/t/${hash}/${t}`} aria-current={t === current ? 'page' : undefined}>{t}</a>)}
      </nav>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="tab-body">
        {current === 'general' && shown?.status && <General s={shown.status} />}
        {current === 'general' && shown?.status && <Limits hash={hash} sequential={shown.status.sequential_download} />}
        {current === 'files' && shown?.files && <Files hash={hash} files={shown.files} />}
        {current === 'peers' && shown?.peers && <Peers peers={shown.peers} />}
        {current === 'trackers' && shown?.trackers && <Trackers trackers={shown.trackers} />}
        {current === 'pieces' && shown?.status && <PieceMap pieces={shown.status.pieces} />}
        {current === 'speed' && live.watched && <RateGraph samples={live.watched.history} label={`${name} rates`} version={version} />}
      </div>
    </section>
  );
}

function General({ s }: { s: TorrentStatus }) {
  const n = (k: string): number => (typeof s[k] === 'number' ? (s[k] as number) : 0);
  const facts: [string, string][] = [
    ['Info-hash', s.info_hash],
    ['State', `${s.state}${s.paused ? ' (paused)' : ''}`],
    ['Save path', s.save_path],
    ['Size', formatBytes(s.total_wanted)],
    ['Done', `${formatBytes(s.total_done)} (${formatPercent(s.progress)})`],
    ['Downloaded', formatBytes(n('all_time_download'))],
    ['Uploaded', formatBytes(n('all_time_upload'))],
    ['Ratio', formatRatio(n('all_time_upload'), n('all_time_download'))],
    ['Pieces', `${n('num_pieces')} of ${s.pieces?.length ?? 0}`],
    ['Peers', `${s.num_peers} (${s.num_seeds} seeds)`],
    ['Sequential', s.sequential_download ? 'yes' : 'no'],
    ['Added', formatDate(n('added_time'))],
    ['Completed', formatDate(n('completed_time'))],
    ['Error', s.error || 'none'],
  ];
  return <dl class="facts">{facts.map(([k, v]) => [<dt key={k}>{k}</dt>, <dd key={`${k}-v`}>{v}</dd>])}</dl>;
}

function Files({ hash, files }: { hash: string; files: FileInfo[] }) {
  const [saving, setSaving] = useState(false);
  const [pending, setPending] = useState<Record<number, number>>({});
  const setPriority = async (index: number, priority: number): Promise<void> => {
    setPending((p) => ({ ...p, [index]: priority }));
    setSaving(true);
    try {
      await api.update(hash, { file_priorities: files.map((f) => (f.index === index ? priority : pending[f.index] ?? f.priority)) });
    } finally {
      setSaving(false);
    }
  };
  const real = files.filter((f) => !f.pad);
  return (
    <table class="grid">
      <caption class="sr-only">Files{saving ? ' (saving)' : ''}</caption>
      <thead><tr><th scope="col">Path</th><th scope="col">Size</th><th scope="col">Progress</th><th scope="col">Priority</th></tr></thead>
      <tbody>
        {real.map((f) => (
          <tr key={f.index}>
            <td class="path">{f.path}</td>
            <td>{formatBytes(f.size)}</td>
            <td>{formatPercent(f.progress)}</td>
            <td>
              <select aria-label={`Priority of ${f.path}`} value={String(pending[f.index] ?? f.priority)}
                onChange={(e) => void setPriority(f.index, Number((e.target as HTMLSelectElement).value))}>
                {PRIORITIES.map(([v, label]) => <option key={v} value={String(v)}>{label}</option>)}
                {!PRIORITIES.some(([v]) => v === f.priority) && <option value={String(f.priority)}>{f.priority}</option>}
              </select>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Peers({ peers }: { peers: PeerInfo[] }) {
  if (peers.length === 0) return <p class="muted">No peers connected.</p>;
  return (
    <table class="grid">
      <caption class="sr-only">Peers</caption>
      <thead><tr><th scope="col">Address</th><th scope="col">Client</th><th scope="col">Flags</th><th scope="col">Down</th><th scope="col">Up</th><th scope="col">Progress</th><th scope="col">Transport</th><th scope="col">Encryption</th></tr></thead>
      <tbody>
        {peers.map((p) => (
          <tr key={`${p.ip}:${p.port}`}>
            <td>{p.ip.includes(':') ? `[${p.ip}]` : p.ip}:{p.port}</td>
            <td>{p.client || '–'}</td>
            <td><code>{p.flags}</code></td>
            <td>{formatRate(p.down_speed)}</td>
            <td>{formatRate(p.up_speed)}</td>
            <td>{formatPercent(p.progress)}</td>
            <td>TCP, {p.direction}</td>
            <td>{encryption(p)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** MSE (BEP 8-style obfuscation) as libtorrent's peer_info flags tell it. */
function encryption(p: PeerInfo): string {
  if (p.rc4_encrypted) return 'RC4 (MSE)';
  if (p.plaintext_encrypted) return 'MSE handshake, plaintext';
  return 'none';
}

/** A due time as "in 29m 58s" ("now" once due, "–" when none is scheduled). */
function nextAnnounce(unixSeconds: number): string {
  if (unixSeconds < 0) return '–';
  const left = unixSeconds - Math.floor(Date.now() / 1000);
  return left <= 0 ? 'now' : `in ${formatDuration(left)}`;
}

function Trackers({ trackers }: { trackers: TrackerInfo[] }) {
  if (trackers.length === 0) return <p class="muted">No trackers.</p>;
  return (
    <table class="grid">
      <caption class="sr-only">Trackers</caption>
      <thead><tr><th scope="col">URL</th><th scope="col">Tier</th><th scope="col">State</th><th scope="col">Peers</th><th scope="col">Last announce</th><th scope="col">Next announce</th><th scope="col">Message</th></tr></thead>
      <tbody>
        {trackers.map((t) => (
          <tr key={t.url}><td class="path">{t.url}</td><td>{t.tier}</td><td>{t.status}</td><td>{t.num_peers}</td><td>{t.last_announce < 0 ? '–' : formatDate(t.last_announce)}</td><td>{nextAnnounce(t.next_announce)}</td><td>{t.message}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * Per-torrent limits (PATCH /torrent/<hash>). The status does not report the rate limits, so the fields start
 * empty and only what is filled in is sent.
 */
function Limits({ hash, sequential }: { hash: string; sequential: boolean }) {
  // Shown as clicked at once; the next status refresh confirms it.
  const [seq, setSeq] = useState(sequential);
  useEffect(() => setSeq(sequential), [sequential]);
  const [down, setDown] = useState('');
  const [up, setUp] = useState('');
  const [note, setNote] = useState('');
  const send = async (body: Record<string, unknown>): Promise<void> => {
    try {
      await api.update(hash, body);
      setNote('Saved.');
    } catch (e) {
      setNote((e as Error).message);
    }
  };
  const save = (e: Event): void => {
    e.preventDefault();
    const body: Record<string, number> = {};
    if (down !== '') body.download_limit = Number(down);
    if (up !== '') body.upload_limit = Number(up);
    void send(body);
  };
  return (
    <form class="settings stack" onSubmit={save} aria-label="Torrent limits">
      <h3>Limits</h3>
      <label><span>Download limit (bytes/s, -1 = unlimited)</span>
        <input type="number" name="download_limit" min={-1} value={down} onInput={(e) => setDown((e.target as HTMLInputElement).value)} /></label>
      <label><span>Upload limit (bytes/s, -1 = unlimited)</span>
        <input type="number" name="upload_limit" min={-1} value={up} onInput={(e) => setUp((e.target as HTMLInputElement).value)} /></label>
      <label class="check"><input type="checkbox" checked={seq}
        onChange={(e) => {
          const on = (e.target as HTMLInputElement).checked;
          setSeq(on);
          void send({ sequential_download: on });
        }} /> Download in order (sequential)</label>
      <div class="buttons">
        <button type="submit" class="primary" disabled={down === '' && up === ''}>Save limits</button>
        <span role="status">{note}</span>
      </div>
    </form>
  );
}
