/**
 * Our MSE transport against an implementation we did not write: bittorrent-protocol 5's
 * MessageStreamEncryptor, the one WebTorrent's wire runs (WebTorrent dials with it by default). In
 * process, without sockets: the Wire's output feeds our inner transport and our writes feed the Wire.
 * (The webtorrent package itself needs Node 22 and a native WebRTC build, so it is not installed here.)
 */
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import Wire from 'bittorrent-protocol';
import { MseTransport } from '../../../packages/engine/src/transport/mse.js';
import { skeyHash } from '../../../packages/engine/src/transport/mse-handshake.js';
import type { Transport, TransportSink } from '../../../packages/engine/src/transport/transport.js';
import { RecordingSink } from '../../helpers/memory-transport.js';

const INFO_HASH = new Uint8Array(createHash('sha1').update('interop torrent').digest());
const INFO_HEX = Buffer.from(INFO_HASH).toString('hex');
const PEER_ID = new Uint8Array(Buffer.from('-WW0100-abcdefghijkl'));
const findSkey = (req2: Uint8Array): Uint8Array | null =>
  Buffer.from(req2).equals(Buffer.from(skeyHash(INFO_HASH))) ? INFO_HASH : null;

/** Our end of a pipe to a bittorrent-protocol Wire. */
class WireTransport implements Transport {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 1;
  bytesRead = 0;
  bytesWritten = 0;
  readonly writeQueued = 0;
  private sink: TransportSink | null = null;
  constructor(private readonly wire: Wire) {
    wire.on('data', (d: Uint8Array) => {
      this.bytesRead += d.length;
      this.sink?.onData(new Uint8Array(d));
    });
  }
  attach(sink: TransportSink): void {
    this.sink = sink;
  }
  write(data: Uint8Array, flushed?: () => void): void {
    this.bytesWritten += data.length;
    this.wire.write(data.slice());
    flushed?.();
  }
  cork(): void {}
  uncork(): void {}
  close(reason: string): void {
    this.wire.destroy();
    this.sink?.onClosed(reason);
  }
}

/** Our BitTorrent handshake, as the peer connection writes it. */
function btHandshake(): Uint8Array {
  const h = new Uint8Array(68);
  h[0] = 19;
  h.set(Buffer.from('BitTorrent protocol'), 1);
  h[25] = 0x10;
  h.set(INFO_HASH, 28);
  h.set(Buffer.from('-SZ0100-000000000000'), 48);
  return h;
}

describe('MSE interop with bittorrent-protocol (WebTorrent\'s wire)', () => {
  it('accepts its encrypted connection (RC4 only) and both handshakes arrive', async () => {
    const wire = new Wire('tcpOutgoing', 2);
    const ours = MseTransport.incoming(new WireTransport(wire), { policy: 'forced', level: 'rc4', preferRc4: true, findSkey });
    const sink = new RecordingSink();
    ours.attach(sink);
    const theirHandshake = new Promise<string>((resolve) => wire.on('handshake', (ih: string) => resolve(ih)));
    // As WebTorrent does: the BitTorrent handshake once the encrypted one is done.
    wire.on('crypto-handshake', () => wire.handshake(INFO_HASH, PEER_ID, { dht: false, fast: true }));
    wire.startEncryption(INFO_HEX);
    await sink.until(() => sink.bytes().length >= 68 || sink.closedReason !== null);
    expect(sink.closedReason).toBeNull();
    expect(ours.encryption).toBe('rc4');
    expect(Buffer.from(sink.bytes().subarray(28, 48)).toString('hex')).toBe(INFO_HEX);
    ours.write(btHandshake());
    expect(await theirHandshake).toBe(INFO_HEX);
    wire.destroy();
  });

  it('dials it encrypted and it accepts our handshake carried as the initial payload', async () => {
    const wire = new Wire('tcpIncoming', 2);
    wire.on('crypto-infohash', (h: string) => {
      if (h === Buffer.from(skeyHash(INFO_HASH)).toString('hex')) wire.setInfoHash(INFO_HEX);
    });
    const theirView = new Promise<string>((resolve) => wire.on('handshake', (ih: string) => resolve(ih)));
    const ours = MseTransport.outgoing(new WireTransport(wire), { skey: INFO_HASH, level: 'both' });
    const sink = new RecordingSink();
    ours.attach(sink);
    ours.write(btHandshake());
    expect(await theirView).toBe(INFO_HEX);
    wire.handshake(INFO_HASH, PEER_ID, { dht: false, fast: true });
    await sink.until(() => sink.bytes().length >= 68 || sink.closedReason !== null);
    expect(ours.encryption).toBe('rc4');
    expect(Buffer.from(sink.bytes().subarray(48, 68)).toString()).toBe('-WW0100-abcdefghijkl');
    wire.destroy();
  });
});
