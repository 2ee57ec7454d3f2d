"""Blocking list commands: served at once, served by a later push (FIFO, inside that push's
batch), timeouts, chains (BLMOVE feeding BLPOP), a client that disconnects while blocked loses
nothing, MULTI makes them non-blocking, and what goes to the log."""

import threading
import time

import pytest

from tests.conftest import RawConn, wait_until
from tests.test_effects_log import _log_after


def _blocked_count(c):
    return c.info("clients")["blocked_clients"]


def _in_thread(fn):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", fn()))
    t.start()
    return t, out


def test_served_immediately_and_by_later_push(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.rpush("l", "a")
    assert c.blpop(["nokey", "l"], 1) == (b"l", b"a")
    c.set("marker", "1")
    t, out = _in_thread(lambda: srv.client().blpop(["l"], 10))
    wait_until(lambda: _blocked_count(c) == 1, what="client to block")
    assert c.rpush("l", "x", "y") == 2
    t.join(10)
    assert out["r"] == (b"l", b"x")
    assert c.lrange("l", 0, -1) == [b"y"]
    log = _log_after(srv, c, b"marker")
    assert log == [[b"RPUSH", b"l", b"x", b"y"], [b"LPOP", b"l"]]


def test_fifo_order_and_timeout(kvstore_session):
    kv = kvstore_session
    c = kv.client()
    c.delete("q")
    results = []

    def waiter(name):
        results.append((name, kv.client().brpop(["q"], 10)))

    t1 = threading.Thread(target=waiter, args=("first",))
    t1.start()
    wait_until(lambda: _blocked_count(c) == 1, what="first to block")
    t2 = threading.Thread(target=waiter, args=("second",))
    t2.start()
    wait_until(lambda: _blocked_count(c) == 2, what="second to block")
    c.lpush("q", "1")
    c.lpush("q", "2")
    t1.join(10)
    t2.join(10)
    # (The threads append in whatever order they run: what each got is the FIFO proof.)
    assert dict(results) == {"first": (b"q", b"1"), "second": (b"q", b"2")}
    start = time.monotonic()
    assert c.blpop(["q"], 0.2) is None
    assert time.monotonic() - start >= 0.19


def test_blmove_chain_feeds_blpop(kvstore_session):
    c = kvstore_session.client()
    c.delete("src", "dst")
    ta, a = _in_thread(lambda: kvstore_session.client().blmove("src", "dst", 10, "LEFT",
                                                               "RIGHT"))
    wait_until(lambda: _blocked_count(c) == 1, what="BLMOVE to block")
    tb, b = _in_thread(lambda: kvstore_session.client().blpop(["dst"], 10))
    wait_until(lambda: _blocked_count(c) == 2, what="BLPOP to block")
    c.rpush("src", "v")
    ta.join(10)
    tb.join(10)
    assert a["r"] == b"v"
    assert b["r"] == (b"dst", b"v")
    assert c.exists("src", "dst") == 0


def test_disconnected_blocked_client_loses_nothing(kvstore_session):
    c = kvstore_session.client()
    c.delete("gone")
    raw = RawConn(kvstore_session.port)
    raw.send(RawConn.encode("BLPOP", "gone", "0"))
    wait_until(lambda: _blocked_count(c) == 1, what="raw client to block")
    raw.close()
    wait_until(lambda: _blocked_count(c) == 0, what="server to notice the disconnect")
    c.rpush("gone", "keep")
    assert c.lrange("gone", 0, -1) == [b"keep"]


def test_multi_makes_blocking_commands_non_blocking(kv):
    p = kv.pipeline()
    p.blpop(["empty"], 0)
    p.set("after", "1")
    assert p.execute() == [None, True]


def test_bad_timeouts_match_redis(kvstore_session, redis_ref):
    cmds = [("BLPOP", "k", "x"), ("BLPOP", "k", "-1"), ("BRPOPLPUSH", "k", "d", "-5"),
            ("BLMOVE", "k", "d", "UP", "LEFT", "0"), ("BLMPOP", "-1", "1", "k", "LEFT"),
            ("BLMPOP", "0.01", "0", "k", "LEFT"), ("BLMPOP", "0.01", "1", "k", "UP"),
            ("BLMPOP", "x", "1", "k", "LEFT"), ("BLPOP", "k", "0.001"), ("BLPOP", "k", "inf"),
            ("BLPOP", "k", "-inf"), ("BLPOP", "k", "1e300"),
            ("BRPOPLPUSH", "k", "d", "0.001"), ("BLMPOP", "0.001", "1", "k", "LEFT")]
    for port_pair in [(kvstore_session.port, redis_ref.port)]:
        ours, theirs = RawConn(port_pair[0]), RawConn(port_pair[1])
        for cmd in cmds:
            assert (cmd, ours.call(*cmd)) == (cmd, theirs.call(*cmd))
        ours.close()
        theirs.close()


@pytest.mark.parametrize("resp3", [False, True])
def test_served_reply_shapes(kvstore_session, redis_ref, resp3):
    outs = []
    for port in (kvstore_session.port, redis_ref.port):
        c = RawConn(port)
        if resp3:
            c.call("HELLO", "3")
        c.call("DEL", "s")
        c.call("RPUSH", "s", "a", "b", "c")
        outs.append([c.call("BLPOP", "s", "0"), c.call("BLMPOP", "0", "1", "s", "RIGHT",
                                                       "COUNT", "5"),
                     c.call("BLPOP", "s", "0.01")])
        c.close()
    assert outs[0] == outs[1]
