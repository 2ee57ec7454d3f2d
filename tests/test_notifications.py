"""Keyspace notifications (notify-keyspace-events): the same commands on kvstore and on a real
redis-server produce the same sequence of keyspace and keyevent messages."""

import pytest

from tests.conftest import RawConn, wait_until

COMMANDS = [
    ("SET", "a", "1"), ("SET", "b", "1", "EX", "100"), ("INCR", "a"), ("APPEND", "a", "x"),
    ("SETRANGE", "a", "1", "y"), ("INCRBYFLOAT", "f", "1.5"), ("GETDEL", "f"),
    ("DEL", "a", "b", "zz"), ("RPUSH", "l", "x", "y"), ("LPOP", "l"), ("LSET", "l", "0", "z"),
    ("LINSERT", "l", "BEFORE", "z", "w"), ("LREM", "l", "1", "w"), ("LTRIM", "l", "0", "0"),
    ("RPOP", "l"), ("HSET", "h", "f", "v"), ("HINCRBY", "h", "n", "1"), ("HDEL", "h", "f", "n"),
    ("MSET", "m1", "1", "m2", "2"), ("RENAME", "m1", "m3"), ("EXPIRE", "m3", "-1"),
    ("SADD", "s", "a"), ("SMOVE", "s", "t", "a"), ("SPOP", "t"), ("ZADD", "z", "1", "a"),
    ("ZINCRBY", "z", "1", "a"), ("ZADD", "z", "INCR", "1", "a"), ("ZPOPMIN", "z"),
    ("PERSIST", "m2"), ("EXPIRE", "m2", "100"), ("PERSIST", "m2"), ("COPY", "m2", "m4"),
    ("MOVE", "m4", "1"), ("RPUSH", "src", "v"), ("LMOVE", "src", "dst", "LEFT", "RIGHT"),
    ("SADD", "x1", "a", "b"), ("SADD", "x2", "b"), ("SINTERSTORE", "x3", "x1", "x2"),
    ("SDIFFSTORE", "x3", "x2", "x1"), ("ZADD", "z1", "1", "a", "2", "b"),
    ("ZUNIONSTORE", "z2", "1", "z1"), ("ZREMRANGEBYSCORE", "z2", "1", "1"),
    ("ZREM", "z2", "b"), ("GETEX", "m2", "EX", "50"), ("GETEX", "m2", "PERSIST"),
    # No event where nothing changes: ZINCRBY by 0, SMOVE into a set that holds the member.
    ("ZINCRBY", "z1", "0", "a"), ("ZINCRBY", "z1", "-0", "a"), ("SADD", "x2", "a"),
    ("SMOVE", "x1", "x2", "a"),
]


def _events(port, flags):
    c = RawConn(port)
    c.call("FLUSHALL")
    c.call("CONFIG", "SET", "notify-keyspace-events", flags)
    s = RawConn(port)
    s.call("PSUBSCRIBE", "__key*__:*")
    for cmd in COMMANDS:
        c.call(*cmd)
    c.call("PING")
    c.call("PUBLISH", "__keyspace@0__:done", "done")
    out = []
    while True:
        parts = s.read_reply().split(b"\r\n")
        if parts[6] == b"__keyspace@0__:done":
            break
        out.append((parts[6], parts[8]))
    c.call("CONFIG", "SET", "notify-keyspace-events", "")
    c.close()
    s.close()
    return out


@pytest.mark.parametrize("flags", ["KEA", "Kg", "E$l", "KEzx", "KEn"])
def test_same_events_as_redis(kvstore_session, redis_ref, flags):
    ours = _events(kvstore_session.port, flags)
    theirs = _events(redis_ref.port, flags)
    assert ours == theirs


def test_expired_event(kvstore_session):
    c = kvstore_session.client()
    c.config_set("notify-keyspace-events", "Ex")
    try:
        ps = c.pubsub()
        ps.subscribe("__keyevent@0__:expired")
        assert ps.get_message(timeout=5)["type"] == "subscribe"
        c.set("soon", "v", px=20)
        msg = wait_until(lambda: ps.get_message(timeout=0.1), timeout=10, what="expired event")
        assert msg["data"] == b"soon"
        ps.close()
    finally:
        c.config_set("notify-keyspace-events", "")
