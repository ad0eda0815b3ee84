import type DHT from 'bittorrent-dht';
import { M, type Counters } from '../stats/counters.js';
import { decodeCompact4, encodeCompact4, type Endpoint } from './addr.js';
import { DhtSocket, type SharedUdp } from './dht-socket.js';

/** Most info-hashes whose stored peers are counted for dht.dht_torrents / dht_peers (bittorrent-dht keeps 10 000 peers). */
const MAX_TRACKED_HASHES = 10_000;

/** The DHT part of the session state, in libtorrent's layout ("dht state": node-id, compact nodes). */
export interface DhtState {
  'node-id'?: Uint8Array;
  nodes?: Uint8Array;
}

/**
 * The session's DHT node (BEP 5) over bittorrent-dht, on a UDP socket of our own (DhtSocket) that drops
 * datagrams the library's bencode decoder must not see and counts every datagram (dht.dht_messages_* and
 * dht_bytes_*, payload bytes as libtorrent counts them). It only ever talks to the bootstrap nodes it is
 * given and to nodes those lead to: never to the library's public routers.
 */
export class DhtNode {
  private dht: DHT | null = null;
  private readonly stored = new Map<string, Set<string>>();
  private storedPeers = 0;
  private port = 0;

  constructor(
    private readonly counters: Counters,
    private readonly onPeer: (infoHashHex: string, host: string, port: number) => void,
  ) {}

  get running(): boolean {
    return this.dht !== null && this.dht.listening && !this.dht.destroyed;
  }

  /** Pings the nodes; those that answer join the routing table (libtorrent's add_dht_node). */
  addNodes(nodes: readonly Endpoint[]): void {
    for (const n of nodes) this.dht?.addNode({ host: n.host, port: n.port });
  }

  /** The UDP port the node listens on (0 when stopped). */
  get udpPort(): number {
    return this.running ? this.port : 0;
  }

  /**
   * Binds on host:port (the session's port, as libtorrent does) and bootstraps from `bootstrap`. If that UDP
   * port is taken, a free one is used: the DHT announces our TCP port explicitly, so peers still find us.
   */
  async start(host: string, port: number, bootstrap: Endpoint[], state: DhtState | null, shared?: SharedUdp | null): Promise<void> {
    await this.stop();
    // The session's UDP socket (uTP's) when it is on this port: one port for TCP, uTP and the DHT.
    const share = shared && shared.address().port === port ? shared : undefined;
    try {
      await this.bind(host, port, bootstrap, state, share);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw e;
      await this.bind(host, 0, bootstrap, state);
    }
  }

  private async bind(host: string, port: number, bootstrap: Endpoint[], state: DhtState | null, shared?: SharedUdp): Promise<void> {
    // Loaded when a DHT first starts: a session without one does not pay for the module at start-up.
    const { default: DHTNode } = await import('bittorrent-dht');
    const c = this.counters;
    // Our own socket: it filters what the library may decode and counts every datagram (dht-socket.ts).
    const socket = new DhtSocket(c, shared);
    const nodeId = state?.['node-id'];
    const dht = new DHTNode({
      // An empty list must be false: bittorrent-dht's default is the public routers.
      bootstrap: bootstrap.length ? bootstrap.map((b) => `${b.host}:${b.port}`) : false,
      host: false,
      socket,
      ...(nodeId && nodeId.length === 20 ? { nodeId: Buffer.from(nodeId) } : {}),
    });
    dht.on('peer', (peer: { host: string; port: number }, infoHash: Buffer) => this.onPeer(infoHash.toString('hex'), peer.host, peer.port));
    dht.on('announce', (peer: { host: string; port: number }, infoHash: Buffer) => this.onStored(infoHash.toString('hex'), `${peer.host}:${peer.port}`));
    const nodesChanged = (): void => c.set(M.dht_dht_nodes, dht.nodes.count());
    dht.on('node', nodesChanged);
    dht.nodes.on('removed', nodesChanged);
    dht.on('warning', () => undefined);
    return new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => {
        try {
          dht.destroy();
        } catch {
          // The socket never bound; closing it may throw "not running".
        }
        reject(e);
      };
      dht.once('error', onError);
      // bittorrent-dht's RPC layer passes on only EACCES and EADDRINUSE: any other bind error (EADDRNOTAVAIL)
      // would leave this promise pending forever, so our own socket's errors are heard too.
      socket.once('error', onError);
      dht.listen(port, host, () => {
        dht.off('error', onError);
        socket.off('error', onError);
        // Later socket errors (EACCES on send, ...) must not crash the session.
        dht.on('error', () => undefined);
        this.dht = dht;
        this.port = dht.address().port;
        for (const n of decodeCompact4(state?.nodes ?? new Uint8Array(0), 1000)) dht.addNode(n);
        resolve();
      });
    });
  }

  /** bittorrent-dht stores announced peers forever (up to 10 000); mirror the counts for the gauges. */
  private onStored(hash: string, peer: string): void {
    let set = this.stored.get(hash);
    if (!set) {
      if (this.stored.size >= MAX_TRACKED_HASHES) return;
      set = new Set();
      this.stored.set(hash, set);
    }
    if (set.has(peer)) return;
    set.add(peer);
    this.storedPeers++;
    this.counters.set(M.dht_dht_torrents, this.stored.size);
    this.counters.set(M.dht_dht_peers, this.storedPeers);
  }

  /** get_peers towards the info-hash, then announce_peer with our TCP port to the closest nodes that answered. */
  announce(infoHash: Uint8Array, tcpPort: number): void {
    const dht = this.dht;
    if (!dht || !this.running) return;
    const hash = Buffer.from(infoHash);
    dht.lookup(hash, () => {
      if (dht.destroyed) return;
      dht.announce(hash, tcpPort, () => undefined);
    });
  }

  /** Node id and the routing table's IPv4 nodes. */
  state(): DhtState | null {
    const dht = this.dht;
    if (!dht) return null;
    return { 'node-id': new Uint8Array(dht.nodeId), nodes: encodeCompact4(dht.toJSON().nodes) };
  }

  async stop(): Promise<void> {
    const dht = this.dht;
    this.dht = null;
    this.port = 0;
    // The library's peer store goes with the node.
    this.stored.clear();
    this.storedPeers = 0;
    for (const m of [M.dht_dht_nodes, M.dht_dht_torrents, M.dht_dht_peers]) this.counters.set(m, 0);
    if (!dht) return;
    await new Promise<void>((resolve) => dht.destroy(() => resolve()));
  }
}
