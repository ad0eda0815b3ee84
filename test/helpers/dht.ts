// Plain bittorrent-dht nodes on 127.0.0.1 for the discovery tests: never bootstrapped from the public
// routers (bootstrap: false, toolchain.md §5); they know each other only through addNode.
import DHT from 'bittorrent-dht';

export interface PlainDhtNode {
  dht: DHT;
  port: number;
  /** "127.0.0.1:port", as dht_bootstrap_nodes takes it. */
  addr: string;
  /** Info-hashes (hex) this node was asked get_peers / announce_peer for. */
  getPeers: string[];
  announces: string[];
}

export async function startPlainDhtNodes(n: number): Promise<PlainDhtNode[]> {
  const nodes: PlainDhtNode[] = [];
  for (let i = 0; i < n; i++) {
    const dht = new DHT({ bootstrap: false, host: false });
    dht.on('error', () => undefined);
    dht.on('warning', () => undefined);
    await new Promise<void>((resolve) => dht.listen(0, '127.0.0.1', () => resolve()));
    const port = dht.address().port;
    const node: PlainDhtNode = { dht, port, addr: `127.0.0.1:${port}`, getPeers: [], announces: [] };
    dht.on('get_peers', (h: Buffer) => node.getPeers.push(h.toString('hex')));
    dht.on('announce_peer', (h: Buffer) => node.announces.push(h.toString('hex')));
    nodes.push(node);
  }
  // A full mesh: each node pings the others into its table.
  for (const a of nodes) for (const b of nodes) if (a !== b) a.dht.addNode({ host: '127.0.0.1', port: b.port });
  return nodes;
}

export async function stopPlainDhtNodes(nodes: PlainDhtNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => new Promise<void>((resolve) => n.dht.destroy(() => resolve()))));
}
