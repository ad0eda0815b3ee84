import { describe, it, expect } from '@jest/globals';
import bencode from 'bencode';
import { ExtensionRegistry, type WireExtension } from '../../../packages/engine/src/wire/extensions.js';
import { WireError } from '../../../packages/engine/src/wire/codec.js';

const enc = (v: unknown): Uint8Array => bencode.encode(v);

describe('BEP 10 extension registry', () => {
  it('announces our ids (libtorrent\'s numbering) with the keys extensions added', () => {
    const r = new ExtensionRegistry();
    r.registerName('ut_metadata');
    r.register({ name: 'ut_pex' });
    r.extendedHandshake.p = 6881;
    expect(bencode.decode(r.encodeHandshake())).toEqual({ m: { ut_metadata: 2, ut_pex: 1 }, p: 6881 });
  });

  it('learns the peer\'s ids, ignoring disabled (0) and out-of-range ones, and tells extensions', () => {
    const r = new ExtensionRegistry();
    const seen: Record<string, unknown>[] = [];
    r.register({ name: 'ut_pex', onExtendedHandshake: (hs) => seen.push(hs) });
    r.onHandshake(enc({ m: { ut_pex: 7, ut_metadata: 0, lt_donthave: 300 }, v: 'x' }));
    expect([r.remoteId('ut_pex'), r.remoteId('ut_metadata'), r.remoteId('lt_donthave')]).toEqual([7, 0, 0]);
    expect(seen.length).toBe(1);
  });

  it('hands an extension only payloads that are one bencoded value', () => {
    const r = new ExtensionRegistry();
    const got: number[] = [];
    const pex: WireExtension = { name: 'ut_pex', onMessage: (b) => got.push(b.length) };
    r.register(pex);
    r.dispatch(1, enc({ added: new Uint8Array(6) }));
    expect(got.length).toBe(1);
    expect(() => r.dispatch(1, new TextEncoder().encode('l-3:e'))).toThrow(WireError);
    r.dispatch(99, new TextEncoder().encode('l-3:e')); // not ours: ignored
    expect(got.length).toBe(1);
  });
});
