"""MULTI/EXEC/DISCARD/WATCH/UNWATCH: replies compared with a real redis-server (one command at a
time and fully pipelined), WATCH invalidation by writes, expiry and flushes, atomicity against
concurrent writers, and the log unit (MULTI/EXEC wrapping only when more than one write)."""

import threading
import time

import pytest
import redis

from tests.conftest import RawConn, wait_until
from tools.kvlog import read_commands

SCENARIOS = {
    "basic": [("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("GET", "a"), ("EXEC",),
              ("GET", "a")],
    "errors_abort": [("MULTI",), ("SET", "a", "1"), ("NOSUCH", "x"), ("SET", "a"),
                     ("EXEC",), ("GET", "a")],
    "runtime_error_does_not_roll_back": [("SET", "s", "x"), ("MULTI",), ("SET", "a", "1"),
                                         ("INCR", "s"), ("INCR", "a"), ("EXEC",),
                                         ("MGET", "a", "s")],
    "controls": [("EXEC",), ("DISCARD",), ("MULTI",), ("MULTI",), ("WATCH", "x"),
                 ("DISCARD",), ("UNWATCH",), ("MULTI",), ("SAVE",), ("EXEC",)],
    "discard": [("MULTI",), ("SET", "a", "1"), ("DISCARD",), ("GET", "a"), ("EXEC",)],
    "empty": [("MULTI",), ("EXEC",)],
    "select_inside": [("MULTI",), ("SELECT", "2"), ("SET", "k", "in2"), ("SELECT", "0"),
                      ("SET", "k", "in0"), ("EXEC",), ("GET", "k"), ("SELECT", "2"),
                      ("GET", "k")],
    "watch_unchanged": [("SET", "w", "1"), ("WATCH", "w", "other"), ("MULTI",),
                        ("INCR", "w"), ("EXEC",), ("GET", "w")],
    "watch_own_write_aborts": [("SET", "w", "1"), ("WATCH", "w"), ("SET", "w", "2"),
                               ("MULTI",), ("INCR", "w"), ("EXEC",), ("GET", "w")],
    "watch_then_unwatch": [("SET", "w", "1"), ("WATCH", "w"), ("SET", "w", "2"),
                           ("UNWATCH",), ("MULTI",), ("INCR", "w"), ("EXEC",)],
    "watch_missing_key_created": [("WATCH", "nokey"), ("SET", "nokey", "1"), ("MULTI",),
                                  ("GET", "nokey"), ("EXEC",)],
    "arity_of_controls": [("MULTI", "x"), ("EXEC", "x"), ("WATCH",), ("UNWATCH", "x"),
                          ("DISCARD", "x")],
}


def _replies(port, cmds, resp3, pipelined):
    c = RawConn(port)
    try:
        c.call("FLUSHALL")
        if resp3:
            c.call("HELLO", "3")
        if not pipelined:
            return [c.call(*cmd) for cmd in cmds]
        c.send(b"".join(RawConn.encode(*cmd) for cmd in cmds))
        return [c.read_reply() for _ in cmds]
    finally:
        c.close()


@pytest.mark.parametrize("pipelined", [False, True], ids=["sequential", "pipelined"])
@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_replies_as_redis(name, resp3, pipelined, kvstore_session, redis_ref):
    cmds = SCENARIOS[name]
    expected = _replies(redis_ref.port, cmds, resp3, pipelined)
    got = _replies(kvstore_session.port, cmds, resp3, pipelined)
    for cmd, e, g in zip(cmds, expected, got):
        assert (cmd, g) == (cmd, e)


def _exec_after(port, setup, between, watched=("w",)):
    """WATCH `watched` on one connection, run `between` on another, then MULTI/INCR/EXEC."""
    a, b = RawConn(port), RawConn(port)
    for cmd in setup:
        a.call(*cmd)
    a.call("WATCH", *watched)
    for cmd in between:
        b.call(*cmd)
    a.call("MULTI")
    a.call("INCR", "counter")
    out = a.call("EXEC")
    a.close()
    b.close()
    return out


@pytest.mark.parametrize("between", [
    [("SET", "w", "2")], [("DEL", "w")], [("EXPIRE", "w", "100")], [("FLUSHALL",)],
    [("FLUSHDB",)], [("SWAPDB", "0", "1")], [("RENAME", "w", "w2")], [("APPEND", "w", "x")],
], ids=lambda b: b[0][0])
def test_watch_invalidated_by_other_clients(kvstore_session, redis_ref, between):
    setup = [("FLUSHALL",), ("SET", "w", "1")]
    ours = _exec_after(kvstore_session.port, setup, between)
    theirs = _exec_after(redis_ref.port, setup, between)
    assert ours == theirs == b"*-1\r\n"


def test_watch_survives_unrelated_writes(kvstore_session, redis_ref):
    setup = [("FLUSHALL",), ("SET", "w", "1")]
    between = [("SET", "other", "1"), ("SELECT", "3"), ("SET", "w", "in-db3")]
    assert _exec_after(kvstore_session.port, setup, between) == b"*1\r\n:1\r\n"
    assert _exec_after(redis_ref.port, setup, between) == b"*1\r\n:1\r\n"


def test_watched_key_expiring_aborts(kv):
    kv.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        kv.set("w", "1", px=100)
        p = kv.pipeline(transaction=True)
        p.watch("w")
        wait_until(lambda: kv.pttl("w") == -2, what="w to expire")
        p.multi()
        p.set("x", "1")
        with pytest.raises(redis.WatchError):
            p.execute()
        assert kv.get("x") is None
    finally:
        kv.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_redis_py_pipelines_and_transaction_helper(kv):
    p = kv.pipeline()                                  # transaction=True: MULTI/EXEC
    p.set("a", "1").incr("a").get("a")
    assert p.execute() == [True, 2, b"2"]
    kv.set("balance", "10")

    def withdraw(pipe):
        bal = int(pipe.get("balance"))
        pipe.multi()
        pipe.set("balance", bal - 3)

    assert kv.transaction(withdraw, "balance") == [True]
    assert kv.get("balance") == b"7"


def test_exec_is_atomic_against_concurrent_writers(make_server):
    srv = make_server("kvstore").start()
    stop = threading.Event()
    seen_torn = []

    def writer():
        c = srv.client()
        i = 0
        while not stop.is_set():
            p = c.pipeline(transaction=True)
            p.set("x", i).set("y", i)
            p.execute()
            i += 1

    def reader():
        c = srv.client()
        while not stop.is_set():
            p = c.pipeline(transaction=True)
            p.get("x").get("y")
            x, y = p.execute()
            if x != y:
                seen_torn.append((x, y))

    threads = [threading.Thread(target=writer) for _ in range(3)] + [
        threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(2)      # a load window, not a wait for a condition
    stop.set()
    for t in threads:
        t.join()
    assert seen_torn == []


def test_transaction_log_unit(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.set("marker", "1")
    p = c.pipeline()
    p.set("a", "1").set("b", "2")
    p.execute()
    p = c.pipeline()
    p.set("c", "3").get("a")
    p.execute()
    p = c.pipeline()
    p.get("a").get("b")
    p.execute()
    p = c.pipeline()
    p.incr("a").set("s", "x").incr("s")        # INCR s fails: only two writes logged
    with pytest.raises(redis.ResponseError):
        p.execute()
    cmds = [cmd for _, cmd in read_commands(srv.dir)]
    i = cmds.index([b"SET", b"marker", b"1"])
    assert cmds[i + 1:] == [
        [b"MULTI"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2"], [b"EXEC"],
        [b"SET", b"c", b"3"],
        [b"MULTI"], [b"INCRBY", b"a", b"1"], [b"SET", b"s", b"x"], [b"EXEC"],
    ]


def test_exec_rejected_before_auth_matches_redis(make_server):
    outs = []
    for kind in ("kvstore", "redis"):
        srv = make_server(kind, ["--requirepass", "pw"]).start()
        c = srv.raw()
        outs.append([c.call("EXEC"), c.call("MULTI"), c.call("AUTH", "pw"), c.call("MULTI"),
                     c.call("SET", "k", "v"), c.call("EXEC")])
    assert outs[0] == outs[1]
    assert outs[0][0] == b"-EXECABORT Transaction discarded because of: NOAUTH " \
                         b"Authentication required.\r\n"
