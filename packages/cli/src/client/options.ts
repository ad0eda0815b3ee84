/**
 * The options every command that talks to a running daemon takes. Kept free of the client itself so that
 * main.ts can wire the commands without loading anything else.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { seconds } from '../parsers.js';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
export const DEFAULT_TIMEOUT_S = 30;

/** --url, --token, --timeout and --json, as commander hands them to the action. */
export interface ClientCommandOptions {
  url: string;
  token?: string;
  /** Seconds per request (for `watch`, until the event stream answers). */
  timeout: number;
  json?: boolean;
}

/** --url / SPRITZLE_URL: an http(s) URL (a path prefix is kept, for a daemon behind a reverse proxy). */
export function apiUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value.trim());
  } catch {
    throw new InvalidArgumentError('must be the daemon\'s API URL, e.g. http://127.0.0.1:8080');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError('must be an http:// or https:// URL');
  if (u.search !== '' || u.hash !== '') throw new InvalidArgumentError('must be the API\'s base URL, without ?query or #fragment');
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
}

/** --token, shared by the daemon (the token it requires) and the client commands (the token they send). */
export function tokenOption(): Option {
  return new Option('--token <token>', 'API token, sent as "Authorization: Bearer <token>"').env('SPRITZLE_TOKEN');
}

/** Adds --url, --token, --timeout and --json to a command (after its own options, so --help lists those first). */
export function withClientOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', 'the daemon\'s REST API').env('SPRITZLE_URL').default(DEFAULT_API_URL).argParser(apiUrl))
    .addOption(tokenOption())
    .addOption(new Option('--timeout <seconds>', 'give up on the daemon after this long without an answer')
      .env('SPRITZLE_TIMEOUT').default(DEFAULT_TIMEOUT_S).argParser(seconds))
    .option('--json', 'print the API\'s JSON instead of text, for scripts');
}
