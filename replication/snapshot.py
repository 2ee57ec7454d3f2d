"""Consistent snapshots of a kvstore environment for full syncs and SAVE/BGSAVE.

A snapshot is one LMDB read transaction: the data, the replication ids and the log offset all
come from the same committed state, so the stream after the snapshot starts exactly at
`offset + 1`. It runs in a helper process (`python -m replication.snapshot`), which opens the
same environment read-only (LMDB is multi-process safe), so encoding never stalls the server.

Helper protocol (stdout): first one header line
    KVSNAP <replid> <offset> <stream db> <format>\\n
written as soon as the read transaction is open (the server sends +FULLRESYNC from it), then
the payload: to stdout when `--out -`, else into the file given (written to a temporary name,
fsynced, renamed); a last line `DONE <bytes>\\n` follows on stdout in file mode.

Formats: `rdb` = an RDB of version 9 with the plain type encodings (0, 1, 2, 4, 5) that every
Redis from 6.0 on and Valkey load, with the aux fields `repl-stream-db`, `repl-id` and
`repl-offset` so a restarted Redis replica can partial-resync; `native` = LMDB's compacted copy
of the whole environment (between kvstore nodes).
"""

import argparse
import os
import sys
import time

import lmdb

from kvstore.keyspace import HDR, Keyspace, record_key
from kvstore.storage import (ENV_DIRNAME, NO_REPLID, read_dbmap, read_repl_ids,
                             read_repl_position)
from replication.rdb import RdbWriter

SNAPSHOT_RDB_VERSION = 9
_REDIS_VERSION = "7.0.15"


class SnapshotView:
    """What Keyspace needs of a Storage, read from one read transaction of the environment."""

    def __init__(self, env, txn, databases):
        self.env = env
        self.meta_db = env.open_db(b"meta", txn=txn, create=False)
        self.expires_db = env.open_db(b"expires", txn=txn, create=False)
        self.elems_db = env.open_db(b"elems", txn=txn, create=False)
        sys_db = env.open_db(b"sys", txn=txn, create=False)
        self.dbmap = read_dbmap(txn, sys_db)[:databases]
        self.prefixes = [p.to_bytes(4, "big") for p in self.dbmap]
        log_db = env.open_db(b"log", txn=txn, create=False)
        self.offset, stream_db = read_repl_position(txn, sys_db, log_db)
        # No SELECT logged yet: the next keyed write will log one, so any db is right.
        self.stream_db = max(stream_db, 0)
        ids = read_repl_ids(txn, sys_db)
        self.replid = ids[0] if ids else NO_REPLID


def write_rdb(view, txn, out, now_s=None, checksum=True):
    """Write the whole dataset of `txn` as an RDB to `out` (a binary file object); returns the
    byte count. Logically expired keys are included (the replica deletes them when the
    primary's DEL arrives, as with Redis). `checksum`: the server's rdbchecksum. Strings are
    never LZF-compressed (rdbcompression is not applied: replication/lzf.py, pure Python,
    compresses 0.2-0.7 s per MB, which would make full syncs crawl)."""
    w = RdbWriter(out, version=SNAPSHOT_RDB_VERSION, checksum=checksum)
    w.aux("redis-ver", _REDIS_VERSION)
    w.aux("redis-bits", 64)
    w.aux("ctime", int(now_s if now_s is not None else time.time()))
    w.aux("used-mem", 0)
    w.aux("repl-stream-db", view.stream_db)
    w.aux("repl-id", view.replid)
    w.aux("repl-offset", view.offset)
    w.aux("aof-base", 0)
    ks = Keyspace(view, txn)
    for db in range(len(view.dbmap)):
        prefix = view.prefixes[db]
        ks.select(db)
        started = False
        for tk, rec in ks.iter_keys(prefix=prefix, include_expired=True):
            if not started:
                w.select_db(db)
                started = True
            type_name, value = ks.read_value(rec)
            exp = HDR.unpack_from(rec)[1]
            w.key(record_key(tk, rec), type_name, value, exp or None)
    w.finish()
    return w.bytes_written


def open_env(directory, max_readers):
    return lmdb.open(os.path.join(directory, ENV_DIRNAME), readonly=True, lock=True,
                     max_dbs=8, max_readers=max_readers, readahead=False, subdir=True)


def _write_payload(env, view, txn, fmt, out, checksum):
    if fmt == "native":
        out.flush()
        before = os.lseek(out.fileno(), 0, os.SEEK_CUR) if out.seekable() else None
        env.copyfd(out.fileno(), compact=True, txn=txn)
        if before is not None:
            return os.lseek(out.fileno(), 0, os.SEEK_CUR) - before
        return -1
    n = write_rdb(view, txn, out, checksum=checksum)
    out.flush()
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write a consistent snapshot of a kvstore "
                                 "data directory (used by the server for full syncs and saves).")
    ap.add_argument("--dir", required=True, help="the server's data directory")
    ap.add_argument("--format", choices=("rdb", "native"), default="rdb")
    ap.add_argument("--out", default="-", help="output file, or - for stdout")
    ap.add_argument("--databases", type=int, default=16)
    ap.add_argument("--max-readers", type=int, default=1024)
    ap.add_argument("--rdbchecksum", choices=("yes", "no"), default="yes",
                    help="end an RDB with its CRC64 (no: 0, which loaders accept unchecked)")
    ap.add_argument("--nice", type=int, default=10,
                    help="lower this process's CPU priority by this much (a snapshot is "
                    "background work: the server's own writes come first)")
    args = ap.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    stdout = sys.stdout.buffer
    env = open_env(args.dir, args.max_readers)
    txn = env.begin(buffers=False)
    try:
        view = SnapshotView(env, txn, args.databases)
        stdout.write(b"KVSNAP %s %d %d %s\n" % (view.replid.encode(), view.offset,
                                                 view.stream_db, args.format.encode()))
        stdout.flush()
        checksum = args.rdbchecksum == "yes"
        if args.out == "-":
            _write_payload(env, view, txn, args.format, stdout, checksum)
            return 0
        tmp = "%s.tmp-%d" % (args.out, os.getpid())
        try:
            with open(tmp, "wb") as f:
                _write_payload(env, view, txn, args.format, f, checksum)
                f.flush()
                os.fsync(f.fileno())
                size = f.tell()
            os.rename(tmp, args.out)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        dfd = os.open(os.path.dirname(os.path.abspath(args.out)), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        stdout.write(b"DONE %d\n" % size)
        stdout.flush()
        return 0
    finally:
        txn.abort()
        env.close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(1)
