"""Sorted sets beyond the differential scenarios: big sets (encoding, ZSCAN paging, ranks and
ranges on 5000 members), DUMP/RESTORE both ways, DEBUG DIGEST, long members, blocking pops."""

import threading

from tests.conftest import RawConn, wait_until


def test_big_zset_against_redis(kv, ref):
    mapping = {"m%05d" % i: (i * 7919) % 5003 / 7.0 for i in range(5000)}
    for c in (kv, ref):
        c.zadd("z", mapping)
    assert kv.object("encoding", "z") == ref.object("encoding", "z") == b"skiplist"
    for args in ((0, 99), (2500, 2600), (-100, -1)):
        assert kv.zrange("z", *args, withscores=True) == ref.zrange("z", *args, withscores=True)
    assert kv.zrangebyscore("z", 100, 200, start=5, num=20) == \
        ref.zrangebyscore("z", 100, 200, start=5, num=20)
    for m in ("m00000", "m02500", "m04999"):
        assert kv.zrank("z", m) == ref.zrank("z", m)
        assert kv.zrevrank("z", m) == ref.zrevrank("z", m)
    assert kv.zcount("z", "(100", 300) == ref.zcount("z", "(100", 300)
    seen = {}
    cursor = 0
    while True:
        cursor, part = kv.zscan("z", cursor, count=500)
        seen.update(part)
        if cursor == 0:
            break
    assert seen == dict(ref.zrange("z", 0, -1, withscores=True))
    assert kv.execute_command("DEBUG", "DIGEST-VALUE", "z") == \
        ref.execute_command("DEBUG", "DIGEST-VALUE", "z")


def test_dump_restore_with_redis_both_ways(kv, ref):
    for name, mapping in (("small", {"a": 1.5, "b": -2, "c": 1e300}),
                          ("big", {"x%d" % i: i / 3 for i in range(300)})):
        ref.zadd(name, mapping)
        assert kv.restore(name, 0, ref.dump(name)) == b"OK"
        assert kv.zrange(name, 0, -1, withscores=True) == \
            ref.zrange(name, 0, -1, withscores=True)
        ours = kv.dump(name)
        ref.delete(name)
        assert ref.restore(name, 0, ours) == b"OK"
        assert ref.zrange(name, 0, -1, withscores=True) == \
            kv.zrange(name, 0, -1, withscores=True)
    assert kv.execute_command("DEBUG", "DIGEST") == ref.execute_command("DEBUG", "DIGEST")


def test_long_members(kv):
    a, b = b"q" * 1000, b"q" * 999 + b"r"
    kv.zadd("z", {a: 1, b: 2, "s": 3})
    assert kv.zscore("z", a) == 1 and kv.zscore("z", b) == 2
    assert kv.zrange("z", 0, -1) == [a, b, b"s"]
    assert kv.zrem("z", a) == 1
    assert kv.zcard("z") == 2


def test_bzpopmin_served_by_zadd(kvstore_session, redis_ref):
    outs = []
    for srv in (kvstore_session, redis_ref):
        c = srv.client()
        c.delete("bz")
        out = {}
        t = threading.Thread(target=lambda: out.setdefault(
            "r", srv.client().bzpopmin(["bz"], 10)))
        t.start()
        wait_until(lambda: c.info("clients")["blocked_clients"] == 1, what="block")
        c.zadd("bz", {"a": 2, "b": 1})
        t.join(10)
        outs.append((out["r"], c.zrange("bz", 0, -1)))
    assert outs[0] == outs[1] == ((b"bz", b"b", 1.0), [b"a"])
    for port in (kvstore_session.port, redis_ref.port):
        r = RawConn(port)
        assert r.call("BZPOPMAX", "nokey", "0.01") == b"*-1\r\n"
        r.close()
