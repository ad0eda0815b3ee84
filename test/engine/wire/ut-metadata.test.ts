import { describe, it, expect } from '@jest/globals';
import { createHash } from 'node:crypto';
import {
  MetadataAssembler, MetadataRequestBudget, decodeMetadataMessage, encodeMetadataData, encodeMetadataReject,
  encodeMetadataRequest, offeredMetadataSize, MAX_METADATA_SIZE, METADATA_DATA, METADATA_REJECT, METADATA_REQUEST,
} from '../../../packages/engine/src/wire/ut-metadata.js';
import { WireError, MAX_BITFIELD_MESSAGE } from '../../../packages/engine/src/wire/codec.js';
import { MAX_METADATA_SIZE as MAX_INFO_DICT_SIZE } from '../../../packages/engine/src/metainfo/metainfo.js';

const info = Uint8Array.from({ length: 40_000 }, (_, i) => (i * 13) & 255);
const infoHash = createHash('sha1').update(info).digest('hex');

describe('BEP 9 messages', () => {
  it('round-trip request, reject and data (the piece after the dictionary)', () => {
    expect(decodeMetadataMessage(encodeMetadataRequest(3))).toMatchObject({ type: METADATA_REQUEST, piece: 3 });
    expect(decodeMetadataMessage(encodeMetadataReject(4))).toMatchObject({ type: METADATA_REJECT, piece: 4 });
    const m = decodeMetadataMessage(encodeMetadataData(1, info.length, info.subarray(16384, 32768)));
    expect(m).toMatchObject({ type: METADATA_DATA, piece: 1, totalSize: info.length });
    expect(Buffer.from(m.data).equals(info.subarray(16384, 32768))).toBe(true);
  });

  it.each([
    ['l-3:e', /not bencoded/],
    ['i5e', /not a dictionary/],
    ['d8:msg_typei0ee', /without msg_type and piece/],
    ['d8:msg_typei0e5:piecei-1ee', /without msg_type and piece/],
  ])('refuses %s with a WireError', (text, reason) => {
    expect(() => decodeMetadataMessage(new TextEncoder().encode(text))).toThrow(reason);
    expect(() => decodeMetadataMessage(new TextEncoder().encode(text))).toThrow(WireError);
  });

  it('takes metadata_size from a handshake only within max_metadata_size', () => {
    expect(offeredMetadataSize({ metadata_size: 40_000 })).toBe(40_000);
    expect(offeredMetadataSize({ metadata_size: MAX_METADATA_SIZE + 1 })).toBe(0);
    expect(offeredMetadataSize({ metadata_size: -1 })).toBe(0);
    expect(offeredMetadataSize({})).toBe(0);
  });

  it('fetches no metadata larger than the largest info dictionary the engine loads', () => {
    // A peer offering more would have us buffer copies that parseInfoDict then refuses.
    expect(offeredMetadataSize({ metadata_size: MAX_INFO_DICT_SIZE + 1 })).toBe(0);
    expect(() => new MetadataAssembler(MAX_INFO_DICT_SIZE + 1)).toThrow(WireError);
    // Before the metadata, a bitfield may be as long as the largest loadable info dictionary can describe.
    expect(MAX_BITFIELD_MESSAGE).toBe(1 + Math.ceil(Math.floor(MAX_INFO_DICT_SIZE / 20) / 8));
  });
});

describe('MetadataAssembler', () => {
  function pieces(bytes: Uint8Array): Uint8Array[] {
    return [0, 1, 2].map((i) => bytes.subarray(i * 16384, (i + 1) * 16384));
  }

  it('assembles 16 KiB pieces in any order and hands them over only if they hash to the info-hash', () => {
    const a = new MetadataAssembler(info.length);
    const [p0, p1, p2] = pieces(info);
    a.add(2, p2!);
    a.add(0, p0!);
    expect(a.complete).toBe(false);
    expect(a.verified(infoHash)).toBeNull();
    a.add(1, p1!);
    expect(Buffer.from(a.verified(infoHash)!).equals(info)).toBe(true);
    const other = new MetadataAssembler(info.length);
    const wrong = Uint8Array.from(info);
    wrong[5]! ^= 1;
    pieces(wrong).forEach((p, i) => other.add(i, p));
    expect(other.verified(infoHash)).toBeNull();
  });

  it('refuses pieces of the wrong length or number, and sizes beyond max_metadata_size', () => {
    const a = new MetadataAssembler(info.length);
    expect(() => a.add(0, new Uint8Array(100))).toThrow(/100 bytes \(16384 expected\)/);
    expect(() => a.add(3, new Uint8Array(100))).toThrow(/piece 3 of 3/);
    expect(() => new MetadataAssembler(MAX_METADATA_SIZE + 1)).toThrow(WireError);
  });
});

describe('MetadataRequestBudget (issue 9, section 6)', () => {
  it('answers one copy and two more pieces, then a few a minute; a peer that keeps asking is a flood', () => {
    const b = new MetadataRequestBudget(3, 0);
    const answered = Array.from({ length: 10 }, () => b.take(0)).filter(Boolean).length;
    expect(answered).toBe(5);
    expect(b.take(15_000)).toBe(true); // 4 a minute: one every 15 s
    expect(b.take(15_000)).toBe(false);
    expect(b.flooding).toBe(false);
    for (let i = 0; i < MetadataRequestBudget.FLOOD_REJECTS; i++) b.take(15_000);
    expect(b.flooding).toBe(true);
  });
});
