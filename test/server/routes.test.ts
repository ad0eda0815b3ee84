// The REST interface over real HTTP: every example of the spec replayed (status, headers, body shape),
// the routes beyond it, and the error paths (400/404/405/409/413/415).
import { describe, it, expect, beforeAll, afterAll, jest } from '@jest/globals';
import { access, statfs } from 'node:fs/promises';
import path from 'node:path';
import { Counters, SUMMARY_FIELDS } from '@spritzle/engine';
import { type Api, closedPort, errorOf, localHttp, postFile, postForm, postJson, raw, sleep, sseEvents, startApi, testTorrent } from '../helpers/server.js';

// Every key of the spec's GET /session example.
const SPEC_SESSION_KEYS = ('dht.dht_allocated_observers dht.dht_announce_peer_in dht.dht_announce_peer_out dht.dht_bytes_in ' +
  'dht.dht_bytes_out dht.dht_find_node_in dht.dht_find_node_out dht.dht_get_in dht.dht_get_out ' +
  'dht.dht_get_peers_in dht.dht_get_peers_out dht.dht_immutable_data dht.dht_invalid_announce dht.dht_invalid_get ' +
  'dht.dht_invalid_get_peers dht.dht_invalid_put dht.dht_messages_in dht.dht_messages_out ' +
  'dht.dht_messages_out_dropped dht.dht_mutable_data dht.dht_node_cache dht.dht_nodes dht.dht_peers ' +
  'dht.dht_ping_in dht.dht_ping_out dht.dht_put_in dht.dht_put_out dht.dht_torrents disk.arc_mfu_ghost_size ' +
  'disk.arc_mfu_size disk.arc_mru_ghost_size disk.arc_mru_size disk.arc_volatile_size disk.arc_write_size ' +
  'disk.blocked_disk_jobs disk.disk_blocks_in_use disk.disk_hash_time disk.disk_job_time disk.disk_read_time ' +
  'disk.disk_write_time disk.num_blocks_cache_hits disk.num_blocks_hashed disk.num_blocks_read ' +
  'disk.num_blocks_written disk.num_fenced_cache_piece disk.num_fenced_check_fastresume ' +
  'disk.num_fenced_clear_piece disk.num_fenced_delete_files disk.num_fenced_file_priority ' +
  'disk.num_fenced_flush_hashed disk.num_fenced_flush_piece disk.num_fenced_flush_storage disk.num_fenced_hash ' +
  'disk.num_fenced_load_torrent disk.num_fenced_move_storage disk.num_fenced_read disk.num_fenced_release_files ' +
  'disk.num_fenced_rename_file disk.num_fenced_save_resume_data disk.num_fenced_stop_torrent ' +
  'disk.num_fenced_tick_storage disk.num_fenced_trim_cache disk.num_fenced_write disk.num_jobs disk.num_read_back ' +
  'disk.num_read_jobs disk.num_read_ops disk.num_running_disk_jobs disk.num_running_threads disk.num_write_jobs ' +
  'disk.num_write_ops disk.num_writing_threads disk.pinned_blocks disk.queued_disk_jobs disk.queued_write_bytes ' +
  'disk.read_cache_blocks disk.request_latency disk.write_cache_blocks net.has_incoming_connections ' +
  'net.limiter_down_bytes net.limiter_down_queue net.limiter_up_bytes net.limiter_up_queue net.on_accept_counter ' +
  'net.on_disk_counter net.on_disk_queue_counter net.on_lsd_counter net.on_lsd_peer_counter net.on_read_counter ' +
  'net.on_tick_counter net.on_udp_counter net.on_write_counter net.recv_bytes net.recv_failed_bytes ' +
  'net.recv_ip_overhead_bytes net.recv_payload_bytes net.recv_redundant_bytes net.recv_tracker_bytes ' +
  'net.sent_bytes net.sent_ip_overhead_bytes net.sent_payload_bytes net.sent_tracker_bytes peer.aborted_peers ' +
  'peer.addrinuse_peers peer.banned_for_hash_failure peer.broken_pipe_peers peer.buffer_peers ' +
  'peer.cancelled_piece_requests peer.choked_piece_requests peer.connaborted_peers peer.connect_timeouts ' +
  'peer.connection_attempt_loops peer.connection_attempts peer.connrefused_peers peer.connreset_peers ' +
  'peer.disconnected_peers peer.eof_peers peer.error_encrypted_peers peer.error_incoming_peers ' +
  'peer.error_outgoing_peers peer.error_peers peer.error_rc4_peers peer.error_tcp_peers peer.error_utp_peers ' +
  'peer.incoming_connections peer.invalid_arg_peers peer.invalid_piece_requests peer.max_piece_requests ' +
  'peer.no_access_peers peer.no_memory_peers peer.notconnected_peers peer.num_banned_peers ' +
  'peer.num_http_proxy_peers peer.num_i2p_peers peer.num_peers_connected peer.num_peers_down_disk ' +
  'peer.num_peers_down_interested peer.num_peers_down_requests peer.num_peers_down_unchoked ' +
  'peer.num_peers_end_game peer.num_peers_half_open peer.num_peers_up_disk peer.num_peers_up_interested ' +
  'peer.num_peers_up_requests peer.num_peers_up_unchoked peer.num_peers_up_unchoked_all ' +
  'peer.num_peers_up_unchoked_optimistic peer.num_socks5_peers peer.num_ssl_http_proxy_peers peer.num_ssl_peers ' +
  'peer.num_ssl_socks5_peers peer.num_ssl_utp_peers peer.num_tcp_peers peer.num_utp_peers peer.perm_peers ' +
  'peer.piece_rejects peer.piece_requests peer.timeout_peers peer.too_many_peers peer.transport_timeout_peers ' +
  'peer.uninteresting_peers peer.unreachable_peers picker.end_game_piece_picks picker.hash_fail_piece_picks ' +
  'picker.incoming_piece_picks picker.incoming_redundant_piece_picks picker.interesting_piece_picks ' +
  'picker.piece_picker_busy_loops picker.piece_picker_partial_loops picker.piece_picker_rand_loops ' +
  'picker.piece_picker_rand_start_loops picker.piece_picker_rare_loops picker.piece_picker_reverse_rare_loops ' +
  'picker.piece_picker_sequential_loops picker.piece_picker_suggest_loops picker.reject_piece_picks ' +
  'picker.snubbed_piece_picks picker.unchoke_piece_picks ses.non_filter_torrents ses.num_checking_torrents ' +
  'ses.num_downloading_torrents ses.num_error_torrents ses.num_have_pieces ses.num_incoming_allowed_fast ' +
  'ses.num_incoming_bitfield ses.num_incoming_cancel ses.num_incoming_choke ses.num_incoming_dht_port ' +
  'ses.num_incoming_ext_handshake ses.num_incoming_extended ses.num_incoming_have ses.num_incoming_have_all ' +
  'ses.num_incoming_have_none ses.num_incoming_interested ses.num_incoming_metadata ' +
  'ses.num_incoming_not_interested ses.num_incoming_pex ses.num_incoming_piece ses.num_incoming_reject ' +
  'ses.num_incoming_request ses.num_incoming_suggest ses.num_incoming_unchoke ses.num_loaded_torrents ' +
  'ses.num_outgoing_allowed_fast ses.num_outgoing_bitfield ses.num_outgoing_cancel ses.num_outgoing_choke ' +
  'ses.num_outgoing_dht_port ses.num_outgoing_ext_handshake ses.num_outgoing_extended ses.num_outgoing_have ' +
  'ses.num_outgoing_have_all ses.num_outgoing_have_none ses.num_outgoing_interested ses.num_outgoing_metadata ' +
  'ses.num_outgoing_not_interested ses.num_outgoing_pex ses.num_outgoing_piece ses.num_outgoing_reject ' +
  'ses.num_outgoing_request ses.num_outgoing_suggest ses.num_outgoing_unchoke ses.num_piece_failed ' +
  'ses.num_piece_passed ses.num_pinned_torrents ses.num_queued_download_torrents ses.num_queued_seeding_torrents ' +
  'ses.num_seeding_torrents ses.num_stopped_torrents ses.num_total_pieces_added ses.num_unchoke_slots ' +
  'ses.num_upload_only_torrents ses.torrent_evicted_counter ses.waste_piece_cancelled ses.waste_piece_closing ' +
  'ses.waste_piece_end_game ses.waste_piece_seed ses.waste_piece_timed_out ses.waste_piece_unknown ' +
  'sock_bufs.socket_recv_size10 sock_bufs.socket_recv_size11 sock_bufs.socket_recv_size12 ' +
  'sock_bufs.socket_recv_size13 sock_bufs.socket_recv_size14 sock_bufs.socket_recv_size15 ' +
  'sock_bufs.socket_recv_size16 sock_bufs.socket_recv_size17 sock_bufs.socket_recv_size18 ' +
  'sock_bufs.socket_recv_size19 sock_bufs.socket_recv_size20 sock_bufs.socket_recv_size3 ' +
  'sock_bufs.socket_recv_size4 sock_bufs.socket_recv_size5 sock_bufs.socket_recv_size6 ' +
  'sock_bufs.socket_recv_size7 sock_bufs.socket_recv_size8 sock_bufs.socket_recv_size9 ' +
  'sock_bufs.socket_send_size10 sock_bufs.socket_send_size11 sock_bufs.socket_send_size12 ' +
  'sock_bufs.socket_send_size13 sock_bufs.socket_send_size14 sock_bufs.socket_send_size15 ' +
  'sock_bufs.socket_send_size16 sock_bufs.socket_send_size17 sock_bufs.socket_send_size18 ' +
  'sock_bufs.socket_send_size19 sock_bufs.socket_send_size20 sock_bufs.socket_send_size3 ' +
  'sock_bufs.socket_send_size4 sock_bufs.socket_send_size5 sock_bufs.socket_send_size6 ' +
  'sock_bufs.socket_send_size7 sock_bufs.socket_send_size8 sock_bufs.socket_send_size9 utp.num_utp_close_wait ' +
  'utp.num_utp_connected utp.num_utp_deleted utp.num_utp_fin_sent utp.num_utp_idle utp.num_utp_syn_sent ' +
  'utp.utp_fast_retransmit utp.utp_invalid_pkts_in utp.utp_packet_loss utp.utp_packet_resend utp.utp_packets_in ' +
  'utp.utp_packets_out utp.utp_payload_pkts_in utp.utp_payload_pkts_out utp.utp_redundant_pkts_in ' +
  'utp.utp_samples_above_target utp.utp_samples_below_target utp.utp_timeout').split(' ');

// Every key of the spec's GET /torrent/<hash> example.
const SPEC_STATUS_KEYS = ('active_time added_time all_time_download all_time_upload announcing_to_dht announcing_to_lsd ' +
  'announcing_to_trackers auto_managed block_size completed_time connect_candidates connections_limit ' +
  'current_tracker distributed_copies distributed_fraction distributed_full_copies down_bandwidth_queue ' +
  'download_payload_rate download_rate errc error_file finished_time has_incoming has_metadata info_hash ' +
  'ip_filter_applies is_finished is_loaded is_seeding last_scrape last_seen_complete list_peers list_seeds ' +
  'moving_storage name need_save_resume next_announce num_complete num_connections num_incomplete num_peers ' +
  'num_pieces num_seeds num_uploads paused pieces priority progress progress_ppm queue_position save_path ' +
  'seed_mode seed_rank seeding_time sequential_download share_mode state stop_when_ready storage_mode ' +
  'super_seeding time_since_download time_since_upload total_done total_download total_failed_bytes ' +
  'total_payload_download total_payload_upload total_redundant_bytes total_upload total_wanted total_wanted_done ' +
  'up_bandwidth_queue upload_mode upload_payload_rate upload_rate uploads_limit verified_pieces').split(' ');

const JSON_TYPE = 'application/json; charset=utf-8';
const UNKNOWN_HASH = 'ffffffffffffffffffffffffffffffffffffffff';

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api.close();
});

/** Adds a fresh torrent (data not on disk) and returns its hash. */
async function added(args: Record<string, unknown> = {}): Promise<string> {
  const t = await testTorrent(api.work);
  const res = await postFile(api, t.torrentBytes, args);
  expect(res.status).toBe(201);
  return t.infoHash;
}

async function removeAll(): Promise<void> {
  expect((await fetch(`${api.url}/torrent`, { method: 'DELETE' })).status).toBe(200);
}

describe('GET /session', () => {
  it('answers 200 JSON with every counter of the spec example as an integer', async () => {
    const res = await fetch(`${api.url}/session`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    const body = (await res.json()) as Record<string, unknown>;
    for (const k of SPEC_SESSION_KEYS) expect(Number.isInteger(body[k])).toBe(true);
  });

  it('holds exactly the engine counter names', async () => {
    const body = (await (await fetch(`${api.url}/session`)).json()) as Record<string, number>;
    expect(Object.keys(body).sort()).toEqual(Counters.names().map((n) => n.name).sort());
  });
});

describe('GET /session/dht', () => {
  it('answers a JSON boolean', async () => {
    const res = await fetch(`${api.url}/session/dht`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect(typeof (await res.json())).toBe('boolean');
  });
});

describe('GET /session/disk', () => {
  it('answers the free and total bytes of the download root\'s file system', async () => {
    const res = await fetch(`${api.url}/session/disk`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { path: string; free_bytes: number; total_bytes: number };
    const s = await statfs(api.root);
    expect(body.path).toBe(api.root);
    expect(body.total_bytes).toBe(s.blocks * s.bsize);
    expect(body.free_bytes).toBeGreaterThan(0);
    expect(body.free_bytes).toBeLessThanOrEqual(body.total_bytes);
  });
});

describe('GET /torrent', () => {
  it('answers an empty list when the session has no torrents', async () => {
    await removeAll();
    const res = await fetch(`${api.url}/torrent`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect(await res.json()).toEqual([]);
  });

  it('lists the info-hashes of the torrents added', async () => {
    await removeAll();
    const a = await added();
    const b = await added();
    const list = (await (await fetch(`${api.url}/torrent`)).json()) as string[];
    expect(list.sort()).toEqual([a, b].sort());
    for (const h of list) expect(h).toMatch(/^[0-9a-f]{40}$/);
  });

  it('answers objects with info_hash and just the asked fields for ?fields=', async () => {
    await removeAll();
    const h = await added();
    const list = (await (await fetch(`${api.url}/torrent?fields=name,state,progress`)).json()) as Record<string, unknown>[];
    expect(list).toHaveLength(1);
    expect(Object.keys(list[0]!)).toEqual(['info_hash', 'name', 'state', 'progress']);
    expect(list[0]!.info_hash).toBe(h);
  });

  it('answers 400 naming fields for an unknown field', async () => {
    const res = await fetch(`${api.url}/torrent?fields=name,nmae`);
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ field: 'fields' });
  });

  it('answers 400 for an empty fields list', async () => {
    expect((await fetch(`${api.url}/torrent?fields=`)).status).toBe(400);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await raw(api.port, { method: 'HEAD', path: '/torrent' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(JSON_TYPE);
    expect(res.body.length).toBe(0);
  });
});

describe('POST /torrent', () => {
  it('adds an uploaded file with args: 201, absolute Location and {"info_hash"} (spec: File Upload)', async () => {
    const t = await testTorrent(api.work);
    const res = await postFile(api, t.torrentBytes, { save_path: 'uploads' });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect(res.headers.get('location')).toBe(`${api.url}/torrent/${t.infoHash}`);
    expect(await res.json()).toEqual({ info_hash: t.infoHash });
  });

  it('adds by info_hash as a urlencoded form (spec: Info-hash)', async () => {
    const hash = '88066b90278f2de655ee2dd44e784c340b54e45c';
    const res = await postForm(api, { info_hash: hash, args: JSON.stringify({ save_path: 'byhash', paused: true }) });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`${api.url}/torrent/${hash}`);
    expect(await res.json()).toEqual({ info_hash: hash });
  });

  it('lower-cases an upper-case info_hash', async () => {
    const res = await postForm(api, { info_hash: 'AB'.repeat(20), args: '{"paused": true}' });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ info_hash: 'ab'.repeat(20) });
  });

  it('adds by url from an http server (spec: URL)', async () => {
    const t = await testTorrent(api.work);
    const src = await localHttp((_req, res) => {
      res.setHeader('content-type', 'application/x-bittorrent');
      res.end(Buffer.from(t.torrentBytes));
    });
    try {
      const res = await postForm(api, { url: `${src.url}/releng/torrent/`, args: '{"save_path": "fetched"}' });
      expect(res.status).toBe(201);
      expect(res.headers.get('location')).toBe(`${api.url}/torrent/${t.infoHash}`);
      expect(await res.json()).toEqual({ info_hash: t.infoHash });
    } finally {
      await src.close();
    }
  });

  it('follows redirects when fetching a url', async () => {
    const t = await testTorrent(api.work);
    const src = await localHttp((req, res) => {
      if (req.url === '/final') res.end(Buffer.from(t.torrentBytes));
      else res.writeHead(302, { location: '/final' }).end();
    });
    try {
      const res = await postForm(api, { url: `${src.url}/start` });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ info_hash: t.infoHash });
    } finally {
      await src.close();
    }
  });

  it('refuses more redirects than the limit with 400', async () => {
    let hops = 0;
    const src = await localHttp((_req, res) => {
      hops++;
      res.writeHead(302, { location: `/r${hops}` }).end();
    });
    try {
      const res = await postForm(api, { url: `${src.url}/r0` });
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toMatchObject({ code: 'fetch_failed', field: 'url' });
      expect(hops).toBe(6); // the first request and 5 redirects
    } finally {
      await src.close();
    }
  });

  it('answers 400 fetch_failed when the url answers 404', async () => {
    const src = await localHttp((_req, res) => res.writeHead(404).end());
    try {
      const res = await postForm(api, { url: `${src.url}/missing.torrent` });
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toMatchObject({ code: 'fetch_failed', field: 'url' });
    } finally {
      await src.close();
    }
  });

  it('answers 400 fetch_failed when the url is unreachable', async () => {
    const res = await postForm(api, { url: `http://127.0.0.1:${await closedPort()}/x.torrent` });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'fetch_failed', field: 'url' });
  });

  it('answers 400 invalid_torrent when the url serves something else', async () => {
    const src = await localHttp((_req, res) => res.end('<html>not a torrent</html>'));
    try {
      const res = await postForm(api, { url: `${src.url}/page` });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe('invalid_torrent');
    } finally {
      await src.close();
    }
  });

  it('adds a magnet link given as url', async () => {
    const hash = '1234567890abcdef1234567890abcdef12345678';
    const res = await postForm(api, { url: `magnet:?xt=urn:btih:${hash}&dn=example`, args: '{"paused": true}' });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ info_hash: hash });
  });

  it('answers 400 naming args.flags for a bitmask of 2^53 (a 32-bit bit test reads it as 0)', async () => {
    const res = await postJson(api, '/torrent', { info_hash: 'cd'.repeat(20), args: { flags: 2 ** 53 } });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_param', field: 'args.flags' });
  });

  it('takes a JSON body with args as an object', async () => {
    const hash = '2234567890abcdef1234567890abcdef12345678';
    const res = await postJson(api, '/torrent', { info_hash: hash, args: { paused: true } });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ info_hash: hash });
  });

  it('takes a base64 .torrent as the file field of a JSON body', async () => {
    const t = await testTorrent(api.work);
    const res = await postJson(api, '/torrent', { file: Buffer.from(t.torrentBytes).toString('base64') });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ info_hash: t.infoHash });
  });

  it('answers a duplicate add with 201 and the same hash', async () => {
    const t = await testTorrent(api.work);
    expect((await postFile(api, t.torrentBytes)).status).toBe(201);
    const again = await postFile(api, t.torrentBytes);
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual({ info_hash: t.infoHash });
  });

  it('answers a duplicate add with 409 when args.duplicate_is_error is set', async () => {
    const t = await testTorrent(api.work);
    expect((await postFile(api, t.torrentBytes)).status).toBe(201);
    const again = await postFile(api, t.torrentBytes, { duplicate_is_error: true });
    expect(again.status).toBe(409);
    expect((await errorOf(again)).code).toBe('duplicate_torrent');
  });

  it('passes args to the engine (paused: true gives a paused torrent)', async () => {
    const h = await added({ paused: true });
    const status = (await (await fetch(`${api.url}/torrent/${h}`)).json()) as { paused: boolean };
    expect(status.paused).toBe(true);
  });

  it('answers 400 naming args when args is not JSON', async () => {
    const res = await postForm(api, { info_hash: '3'.repeat(40), args: '{"save_path": ' });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_param', field: 'args' });
  });

  it('answers 400 when args is JSON but not an object', async () => {
    const res = await postForm(api, { info_hash: '3'.repeat(40), args: '[1,2]' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).field).toBe('args');
  });

  it('answers 400 naming the key for an unknown add param', async () => {
    const res = await postForm(api, { info_hash: '3'.repeat(40), args: '{"sav_path": "/tmp"}' });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_param', field: 'args.sav_path' });
  });

  it('answers 400 naming the key for an ill-typed add param', async () => {
    const res = await postForm(api, { info_hash: '3'.repeat(40), args: '{"paused": "yes"}' });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ field: 'args.paused' });
  });

  it('answers 400 when no source is given', async () => {
    const res = await postForm(api, { args: '{}' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('bad_request');
  });

  it('answers 400 when an empty body is posted', async () => {
    expect((await fetch(`${api.url}/torrent`, { method: 'POST' })).status).toBe(400);
  });

  it('answers 400 when two sources are given', async () => {
    const t = await testTorrent(api.work);
    const form = new FormData();
    form.append('file', new Blob([t.torrentBytes]), 'a.torrent');
    form.append('info_hash', t.infoHash);
    const res = await fetch(`${api.url}/torrent`, { method: 'POST', body: form });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/exactly one/);
  });

  it('answers 400 when a source is hidden inside args', async () => {
    const res = await postForm(api, { info_hash: '3'.repeat(40), args: JSON.stringify({ url: 'magnet:?xt=urn:btih:' + '4'.repeat(40) }) });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).field).toBe('args.url');
  });

  it('answers 400 for an unknown top-level field', async () => {
    const res = await postForm(api, { info_hash: '3'.repeat(40), save_path: '/tmp' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).field).toBe('save_path');
  });

  it('answers 400 invalid_torrent for an upload that is not a torrent', async () => {
    const res = await postFile(api, new TextEncoder().encode('hello, not bencode'));
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_torrent');
  });

  it('answers 400 invalid_info_hash for a malformed info_hash field', async () => {
    const res = await postForm(api, { info_hash: 'xyz' });
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_info_hash', field: 'info_hash' });
  });

  it('answers 400 invalid_json for a JSON body that does not parse', async () => {
    const res = await fetch(`${api.url}/torrent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"info_hash": ' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_json');
  });

  it('answers 400 for a malformed multipart body', async () => {
    const res = await raw(api.port, {
      method: 'POST', path: '/torrent', headers: { 'content-type': 'multipart/form-data; boundary=XYZ' },
      body: '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
    });
    expect(res.status).toBe(400);
  });

  it('answers 415 for a body in another type', async () => {
    const res = await fetch(`${api.url}/torrent`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'info_hash=x' });
    expect(res.status).toBe(415);
    expect((await errorOf(res)).code).toBe('unsupported_media_type');
  });

  it('answers 413 for an upload over the size limit', async () => {
    const small = await startApi({ maxTorrentBytes: 1024 });
    try {
      const res = await postFile(small, new Uint8Array(4096));
      expect(res.status).toBe(413);
      expect(await errorOf(res)).toMatchObject({ code: 'payload_too_large', field: 'file' });
    } finally {
      await small.close();
    }
  });

  it('answers 400 fetch_failed for a url larger than the size limit', async () => {
    const small = await startApi({ maxTorrentBytes: 1024 });
    const src = await localHttp((_req, res) => res.end(Buffer.alloc(4096, 0x61)));
    try {
      const res = await postForm(small, { url: `${src.url}/big.torrent` });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(/larger than 1024/);
    } finally {
      await src.close();
      await small.close();
    }
  });

  it('answers 400 fetch_failed when the url does not answer within the timeout', async () => {
    const slow = await startApi({ fetchTimeoutMs: 300 });
    const src = await localHttp(() => undefined); // never answers
    try {
      const res = await postForm(slow, { url: `${src.url}/slow.torrent` });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(/300 ms/);
    } finally {
      await src.close();
      await slow.close();
    }
  });
});

describe('GET /torrent/<hash>', () => {
  it('answers the status object with every key of the spec example', async () => {
    const h = await added();
    const res = await fetch(`${api.url}/torrent/${h}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    const status = (await res.json()) as Record<string, unknown>;
    for (const k of SPEC_STATUS_KEYS) expect(status).toHaveProperty([k]);
    expect(status.info_hash).toBe(h);
    expect(status.errc).toEqual({ value: 0, message: 'Success', category: { name: 'system', message: 'Success' } });
    expect(typeof status.next_announce).toBe('string');
  });

  it('accepts the hash in upper case', async () => {
    const h = await added();
    expect((await fetch(`${api.url}/torrent/${h.toUpperCase()}`)).status).toBe(200);
  });

  it('answers just info_hash and the asked fields for ?fields=', async () => {
    const h = await added();
    const body = await (await fetch(`${api.url}/torrent/${h}?fields=name,progress`)).json();
    expect(Object.keys(body as object)).toEqual(['info_hash', 'name', 'progress']);
  });

  it('answers 400 for an unknown field', async () => {
    const h = await added();
    expect((await fetch(`${api.url}/torrent/${h}?fields=bogus`)).status).toBe(400);
  });

  it('answers 400 invalid_info_hash for a malformed hash', async () => {
    const res = await fetch(`${api.url}/torrent/not-a-hash`);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_info_hash');
  });

  it('answers 404 torrent_not_found for an unknown hash', async () => {
    const res = await fetch(`${api.url}/torrent/${UNKNOWN_HASH}`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect((await errorOf(res)).code).toBe('torrent_not_found');
  });
});

describe('DELETE /torrent/<hash>', () => {
  it('answers 200 with an empty body and Content-Length 0, and the torrent is gone', async () => {
    const h = await added();
    const res = await raw(api.port, { method: 'DELETE', path: `/torrent/${h}` });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('0');
    expect(res.headers['content-type']).toBeUndefined();
    expect(res.body.length).toBe(0);
    expect((await fetch(`${api.url}/torrent/${h}`)).status).toBe(404);
  });

  it('deletes the data with ?delete_files', async () => {
    const t = await testTorrent(api.root); // the data sits in the session's save_path
    expect((await postFile(api, t.torrentBytes)).status).toBe(201);
    const file = path.join(api.root, t.name);
    await access(file);
    const res = await raw(api.port, { method: 'DELETE', path: `/torrent/${t.infoHash}?delete_files` });
    expect(res.status).toBe(200);
    await expect(access(file)).rejects.toThrow();
  });

  it('keeps the data without ?delete_files', async () => {
    const t = await testTorrent(api.root);
    expect((await postFile(api, t.torrentBytes)).status).toBe(201);
    expect((await raw(api.port, { method: 'DELETE', path: `/torrent/${t.infoHash}` })).status).toBe(200);
    await access(path.join(api.root, t.name));
  });

  it('answers 404 for an unknown hash', async () => {
    expect((await fetch(`${api.url}/torrent/${UNKNOWN_HASH}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('answers 400 for a malformed hash', async () => {
    expect((await fetch(`${api.url}/torrent/1234`, { method: 'DELETE' })).status).toBe(400);
  });
});

describe('DELETE /torrent', () => {
  it('removes every torrent: 200, empty body, Content-Length 0', async () => {
    await added();
    await added();
    const res = await raw(api.port, { method: 'DELETE', path: '/torrent?delete_files' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('0');
    expect(res.body.length).toBe(0);
    expect(await (await fetch(`${api.url}/torrent`)).json()).toEqual([]);
  });
});

describe('torrent actions', () => {
  it('pause answers 200 with the paused status', async () => {
    const h = await added();
    const res = await fetch(`${api.url}/torrent/${h}/pause`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { paused: boolean }).paused).toBe(true);
  });

  it('resume answers 200 with the running status', async () => {
    const h = await added({ paused: true });
    const res = await fetch(`${api.url}/torrent/${h}/resume`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { paused: boolean }).paused).toBe(false);
  });

  it('recheck answers 200 with the status of a torrent with metadata', async () => {
    const t = await testTorrent(api.root);
    expect((await postFile(api, t.torrentBytes)).status).toBe(201);
    const res = await fetch(`${api.url}/torrent/${t.infoHash}/recheck`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { info_hash: string }).info_hash).toBe(t.infoHash);
  });

  it('recheck answers 400 invalid_state for a torrent without metadata', async () => {
    const hash = '5'.repeat(40);
    expect((await postForm(api, { info_hash: hash, args: '{"paused": true}' })).status).toBe(201);
    const res = await fetch(`${api.url}/torrent/${hash}/recheck`, { method: 'POST' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_state');
  });

  it('actions answer 404 for an unknown hash', async () => {
    for (const a of ['pause', 'resume', 'recheck']) {
      expect((await fetch(`${api.url}/torrent/${UNKNOWN_HASH}/${a}`, { method: 'POST' })).status).toBe(404);
    }
  });
});

describe('GET /torrent/<hash>/files, /peers, /trackers', () => {
  it('files lists path, size, progress and priority of each file', async () => {
    const t = await testTorrent(api.work, 40000);
    expect((await postFile(api, t.torrentBytes, { paused: true })).status).toBe(201);
    await sleep(50);
    const files = (await (await fetch(`${api.url}/torrent/${t.infoHash}/files`)).json()) as Record<string, unknown>[];
    expect(files).toEqual([expect.objectContaining({ index: 0, path: t.name, size: 40000, priority: 4 })]);
  });

  it('peers answers a list', async () => {
    const h = await added();
    const res = await fetch(`${api.url}/torrent/${h}/peers`);
    expect(res.status).toBe(200);
    expect(Array.isArray(await res.json())).toBe(true);
  });

  it('trackers answers a list', async () => {
    const h = await added();
    const res = await fetch(`${api.url}/torrent/${h}/trackers`);
    expect(res.status).toBe(200);
    expect(Array.isArray(await res.json())).toBe(true);
  });

  it('answers 404 for an unknown hash', async () => {
    for (const sub of ['files', 'peers', 'trackers']) {
      expect((await fetch(`${api.url}/torrent/${UNKNOWN_HASH}/${sub}`)).status).toBe(404);
    }
  });
});

describe('PATCH /torrent/<hash>', () => {
  it('sets sequential_download and answers the new status', async () => {
    const h = await added();
    const res = await postJson(api, `/torrent/${h}`, { sequential_download: true }, 'PATCH');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { sequential_download: boolean }).sequential_download).toBe(true);
  });

  it('sets limits (max_uploads shows as uploads_limit)', async () => {
    const h = await added();
    const res = await postJson(api, `/torrent/${h}`, { max_uploads: 3, max_connections: 20, upload_limit: 1000, download_limit: -1 }, 'PATCH');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ uploads_limit: 3, connections_limit: 20 });
  });

  it('answers 400 naming an unknown key and changes nothing', async () => {
    const h = await added();
    const res = await postJson(api, `/torrent/${h}`, { sequential_download: true, paused: true }, 'PATCH');
    expect(res.status).toBe(400);
    expect((await errorOf(res)).field).toBe('paused');
    expect(((await (await fetch(`${api.url}/torrent/${h}`)).json()) as { sequential_download: boolean }).sequential_download).toBe(false);
  });

  it('answers 400 for an ill-typed value', async () => {
    const h = await added();
    const res = await postJson(api, `/torrent/${h}`, { file_priorities: [9] }, 'PATCH');
    expect(res.status).toBe(400);
    expect((await errorOf(res)).field).toBe('file_priorities');
  });

  it('answers 415 for a body that is not JSON', async () => {
    const h = await added();
    const res = await fetch(`${api.url}/torrent/${h}`, { method: 'PATCH', body: new URLSearchParams({ sequential_download: 'true' }) });
    expect(res.status).toBe(415);
  });

  it('answers 404 for an unknown hash', async () => {
    expect((await postJson(api, `/torrent/${UNKNOWN_HASH}`, {}, 'PATCH')).status).toBe(404);
  });
});

describe('/session/settings', () => {
  it('GET answers every setting by libtorrent name', async () => {
    const res = await fetch(`${api.url}/session/settings`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ connections_limit: expect.any(Number), listen_interfaces: expect.any(String) });
  });

  it('PATCH changes a setting and answers every setting', async () => {
    const res = await postJson(api, '/session/settings', { upload_rate_limit: 12345 }, 'PATCH');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ upload_rate_limit: 12345 });
    expect(api.session.settings().upload_rate_limit).toBe(12345);
  });

  it('PATCH answers 400 naming an unknown setting', async () => {
    const res = await postJson(api, '/session/settings', { upload_rate: 1 }, 'PATCH');
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_param', field: 'upload_rate' });
  });

  it('PATCH answers 400 naming a setting of the wrong kind or out of its range, as settings_pack would', async () => {
    const cases: [string, unknown][] = [
      ['connections_limit', 1.5], ['connections_limit', 1e15], ['dht_port', 70000], ['dht_port', -1],
      ['upload_rate_limit', -5], ['user_agent', 'x'.repeat(1024 * 1024)], ['user_agent', 'a\u001b[2Jb'], ['enable_dht', 1],
    ];
    for (const [field, value] of cases) {
      const res = await postJson(api, '/session/settings', { [field]: value }, 'PATCH');
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toMatchObject({ code: 'invalid_param', field });
    }
    expect(api.session.settings().dht_port).toBe(0);
  });

  it('PATCH answers 400 for a JSON body that is not an object', async () => {
    expect((await postJson(api, '/session/settings', [1, 2], 'PATCH')).status).toBe(400);
  });
});

describe('GET /metrics', () => {
  it('answers every counter in the Prometheus text format with its type', async () => {
    const res = await fetch(`${api.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const { name, type } of Counters.names()) {
      const m = `libtorrent_${name.replace(/\./g, '_')}`;
      expect(text).toContain(`# TYPE ${m} ${type}\n`);
      expect(text).toMatch(new RegExp(`^${m} \\d+$`, 'm'));
    }
  });

  it('names net.recv_bytes libtorrent_net_recv_bytes, a counter', async () => {
    const text = await (await fetch(`${api.url}/metrics`)).text();
    expect(text).toContain('# TYPE libtorrent_net_recv_bytes counter\nlibtorrent_net_recv_bytes ');
  });
});

/** Reads SSE events from a fetch body until `want` says stop. */
async function readEvents(res: Response, want: (events: { event: string; data: unknown }[]) => boolean, timeoutMs = 5000): Promise<{ event: string; data: unknown }[]> {
  const events: { event: string; data: unknown }[] = [];
  const deadline = Date.now() + timeoutMs;
  for await (const e of sseEvents(res)) {
    events.push(e);
    if (want(events)) break;
    if (Date.now() > deadline) throw new Error(`no matching events; got ${events.map((x) => x.event).join(',')}`);
  }
  return events;
}

describe('GET /events', () => {
  it('is a text/event-stream that starts with a stats event', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${api.url}/events`, { signal: ctl.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = await readEvents(res, (e) => e.length > 0);
    expect(events[0]!.event).toBe('stats');
    expect(events[0]!.data).toMatchObject({ session: expect.any(Object), torrents: expect.any(Array) });
    ctl.abort();
  });

  it('streams torrent_added and torrent_removed as they happen', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${api.url}/events`, { signal: ctl.signal });
    const t = await testTorrent(api.work);
    const got = readEvents(res, (e) => e.some((x) => x.event === 'torrent_removed'));
    expect((await postFile(api, t.torrentBytes)).status).toBe(201);
    expect((await fetch(`${api.url}/torrent/${t.infoHash}`, { method: 'DELETE' })).status).toBe(200);
    const events = await got;
    expect(events).toContainEqual({ event: 'torrent_added', data: expect.objectContaining({ info_hash: t.infoHash }) });
    expect(events).toContainEqual({ event: 'torrent_removed', data: expect.objectContaining({ info_hash: t.infoHash }) });
    ctl.abort();
  });

  it('sends stats periodically', async () => {
    const fast = await startApi({ statsIntervalMs: 50 });
    try {
      const ctl = new AbortController();
      const res = await fetch(`${fast.url}/events`, { signal: ctl.signal });
      const events = await readEvents(res, (e) => e.filter((x) => x.event === 'stats').length >= 3);
      expect(events.filter((x) => x.event === 'stats').length).toBeGreaterThanOrEqual(3);
      ctl.abort();
    } finally {
      await fast.close();
    }
  });

  it('with ?changes=1 sends every torrent first, then only the torrents whose summary changed', async () => {
    const fast = await startApi({ statsIntervalMs: 50 });
    try {
      const [a, b] = [await testTorrent(fast.work), await testTorrent(fast.work)];
      await fast.session.addTorrent({ ti: a.torrentBytes, save_path: fast.root, paused: true });
      const hb = await fast.session.addTorrent({ ti: b.torrentBytes, save_path: fast.root, paused: true });
      const ctl = new AbortController();
      const res = await fetch(`${fast.url}/events?changes=1`, { signal: ctl.signal });
      type Stats = { torrents: { info_hash: string; paused: boolean }[]; changes?: true };
      const stats = (e: { event: string; data: unknown }[]): Stats[] => e.filter((x) => x.event === 'stats').map((x) => x.data as Stats);
      let resumed = false;
      const events = await readEvents(res, (e) => {
        const s = stats(e);
        if (!resumed && s.length >= 3) {
          resumed = true;
          hb.resume();
        }
        return s.some((x) => x.torrents.length > 0 && x.changes);
      });
      ctl.abort();
      const s = stats(events);
      expect(s[0]!.changes).toBeUndefined();
      expect(s[0]!.torrents.map((t) => t.info_hash).sort()).toEqual([a.infoHash, b.infoHash].sort());
      expect(s[1]).toMatchObject({ changes: true, torrents: [] });
      expect(s.find((x) => x.torrents.length > 0 && x.changes)!.torrents).toEqual([expect.objectContaining({ info_hash: b.infoHash, paused: false })]);
    } finally {
      await fast.close();
    }
  });

  it('without ?fields= each torrent in its stats events holds every summary field', async () => {
    const t = await testTorrent(api.work);
    await api.session.addTorrent({ ti: t.torrentBytes, save_path: api.root, paused: true });
    const ctl = new AbortController();
    const res = await fetch(`${api.url}/events`, { signal: ctl.signal });
    const [first] = await readEvents(res, (e) => e.length > 0);
    ctl.abort();
    const row = (first!.data as { torrents: Record<string, unknown>[] }).torrents.find((r) => r.info_hash === t.infoHash);
    expect(Object.keys(row!)).toEqual([...SUMMARY_FIELDS]);
  });

  it('with ?fields= each torrent in its stats events holds info_hash and just those fields', async () => {
    const t = await testTorrent(api.work);
    await api.session.addTorrent({ ti: t.torrentBytes, save_path: api.root, paused: true });
    const ctl = new AbortController();
    const res = await fetch(`${api.url}/events?fields=name,added_time`, { signal: ctl.signal });
    const [first] = await readEvents(res, (e) => e.length > 0);
    ctl.abort();
    const rows = (first!.data as { torrents: Record<string, unknown>[] }).torrents;
    expect(rows.find((r) => r.info_hash === t.infoHash)).toEqual({ info_hash: t.infoHash, name: t.name, added_time: expect.any(Number) });
    expect(rows.every((r) => Object.keys(r).join() === 'info_hash,name,added_time')).toBe(true);
  });

  it('answers 400 naming fields for a field the stats event\'s torrents do not have', async () => {
    const res = await fetch(`${api.url}/events?fields=name,pieces`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { field: 'fields', message: expect.stringContaining('"pieces"') } });
  });

  it('drops its engine listener when the client disconnects', async () => {
    const fresh = await startApi();
    const original = fresh.session.onAny.bind(fresh.session);
    let unsubscribed = 0;
    // Wrap the real subscription so the test sees the unsubscribe happen.
    const spy = jest.spyOn(fresh.session, 'onAny').mockImplementation((fn) => {
      const off = original(fn);
      return () => {
        unsubscribed++;
        off();
      };
    });
    try {
      const ctl = new AbortController();
      const res = await fetch(`${fresh.url}/events`, { signal: ctl.signal });
      await readEvents(res, (e) => e.length > 0);
      expect(spy).toHaveBeenCalledTimes(1);
      ctl.abort();
      for (let i = 0; i < 50 && unsubscribed === 0; i++) await sleep(20);
      expect(unsubscribed).toBe(1);
    } finally {
      spy.mockRestore();
      await fresh.close();
    }
  });
});

describe('unknown routes and methods', () => {
  it('answers 404 JSON for an unknown route', async () => {
    const res = await fetch(`${api.url}/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect((await errorOf(res)).code).toBe('not_found');
  });

  it('answers 405 with an Allow header for a wrong method', async () => {
    const res = await fetch(`${api.url}/session`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    expect((await errorOf(res)).code).toBe('method_not_allowed');
  });

  it('lists every method of /torrent in Allow', async () => {
    const res = await fetch(`${api.url}/torrent`, { method: 'PUT' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST, DELETE, HEAD, OPTIONS');
  });

  it('answers OPTIONS with 204 and Allow', async () => {
    const res = await fetch(`${api.url}/torrent/${UNKNOWN_HASH}`, { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    expect(res.headers.get('allow')).toBe('GET, PATCH, DELETE, HEAD, OPTIONS');
  });

  it('answers 400 for a path with broken percent-encoding', async () => {
    const res = await raw(api.port, { path: '/torrent/%zz' });
    expect(res.status).toBe(400);
  });
});

describe('startServer', () => {
  it('serves on an ephemeral port with port 0 and closes', async () => {
    const extra = await startApi();
    expect(extra.port).toBeGreaterThan(0);
    expect(extra.url).toBe(`http://127.0.0.1:${extra.port}`);
    await extra.close();
  });

  it('closes while an event stream is open', async () => {
    const extra = await startApi();
    const res = await fetch(`${extra.url}/events`);
    expect(res.status).toBe(200);
    await extra.close(); // would hang without closing the stream
    await res.body?.cancel().catch(() => undefined);
  });
});
