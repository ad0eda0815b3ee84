import { describe, it, expect, afterAll } from '@jest/globals';
import dgram from 'node:dgram';
import { Session } from '@spritzle/engine';
import { startPlainDhtNodes, stopPlainDhtNodes, type PlainDhtNode } from '../../helpers/dht.js';
import { waitFor } from '../../helpers/engine.js';

// Well-formed KRPC dictionaries whose fields have the wrong bencode types. bittorrent-dht and k-bucket
// use them unchecked (Number.prototype.toString(radix), token.equals, a non-buffer target): each one threw
// inside the DHT socket's message callback, so one datagram from anyone took the whole daemon down.
const ID = 'a'.repeat(20);
const WRONG_TYPES = [
  `d1:ad2:id20:${ID}6:targeti3ee1:q9:find_node1:t2:aa1:y1:qe`,
  `d1:ad2:id20:${ID}9:info_hashi3ee1:q9:get_peers1:t2:aa1:y1:qe`,
  `d1:ad2:id20:${ID}9:info_hashlee1:q9:get_peers1:t2:aa1:y1:qe`,
  `d1:ad2:id20:${ID}6:targeti1ee1:q3:get1:t2:aa1:y1:qe`,
  `d1:ad2:id20:${ID}1:v1:x5:tokenlee1:q3:put1:t2:aa1:y1:qe`,
].map((s) => Buffer.from(s, 'latin1'));

describe('the DHT port under KRPC messages with fields of the wrong type', () => {
  let plain: PlainDhtNode[] = [];
  let session: Session | undefined;
  afterAll(async () => {
    await session?.close();
    await stopPlainDhtNodes(plain);
  });

  it('each is dropped and counted, nothing escapes the socket callback, and the node still answers', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      session = await Session.create({ listen_interfaces: '127.0.0.1:0', enable_dht: true, dht_bootstrap_nodes: '' });
      const s = session;
      await waitFor(() => s.dhtPort > 0, 10_000, 'the DHT to listen');
      const client = dgram.createSocket('udp4');
      for (const m of WRONG_TYPES) await new Promise<void>((resolve) => client.send(m, s.dhtPort, '127.0.0.1', () => resolve()));
      client.close();
      const dropped = (): number => s.stats()['dht.dht_messages_in_dropped'] ?? 0;
      await waitFor(() => dropped() >= WRONG_TYPES.length || uncaught.length > 0, 10_000, 'the datagrams to be handled');
      expect(uncaught.map(String)).toEqual([]);
      expect(dropped()).toBe(WRONG_TYPES.length);

      plain = await startPlainDhtNodes(1);
      plain[0]!.dht.addNode({ host: '127.0.0.1', port: s.dhtPort });
      await waitFor(() => plain[0]!.dht.nodes.count() > 0, 10_000, 'the plain node to reach the session');
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
