// A session in a process of its own whose descriptor limit the test lowers (prlimit) and raises again, for
// the EMFILE tests. Talks over stdio only (those descriptors exist already): one JSON line per event on
// stdout; reads commands on stdin.
//
//   node emfile-child.mjs TORRENT SAVE_PATH SEED_PORT
//   → {"ready": pid, "fds": n}        then, on stdin:
//   go    adds the torrent (dialling the seed) → {"event": "torrent_error" | "torrent_finished" | "state", ...}
//   quit  closes the session and exits
import { readFileSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Session } from '@spritzle/engine';

const [torrentPath, savePath, seedPort] = process.argv.slice(2);
const torrent = readFileSync(torrentPath);
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const session = await Session.create({ listen_interfaces: '127.0.0.1:0', file_pool_size: 4 });
let handle;
const statusOf = () => {
  const s = handle?.status();
  return s && { state: s.state, error: s.error, errc: s.errc.message, progress: s.progress };
};
session.on('torrent_error', (e) => say({ event: 'torrent_error', error: e.error, status: statusOf() }));
session.on('torrent_finished', () => say({ event: 'torrent_finished', status: statusOf() }));
session.on('state_changed', (e) => say({ event: 'state', state: e.state }));
say({ ready: process.pid, fds: readdirSync('/proc/self/fd').length });
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'go') {
    handle = await session.addTorrent({ ti: torrent, save_path: savePath, peers: [`127.0.0.1:${seedPort}`] });
  } else if (line === 'status') {
    say({ event: 'status', status: statusOf() });
  } else if (line === 'quit') {
    await session.close();
    process.exit(0);
  }
}
