#!/usr/bin/env node
// Benchmark: MSE's RC4 in this process. The engine's Rc4 (packages/engine/src/transport/rc4.ts, a WebAssembly loop)
// against OpenSSL's rc4, which Node 17+ offers only with the legacy provider loaded. A script, never a test.
//
//   npx tsc -b && node bench/rc4.mjs                               # the engine's; OpenSSL refuses rc4
//   node --openssl-legacy-provider bench/rc4.mjs                   # both
import { createCipheriv, randomBytes } from 'node:crypto';
import { Rc4 } from '../packages/engine/dist/transport/rc4.js';

const MiB = 1024 * 1024;
const total = 256 * MiB;
const chunk = 16 * 1024 + 13; // one piece message
const buf = new Uint8Array(randomBytes(chunk));
const key = randomBytes(20);

function measure(name, fn) {
  fn(8 * MiB); // warm up
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  fn(total);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  console.log(`${name}: ${(total / MiB / secs).toFixed(0)} MiB/s, ${((cpu.user + cpu.system) / 1e6 / (total / (1024 * MiB))).toFixed(2)} CPU s/GiB`);
}

const rc4 = new Rc4(key);
measure('engine Rc4.apply (in place, WebAssembly)', (n) => { for (let d = 0; d < n; d += chunk) rc4.apply(buf); });
try {
  const c = createCipheriv('rc4', key, null);
  measure('OpenSSL rc4 (legacy provider)', (n) => { for (let d = 0; d < n; d += chunk) c.update(buf); });
} catch (e) {
  console.log(`OpenSSL rc4: unavailable in this process (${e.code ?? e.message})`);
}
