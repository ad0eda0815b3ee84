/**
 * Typed errors. Every error the engine raises on purpose is a SpritzleError with a stable `code`
 * that callers (the REST layer, the CLI) map to a status or exit code, and a message a user can act on.
 */
export type ErrorCode =
  | 'invalid_param' // an add-torrent param or setting is unknown or ill-typed (field names it)
  | 'invalid_torrent' // .torrent bytes that do not parse or fail validation
  | 'invalid_bencode' // bytes from outside that are not bencode within bdecode's limits
  | 'invalid_info_hash' // not 40 hex characters
  | 'invalid_path' // a path in a .torrent (or a save_path) escapes where it must stay
  | 'duplicate_torrent' // add with duplicate_is_error for a torrent already in the session
  | 'torrent_not_found'
  | 'invalid_state' // e.g. an operation that needs metadata before it has arrived
  | 'disk_error' // ENOSPC, EACCES... from storage
  | 'network_error' // listen failures and the like
  | 'peer_protocol_error' // a peer broke the wire protocol (its connection ends with this reason)
  | 'session_closed';

/** An error the engine raises on purpose: a stable `code`, a message a user can act on, the `field` at fault. */
export class SpritzleError extends Error {
  readonly code: ErrorCode;
  /** The offending field, for invalid_param. */
  readonly field?: string;
  constructor(code: ErrorCode, message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'SpritzleError';
    this.code = code;
    if (options?.field !== undefined) this.field = options.field;
  }
}

/** Whether `e` is a SpritzleError (a type guard for catch clauses). */
export function isSpritzleError(e: unknown): e is SpritzleError {
  return e instanceof SpritzleError;
}

/** An errno-style code from a Node system error, if any. */
export function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}
