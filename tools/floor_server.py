#!/usr/bin/env python3
"""The floor: the least a gevent + hiredis + LMDB server can do for SET and GET with group
commit and kvstore's durability, to measure kvstore's own overhead against (tools/benchmark.py
--floor runs it side by side with kvstore and redis-server).

    .venv/bin/python tools/floor_server.py --port 7000 --dir /tmp/floor [--appendfsync always]

What it keeps from kvstore: one greenlet per connection on the raw socket, the commands that
arrive in one loop iteration share one LMDB write transaction (a hub callback, as
kvstore.dispatch.Writer), commits do not sync (NOSYNC) and a durable point's fsyncs (the data
file, then a small record file: kvstore/durable.py) run once a second in a thread or, with
`--appendfsync always`, after each commit before any reply leaves, and every batch appends its
RESP bytes to a log table and a position record, as kvstore's replication log does. What it
drops: everything else (no validation, no types, no expiry, no options, no errors but one):
it is a measuring stick, not a server. Other redis-server style options are accepted and
ignored so that it starts from the same command line."""

import argparse
import os
import signal
import struct
import threading
import time

import gevent
import hiredis
import lmdb
from gevent.hub import Waiter, get_hub
from gevent.server import StreamServer

_U64 = struct.Struct(">Q")


class Floor:
    def __init__(self, directory, always):
        self.env = lmdb.open(os.path.join(directory, "floor.lmdb"), map_size=1 << 34,
                             max_dbs=4, sync=False, metasync=False)
        self.record_fd = os.open(os.path.join(directory, "durable-point"),
                                 os.O_RDWR | os.O_CREAT, 0o644)
        self.data = self.env.open_db(b"data")
        self.log = self.env.open_db(b"log")
        self.sys = self.env.open_db(b"sys")
        self.always = always
        self.offset = 0
        self.pending = []
        self.scheduled = False
        self.loop = get_hub().loop

    def submit(self, writes):
        """Queue [(key, value, raw command bytes)] for the next batch; block until committed."""
        waiter = Waiter()
        self.pending.append((writes, waiter))
        if not self.scheduled:
            self.scheduled = True
            self.loop.run_callback(self.flush)
        return waiter.get()

    def flush(self):
        self.scheduled = False
        entries, self.pending = self.pending, []
        txn = self.env.begin(write=True)
        log = []
        for writes, _ in entries:
            for key, value, raw in writes:
                txn.put(key, value, db=self.data)
                log.append(raw)
        blob = b"".join(log)
        txn.put(_U64.pack(self.offset + 1), blob, db=self.log, append=True)
        self.offset += len(blob)
        txn.put(b"repl", _U64.pack(self.offset), db=self.sys)
        txn.commit()
        if self.always:
            self.durable_point()
        for writes, waiter in entries:
            waiter.switch(b"+OK\r\n" * len(writes))

    def durable_point(self):
        """kvstore's fsyncs for one durable point (without the pin and the meta copy)."""
        self.env.sync(True)
        os.pwrite(self.record_fd, struct.pack("<Q", time.time_ns()), 0)
        os.fdatasync(self.record_fd)

    def handle(self, sock, _addr):
        raw = sock._sock if hasattr(sock, "_sock") else sock
        raw.setblocking(False)
        hub = get_hub()
        watcher = hub.loop.io(raw.fileno(), 1)
        reader = hiredis.Reader()
        try:
            while True:
                hub.wait(watcher)
                try:
                    data = raw.recv(262144)
                except BlockingIOError:
                    continue
                if not data:
                    return
                if not data.startswith(b"*"):            # inline (a PING from a probe)
                    data = b"".join(b"*1\r\n$%d\r\n%s\r\n" % (len(w), w)
                                    for w in data.split() if w)
                reader.feed(data)
                out = []
                writes = []
                txn = None
                while True:
                    args = reader.gets()
                    if args is False:
                        break
                    name = args[0].lower()
                    if name == b"get" and len(args) == 2:
                        if txn is None:
                            txn = self.env.begin()
                        v = txn.get(args[1], db=self.data)
                        out.append(b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v))
                    elif name == b"set" and len(args) == 3:
                        writes.append((args[1], args[2], b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n"
                                       b"$%d\r\n%s\r\n" % (len(args[1]), args[1],
                                                           len(args[2]), args[2])))
                    elif name == b"ping":
                        out.append(b"+PONG\r\n")
                    elif name == b"config":
                        out.append(b"*0\r\n")
                    else:
                        out.append(b"-ERR the floor server knows SET, GET and PING\r\n")
                if txn is not None:
                    txn.abort()
                if writes:
                    # (Replies keep request order only because GET and SET are not mixed
                    # in one pipeline by redis-benchmark; this is a measuring stick.)
                    out.append(self.submit(writes))
                if out:
                    sock.sendall(b"".join(out))
        except OSError:
            return
        finally:
            watcher.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--appendfsync", default="everysec", choices=("always", "everysec"))
    args, _ignored = ap.parse_known_args()
    floor = Floor(args.dir, args.appendfsync == "always")
    if args.appendfsync == "everysec":         # a durable point once a second (as kvstore)
        def syncer():
            while True:
                time.sleep(1)
                floor.durable_point()
        threading.Thread(target=syncer, daemon=True).start()
    server = StreamServer((args.bind, args.port), floor.handle)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
