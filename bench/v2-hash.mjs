#!/usr/bin/env node
// Benchmark: the hashing cost of BitTorrent v2 verification (SHA-256 of every 16 KiB block, then the piece's
// merkle root) against the two limits it is measured by: node:crypto's SHA-256 over large buffers (the most
// SHA-256 can do) and v1's SHA-1 over whole pieces. Prints MiB/s and CPU seconds per GiB of each. A script,
// never a timed test.
//
//   pnpm run build && node bench/v2-hash.mjs [--size-mib 256] [--piece-kib 256]
import { createHash, randomFillSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { blockHashes, merkleRoot } from '../packages/engine/dist/metainfo/merkle.js';

const { values: opt } = parseArgs({ options: { 'size-mib': { type: 'string', default: '256' }, 'piece-kib': { type: 'string', default: '256' } } });
const size = Number(opt['size-mib']) * 1024 * 1024;
const pieceLength = Number(opt['piece-kib']) * 1024;
const data = randomFillSync(Buffer.alloc(size));

function measure(name, f) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  f();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const mib = size / 1048576;
  console.log(`${name.padEnd(44)} ${(mib / s).toFixed(0).padStart(6)} MiB/s  ${(cpuS / (mib / 1024)).toFixed(2).padStart(6)} CPU s/GiB`);
}

console.log(`${size / 1048576} MiB, pieces of ${pieceLength / 1024} KiB, node ${process.version}`);
measure('SHA-256, 4 MiB buffers (the SHA-256 limit)', () => {
  for (let at = 0; at < size; at += 4 << 20) createHash('sha256').update(data.subarray(at, at + (4 << 20))).digest();
});
measure('v2: SHA-256 per 16 KiB block + piece root', () => {
  const bpp = pieceLength / 16384;
  for (let at = 0; at < size; at += pieceLength) merkleRoot(blockHashes(data.subarray(at, at + pieceLength)), bpp);
});
measure('v1: SHA-1 per piece', () => {
  for (let at = 0; at < size; at += pieceLength) createHash('sha1').update(data.subarray(at, at + pieceLength)).digest();
});
