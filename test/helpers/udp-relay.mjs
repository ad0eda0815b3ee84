/**
 * A lossy UDP relay for tests and benches (this kernel has no netem): clients send to the relay's port,
 * and it forwards to one target from a socket per client (a tiny NAT), adding delay, jitter, reordering,
 * duplication and loss from a seeded generator, in both directions. 127.0.0.1 only.
 *
 *   node test/helpers/udp-relay.mjs --target 127.0.0.1:PORT [--delay MS] [--jitter MS] [--loss P]
 *        [--duplicate P] [--reorder P] [--seed N]     prints `RELAY <port>`, runs until SIGTERM / stdin EOF
 */
import dgram from 'node:dgram';
import { prng as rng } from './prng.mjs';

const LOOPBACK = '127.0.0.1';

/** Datagrams waiting for their time, in a binary heap by due time; one timer for all of them. */
class DelayLine {
  constructor() {
    this.heap = [];
    this.timer = null;
    this.closed = false;
  }
  push(due, send) {
    const h = this.heap;
    h.push({ due, send });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].due <= h[i].due) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
    this.arm();
  }
  pop() {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && h[l].due < h[m].due) m = l;
        if (r < h.length && h[r].due < h[m].due) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
  arm() {
    if (this.closed || this.heap.length === 0) return;
    const wait = Math.max(0, this.heap[0].due - performance.now());
    if (this.timer && this.timerDue <= this.heap[0].due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = this.heap[0].due;
    this.timer = setTimeout(() => this.fire(), wait);
  }
  fire() {
    this.timer = null;
    const now = performance.now();
    while (this.heap.length > 0 && this.heap[0].due <= now + 0.5) this.pop().send();
    this.arm();
  }
  close() {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.heap = [];
  }
}

/**
 * @param {{ target: { host?: string, port: number }, delayMs?: number, jitterMs?: number, loss?: number,
 *   duplicate?: number, reorder?: number, seed?: number }} opts  delay is one way; probabilities in 0..1
 */
export async function startUdpRelay(opts) {
  const host = opts.target.host ?? LOOPBACK;
  if (host !== LOOPBACK) throw new Error('the relay forwards to 127.0.0.1 only');
  const random = rng(opts.seed ?? 1);
  const { delayMs = 0, jitterMs = 0, loss = 0, duplicate = 0, reorder = 0 } = opts;
  const stats = { forwarded: 0, dropped: 0, duplicated: 0, reordered: 0 };
  const line = new DelayLine();
  // Large kernel buffers: a burst a peer sends at once must wait in the delay line, not be dropped by the
  // kernel before the relay reads it (that would be loss the seed did not ask for).
  const socketOpts = { type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 };
  const front = dgram.createSocket(socketOpts);
  const backs = new Map();

  const impair = (send) => {
    if (random() < loss) {
      stats.dropped++;
      return;
    }
    const copies = random() < duplicate ? 2 : 1;
    if (copies === 2) stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      let d = delayMs + (jitterMs > 0 ? (random() * 2 - 1) * jitterMs : 0);
      if (random() < reorder) {
        d += 1 + random() * Math.max(5, jitterMs * 2);
        stats.reordered++;
      }
      stats.forwarded++;
      if (d <= 0 && line.heap.length === 0) send();
      else line.push(performance.now() + Math.max(0, d), send);
    }
  };

  front.on('message', (buf, rinfo) => {
    if (rinfo.address !== LOOPBACK) return;
    const key = `${rinfo.address}:${rinfo.port}`;
    let back = backs.get(key);
    if (!back) {
      back = dgram.createSocket(socketOpts);
      back.bind(0, LOOPBACK);
      back.on('message', (b) => impair(() => front.send(b, rinfo.port, rinfo.address)));
      back.on('error', () => {});
      backs.set(key, back);
    }
    const b = back;
    impair(() => b.send(buf, opts.target.port, host));
  });
  front.on('error', () => {});
  await new Promise((resolve) => front.bind(0, LOOPBACK, resolve));
  return {
    port: front.address().port,
    stats,
    close() {
      line.close();
      front.close();
      for (const b of backs.values()) b.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const get = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : def;
  };
  const [thost, tport] = String(get('target', '')).split(':');
  const relay = await startUdpRelay({
    target: { host: thost, port: Number(tport) },
    delayMs: Number(get('delay', 0)), jitterMs: Number(get('jitter', 0)), loss: Number(get('loss', 0)),
    duplicate: Number(get('duplicate', 0)), reorder: Number(get('reorder', 0)), seed: Number(get('seed', 1)),
  });
  console.log(`RELAY ${relay.port}`);
  const stop = () => {
    relay.close();
    console.error(JSON.stringify(relay.stats));
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}
