// BEP 52 hash messages between a torrent and its peers: requests answered from our trees within a budget
// (a flood is refused, then disconnected), answers taken only when asked for and only when they prove out.
import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { MSG } from '../../../packages/engine/src/wire/codec.js';
import type { PeerConnection } from '../../../packages/engine/src/peer/peer-connection.js';
import { parseTorrentFile } from '../../../packages/engine/src/metainfo/metainfo.js';
import { createTorrentFromData } from '../../../packages/engine/src/metainfo/create.js';
import { ANSWER_BURST, FLOOD_REJECTS, HashExchange } from '../../../packages/engine/src/torrent/hash-exchange.js';

/** The part of a peer connection the exchange uses, recording what it sends. */
function fakePeer(): { peer: PeerConnection; sent: number[]; closed: () => string | null } {
  const sent: number[] = [];
  let reason: string | null = null;
  const peer = {
    v2: true,
    get closed() { return reason !== null; },
    pieces: { get: () => true },
    sendHashMessage: (id: number) => { sent.push(id); },
    close: (why: string) => { reason = why; },
  };
  return { peer: peer as unknown as PeerConnection, sent, closed: () => reason };
}

const made = createTorrentFromData([{ path: ['f'], data: randomBytes(40 * 16384) }], { version: 'v2', pieceLength: 32768, name: 'f', singleFile: true });

describe('the hash exchange', () => {
  it('answers a burst of requests, then rejects, then disconnects a peer that keeps flooding', () => {
    const info = parseTorrentFile(made.torrent);
    const { peer, sent, closed } = fakePeer();
    const x = new HashExchange({ v2: info.v2!, peers: [peer], hashesArrived: () => undefined });
    const root = info.v2!.files[0]!.piecesRoot!;
    const tree = info.v2!.pieces[0]!.tree;
    const proof = tree.height - tree.pieceHeight - 1;
    for (let i = 0; i < ANSWER_BURST + 10; i++) x.onRequest(peer, root, tree.pieceHeight, 0, 32, proof, 0);
    expect(sent.filter((id) => id === MSG.hashes).length).toBe(ANSWER_BURST);
    expect(sent.filter((id) => id === MSG.hashReject).length).toBe(10);
    for (let i = 0; i < FLOOD_REJECTS; i++) x.onRequest(peer, root, tree.pieceHeight, 0, 32, proof, 0);
    expect(closed()).toMatch(/hash request flood/);
  });

  it('rejects a request for a root the torrent does not have, or hashes it does not know', () => {
    const info = parseTorrentFile(made.torrent);
    const { peer, sent } = fakePeer();
    const x = new HashExchange({ v2: info.v2!, peers: [peer], hashesArrived: () => undefined });
    x.onRequest(peer, new Uint8Array(32).fill(1), 0, 0, 2, 0, 0);
    x.onRequest(peer, info.v2!.files[0]!.piecesRoot!, 0, 0, 2, 0, 0); // block hashes: not known from a .torrent
    expect(sent).toEqual([MSG.hashReject, MSG.hashReject]);
  });

  it('ignores hashes it did not ask for, and disconnects a peer whose asked-for hashes do not prove out', () => {
    const top = parseTorrentFile(made.torrent);
    // A magnet's view: the info dict without the piece layers.
    const magnet = parseTorrentFile(Buffer.concat([Buffer.from('d4:info'), top.infoBytes, Buffer.from('e')]));
    const { peer, sent, closed } = fakePeer();
    let arrived = 0;
    const x = new HashExchange({ v2: magnet.v2!, peers: [peer], hashesArrived: () => arrived++ });
    const root = magnet.v2!.files[0]!.piecesRoot!;
    x.onHashes(peer, root, 1, 0, 32, 4, new Uint8Array(32 * 32));
    expect([arrived, closed()]).toEqual([0, null]);
    x.request(peer, 0);
    expect(sent).toEqual([MSG.hashRequest]);
    const tree = magnet.v2!.pieces[0]!.tree;
    x.onHashes(peer, root, tree.pieceHeight, 0, 32, tree.height - tree.pieceHeight - 1, new Uint8Array(32 * 32).fill(5));
    expect([arrived, closed()]).toEqual([0, 'sent hashes that do not match the torrent']);
  });
});
