/**
 * The REST API, as the page uses it: relative URLs (so the UI also works behind a path-prefix proxy) and the
 * browser's cookie for the token, which the page itself never sees.
 */

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The fields of a torrent the SSE `stats` event carries. */
/** The torrent fields the table shows: all the live view asks the stream for (GET /events?fields=...). */
export const ROW_FIELDS = [
  'name', 'state', 'paused', 'progress', 'download_payload_rate', 'upload_payload_rate', 'num_peers', 'num_seeds',
  'total_done', 'total_wanted', 'error', 'added_time', 'all_time_upload', 'all_time_download', 'category', 'tags',
] as const satisfies readonly Exclude<keyof TorrentRow, 'info_hash'>[];

export interface TorrentRow {
  info_hash: string;
  name: string;
  state: string;
  paused: boolean;
  progress: number;
  download_payload_rate: number;
  upload_payload_rate: number;
  num_peers: number;
  num_seeds: number;
  total_done: number;
  total_wanted: number;
  error: string;
  added_time: number;
  all_time_upload: number;
  all_time_download: number;
  /** "" for none. */
  category: string;
  tags: string[];
}

export interface FileInfo { index: number; path: string; size: number; progress: number; bytes_done: number; priority: number; pad: boolean }
export interface PeerInfo {
  ip: string; port: number; client: string; direction: string; flags: string; progress: number;
  down_speed: number; up_speed: number; total_download: number; total_upload: number;
  rc4_encrypted: boolean; plaintext_encrypted: boolean;
}
/** last_announce / next_announce: unix seconds, -1 for none. */
export interface TrackerInfo { url: string; tier: number; status: string; message: string; num_peers: number; last_announce: number; next_announce: number }
export type TorrentStatus = TorrentRow & Record<string, unknown> & { pieces: boolean[]; save_path: string; sequential_download: boolean };
export type Settings = Record<string, string | number | boolean>;
export interface DiskSpace { path: string; free_bytes: number; total_bytes: number }

async function call<T>(method: string, path: string, body?: RequestInit['body'] | object): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: {} };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const r = await fetch(path, init);
  const text = await r.text();
  if (!r.ok) {
    let code = 'http_error';
    let message = `${method} ${path}: HTTP ${r.status}`;
    try {
      const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      code = e?.code ?? code;
      message = e?.message ?? message;
    } catch {
      // not a JSON error body: keep the generic message
    }
    throw new ApiError(r.status, code, message);
  }
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export interface AddOptions { save_path?: string; paused: boolean; sequential_download: boolean; file_priorities?: number[] }

function addArgs(o: AddOptions): string {
  const args: Record<string, unknown> = {};
  if (o.save_path) args.save_path = o.save_path;
  if (o.paused) args.paused = true;
  if (o.sequential_download) args.sequential_download = true;
  if (o.file_priorities) args.file_priorities = o.file_priorities;
  return JSON.stringify(args);
}

const hashPath = (h: string): string => `torrent/${encodeURIComponent(h)}`;

export const api = {
  login: (token: string) => call<{ token_required: boolean }>('POST', 'ui/login', { token }),
  logout: () => call<void>('POST', 'ui/logout'),
  /** Whether the daemon wants a token and whether this browser's cookie carries it (never a 401). */
  auth: () => call<{ token_required: boolean; authenticated: boolean }>('GET', 'ui/auth'),
  status: (h: string) => call<TorrentStatus>('GET', hashPath(h)),
  files: (h: string) => call<FileInfo[]>('GET', `${hashPath(h)}/files`),
  peers: (h: string) => call<PeerInfo[]>('GET', `${hashPath(h)}/peers`),
  trackers: (h: string) => call<TrackerInfo[]>('GET', `${hashPath(h)}/trackers`),
  update: (h: string, body: Record<string, unknown>) => call<TorrentStatus>('PATCH', hashPath(h), body),
  pause: (h: string) => call<TorrentStatus>('POST', `${hashPath(h)}/pause`),
  resume: (h: string) => call<TorrentStatus>('POST', `${hashPath(h)}/resume`),
  recheck: (h: string) => call<TorrentStatus>('POST', `${hashPath(h)}/recheck`),
  remove: (h: string, deleteFiles: boolean) => call<void>('DELETE', `${hashPath(h)}${deleteFiles ? '?delete_files' : ''}`),
  addFile: (file: Blob, name: string, o: AddOptions) => {
    const form = new FormData();
    form.append('file', file, name);
    form.append('args', addArgs(o));
    return call<{ info_hash: string }>('POST', 'torrent', form);
  },
  addUrl: (url: string, o: AddOptions) => {
    const form = new FormData();
    form.append('url', url);
    form.append('args', addArgs(o));
    return call<{ info_hash: string }>('POST', 'torrent', form);
  },
  disk: () => call<DiskSpace>('GET', 'session/disk'),
  settings: () => call<Settings>('GET', 'session/settings'),
  saveSettings: (changes: Settings) => call<Settings>('PATCH', 'session/settings', changes),
  openapi: () => call<OpenApi>('GET', 'openapi.json'),
};

export interface OpenApi {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, { summary?: string; description?: string; parameters?: { name: string; in: string; description?: string }[] }>>;
}
