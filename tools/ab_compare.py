#!/usr/bin/env python3
"""Interleaved A/B rounds: kvstore checkouts and redis-server under the same redis-benchmark
loads, every server started afresh each round, in turn. Prints each variant's median ops/s
and the median of its per-round ratios to redis-server. This VM's speed drifts by a third
within an hour, so a change is judged by ratios taken minutes apart, round by round, not by
two single runs.

    git worktree add --detach /tmp/before HEAD~1
    .venv/bin/python tools/ab_compare.py --rounds 3 --tests set:1,set:16 before=/tmp/before now=.
    .venv/bin/python tools/ab_compare.py --fsync always --tests set:1 now=.

redis-server runs with appendonly yes and the same appendfsync (tools/benchmark.py's Server).
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark import Server, redis_benchmark  # noqa: E402

REDIS = "redis-server"


def run_rounds(variants, tests, rounds, fsync, clients, requests, requests_p1, keyspace):
    """{(label, test): [ops/s per round]} for variants {label: checkout path or None for
    redis-server} and tests [(name, pipeline)]."""
    results = {}
    for _ in range(rounds):
        for label, root in variants.items():
            srv = Server("redis" if root is None else "kvstore", fsync,
                         **({} if root is None else {"root": root}))
            try:
                for name, pipeline in tests:
                    n = requests if pipeline > 1 else requests_p1
                    ops = redis_benchmark(srv.port, name, pipeline, clients, n, keyspace)
                    results.setdefault((label, (name, pipeline)), []).append(ops)
            finally:
                srv.stop()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("variants", nargs="+", metavar="LABEL=PATH",
                    help="a kvstore checkout to run (a git worktree, or . for this one)")
    ap.add_argument("--tests", default="set:1,get:1,set:16,get:16",
                    help="redis-benchmark tests as name:pipeline")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fsync", default="everysec")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=300000, help="per pipelined test")
    ap.add_argument("--requests-p1", type=int, default=60000, help="per pipeline-1 test")
    ap.add_argument("--keyspace", type=int, default=0, help="redis-benchmark -r (0: none)")
    args = ap.parse_args()
    variants = {}
    for spec in args.variants:
        label, sep, path = spec.partition("=")
        if not sep or not os.path.isdir(os.path.join(path, "kvstore")):
            ap.error("%r: expected LABEL=PATH of a kvstore checkout" % spec)
        variants[label] = os.path.abspath(path)
    variants[REDIS] = None
    tests = []
    for spec in args.tests.split(","):
        name, _, pipeline = spec.partition(":")
        tests.append((name, int(pipeline or 1)))
    results = run_rounds(variants, tests, args.rounds, args.fsync, args.clients, args.requests,
                         args.requests_p1, args.keyspace)
    print("| test | pipeline | " + " | ".join(
        "%s ops/s (ratio)" % label for label in variants) + " |")
    print("|---|---|" + "---|" * len(variants))
    for test in tests:
        base = results[(REDIS, test)]
        cells = []
        for label in variants:
            ops = results[(label, test)]
            ratio = statistics.median(a / b for a, b in zip(ops, base))
            cells.append("%.0f (%.2f)" % (statistics.median(ops), ratio))
        print("| %s | %d | %s |" % (test[0].upper(), test[1], " | ".join(cells)), flush=True)


if __name__ == "__main__":
    main()
