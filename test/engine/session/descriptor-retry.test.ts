import { describe, expect, it } from '@jest/globals';
import { DescriptorRetry, RETRY_FIRST_MS, RETRY_MAX_MS } from '../../../packages/engine/src/session/descriptor-retry.js';

describe('DescriptorRetry', () => {
  it('retries a torrent a second after it ran out of descriptors, once', () => {
    const q = new DescriptorRetry<string>();
    q.add('a', 0);
    expect(q.due(RETRY_FIRST_MS - 1)).toEqual([]);
    expect(q.due(RETRY_FIRST_MS)).toEqual(['a']);
    expect(q.due(RETRY_FIRST_MS * 10)).toEqual([]);
    expect(q.size).toBe(0);
  });

  it('backs off, doubling up to a minute, while retries fail again at once', () => {
    const q = new DescriptorRetry<string>();
    let now = 0;
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      q.add('a', now);
      const from = now;
      while (q.due(now).length === 0) now += 500;
      waits.push(now - from);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  it('starts from a second again for a torrent that ran a minute since its last retry', () => {
    const q = new DescriptorRetry<string>();
    q.add('a', 0);
    q.due(1000);
    q.add('a', 1500); // relapsed quickly: 2 s
    expect(q.due(3000)).toEqual([]);
    expect(q.due(3500)).toEqual(['a']);
    q.add('a', 3500 + RETRY_MAX_MS); // ran a minute: 1 s
    expect(q.due(3500 + RETRY_MAX_MS + 1000)).toEqual(['a']);
  });

  it('keeps one entry per torrent however often it fails meanwhile', () => {
    const q = new DescriptorRetry<string>();
    q.add('a', 0);
    q.add('a', 500);
    q.add('b', 0);
    expect(q.size).toBe(2);
    expect(q.due(1000).sort()).toEqual(['a', 'b']);
  });

  it('forgets a torrent that was removed or resumed by hand', () => {
    const q = new DescriptorRetry<string>();
    q.add('a', 0);
    q.delete('a');
    expect(q.has('a')).toBe(false);
    expect(q.due(RETRY_MAX_MS)).toEqual([]);
  });
});
