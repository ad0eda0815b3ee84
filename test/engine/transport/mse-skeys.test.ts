import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { SkeyIndex } from '../../../packages/engine/src/transport/mse-skeys.js';
import { skeyHash } from '../../../packages/engine/src/transport/mse-handshake.js';

const hash = (s: string): Uint8Array => new Uint8Array(createHash('sha1').update(s).digest());
const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));
const V1 = hash('a hybrid, v1');
const V2 = hash('a hybrid, truncated v2');
const OTHER = hash('another torrent');

describe('the SKEY index (incoming MSE handshakes find their torrent)', () => {
  it('finds each SKEY of each owner by HASH(req2, SKEY): a hybrid by both its hashes', () => {
    const index = new SkeyIndex<string>();
    index.set('hybrid', [V1, V2]);
    index.set('other', [OTHER]);
    expect(hex(index.find(skeyHash(V1)))).toBe(hex(V1));
    expect(hex(index.find(skeyHash(V2)))).toBe(hex(V2));
    expect(hex(index.find(skeyHash(OTHER)))).toBe(hex(OTHER));
    expect(index.find(skeyHash(hash('not ours')))).toBeNull();
    expect(index.find(V1)).toBeNull(); // the hash itself is not what a handshake sends
  });

  it('finds none of an owner\'s SKEYs after it is removed, and still the others\'', () => {
    const index = new SkeyIndex<string>();
    index.set('hybrid', [V1, V2]);
    index.set('other', [OTHER]);
    index.delete('hybrid');
    expect(index.find(skeyHash(V1))).toBeNull();
    expect(index.find(skeyHash(V2))).toBeNull();
    expect(hex(index.find(skeyHash(OTHER)))).toBe(hex(OTHER));
    expect(index.size).toBe(1);
  });

  it('replaces an owner\'s SKEYs when its hashes change (a magnet whose metadata shows it is a hybrid)', () => {
    const index = new SkeyIndex<string>();
    index.set('t', [V1]);
    expect(index.find(skeyHash(V2))).toBeNull();
    index.set('t', [V1, V2]);
    expect(hex(index.find(skeyHash(V2)))).toBe(hex(V2));
    index.set('t', [V2]);
    expect(index.find(skeyHash(V1))).toBeNull();
    expect(index.size).toBe(1);
  });
});
