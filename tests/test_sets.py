"""Sets beyond the differential scenarios: big sets (SSCAN paging, encoding), DUMP/RESTORE with
Redis both ways (intset and hashtable), DEBUG DIGEST, SPOP's propagated effects."""

from tests.conftest import RawConn
from tests.test_effects_log import _log_after


def test_big_set_sscan_and_encoding(kv, ref):
    members = ["m%d" % i for i in range(700)]
    for c in (kv, ref):
        c.sadd("s", *members)
    assert kv.object("encoding", "s") == ref.object("encoding", "s") == b"hashtable"
    cursor, seen, calls = 0, set(), 0
    while True:
        cursor, part = kv.sscan("s", cursor, count=64)
        seen.update(part)
        calls += 1
        if cursor == 0:
            break
    assert calls >= 10
    assert seen == ref.smembers("s")
    ints = [str(i) for i in range(600)]
    for c in (kv, ref):
        c.sadd("i", *ints)
    assert kv.object("encoding", "i") == ref.object("encoding", "i")


def test_dump_restore_with_redis_both_ways(kv, ref):
    for name, members in (("ints", [1, 2, 3, 70000]), ("strs", ["a", "b", "c"]),
                          ("big", ["x%d" % i for i in range(1000)])):
        ref.sadd(name, *members)
        assert kv.restore(name, 0, ref.dump(name)) == b"OK"
        assert kv.smembers(name) == ref.smembers(name)
        ours = kv.dump(name)
        ref.delete(name)
        assert ref.restore(name, 0, ours) == b"OK"
        assert ref.smembers(name) == kv.smembers(name)
    assert kv.execute_command("DEBUG", "DIGEST") == ref.execute_command("DEBUG", "DIGEST")


def test_spop_propagates_srem_or_del(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.sadd("s", *["m%d" % i for i in range(10)])
    c.set("marker", "1")
    one = c.spop("s")
    three = c.spop("s", 3)
    rest = c.spop("s", 100)
    assert len(three) == 3 and len(rest) == 6
    log = _log_after(srv, c, b"marker")
    assert log[0] == [b"SREM", b"s", one]
    assert log[1][:2] == [b"SREM", b"s"] and sorted(log[1][2:]) == sorted(three)
    assert log[2] == [b"DEL", b"s"]
    assert c.exists("s") == 0


def test_intset_replies_come_in_redis_order(kv, ref):
    """A set Redis holds as an intset replies in ascending numeric order (SMEMBERS and the
    SINTER/SUNION/SDIFF of such sets); byte order would put 10 before 2."""
    for c in (kv, ref):
        c.sadd("i1", 10, 2, -7, 100, 3)
        c.sadd("i2", 3, 2, 55, 10)
        c.sadd("mixed", "b", 2, "a")
    k = RawConn(kv.connection_pool.connection_kwargs["port"])
    r = RawConn(ref.connection_pool.connection_kwargs["port"])
    for args in (("SMEMBERS", "i1"), ("SINTER", "i1", "i2"), ("SUNION", "i1", "i2"),
                 ("SDIFF", "i1", "i2")):
        assert k.call(*args) == r.call(*args), args
    assert k.call("SMEMBERS", "i1") == \
        b"*5\r\n$2\r\n-7\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n$3\r\n100\r\n"
    assert sorted(kv.smembers("mixed")) == [b"2", b"a", b"b"]
    k.close()
    r.close()


def test_scans_of_compact_collections_in_redis_order(kv, ref):
    """HSCAN/SSCAN/ZSCAN of what Redis keeps compact (listpack hash, intset, listpack zset)
    return everything at once, in Redis's order: insertion, ascending, by score."""
    for c in (kv, ref):
        c.hset("h", mapping={"z": 1, "a": 2, "m": 3})
        c.sadd("s", 30, 4, -1, 200)
        c.zadd("z", {"b": 3, "a": 1, "c": 2})
    k = RawConn(kv.connection_pool.connection_kwargs["port"])
    r = RawConn(ref.connection_pool.connection_kwargs["port"])
    for args in (("HSCAN", "h", "0"), ("SSCAN", "s", "0"), ("ZSCAN", "z", "0"),
                 ("HSCAN", "h", "0", "MATCH", "[am]"), ("ZSCAN", "z", "0", "COUNT", "1")):
        assert k.call(*args) == r.call(*args), args
    k.close()
    r.close()
