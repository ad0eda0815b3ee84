import { useEffect, useState } from 'preact/hooks';
import { api, type AddOptions } from '../api.js';
import { formatBytes } from '../format.js';
import { torrentFiles, type TorrentFileEntry } from '../torrent-file.js';
import { Dialog } from './Dialog.js';

/** Add torrents: .torrent files (picked or dropped), magnet links or URLs (one a line), with add options. */
export function AddDialog({ initialFiles, defaultSavePath, onClose }: { initialFiles: File[]; defaultSavePath: string; onClose: () => void }) {
  const [files, setFiles] = useState<File[]>(initialFiles);
  const [links, setLinks] = useState('');
  const [savePath, setSavePath] = useState('');
  const [paused, setPaused] = useState(false);
  const [sequential, setSequential] = useState(false);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<string[]>([]);
  // One .torrent with several files: which of them to download (file_priorities 0 for the others).
  const [contents, setContents] = useState<TorrentFileEntry[] | null>(null);
  const [skipped, setSkipped] = useState<Set<number>>(new Set());

  useEffect(() => {
    setContents(null);
    setSkipped(new Set());
    if (files.length !== 1) return;
    let stale = false;
    files[0]!.arrayBuffer().then((buf) => {
      if (stale) return;
      try {
        const list = torrentFiles(new Uint8Array(buf));
        setContents(list.length > 1 ? list : null);
      } catch (e) {
        setErrors([`${files[0]!.name}: ${(e as Error).message}`]);
      }
    }, () => undefined);
    return () => { stale = true; };
  }, [files]);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const o: AddOptions = { paused, sequential_download: sequential, ...(savePath.trim() ? { save_path: savePath.trim() } : {}) };
    const priorities = contents && skipped.size > 0 ? contents.map((_, i) => (skipped.has(i) ? 0 : 4)) : undefined;
    const urls = links.split('\n').map((s) => s.trim()).filter(Boolean);
    setBusy(true);
    const results = await Promise.allSettled([
      ...files.map((f) => api.addFile(f, f.name, priorities ? { ...o, file_priorities: priorities } : o).catch((err: Error) => { throw new Error(`${f.name}: ${err.message}`); })),
      ...urls.map((u) => api.addUrl(u, o).catch((err: Error) => { throw new Error(`${u.slice(0, 60)}: ${err.message}`); })),
    ]);
    setBusy(false);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).message);
    if (failed.length === 0) onClose();
    else setErrors(failed);
  };

  return (
    <Dialog title="Add torrents" onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <label class="drop">
          <span>Torrent files</span>
          <input type="file" name="file" accept=".torrent,application/x-bittorrent" multiple
            onChange={(e) => setFiles([...((e.target as HTMLInputElement).files ?? [])])} />
          <span class="muted">{files.length ? files.map((f) => f.name).join(', ') : 'or drop .torrent files anywhere on the page'}</span>
        </label>
        {contents && (
          <fieldset class="files">
            <legend>Files to download</legend>
            {contents.map((f, i) => (
              <label key={f.path} class="check">
                <input type="checkbox" checked={!skipped.has(i)} onChange={(e) => {
                  const next = new Set(skipped);
                  if ((e.target as HTMLInputElement).checked) next.delete(i);
                  else next.add(i);
                  setSkipped(next);
                }} /> {f.path} <span class="muted">({formatBytes(f.size)})</span>
              </label>
            ))}
          </fieldset>
        )}
        <label>
          <span>Magnet links or URLs, one a line</span>
          <textarea name="links" rows={3} value={links} onInput={(e) => setLinks((e.target as HTMLTextAreaElement).value)} placeholder="magnet:?xt=urn:btih:…" />
        </label>
        <label>
          <span>Save path (inside the download root)</span>
          <input type="text" name="save_path" value={savePath} placeholder={defaultSavePath || 'the default download folder'}
            onInput={(e) => setSavePath((e.target as HTMLInputElement).value)} />
        </label>
        <label class="check"><input type="checkbox" name="paused" checked={paused} onChange={(e) => setPaused((e.target as HTMLInputElement).checked)} /> Start paused</label>
        <label class="check"><input type="checkbox" name="sequential" checked={sequential} onChange={(e) => setSequential((e.target as HTMLInputElement).checked)} /> Download in order (sequential)</label>
        {errors.length > 0 && <ul class="error" role="alert">{errors.map((m) => <li key={m}>{m}</li>)}</ul>}
        <div class="buttons">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={busy || (files.length === 0 && links.trim() === '')}>{busy ? 'Adding…' : 'Add'}</button>
        </div>
      </form>
    </Dialog>
  );
}
