#!/usr/bin/env python3
"""Print kvstore's on-disk replication log: one line per command, with its stream offset.

    .venv/bin/python tools/kvlog.py DATA_DIR [--from OFFSET] [--raw]

DATA_DIR is the server's `dir` (holding kvstore.lmdb/). Safe while the server runs (LMDB
readers never block the writer). --raw writes the RESP bytes unchanged to stdout.
"""

import argparse
import os
import sys

import lmdb

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kvstore.resp import RequestParser  # noqa: E402
from kvstore.storage import ENV_DIRNAME, iter_log_table  # noqa: E402


def read_commands(data_dir, from_offset=None):
    """[(offset, [args...])] of the log from `from_offset` (default: the oldest byte held)."""
    env = lmdb.open(os.path.join(data_dir, ENV_DIRNAME), readonly=True, max_dbs=8)
    try:
        log_db = env.open_db(b"log", create=False)
        with env.begin() as txn:
            cur = txn.cursor(db=log_db)
            if from_offset is None:
                if not cur.first():
                    return []
                from_offset = int.from_bytes(cur.key(), "big")
            out = []
            parser = RequestParser()
            parser.inline_allowed = False
            offset = from_offset
            for start, data in iter_log_table(txn, log_db, from_offset):
                for cmd in parser.feed(data):
                    size = len(b"*%d\r\n" % len(cmd)) + sum(
                        len(b"$%d\r\n" % len(a)) + len(a) + 2 for a in cmd)
                    out.append((offset, cmd))
                    offset += size
                if parser.error is not None:
                    raise SystemExit("log corrupt near offset %d: %s" % (offset, parser.error))
            return out
    finally:
        env.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir")
    ap.add_argument("--from", dest="from_offset", type=int, default=None)
    ap.add_argument("--raw", action="store_true")
    args = ap.parse_args()
    if args.raw:
        env = lmdb.open(os.path.join(args.data_dir, ENV_DIRNAME), readonly=True, max_dbs=8)
        log_db = env.open_db(b"log", create=False)
        with env.begin() as txn:
            cur = txn.cursor(db=log_db)
            start = args.from_offset or (int.from_bytes(cur.key(), "big") if cur.first() else 1)
            for _, data in iter_log_table(txn, log_db, start):
                sys.stdout.buffer.write(data)
        return
    for offset, cmd in read_commands(args.data_dir, args.from_offset):
        print(offset, " ".join(repr(a)[2:-1] if any(c < 33 or c > 126 for c in a)
                                else a.decode() for a in cmd))


if __name__ == "__main__":
    main()
