import { SpritzleError } from '../errors.js';
import { DEFAULT_FILE_POOL_SIZE } from '../storage/file-pool.js';
import type { EncLevel, EncPolicy } from '../transport/mse.js';

/**
 * Session settings, named as libtorrent's settings_pack so that users (and GET/PATCH /session/settings)
 * speak one vocabulary. Defaults follow libtorrent 2.0 except where noted.
 */
export interface SessionSettings {
  /** "host:port"; port 0 picks a free port. libtorrent's default is 0.0.0.0:6881. */
  listen_interfaces: string;
  /** The first 8 bytes of our peer id (Azureus style). */
  peer_fingerprint: string;
  /** Sent in the extended handshake's `v`. */
  user_agent: string;
  /** Most peer connections across the session. */
  connections_limit: number;
  /** Regular + optimistic upload slots across the session; -1 = unlimited. */
  unchoke_slots_limit: number;
  /** 0 = auto: max(1, unchoke_slots_limit / 5). */
  num_optimistic_unchoke_slots: number;
  /** Seconds between regular rechokes. */
  unchoke_interval: number;
  /** Seconds between optimistic unchoke rotations. */
  optimistic_unchoke_interval: number;
  /** Pieces a seeding peer may receive before the round-robin seed choker rotates it out. */
  seeding_piece_quota: number;
  /** Seconds of data to keep requested from a peer at its measured rate. */
  request_queue_time: number;
  /** Most outstanding requests to one peer. */
  max_out_request_queue: number;
  /** Most queued incoming requests from one peer; more are dropped. */
  max_allowed_in_request_queue: number;
  /** Seconds without any message before a peer is disconnected. */
  peer_timeout: number;
  /** Seconds to complete the BitTorrent handshake. */
  handshake_timeout: number;
  /** Seconds for a TCP connect to succeed. */
  peer_connect_timeout: number;
  /** Seconds without payload either way before an uninterested connection is closed. */
  inactivity_timeout: number;
  /** Seconds without any block while requests are outstanding before the peer is snubbed. */
  piece_timeout: number;
  /** Seconds before a failed or closed peer may be dialled again. */
  min_reconnect_time: number;
  /**
   * libtorrent's default (false) drops a second connection from an address that is already connected;
   * spritzle tells peers apart by peer id, so many peers on 127.0.0.1 work (default true, unlike libtorrent).
   */
  allow_multiple_connections_per_ip: boolean;
  /** Bytes/s, 0 = unlimited. */
  download_rate_limit: number;
  upload_rate_limit: number;
  /** The DHT node (a later issue drives it); off unless asked. */
  enable_dht: boolean;
  /** Local service discovery (a later issue drives it); off unless asked. */
  enable_lsd: boolean;
  /** "host:port,host:port" bootstrap nodes for the DHT. */
  dht_bootstrap_nodes: string;
  /** UDP port of the DHT node; 0 = the listen port, as libtorrent does (spritzle's addition). */
  dht_port: number;
  /** Default save_path for torrents added without one. */
  save_path: string;
  /** uTP (BEP 29) and TCP, each way. Outgoing connections try uTP first and fall back to TCP (libtorrent's order). */
  enable_outgoing_utp: boolean;
  enable_incoming_utp: boolean;
  enable_outgoing_tcp: boolean;
  enable_incoming_tcp: boolean;
  /**
   * How TCP peers share bandwidth with uTP peers (libtorrent's values): 0 prefer_tcp, TCP peers are not held
   * back; 1 peer_proportional, while uTP peers have requests pending, TCP peers are limited each second to
   * their share by count of the session's current rate (at least 5,000 B/s up, 30,000 B/s down).
   */
  mixed_mode_algorithm: number;
  /** uTP's target queuing delay, ms (LEDBAT). */
  utp_target_delay: number;
  /** The most uTP's window grows per round trip, bytes. */
  utp_gain_factor: number;
  /** uTP's shortest retransmission timeout, ms. */
  utp_min_timeout: number;
  /** SYN resends before a uTP connect fails; FIN resends before a close gives up; resends of a packet before the connection fails. */
  utp_syn_resends: number;
  utp_fin_resends: number;
  utp_num_resends: number;
  /** ms for a uTP connect to be answered (then the dial falls back to TCP). */
  utp_connect_timeout: number;
  /** uTP's window after a loss, percent of the window before it. */
  utp_loss_multiplier: number;
  /**
   * spritzle's: uTP's window after an isolated loss while its queuing delay is under a quarter of
   * utp_target_delay (random loss, not congestion), percent; slow start goes on. 0: every loss is cut by
   * utp_loss_multiplier and ends slow start, as libtorrent does.
   */
  utp_low_delay_loss_multiplier: number;
  /**
   * libtorrent's queueing: how many auto-managed torrents may download, seed, and be active in all; the rest
   * wait (paused, still auto-managed) in queue order. -1 = unlimited. libtorrent's defaults are 3, 5 and 500;
   * spritzle's are -1 (no queueing unless asked), so that adding a torrent still starts it.
   */
  active_downloads: number;
  active_seeds: number;
  active_limit: number;
  /**
   * Most files kept open across the session (libtorrent's file pool): the least recently used idle one is
   * closed to open another, so descriptors do not grow with the number of torrents.
   */
  file_pool_size: number;
  /**
   * Message stream encryption (MSE/PE) of connections we dial: `enabled` tries it and falls back to plaintext
   * if the peer does not answer it, `forced` never connects in plaintext, `disabled` never encrypts.
   */
  out_enc_policy: EncPolicy;
  /** Incoming connections: `enabled` accepts both (told apart by their first bytes), `forced` refuses plaintext, `disabled` refuses MSE. */
  in_enc_policy: EncPolicy;
  /** What an MSE connection may carry its payload as: `plaintext`, `rc4` or `both`. */
  allowed_enc_level: EncLevel;
  /** With `both`: choose RC4 for an incoming connection whose peer offers both (else plaintext, as libtorrent). */
  prefer_rc4: boolean;
}

/** Every setting's default, as Session.create applies them (libtorrent's defaults where it has the setting). */
export const DEFAULT_SETTINGS: Readonly<SessionSettings> = Object.freeze({
  listen_interfaces: '0.0.0.0:6881',
  // Azureus-style client code ZL: neither libtorrent's identify_client nor Transmission's clients.cc knows it
  // (SZ, used before, is Shareaza's).
  peer_fingerprint: '-ZL0100-',
  user_agent: 'spritzle/0.1.0',
  connections_limit: 200,
  unchoke_slots_limit: 8,
  num_optimistic_unchoke_slots: 0,
  unchoke_interval: 15,
  optimistic_unchoke_interval: 30,
  seeding_piece_quota: 20,
  request_queue_time: 3,
  max_out_request_queue: 500,
  max_allowed_in_request_queue: 2000,
  peer_timeout: 120,
  handshake_timeout: 10,
  peer_connect_timeout: 15,
  inactivity_timeout: 600,
  piece_timeout: 20,
  min_reconnect_time: 60,
  allow_multiple_connections_per_ip: true,
  download_rate_limit: 0,
  upload_rate_limit: 0,
  enable_dht: false,
  enable_lsd: false,
  dht_bootstrap_nodes: '',
  dht_port: 0,
  save_path: '.',
  active_downloads: -1,
  active_seeds: -1,
  active_limit: -1,
  enable_outgoing_utp: true,
  enable_incoming_utp: true,
  enable_outgoing_tcp: true,
  enable_incoming_tcp: true,
  mixed_mode_algorithm: 1,
  utp_target_delay: 100,
  utp_gain_factor: 3000,
  utp_min_timeout: 500,
  utp_syn_resends: 2,
  utp_fin_resends: 2,
  utp_num_resends: 3,
  utp_connect_timeout: 3000,
  utp_loss_multiplier: 50,
  utp_low_delay_loss_multiplier: 100,
  file_pool_size: DEFAULT_FILE_POOL_SIZE,
  out_enc_policy: 'enabled',
  in_enc_policy: 'enabled',
  allowed_enc_level: 'both',
  prefer_rc4: false,
});

/** Settings that only take effect when the session starts (the listen socket is already bound). */
export const RESTART_ONLY_SETTINGS: ReadonlySet<keyof SessionSettings> = new Set(['listen_interfaces', 'peer_fingerprint']);

/** Largest int32: libtorrent's settings_pack stores integers as int. */
const INT_MAX = 2 ** 31 - 1;
/** Seconds that still fit a Node timer (setTimeout clamps anything over 2^31 - 1 ms to 1 ms). */
const SECONDS_MAX = Math.floor(INT_MAX / 1000);

/** The accepted range of each integer setting (libtorrent's int settings, with the bounds that make sense here). */
const INT_RANGES: Readonly<Record<string, readonly [min: number, max: number]>> = {
  connections_limit: [0, 1_000_000],
  unchoke_slots_limit: [-1, 1_000_000],
  num_optimistic_unchoke_slots: [0, 1_000_000],
  unchoke_interval: [1, SECONDS_MAX],
  optimistic_unchoke_interval: [1, SECONDS_MAX],
  seeding_piece_quota: [0, INT_MAX],
  request_queue_time: [0, SECONDS_MAX],
  max_out_request_queue: [1, 1_000_000],
  max_allowed_in_request_queue: [1, 1_000_000],
  peer_timeout: [1, SECONDS_MAX],
  handshake_timeout: [1, SECONDS_MAX],
  peer_connect_timeout: [1, SECONDS_MAX],
  inactivity_timeout: [1, SECONDS_MAX],
  piece_timeout: [1, SECONDS_MAX],
  min_reconnect_time: [0, SECONDS_MAX],
  download_rate_limit: [0, INT_MAX],
  upload_rate_limit: [0, INT_MAX],
  dht_port: [0, 65535],
  active_downloads: [-1, 1_000_000],
  active_seeds: [-1, 1_000_000],
  active_limit: [-1, 1_000_000],
  mixed_mode_algorithm: [0, 1],
  utp_target_delay: [1, 60_000],
  utp_gain_factor: [1, 64 * 1024 * 1024],
  utp_min_timeout: [1, 60_000],
  utp_syn_resends: [0, 100],
  utp_fin_resends: [0, 100],
  utp_num_resends: [0, 100],
  utp_connect_timeout: [1, 600_000],
  utp_loss_multiplier: [1, 100],
  utp_low_delay_loss_multiplier: [0, 100],
  file_pool_size: [1, 1_000_000],
};

/** Longest accepted value of each string setting, in characters. */
const STRING_MAX: Readonly<Record<string, number>> = {
  listen_interfaces: 1024,
  peer_fingerprint: 8,
  user_agent: 1024,
  dht_bootstrap_nodes: 64 * 1024,
  save_path: 4096,
};

/** Settings with a fixed set of names, each name's position being libtorrent's number for it (plus `offset`). */
const ENUMS: Readonly<Record<string, { names: readonly string[]; offset: number }>> = {
  out_enc_policy: { names: ['forced', 'enabled', 'disabled'], offset: 0 },
  in_enc_policy: { names: ['forced', 'enabled', 'disabled'], offset: 0 },
  allowed_enc_level: { names: ['plaintext', 'rc4', 'both'], offset: 1 },
};

// C0 controls, DEL and C1 controls: they would reach peers, logs and terminals as they are.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

function invalid(key: string, message: string): never {
  throw new SpritzleError('invalid_param', `setting "${key}" ${message}`, { field: key });
}

/**
 * Validates a partial settings object by libtorrent's names, as settings_pack would: unknown names, wrong
 * types, non-integers, integers out of their range, over-long strings and strings with control characters
 * are an invalid_param error naming the setting. Numeric strings are coerced for numeric settings, as the
 * original spritzle did, so form posts and query strings work.
 */
export function validateSettings(input: unknown): Partial<SessionSettings> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new SpritzleError('invalid_param', 'settings must be a JSON object of libtorrent setting names', { field: 'settings' });
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_SETTINGS, key)) {
      throw new SpritzleError('invalid_param', `unknown setting "${key.slice(0, 100)}"`, { field: key.slice(0, 100) });
    }
    const expected = typeof DEFAULT_SETTINGS[key as keyof SessionSettings];
    let v = value;
    if (expected === 'number' && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) v = Number(v);
    if (expected === 'boolean' && (v === 'true' || v === 'false')) v = v === 'true';
    const choices = ENUMS[key];
    if (choices) {
      // libtorrent's settings_pack numbers (pe_forced = 0, pe_rc4 = 2, ...) name the same choices.
      const n = typeof v === 'string' && /^\d$/.test(v) ? Number(v) : v;
      if (typeof n === 'number' && Number.isInteger(n)) v = choices.names[n - choices.offset] ?? v;
      if (typeof v !== 'string' || !choices.names.includes(v)) {
        invalid(key, `must be one of ${choices.names.map((c, i) => `${c} (${i + choices.offset})`).join(', ')}`);
      }
    } else if (expected === 'number') {
      const [min, max] = INT_RANGES[key]!;
      if (typeof v !== 'number' || !Number.isInteger(v)) invalid(key, `must be an integer from ${min} to ${max}`);
      if (v < min || v > max) invalid(key, `must be from ${min} to ${max}`);
    } else if (expected === 'string') {
      if (typeof v !== 'string') invalid(key, 'must be a string');
      const max = STRING_MAX[key]!;
      if (v.length > max) invalid(key, `is at most ${max} characters`);
      if (CONTROL_CHARS.test(v)) invalid(key, 'may not contain control characters');
    } else if (typeof v !== expected) {
      invalid(key, `must be a ${expected}`);
    }
    out[key] = v;
  }
  if (typeof out.listen_interfaces === 'string') parseListenInterface(out.listen_interfaces);
  return out as Partial<SessionSettings>;
}

/** "host:port" or "[v6]:port" → parts; the first interface of a comma-separated list is used. */
export function parseListenInterface(s: string): { host: string; port: number } {
  const first = s.split(',')[0]!.trim();
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(first);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new SpritzleError('invalid_param', `listen_interfaces "${s}" is not host:port`, { field: 'listen_interfaces' });
  }
  return { host: (m[1] ?? m[2])!, port };
}
