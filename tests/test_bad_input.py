"""Bad input: malformed RESP, oversized headers, huge keys and values, a full data quota and a
full LMDB map. The server answers as Redis does, stays up and keeps acknowledged data."""

import redis

from tests.conftest import RawConn


def _protocol_error(port, data):
    c = RawConn(port)
    c.send(data)
    out = c.read_all_until_closed()
    c.close()
    return out


def test_malformed_resp_gets_error_and_close(kvstore_session, redis_ref):
    cases = [b"*1\r\n:5\r\n", b"*abc\r\n", b"*1\r\n$-5\r\n", b"*1\r\n$600000000\r\n",
             b'GET "unbalanced\r\n', b"*1\r\n*1\r\n$1\r\nx\r\n",
             b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n+x\r\n"]
    for data in cases:
        assert _protocol_error(kvstore_session.port, data) == \
            _protocol_error(redis_ref.port, data), data
    assert kvstore_session.client().ping() is True


def test_unauthenticated_limits_match_redis(make_server):
    outs = []
    for kind in ("kvstore", "redis"):
        srv = make_server(kind, ["--requirepass", "pw"]).start()
        outs.append([_protocol_error(srv.port, b"*20\r\n"),
                     _protocol_error(srv.port, b"*1\r\n$20000\r\n"),
                     RawConn(srv.port).call("GET", "x"),
                     RawConn(srv.port).call("AUTH", "wrong"),
                     RawConn(srv.port).call("PING")])
        c = srv.client(password="pw")
        c.set("k", "v")
        assert c.get("k") == b"v"
    assert outs[0] == outs[1]
    assert outs[0][0] == b"-ERR Protocol error: unauthenticated multibulk length\r\n"


def test_huge_key_and_value_roundtrip(kv):
    big_key = b"k" * (1024 * 1024)
    kv.set(big_key, b"v")
    assert kv.get(big_key) == b"v"
    assert kv.exists(big_key) == 1
    assert kv.keys("k*") == [big_key]
    other = big_key[:-1] + b"j"                 # same 449-byte head, different key
    kv.set(other, b"w")
    assert kv.mget(big_key, other) == [b"v", b"w"]
    kv.rename(big_key, b"short")
    assert kv.get(b"short") == b"v"
    assert kv.get(big_key) is None
    kv.rename(b"short", big_key)
    assert kv.get(big_key) == b"v"
    value = bytes(range(256)) * 40000           # 10 MB
    kv.set("bigval", value)
    assert kv.get("bigval") == value
    assert kv.strlen("bigval") == len(value)
    assert kv.dbsize() == 3
    assert kv.delete(big_key, other) == 2


def _set_until_error(c, value, limit):
    """SET k0, k1, ... to `value` until the first error: (keys stored, error text or None)."""
    for i in range(limit):
        try:
            c.set("k%d" % i, value)
        except redis.ResponseError as e:
            return i, str(e)
    return limit, None


def test_maxmemory_quota_refuses_writes_but_not_reads_or_deletes(make_server):
    srv = make_server("kvstore", ["--maxmemory", "3mb"]).start()
    c = srv.client()
    stored, err = _set_until_error(c, b"x" * 4000, 2000)
    assert err == "command not allowed when used memory > 'maxmemory'."
    assert stored > 100
    assert c.get("k0") == b"x" * 4000
    assert c.delete("k0", "k1") == 2
    c.flushall()
    c.config_set("maxmemory", "0")
    c.set("after", "1")
    assert c.get("after") == b"1"


def test_full_map_fails_only_the_command(make_server):
    srv = make_server("kvstore", ["--storage-map-size", "8mb"]).start()
    c = srv.client()
    ok, err = _set_until_error(c, b"y" * 50000, 1000)
    assert err == "command not allowed when used memory > 'maxmemory'."
    assert ok > 10
    for i in range(ok):
        assert c.get("k%d" % i) == b"y" * 50000
    assert c.delete("k0") == 1
    assert c.ping() is True
    srv.stop()
    srv.start()
    c = srv.client()
    assert c.dbsize() == ok - 1


def test_full_map_in_one_batch_fails_only_the_commands_that_do_not_fit(make_server):
    """One pipeline worth more than the map: each SET fits alone, but the batch's log record
    holds every value again; the commands past the room fail alone (OOM), the batch commits."""
    srv = make_server("kvstore", ["--storage-map-size", "8mb"]).start()
    c = srv.client()
    value = b"z" * 50000
    pipe = c.pipeline(transaction=False)
    for i in range(200):
        pipe.set("p%d" % i, value)
    replies = pipe.execute(raise_on_error=False)
    stored = [i for i, r in enumerate(replies) if r is True]
    errors_seen = {str(r) for r in replies if r is not True}
    assert errors_seen == {"command not allowed when used memory > 'maxmemory'."}
    assert len(stored) > 10
    assert len(stored) < 200
    assert c.dbsize() == len(stored)
    assert all(v == value for v in c.mget(["p%d" % i for i in stored]))
    assert c.exists(*["p%d" % i for i in range(200) if i not in stored]) == 0
    srv.stop()
    srv.start()
    assert srv.client().dbsize() == len(stored)


def test_inline_and_pipelined_commands(kvstore_session):
    c = RawConn(kvstore_session.port)
    c.send(b"SET a 1\r\nGET a\r\n" + RawConn.encode("INCR", "a") * 100 + b"PING\r\n")
    replies = [c.read_reply() for _ in range(103)]
    assert replies[:2] == [b"+OK\r\n", b"$1\r\n1\r\n"]
    assert replies[2:102] == [b":%d\r\n" % i for i in range(2, 102)]
    assert replies[102] == b"+PONG\r\n"
    c.close()


def test_redis_py_default_resp3_client(kvstore_session):
    """redis-py 8 speaks RESP3 by default (HELLO 3): its handshake and replies work."""
    import redis as redis_mod
    c = redis_mod.Redis(port=kvstore_session.port)
    assert c.set("r3", "v") is True
    assert c.get("r3") == b"v"
    assert c.connection_pool.get_connection().handshake_metadata[b"proto"] == 3
    c.delete("r3")


def test_large_replies_to_a_slow_reader_stay_in_order(kvstore_session):
    """Replies that do not fit the socket buffer are queued and written by a flusher; later
    replies must never overtake or interleave with them while the client reads slowly and
    keeps sending."""
    import threading
    import time as _time
    big = bytes(range(256)) * 4096                       # 1 MB
    c = RawConn(kvstore_session.port)
    c.call("SET", "big-reply", big)
    n = 60

    def sender():
        for i in range(n):
            c.send(RawConn.encode("GET", "big-reply") + RawConn.encode("ECHO", "m%d" % i))
            _time.sleep(0.002)

    t = threading.Thread(target=sender)
    t.start()
    for i in range(n):
        assert c.read_reply() == b"$%d\r\n%s\r\n" % (len(big), big)
        assert c.read_reply() == b"$%d\r\nm%d\r\n" % (len(b"m%d" % i), i)
    t.join()
    c.call("DEL", "big-reply")
    c.close()


def test_error_replies_do_not_leak_lmdb_readers(kvstore_session):
    """Error replies reuse shared exception objects; a traceback kept on one pinned the
    command's read transaction and leaked an LMDB reader slot per error (found by the random
    differential test as MDB_READERS_FULL after a few thousand errors)."""
    c = kvstore_session.client()
    c.set("wt-string", "x")

    def readers():
        return c.info("memory")["kvstore_lmdb_readers"]

    before = readers()
    for _ in range(300):
        for cmd in (("SMEMBERS", "wt-string"), ("HLEN", "wt-string"),
                    ("LRANGE", "wt-string", "0", "-1"), ("ZRANGE", "wt-string", "0", "-1")):
            try:
                c.execute_command(*cmd)
            except redis.ResponseError:
                pass
    assert readers() - before <= 2
