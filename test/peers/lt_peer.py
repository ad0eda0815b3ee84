#!/usr/bin/python3
"""A real libtorrent peer on 127.0.0.1 for spritzle's tests (Debian python3-libtorrent 2.x).

  lt_peer.py seed TORRENT --save-path DIR [--port 0] [--tracker URL]... [--peer 127.0.0.1:P]... [--seed-mode]
      Hash-checks DIR/<name> (skipped with --seed-mode), prints exactly one stdout line
      `READY <port>` once seeding (with trackers: after the first announce answer, max 10 s),
      serves until SIGTERM/SIGINT, then prints
      {"uploaded": <payload bytes>, "peers_seen": [{"endpoint", "peer_id", "client", "encryption"}...]}
      (encryption: "rc4", "plaintext" (MSE handshake, plaintext payload) or "" as libtorrent's peer_info says)
      and exits 0.  Exit 3 if the data is incomplete after checking (or on a storage error).
      --peer makes the seed dial that peer (re-dialled every second until connected).

  lt_peer.py get TORRENT_OR_MAGNET --save-path DIR [--peer 127.0.0.1:P]... [--port 0] [--timeout 120]
      Prints `LISTEN <port>` first, dials every --peer (again every second while not
      connected), and when the download is complete prints
      {"ok": true, "seconds", "bytes", "hash_failures", "info_hash", "peer_encryption", ...} and exits 0.
      Timeout: {"ok": false, "error": "timeout", ...}, exit 2.  Storage/torrent error: exit 3.
      SIGTERM/SIGINT: {"ok": false, "error": "interrupted", ...}, exit 1.

Both modes: listen on 127.0.0.1 only, TCP only (--transport utp: uTP only, libtorrent's TCP off in both
directions; --transport both: either), plaintext outgoing (incoming: plaintext or
MSE/PE; --encryption changes that: `enabled` tries MSE both ways and falls back, `forced` is
pe_forced both ways with RC4 payload only, `refuse` is plaintext only both ways), no DHT/LSD/UPnP/NAT-PMP, unlimited unchoke slots, several connections per IP allowed
(every loopback peer is 127.0.0.1).  Any peer, tracker or web-seed URL that is not on
127.0.0.1 is refused with exit 64 before a session exists; trackers and web seeds in the
torrent/magnet are used (they are on 127.0.0.1 then), DHT nodes are dropped.
--stdin-lifeline: stop (as on SIGTERM) when stdin reaches EOF, i.e. when the parent that
holds the pipe dies.  The TypeScript wrappers pass it so that no peer outlives its test run.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from urllib.parse import urlsplit

import libtorrent as lt

LOOPBACK = "127.0.0.1"
EXIT_TIMEOUT, EXIT_ERROR, EXIT_REFUSED = 2, 3, 64


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def out(line):
    print(line, flush=True)


def refuse(what):
    log(f"lt_peer: refusing {what}: only {LOOPBACK} is allowed")
    sys.exit(EXIT_REFUSED)


def parse_peer(s):
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        log(f"lt_peer: bad peer {s!r}, expected {LOOPBACK}:PORT")
        sys.exit(EXIT_REFUSED)
    if host != LOOPBACK:
        refuse(f"peer {s!r}")
    return host, int(port)


def check_url(url, kind):
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if host != LOOPBACK:
        refuse(f"{kind} {url!r}")


ENCRYPTION = {
    # name: (out_enc_policy, in_enc_policy, allowed_enc_level, prefer_rc4)
    "plaintext": ("pe_disabled", "pe_enabled", "pe_both", False),
    "enabled": ("pe_enabled", "pe_enabled", "pe_both", False),
    "forced": ("pe_forced", "pe_forced", "pe_rc4", True),
    "refuse": ("pe_disabled", "pe_disabled", "pe_both", False),
}


def encryption_of(p):
    """libtorrent's peer_info flags as one word."""
    if p.flags & lt.peer_info.rc4_encrypted:
        return "rc4"
    if p.flags & lt.peer_info.plaintext_encrypted:
        return "plaintext"
    return ""


def session_settings(port, get_mode, trackers, encryption="plaintext", transport="tcp"):
    cat = lt.alert.category_t
    mask = cat.error_notification | cat.status_notification | cat.storage_notification
    if not get_mode:
        mask |= cat.connect_notification        # peer_connect/disconnect alerts -> peers_seen
    if trackers:
        mask |= cat.tracker_notification        # tracker_reply_alert -> READY after announce
    s = {
        "listen_interfaces": f"{LOOPBACK}:{port}",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        "dht_bootstrap_nodes": "",
        "enable_outgoing_utp": transport != "tcp",
        "enable_incoming_utp": transport != "tcp",
        "enable_outgoing_tcp": transport != "utp",
        "enable_incoming_tcp": transport != "utp",
        "allow_multiple_connections_per_ip": True,
        "unchoke_slots_limit": -1,
        "out_enc_policy": int(getattr(lt.enc_policy, ENCRYPTION[encryption][0])),
        "in_enc_policy": int(getattr(lt.enc_policy, ENCRYPTION[encryption][1])),
        "allowed_enc_level": int(getattr(lt.enc_level, ENCRYPTION[encryption][2])),
        "prefer_rc4": ENCRYPTION[encryption][3],
        "alert_mask": int(mask),
        "alert_queue_size": 10000,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "stop_tracker_timeout": 1,               # default 5 s would stall exit if the tracker is gone
        "smooth_connects": False,
    }
    if get_mode:
        s["min_reconnect_time"] = 1
    return s


def torrent_params(source):
    """add_torrent_params for a .torrent path or magnet URI; exits 64 on a non-loopback URL."""
    if source.startswith("magnet:"):
        atp = lt.parse_magnet_uri(source)
        for u in atp.trackers:
            check_url(u, "tracker")
        for u in atp.url_seeds:
            check_url(u, "web seed")
        for ep in atp.peers:
            if ep[0] != LOOPBACK:
                refuse(f"magnet peer {ep[0]}:{ep[1]}")
        return atp, list(atp.trackers)
    with open(source, "rb") as f:
        meta = lt.bdecode(f.read())
    if not isinstance(meta, dict) or b"info" not in meta:
        log(f"lt_peer: {source} is not a .torrent file")
        sys.exit(EXIT_ERROR)
    trackers = []
    if meta.get(b"announce-list"):
        trackers = [u.decode() for tier in meta[b"announce-list"] for u in tier]
    elif meta.get(b"announce"):
        trackers = [meta[b"announce"].decode()]
    for u in trackers:
        check_url(u, "tracker")
    seeds = meta.get(b"url-list") or []
    if isinstance(seeds, bytes):
        seeds = [seeds] if seeds else []
    for u in seeds + list(meta.get(b"httpseeds") or []):
        check_url(u.decode(), "web seed")
    meta.pop(b"nodes", None)                      # DHT is off anyway
    # trackers are handed over explicitly below, after the check (the info dict is untouched)
    for k in (b"announce", b"announce-list"):
        meta.pop(k, None)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(lt.bencode(meta))
    return atp, trackers


class Stopper:
    def __init__(self, lifeline):
        self.flag = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        if lifeline:
            threading.Thread(target=self._watch_stdin, daemon=True).start()

    def _on_signal(self, *_):
        self.flag = True

    def _watch_stdin(self):
        # os.read on the raw fd: a daemon thread blocked in sys.stdin.buffer.read() holds
        # the buffer's lock and makes interpreter shutdown abort ("_enter_buffered_busy")
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        self.flag = True


def wait_listen(ses, stopper):
    """The listen socket is opened asynchronously: wait for the alert to learn the port."""
    t0 = time.monotonic()
    while not stopper.flag and time.monotonic() - t0 < 10:
        ses.wait_for_alert(100)
        for al in ses.pop_alerts():
            if isinstance(al, lt.listen_failed_alert):
                log(f"lt_peer: {al.message()}")
                sys.exit(EXIT_ERROR)
            if isinstance(al, lt.listen_succeeded_alert) and al.socket_type in (lt.socket_type_t.tcp, lt.socket_type_t.utp):
                return al.port
    port = ses.listen_port()
    if not port:
        log("lt_peer: no listen socket")
        sys.exit(EXIT_ERROR)
    return port


def payload_size(ti):
    fs = ti.files()
    return sum(fs.file_size(i) for i in range(fs.num_files())
               if not fs.file_flags(i) & lt.file_storage.flag_pad_file)


class Dialer:
    """Dial the explicit peers and re-dial, once a second, those we are not connected to."""

    def __init__(self, handle, peers):
        self.h, self.peers, self.last = handle, peers, 0.0

    def tick(self, force=False):
        now = time.monotonic()
        if not self.peers or (not force and now - self.last < 1.0):
            return
        self.last = now
        connected = {tuple(p.ip) for p in self.h.get_peer_info()
                     if not p.flags & lt.peer_info.connecting}
        for ep in self.peers:
            if ep not in connected:
                self.h.connect_peer(ep)


def pid_hex(pid):
    s = str(pid)
    return "" if s == "0" * 40 else s


def run_seed(a, stopper):
    peers = [parse_peer(p) for p in a.peer]
    for u in a.tracker:
        check_url(u, "tracker")
    atp, trackers = torrent_params(a.torrent)
    trackers = list(dict.fromkeys(a.tracker + trackers))
    ses = lt.session(session_settings(a.port, False, trackers, a.encryption, a.transport))
    port = wait_listen(ses, stopper)
    atp.save_path = os.path.abspath(a.save_path)
    atp.trackers = trackers
    atp.flags = lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
    if a.seed_mode:
        atp.flags |= lt.torrent_flags.seed_mode
    h = ses.add_torrent(atp)
    ti = h.torrent_file()

    seen = {}

    def note(endpoint, pid=None, client=None, encryption=""):
        key = f"{endpoint[0]}:{endpoint[1]}"
        if key == f"{LOOPBACK}:{port}":
            return      # itself: a tracker hands the seed its own address back
        e = seen.setdefault(key, {"endpoint": key, "peer_id": "", "client": "", "encryption": ""})
        if encryption:
            e["encryption"] = encryption
        if pid is not None and pid_hex(pid):
            e["peer_id"] = pid_hex(pid)
            if not e["client"]:
                e["client"] = lt.identify_client(pid)
        if isinstance(client, bytes):       # peer_info.client is bytes in these bindings
            client = client.decode("utf-8", "replace")
        if client:
            e["client"] = client

    def handle(al):
        if isinstance(al, (lt.torrent_error_alert, lt.file_error_alert)):
            log(f"lt_peer: {al.message()}")
            sys.exit(EXIT_ERROR)
        if isinstance(al, (lt.peer_connect_alert, lt.peer_disconnected_alert)):
            note(tuple(al.endpoint), al.pid)

    # 1. hash check (or seed mode) until seeding
    t0 = time.monotonic()
    checked_at = None
    while True:
        if stopper.flag:
            sys.exit(0)
        for al in ses.pop_alerts():
            handle(al)
            if isinstance(al, lt.torrent_checked_alert) and checked_at is None:
                checked_at = time.monotonic()
        st = h.status()
        if st.is_seeding and st.state == lt.torrent_status.seeding:
            break
        # the checked alert can be popped a moment before status() settles
        if checked_at is not None and time.monotonic() - checked_at > 1.0 and st.state not in (
                lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
            log(f"lt_peer: data incomplete after hash check: {st.num_pieces}/{ti.num_pieces()} pieces "
                f"of {ti.name()!r} under {atp.save_path}")
            sys.exit(EXIT_ERROR)
        if time.monotonic() - t0 > 600:
            log("lt_peer: hash check did not finish in 600 s")
            sys.exit(EXIT_ERROR)
        ses.wait_for_alert(50)

    # 2. with trackers: let the first announce be answered, so READY means "announced"
    if trackers:
        h.force_reannounce()
        t_ann = time.monotonic()
        answered = False
        while not answered and not stopper.flag and time.monotonic() - t_ann < 10:
            ses.wait_for_alert(100)
            for al in ses.pop_alerts():
                handle(al)
                if isinstance(al, (lt.tracker_reply_alert, lt.tracker_error_alert)):
                    answered = True
                    if isinstance(al, lt.tracker_error_alert):
                        log(f"lt_peer: {al.message()}")
        if not answered:
            log("lt_peer: no tracker answer within 10 s")
    out(f"READY {port}")

    # 3. serve
    dialer = Dialer(h, peers)
    dialer.tick(force=True)
    last_poll = 0.0
    while not stopper.flag:
        ses.wait_for_alert(200)
        for al in ses.pop_alerts():
            handle(al)
        now = time.monotonic()
        if now - last_poll >= 0.25:
            last_poll = now
            for p in h.get_peer_info():
                note(tuple(p.ip), p.pid, p.client, encryption_of(p))
        dialer.tick()

    st = h.status()
    for p in h.get_peer_info():
        note(tuple(p.ip), p.pid, p.client, encryption_of(p))
    out(json.dumps({"uploaded": st.total_payload_upload, "peers_seen": list(seen.values())}))
    ses.pause()
    del h
    del ses
    sys.exit(0)


def run_get(a, stopper):
    peers = [parse_peer(p) for p in a.peer]
    atp, trackers = torrent_params(a.source)
    is_magnet = a.source.startswith("magnet:")
    if is_magnet and not peers and not trackers and not atp.peers:
        log("lt_peer: a magnet needs a --peer (no DHT here)")
        sys.exit(EXIT_REFUSED)
    ses = lt.session(session_settings(a.port, True, trackers, a.encryption, a.transport))
    port = wait_listen(ses, stopper)
    out(f"LISTEN {port}")
    os.makedirs(a.save_path, exist_ok=True)
    atp.save_path = os.path.abspath(a.save_path)
    atp.trackers = trackers
    atp.flags = lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex

    hash_failures = 0
    error = None
    t0 = time.monotonic()
    h = ses.add_torrent(atp)
    dialer = Dialer(h, peers)
    dialer.tick(force=True)
    exit_code = 0
    peer_encryption = set()
    while True:
        if stopper.flag:
            error, exit_code = "interrupted", 1
            break
        if time.monotonic() - t0 > a.timeout:
            error, exit_code = "timeout", EXIT_TIMEOUT
            break
        ses.wait_for_alert(100)
        for al in ses.pop_alerts():
            if isinstance(al, lt.hash_failed_alert):
                hash_failures += 1
            elif isinstance(al, (lt.torrent_error_alert, lt.file_error_alert)):
                error = al.message()
        if error:
            exit_code = EXIT_ERROR
            break
        st = h.status()
        ti = h.torrent_file()
        # status-based, so that data that is already complete on disk also counts
        if ti is not None and st.has_metadata and st.is_finished and st.num_pieces == ti.num_pieces() \
                and st.state not in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
            break
        for p in h.get_peer_info():
            # only once the BitTorrent handshake is in (its peer id known): the encryption is settled then
            if not p.flags & (lt.peer_info.connecting | lt.peer_info.handshake) and pid_hex(p.pid):
                peer_encryption.add(encryption_of(p))
        dialer.tick()
    seconds = time.monotonic() - t0

    st = h.status()
    ti = h.torrent_file()
    result = {
        "ok": error is None,
        "seconds": round(seconds, 4),
        "bytes": payload_size(ti) if ti is not None else 0,
        "hash_failures": hash_failures,
        "info_hash": str(h.info_hashes().v1),
        "downloaded": st.total_payload_download,
        "pieces": ti.num_pieces() if ti is not None else 0,
        "pieces_have": st.num_pieces,
        "version": lt.__version__,
        "peer_encryption": sorted(peer_encryption),
    }
    if error:
        result["error"] = error
    # tear the session down first so that every byte is in the files when the JSON appears
    ses.pause()
    ses.remove_torrent(h)
    del h
    del ses
    out(json.dumps(result))
    sys.exit(exit_code)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)

    def common(p):
        p.add_argument("--save-path", required=True, help="folder that holds (or gets) the torrent's name")
        p.add_argument("--port", type=int, default=0, help=f"listen port on {LOOPBACK} (0 = any free one)")
        p.add_argument("--peer", action="append", default=[], metavar=f"{LOOPBACK}:PORT",
                       help="dial this peer, re-dialled every second until connected (repeatable)")
        p.add_argument("--stdin-lifeline", action="store_true", help="stop when stdin reaches EOF")
        p.add_argument("--transport", choices=("tcp", "utp", "both"), default="tcp",
                       help="tcp (default), utp (libtorrent's TCP off both ways) or both")
        p.add_argument("--encryption", choices=sorted(ENCRYPTION), default="plaintext",
                       help="MSE/PE policy (default: plaintext outgoing, either incoming)")

    s = sub.add_parser("seed", help="seed complete data")
    s.add_argument("torrent")
    s.add_argument("--tracker", action="append", default=[], help=f"announce here too ({LOOPBACK} only)")
    s.add_argument("--seed-mode", action="store_true", help="trust the data, skip the hash check")
    common(s)
    g = sub.add_parser("get", help="download")
    g.add_argument("source", help=".torrent path or magnet URI")
    g.add_argument("--timeout", type=float, default=120)
    common(g)
    a = ap.parse_args()
    if a.mode == "seed" and a.torrent.startswith("magnet:"):
        ap.error("seed needs a .torrent file, not a magnet")
    stopper = Stopper(a.stdin_lifeline)
    if a.mode == "seed":
        run_seed(a, stopper)
    else:
        run_get(a, stopper)


if __name__ == "__main__":
    main()
