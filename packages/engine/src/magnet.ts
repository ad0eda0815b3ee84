import { SpritzleError } from './errors.js';

export interface Magnet {
  infoHash: string;
  name?: string;
  trackers: string[];
  peers: { host: string; port: number }[];
}

/** Parses a magnet URI (BEP 9): the v1 info-hash (hex or base32), dn, tr and x.pe. */
export async function parseMagnet(uri: string): Promise<Magnet> {
  if (!/^magnet:\?/i.test(uri)) throw new SpritzleError('invalid_param', 'url: not a magnet link', { field: 'url' });
  // Loaded on first use: it pulls in an HTTP client that only magnet parsing would pay for at start-up.
  const { default: parseTorrent } = await import('parse-torrent');
  let parsed: Awaited<ReturnType<typeof parseTorrent>>;
  try {
    parsed = await parseTorrent(uri);
  } catch (e) {
    throw new SpritzleError('invalid_param', `url: not a valid magnet link (${(e as Error).message})`, { field: 'url' });
  }
  const infoHash = parsed.infoHash;
  if (!infoHash || !/^[0-9a-f]{40}$/.test(infoHash)) {
    throw new SpritzleError('invalid_param', 'url: the magnet link has no v1 info-hash (xt=urn:btih:...)', { field: 'url' });
  }
  const peers: { host: string; port: number }[] = [];
  const xpe = (parsed as unknown as { peerAddresses?: string[] }).peerAddresses ?? [];
  for (const addr of xpe) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(addr);
    if (m && Number(m[3]) > 0 && Number(m[3]) < 65536) peers.push({ host: (m[1] ?? m[2])!, port: Number(m[3]) });
  }
  const name = typeof parsed.name === 'string' ? parsed.name : Array.isArray(parsed.name) ? parsed.name[0] : undefined;
  return { infoHash, ...(name ? { name } : {}), trackers: parsed.announce ?? [], peers };
}
