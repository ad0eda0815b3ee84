import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { formatBytes, formatDate, formatDuration, formatPercent, formatRate } from '../format.js';
import { typing, useLive } from '../hooks.js';
import { live, type Row } from '../live.js';
import { ALL, NONE, displayState, eta, labelsOf, ratio, visibleRows, type SortKey, type StateFilter, type View } from '../table.js';
import { AddDialog } from './AddDialog.js';
import { Dialog } from './Dialog.js';

/** Rows are this tall (CSS agrees): the table renders only the rows in sight, so 10,000 cost as little as 20. */
export const ROW_HEIGHT = 40;
const OVERSCAN = 8;

const COLUMNS: { key: SortKey; label: string; cls: string }[] = [
  { key: 'name', label: 'Name', cls: 'c-name' },
  { key: 'size', label: 'Size', cls: 'c-size wide' },
  { key: 'progress', label: 'Progress', cls: 'c-progress' },
  { key: 'state', label: 'State', cls: 'c-state' },
  { key: 'down', label: 'Down', cls: 'c-down' },
  { key: 'up', label: 'Up', cls: 'c-up wide' },
  { key: 'eta', label: 'ETA', cls: 'c-eta wide' },
  { key: 'ratio', label: 'Ratio', cls: 'c-ratio wide' },
  { key: 'peers', label: 'Peers', cls: 'c-peers wide' },
  { key: 'added', label: 'Added', cls: 'c-added wide' },
];

const FILTERS: StateFilter[] = ['all', 'downloading', 'seeding', 'paused', 'active', 'checking', 'error'];

type Action = 'pause' | 'resume' | 'recheck';

export function TorrentList({ droppedFiles, clearDropped, defaultSavePath }: { droppedFiles: File[]; clearDropped: () => void; defaultSavePath: string }) {
  const version = useLive();
  const [view, setView] = useState<View>({ filter: 'all', category: ALL, tag: ALL, search: '', sort: 'added', desc: true });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [anchor, setAnchor] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<string[] | null>(null);
  const [help, setHelp] = useState(false);
  const [message, setMessage] = useState('');
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const scroller = useRef<HTMLDivElement>(null);
  const search = useRef<HTMLInputElement>(null);

  const rows = useMemo(() => visibleRows(live.rows, view), [version, view]);
  const sel = useMemo(() => [...selected].filter((h) => live.byHash.has(h)), [selected, version]);
  const labels = useMemo(() => labelsOf(live.rows), [version]);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    if (droppedFiles.length) setAdding(true);
  }, [droppedFiles]);

  const act = async (action: Action, hashes: string[]): Promise<void> => {
    const results = await Promise.allSettled(hashes.map((h) => api[action](h)));
    const failed = results.filter((r) => r.status === 'rejected').length;
    setMessage(failed ? `${action}: ${failed} of ${hashes.length} failed` : `${action}: ${hashes.length} torrent${hashes.length === 1 ? '' : 's'}`);
  };

  // A layout effect: the shortcuts work from the first frame, and follow the selection at once.
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (typing(e) || e.altKey || document.querySelector('dialog[open]')) return;
      if (e.key === '/') {
        e.preventDefault();
        search.current?.focus();
      } else if (e.key === 'a' && !e.ctrlKey && !e.metaKey) {
        setAdding(true);
      } else if ((e.ctrlKey || e.metaKey) && e.key === 'a') {
        e.preventDefault();
        setSelected(new Set(rows.map((r) => r.info_hash)));
      } else if (e.key === 'p' && sel.length) {
        void act('pause', sel);
      } else if (e.key === 'r' && sel.length) {
        void act('resume', sel);
      } else if (e.key === 'Delete' && sel.length) {
        setRemoving(sel);
      } else if (e.key === 'Escape') {
        setSelected(new Set());
      } else if (e.key === '?') {
        setHelp(true);
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [rows, sel]);

  const toggle = (hash: string, e: MouseEvent): void => {
    const next = new Set(selected);
    if (e.shiftKey && anchor !== null) {
      const a = rows.findIndex((r) => r.info_hash === anchor);
      const b = rows.findIndex((r) => r.info_hash === hash);
      if (a >= 0 && b >= 0) for (let i = Math.min(a, b); i <= Math.max(a, b); i++) next.add(rows[i]!.info_hash);
    } else if (next.has(hash)) next.delete(hash);
    else next.add(hash);
    setAnchor(hash);
    setSelected(next);
  };

  const sortBy = (key: SortKey): void => setView((v) => ({ ...v, sort: key, desc: v.sort === key ? !v.desc : key !== 'name' }));

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.info_hash));

  return (
    <section class="list" aria-label="Torrents">
      <div class="toolbar">
        <button class="primary" onClick={() => setAdding(true)} title="Add torrents (a)">Add</button>
        <button disabled={!sel.length} onClick={() => void act('pause', sel)} title="Pause (p)">Pause</button>
        <button disabled={!sel.length} onClick={() => void act('resume', sel)} title="Resume (r)">Resume</button>
        <button disabled={!sel.length} onClick={() => void act('recheck', sel)}>Recheck</button>
        <button disabled={!sel.length} class="danger" onClick={() => setRemoving(sel)} title="Remove (Delete)">Remove</button>
        <input ref={search} type="search" aria-label="Search by name (/)" placeholder="Search (/)" value={view.search}
          onInput={(e) => setView((v) => ({ ...v, search: (e.target as HTMLInputElement).value }))} />
        <select aria-label="Show" value={view.filter} onChange={(e) => setView((v) => ({ ...v, filter: (e.target as HTMLSelectElement).value as StateFilter }))}>
          {FILTERS.map((f) => <option key={f} value={f}>{f}</option>)}
        </select>
        <select aria-label="Category" value={view.category} onChange={(e) => setView((v) => ({ ...v, category: (e.target as HTMLSelectElement).value }))}>
          <option value={ALL}>all categories</option>
          <option value={NONE}>no category</option>
          {labels.categories.map((c) => <option key={c} value={c}>{c}</option>)}
          {view.category !== ALL && view.category !== NONE && !labels.categories.includes(view.category) && <option value={view.category}>{view.category}</option>}
        </select>
        <select aria-label="Tag" value={view.tag} onChange={(e) => setView((v) => ({ ...v, tag: (e.target as HTMLSelectElement).value }))}>
          <option value={ALL}>all tags</option>
          <option value={NONE}>no tag</option>
          {labels.tags.map((t) => <option key={t} value={t}>{t}</option>)}
          {view.tag !== ALL && view.tag !== NONE && !labels.tags.includes(view.tag) && <option value={view.tag}>{view.tag}</option>}
        </select>
      </div>
      <p class="status-line" role="status">{rows.length} of {live.rows.length} torrents{sel.length ? `, ${sel.length} selected` : ''}{message ? ` · ${message}` : ''}</p>
      <div class="table" role="table" aria-label="Torrents" aria-rowcount={rows.length + 1}>
        <div class="row head" role="row" aria-rowindex={1}>
          <span class="c-sel" role="columnheader">
            <input type="checkbox" aria-label="Select all shown" checked={allSelected}
              onChange={() => setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.info_hash)))} />
          </span>
          {COLUMNS.map((c) => (
            <span key={c.key} class={c.cls} role="columnheader" aria-sort={view.sort === c.key ? (view.desc ? 'descending' : 'ascending') : undefined}>
              <button class="sort" onClick={() => sortBy(c.key)}>{c.label}{view.sort === c.key ? (view.desc ? ' ▾' : ' ▴') : ''}</button>
            </span>
          ))}
        </div>
        <div class="scroller" ref={scroller} onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}>
          <div role="rowgroup" style={{ height: `${rows.length * ROW_HEIGHT}px`, position: 'relative' }}>
            {rows.slice(first, last).map((r, i) => (
              <TorrentRowView key={r.info_hash} r={r} index={first + i} selected={selected.has(r.info_hash)} onToggle={toggle} />
            ))}
          </div>
          {rows.length === 0 && <p class="empty">{live.rows.length ? 'No torrent matches.' : 'No torrents yet. Add one, or drop a .torrent file here.'}</p>}
        </div>
      </div>
      {adding && <AddDialog initialFiles={droppedFiles} defaultSavePath={defaultSavePath} onClose={() => { setAdding(false); clearDropped(); }} />}
      {removing && <RemoveDialog hashes={removing} onClose={(msg) => { setRemoving(null); if (msg) setMessage(msg); setSelected(new Set()); }} />}
      {help && <HelpDialog onClose={() => setHelp(false)} />}
    </section>
  );
}

function TorrentRowView({ r, index, selected, onToggle }: { r: Row; index: number; selected: boolean; onToggle: (h: string, e: MouseEvent) => void }) {
  const state = displayState(r);
  return (
    <div class={`row${selected ? ' selected' : ''}`} role="row" aria-rowindex={index + 2} aria-selected={selected}
      style={{ top: `${index * ROW_HEIGHT}px` }} data-hash={r.info_hash}>
      <span class="c-sel" role="cell">
        <input type="checkbox" aria-label={`Select ${r.name}`} checked={selected} onClick={(e) => onToggle(r.info_hash, e)} />
      </span>
      <span class="c-name" role="cell"><a href={`#/t/${r.info_hash}`} title={r.name}>{r.name || r.info_hash}</a></span>
      <span class="c-size wide" role="cell">{r.total_wanted ? formatBytes(r.total_wanted) : '–'}</span>
      <span class="c-progress" role="cell">
        <span class="bar" role="progressbar" aria-label={`${r.name} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.floor(r.progress * 100)}>
          <span class={`fill ${state}`} style={{ width: `${r.progress * 100}%` }} />
        </span>
        <span class="pct">{formatPercent(r.progress)}</span>
      </span>
      <span class={`c-state state-${state}`} role="cell" title={r.error || undefined}>{state}</span>
      <span class="c-down" role="cell">{formatRate(r.download_payload_rate)}</span>
      <span class="c-up wide" role="cell">{formatRate(r.upload_payload_rate)}</span>
      <span class="c-eta wide" role="cell">{state === 'downloading' ? formatDuration(eta(r)) : '–'}</span>
      <span class="c-ratio wide" role="cell">{r.all_time_download === undefined ? '–' : Number.isFinite(ratio(r)) ? ratio(r).toFixed(2) : '∞'}</span>
      <span class="c-peers wide" role="cell">{r.num_seeds}/{r.num_peers}</span>
      <span class="c-added wide" role="cell">{formatDate(r.added_time)}</span>
    </div>
  );
}

function RemoveDialog({ hashes, onClose }: { hashes: string[]; onClose: (message?: string) => void }) {
  const [withFiles, setWithFiles] = useState(false);
  const [busy, setBusy] = useState(false);
  const names = hashes.slice(0, 5).map((h) => live.byHash.get(h)?.name ?? h);
  const remove = async (): Promise<void> => {
    setBusy(true);
    const results = await Promise.allSettled(hashes.map((h) => api.remove(h, withFiles)));
    const failed = results.filter((r) => r.status === 'rejected').length;
    onClose(failed ? `remove: ${failed} of ${hashes.length} failed` : `removed ${hashes.length}${withFiles ? ' with their files' : ''}`);
  };
  return (
    <Dialog title={`Remove ${hashes.length} torrent${hashes.length === 1 ? '' : 's'}?`} onClose={() => onClose()}>
      <ul class="names">{names.map((n) => <li key={n}>{n}</li>)}{hashes.length > 5 && <li>and {hashes.length - 5} more</li>}</ul>
      <label class="check"><input type="checkbox" checked={withFiles} onChange={(e) => setWithFiles((e.target as HTMLInputElement).checked)} /> Also delete the downloaded files</label>
      <div class="buttons">
        <button type="button" onClick={() => onClose()}>Cancel</button>
        <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>{withFiles ? 'Remove and delete files' : 'Remove'}</button>
      </div>
    </Dialog>
  );
}

function HelpDialog({ onClose }: { onClose: () => void }) {
  const keys: [string, string][] = [
    ['/', 'search'], ['a', 'add torrents'], ['Ctrl+A', 'select every torrent shown'], ['p', 'pause the selected'],
    ['r', 'resume the selected'], ['Delete', 'remove the selected'], ['Esc', 'clear the selection, close a dialog'], ['?', 'this help'],
  ];
  return (
    <Dialog title="Keyboard shortcuts" onClose={onClose}>
      <dl class="keys">{keys.map(([k, d]) => [<dt key={k}><kbd>{k}</kbd></dt>, <dd key={`${k}-d`}>{d}</dd>])}</dl>
      <div class="buttons"><button type="button" onClick={onClose}>Close</button></div>
    </Dialog>
  );
}
