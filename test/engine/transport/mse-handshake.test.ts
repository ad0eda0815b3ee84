import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import {
  CRYPTO_PLAINTEXT, CRYPTO_RC4, MSE_PRIME, MseError, MseHandshake, generateDhKeyPair, selectMethod, skeyHash,
  type MseHandshakeDeps,
} from '../../../packages/engine/src/transport/mse-handshake.js';
import { Rc4 } from '../../../packages/engine/src/transport/rc4.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const INFO_HASH = new Uint8Array(createHash('sha1').update('a torrent').digest());
const OTHER_HASH = new Uint8Array(createHash('sha1').update('another torrent').digest());
const BT_HANDSHAKE = new Uint8Array(68).map((_, i) => (i === 0 ? 19 : i));
const privA = new Uint8Array(20).fill(0x11);
const privB = new Uint8Array(20).fill(0x22);

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}
const big = (b: Uint8Array): bigint => BigInt(`0x${hex(b) || '0'}`);

function initiator(provide: number, deps: MseHandshakeDeps = {}): MseHandshake {
  return new MseHandshake(
    { role: 'initiator', skey: INFO_HASH, cryptoProvide: provide, initialPayload: () => BT_HANDSHAKE },
    { keys: generateDhKeyPair(privA), padLength: () => 37, ...deps },
  );
}

function responder(allowed: number, preferRc4: boolean, deps: MseHandshakeDeps = {}): MseHandshake {
  const known = new Map([INFO_HASH, OTHER_HASH].map((h) => [hex(skeyHash(h)), h]));
  return new MseHandshake(
    { role: 'responder', findSkey: (req2) => known.get(hex(req2)) ?? null, select: (p) => selectMethod(p, allowed, preferRc4) },
    { keys: generateDhKeyPair(privB), padLength: () => 300, ...deps },
  );
}

const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** Runs both sides against each other; returns what each sent. */
function run(a: MseHandshake, b: MseHandshake): { aToB: Uint8Array; bToA: Uint8Array } {
  const aToB: Uint8Array[] = [a.start()!];
  const bToA: Uint8Array[] = [];
  let toB = [aToB[0]!];
  for (let round = 0; round < 5 && !(a.done && b.done); round++) {
    const fromB = toB.flatMap((d) => b.receive(d));
    bToA.push(...fromB);
    toB = fromB.flatMap((d) => (a.done ? [] : a.receive(d)));
    aToB.push(...toB);
  }
  return { aToB: concat(aToB), bToA: concat(bToA) };
}

describe('MSE Diffie-Hellman', () => {
  it('uses the 768-bit prime with g = 2: Y = 2^X mod P, and both sides derive the same S', () => {
    expect(MSE_PRIME.length).toBe(96);
    const a = generateDhKeyPair(privA);
    const b = generateDhKeyPair(privB);
    expect(big(a.publicKey)).toBe(modPow(2n, big(privA), big(MSE_PRIME)));
    const s = a.secret(b.publicKey);
    expect(s.length).toBe(96);
    expect(hex(s)).toBe(hex(b.secret(a.publicKey)));
    expect(big(s)).toBe(modPow(big(b.publicKey), big(privA), big(MSE_PRIME)));
  });

  it('refuses a public key of 0 or 1 from the peer', () => {
    const a = generateDhKeyPair(privA);
    const one = new Uint8Array(96);
    one[95] = 1;
    expect(() => a.secret(new Uint8Array(96))).toThrow(MseError);
    expect(() => a.secret(one)).toThrow(MseError);
  });
});

describe('the MSE handshake', () => {
  it('negotiates RC4 and, offering RC4 alone, carries the BitTorrent handshake inside step 3 (IA)', () => {
    const a = initiator(CRYPTO_RC4);
    const b = responder(CRYPTO_PLAINTEXT | CRYPTO_RC4, true);
    run(a, b);
    expect(a.result?.method).toBe('rc4');
    expect(b.result?.method).toBe('rc4');
    expect(hex(b.result!.skey)).toBe(hex(INFO_HASH));
    expect(hex(b.result!.payload)).toBe(hex(BT_HANDSHAKE));
    expect(a.result!.payload.length).toBe(0);
    // The payload streams line up both ways.
    const msg = new Uint8Array([0, 0, 0, 1, 2]);
    const wire = msg.slice();
    a.result!.encrypt!.apply(wire);
    expect(hex(wire)).not.toBe(hex(msg));
    b.result!.decrypt!.apply(wire);
    expect(hex(wire)).toBe(hex(msg));
    b.result!.encrypt!.apply(wire);
    a.result!.decrypt!.apply(wire);
    expect(hex(wire)).toBe(hex(msg));
  });

  it('sends step 1 as 96 bytes of public key and a pad of at most 512 bytes', () => {
    const first = initiator(CRYPTO_RC4, { padLength: () => 512 }).start()!;
    expect(first.length).toBe(96 + 512);
    expect(hex(first.subarray(0, 96))).toBe(hex(generateDhKeyPair(privA).publicKey));
  });

  it('starts step 3 with HASH(req1, S) and HASH(req2, SKEY) xor HASH(req3, S), then encrypts VC and crypto_provide', () => {
    const a = initiator(CRYPTO_RC4, { padLength: () => 0 });
    const b = responder(CRYPTO_RC4, false, { padLength: () => 0 });
    const { aToB } = run(a, b);
    const s = generateDhKeyPair(privA).secret(generateDhKeyPair(privB).publicKey);
    const sha1 = (...p: (string | Uint8Array)[]): Buffer => p.reduce((h, x) => h.update(x), createHash('sha1')).digest();
    const step3 = aToB.subarray(96);
    expect(hex(step3.subarray(0, 20))).toBe(hex(sha1('req1', s)));
    const req2 = sha1('req2', INFO_HASH);
    const req3 = sha1('req3', s);
    expect(hex(step3.subarray(20, 40))).toBe(hex(req2.map((x, i) => x ^ req3[i]!)));
    // RC4-drop1024 keyed HASH('keyA', S, SKEY) over VC (8 zeros), crypto_provide 2, len(PadC) 0, len(IA) 68.
    const keyA = sha1('keyA', s, INFO_HASH);
    const plain = Buffer.from('0000000000000000' + '00000002' + '0000' + '0044', 'hex');
    const decrypted = new Uint8Array(step3.subarray(40, 56));
    new Rc4(keyA).apply(decrypted);
    expect(hex(decrypted)).toBe(hex(plain));
  });

  it('settles on plaintext when both offer it and the responder does not prefer RC4', () => {
    const a = initiator(CRYPTO_PLAINTEXT | CRYPTO_RC4);
    const b = responder(CRYPTO_PLAINTEXT | CRYPTO_RC4, false);
    run(a, b);
    expect(a.result?.method).toBe('plaintext');
    expect(b.result?.method).toBe('plaintext');
    expect(a.result?.encrypt).toBeNull();
  });

  it('sends no initial payload when it offers plaintext: a responder that selects plaintext reads the BitTorrent handshake in the clear', () => {
    // As libtorrent does: len(IA) = 0, and the owner sends its handshake after step 4, as selected.
    let asked = 0;
    for (const provide of [CRYPTO_PLAINTEXT | CRYPTO_RC4, CRYPTO_PLAINTEXT]) {
      const a = new MseHandshake(
        { role: 'initiator', skey: INFO_HASH, cryptoProvide: provide, initialPayload: () => (asked++, BT_HANDSHAKE) },
        { keys: generateDhKeyPair(privA), padLength: () => 0 },
      );
      const b = responder(CRYPTO_PLAINTEXT | CRYPTO_RC4, false, { padLength: () => 0 });
      const { aToB } = run(a, b);
      expect(b.result?.method).toBe('plaintext');
      expect(b.result!.payload.length).toBe(0);
      // Step 3 ends with len(IA) = 0: 96 of Ya, 20 + 20 of hashes, E(VC, crypto_provide, len(PadC) 0, len(IA) 0).
      expect(aToB.length).toBe(96 + 40 + 8 + 4 + 2 + 2);
      const s = generateDhKeyPair(privA).secret(generateDhKeyPair(privB).publicKey);
      const tail = new Uint8Array(aToB.subarray(136));
      new Rc4(createHash('sha1').update('keyA').update(s).update(INFO_HASH).digest()).apply(tail);
      expect(hex(tail.subarray(12, 16))).toBe('00000000');
    }
    expect(asked).toBe(0);
  });

  it('selects like libtorrent: RC4 when preferred or the only common method, plaintext otherwise, none without overlap', () => {
    const both = CRYPTO_PLAINTEXT | CRYPTO_RC4;
    expect(selectMethod(both, both, true)).toBe(CRYPTO_RC4);
    expect(selectMethod(both, both, false)).toBe(CRYPTO_PLAINTEXT);
    expect(selectMethod(CRYPTO_RC4, both, false)).toBe(CRYPTO_RC4);
    expect(selectMethod(both, CRYPTO_RC4, false)).toBe(CRYPTO_RC4);
    expect(selectMethod(both, CRYPTO_PLAINTEXT, true)).toBe(CRYPTO_PLAINTEXT);
    expect(selectMethod(CRYPTO_PLAINTEXT, CRYPTO_RC4, true)).toBe(0);
    expect(selectMethod(0x04, both, true)).toBe(0);
  });

  describe('from recorded byte streams, split at every boundary', () => {
    // RC4 alone offered, so that the stream carries an initial payload too.
    const a = initiator(CRYPTO_RC4);
    const b = responder(CRYPTO_PLAINTEXT | CRYPTO_RC4, true);
    const { aToB, bToA } = run(a, b);
    // A payload message follows each side's handshake in the same stream.
    const tailA = new Uint8Array([0, 0, 0, 1, 2]);
    const tailB = new Uint8Array([0, 0, 0, 1, 1]);
    const encA = tailA.slice();
    a.result!.encrypt!.apply(encA);
    const encB = tailB.slice();
    b.result!.encrypt!.apply(encB);
    const streamA = concat([aToB, encA]);
    const streamB = concat([bToA, encB]);

    /** What the owner of a side sees: the handshake's payload, then the rest of the stream decrypted. */
    const payloadSeen = (h: MseHandshake, later: Uint8Array): string => {
      const rest = later.slice();
      h.result!.decrypt!.apply(rest);
      return hex(concat([h.result!.payload, rest]));
    };

    it('the responder ends with the same result wherever the initiator\'s stream is cut', () => {
      for (let cut = 0; cut <= streamA.length; cut++) {
        const r = responder(CRYPTO_PLAINTEXT | CRYPTO_RC4, true);
        r.receive(streamA.subarray(0, cut));
        const later = r.done ? streamA.subarray(cut) : new Uint8Array(0);
        if (!r.done) r.receive(streamA.subarray(cut));
        expect(r.result?.method).toBe('rc4');
        expect(payloadSeen(r, later)).toBe(hex(concat([BT_HANDSHAKE, tailA])));
      }
    });

    it('the initiator ends with the same result wherever the responder\'s stream is cut', () => {
      for (let cut = 0; cut <= streamB.length; cut++) {
        const i = initiator(CRYPTO_PLAINTEXT | CRYPTO_RC4);
        i.start();
        i.receive(streamB.subarray(0, cut));
        const later = i.done ? streamB.subarray(cut) : new Uint8Array(0);
        if (!i.done) i.receive(streamB.subarray(cut));
        expect(i.result?.method).toBe('rc4');
        expect(payloadSeen(i, later)).toBe(hex(tailB));
      }
    });

    it('a byte at a time', () => {
      const r = responder(CRYPTO_PLAINTEXT | CRYPTO_RC4, true);
      for (let k = 0; k < aToB.length; k++) r.receive(streamA.subarray(k, k + 1));
      expect(r.result?.method).toBe('rc4');
    });
  });

  describe('refuses', () => {
    const fails = (h: MseHandshake, data: Uint8Array): string => {
      try {
        h.receive(data);
      } catch (e) {
        expect(e).toBeInstanceOf(MseError);
        return (e as Error).message;
      }
      return 'no error';
    };

    it('bytes that hold no sync marker within the 628-byte window', () => {
      const garbage = new Uint8Array(96 + 512 + 20).fill(0x5a);
      garbage[95] = 3; // a public key the group accepts
      const b = responder(CRYPTO_RC4, false);
      expect(fails(b, garbage.subarray(0, 627))).toBe('no error'); // could still come
      expect(fails(responder(CRYPTO_RC4, false), garbage)).toMatch(/no encrypted handshake found/);
    });

    it('an info-hash that none of our torrents has', () => {
      const a = new MseHandshake(
        { role: 'initiator', skey: new Uint8Array(20).fill(9), cryptoProvide: CRYPTO_RC4, initialPayload: () => new Uint8Array(0) },
        { keys: generateDhKeyPair(privA) },
      );
      const b = responder(CRYPTO_RC4, false);
      const yb = concat(b.receive(a.start()!));
      const step3 = concat(a.receive(yb));
      expect(fails(b, step3)).toMatch(/torrent we do not have/);
    });

    it('a peer that offers only plaintext when we allow only RC4', () => {
      const a = initiator(CRYPTO_PLAINTEXT);
      const b = responder(CRYPTO_RC4, false);
      const step3 = concat(a.receive(concat(b.receive(a.start()!))));
      expect(fails(b, step3)).toMatch(/no common encryption method \(the peer offers plaintext\)/);
    });

    /** An RC4-only initiator past step 2, and this step 4 (hex: VC, crypto_select, len(padD)) encrypted as its responder would. */
    function step4To(hex: string) {
      const a = initiator(CRYPTO_RC4);
      const aPublic = a.start()!.subarray(0, 96);
      const b = generateDhKeyPair(privB);
      a.receive(b.publicKey);
      const s = b.secret(aPublic);
      const keyB = createHash('sha1').update('keyB').update(s).update(INFO_HASH).digest();
      const step4 = new Uint8Array(Buffer.from(hex, 'hex'));
      new Rc4(keyB).apply(step4);
      return { a, step4 };
    }

    it('a crypto_select we did not offer', () => {
      // Step 4 from a responder that picks plaintext although only RC4 was offered.
      const { a, step4 } = step4To('0000000000000000' + '00000001' + '0000');
      expect(fails(a, step4)).toMatch(/selected encryption method 1, which we did not offer \(rc4\)/);
    });

    it('a pad longer than 512 bytes', () => {
      const { a, step4 } = step4To('0000000000000000' + '00000002' + '0201');
      expect(fails(a, step4)).toMatch(/pad of 513 bytes/);
    });

    it('never accepts bytes after failing', () => {
      const b = responder(CRYPTO_RC4, false);
      const garbage = new Uint8Array(700).fill(1);
      fails(b, garbage);
      expect(fails(b, new Uint8Array(1))).toMatch(/already over/);
    });
  });
});
