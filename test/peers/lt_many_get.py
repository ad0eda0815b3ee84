#!/usr/bin/python3
"""A libtorrent downloader of many torrents in turn, for spritzle's file-pool tests.

  lt_many_get.py TORRENT... --save-path DIR --peer 127.0.0.1:P [--timeout 30] [--parallel 1] [--stdin-lifeline]

One libtorrent session downloads each TORRENT from the peer in turn, --parallel of them at a time: add it,
dial the peer, wait until it is complete, remove it (its connection closes), next. So the peer serves from
that many different torrents in turn (libtorrent dials from its once-a-second tick, hence --parallel). Prints `LISTEN <port>` first, then one line at the end:
  {"ok": <torrents complete>, "failed": [{"torrent", "error"}...], "seconds": ...}
and exits 0 if every torrent completed, 3 otherwise. The same loopback-only rules as lt_peer.py.
"""
import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # importing lt_peer must not leave a __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lt_peer  # noqa: E402  (the settings, the loopback checks and the lifeline are shared)
from lt_peer import lt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("torrents", nargs="+")
    ap.add_argument("--save-path", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--timeout", type=float, default=30, help="seconds per torrent")
    ap.add_argument("--parallel", type=int, default=1, help="torrents downloading at the same time")
    ap.add_argument("--stdin-lifeline", action="store_true")
    a = ap.parse_args()
    peer = lt_peer.parse_peer(a.peer)
    stopper = lt_peer.Stopper(a.stdin_lifeline)
    ses = lt.session(lt_peer.session_settings(0, True, []))
    port = lt_peer.wait_listen(ses, stopper)
    lt_peer.out(f"LISTEN {port}")
    os.makedirs(a.save_path, exist_ok=True)
    ok, failed = 0, []
    t0 = time.monotonic()
    queue = list(a.torrents)
    active = {}  # v1 info-hash -> [handle, path, started, dialer]
    while queue or active:
        while queue and len(active) < a.parallel and not stopper.flag:
            path = queue.pop(0)
            atp, _ = lt_peer.torrent_params(path)
            atp.save_path = os.path.abspath(a.save_path)
            atp.flags = lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex
            h = ses.add_torrent(atp)
            dialer = lt_peer.Dialer(h, [peer])
            dialer.tick(force=True)
            active[str(h.info_hashes().v1)] = [h, path, time.monotonic(), dialer]
        if stopper.flag:
            for path in queue + [v[1] for v in active.values()]:
                failed.append({"torrent": path, "error": "interrupted"})
            break
        ses.wait_for_alert(50)
        errors = {}
        for al in ses.pop_alerts():
            if isinstance(al, (lt.torrent_error_alert, lt.file_error_alert)):
                errors[str(al.handle.info_hashes().v1)] = al.message()
        for key, (h, path, started, dialer) in list(active.items()):
            error = errors.get(key)
            if error is None and time.monotonic() - started > a.timeout:
                error = "timeout"
            st = h.status()
            done = st.is_finished and st.state not in (lt.torrent_status.checking_files,
                                                       lt.torrent_status.checking_resume_data)
            if error is None and not done:
                dialer.tick()
                continue
            del active[key]
            ses.remove_torrent(h)
            if error:
                failed.append({"torrent": path, "error": error})
            else:
                ok += 1
    ses.pause()
    del ses
    lt_peer.out(json.dumps({"ok": ok, "failed": failed, "seconds": round(time.monotonic() - t0, 3)}))
    sys.exit(0 if not failed else lt_peer.EXIT_ERROR)


if __name__ == "__main__":
    main()
