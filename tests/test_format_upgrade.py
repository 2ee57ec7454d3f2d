"""Storage format 1 -> 2: set and hash elements moved from <keyid><name> to
<keyid><slot><name> (random picks seek a random slot). A data directory written in format 1 is
converted when the server opens it, resumably: a conversion cut off part way continues after
the last collection it committed and converts none twice.

Format 1 data is made the way only an older server could: by a real server writing format 2,
then its element keys rewritten to the old layout with LMDB directly."""

import os

import lmdb
import pytest

from kvstore import keyspace, storage
from kvstore.keyspace import (SLOT_SIZE, TYPE_HASH, TYPE_MASK, TYPE_SET, add_element_slots,
                              collection_keyid)

LONG = b"L" * 600                    # longer than LMDB's key limit: stored hashed


def _populate(c):
    c.sadd("bigset", *[b"m%d" % i for i in range(700)], LONG)
    c.sadd("ints", 10, 2, -7, 100)
    c.hset("small", mapping={"z": "1", "a": "2", "m": "3"})         # insertion order
    c.hset("bighash", mapping={b"f%d" % i: b"v%d" % i for i in range(300)})
    c.hset("bighash", LONG, b"long field")
    c.zadd("z", {"a": 1, "b": 2})
    c.rpush("l", "x", "y")
    c.set("s", "v")


def _snapshot(c):
    return {
        "bigset": c.smembers("bigset"), "ints": c.execute_command("SMEMBERS", "ints"),
        "small": c.execute_command("HGETALL", "small"), "bighash": c.hgetall("bighash"),
        "z": c.zrange("z", 0, -1, withscores=True), "l": c.lrange("l", 0, -1),
        "s": c.get("s"), "long": c.hget("bighash", LONG), "longm": c.sismember("bigset", LONG),
        "digest": c.execute_command("DEBUG", "DIGEST"), "dbsize": c.dbsize(),
        "other": c.execute_command("SMEMBERS", "other"),
    }


def _env(srv):
    return lmdb.open(os.path.join(srv.dir, storage.ENV_DIRNAME), max_dbs=8,
                     map_size=1 << 30)


def _downgrade(srv):
    """Rewrite the stopped server's data in format 1; returns how many sets/hashes."""
    env = _env(srv)
    meta, elems, sys_db = (env.open_db(n) for n in (b"meta", b"elems", b"sys"))
    n = 0
    with env.begin(write=True) as txn:
        assert txn.get(storage.SYS_FORMAT, db=sys_db) == b"\x00\x00\x00\x02"
        for _, rec in list(txn.cursor(db=meta)):
            if rec[0] & TYPE_MASK not in (TYPE_SET, TYPE_HASH):
                continue
            n += 1
            head = keyspace._U64BE.pack(collection_keyid(rec))
            cur = txn.cursor(db=elems)
            records = []
            if cur.set_range(head):
                for k, v in cur:
                    if k[:8] != head:
                        break
                    records.append((k, v))
            for k, v in records:
                txn.delete(k, db=elems)
            for k, v in records:
                txn.put(head + k[8 + SLOT_SIZE:], v, db=elems)
        txn.delete(storage.SYS_FORMAT, db=sys_db)
    env.close()
    return n


def test_format_1_data_is_converted_at_open_and_resumes_after_a_crash(make_server,
                                                                      monkeypatch):
    srv = make_server("kvstore").start()
    c = srv.client()
    _populate(c)
    c.select(3)
    c.sadd("other", "only", "in", "db3")
    before = _snapshot(c)
    c.select(0)
    before0 = _snapshot(c)
    assert srv.stop() == 0
    assert _downgrade(srv) == 5

    # A first conversion cut off in its fourth transaction (one collection each, in table
    # order: bighash 301 elements, bigset 701, ints 4, then small).
    env = _env(srv)
    meta, elems, sys_db = (env.open_db(n) for n in (b"meta", b"elems", b"sys"))
    monkeypatch.setattr(keyspace, "CONVERT_BATCH", 1)
    real_slot, calls = keyspace.element_slot, []

    def failing_slot(name):
        calls.append(name)
        if len(calls) > 1006:
            raise OSError("simulated crash")
        return real_slot(name)

    monkeypatch.setattr(keyspace, "element_slot", failing_slot)
    with pytest.raises(OSError):
        add_element_slots(env, meta, elems, sys_db, storage.SYS_CONVERTED)
    with env.begin() as txn:
        assert txn.get(storage.SYS_CONVERTED, db=sys_db) is not None
        assert txn.get(storage.SYS_FORMAT, db=sys_db) is None
    env.close()
    monkeypatch.undo()

    srv.start()
    assert "re-keying set and hash elements" in srv.log()
    assert "2 sets and hashes converted" in srv.log()     # the three done before stay done
    c = srv.client()
    assert _snapshot(c) == before0
    c.select(3)
    assert _snapshot(c) == before
    c.select(0)
    assert c.srandmember("bigset") in before0["bigset"]
    assert c.hrandfield("bighash") in before0["bighash"]
    c.hset("bighash", "new", "1")
    assert c.hget("bighash", "new") == b"1"
    assert c.hdel("bighash", "new") == 1
    assert srv.stop() == 0
    env = _env(srv)
    sys_db = env.open_db(b"sys")
    with env.begin() as txn:
        assert txn.get(storage.SYS_FORMAT, db=sys_db) == b"\x00\x00\x00\x02"
        assert txn.get(storage.SYS_CONVERTED, db=sys_db) is None
    env.close()
    srv.start()
    assert srv.log().count("re-keying") == 1                # converted once
    assert _snapshot(srv.client()) == before0


def test_a_newer_format_is_refused(make_server):
    srv = make_server("kvstore").start()
    srv.client().set("k", "v")
    assert srv.stop() == 0
    env = _env(srv)
    sys_db = env.open_db(b"sys")
    with env.begin(write=True) as txn:
        txn.put(storage.SYS_FORMAT, b"\x00\x00\x00\x09", db=sys_db)
    env.close()
    srv.start(wait=False)
    assert srv.proc.wait(20) == 1
    assert "has format 9; this kvstore reads formats up to 2" in srv.log()
