import { describe, it, expect, afterEach } from '@jest/globals';
import net from 'node:net';
import { TcpTransport, READ_BUDGET } from '../../../packages/engine/src/transport/tcp.js';
import type { TransportSink } from '../../../packages/engine/src/transport/transport.js';

/** A listening socket on 127.0.0.1 and its first accepted connection. */
async function server(): Promise<{ port: number; accepted: Promise<net.Socket>; close(): void }> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  return { port: (srv.address() as net.AddressInfo).port, accepted, close: () => srv.close() };
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function counting(): { sink: TransportSink; bytes: () => number; closed: () => string; drains: () => number } {
  let n = 0;
  let reason = '';
  let drains = 0;
  return {
    sink: { onData: (d) => { n += d.length; }, onClosed: (r) => { reason = r; }, onDrain: () => { drains++; } },
    bytes: () => n, closed: () => reason, drains: () => drains,
  };
}

describe('TcpTransport', () => {
  it('stops reading after half a MiB in one turn of the event loop, and resumes on the next (shared reads)', async () => {
    const s = await server();
    cleanup.push(s.close);
    const t = TcpTransport.connect('127.0.0.1', s.port);
    cleanup.push(() => t.close('test over'));
    await new Promise((r) => t.socket.once('connect', r));
    t.attach(counting().sink);
    const chunk = new Uint8Array(64 * 1024);
    const answers: boolean[] = [];
    for (let i = 0; i < READ_BUDGET / chunk.length; i++) answers.push(t.received(chunk));
    expect(answers).toEqual([true, true, true, true, true, true, true, false]);
    let resumed = false;
    t.socket.resume = ((orig) => function (this: net.Socket) { resumed = true; return orig.call(this); })(t.socket.resume);
    await new Promise((r) => setImmediate(r));
    expect(resumed).toBe(true);
  });

  it('pauses an accepted (streamed) socket the same way, and reads everything in the end', async () => {
    const s = await server();
    cleanup.push(s.close);
    const client = net.connect(s.port, '127.0.0.1');
    cleanup.push(() => client.destroy());
    const socket = await s.accepted;
    const t = TcpTransport.accept(socket);
    cleanup.push(() => t.close('test over'));
    let pauses = 0;
    socket.pause = ((orig) => function (this: net.Socket) { pauses++; return orig.call(this); })(socket.pause);
    const c = counting();
    t.attach(c.sink);
    const total = 4 * READ_BUDGET;
    client.write(new Uint8Array(total));
    for (let i = 0; i < 500 && c.bytes() < total; i++) await new Promise((r) => setTimeout(r, 10));
    expect(c.bytes()).toBe(total);
    expect(pauses).toBeGreaterThan(0);
  });

  it('reports the remote address, byte counts and the end of the connection once', async () => {
    const s = await server();
    cleanup.push(s.close);
    const t = TcpTransport.connect('127.0.0.1', s.port);
    await new Promise((r) => t.socket.once('connect', r));
    const c = counting();
    t.attach(c.sink);
    const remote = await s.accepted;
    t.cork();
    t.write(Uint8Array.of(1, 2));
    t.write(Uint8Array.of(3));
    t.uncork();
    const got = await new Promise<Buffer>((r) => remote.once('data', r));
    expect([...got]).toEqual([1, 2, 3]);
    remote.write(Uint8Array.of(9, 9));
    for (let i = 0; i < 100 && c.bytes() < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect({ address: t.remoteAddress, port: t.remotePort, read: t.bytesRead, written: t.bytesWritten }).toEqual({ address: '127.0.0.1', port: s.port, read: 2, written: 3 });
    remote.destroy();
    for (let i = 0; i < 100 && !c.closed(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(c.closed()).toBe('connection closed');
  });

  it('shows what waits to be sent, and says when it drained (back-pressure)', async () => {
    const s = await server();
    cleanup.push(s.close);
    const t = TcpTransport.connect('127.0.0.1', s.port);
    cleanup.push(() => t.close('test over'));
    await new Promise((r) => t.socket.once('connect', r));
    const c = counting();
    t.attach(c.sink);
    const remote = await s.accepted;
    remote.pause(); // the remote reads nothing for now
    for (let i = 0; i < 64 && t.writeQueued === 0; i++) t.write(new Uint8Array(1 << 20));
    expect(t.writeQueued).toBeGreaterThan(0);
    remote.resume();
    for (let i = 0; i < 500 && c.drains() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(c.drains()).toBeGreaterThan(0);
    expect(t.writeQueued).toBe(0);
  });
});
