#!/usr/bin/python3
"""libtorrent's create_torrent as a reference for spritzle's tests (Debian python3-libtorrent 2.x).

  lt_create.py PATH PIECE_SIZE MODE...     MODE: v2 | hybrid | v1

Reads PATH (a file or a directory) as libtorrent's add_files does, and prints one JSON line per MODE:
{"mode", "info": hex of the bencoded info dict, "piece_layers": {root hex: layer hex},
 "v1": v1 info-hash hex or null, "v2": v2 info-hash hex or null, "torrent": hex of the .torrent,
 "files": [[path, size, offset, is_pad], ...] as libtorrent loads the .torrent}.
No creation date, creator or trackers: only what the files, piece size and flags decide.
"""
import json
import os
import sys

import libtorrent as lt


def main():
    path, piece_size, modes = os.path.abspath(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    flags = {'v2': lt.create_torrent.v2_only, 'hybrid': 0, 'v1': lt.create_torrent.v1_only}
    for mode in modes:
        fs = lt.file_storage()
        lt.add_files(fs, path)
        ct = lt.create_torrent(fs, piece_size, flags=flags[mode])
        lt.set_piece_hashes(ct, os.path.dirname(path))
        e = ct.generate()
        e.pop(b'creation date', None)
        e.pop(b'created by', None)
        ti = lt.torrent_info(lt.bencode(e))
        ih = ti.info_hashes()
        fs = ti.files()
        files = [[fs.file_path(i), fs.file_size(i), fs.file_offset(i), bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)]
                 for i in range(fs.num_files())]
        print(json.dumps({
            'mode': mode,
            'info': lt.bencode(e[b'info']).hex(),
            'piece_layers': {k.hex(): v.hex() for k, v in e.get(b'piece layers', {}).items()},
            'v1': str(ih.v1) if ih.has_v1() else None,
            'v2': str(ih.v2) if ih.has_v2() else None,
            'torrent': lt.bencode(e).hex(),
            'files': files,
        }), flush=True)


if __name__ == '__main__':
    main()
