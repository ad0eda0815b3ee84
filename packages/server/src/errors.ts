import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import multer from 'multer';
import { isSpritzleError, type ErrorCode } from '@spritzle/engine';

/**
 * Error codes the server adds to the engine's: every error body carries one, so clients branch on the code
 * and never on the message.
 */
export type ServerErrorCode =
  | 'bad_request' // malformed request the engine never sees (bad multipart, both or no torrent sources...)
  | 'invalid_json' // a JSON body that does not parse
  | 'unauthorized' // missing or wrong Bearer token
  | 'host_not_allowed' // Host header not the daemon's name (DNS rebinding)
  | 'origin_not_allowed' // a state-changing request from a foreign web origin
  | 'not_found' // no such route
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'request_header_too_large' // headers over Node's limit (16 KiB by default): 431
  | 'request_timeout' // the request did not arrive within Node's request timeout: 408
  | 'unsupported_media_type'
  | 'fetch_failed' // a .torrent url that could not be fetched (unreachable, HTTP error, too big, too slow)
  | 'range_not_satisfiable' // a Range outside the streamed file: 416
  | 'internal_error';

/** Every `error.code` the API answers: the engine's codes and the server's own. */
export type ApiErrorCode = ErrorCode | ServerErrorCode;

/** The JSON body of every error response. `field` names the offending input where there is one. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; field?: string };
}

/** An error that already knows its HTTP answer. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly field: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, code: ApiErrorCode, message: string, opts: { field?: string; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.field = opts.field;
    this.headers = opts.headers ?? {};
  }
}

/** A 400 naming the field at fault. */
export function badRequest(message: string, field?: string, code: ApiErrorCode = 'bad_request'): HttpError {
  return new HttpError(400, code, message, field !== undefined ? { field } : {});
}

const ENGINE_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_param: 400,
  invalid_torrent: 400,
  invalid_bencode: 400,
  invalid_info_hash: 400,
  invalid_path: 400,
  invalid_state: 400,
  duplicate_torrent: 409,
  torrent_not_found: 404,
  session_closed: 503,
  disk_error: 500,
  network_error: 500,
  peer_protocol_error: 502, // a peer's fault; ends that connection, never an API call (listed for completeness)
};

/** multer's limit codes: only the file size is "too large"; the rest are malformed forms. */
const MULTER_413 = new Set(['LIMIT_FILE_SIZE']);

interface Classified {
  status: number;
  code: ApiErrorCode;
  message: string;
  field?: string;
  headers?: Readonly<Record<string, string>>;
  /** A real bug (or an unexpected failure): logged, and its message is not shown to the client. */
  internal: boolean;
}

/** body-parser and the router tag client errors with `status`/`statusCode` and `expose`; nothing else here does. */
function clientStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  return status !== undefined && status >= 400 && status < 500 && e.expose !== false ? status : undefined;
}

function classifyError(err: unknown): Classified {
  if (err instanceof HttpError) {
    return { status: err.status, code: err.code, message: err.message, ...(err.field !== undefined ? { field: err.field } : {}), headers: err.headers, internal: false };
  }
  if (isSpritzleError(err)) {
    const status = ENGINE_STATUS[err.code] ?? 500;
    // disk_error's message says which file and why (ENOSPC, EACCES): the user can act on it, so show it.
    return { status, code: err.code, message: err.message, ...(err.field !== undefined ? { field: err.field } : {}), internal: status === 500 && err.code !== 'disk_error' };
  }
  if (err instanceof multer.MulterError) {
    const status = MULTER_413.has(err.code) ? 413 : 400;
    return {
      status, code: status === 413 ? 'payload_too_large' : 'bad_request',
      message: `multipart form: ${err.message}${err.field ? ` (${err.field})` : ''}`,
      ...(err.field ? { field: err.field } : {}), internal: false,
    };
  }
  const status = clientStatus(err);
  if (status !== undefined) {
    const type = (err as { type?: unknown }).type;
    const code: ApiErrorCode = type === 'entity.parse.failed' ? 'invalid_json'
      : status === 413 ? 'payload_too_large'
        : status === 415 ? 'unsupported_media_type'
          : status === 404 ? 'not_found' : 'bad_request';
    const message = type === 'entity.parse.failed' ? `the JSON body does not parse: ${(err as Error).message}` : (err as Error).message || 'bad request';
    return { status, code, message, internal: false };
  }
  return { status: 500, code: 'internal_error', message: 'internal error', internal: true };
}

function sendError(res: Response, status: number, body: ApiErrorBody, headers: Readonly<Record<string, string>> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).json(body);
}

/** The last middleware: every error becomes `{"error": {"code", "message"}}` with the matching status. */
export function errorHandler(log: (message: string, err: unknown) => void): ErrorRequestHandler {
  return (err, req, res, next) => {
    const c = classifyError(err);
    if (c.internal) log(`${req.method} ${req.originalUrl}: unexpected error`, err);
    if (res.headersSent) {
      // A stream (SSE) already answered: the only honest signal left is to cut the connection.
      next(err);
      return;
    }
    const body: ApiErrorBody = { error: { code: c.code, message: c.message, ...(c.field !== undefined ? { field: c.field } : {}) } };
    sendError(res, c.status, body, c.headers);
  };
}

/** After every route: the path matched nothing. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path}`));
};

/**
 * Mounted with `.all()` on each route after its real methods: the path exists, the method does not.
 * OPTIONS gets its answer here too (no CORS: the API is not meant to be called cross-origin).
 */
export function methodNotAllowed(methods: readonly string[]): RequestHandler {
  const allow = [...new Set([...methods.map((m) => m.toUpperCase()), ...(methods.includes('get') ? ['HEAD'] : []), 'OPTIONS'])].join(', ');
  return (req, res, next) => {
    res.setHeader('Allow', allow);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next(new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}; allowed: ${allow}`, { headers: { Allow: allow } }));
  };
}
