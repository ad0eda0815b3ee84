import { afterAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { Session } from '@spritzle/engine';
import { waitFor } from '../../helpers/engine.js';

// Peers that abuse the encrypted handshake cost a bounded amount and are dropped: garbage, a handshake
// never finished, a flood of handshakes at once.
const open: Session[] = [];
const sockets: net.Socket[] = [];
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(open.map((s) => s.close()));
});

async function session(settings: Record<string, unknown> = {}): Promise<Session> {
  const s = await Session.create({ listen_interfaces: '127.0.0.1:0', ...settings });
  open.push(s);
  return s;
}

/** A socket to the session that has sent `first`; resolves once connected (`closed` says when it is over). */
function dial(s: Session, first: Uint8Array): Promise<net.Socket> {
  return new Promise((resolve) => {
    const sock = net.connect(s.listenPort, '127.0.0.1', () => {
      sock.write(first);
      resolve(sock);
    });
    sock.on('error', () => {});
    sockets.push(sock);
  });
}

describe('hostile encrypted handshakes', () => {
  it('garbage where an MSE handshake should be is dropped and counted', async () => {
    const s = await session();
    const sock = await dial(s, new Uint8Array(700).fill(0x5a));
    await waitFor(() => sock.closed, 10_000, 'the connection to be dropped');
    expect(s.stats()['peer.error_encrypted_peers']).toBe(1);
  });

  it('a handshake dripped a byte at a time and never finished is dropped at the handshake timeout', async () => {
    const s = await session({ handshake_timeout: 1 });
    const sock = await dial(s, new Uint8Array([0x5a]));
    const drip = setInterval(() => { if (!sock.closed) sock.write(new Uint8Array([0x5a])); }, 50);
    try {
      await waitFor(() => sock.closed, 10_000, 'the connection to be dropped');
    } finally {
      clearInterval(drip);
    }
    expect(s.stats()['peer.error_encrypted_peers']).toBe(1);
  });

  it('beyond 64 handshakes in progress at once, the next encrypted connection is refused at once', async () => {
    const s = await session();
    const held = [];
    for (let i = 0; i < 64; i++) held.push(await dial(s, new Uint8Array([0x5a]))); // each an MSE handshake begun
    await waitFor(() => s.stats()['peer.incoming_connections'] === 64, 10_000, '64 connections');
    const extra = await dial(s, new Uint8Array([0x5a]));
    await waitFor(() => extra.closed, 10_000, 'the 65th to be refused');
    expect(held.filter((h) => h.closed)).toEqual([]);
    // A slot frees when a handshake ends, and the next one is taken again.
    held[0]!.destroy();
    await waitFor(() => s.stats()['peer.error_encrypted_peers']! >= 1, 10_000, 'the slot to be released');
    const next = await dial(s, new Uint8Array([0x5a]));
    await new Promise((r) => setTimeout(r, 200));
    expect(next.closed).toBe(false);
  });
});
