#!/usr/bin/env python3
"""Per-operation cost of HSET and ZADD as one collection grows (10 ... 1,000,000 elements),
for kvstore and a real redis-server side by side.

    .venv/bin/python tools/collection_curve.py [--sizes 10,1000,100000,1000000]
    .venv/bin/python tools/collection_curve.py --ranks [--members 1000000]
    .venv/bin/python tools/collection_curve.py --picks [--members 1000000]

At each size it rewrites `--probe` random existing elements with redis-benchmark (50
connections, pipeline 16 unless --pipeline) and reports microseconds per operation
(1 / throughput); the claim to check is that a 1M-element collection costs about what a
10-element one does (per-element records, O(log n))."""

import argparse
import os
import sys

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark import Server  # noqa: E402


def fill(port, cmd, key, start, stop, batch=5000):
    c = redis.Redis(port=port, protocol=2)
    p = c.pipeline(transaction=False)
    for i in range(start, stop):
        if cmd == "hset":
            p.hset(key, "f%012d" % i, "v")
        else:
            p.zadd(key, {"m%012d" % i: i % 1000003})
        if (i - start + 1) % batch == 0:
            p.execute()
    p.execute()


def probe(port, cmd, key, size, n, clients=50, pipeline=16):
    """Microseconds per op for n writes to random existing elements of a collection of
    `size` (redis-benchmark, `clients` connections, `pipeline`, -r size: the collection
    keeps its size): the server's cost, not a Python client's."""
    import re
    import subprocess
    tail = ["hset", key, "f__rand_int__", "v"] if cmd == "hset" else \
        ["zadd", key, "__rand_int__", "m__rand_int__"]
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "-c", str(clients),
                          "-P", str(pipeline), "-r", str(size), "-q", "--csv"] + tail,
                         capture_output=True, text=True, timeout=600).stdout
    m = re.search(r'"[^"]*","([0-9.]+)"', out)
    return 1e6 / float(m.group(1))


RANK_QUERIES = (
    ("ZRANK z m0000010", ["ZRANK", "z", "m0000010"]),
    ("ZRANK z m0500000", ["ZRANK", "z", "m0500000"]),
    ("ZRANK z m0999990", ["ZRANK", "z", "m0999990"]),
    ("ZREVRANK z m0500000", ["ZREVRANK", "z", "m0500000"]),
    ("ZRANGE z 700000 700004", ["ZRANGE", "z", "700000", "700004"]),
    ("ZCOUNT z 1000 900000", ["ZCOUNT", "z", "1000", "900000"]),
    ("ZCOUNT z -inf +inf", ["ZCOUNT", "z", "-inf", "+inf"]),
    ("ZLEXCOUNT w [m0200000 (m0800000", ["ZLEXCOUNT", "w", "[m0200000", "(m0800000"]),
    ("ZRANGEBYLEX w [m0600000 + LIMIT 0 5",
     ["ZRANGEBYLEX", "w", "[m0600000", "+", "LIMIT", "0", "5"]),
)


PICK_QUERIES = (
    ("SRANDMEMBER s", ["SRANDMEMBER", "s"]),
    ("SRANDMEMBER s 5", ["SRANDMEMBER", "s", "5"]),
    ("SRANDMEMBER s -5", ["SRANDMEMBER", "s", "-5"]),
    ("SPOP s", ["SPOP", "s"]),
    ("SPOP s 5", ["SPOP", "s", "5"]),
    ("HRANDFIELD h", ["HRANDFIELD", "h"]),
    ("HRANDFIELD h 5 WITHVALUES", ["HRANDFIELD", "h", "5", "WITHVALUES"]),
)


def fill_zsets(c, members):
    """zset z: score i, member m<i>; zset w: the same members, all score 0."""
    for start in range(0, members, 2000):
        stop = min(members, start + 2000)
        c.execute_command("ZADD", "z", *[x for i in range(start, stop) for x in (i, "m%07d" % i)])
        c.execute_command("ZADD", "w", *[x for i in range(start, stop) for x in (0, "m%07d" % i)])


def fill_set_and_hash(c, members):
    """set s: members m<i>; hash h: fields f<i> with value i."""
    for start in range(0, members, 2000):
        stop = min(members, start + 2000)
        c.execute_command("SADD", "s", *["m%07d" % i for i in range(start, stop)])
        c.execute_command("HSET", "h", *[x for i in range(start, stop) for x in ("f%07d" % i, i)])


def timed_queries(members, fill_fn, queries, same_replies, repeat=50):
    """Milliseconds per query (one client, round trip included) on data made by
    fill_fn(client, members), kvstore and redis-server side by side; with `same_replies`
    both servers must answer alike (random picks cannot)."""
    import time
    print("| query (%d elements) | kvstore ms | redis ms |" % members)
    print("|---|---|---|")
    servers = {k: Server(k, "everysec") for k in ("kvstore", "redis")}
    try:
        clients = {k: redis.Redis(port=s.port, protocol=2) for k, s in servers.items()}
        for c in clients.values():
            fill_fn(c, members)
        for label, cmd in queries:
            row = {}
            replies = set()
            for kind, c in clients.items():
                t0 = time.perf_counter()
                for _ in range(repeat):
                    reply = c.execute_command(*cmd)
                row[kind] = (time.perf_counter() - t0) / repeat * 1e3
                replies.add(repr(reply))
            assert len(replies) == 1 or not same_replies, (label, replies)
            print("| %s | %.3f | %.3f |" % (label, row["kvstore"], row["redis"]), flush=True)
    finally:
        for s in servers.values():
            s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10,1000,100000,1000000")
    ap.add_argument("--probe", type=int, default=20000)
    ap.add_argument("--commands", default="hset,zadd")
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--ranks", action="store_true",
                    help="time rank, count and lex queries in one big zset instead")
    ap.add_argument("--picks", action="store_true",
                    help="time random picks (SRANDMEMBER, SPOP, HRANDFIELD) in one big set "
                         "and one big hash instead")
    ap.add_argument("--members", type=int, default=1000000)
    args = ap.parse_args()
    if args.ranks:
        timed_queries(args.members, fill_zsets, RANK_QUERIES, True)
        return
    if args.picks:
        timed_queries(args.members, fill_set_and_hash, PICK_QUERIES, False)
        return
    sizes = [int(x) for x in args.sizes.split(",")]
    print("| command | elements | kvstore us/op | redis us/op |")
    print("|---|---|---|---|")
    for cmd in args.commands.split(","):
        servers = {k: Server(k, "everysec") for k in ("kvstore", "redis")}
        try:
            counts = {k: 0 for k in servers}
            for size in sizes:
                row = {}
                for kind, srv in servers.items():
                    if counts[kind] < size:
                        fill(srv.port, cmd, "c", counts[kind], size)
                        counts[kind] = size
                    row[kind] = probe(srv.port, cmd, "c", size, args.probe,
                                      pipeline=args.pipeline)
                print("| %s | %d | %.1f | %.1f |" % (cmd.upper(), size, row["kvstore"],
                                                     row["redis"]), flush=True)
        finally:
            for s in servers.values():
                s.stop()


if __name__ == "__main__":
    main()
