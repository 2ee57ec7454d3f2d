#!/usr/bin/env python3
"""Compare the datasets of two servers (kvstore or Redis, in any combination).

    .venv/bin/python tools/kvcompare.py HOST:PORT HOST:PORT [--password PW] [--max-diffs N]

First DEBUG DIGEST on both (needs enable-debug-command yes); if the digests differ, or DEBUG is
refused, it walks every database with SCAN and compares each key's type, value (DUMP
payloads decoded with replication.rdb, so different encodings of the same value are equal) and
whether it expires. Prints the differing keys; exits 0 when equal, 1 when not, 2 on errors.
"""

import argparse
import os
import sys

import redis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from replication import rdb  # noqa: E402


def connect(addr, password):
    host, _, port = addr.rpartition(":")
    return redis.Redis(host=host or "127.0.0.1", port=int(port), password=password,
                       protocol=2, socket_timeout=60)


def digest(c):
    try:
        return c.execute_command("DEBUG", "DIGEST")
    except redis.ResponseError:
        return None


def _canonical(type_name, value):
    if type_name in ("set",):
        return sorted(value)
    if type_name in ("hash", "zset"):
        return sorted(value)
    return value


def key_state(c, key):
    payload = c.dump(key)
    if payload is None:
        return None
    type_name, value = rdb.load_dump_payload(payload, strict=False)
    return type_name, _canonical(type_name, value), c.pttl(key) >= 0


def databases(c):
    try:
        return int(c.config_get("databases")["databases"])
    except (redis.ResponseError, KeyError):
        return 16


def compare(a, b, max_diffs=20):
    """[(db, key, what)] of differences (at most max_diffs)."""
    diffs = []
    for db in range(min(databases(a), databases(b))):
        a.execute_command("SELECT", db)
        b.execute_command("SELECT", db)
        seen = set()
        for side in (a, b):
            for key in side.scan_iter(count=1000):
                if key in seen:
                    continue
                seen.add(key)
                sa, sb = key_state(a, key), key_state(b, key)
                if sa != sb:
                    what = ("missing on the second" if sb is None else
                            "missing on the first" if sa is None else
                            "type %s vs %s" % (sa[0], sb[0]) if sa[0] != sb[0] else
                            "expiry differs" if sa[2] != sb[2] else "value differs")
                    diffs.append((db, key, what))
                    if len(diffs) >= max_diffs:
                        return diffs
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("first")
    ap.add_argument("second")
    ap.add_argument("--password", default=None)
    ap.add_argument("--max-diffs", type=int, default=20)
    args = ap.parse_args()
    try:
        a, b = connect(args.first, args.password), connect(args.second, args.password)
        da, db_ = digest(a), digest(b)
        if da is not None and da == db_:
            print("equal (DEBUG DIGEST %s)" % da.decode())
            return 0
        diffs = compare(a, b, args.max_diffs)
    except (redis.RedisError, OSError, rdb.RdbError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    if not diffs:
        print("equal (key by key%s)" % ("" if da is None else "; digests differ only in "
                                        "representation"))
        return 0
    for db, key, what in diffs:
        print("db%d %r: %s" % (db, key, what))
    return 1


if __name__ == "__main__":
    sys.exit(main())
