"""Pub/Sub against a real redis-server: the same session of subscribe/publish/unsubscribe on
both gives the same bytes (RESP2 and RESP3 pushes), subscribed-mode restrictions, PUBSUB
introspection, slow subscribers never block publishers, PUBLISH is logged."""

import pytest

from tests.conftest import RawConn
from tests.test_effects_log import _log_after


def _session(port, resp3):
    c, p = RawConn(port), RawConn(port)
    p.call("FLUSHALL")
    out = []
    if resp3:
        c.call("HELLO", "3")
    out.append(c.call("UNSUBSCRIBE"))
    out.append(c.call("PUNSUBSCRIBE"))
    c.send(RawConn.encode("SUBSCRIBE", "a", "b"))
    out += [c.read_reply(), c.read_reply()]
    out.append(c.call("PING"))
    out.append(c.call("PING", "hi"))
    out.append(c.call("GET", "x"))
    out.append(c.call("CONFIG", "GET", "maxclients"))
    c.send(RawConn.encode("PSUBSCRIBE", "n*", "a*"))
    out += [c.read_reply(), c.read_reply()]
    out.append(p.call("PUBLISH", "a", "hello"))
    out += [c.read_reply(), c.read_reply()]
    out.append(p.call("PUBLISH", "nx", "m2"))
    out.append(c.read_reply())
    out.append(p.call("PUBLISH", "other", "m"))
    out.append(p.call("PUBSUB", "NUMSUB", "a", "zz"))
    out.append(p.call("PUBSUB", "NUMPAT"))
    out.append(p.call("PUBSUB", "CHANNELS", "a*"))
    out.append(p.call("PUBSUB", "FOO"))
    c.send(RawConn.encode("UNSUBSCRIBE"))
    # Redis walks its channel dict in hash order: compare channels as a set, counts in order.
    pair = [c.read_reply(), c.read_reply()]
    out.append(sorted(r.split(b"\r\n")[4] for r in pair))
    out.append([r.split(b"\r\n")[5] for r in pair])
    c.send(RawConn.encode("PUNSUBSCRIBE", "n*", "zz"))
    out += [c.read_reply(), c.read_reply()]
    out.append(c.call("SSUBSCRIBE", "s1"))
    out.append(p.call("SPUBLISH", "s1", "x"))
    out.append(c.read_reply())
    out.append(p.call("PUBSUB", "SHARDCHANNELS"))
    out.append(p.call("PUBSUB", "SHARDNUMSUB", "s1"))
    out.append(c.call("SUNSUBSCRIBE"))
    out.append(c.call("PUNSUBSCRIBE"))
    out.append(c.call("RESET"))
    out.append(c.call("GET", "x"))
    out.append(c.call("SUBSCRIBE"))
    c.close()
    p.close()
    return out


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_session_same_bytes_as_redis(kvstore_session, redis_ref, resp3):
    ours = _session(kvstore_session.port, resp3)
    theirs = _session(redis_ref.port, resp3)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert (i, o) == (i, t)


def test_redis_py_pubsub(kv):
    ps = kv.pubsub()
    ps.subscribe("news")
    assert ps.get_message(timeout=5)["type"] == "subscribe"
    assert kv.publish("news", "hi") == 1
    msg = ps.get_message(timeout=5)
    assert (msg["type"], msg["channel"], msg["data"]) == ("message", b"news", b"hi")
    ps.close()


def test_slow_subscriber_does_not_block_publisher(kvstore_session):
    sub = RawConn(kvstore_session.port)
    sub.call("SUBSCRIBE", "flood")
    pub = kvstore_session.client()
    payload = b"x" * 100000
    for _ in range(100):                 # 10 MB to a client that does not read
        assert pub.publish("flood", payload) == 1
    assert pub.ping() is True
    got = 0
    while got < 100:
        reply = sub.read_reply()
        assert reply.endswith(payload + b"\r\n")
        got += 1
    sub.close()


def test_publish_is_logged(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.set("marker", "1")
    c.publish("ch", "payload")
    assert _log_after(srv, c, b"marker") == [[b"PUBLISH", b"ch", b"payload"]]
