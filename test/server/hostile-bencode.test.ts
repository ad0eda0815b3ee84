// Issue 9 through REST: a 5-byte .torrent `l-3:e` made bencode's decode loop until the heap was gone (no
// answer, then a crash), and a .torrent of 300,000 one-byte files took seconds and a gigabyte.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { MAX_FILES } from '../../packages/engine/src/metainfo/metainfo.js';
import { type Api, errorOf, postFile, startApi } from '../helpers/server.js';

/** A multi-file .torrent of `n` one-byte files, written directly. */
function manyFilesTorrent(n: number): Uint8Array {
  const files: string[] = [];
  for (let i = 0; i < n; i++) files.push(`d6:lengthi1e4:pathl${String(i).length}:${i}ee`);
  const pieces = Math.ceil(n / (1 << 20));
  const head = `d4:infod5:filesl${files.join('')}e4:name4:many12:piece lengthi${1 << 20}e6:pieces${pieces * 20}:`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(pieces * 20), Buffer.from('ee')]);
}

describe('POST /torrent with hostile bencode', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => {
    await api.close();
  });

  it('a 5-byte file l-3:e gets a 400 invalid_torrent JSON error, and the server keeps answering', async () => {
    const res = await postFile(api, Buffer.from('l-3:e'));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect((await errorOf(res)).code).toBe('invalid_torrent');
    expect((await fetch(`${api.url}/session`)).status).toBe(200);
    expect(await (await fetch(`${api.url}/torrent`)).json()).toEqual([]);
  });

  it('a file of 300,000 one-byte files gets a 400 naming the file limit, and the server keeps answering', async () => {
    const res = await postFile(api, manyFilesTorrent(300_000));
    expect(res.status).toBe(400);
    const e = await errorOf(res);
    expect(e.code).toBe('invalid_torrent');
    expect(e.message).toContain(`more than ${MAX_FILES} files`);
    expect((await fetch(`${api.url}/session`)).status).toBe(200);
  });
});
