#!/usr/bin/env python3
"""Replication benchmarks, kvstore and redis-server side by side in one run.

Scenarios (each prints seconds or rates and the kvstore/redis ratio):
  fullsync   full sync of N keys (DEBUG POPULATE, --value-size bytes):
             redis -> redis (diskless, delay 0), kvstore -> kvstore, kvstore -> redis
  lag        replica lag with the primary at a fixed SET rate (--rate ops/s from
             --clients connections): p50/p99/max lag in ms, sampled by writing a
             timestamp key on the primary and polling it on the replica
  catchup    a replica down for --down seconds under that load: time to catch up vs time
             the load took to produce the backlog
  duringsync SET throughput on the primary (redis-benchmark) alone vs during a full sync

Usage: .venv/bin/python tools/repl_benchmark.py [--keys 1000000] [--scenarios fullsync,...]
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, kind, extra=()):
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="replbench-%s-" % kind)
        common = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                  "--enable-debug-command", "yes", "--logfile",
                  os.path.join(self.dir, "log")]
        if kind == "kvstore":
            cmd = [sys.executable, "-m", "kvstore"] + common
        else:
            cmd = ["redis-server"] + common + ["--save", "", "--appendonly", "no",
                                               "--repl-diskless-sync-delay", "0"]
        self.proc = subprocess.Popen(cmd + list(extra), cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        self.c = redis.Redis(port=self.port, socket_timeout=300)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.c.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def info(self, section="replication"):
        return self.c.info(section)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_synced(primary, replica, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ri = replica.info()
        if ri.get("master_link_status") == "up" and \
                ri["slave_repl_offset"] >= primary.info()["master_repl_offset"]:
            return
        time.sleep(0.02)
    raise RuntimeError("replica did not sync within %ds" % timeout)


def full_sync_seconds(primary, replica_kind, extra=()):
    replica = Node(replica_kind, extra)
    try:
        t0 = time.monotonic()
        replica.c.execute_command("REPLICAOF", "127.0.0.1", primary.port)
        wait_synced(primary, replica)
        secs = time.monotonic() - t0
        assert replica.c.dbsize() == primary.c.dbsize()
        return secs
    finally:
        replica.stop()


def scenario_fullsync(args):
    out = {}
    for kind in ("redis", "kvstore"):
        p = Node(kind)
        try:
            p.c.execute_command("DEBUG", "POPULATE", args.keys, "key", args.value_size)
            if kind == "redis":
                out["redis->redis"] = full_sync_seconds(p, "redis")
            else:
                out["kvstore->kvstore"] = full_sync_seconds(p, "kvstore")
                out["kvstore->redis"] = full_sync_seconds(p, "redis")
        finally:
            p.stop()
    base = out["redis->redis"]
    print("full sync of %d keys (%d-byte values):" % (args.keys, args.value_size))
    for name, secs in out.items():
        print("  %-18s %7.2f s   %5.2fx redis->redis" % (name, secs, secs / base))
    return out


class RateLoad:
    """SETs (64-byte values) at a fixed total rate: each of `clients` threads sends a small
    pipeline every 10 ms (a plain loop of single SETs cannot reach Redis-class rates from
    Python)."""

    TICK = 0.01

    def __init__(self, port, rate, clients=4):
        self.stop = threading.Event()
        self.done = 0
        self.threads = [threading.Thread(target=self._run, args=(port, rate / clients, i),
                                         daemon=True) for i in range(clients)]
        for t in self.threads:
            t.start()

    def _run(self, port, rate, idx):
        c = redis.Redis(port=port)
        n = 0
        t0 = time.monotonic()
        value = "x" * 64
        while not self.stop.is_set():
            due = int((time.monotonic() - t0 + self.TICK) * rate) - n
            if due > 0:
                p = c.pipeline(transaction=False)
                for i in range(n, n + due):
                    p.set("load:%d:%d" % (idx, i % 100000), value)
                p.execute()
                n += due
                self.done += due
            time.sleep(self.TICK)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()


def max_set_rate(port, seconds=3):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-c", "50", "-n",
                          "50000", "-q", "-r", "100000", "-d", "64"], capture_output=True,
                         text=True).stdout
    return float(re.findall(r"([\d.]+) requests per second", out)[-1])


def measure_lag(p, r, seconds):
    """Replication lag sampled by offsets: note the primary's offset O at time t, then the
    time until the replica has applied O. Returns (lags in ms, bytes behind samples)."""
    lags, behind = [], []
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        target = p.info()["master_repl_offset"]
        got = r.info()["slave_repl_offset"]
        behind.append(max(0, target - got))
        while got < target:
            got = r.info()["slave_repl_offset"]
        lags.append((time.monotonic() - t0) * 1000)
        time.sleep(0.01)
    return sorted(lags), sorted(behind)


def scenario_lag(args):
    results = {}
    for kind in ("redis", "kvstore"):
        p = Node(kind)
        r = Node(kind)
        try:
            r.c.execute_command("REPLICAOF", "127.0.0.1", p.port)
            wait_synced(p, r)
            rate = args.rate or max_set_rate(p.port) * 0.5
            load = RateLoad(p.port, rate)
            lags, behind = measure_lag(p, r, args.seconds)
            achieved = load.done / args.seconds
            load.finish()
            results[kind] = (rate, lags, behind)
            print("%-8s lag at %.0f SET/s (asked %.0f): p50 %.1f ms, p99 %.1f ms, max %.1f ms;"
                  " bytes behind p99 %d, max %d" % (
                      kind, achieved, rate, statistics.median(lags),
                      lags[int(len(lags) * 0.99)], lags[-1], behind[int(len(behind) * 0.99)],
                      behind[-1]))
        finally:
            r.stop()
            p.stop()
    return results


def scenario_catchup(args):
    for kind in ("redis", "kvstore"):
        p = Node(kind)
        r = Node(kind)
        try:
            r.c.execute_command("REPLICAOF", "127.0.0.1", p.port)
            wait_synced(p, r)
            rate = args.rate or max_set_rate(p.port) * 0.5
            load = RateLoad(p.port, rate)
            r.proc.send_signal(signal.SIGSTOP)           # the replica is "down"
            t0 = time.monotonic()
            time.sleep(args.down)
            r.proc.send_signal(signal.SIGCONT)
            produced = time.monotonic() - t0
            load.finish()
            t1 = time.monotonic()
            wait_synced(p, r)
            took = time.monotonic() - t1
            print("%-8s down %.0f s at %.0f SET/s: caught up in %.2f s (%.1fx faster than "
                  "the load)" % (kind, produced, rate, took, produced / max(took, 1e-3)))
        finally:
            r.stop()
            p.stop()


def _commands_rate(node, seconds):
    c0 = node.info("stats")["total_commands_processed"]
    t0 = time.monotonic()
    time.sleep(seconds)
    return (node.info("stats")["total_commands_processed"] - c0) / (time.monotonic() - t0)


def scenario_duringsync(args):
    """SET throughput of a kvstore primary under redis-benchmark (50 clients), measured over
    3 s before a full sync and over the sync itself (REPLICAOF until the replica is
    online), for a kvstore replica (native snapshot) and a redis-server replica (RDB)."""
    p = Node("kvstore")
    try:
        p.c.execute_command("DEBUG", "POPULATE", args.keys, "key", args.value_size)
        for kind in ("kvstore", "redis"):
            bench = subprocess.Popen(["redis-benchmark", "-p", str(p.port), "-t", "set", "-c",
                                      "50", "-n", "100000000", "-r", "100000", "-d", "64",
                                      "-q"], stdout=subprocess.DEVNULL)
            try:
                time.sleep(1)
                before = _commands_rate(p, 3)
                r = Node(kind)
                c0 = p.info("stats")["total_commands_processed"]
                t0 = time.monotonic()
                r.c.execute_command("REPLICAOF", "127.0.0.1", p.port)
                while r.info().get("master_link_status") != "up":
                    time.sleep(0.02)
                secs = time.monotonic() - t0
                during = (p.info("stats")["total_commands_processed"] - c0) / secs
            finally:
                bench.kill()
                bench.wait()
            r.stop()
            print("kvstore -> %-8s SET/s before %.0f, during the %.1f s full sync %.0f "
                  "(%.0f%%)" % (kind, before, secs, during, 100.0 * during / before))
    finally:
        p.stop()


SCENARIOS = {"fullsync": scenario_fullsync, "lag": scenario_lag, "catchup": scenario_catchup,
             "duringsync": scenario_duringsync}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--value-size", type=int, default=64)
    ap.add_argument("--rate", type=float, default=0, help="SET/s (0 = half the max rate)")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--down", type=float, default=120)
    ap.add_argument("--scenarios", default="fullsync,lag,catchup,duringsync")
    args = ap.parse_args()
    for name in args.scenarios.split(","):
        SCENARIOS[name](args)


if __name__ == "__main__":
    main()
