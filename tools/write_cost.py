#!/usr/bin/env python3
"""What one write costs the storage as a collection grows, in process (no sockets, no
client): microseconds per command and the bytes and write syscalls its batch's commit
makes, per command.

    .venv/bin/python tools/write_cost.py [--commands hset,zadd] [--sizes 10,1000000]

Each size gets a fresh data directory holding one collection `c` of that many elements
(HSET field f<i> or ZADD member m<i>, score i). Then batches of `--batch` commands (the size
of a group commit at redis-benchmark's pipeline 16 with 50 clients) rewrite random existing
elements, ZADD with a new random score, as the writer runs them: the fast form when it
applies, else the full handler in a nested transaction; a commit per batch and a durable
point every second, as the server makes them. /proc/self/io gives the bytes written and
write syscalls; LMDB writes every page a commit dirtied, so bytes / page size is the pages a
command dirties. Where a 1M-element collection's writes go beyond a 10-element one's: in
pages (random B-tree leaves) each command copies and writes at commit."""

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kvstore.commands import COMMANDS, load_all  # noqa: E402
from kvstore.config import Config  # noqa: E402
from kvstore.errors import CommandError  # noqa: E402
from kvstore.keyspace import Batch, Keyspace  # noqa: E402
from kvstore.storage import Storage  # noqa: E402


def command_for(name, i, score):
    if name == "hset":
        return [b"HSET", b"c", b"f%012d" % i, b"v"]
    if name == "zadd":
        return [b"ZADD", b"c", b"%d" % score, b"m%012d" % i]
    raise SystemExit("unknown command %r (hset, zadd)" % name)


class Runner:
    """A storage in `directory` and the writer's way of running commands on it."""

    def __init__(self, directory):
        self.cfg = Config.from_argv(["--dir", directory])
        self.storage = Storage(self.cfg, directory)
        # What handlers read from their client: the db and the server's config.
        self.client = SimpleNamespace(db=0, resp3=False,
                                      server=SimpleNamespace(cfg=self.cfg))
        self.last_point = time.monotonic()

    def batch(self, commands):
        st = self.storage
        txn = st.begin_write()
        ks = Keyspace(st, txn, Batch(st))
        for args in commands:
            cmd = COMMANDS[args[0].decode().lower()]
            ks.select(0)
            if cmd.fast(ks, args) is not None:
                continue
            sub = st.env.begin(write=True, parent=txn)
            ks.txn = sub
            ks.begin_command(0)
            try:
                cmd.handler(ks, self.client, args)
                sub.commit()
                ks.end_command()
            except CommandError as e:
                sub.abort()
                raise SystemExit("%s: %s" % (args[0].decode(), e.args[0]))
            finally:
                ks.txn = txn
        st.commit_write(txn, ks.batch)
        if time.monotonic() - self.last_point >= 1.0:
            st.checkpoint()
            self.last_point = time.monotonic()

    def close(self):
        self.storage.close()


def io_counters():
    fields = dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())
    return int(fields["syscw"]), int(fields["wchar"])


def measure(name, size, batch, batches, seed=1):
    """(us per command, write syscalls per command, KB written per command)."""
    directory = tempfile.mkdtemp(prefix="kvwritecost-")
    runner = Runner(directory)
    try:
        for start in range(0, size, 5000):
            runner.batch([command_for(name, i, i) for i in range(start, min(size, start + 5000))])
        runner.storage.checkpoint()
        rnd = random.Random(seed)
        per_command = []
        calls0, bytes0 = io_counters()
        for _ in range(batches):
            commands = [command_for(name, rnd.randrange(size), rnd.randrange(size))
                        for _ in range(batch)]
            t0 = time.perf_counter()
            runner.batch(commands)
            per_command.append((time.perf_counter() - t0) / batch * 1e6)
        calls1, bytes1 = io_counters()
        n = batch * batches
        return statistics.median(per_command), (calls1 - calls0) / n, (bytes1 - bytes0) / n / 1024
    finally:
        runner.close()
        shutil.rmtree(directory, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commands", default="hset,zadd")
    ap.add_argument("--sizes", default="10,1000000")
    ap.add_argument("--batch", type=int, default=420)
    ap.add_argument("--batches", type=int, default=150)
    args = ap.parse_args()
    load_all()
    print("| command | elements | us/command | write syscalls/command | KB written/command |")
    print("|---|---|---|---|---|")
    for name in args.commands.split(","):
        for size in (int(x) for x in args.sizes.split(",")):
            us, calls, kb = measure(name, size, args.batch, args.batches)
            print("| %s | %d | %.2f | %.2f | %.2f |" % (name.upper(), size, us, calls, kb),
                  flush=True)


if __name__ == "__main__":
    main()
