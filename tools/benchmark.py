#!/usr/bin/env python3
"""Benchmark kvstore against a real redis-server in the same run, with the same loads.

For each appendfsync mode, starts kvstore and redis-server (appendonly yes, the same
appendfsync) on free ports in temporary directories, runs redis-benchmark for each test and
pipeline depth against both, and prints ops/s side by side with the ratio kvstore/redis.
Optionally loads N keys into kvstore and reports its anonymous resident memory (RssAnon).

    .venv/bin/python tools/benchmark.py                    # the full matrix
    .venv/bin/python tools/benchmark.py --tests set,get --pipelines 1 --fsync everysec
    .venv/bin/python tools/benchmark.py --memory-keys 1000000
    .venv/bin/python tools/benchmark.py --floor --tests set,get    # + tools/floor_server.py
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited early with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server on port %d did not come up" % port)


class Server:
    """`kind`: kvstore (the checkout at `root`), floor or redis."""

    def __init__(self, kind, fsync, root=ROOT):
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="kvbench-%s-" % kind)
        common = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                  "--appendfsync", fsync, "--save", "", "--logfile",
                  os.path.join(self.dir, "log")]
        if kind == "kvstore":
            cmd = [sys.executable, "-m", "kvstore"] + common
        elif kind == "floor":
            cmd = [sys.executable, os.path.join(ROOT, "tools", "floor_server.py")] + common
        else:
            cmd = [shutil.which("redis-server") or "/usr/bin/redis-server"] + common + [
                "--appendonly", "yes"]
        self.proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


FLOOR_TESTS = ("set", "get")          # what tools/floor_server.py answers


# Tests redis-benchmark has no -t for: (the data they read, the command line to run).
CUSTOM_TESTS = {
    # ZRANGE 0 99 (the counterpart of lrange_100) on a zset of 600 members.
    "zrange_100": ([["ZADD", "bench:zset"] + [x for i in range(600) for x in (i, "m%d" % i)]],
                   ["zrange", "bench:zset", "0", "99"]),
}


def redis_benchmark(port, test, pipeline, clients, requests, keyspace):
    cmd = ["redis-benchmark", "-p", str(port), "-n", str(requests), "-c", str(clients),
           "-P", str(pipeline), "-q", "--csv"]
    if keyspace:
        cmd += ["-r", str(keyspace)]
    if test in CUSTOM_TESTS:
        import redis
        setup, command = CUSTOM_TESTS[test]
        c = redis.Redis(port=port, protocol=2)
        for args in setup:
            c.execute_command(*args)
        c.close()
        cmd += command
    else:
        cmd += ["-t", test]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        m = re.match(r'"([^"]+)","([0-9.]+)"', line)
        if m:
            return float(m.group(2))
    raise SystemExit("cannot parse redis-benchmark output: %r" % out)


def rss_anon(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def memory_check(nkeys):
    srv = Server("kvstore", "everysec")
    try:
        before = rss_anon(srv.proc.pid)
        t0 = time.monotonic()
        subprocess.run(["redis-benchmark", "-p", str(srv.port), "-t", "set", "-n", str(nkeys),
                        "-r", str(nkeys * 100), "-c", "50", "-P", "64", "-d", "32", "-q"],
                       capture_output=True, timeout=1800)
        # -r draws random keys; top up with a deterministic sequential load to reach nkeys.
        import redis
        c = redis.Redis(port=srv.port)
        have = c.dbsize()
        pipe = c.pipeline(transaction=False)
        i = 0
        while have + i < nkeys:
            pipe.set("fill:%d" % i, "x" * 32)
            i += 1
            if i % 10000 == 0:
                pipe.execute()
        pipe.execute()
        load_s = time.monotonic() - t0
        keys = c.dbsize()
        after = rss_anon(srv.proc.pid)
        data = c.info("memory")
        return keys, before, after, data["kvstore_file_bytes"], load_s
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", default="set,get,incr,mset")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--fsync", default="everysec,always")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--keyspace", type=int, default=100000,
                    help="redis-benchmark -r (random keys); 0 = its default single key per test")
    ap.add_argument("--memory-keys", type=int, default=0,
                    help="also load this many keys into kvstore and report RssAnon")
    ap.add_argument("--floor", action="store_true",
                    help="also run tools/floor_server.py (SET and GET only: the least a "
                         "Python server with kvstore's commit can cost)")
    args = ap.parse_args()
    kinds = ("kvstore", "redis") + (("floor",) if args.floor else ())
    rows = []
    for fsync in args.fsync.split(","):
        servers = {k: Server(k, fsync) for k in kinds}
        try:
            for test in args.tests.split(","):
                for pipeline in map(int, args.pipelines.split(",")):
                    n = args.requests * (4 if pipeline > 1 else 1)
                    ops = [redis_benchmark(servers[k].port, test, pipeline, args.clients, n,
                                           args.keyspace)
                           if k != "floor" or test in FLOOR_TESTS else None for k in kinds]
                    rows.append((fsync, test.upper(), pipeline, ops))
                    print("%-9s %-6s P%-3d %s  ratio %.2f" % (
                        fsync, test.upper(), pipeline, "  ".join(
                            "%s %9.0f" % (k, o) for k, o in zip(kinds, ops) if o),
                        ops[0] / ops[1]), flush=True)
        finally:
            for s in servers.values():
                s.stop()
    floor_head = " floor ops/s | floor/redis |" if args.floor else ""
    print()
    print("| appendfsync | test | pipeline | kvstore ops/s | redis ops/s | kvstore/redis |"
          + floor_head)
    print("|---|---|---|---|---|---|" + ("---|---|" if args.floor else ""))
    for fsync, test, pipeline, ops in rows:
        floor = ""
        if args.floor:
            floor = " %.0f | %.2f |" % (ops[2], ops[2] / ops[1]) if ops[2] else " - | - |"
        print("| %s | %s | %d | %.0f | %.0f | %.2f |%s" % (fsync, test, pipeline, ops[0],
                                                          ops[1], ops[0] / ops[1], floor))
    if args.memory_keys:
        keys, before, after, file_bytes, secs = memory_check(args.memory_keys)
        print()
        print("memory: %d keys loaded in %.0f s; RssAnon %.1f MB at start, %.1f MB loaded; "
              "LMDB file %.1f MB" % (keys, secs, before / 1e6, after / 1e6, file_bytes / 1e6))


if __name__ == "__main__":
    main()
