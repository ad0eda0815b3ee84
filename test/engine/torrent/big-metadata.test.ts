import { describe, it, expect } from '@jest/globals';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseTorrentFile, type Session } from '@spritzle/engine';
import { MAX_FILES } from '../../../packages/engine/src/metainfo/metainfo.js';
import { OFF_THREAD_PARSE_BYTES } from '../../../packages/engine/src/metainfo/parse-thread.js';
import { METADATA_PIECE_SIZE } from '../../../packages/engine/src/wire/ut-metadata.js';
import { sessionsForThisFile, waitFor } from '../../helpers/engine.js';
import { longestStall, manyFilesTorrent } from '../../helpers/event-loop.js';
import { tmpDir } from '../../helpers/fixtures.js';
import { handPeer, u32, type HandPeer } from '../../helpers/raw-peer.js';

// Issue 9: an info dictionary of up to 10 MB (ut_metadata's limit) arrives from peers for a magnet. Hashing
// and parsing a 100,000-file one took most of a second on the event loop; big ones now go to a parser thread.

const newSession = sessionsForThisFile();

/** An extended message (BEP 10) with id `id`, as wire bytes. */
function extended(id: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat([Buffer.from([20, id]), ...parts]);
  return Buffer.concat([Buffer.from(u32(body.length)), body]);
}

/**
 * A peer that connects to `session` for `infoHash` and offers `info` as its metadata (ut_metadata), sending
 * every piece as soon as the engine's extended handshake has named the engine's ut_metadata id.
 */
async function offerMetadata(session: Session, infoHash: string, info: Uint8Array): Promise<HandPeer> {
  const p = await handPeer(session.listenPort, infoHash);
  p.send(extended(0, Buffer.from(`d1:md11:ut_metadatai3ee13:metadata_sizei${info.length}ee`)));
  await p.waitFor([...Buffer.from('11:ut_metadatai')]);
  const id = Number(/11:ut_metadatai(\d+)e/.exec(p.received().toString('latin1'))![1]);
  for (let i = 0; i * METADATA_PIECE_SIZE < info.length; i++) {
    const head = Buffer.from(`d8:msg_typei1e5:piecei${i}e10:total_sizei${info.length}ee`);
    p.send(extended(id, head, info.subarray(i * METADATA_PIECE_SIZE, (i + 1) * METADATA_PIECE_SIZE)));
  }
  return p;
}

/** The info dictionary of a .torrent written by manyFilesTorrent (`d4:info` ... `e`). */
function infoOf(torrent: Uint8Array): Uint8Array {
  return torrent.subarray('d4:info'.length, torrent.length - 1);
}

function syncParseMs(bytes: Uint8Array): number {
  const t0 = performance.now();
  parseTorrentFile(bytes);
  return performance.now() - t0;
}

describe('metadata from peers at the file-count cap (issue 9)', () => {
  it(`a magnet that receives a ${MAX_FILES}-file info dictionary from a peer never blocks the event loop for most of the synchronous parse time`, async () => {
    const torrent = manyFilesTorrent(MAX_FILES);
    const info = infoOf(torrent);
    expect(info.length).toBeGreaterThan(OFF_THREAD_PARSE_BYTES);
    const infoHash = createHash('sha1').update(info).digest('hex');
    const session = await newSession();
    const { result: handle, longestMs } = await longestStall(async () => {
      const h = await session.addTorrent({ url: `magnet:?xt=urn:btih:${infoHash}`, save_path: await tmpDir('big-meta-') });
      const arrived = new Promise<void>((resolve) => session.on('metadata_received', () => resolve()));
      const peer = await offerMetadata(session, infoHash, info);
      await arrived;
      peer.socket.destroy();
      return h;
    });
    // Measured after the transfer, so that the garbage of this parse is not collected during it.
    const syncMs = syncParseMs(torrent);
    console.log(`sync parse ${syncMs.toFixed(0)} ms; while the metadata arrived: longest block ${longestMs.toFixed(0)} ms`);
    // Relative to the synchronous parse timed on the same machine in the same test: the machine is shared
    // and loaded, and a bound in milliseconds would hold on one run and not on the next.
    // The old code ran that whole parse on this thread (its longest block was 1.1-1.5x the parse); the bound sits
    // well below that yet clear of the restore's other work on a loaded 2-core machine (0.35-0.6x measured).
    expect(longestMs).toBeLessThan(syncMs * 0.8);
    expect(handle.status().has_metadata).toBe(true);
    expect(handle.files()).toHaveLength(MAX_FILES);
  });

  it('a big info dictionary that is not the torrent\'s is checked off the event loop too: the peer is dropped, the magnet keeps waiting', async () => {
    const wanted = infoOf(manyFilesTorrent(30_000, 'wanted'));
    const other = infoOf(manyFilesTorrent(30_000, 'other'));
    expect(other.length).toBeGreaterThan(OFF_THREAD_PARSE_BYTES);
    const infoHash = createHash('sha1').update(wanted).digest('hex');
    const session = await newSession();
    const reasons: string[] = [];
    session.on('peer_disconnected', ({ reason }) => reasons.push(reason));
    const h = await session.addTorrent({ url: `magnet:?xt=urn:btih:${infoHash}`, save_path: await tmpDir('big-meta-other-') });
    const peer = await offerMetadata(session, infoHash, other);
    await peer.closed;
    await waitFor(() => reasons.length > 0, 10_000, 'the disconnect event');
    expect(reasons[0]).toMatch(/metadata: the info dictionary does not match the info-hash/);
    expect(h.status()).toMatchObject({ has_metadata: false, state: 'downloading_metadata' });
  });

  it('a big info dictionary that is the torrent\'s but does not parse puts the torrent in an error state that says why', async () => {
    // Sound bencode, far above the threshold, but one file length is negative: its own SHA-1 names the magnet.
    const good = Buffer.from(infoOf(manyFilesTorrent(30_000)));
    const bad = Buffer.from(good.toString('latin1').replace('d6:lengthi1e4:pathl5:29999e', 'd6:lengthi-1e4:pathl5:29999e'), 'latin1');
    expect(bad.length).toBe(good.length + 1);
    const infoHash = createHash('sha1').update(bad).digest('hex');
    const session = await newSession();
    const errors: string[] = [];
    session.on('torrent_error', ({ error }) => errors.push(error));
    const h = await session.addTorrent({ url: `magnet:?xt=urn:btih:${infoHash}`, save_path: await tmpDir('big-meta-bad-') });
    const peer = await offerMetadata(session, infoHash, bad);
    await waitFor(() => errors.length > 0, 10_000, 'the torrent_error event');
    peer.socket.destroy();
    expect(errors[0]).toMatch(/^bad metadata from a peer: .*length/);
    expect(h.status().has_metadata).toBe(false);
  });
});
