import { performance } from 'node:perf_hooks';

/**
 * The longest time the event loop went without a turn while `work` ran (a chain of setImmediate callbacks,
 * each timing the gap since the last; the gap from the last one to the end of `work` counts too, so a
 * synchronous stretch at its very end is not missed).
 */
export async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; longestMs: number }> {
  let longestMs = 0;
  let running = true;
  // Start on a fresh turn: whatever ran before this call is not counted.
  await new Promise((r) => setImmediate(r));
  let last = performance.now();
  const tick = (): void => {
    const now = performance.now();
    longestMs = Math.max(longestMs, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const result = await work();
    longestMs = Math.max(longestMs, performance.now() - last);
    return { result, longestMs };
  } finally {
    running = false;
  }
}

/** A multi-file .torrent of `n` one-byte files, written directly (create-torrent is far too slow for this). */
export function manyFilesTorrent(n: number, name = 'many'): Uint8Array {
  const pieceLength = 1 << 20;
  const numPieces = Math.ceil(n / pieceLength);
  const files: string[] = [];
  for (let i = 0; i < n; i++) files.push(`d6:lengthi1e4:pathl${String(i).length}:${i}ee`);
  const head = `d4:infod5:filesl${files.join('')}e4:name${name.length}:${name}12:piece lengthi${pieceLength}e6:pieces${numPieces * 20}:`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(numPieces * 20), Buffer.from('ee')]);
}
