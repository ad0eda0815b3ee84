import { resolveHash } from '../client/api.js';
import { clientFrom, percent, print, printJson } from '../client/display.js';
import type { ClientCommandOptions } from '../client/options.js';
import { compactBytes, escapeControl } from '../format.js';
import { formatHostPort, parseEndpoint } from '../net.js';

export interface PeersOptions extends ClientCommandOptions {
  /** `ip:port` to connect to the torrent first (POST /torrent/<hash>/peers), repeatable. */
  connect?: string[];
}

/**
 * `spritzle peers <hash>`: the torrent's connected peers (address, client, libtorrent's flags, their
 * progress, rates). `--connect ip:port` asks the daemon to dial a peer first.
 */
export async function runPeers(hashArg: string, opts: PeersOptions): Promise<number> {
  const client = clientFrom(opts);
  const hash = await resolveHash(client, hashArg);
  for (const ep of opts.connect ?? []) {
    const { host, port } = parseEndpoint(ep);
    await client.connectPeer(hash, host, port);
    if (!opts.json) await print(`connecting to ${formatHostPort(host, port)}\n`);
  }
  const peers = await client.torrentPeers(hash);
  if (opts.json) {
    await printJson(peers);
    return 0;
  }
  if (peers.length === 0) {
    await print('no peers connected\n');
    return 0;
  }
  const rows = peers.map((p) => [formatHostPort(p.ip, p.port), escapeControl(p.client).slice(0, 20), escapeControl(p.flags),
    percent(p.progress), compactBytes(p.down_speed), compactBytes(p.up_speed)]);
  const w = (i: number, h: string): number => Math.max(h.length, ...rows.map((r) => r[i]!.length));
  const [wa, wc, wf] = [w(0, 'ADDRESS'), w(1, 'CLIENT'), w(2, 'FLAGS')];
  const line = (c: string[]): string => `${c[0]!.padEnd(wa)}  ${c[1]!.padEnd(wc)}  ${c[2]!.padEnd(wf)}  ${c[3]!.padStart(6)}  ${c[4]!.padStart(5)}  ${c[5]!.padStart(5)}`.trimEnd() + '\n';
  await print(line(['ADDRESS', 'CLIENT', 'FLAGS', 'DONE', 'DOWN', 'UP']) + rows.map(line).join(''));
  return 0;
}
