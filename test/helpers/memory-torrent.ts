// Torrents without sockets or files: a TorrentInfo made in memory, disk threads that hash on the calling
// thread, and peer connections over a FakeTransport. For unit tests of the torrent's jobs.
import { createHash } from 'node:crypto';
import bencode from 'bencode';
import { parseInfoDict, type TorrentInfo } from '../../packages/engine/src/metainfo/metainfo.js';
import { PeerConnection } from '../../packages/engine/src/peer/peer-connection.js';
import type { Counters } from '../../packages/engine/src/stats/counters.js';
import type { Torrent } from '../../packages/engine/src/torrent/torrent.js';
import type { PieceWriteResult } from '../../packages/engine/src/storage/torrent-storage.js';
import { blockHashes } from '../../packages/engine/src/metainfo/merkle.js';
import { FakeTransport } from './fake-transport.js';

/** Deterministic bytes (xorshift32 from `seed`). */
export function testData(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

/** A single-file torrent's metadata over `data`. */
export function infoFor(data: Uint8Array, pieceLength: number, name = 'data.bin'): TorrentInfo {
  const hashes: Buffer[] = [];
  for (let at = 0; at < data.length; at += pieceLength) hashes.push(createHash('sha1').update(data.subarray(at, at + pieceLength)).digest());
  const info = { length: data.length, name: Buffer.from(name), 'piece length': pieceLength, pieces: Buffer.concat(hashes) };
  return parseInfoDict(bencode.encode(info));
}

/**
 * A multi-file torrent's metadata over `data`, the files as [length, pad] in order (BEP 47: a pad file's
 * bytes are zeros in `data`, attr "p").
 */
export function multiFileInfoFor(data: Uint8Array, pieceLength: number, files: [number, boolean][], name = 'dir'): TorrentInfo {
  const hashes: Buffer[] = [];
  for (let at = 0; at < data.length; at += pieceLength) hashes.push(createHash('sha1').update(data.subarray(at, at + pieceLength)).digest());
  const list = files.map(([length, pad], i) => (pad
    ? { attr: Buffer.from('p'), length, path: [Buffer.from('.pad'), Buffer.from(String(length))] }
    : { length, path: [Buffer.from(`file${i}`)] }));
  const info = { files: list, name: Buffer.from(name), 'piece length': pieceLength, pieces: Buffer.concat(hashes) };
  return parseInfoDict(bencode.encode(info));
}

/** DiskIoThreads' hash and write, on this thread; `failNext` makes the next job fail with that error. */
export class InlineDiskIo {
  failNext: Error | null = null;
  hashed = 0;

  async hash(buf: Uint8Array): Promise<Uint8Array> {
    this.hashed++;
    if (this.failNext) throw this.takeFailure();
    return createHash('sha1').update(buf).digest();
  }

  async hashBlocks(buf: Uint8Array): Promise<Uint8Array> {
    this.hashed++;
    if (this.failNext) throw this.takeFailure();
    return blockHashes(buf);
  }

  async write(_buf: Uint8Array, _spans: number[]): Promise<PieceWriteResult> {
    if (this.failNext) throw this.takeFailure();
    return { ops: 0 };
  }

  private takeFailure(): Error {
    const e = this.failNext!;
    this.failNext = null;
    return e;
  }
}

/** A peer connection over a FakeTransport (remote 127.0.0.1:`port`). */
export function fakePeer(counters: Counters, port = 6881): { peer: PeerConnection; transport: FakeTransport } {
  const transport = new FakeTransport('127.0.0.1', port);
  const peer = new PeerConnection(transport, 'outgoing', counters);
  return { peer, transport };
}

/** Starts the torrent and attaches a fake peer (fast extension) that has every piece; it has not unchoked yet. */
export async function startWithSeedPeer(torrent: Torrent, info: TorrentInfo, counters: Counters): Promise<{ peer: PeerConnection; transport: FakeTransport }> {
  await torrent.start();
  const { peer, transport } = fakePeer(counters);
  peer.setPieceCount(info.numPieces);
  transport.feed(wire.handshake(true));
  torrent.attachPeer(peer);
  transport.feed(wire.bitfieldAll(info.numPieces));
  return { peer, transport };
}

const u32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const message = (id: number, payload: ArrayLike<number> = []): Uint8Array => Uint8Array.from([...u32(1 + payload.length), id, ...Array.from(payload)]);

/** What a remote peer sends, as bytes (BEP 3 and BEP 6). */
export const wire = {
  /** The extension protocol bit, and the fast extension's if `fast`. */
  handshake: (fast = false): Uint8Array => Uint8Array.from([
    19, ...Buffer.from('BitTorrent protocol'), 0, 0, 0, 0, 0, 0x10, 0, fast ? 0x04 : 0, ...new Array(20).fill(0xab), ...new Array(20).fill(0xcd),
  ]),
  choke: (): Uint8Array => message(0),
  unchoke: (): Uint8Array => message(1),
  have: (index: number): Uint8Array => message(4, u32(index)),
  /** Every one of `numPieces` pieces. */
  bitfieldAll: (numPieces: number): Uint8Array => {
    const bits = new Uint8Array(Math.ceil(numPieces / 8));
    for (let i = 0; i < numPieces; i++) bits[i >> 3]! |= 0x80 >> (i & 7);
    return message(5, bits);
  },
  piece: (index: number, offset: number, data: Uint8Array): Uint8Array => message(7, [...u32(index), ...u32(offset), ...data]),
  request: (index: number, offset: number, length: number): Uint8Array => message(6, [...u32(index), ...u32(offset), ...u32(length)]),
  reject: (index: number, offset: number, length: number): Uint8Array => message(16, [...u32(index), ...u32(offset), ...u32(length)]),
};

/** The request messages among what we sent (after our handshake, if any): [index, offset, length] each. */
export function sentRequests(transport: FakeTransport): [number, number, number][] {
  const out: [number, number, number][] = [];
  const b = transport.sent();
  let at = b.length >= 68 && b[0] === 19 ? 68 : 0;
  while (at + 4 <= b.length) {
    const len = b.readUInt32BE(at);
    if (len >= 13 && b[at + 4] === 6) out.push([b.readUInt32BE(at + 5), b.readUInt32BE(at + 9), b.readUInt32BE(at + 13)]);
    at += 4 + len;
  }
  return out;
}
