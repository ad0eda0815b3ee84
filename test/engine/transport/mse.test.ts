import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { HandshakeSlots, MseTransport, type EncLevel, type EncPolicy } from '../../../packages/engine/src/transport/mse.js';
import { generateDhKeyPair, skeyHash } from '../../../packages/engine/src/transport/mse-handshake.js';
import { MemoryTransport, RecordingSink } from '../../helpers/memory-transport.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const INFO_HASH = new Uint8Array(createHash('sha1').update('a torrent').digest());
const BT_HANDSHAKE = new Uint8Array(68).map((_, i) => (i < 20 ? Buffer.from('\x13BitTorrent protocol', 'latin1')[i]! : 0x41 + (i % 26)));
const MESSAGE = new Uint8Array(Buffer.from('0000000d06000000070000400000004000', 'hex')); // a request
const findSkey = (req2: Uint8Array): Uint8Array | null => (hex(req2) === hex(skeyHash(INFO_HASH)) ? INFO_HASH : null);

/** A dialling MSE transport and an accepting one over a memory pipe, each with a recording owner. */
function connect(opts: { outLevel?: EncLevel; inLevel?: EncLevel; inPolicy?: EncPolicy; preferRc4?: boolean; timeoutMs?: number } = {}) {
  const [a, b] = MemoryTransport.pair();
  const ended: { side: string; method: string | null; reason?: string }[] = [];
  const out = MseTransport.outgoing(a, {
    skey: INFO_HASH, level: opts.outLevel ?? 'both',
    onHandshakeEnd: (r, reason) => ended.push({ side: 'out', method: r?.method ?? null, reason }),
  });
  const inc = MseTransport.incoming(b, {
    policy: opts.inPolicy ?? 'enabled', level: opts.inLevel ?? 'both', preferRc4: opts.preferRc4 ?? true, findSkey,
    timeoutMs: opts.timeoutMs,
    onHandshakeEnd: (r, reason) => ended.push({ side: 'in', method: r?.method ?? null, reason }),
  });
  const outSink = new RecordingSink();
  const inSink = new RecordingSink();
  out.attach(outSink);
  inc.attach(inSink);
  return { a, b, out, inc, outSink, inSink, ended };
}

describe('the MSE transport', () => {
  it('carries both directions RC4-encrypted: the owner sees its peer\'s bytes, the wire never does', async () => {
    const c = connect();
    c.out.write(BT_HANDSHAKE); // written before the handshake: travels as the initial payload
    await c.inSink.until(() => c.inSink.bytes().length >= 68);
    expect(hex(c.inSink.bytes())).toBe(hex(BT_HANDSHAKE));
    expect(c.inc.encryption).toBe('rc4');
    expect(c.out.encryption).toBe('rc4');
    expect(hex(c.inc.skey!)).toBe(hex(INFO_HASH));

    c.inc.write(BT_HANDSHAKE);
    c.inc.write(MESSAGE);
    c.out.write(MESSAGE);
    await c.outSink.until(() => c.outSink.bytes().length >= 68 + MESSAGE.length);
    await c.inSink.until(() => c.inSink.bytes().length >= 68 + MESSAGE.length);
    expect(hex(c.outSink.bytes())).toBe(hex(new Uint8Array([...BT_HANDSHAKE, ...MESSAGE])));
    expect(hex(c.inSink.bytes())).toBe(hex(new Uint8Array([...BT_HANDSHAKE, ...MESSAGE])));
    for (const wire of [c.a.wire(), c.b.wire()]) {
      expect(hex(wire)).not.toContain(hex(BT_HANDSHAKE.subarray(1, 20)));
      expect(hex(wire)).not.toContain(hex(MESSAGE));
    }
    expect(c.ended.map((e) => `${e.side}:${e.method}`).sort()).toEqual(['in:rc4', 'out:rc4']);
  });

  it('leaves the owner\'s buffers as they were (a block may be shared with other peers)', async () => {
    const c = connect();
    c.out.write(BT_HANDSHAKE);
    await c.inSink.until(() => c.inSink.bytes().length >= 68);
    const block = MESSAGE.slice();
    c.out.write(block);
    expect(hex(block)).toBe(hex(MESSAGE));
  });

  it('keeps every encrypted write intact until its transport has sent it, however many writes of two connections follow', async () => {
    // Inner transports that hold the writes' bytes unsent (as a socket with a full buffer does) until released.
    class HoldingTransport extends MemoryTransport {
      holding = false;
      private held: Uint8Array[] = [];
      override write(data: Uint8Array, flushed?: () => void): void {
        if (this.holding) this.held.push(data);
        else super.write(data, flushed);
      }
      release(): void {
        this.holding = false;
        for (const d of this.held.splice(0)) super.write(d);
      }
    }
    const pair = (): { out: MseTransport; inner: HoldingTransport; sink: RecordingSink } => {
      const a = new HoldingTransport();
      const b = new HoldingTransport();
      a.other = b;
      b.other = a;
      const out = MseTransport.outgoing(a, { skey: INFO_HASH, level: 'rc4' });
      const inc = MseTransport.incoming(b, { policy: 'enabled', level: 'rc4', preferRc4: true, findSkey });
      const sink = new RecordingSink();
      out.attach(new RecordingSink());
      inc.attach(sink);
      return { out, inner: a, sink };
    };
    const one = pair();
    const two = pair();
    one.out.write(BT_HANDSHAKE);
    two.out.write(BT_HANDSHAKE);
    await one.sink.until(() => one.sink.bytes().length >= 68);
    await two.sink.until(() => two.sink.bytes().length >= 68);
    one.inner.holding = true;
    two.inner.holding = true;
    // Headers, blocks and one write larger than any send buffer, several times over, the two interleaved.
    const sizes = [13, 16384, 17, 300_000, 16397, 5, 100_000, 16384];
    const expected = [[...BT_HANDSHAKE], [...BT_HANDSHAKE]];
    for (let round = 0; round < 4; round++) {
      sizes.forEach((size, k) => {
        for (const [c, conn] of [one, two].entries()) {
          const data = new Uint8Array(size).map((_, i) => (i * 31 + k * 7 + round + c * 101) & 0xff);
          conn.out.write(data);
          for (const b of data) expected[c]!.push(b);
        }
      });
    }
    one.inner.release();
    two.inner.release();
    await one.sink.until(() => one.sink.bytes().length >= expected[0]!.length);
    await two.sink.until(() => two.sink.bytes().length >= expected[1]!.length);
    expect(hex(one.sink.bytes())).toBe(hex(new Uint8Array(expected[0]!)));
    expect(hex(two.sink.bytes())).toBe(hex(new Uint8Array(expected[1]!)));
  });

  it('calls back when the bytes of a write have gone out, for writes made before and after the handshake', async () => {
    const c = connect({ outLevel: 'rc4' }); // RC4 alone: the first write travels as IA
    const flushed: string[] = [];
    c.out.write(BT_HANDSHAKE, () => flushed.push('handshake (as IA)'));
    await c.inSink.until(() => c.inSink.bytes().length >= 68);
    c.out.write(MESSAGE, () => flushed.push('message'));
    await c.inSink.until(() => c.inSink.bytes().length >= 68 + MESSAGE.length);
    await new Promise((r) => setTimeout(r, 0));
    expect(flushed).toEqual(['handshake (as IA)', 'message']);
  });

  it('sends the payload in the clear after an encrypted handshake when plaintext is negotiated', async () => {
    const c = connect({ preferRc4: false });
    c.out.write(BT_HANDSHAKE);
    await c.inSink.until(() => c.inSink.bytes().length >= 68);
    expect(c.inc.encryption).toBe('plaintext');
    c.out.write(MESSAGE);
    await c.inSink.until(() => c.inSink.bytes().length >= 68 + MESSAGE.length);
    expect(c.out.encryption).toBe('plaintext');
    expect(hex(c.a.wire())).toContain(hex(MESSAGE));
  });

  it('offering plaintext too, sends the BitTorrent handshake after crypto_select, in the clear when plaintext is selected', async () => {
    // Transmission, selecting plaintext, reads the handshake from the clear stream (an RC4 IA is garbage to it).
    for (const outLevel of ['both', 'plaintext'] as const) {
      const c = connect({ outLevel, preferRc4: false });
      c.out.write(BT_HANDSHAKE);
      await c.inSink.until(() => c.inSink.bytes().length >= 68);
      expect(hex(c.inSink.bytes())).toBe(hex(BT_HANDSHAKE));
      expect(hex(c.a.wire())).toContain(hex(BT_HANDSHAKE));
      expect(c.inc.encryption).toBe('plaintext');
    }
  });

  it('offering plaintext too, sends the BitTorrent handshake RC4-encrypted after crypto_select when RC4 is selected', async () => {
    const c = connect({ outLevel: 'both', preferRc4: true });
    c.out.write(BT_HANDSHAKE);
    await c.inSink.until(() => c.inSink.bytes().length >= 68);
    expect(hex(c.inSink.bytes())).toBe(hex(BT_HANDSHAKE));
    expect(c.inc.encryption).toBe('rc4');
    expect(hex(c.a.wire())).not.toContain(hex(BT_HANDSHAKE.subarray(1, 20)));
  });

  it('passes a plaintext BitTorrent connection through when incoming encryption is enabled', async () => {
    const [a, b] = MemoryTransport.pair();
    const inc = MseTransport.incoming(b, { policy: 'enabled', level: 'both', preferRc4: false, findSkey });
    const sink = new RecordingSink();
    inc.attach(sink);
    a.attach(new RecordingSink());
    a.write(BT_HANDSHAKE);
    await sink.until(() => sink.bytes().length >= 68);
    expect(hex(sink.bytes())).toBe(hex(BT_HANDSHAKE));
    expect(inc.encryption).toBe('none');
    inc.write(MESSAGE);
    expect(hex(b.wire())).toBe(hex(MESSAGE));
  });

  it('takes a public key that starts with the byte 19 (one in 256) for MSE, not for a plaintext handshake', async () => {
    let keys = generateDhKeyPair();
    for (let i = 0; keys.publicKey[0] !== 19; i++) {
      if (i > 20_000) throw new Error('no key starting with 19');
      keys = generateDhKeyPair();
    }
    const [a, b] = MemoryTransport.pair();
    const out = MseTransport.outgoing(a, { skey: INFO_HASH, level: 'rc4', deps: { keys } });
    const inc = MseTransport.incoming(b, { policy: 'enabled', level: 'both', preferRc4: true, findSkey });
    const outSink = new RecordingSink();
    const inSink = new RecordingSink();
    out.attach(outSink);
    inc.attach(inSink);
    out.write(BT_HANDSHAKE);
    await inSink.until(() => inSink.bytes().length >= 68);
    expect(hex(inSink.bytes())).toBe(hex(BT_HANDSHAKE));
    expect(inc.encryption).toBe('rc4');
  });

  it('waits for the 20 bytes that tell a plaintext handshake, however they are cut', async () => {
    const [a, b] = MemoryTransport.pair();
    const inc = MseTransport.incoming(b, { policy: 'enabled', level: 'both', preferRc4: false, findSkey });
    const sink = new RecordingSink();
    inc.attach(sink);
    a.attach(new RecordingSink());
    for (const cut of [1, 5, 19, 20, 68]) {
      const prev = cut === 1 ? 0 : [1, 5, 19, 20][[1, 5, 19, 20, 68].indexOf(cut) - 1]!;
      a.write(BT_HANDSHAKE.subarray(prev, cut));
    }
    await sink.until(() => sink.bytes().length >= 68);
    expect(hex(sink.bytes())).toBe(hex(BT_HANDSHAKE));
    expect(inc.encryption).toBe('none');
  });

  it('refuses a plaintext connection when incoming encryption is forced, saying why', async () => {
    const [a, b] = MemoryTransport.pair();
    const inc = MseTransport.incoming(b, { policy: 'forced', level: 'both', preferRc4: false, findSkey });
    const sink = new RecordingSink();
    inc.attach(sink);
    a.attach(new RecordingSink());
    a.write(BT_HANDSHAKE);
    await sink.until(() => sink.closedReason !== null);
    expect(sink.closedReason).toMatch(/plaintext connection refused: encryption is required/);
    expect(sink.received).toEqual([]);
  });

  it('refuses an encrypted connection when incoming encryption is disabled', async () => {
    const c = connect({ inPolicy: 'disabled' });
    await c.inSink.until(() => c.inSink.closedReason !== null);
    expect(c.inSink.closedReason).toMatch(/encrypted connection refused/);
    await c.outSink.until(() => c.outSink.closedReason !== null);
    expect(c.outSink.closedReason).toMatch(/during the encryption handshake/);
    expect(c.ended.find((e) => e.side === 'out')).toMatchObject({ method: null });
  });

  it('fails cleanly when the two sides allow no common method (RC4 only against plaintext only)', async () => {
    const c = connect({ outLevel: 'plaintext', inLevel: 'rc4' });
    c.out.write(BT_HANDSHAKE);
    await c.inSink.until(() => c.inSink.closedReason !== null);
    expect(c.inSink.closedReason).toMatch(/encryption handshake failed: no common encryption method/);
    await c.outSink.until(() => c.outSink.closedReason !== null);
  });

  it('drops a peer that sends garbage instead of a handshake', async () => {
    const [a, b] = MemoryTransport.pair();
    const inc = MseTransport.incoming(b, { policy: 'enabled', level: 'both', preferRc4: false, findSkey });
    const sink = new RecordingSink();
    inc.attach(sink);
    a.attach(new RecordingSink());
    a.write(new Uint8Array(2000).fill(0x7f));
    await sink.until(() => sink.closedReason !== null);
    expect(sink.closedReason).toMatch(/encryption handshake failed/);
  });

  it('drops a peer that never finishes the handshake once the handshake timeout passes', async () => {
    const [a, b] = MemoryTransport.pair();
    const inc = MseTransport.incoming(b, { policy: 'enabled', level: 'both', preferRc4: false, findSkey, timeoutMs: 30 });
    const sink = new RecordingSink();
    inc.attach(sink);
    a.attach(new RecordingSink());
    a.write(new Uint8Array(50).fill(0x7f)); // part of a public key, then nothing
    await sink.until(() => sink.closedReason !== null);
    expect(sink.closedReason).toBe('encryption handshake timed out');
    expect(b.closedWith).toBe('encryption handshake timed out');
  });

  it('holds a payload that arrives before its owner attaches, and hands it over on attach', async () => {
    const [a, b] = MemoryTransport.pair();
    const out = MseTransport.outgoing(a, { skey: INFO_HASH, level: 'both' });
    const inc = MseTransport.incoming(b, { policy: 'enabled', level: 'both', preferRc4: true, findSkey });
    out.attach(new RecordingSink());
    out.write(BT_HANDSHAKE);
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    expect(inc.encryption).toBe('rc4');
    const sink = new RecordingSink();
    inc.attach(sink);
    expect(hex(sink.bytes())).toBe(hex(BT_HANDSHAKE));
  });
});

describe('the cap on concurrent MSE handshakes', () => {
  it('refuses an encrypted connection beyond the cap and frees the slot when a handshake ends', async () => {
    const slots = new HandshakeSlots(1);
    const dial = (): { inc: MseTransport; sink: RecordingSink; out: MseTransport } => {
      const [a, b] = MemoryTransport.pair();
      const out = MseTransport.outgoing(a, { skey: INFO_HASH, level: 'both' });
      out.attach(new RecordingSink());
      const inc = MseTransport.incoming(b, { policy: 'enabled', level: 'both', preferRc4: true, findSkey, slots });
      const sink = new RecordingSink();
      inc.attach(sink);
      return { inc, sink, out };
    };
    const first = dial();
    const second = dial();
    await second.sink.until(() => second.sink.closedReason !== null);
    expect(second.sink.closedReason).toMatch(/1 encryption handshakes already in progress/);
    first.out.write(BT_HANDSHAKE);
    await first.sink.until(() => first.sink.bytes().length >= 68);
    expect(slots.inUse).toBe(0);
    const third = dial();
    third.out.write(BT_HANDSHAKE);
    await third.sink.until(() => third.sink.bytes().length >= 68);
    expect(third.inc.encryption).toBe('rc4');
  });
});

describe('telling a plaintext-only peer from an MSE one that failed', () => {
  it('a peer that drops our public key unanswered does not speak MSE; one that answered it does', async () => {
    const dropped = connect({ inPolicy: 'disabled' });
    await dropped.outSink.until(() => dropped.outSink.closedReason !== null);
    expect(dropped.out.peerSpeaksMse).toBe(false);

    const failed = connect({ outLevel: 'plaintext', inLevel: 'rc4' }); // no common method: fails after step 2
    failed.out.write(BT_HANDSHAKE);
    await failed.outSink.until(() => failed.outSink.closedReason !== null);
    expect(failed.out.peerSpeaksMse).toBe(true);
  });
});
