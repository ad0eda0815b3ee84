import type { Request } from 'express';

/**
 * qBittorrent reads an action's parameters from the query string and the form body alike (Qt merges
 * them); the form wins where both name one. A repeated name counts as its last value.
 */
export class QbParams {
  private readonly values: Record<string, unknown>;

  constructor(req: Request) {
    const body = typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
    this.values = { ...(req.query as Record<string, unknown>), ...body };
  }

  str(name: string): string | undefined {
    let v = this.values[name];
    if (Array.isArray(v)) v = v[v.length - 1];
    return typeof v === 'string' ? v : undefined;
  }

  /** A required parameter: absent is qBittorrent's 400 "Bad Request". */
  need(name: string): string {
    const v = this.str(name);
    if (v === undefined) throw new QbError(400, `Missing required parameter: ${name}`);
    return v;
  }

  /** "true" / "false" as qBittorrent's Utils::String::parseBool; anything else is `dflt`. */
  bool(name: string, dflt = false): boolean {
    const v = this.str(name)?.toLowerCase();
    return v === 'true' ? true : v === 'false' ? false : dflt;
  }

  /** An integer parameter; absent or empty is `dflt`, malformed is a 400. */
  int(name: string, dflt: number): number {
    const v = this.str(name);
    if (v === undefined || v.trim() === '') return dflt;
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new QbError(400, `${name} must be an integer`);
    return n;
  }

  num(name: string, dflt: number): number {
    const v = this.str(name);
    if (v === undefined || v.trim() === '') return dflt;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new QbError(400, `${name} must be a number`);
    return n;
  }

  /** "a|b|c" lists (hashes, file ids). */
  list(name: string, sep: string | RegExp = '|'): string[] {
    const v = this.str(name);
    return v === undefined || v === '' ? [] : v.split(sep).map((s) => s.trim()).filter((s) => s !== '');
  }
}

/** An answer in qBittorrent's manner: a status and a plain-text body. */
export class QbError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'QbError';
  }
}
