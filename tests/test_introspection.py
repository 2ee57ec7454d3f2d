"""INFO commandstats/errorstats, SLOWLOG, LATENCY, MEMORY USAGE, WAIT, MONITOR, CLIENT PAUSE,
REPLY and UNBLOCK through real clients (error texts compared with a real redis-server)."""

import threading
import time

from tests.conftest import RawConn, wait_until


def test_error_texts_match_redis(kvstore_session, redis_ref):
    cmds = [("SLOWLOG", "GET", "x"), ("SLOWLOG", "GET", "-2"), ("SLOWLOG", "FOO"),
            ("MEMORY", "USAGE", "nokey"), ("MEMORY", "USAGE", "k", "SAMPLES", "x"),
            ("MEMORY", "USAGE", "k", "FOO", "1"), ("WAIT", "0", "0"), ("WAIT", "x", "0"),
            ("WAIT", "0", "-1"), ("WAIT", "0", "x"), ("CLIENT", "PAUSE", "x"),
            ("CLIENT", "PAUSE", "10", "foo"), ("CLIENT", "PAUSE", "-1"),
            ("CLIENT", "UNBLOCK", "x"), ("CLIENT", "UNBLOCK", "99999"),
            ("CLIENT", "UNBLOCK", "1", "foo"), ("CLIENT", "REPLY", "foo"),
            ("LATENCY", "HISTORY", "nosuchevent"), ("LATENCY", "RESET", "nosuchevent")]
    for port in (kvstore_session.port, redis_ref.port):
        RawConn(port).call("FLUSHALL")
    k, r = RawConn(kvstore_session.port), RawConn(redis_ref.port)
    for cmd in cmds:
        assert (cmd, k.call(*cmd)) == (cmd, r.call(*cmd))


def test_commandstats_errorstats_and_slowlog(make_server):
    srv = make_server("kvstore", ["--slowlog-log-slower-than", "0"]).start()
    c = srv.client()
    c.config_resetstat()
    c.set("a", "1")
    c.get("a")
    c.get("a")
    raw = srv.raw()
    raw.call("INCR", "x", "y")
    raw.call("NOSUCH")
    c.set("s", "x")
    raw.call("INCR", "s")
    info = c.info("commandstats")
    assert info["cmdstat_get"]["calls"] == 2
    assert info["cmdstat_incr"]["failed_calls"] == 1
    assert c.info("errorstats")["errorstat_ERR"]["count"] == 3
    assert c.info("stats")["total_error_replies"] == 3
    entries = c.slowlog_get(100)
    assert any(e["command"] == b"SET s x" for e in entries)
    assert c.slowlog_len() >= 5
    c.slowlog_reset()
    assert c.slowlog_len() <= 1


def test_memory_usage_grows_with_the_value(kv):
    kv.set("small", "x")
    kv.set("big", "x" * 10000)
    assert 0 < kv.memory_usage("small") < kv.memory_usage("big")
    kv.rpush("l", *["e%d" % i for i in range(1000)])
    assert kv.memory_usage("l") > 1000 * 4


def test_monitor_sees_commands(kvstore_session):
    mon = RawConn(kvstore_session.port)
    assert mon.call("MONITOR") == b"+OK\r\n"
    c = kvstore_session.client()
    c.set("mon-key", "v a\"l")
    line = mon._line()
    assert line.startswith(b"+") and line.endswith(b'"SET" "mon-key" "v a\\"l"\r\n')
    mon.close()


def test_client_pause_holds_writes_only_for_its_duration(kvstore_session):
    c = kvstore_session.client()
    c.client_pause(300, all=False)
    start = time.monotonic()
    assert c.get("whatever") is None                      # reads go on
    assert time.monotonic() - start < 0.25
    other = kvstore_session.client()
    other.set("paused-write", "1")                         # waits for the pause to end
    assert time.monotonic() - start >= 0.25
    c.client_pause(10000)
    t = threading.Thread(target=lambda: other.set("pause-x", "1"))
    t.start()
    time.sleep(0.1)                                        # a window, not a condition
    assert t.is_alive()
    c.client_unpause()
    t.join(5)
    assert not t.is_alive()


def test_client_reply_and_unblock(kvstore_session):
    r = RawConn(kvstore_session.port)
    r.send(RawConn.encode("CLIENT", "REPLY", "OFF") + RawConn.encode("SET", "q", "1") +
           RawConn.encode("CLIENT", "REPLY", "ON") + RawConn.encode("GET", "q"))
    assert r.read_reply() == b"+OK\r\n"
    assert r.read_reply() == b"$1\r\n1\r\n"
    r.send(RawConn.encode("CLIENT", "REPLY", "SKIP") + RawConn.encode("GET", "q") +
           RawConn.encode("PING"))
    assert r.read_reply() == b"+PONG\r\n"
    c = kvstore_session.client()
    b = RawConn(kvstore_session.port)
    bid = int(b.call("CLIENT", "ID")[1:-2])
    b.send(RawConn.encode("BLPOP", "never", "0"))
    wait_until(lambda: c.info("clients")["blocked_clients"] == 1, what="block")
    assert c.client_unblock(bid, error=True) == 1
    assert b.read_reply() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    b.send(RawConn.encode("BLPOP", "never", "0"))
    wait_until(lambda: c.info("clients")["blocked_clients"] == 1, what="block again")
    assert c.client_unblock(bid) == 1
    assert b.read_reply() == b"*-1\r\n"
