import type { TorrentInfo } from '../metainfo/metainfo.js';
import { OFF_THREAD_PARSE_BYTES, checkMetadataOffThread } from '../metainfo/parse-thread.js';
import { checkMetadata, type MetadataCheck } from '../metainfo/metadata-check.js';
import type { PeerConnection } from '../peer/peer-connection.js';
import {
  MetadataAssembler, MetadataRequestBudget, decodeMetadataMessage, encodeMetadataData, encodeMetadataReject,
  encodeMetadataRequest, metadataPieces, offeredMetadataSize, METADATA_DATA, METADATA_PIECE_SIZE, METADATA_REJECT,
  METADATA_REQUEST, type MetadataMessage,
} from '../wire/ut-metadata.js';

/** Copies of the metadata fetched at once (each from one peer, at most MAX_METADATA_SIZE). */
const MAX_METADATA_FETCHES = 2;

/** What the torrent side of BEP 9 needs of its torrent. */
export interface MetadataTorrent {
  readonly infoHash: string;
  /** A v2 magnet's full v2 info-hash (64 hex): the metadata's SHA-256 must be it. */
  readonly v2Hash?: string | undefined;
  /** Null for a magnet until the metadata arrives. */
  readonly info: TorrentInfo | null;
  readonly peers: Iterable<PeerConnection>;
  /** Whether the upload limits allow metadata to go out now. */
  uploadAllowed(now: number): boolean;
  /** Metadata bytes went out: spent from the upload limits. */
  uploadSpent(bytes: number): void;
  /** The metadata, verified (its SHA-1, or SHA-256, is the info-hash) and parsed. */
  received(info: TorrentInfo): void;
  /** The torrent's own info dictionary came (its hash matched) but it does not parse: why. */
  unusable(reason: string): void;
}

/**
 * The torrent side of BEP 9 (ut_metadata): a magnet fetches its info dictionary from peers, a copy per
 * peer, at most MAX_METADATA_FETCHES at once; every torrent serves its own within a per-peer budget.
 */
export class MetadataExchange {
  /** Metadata copies being fetched, by peer. */
  private readonly fetches = new Map<PeerConnection, MetadataAssembler>();
  /** Metadata requests each peer may still have answered. */
  private readonly budgets = new WeakMap<PeerConnection, MetadataRequestBudget>();
  /** A complete copy is being checked (hashed and parsed, on a parser thread when big): no other is fetched meanwhile. */
  private checking = false;

  constructor(private readonly torrent: MetadataTorrent) {}

  /** Starts fetching the metadata from `peer` if it offers it and fewer than MAX_METADATA_FETCHES copies are under way. */
  fetch(peer: PeerConnection): void {
    if (this.torrent.info || this.checking || peer.closed || this.fetches.has(peer) || this.fetches.size >= MAX_METADATA_FETCHES) return;
    const size = offeredMetadataSize(peer.peerExtendedHandshake);
    if (size === 0 || !peer.supports('ut_metadata')) return;
    const copy = new MetadataAssembler(size);
    this.fetches.set(peer, copy);
    for (let i = 0; i < copy.numPieces && !peer.closed; i++) peer.sendMetadata(encodeMetadataRequest(i));
  }

  /** The peer left: its fetch, if any, goes to another peer. */
  peerLeft(peer: PeerConnection): void {
    if (this.fetches.delete(peer)) this.fetchElsewhere();
  }

  /** The metadata is known: copies under way are not needed any more. */
  done(): void {
    this.fetches.clear();
  }

  /** A fetch ended without metadata: another peer's turn. */
  private fetchElsewhere(): void {
    for (const p of this.torrent.peers) this.fetch(p);
  }

  /** A ut_metadata message from the peer. */
  onMessage(peer: PeerConnection, payload: Uint8Array): void {
    let msg: MetadataMessage;
    try {
      msg = decodeMetadataMessage(payload);
    } catch (e) {
      peer.protocolError(`metadata: ${(e as Error).message}`);
      return;
    }
    if (msg.type === METADATA_REQUEST) {
      this.serve(peer, msg.piece);
      return;
    }
    const copy = this.fetches.get(peer);
    if (!copy) return; // an answer to nothing we asked (or a fetch already over): ignored
    if (msg.type === METADATA_REJECT) {
      this.fetches.delete(peer);
      this.fetchElsewhere();
      return;
    }
    if (msg.type !== METADATA_DATA) return;
    try {
      if (msg.totalSize !== copy.size) throw new Error(`total_size ${msg.totalSize}, not the ${copy.size} bytes offered`);
      copy.add(msg.piece, msg.data);
    } catch (e) {
      peer.protocolError(`metadata: ${(e as Error).message}`);
      return;
    }
    const bytes = copy.assembled;
    if (!bytes) return;
    this.fetches.delete(peer);
    // A second copy completed while the first is checked: not needed, unless the first fails (then fetched again).
    if (this.checking) return;
    this.checking = true;
    // Hashed and parsed off the event loop when big (a 100,000-file info dictionary took most of a second);
    // at once when small, where a thread costs more than the parse, so the metadata lands within this message.
    const expect = { infoHash: this.torrent.infoHash, v2: this.torrent.v2Hash };
    if (bytes.length < OFF_THREAD_PARSE_BYTES) this.checked(peer, checkMetadata(bytes, expect));
    else void checkMetadataOffThread(bytes, expect).then((result) => this.checked(peer, result));
  }

  /** A complete copy from `peer` was checked. */
  private checked(peer: PeerConnection, result: MetadataCheck): void {
    this.checking = false;
    if (this.torrent.info) return; // known meanwhile (or the torrent closed)
    if (result.ok) {
      this.torrent.received(result.info);
      return;
    }
    if (result.mismatch) {
      if (!peer.closed) peer.protocolError('metadata: the info dictionary does not match the info-hash');
    } else {
      this.torrent.unusable(result.error.message);
    }
    this.fetchElsewhere();
  }

  /**
   * A peer asks for a piece of our metadata. Answered within the peer's MetadataRequestBudget (one copy and
   * a little more a minute) and counted against the upload rate limits; rejected beyond; a peer that keeps
   * asking regardless is disconnected (issue 9: 5,000 requests made us send 26 MB).
   */
  private serve(peer: PeerConnection, piece: number): void {
    const bytes = this.torrent.info?.infoBytes;
    const n = bytes ? metadataPieces(bytes.length) : 0;
    if (!bytes || piece >= n) {
      // Nothing to serve (a magnet itself), or a piece beyond it: one small reject per request, no amplification.
      peer.sendMetadata(encodeMetadataReject(piece));
      return;
    }
    const now = Date.now();
    let budget = this.budgets.get(peer);
    if (!budget) {
      budget = new MetadataRequestBudget(n, now);
      this.budgets.set(peer, budget);
    }
    // Under the rate limit a request is refused without spending the peer's budget (nor counting as a flood).
    if (!this.torrent.uploadAllowed(now) || !budget.take(now)) {
      peer.sendMetadata(encodeMetadataReject(piece));
      if (budget.flooding) peer.protocolError(`metadata: more than ${MetadataRequestBudget.FLOOD_REJECTS} requests refused`);
      return;
    }
    const data = bytes.subarray(piece * METADATA_PIECE_SIZE, Math.min(bytes.length, (piece + 1) * METADATA_PIECE_SIZE));
    this.torrent.uploadSpent(data.length);
    peer.sendMetadata(encodeMetadataData(piece, bytes.length, data));
  }
}
