"""Hashes beyond the differential scenarios: big hashes (encoding switch, HSCAN paging), long
field names, DUMP/RESTORE both ways, DEBUG DIGEST, element reclaim after DEL/expiry/FLUSHALL,
HRANDFIELD's count semantics, RESP3 shapes."""

import os

import lmdb

import pytest
import redis

from tests.conftest import RawConn, wait_until


def _elements_on_disk(srv):
    env = lmdb.open(os.path.join(srv.dir, "kvstore.lmdb"), readonly=True, max_dbs=8)
    try:
        elems = env.open_db(b"elems", create=False)
        with env.begin() as txn:
            return txn.stat(elems)["entries"]
    finally:
        env.close()


def test_big_hash_encoding_and_hscan(kv, ref):
    for c in (kv, ref):
        c.hset("h", mapping={"f%d" % i: "v%d" % i for i in range(600)})
    assert kv.object("encoding", "h") == ref.object("encoding", "h") == b"hashtable"
    seen = {}
    cursor = 0
    calls = 0
    while True:
        cursor, part = kv.hscan("h", cursor, count=50)
        seen.update(part)
        calls += 1
        if cursor == 0:
            break
    assert calls >= 12
    assert seen == ref.hgetall("h")
    assert kv.hlen("h") == 600
    kv.hdel("h", *["f%d" % i for i in range(595)])
    assert kv.object("encoding", "h") == b"hashtable"       # never converts back, as Redis
    assert sorted(kv.hkeys("h")) == sorted(b"f%d" % i for i in range(595, 600))


def test_long_field_names(kv):
    long_a = b"a" * 1000
    long_b = b"a" * 999 + b"b"                # same 449-byte head
    kv.hset("h", mapping={long_a: b"1", long_b: b"2", b"short": b"3"})
    assert kv.hget("h", long_a) == b"1"
    assert kv.hget("h", long_b) == b"2"
    assert kv.hgetall("h") == {long_a: b"1", long_b: b"2", b"short": b"3"}
    assert kv.hdel("h", long_a) == 1
    assert kv.hexists("h", long_a) == 0
    assert kv.hlen("h") == 2


def test_dump_restore_with_redis_both_ways(kv, ref):
    small = {"a": "1", "b": "two"}
    big = {"f%d" % i: "x" * (i % 70) for i in range(700)}
    for name, mapping in (("small", small), ("big", big)):
        ref.hset(name, mapping=mapping)
        payload = ref.dump(name)
        assert kv.restore(name, 0, payload) == b"OK"
        assert kv.hgetall(name) == ref.hgetall(name)
        ours = kv.dump(name)
        ref.delete(name)
        assert ref.restore(name, 0, ours) == b"OK"
        assert ref.hgetall(name) == kv.hgetall(name)
    ref.set("s", "v")
    kv.set("s", "v")
    assert kv.execute_command("DEBUG", "DIGEST") == ref.execute_command("DEBUG", "DIGEST")


def test_elements_reclaimed_after_del_expire_flush(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.hset("small", mapping={"a": 1, "b": 2})
    c.hset("big", mapping={"f%d" % i: i for i in range(5000)})
    c.hset("exp", mapping={"a": 1})
    c.pexpire("exp", 50)
    c.hset("flushed", mapping={"f%d" % i: i for i in range(3000)})
    c.delete("small", "big")
    wait_until(lambda: c.exists("exp") == 0 and c.info("stats")["expired_keys"] == 1,
               what="expiry")
    c.flushdb()
    wait_until(lambda: c.info("memory")["lazyfree_pending_objects"] == 0, timeout=30,
               what="reclaim")
    c.hset("after", "k", "v")
    srv.stop()
    assert _elements_on_disk(srv) == 1
    srv.start()
    assert srv.client().hgetall("after") == {b"k": b"v"}


def test_set_over_hash_and_rename_over_hash_free_elements(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.hset("h", mapping={"a": 1, "b": 2})
    c.set("h", "now a string")
    c.hset("h2", mapping={"x": 1})
    c.hset("h3", mapping={"y": 1, "z": 2})
    c.rename("h2", "h3")
    assert c.hgetall("h3") == {b"x": b"1"}
    srv.stop()
    assert _elements_on_disk(srv) == 1


def test_hrandfield_counts(kv):
    kv.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    assert kv.hrandfield("h") in (b"a", b"b", b"c")
    assert sorted(kv.hrandfield("h", 5)) == [b"a", b"b", b"c"]
    two = kv.hrandfield("h", 2)
    assert len(two) == 2 and len(set(two)) == 2
    rep = kv.hrandfield("h", -10)
    assert len(rep) == 10 and set(rep) <= {b"a", b"b", b"c"}
    withv = kv.hrandfield("h", 2, withvalues=True)
    assert len(withv) == 4 and all(kv.hget("h", withv[i]) == withv[i + 1] for i in (0, 2))


def test_hrandfield_in_a_big_hash(kv):
    """HRANDFIELD on a big hash picks by seeking a random slot: fields of the hash with their
    own values, distinct for a positive count, and spread evenly (every field of 200 comes up
    in 20,000 picks, none more than 3x its share)."""
    fields = {b"f%d" % i: b"v%d" % i for i in range(200)}
    kv.hset("h", mapping=fields)
    p = kv.pipeline(transaction=False)
    for _ in range(20000):
        p.hrandfield("h")
    counts = {}
    for f in p.execute():
        counts[f] = counts.get(f, 0) + 1
    assert set(counts) == set(fields)
    assert max(counts.values()) < 300, sorted(counts.values())[-5:]
    big = {b"field:%d" % i: b"%d" % (i * 7) for i in range(5000)}
    kv.hset("big", mapping=big)
    pairs = kv.hrandfield("big", 300, withvalues=True)
    names = pairs[0::2]
    assert len(set(names)) == 300 and all(big[f] == v for f, v in zip(names, pairs[1::2]))
    rep = kv.hrandfield("big", -200, withvalues=True)
    assert len(rep) == 400 and all(big[f] == v for f, v in zip(rep[0::2], rep[1::2]))
    assert len(set(kv.hrandfield("big", 2000))) == 2000
    assert kv.hgetall("big") == big


def test_resp3_shapes(kvstore_session):
    c = RawConn(kvstore_session.port)
    c.call("FLUSHALL")
    c.call("HELLO", "3")
    c.call("HSET", "h", "f", "v")
    assert c.call("HGETALL", "h") == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
    assert c.call("HRANDFIELD", "h", "1", "WITHVALUES") == b"*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    assert c.call("HGETALL", "nokey") == b"%0\r\n"
    c.close()


def test_redis_py_resp3_client(kvstore_session):
    c = redis.Redis(port=kvstore_session.port)          # RESP3 by default
    c.flushall()
    c.hset("h", mapping={"a": "1"})
    assert c.hgetall("h") == {b"a": b"1"}
    assert c.hincrbyfloat("h", "a", 0.5) == pytest.approx(1.5)


def test_small_hash_replies_in_insertion_order(kv, ref):
    """A hash Redis holds as a listpack lists its fields in insertion order (updates keep a
    field's place, HDEL removes it, a re-added field goes last); kvstore matches it byte for
    byte. A big hash (hash-table order in Redis) is compared as a set."""
    script = [("HSET", "h", "zeta", "1", "alpha", "2", "mid", "3"), ("HSET", "h", "alpha", "9"),
              ("HDEL", "h", "zeta"), ("HSETNX", "h", "beta", "4"), ("HINCRBY", "h", "aaa", "5"),
              ("HSET", "h", "zeta", "6"), ("HINCRBYFLOAT", "h", "alpha", "0.5")]
    k = RawConn(kv.connection_pool.connection_kwargs["port"])
    r = RawConn(ref.connection_pool.connection_kwargs["port"])
    for c in (k, r):
        for cmd in script:
            c.call(*cmd)
    for args in (("HGETALL", "h"), ("HKEYS", "h"), ("HVALS", "h")):
        assert k.call(*args) == r.call(*args), args
    assert k.call("HKEYS", "h") == RawConn.encode(b"alpha", b"mid", b"beta", b"aaa", b"zeta")
    # DUMP/RESTORE and COPY keep the order
    k.call("COPY", "h", "h2")
    assert k.call("HKEYS", "h2") == k.call("HKEYS", "h")
    dump = kv.dump("h")
    kv.restore("h3", 0, dump)
    assert k.call("HKEYS", "h3") == k.call("HKEYS", "h")
    # past hash-max-listpack-entries it is a hash table: any order, same contents
    for c in (kv, ref):
        c.hset("big", mapping={"f%d" % i: i for i in range(200)})
    assert kv.hgetall("big") == ref.hgetall("big")
    k.close()
    r.close()
