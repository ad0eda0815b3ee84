import type { TorrentInfo } from './metainfo.js';
import type { ErrorCode } from '../errors.js';
import type { ExpectedHashes } from './metadata-check.js';
import { v2FromWire, v2ToWire, v2WireBuffers, type V2Wire } from './v2.js';

/**
 * What the metadata worker is asked: parse these bytes as a .torrent file or as an info dictionary; with
 * `expect` (metadata from peers), check first that the info dictionary hashes to it.
 */
export interface ParseJob { kind: 'torrent' | 'info'; bytes: Uint8Array; expect?: ExpectedHashes }

/**
 * A TorrentInfo as it crosses threads, in columns: the receiving thread deserializes a message in one
 * go, and 100,000 file objects (or 2 million piece-hash views) cost it well over 100 ms, where a few
 * buffers and one string cost almost nothing. Every buffer is its own, so all can be transferred.
 */
export type WireInfo = Omit<TorrentInfo, 'pieceHashes' | 'infoHashBytes' | 'files' | 'v2'> & {
  /** A v2 or hybrid torrent's BEP 52 part (files, merkle trees) in columns too. */
  v2?: V2Wire;
  /** The piece hashes, 20 bytes each, end to end. */
  pieces: Uint8Array;
  /** All file paths end to end; file i's path ends at pathEnds[i]. */
  paths: string;
  pathEnds: Uint32Array;
  lengths: Float64Array;
  pads: Uint8Array;
};

export type ParseReply =
  | { ok: true; info: WireInfo }
  | { ok: false; code?: ErrorCode; message: string; field?: string }
  /** The bytes do not hash to the job's `expect`: not parsed. */
  | { ok: false; mismatch: true };

/** The buffers of a WireInfo, to transfer. */
export function wireBuffers(w: WireInfo): ArrayBuffer[] {
  return [...[w.pieces, w.pathEnds, w.lengths, w.pads, w.infoBytes].map((a) => a.buffer as ArrayBuffer), ...(w.v2 ? v2WireBuffers(w.v2) : [])];
}

export function toWire(info: TorrentInfo): WireInfo {
  const { pieceHashes, infoHashBytes: _hash, files, v2, ...rest } = info;
  const pieces = new Uint8Array(pieceHashes.length * 20);
  pieceHashes.forEach((h, i) => pieces.set(h, i * 20));
  const pathEnds = new Uint32Array(files.length);
  const lengths = new Float64Array(files.length);
  const pads = new Uint8Array(files.length);
  let end = 0;
  files.forEach((f, i) => {
    end += f.path.length;
    pathEnds[i] = end;
    lengths[i] = f.length;
    pads[i] = f.pad ? 1 : 0;
  });
  return {
    ...rest, infoBytes: new Uint8Array(info.infoBytes), pieces, paths: files.map((f) => f.path).join(''), pathEnds, lengths, pads,
    ...(v2 ? { v2: v2ToWire(v2, info.pieceLength) } : {}),
  };
}

export function fromWire(wire: WireInfo): TorrentInfo {
  const { pieces, paths, pathEnds, lengths, pads, v2, ...rest } = wire;
  // Not numPieces: a v2-only torrent has pieces but no SHA-1 piece hashes.
  const pieceHashes: Uint8Array[] = new Array(pieces.length / 20);
  for (let i = 0; i < pieceHashes.length; i++) pieceHashes[i] = pieces.subarray(i * 20, i * 20 + 20);
  const files: { path: string; length: number; pad: boolean }[] = new Array(pathEnds.length);
  for (let i = 0, start = 0; i < pathEnds.length; start = pathEnds[i]!, i++) {
    files[i] = { path: paths.slice(start, pathEnds[i]), length: lengths[i]!, pad: pads[i] === 1 };
  }
  return { ...rest, infoHashBytes: Buffer.from(wire.infoHash, 'hex'), pieceHashes, files, ...(v2 ? { v2: v2FromWire(v2) } : {}) };
}
