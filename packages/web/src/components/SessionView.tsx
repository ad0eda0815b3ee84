import { useEffect, useState } from 'preact/hooks';
import { api, type DiskSpace, type Settings } from '../api.js';
import { formatBytes } from '../format.js';
import { useLive } from '../hooks.js';
import { live } from '../live.js';
import { RateGraph } from './Graph.js';

/** The settings the page offers, with the kind of input each takes (names are libtorrent's settings_pack). */
const FIELDS: { key: string; label: string; kind: 'number' | 'text' | 'bool'; hint?: string }[] = [
  { key: 'download_rate_limit', label: 'Download limit (bytes/s)', kind: 'number', hint: '0 = unlimited' },
  { key: 'upload_rate_limit', label: 'Upload limit (bytes/s)', kind: 'number', hint: '0 = unlimited' },
  { key: 'connections_limit', label: 'Connections limit', kind: 'number' },
  { key: 'unchoke_slots_limit', label: 'Upload slots', kind: 'number', hint: '-1 = unlimited' },
  { key: 'listen_interfaces', label: 'Listen interfaces', kind: 'text', hint: 'host:port' },
  { key: 'enable_dht', label: 'DHT', kind: 'bool' },
  { key: 'enable_lsd', label: 'Local service discovery', kind: 'bool' },
  { key: 'save_path', label: 'Default save path', kind: 'text', hint: 'inside the download root' },
];

export function SessionView() {
  const version = useLive();
  const c = live.counters;
  const disk = useDisk(live.rows.length);
  const facts: [string, string][] = [
    ['Torrents', String(live.rows.length)],
    ['Peers connected', String(c['peer.num_peers_connected'] ?? 0)],
    ['DHT nodes', String(c['dht.dht_nodes'] ?? 0)],
    ['Downloaded (session)', formatBytes(c['net.recv_payload_bytes'] ?? 0)],
    ['Uploaded (session)', formatBytes(c['net.sent_payload_bytes'] ?? 0)],
    ['Free disk space', disk ? `${formatBytes(disk.free_bytes)} of ${formatBytes(disk.total_bytes)} (${disk.path})` : '…'],
  ];
  return (
    <section class="session" aria-label="Session">
      <h2>Session</h2>
      <RateGraph samples={live.history} label="Session rates" version={version} />
      <dl class="facts">{facts.map(([k, v]) => [<dt key={k}>{k}</dt>, <dd key={`${k}-v`}>{v}</dd>])}</dl>
      <SettingsForm />
    </section>
  );
}

/** The download root's free space, asked again when torrents come or go (no polling). */
function useDisk(torrents: number): DiskSpace | null {
  const [disk, setDisk] = useState<DiskSpace | null>(null);
  useEffect(() => {
    api.disk().then(setDisk, () => setDisk(null));
  }, [torrents]);
  return disk;
}

function SettingsForm() {
  const [saved, setSaved] = useState<Settings | null>(null);
  const [draft, setDraft] = useState<Settings>({});
  const [note, setNote] = useState('');
  const [error, setError] = useState('');
  useEffect(() => {
    api.settings().then(setSaved, (e: Error) => setError(e.message));
  }, []);
  if (!saved) return error ? <p class="error" role="alert">{error}</p> : <p class="muted">Loading settings…</p>;

  const value = (k: string): string | number | boolean | undefined => (k in draft ? draft[k] : saved[k]);
  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    try {
      setSaved(await api.saveSettings(draft));
      setDraft({});
      setError('');
      setNote('Settings saved.');
    } catch (err) {
      setError((err as Error).message);
      setNote('');
    }
  };
  return (
    <form class="settings stack" onSubmit={save} aria-label="Settings">
      <h3>Settings</h3>
      {FIELDS.filter((f) => f.key in saved).map((f) => (
        f.kind === 'bool'
          ? <label key={f.key} class="check"><input type="checkbox" name={f.key} checked={value(f.key) === true}
              onChange={(e) => setDraft({ ...draft, [f.key]: (e.target as HTMLInputElement).checked })} /> {f.label}</label>
          : <label key={f.key}><span>{f.label}{f.hint ? <span class="muted"> ({f.hint})</span> : null}</span>
              {f.kind === 'number'
                ? <input name={f.key} type="number" value={String(value(f.key) ?? '')}
                    onInput={(e) => setDraft({ ...draft, [f.key]: Number((e.target as HTMLInputElement).value) })} />
                : <input name={f.key} type="text" value={String(value(f.key) ?? '')}
                    onInput={(e) => setDraft({ ...draft, [f.key]: (e.target as HTMLInputElement).value })} />}</label>
      ))}
      {error && <p class="error" role="alert">{error}</p>}
      <div class="buttons">
        <button type="submit" class="primary" disabled={Object.keys(draft).length === 0}>Save settings</button>
        <span role="status">{note}</span>
      </div>
    </form>
  );
}
