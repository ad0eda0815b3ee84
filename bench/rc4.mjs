#!/usr/bin/env node
// Benchmark: MSE's RC4 in this process, per CPU-second (the machine is shared, so CPU time, not wall time, is
// the figure to compare). The engine's Rc4 (packages/engine/src/transport/rc4.ts: a WebAssembly loop, and its
// JavaScript loop for short inputs) in place and into another buffer, at a message's size (16 KiB + 13) and a
// socket read's (256 KiB), against OpenSSL's rc4 through createCipheriv, which Node 17+ offers only with the
// legacy provider loaded (and which allocates its output on every update). A script, never a test.
//
//   npx tsc -b && flock /tmp/bench.lock node bench/rc4.mjs                       # OpenSSL refuses rc4
//   flock /tmp/bench.lock node --openssl-legacy-provider bench/rc4.mjs          # with OpenSSL's
import { createCipheriv, randomBytes } from 'node:crypto';
import { Rc4 } from '../packages/engine/dist/transport/rc4.js';

const MiB = 1024 * 1024;
const total = 256 * MiB;
const key = randomBytes(20);

function measure(name, chunk, fn) {
  for (let d = 0; d < 8 * MiB; d += chunk) fn(); // warm up
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let d = 0; d < total; d += chunk) fn();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  console.log(`${name}, ${chunk} B a call: ${(total / MiB / cpuS).toFixed(0)} MiB per CPU-s (${(cpuS / (total / (1024 * MiB))).toFixed(2)} CPU-s/GiB; ${(total / MiB / secs).toFixed(0)} MiB/s wall)`);
}

for (const chunk of [16 * 1024 + 13, 256 * 1024]) {
  const buf = new Uint8Array(randomBytes(chunk));
  const out = new Uint8Array(chunk + 64);
  const wasm = new Rc4(key);
  measure('engine Rc4.apply (WebAssembly, in place)', chunk, () => wasm.apply(buf));
  measure('engine Rc4.applyTo (WebAssembly, into a send buffer)', chunk, () => wasm.applyTo(buf, 0, chunk, out, 64));
  const js = new Rc4(key, 1024, false);
  measure('engine Rc4.apply (JavaScript loop, in place)', chunk, () => js.apply(buf));
  try {
    const c = createCipheriv('rc4', key, null);
    measure('OpenSSL rc4 (legacy provider, update allocates)', chunk, () => c.update(buf));
  } catch (e) {
    console.log(`OpenSSL rc4: unavailable in this process (${e.code ?? e.message})`);
  }
}
