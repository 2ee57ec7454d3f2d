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


def _spread(client, key, size, picks, cmd):
    """Counts of `picks` single random picks (pipelined) of a `size`-element collection."""
    p = client.pipeline(transaction=False)
    for _ in range(picks):
        p.execute_command(cmd, key)
    counts = {}
    for m in p.execute():
        counts[m] = counts.get(m, 0) + 1
    return counts


def test_random_members_of_a_big_set(kv):
    """SRANDMEMBER and SPOP on a big set pick by seeking a random slot (no walk over the
    set): the picks are members, distinct for a positive count, repeated as asked for a
    negative one, and spread evenly: in 20,000 picks among 200 members every member comes up
    and none more than 3x its share (a pick that takes the element after a random slot
    without stepping on gives the member after the widest gap ~5x its share)."""
    members = {b"m%d" % i for i in range(200)}
    kv.sadd("s", *members)
    counts = _spread(kv, "s", 200, 20000, "SRANDMEMBER")
    assert set(counts) == members
    assert max(counts.values()) < 300, sorted(counts.values())[-5:]
    big = {b"member:%d" % i for i in range(6000)}
    kv.sadd("big", *big)
    few = kv.srandmember("big", 370)                     # 370 picks, distinct
    assert len(few) == len(set(few)) == 370 and set(few) <= big
    many = kv.srandmember("big", 2500)                   # count * 3 > size: one walk
    assert len(many) == len(set(many)) == 2500 and set(many) <= big
    rep = kv.srandmember("big", -300)
    assert len(rep) == 300 and set(rep) <= big and len(set(rep)) > 250
    assert set(kv.srandmember("big", 6001)) == big
    popped = kv.spop("big", 100)                          # one pick each
    assert len(set(popped)) == 100 and set(popped) <= big
    one = kv.spop("big")
    assert one in big and one not in popped
    walked = kv.spop("big", 1500)                         # count * 5 > size: one walk
    assert len(set(walked)) == 1500 and not set(walked) & set(popped + [one])
    left = big - set(popped) - {one} - set(walked)
    assert kv.scard("big") == len(left) == 4399
    assert kv.smembers("big") == left
    assert all(kv.sismember("big", m) for m in list(left)[:50])
