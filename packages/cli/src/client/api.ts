/**
 * The REST client the daemon-facing commands share: global fetch with a timeout, the Bearer token, and every
 * failure turned into one line the user can act on (CliError): the daemon is not reachable, or it answered an
 * error (its `{"error": {"code", "message"}}` message).
 */
import type { Category, FileInfo, PeerInfo, TorrentStatus, TrackerInfo } from '@spritzle/engine';
import type { ApiErrorBody } from '@spritzle/server';
import { CliError } from '../errors.js';

/** An event stream that sends nothing for this long is dead: the daemon sends a stats event every second. */
export const STREAM_IDLE_MS = 45_000;

/** An error answer from the daemon. The message is the API's own, so it is the whole line printed. */
export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** `{"info_hash": ...}` and any subset of the status fields, as `GET /torrent?fields=` answers. */
export type PartialStatus<K extends keyof TorrentStatus> = Pick<TorrentStatus, K | 'info_hash'>;

/** What `add` sends: a .torrent's bytes (uploaded as multipart `file`) or a URL / magnet link. */
export type AddSource = { kind: 'file'; name: string; bytes: Uint8Array } | { kind: 'url'; url: string };

/** One Server-Sent Event (the `event:` name, `message` when absent, and the joined `data:` lines). */
export interface ServerSentEvent {
  event: string;
  data: string;
}

export interface ClientOptions {
  url: string;
  token?: string | undefined;
  /** Per request, body included; event streams use it for the answer's headers only. */
  timeoutMs: number;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface RequestOptions {
  query?: Record<string, string>;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as multipart/form-data. */
  form?: FormData;
}

/** Short wording for the ways a connection fails (undici reports the errno code on the error's cause). */
const NET_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EADDRNOTAVAIL: 'address not available',
  EPIPE: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'the answer stopped arriving',
};

function codeOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Why a fetch failed, in a few words: the deepest cause with an errno code, else its message. */
export function networkReason(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && e.name === 'TimeoutError') return `no answer within ${Math.round(timeoutMs / 100) / 10} s`;
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur !== undefined && cur !== null; depth++) {
    // Connecting to "localhost" tries every address it resolves to; the errors come as an AggregateError.
    if (cur instanceof AggregateError && cur.errors.length > 0) cur = cur.errors[0];
    const code = codeOf(cur);
    if (code !== undefined && NET_REASONS[code] !== undefined) return NET_REASONS[code];
    const cause: unknown = cur instanceof Error ? cur.cause : undefined;
    if (cause === undefined) break;
    cur = cause;
  }
  const last = cur instanceof Error ? cur.message : String(cur);
  return last.split('\n', 1)[0]!.trim() || 'unknown network error';
}

/** A hint appended to a 401's message: the API's own words do not say how the CLI sends a token. */
const TOKEN_HINT = 'pass it with --token or SPRITZLE_TOKEN';

export class ApiClient {
  /** The API's base URL, without a trailing slash. */
  readonly url: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: ClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    // An empty SPRITZLE_TOKEN= is the shell's way of unsetting it (as `spritzle start` takes it).
    this.token = opts.token !== undefined && opts.token !== '' ? opts.token : undefined;
    this.timeoutMs = opts.timeoutMs;
  }

  /** The one line for a daemon that cannot be reached. */
  unreachable(e: unknown): CliError {
    return new CliError(`cannot reach the spritzle daemon at ${this.url}: ${networkReason(e, this.timeoutMs)}; is \`spritzle start\` running?`);
  }

  private endpoint(path: string, query?: Record<string, string>): string {
    const qs = query && Object.keys(query).length > 0 ? `?${new URLSearchParams(query).toString()}` : '';
    return `${this.url}${path}${qs}`;
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { accept };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    return headers;
  }

  private init(method: Method, opts: RequestOptions, signal: AbortSignal): RequestInit {
    const headers = this.headers('application/json');
    let body: string | FormData | undefined;
    if (opts.form !== undefined) body = opts.form; // fetch sets the multipart boundary itself
    else if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    return { method, headers, signal, ...(body !== undefined ? { body } : {}) };
  }

  /** An error answer → ApiError with the API's message (or the HTTP status when the body is not the API's). */
  private apiError(status: number, statusText: string, text: string): ApiError {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const err = (body as Partial<ApiErrorBody> | undefined)?.error;
    if (typeof err === 'object' && err !== null && typeof err.message === 'string' && err.message !== '') {
      const code = typeof err.code === 'string' ? err.code : 'error';
      const message = status === 401 ? `${err.message}; ${TOKEN_HINT}` : err.message;
      return new ApiError(status, code, message.split('\n', 1)[0]!);
    }
    return new ApiError(status, 'http_error', `the daemon at ${this.url} answered ${status}${statusText ? ` ${statusText}` : ''}${status === 401 ? `; ${TOKEN_HINT}` : ''}`);
  }

  /** One request and its whole body, under the timeout. A non-2xx answer throws ApiError. */
  private async request(method: Method, path: string, opts: RequestOptions = {}): Promise<string> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.endpoint(path, opts.query), this.init(method, opts, AbortSignal.timeout(this.timeoutMs)));
      text = await res.text();
    } catch (e) {
      throw this.unreachable(e);
    }
    if (!res.ok) throw this.apiError(res.status, res.statusText, text);
    return text;
  }

  private async json<T>(method: Method, path: string, opts: RequestOptions = {}): Promise<T> {
    const text = await this.request(method, path, opts);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`the daemon at ${this.url} answered ${method} ${path} with something that is not JSON; is it a spritzle daemon?`);
    }
  }

  private torrentPath(hash: string, action = ''): string {
    return `/torrent/${encodeURIComponent(hash)}${action}`;
  }

  /** GET /torrent: every torrent's info-hash. */
  listHashes(): Promise<string[]> {
    return this.json<string[]>('GET', '/torrent');
  }

  /** GET /torrent?fields=...: these status fields (and info_hash) of every torrent. */
  listTorrents<K extends keyof TorrentStatus>(fields: readonly K[]): Promise<PartialStatus<K>[]> {
    return this.json<PartialStatus<K>[]>('GET', '/torrent', { query: { fields: fields.join(',') } });
  }

  /** GET /torrent/<hash>: the full status. */
  torrentStatus(hash: string): Promise<TorrentStatus> {
    return this.json<TorrentStatus>('GET', this.torrentPath(hash));
  }

  /** GET /torrent/<hash>?fields=...: some of its status fields. */
  torrentFields<K extends keyof TorrentStatus>(hash: string, fields: readonly K[]): Promise<PartialStatus<K>> {
    return this.json<PartialStatus<K>>('GET', this.torrentPath(hash), { query: { fields: fields.join(',') } });
  }

  /** POST /torrent: a file goes as a multipart upload, a URL or magnet as `url`; `args` are add_torrent_params. */
  addTorrent(source: AddSource, args: Record<string, unknown>): Promise<{ info_hash: string }> {
    const hasArgs = Object.keys(args).length > 0;
    if (source.kind === 'file') {
      const form = new FormData();
      // A copy into a plain ArrayBuffer-backed view: what Blob's types (and some runtimes) want.
      form.set('file', new Blob([new Uint8Array(source.bytes)], { type: 'application/x-bittorrent' }), source.name);
      if (hasArgs) form.set('args', JSON.stringify(args));
      return this.json('POST', '/torrent', { form });
    }
    return this.json('POST', '/torrent', { json: hasArgs ? { url: source.url, args } : { url: source.url } });
  }

  /** POST /torrent/<hash>/{pause,resume,recheck}: the API answers with the status after the change. */
  torrentAction(hash: string, action: 'pause' | 'resume' | 'recheck'): Promise<TorrentStatus> {
    return this.json<TorrentStatus>('POST', this.torrentPath(hash, `/${action}`));
  }

  /** DELETE /torrent/<hash>[?delete_files]: an empty 200. */
  async removeTorrent(hash: string, deleteFiles: boolean): Promise<void> {
    await this.request('DELETE', this.torrentPath(hash), deleteFiles ? { query: { delete_files: '1' } } : {});
  }

  /** GET /torrent/<hash>/files: its files with progress and priority (empty before metadata). */
  torrentFiles(hash: string): Promise<FileInfo[]> {
    return this.json<FileInfo[]>('GET', this.torrentPath(hash, '/files'));
  }

  /** GET /torrent/<hash>/peers: its connected peers. */
  torrentPeers(hash: string): Promise<PeerInfo[]> {
    return this.json<PeerInfo[]>('GET', this.torrentPath(hash, '/peers'));
  }

  /** POST /torrent/<hash>/peers: connect a peer (libtorrent's connect_peer). */
  connectPeer(hash: string, host: string, port: number): Promise<{ info_hash: string; host: string; port: number }> {
    return this.json('POST', this.torrentPath(hash, '/peers'), { json: { host, port } });
  }

  /** GET /torrent/<hash>/trackers: its trackers and their state. */
  torrentTrackers(hash: string): Promise<TrackerInfo[]> {
    return this.json<TrackerInfo[]>('GET', this.torrentPath(hash, '/trackers'));
  }

  /** PATCH /torrent/<hash>: per-torrent settings; the answer is its status. */
  updateTorrent(hash: string, changes: Record<string, unknown>): Promise<TorrentStatus> {
    return this.json<TorrentStatus>('PATCH', this.torrentPath(hash), { json: changes });
  }

  /** POST /torrent/<hash>/move: libtorrent's move_storage; answers with the status once the files are there. */
  moveStorage(hash: string, savePath: string): Promise<TorrentStatus> {
    return this.json<TorrentStatus>('POST', this.torrentPath(hash, '/move'), { json: { save_path: savePath } });
  }

  /** POST /torrent/<hash>/rename: libtorrent's rename_file; answers with the file list after it. */
  renameFile(hash: string, index: number, name: string): Promise<FileInfo[]> {
    return this.json<FileInfo[]>('POST', this.torrentPath(hash, '/rename'), { json: { index, name } });
  }

  /** GET /session/categories: every category with its save path ("" for the session's). */
  categories(): Promise<Category[]> {
    return this.json<Category[]>('GET', '/session/categories');
  }

  /** PUT /session/categories/<name>: creates it or changes its save path. */
  setCategory(name: string, savePath: string): Promise<Category> {
    return this.json<Category>('PUT', `/session/categories/${encodeURIComponent(name)}`, { json: { save_path: savePath } });
  }

  /** DELETE /session/categories/<name>: its torrents stay, in no category (404 when there is none). */
  async removeCategory(name: string): Promise<void> {
    await this.request('DELETE', `/session/categories/${encodeURIComponent(name)}`);
  }

  /** PUT /session/tags/<name>: a tag known without a torrent; the answer is every tag. */
  createTag(name: string): Promise<string[]> {
    return this.json<string[]>('PUT', `/session/tags/${encodeURIComponent(name)}`);
  }

  /** DELETE /session/tags/<name>: forgotten and taken off every torrent; the answer is every tag. */
  deleteTag(name: string): Promise<string[]> {
    return this.json<string[]>('DELETE', `/session/tags/${encodeURIComponent(name)}`);
  }

  /** GET /session/tags: every tag, those the torrents carry included. */
  tags(): Promise<string[]> {
    return this.json<string[]>('GET', '/session/tags');
  }

  /** GET /session/settings: every setting by libtorrent's name. */
  settings(): Promise<Record<string, string | number | boolean>> {
    return this.json('GET', '/session/settings');
  }

  /** PATCH /session/settings: the answer is every setting after the change. */
  applySettings(changes: Record<string, unknown>): Promise<Record<string, string | number | boolean>> {
    return this.json('PATCH', '/session/settings', { json: changes });
  }

  /** GET /session: every session counter by libtorrent's name. */
  sessionStats(): Promise<Record<string, number>> {
    return this.json<Record<string, number>>('GET', '/session');
  }

  /**
   * GET /events as an endless sequence of events. The timeout covers the answer's headers; after that a
   * stream silent for STREAM_IDLE_MS, closed or broken ends the sequence with a CliError. Aborting `signal`
   * ends it with the signal's reason.
   */
  async *events(signal: AbortSignal, idleMs = STREAM_IDLE_MS): AsyncGenerator<ServerSentEvent, never> {
    const ctl = new AbortController();
    const onAbort = (): void => ctl.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const headerTimer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, this.timeoutMs);
    const lost = (e: unknown): Error => {
      if (signal.aborted) return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
      return new CliError(`lost the connection to the spritzle daemon at ${this.url}: ${networkReason(e, this.timeoutMs)}`);
    };
    try {
      let res: Response;
      try {
        res = await fetch(this.endpoint('/events'), { method: 'GET', headers: this.headers('text/event-stream'), signal: ctl.signal });
      } catch (e) {
        if (signal.aborted) throw lost(e);
        throw this.unreachable(timedOut ? Object.assign(new Error('timeout'), { name: 'TimeoutError' }) : e);
      } finally {
        clearTimeout(headerTimer);
      }
      if (!res.ok || res.body === null) {
        let text = '';
        try {
          text = await res.text();
        } catch {
          // the status alone says enough
        }
        throw this.apiError(res.status, res.statusText, text);
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      let event = '';
      let data: string[] = [];
      for (;;) {
        let stalled = false;
        const idle = setTimeout(() => {
          stalled = true;
          ctl.abort();
        }, idleMs);
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (stalled) throw new CliError(`the spritzle daemon at ${this.url} sent no event for ${idleMs / 1000} s`);
          throw lost(e);
        } finally {
          clearTimeout(idle);
        }
        if (chunk.done) throw new CliError(`the spritzle daemon at ${this.url} closed the event stream (did it stop?)`);
        buf += decoder.decode(chunk.value, { stream: true });
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          if (line === '') {
            if (data.length > 0) yield { event: event || 'message', data: data.join('\n') };
            event = '';
            data = [];
          } else if (!line.startsWith(':')) {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event = value;
            else if (field === 'data') data.push(value);
          }
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      ctl.abort(); // closes the connection when the consumer stops early
    }
  }

}

const HEX40 = /^[0-9a-fA-F]{40}$/;
const HEX_PREFIX = /^[0-9a-fA-F]{1,39}$/;

/**
 * A torrent named on the command line → its info-hash. 40 hex digits go to the API as they are (so an
 * unknown one gets the API's 404); a shorter hex prefix is looked up and must match exactly one torrent;
 * anything else goes to the API too, which says why it is not an info-hash.
 */
export async function resolveHash(client: ApiClient, arg: string): Promise<string> {
  if (HEX40.test(arg)) return arg.toLowerCase();
  if (!HEX_PREFIX.test(arg)) return arg;
  const prefix = arg.toLowerCase();
  const matches = (await client.listHashes()).filter((h) => h.startsWith(prefix));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CliError(`no torrent in the session has an info-hash starting with ${prefix}`);
  throw new CliError(`${prefix} is the start of ${matches.length} torrents' info-hashes (${matches.slice(0, 3).join(', ')}${matches.length > 3 ? ', ...' : ''}); give more of it`);
}
