import { SpritzleError } from '../errors.js';
import type { Endpoint } from './addr.js';

/** What one announce tells a tracker (BEP 3 / BEP 15 fields). */
export interface AnnounceRequest {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event: '' | 'started' | 'completed' | 'stopped';
  numWant: number;
  /** BEP 3's trackerid, sent back as the tracker gave it (HTTP only). */
  trackerId: string;
  /** A random number per session that lets a tracker know us across address changes. */
  key: number;
  userAgent: string;
}

/** A tracker's answer to an announce; unknown numbers are -1, an absent interval 0. */
export interface AnnounceReply {
  intervalS: number;
  minIntervalS: number;
  trackerId: string;
  complete: number;
  incomplete: number;
  warning: string;
  peers: Endpoint[];
}

export interface ScrapeReply {
  complete: number;
  incomplete: number;
  downloaded: number;
}

/** An answer with the bytes it took on the wire (net.sent_tracker_bytes / net.recv_tracker_bytes). */
export interface Exchange<T> {
  reply: T;
  sent: number;
  recv: number;
}

/** Bytes spent on a request that failed (counted all the same). */
export interface Spent {
  sent: number;
  recv: number;
}

/** A failed request: the message is what the tracker list shows; the bytes still count. */
export class TrackerRequestError extends SpritzleError {
  constructor(message: string, readonly spent: Spent = { sent: 0, recv: 0 }) {
    super('network_error', message);
    this.name = 'TrackerRequestError';
  }
}

/** Most peers taken from one answer (a hostile tracker could send thousands). */
export const MAX_PEERS_PER_ANSWER = 500;
/** libtorrent gives up on a tracker request after tracker_completion_timeout (30 s); 15 s keeps retries snappy. */
export const REQUEST_TIMEOUT_MS = 15_000;

/** An answer that is no valid tracker answer: the parsers throw this (or bdecode's BencodeError), nothing else. */
export function badAnswer(message: string): never {
  throw new TrackerRequestError(`tracker answer: ${message}`);
}
