#!/usr/bin/env node
// WebTorrent (the npm package) downloading one torrent from one peer, for test/interop/webtorrent-mse.test.ts.
//
//   node test/interop/webtorrent-client.mjs TORRENT 127.0.0.1:PORT SAVE_PATH
//
// WebTorrent's default settings, so its default `secure: 1` (MSE/PE first, plaintext fallback), except what
// would reach beyond 127.0.0.1: no DHT, LSD, trackers, UPnP or NAT-PMP, and no uTP (its UDP socket binds
// every interface). Its TCP server, which binds every interface too, is held to 127.0.0.1 below. Prints
// {"seconds": ...} once the download is complete and verified by WebTorrent, then exits 0; 2 on an error.
import net from 'node:net';
import { readFileSync } from 'node:fs';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(port, ...rest) {
  // WebTorrent calls listen(port, callback): the host is ours to choose.
  if (typeof port === 'number' && typeof rest[0] === 'function') return listen.call(this, port, '127.0.0.1', ...rest);
  return listen.call(this, port, ...rest);
};

const [torrentPath, peer, savePath] = process.argv.slice(2);
if (!peer?.startsWith('127.0.0.1:')) {
  console.error('webtorrent-client: the peer must be on 127.0.0.1');
  process.exit(64);
}
const { default: WebTorrent } = await import('webtorrent');
const client = new WebTorrent({ dht: false, lsd: false, tracker: false, natUpnp: false, natPmp: false, utp: false });
const fail = (e) => {
  console.error(`webtorrent-client: ${e?.stack ?? e}`);
  process.exit(2);
};
client.on('error', fail);
const t0 = performance.now();
const torrent = client.add(readFileSync(torrentPath), { path: savePath, announce: [] });
torrent.on('error', fail);
torrent.on('ready', () => torrent.addPeer(peer));
torrent.on('done', () => {
  console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, secure: client.secure }));
  client.destroy(() => process.exit(0));
});
