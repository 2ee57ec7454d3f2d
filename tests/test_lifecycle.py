"""Lifecycle: graceful stop (SIGTERM, SIGINT, SHUTDOWN), restart keeps data, kill -9 during a
write load loses nothing acknowledged (appendfsync always) and the replication log agrees with
the data."""

import os
import signal
import threading

import lmdb
import pytest
import redis

from kvstore.resp import RequestParser
from kvstore.storage import read_repl_position
from tests.conftest import wait_until


def _value(i):
    # Deterministic, long enough to span pages, so a half-written value would show.
    return (b"%08d:" % i) * 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_data_survives(make_server, sig):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.mset({"a": "1", "b": "2"})
    c.set("e", "v", ex=1000)
    assert srv.stop(sig) == 0
    assert "ready to exit" in srv.log()
    srv.start()
    c = srv.client()
    assert c.mget("a", "b", "e") == [b"1", b"2", b"v"]
    assert 990 <= c.ttl("e") <= 1000
    assert c.dbsize() == 3


def test_shutdown_command(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.set("k", "v")
    # redis-py's shutdown() treats the closed connection as success, as with Redis.
    assert c.shutdown() is None
    assert srv.proc.wait(20) == 0
    srv.start()
    assert srv.client().get("k") == b"v"


def _read_log(path):
    """(first offset, concatenated log bytes, the stored replication position) read straight
    from the LMDB tables."""
    env = lmdb.open(path, readonly=True, lock=False, max_dbs=8)
    try:
        logdb = env.open_db(b"log", create=False)
        sysdb = env.open_db(b"sys", create=False)
        with env.begin() as txn:
            parts = []
            first = None
            expect = None
            for k, v in txn.cursor(db=logdb):
                off = int.from_bytes(k, "big")
                if first is None:
                    first = off
                else:
                    assert off == expect, "log records must be contiguous"
                parts.append(bytes(v[8:]))
                expect = off + len(v) - 8
            position = read_repl_position(txn, sysdb, logdb)[0]
        return first, b"".join(parts), position
    finally:
        env.close()


@pytest.mark.parametrize("appendfsync", ["always", "everysec", "no"])
def test_kill9_during_write_load_loses_nothing_acknowledged(make_server, appendfsync):
    """A process crash loses nothing in any mode: the page cache keeps every commit."""
    srv = make_server("kvstore", ["--appendfsync", appendfsync]).start()
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(wid):
        c = srv.client(socket_timeout=5)
        i = 0
        while not stop.is_set():
            n = wid * 1000000 + i
            try:
                c.set("key:%d" % n, _value(n))
            except (redis.ConnectionError, redis.TimeoutError):
                return
            with lock:
                acked[n] = True
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 3000, timeout=60, what="3000 acknowledged writes")
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    first, log_bytes, repl_offset = _read_log(os.path.join(srv.dir, "kvstore.lmdb"))
    # The position stored with the data is exactly the end of the log.
    assert first + len(log_bytes) - 1 == repl_offset
    logged_keys = set()
    p = RequestParser()
    for cmd in p.feed(log_bytes):
        if cmd[0] == b"SET":
            assert cmd[2] == _value(int(cmd[1].split(b":")[1]))
            logged_keys.add(cmd[1])
    assert p.error is None and p.pending_bytes() == 0
    srv.start()
    c = srv.client()
    keys = set(c.keys("key:*"))
    assert keys == logged_keys                       # data and log agree exactly
    for n in acked:
        k = b"key:%d" % n
        assert k in keys, "acknowledged write lost: %s" % k
    pipe = c.pipeline(transaction=False)
    for k in keys:
        pipe.get(k)
    for k, v in zip(keys, pipe.execute()):
        assert v == _value(int(k.split(b":")[1])), "half-written value at %s" % k
    assert c.dbsize() == len(keys)
    info = c.info("replication")
    assert info["master_repl_offset"] == repl_offset


def test_group_commit_shares_transactions(make_server):
    """Many concurrent writers: commits are shared (fewer batches than commands)."""
    srv = make_server("kvstore", ["--appendfsync", "always"]).start()
    clients = [srv.client() for _ in range(20)]

    def work(c, w):
        for i in range(200):
            c.set("w%d:%d" % (w, i), "x")

    threads = [threading.Thread(target=work, args=(c, w)) for w, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    info = clients[0].info("stats")
    assert clients[0].dbsize() == 4000
    assert info["kvstore_write_batches"] < 4000
    assert float(info["kvstore_avg_batch_commands"]) > 1.0


def test_expired_keys_are_removed_and_propagated(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.set("gone", "v", px=50)
    c.set("stays", "v")
    wait_until(lambda: c.info("keyspace").get("db0", {}).get("keys") == 1, timeout=10,
               what="active expiry")
    assert c.get("gone") is None
    assert c.info("stats")["expired_keys"] == 1
    srv.stop()
    _, log_bytes, _ = _read_log(os.path.join(srv.dir, "kvstore.lmdb"))
    cmds = RequestParser().feed(log_bytes)
    assert cmds[-1] == [b"DEL", b"gone"]
    assert [b"SET", b"gone", b"v", b"PXAT"] == cmds[-3][:4]
