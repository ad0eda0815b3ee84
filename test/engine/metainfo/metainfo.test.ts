import { describe, it, expect } from '@jest/globals';
import { createHash } from 'node:crypto';
import bencode from 'bencode';
import { parseTorrentFile, SpritzleError } from '@spritzle/engine';

const pieces = (n: number): Uint8Array => new Uint8Array(20 * n);

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof SpritzleError) return e.code;
    throw e;
  }
  return 'ok';
}

describe('.torrent parsing', () => {
  it('takes the info-hash over the exact info bytes, even when they are not canonical bencode', () => {
    // Keys out of order: a decode/re-encode would change the bytes and the hash.
    const info = Buffer.from('d12:piece lengthi16384e4:name1:x6:lengthi10e6:pieces20:' + 'a'.repeat(20) + 'e');
    const torrent = Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]);
    const t = parseTorrentFile(torrent);
    expect(t.infoHash).toBe(createHash('sha1').update(info).digest('hex'));
  });

  it('maps a multi-file torrent under its name, marks BEP 47 pad files, and reads tiers', () => {
    const t = parseTorrentFile(bencode.encode({
      announce: 'http://127.0.0.1:1/a',
      'announce-list': [['http://127.0.0.1:1/a', 'http://127.0.0.1:2/a'], ['udp://127.0.0.1:3']],
      info: {
        name: 'dir', 'piece length': 16384, pieces: pieces(2),
        files: [{ length: 10, path: ['a', 'b.txt'] }, { length: 16374, path: ['.pad', '16374'], attr: 'p' }, { length: 5, path: ['c'] }],
      },
    }));
    expect(t.files.map((f) => [f.path, f.pad])).toEqual([['dir/a/b.txt', false], ['dir/.pad/16374', true], ['dir/c', false]]);
    expect(t.totalLength).toBe(16389);
    expect(t.announce).toEqual([['http://127.0.0.1:1/a', 'http://127.0.0.1:2/a'], ['udp://127.0.0.1:3']]);
  });

  it('refuses a piece count that does not match the length', () => {
    expect(code(() => parseTorrentFile(bencode.encode({ info: { name: 'x', 'piece length': 16384, pieces: pieces(3), length: 10 } })))).toBe('invalid_torrent');
  });

  it('refuses a name that escapes, as a path error', () => {
    expect(code(() => parseTorrentFile(bencode.encode({ info: { name: '..', 'piece length': 16384, pieces: pieces(1), length: 10 } })))).toBe('invalid_path');
  });

  it('refuses the same path twice', () => {
    expect(code(() => parseTorrentFile(bencode.encode({
      info: { name: 'x', 'piece length': 16384, pieces: pieces(1), files: [{ length: 1, path: ['a'] }, { length: 1, path: ['a'] }] },
    })))).toBe('invalid_torrent');
  });

  it('refuses truncated or non-dictionary input', () => {
    expect(code(() => parseTorrentFile(Buffer.from('d4:infod4:name')))).toBe('invalid_torrent');
    expect(code(() => parseTorrentFile(Buffer.from('li1ee')))).toBe('invalid_torrent');
    expect(code(() => parseTorrentFile(Buffer.from('d4:infoi1ee')))).toBe('invalid_torrent');
  });
});
