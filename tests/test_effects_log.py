"""What goes to the on-disk replication log: the effects a Redis 7.0 primary propagates
(relative TTLs made absolute, rewrites, no-ops logged as nothing, SELECT on db change, lazy
expiry wrapped with the command in MULTI/EXEC), with offsets counting RESP bytes exactly."""

import os
import time

import lmdb

from kvstore.storage import ENV_DIRNAME
from tools.kvlog import read_commands
from tests.conftest import wait_until


def _log_after(srv, c, marker):
    """Commands logged after the SET of `marker` (which every test writes first)."""
    cmds = [cmd for _, cmd in read_commands(srv.dir)]
    idx = max(i for i, cmd in enumerate(cmds) if cmd[:2] == [b"SET", marker])
    return cmds[idx + 1:]


def test_propagated_effects(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    c.set("marker", "1")
    before = int(time.time() * 1000)
    c.execute_command("set", "a", "1", "EX", "100")
    c.execute_command("SET", "b", "1", "PXAT", "99999999999999")
    c.execute_command("SET", "c", "1", "GET")
    c.execute_command("SETEX", "d", "100", "v")
    c.execute_command("EXPIRE", "c", "100")
    c.execute_command("EXPIRE", "nokey", "100")          # no-op: nothing logged
    c.execute_command("DEL", "nokey")                    # no-op: nothing logged
    c.execute_command("PEXPIREAT", "c", "99999999999999")
    c.execute_command("INCRBYFLOAT", "f", "1.5")
    c.execute_command("GETDEL", "f")
    c.execute_command("GETSET", "g", "x")
    c.execute_command("SET", "n", "1", "NX")
    c.execute_command("SET", "n", "1", "NX")             # not set: nothing logged
    c.execute_command("PERSIST", "c")
    c.execute_command("SELECT", "2")
    c.execute_command("SET", "z", "1")
    c.execute_command("SELECT", "0")
    c.execute_command("EXPIRE", "g", "-1")               # past: becomes DEL
    due = int(time.time() * 1000) + 20
    c.execute_command("SET", "lazy", "v", "PXAT", due)
    # (no read of the key while waiting: a read would delete it and log a bare DEL)
    wait_until(lambda: time.time() * 1000 > due + 5, what="lazy key to expire")
    c.execute_command("APPEND", "lazy", "w")             # lazy expiry inside a write
    assert c.pttl("lazy") == -1
    after = int(time.time() * 1000)
    log = _log_after(srv, c, b"marker")
    pxat = int(log[0][4])
    assert before + 100000 <= pxat <= after + 100000
    assert log[0] == [b"SET", b"a", b"1", b"PXAT", b"%d" % pxat]
    assert log[1] == [b"SET", b"b", b"1", b"PXAT", b"99999999999999"]
    assert log[2] == [b"SET", b"c", b"1"]
    assert log[3][:4] == [b"SET", b"d", b"v", b"PXAT"]
    assert log[4][:2] == [b"PEXPIREAT", b"c"] and int(log[4][2]) >= before + 100000
    assert log[5] == [b"PEXPIREAT", b"c", b"99999999999999"]
    assert log[6] == [b"SET", b"f", b"1.5", b"KEEPTTL"]
    assert log[7] == [b"DEL", b"f"]
    assert log[8] == [b"SET", b"g", b"x"]
    assert log[9] == [b"SET", b"n", b"1", b"NX"]
    assert log[10] == [b"PERSIST", b"c"]
    assert log[11] == [b"SELECT", b"2"]
    assert log[12] == [b"SET", b"z", b"1"]
    assert log[13] == [b"SELECT", b"0"]
    assert log[14] == [b"DEL", b"g"]
    assert log[15] == [b"SET", b"lazy", b"v", b"PXAT", b"%d" % due]
    assert log[16:] == [[b"MULTI"], [b"DEL", b"lazy"], [b"APPEND", b"lazy", b"w"], [b"EXEC"]]


def test_offsets_count_resp_bytes(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    start = c.info("replication")["master_repl_offset"]
    c.set("k", "v")                                       # first write: SELECT 0 + SET
    select = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
    setcmd = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
    assert c.info("replication")["master_repl_offset"] == start + len(select) + len(setcmd)
    offsets = read_commands(srv.dir)
    assert offsets[-1] == (start + len(select) + 1, [b"SET", b"k", b"v"])
    c.get("k")                                            # reads log nothing
    assert c.info("replication")["master_repl_offset"] == start + len(select) + len(setcmd)


def test_read_of_expired_key_logs_a_bare_del(make_server):
    """A read that finds a key expired deletes it soon after (in a write batch) and logs a
    bare DEL, as Redis's expireIfNeeded does; the active cycle is off here."""
    srv = make_server("kvstore").start()
    c = srv.client()
    c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    c.set("marker", "1")
    due = int(time.time() * 1000) + 20
    c.execute_command("SET", "gone", "v", "PXAT", due)
    wait_until(lambda: time.time() * 1000 > due + 5, what="the key to expire")
    assert c.get("gone") is None
    wait_until(lambda: c.dbsize() == 1, what="the deletion")
    log = _log_after(srv, c, b"marker")
    assert log == [[b"SET", b"gone", b"v", b"PXAT", b"%d" % due], [b"DEL", b"gone"]]
    assert c.info("stats")["expired_keys"] == 1


def test_fast_forms_write_what_the_full_handlers_write(make_server):
    """SET, MSET, INCR, LPUSH/RPUSH, LPOP/RPOP, HSET, ZADD and SADD have fast forms
    (commands.fast_write) that skip the generic machinery; keyspace notifications turn them
    off. The same commands on a server that uses them and one that cannot must give the same
    replies, the same data (DUMP of every key, encodings, TTLs, DEBUG DIGEST, DBSIZE, table
    sizes) and the same replication log."""
    fast = make_server("kvstore").start()
    full = make_server("kvstore", ["--notify-keyspace-events", "KEA"]).start()
    script = [
        ("RPUSH", "l", "a", "b"), ("LPUSH", "l", "c"), ("RPUSH", "l", "d", "e", "f"),
        ("LPUSH", "new", "x", "y", "z"), ("RPUSH", "new2", "1"),
        ("SET", "s", "v"), ("LPUSH", "s", "x"),                     # WRONGTYPE
        ("RPUSH", "ttl", "a"), ("PEXPIREAT", "ttl", "99999999999999"), ("LPUSH", "ttl", "b"),
        ("LPUSH", "big", "v" * 70000),                               # over the fast limit
        ("HSET", "h", "f1", "v1", "f2", "v2"), ("HSET", "h", "f1", "new"),   # small, existing
        ("HSET", "h", "f3", "v3"),                                   # small, new field
        ("HSET", "h", "f2", "x" * 100),                              # value past the limit
        ("HSET", "h", "f9", "after"),                                # now big: new field
        ("HSET", "h", "f9", "again"),                                # big, existing
        ("HSET", "s", "f", "v"),                                     # WRONGTYPE
        ("HSET", "nohash", "f", "v"),                                # new key
        ("HSET", "th", "f", "v"), ("PEXPIREAT", "th", "99999999999998"),
        ("HSET", "th", "f", "w"),
        ("SELECT", "2"), ("RPUSH", "l", "in-db2"), ("HSET", "h", "a", "b"),
        ("HSET", "h", "a", "c"), ("SELECT", "0"), ("LPOP", "l"), ("RPUSH", "l", "g"),
        ("RPOP", "l"), ("LPOP", "l"), ("LPOP", "l", "1"), ("RPOP", "new2"),   # (empties it)
        ("LPOP", "ttl"), ("RPOP", "s"), ("LPOP", "missing"), ("RPOP", "new"), ("LPOP", "new"),
        ("RPUSH", "big", "w"), ("LPOP", "big"),
        ("ZADD", "z", "1", "a", "2", "b"), ("ZADD", "z", "5", "a"),  # small, existing member
        ("ZADD", "z", "5", "a"), ("ZADD", "z", "-0", "b"),           # same score: no effect
        ("ZADD", "z", "3", "c"),                                     # small, new member
        ("ZADD", "edge") + tuple(x for i in range(128) for x in (str(i), "e%d" % i)),
        ("ZADD", "edge", "1", "e128"), ("ZADD", "z", "1", "y" * 70),  # -> skiplist
        ("ZADD", "z", "nx", "a"), ("ZADD", "z", "x1", "a"), ("ZADD", "s", "1", "a"),  # errors
        ("ZADD", "bigz") + tuple(x for i in range(130) for x in (str(i), "m%d" % i)),
        ("ZADD", "bigz", "7.5", "m1"), ("ZADD", "bigz", "-3", "m129"),  # big, existing
        ("ZADD", "bigz", "64.5", "new"), ("ZADD", "bigz", "inf", "m2"),  # big, new; inf
        ("ZADD", "bigz", "1", "m" * 600),                            # a long member
        ("ZADD", "tz", "1", "a"), ("PEXPIREAT", "tz", "99999999999997"),
        ("ZADD", "tz", "2", "a"), ("ZADD", "newz", "1", "a"),        # an expiry; a new key
        ("SADD", "ints", "1"), ("SADD", "ints", "2"), ("SADD", "ints", "2"),   # intset
        ("SADD", "ints", "x"), ("OBJECT", "ENCODING", "ints"),      # -> hashtable
        ("SADD", "ints", "y"), ("SADD", "ints", "y"), ("SADD", "ints", "3"),
        ("SADD", "ints", "m" * 600), ("SADD", "ints", "m" * 600),   # a long member
        ("SADD", "ts", "a"), ("PEXPIREAT", "ts", "99999999999996"), ("SADD", "ts", "b"),
        ("SADD", "s", "a"), ("SADD", "news", "a"),                  # WRONGTYPE; a new key
        ("SET", "s2", "v"), ("SET", "s2", "w"), ("SET", "s2", "x" * 70000),   # new, over, big
        ("HSET", "hs", "f", "v"), ("SET", "hs", "str"),             # a hash becomes a string
        ("RPUSH", "ls", "a"), ("INCR", "ls"), ("SET", "ls", "1"), ("INCR", "ls"),
        ("SET", "te", "1"), ("PEXPIREAT", "te", "99999999999995"), ("SET", "te", "2"),
        ("SET", "ti", "1"), ("PEXPIREAT", "ti", "99999999999994"), ("INCR", "ti"),
        ("SET", "k" * 600, "long key"), ("INCR", "cnt"), ("INCR", "cnt"),
        ("MSET", "m1", "a", "m2", "b", "m1", "c"),                   # new keys, one repeated
        ("MSET", "m1", "x", "m3", "y"), ("MSET", "m2", "v", "hs", "w"),   # existing, new
        ("MSET", "m4", "a", "l", "b"), ("MSET", "m5", "a", "te", "b"),  # a list; an expiry
        ("MSET", "m6", "x" * 40000, "m7", "y" * 40000),              # over the fast limit
        ("MSET", "m8", "a", "k" * 600, "b"), ("MSET", "m9", "a", "m10"),  # long key; arity
        ("MSET", "cnt", "5"), ("INCR", "cnt"),
    ] + [("LINDEX", k, str(i)) for k in ("l", "new", "new2", "ttl") for i in range(-8, 8)] + [
        ("ZRANK", "bigz", "m%d" % i) for i in range(0, 130, 7)] + [
        ("ZRANGE", k, "0", "-1", "WITHSCORES") for k in ("z", "tz", "newz")] + [
        ("ZCARD", k) for k in ("z", "bigz", "edge", "tz", "newz")] + [
        (cmd, k) for k in ("ints", "ts", "news") for cmd in ("SCARD", "SMEMBERS")]
    conns = [srv.raw() for srv in (fast, full)]
    for cmd in script:
        replies = [c.call(*cmd) for c in conns]
        assert replies[0] == replies[1], (cmd, replies)
    keys = sorted(set(fast.client().keys()))
    assert keys == sorted(set(full.client().keys()))
    for db in (0, 2):
        views = []
        for c in conns:
            c.call("SELECT", str(db))
            view = [c.call("DBSIZE"), c.call("DEBUG", "DIGEST")]
            for k in keys + [b"h", b"l"]:
                view += [c.call("DUMP", k), c.call("OBJECT", "ENCODING", k), c.call("TTL", k)]
            views.append(view)
        assert views[0] == views[1], db
    assert [cmd for _, cmd in read_commands(fast.dir)] == \
        [cmd for _, cmd in read_commands(full.dir)]
    for c in conns:
        c.close()
    # What no reply shows: elements or expiry entries left behind (a fast form that wrote
    # over a hash's record or an expiring key instead of leaving it to the full handler).
    assert _table_sizes(fast) == _table_sizes(full)


def _table_sizes(srv):
    """Entries of each of the server's tables (after stopping it)."""
    srv.stop()
    env = lmdb.open(os.path.join(srv.dir, ENV_DIRNAME), readonly=True, max_dbs=8)
    try:
        dbs = {name: env.open_db(name, create=False) for name in (b"meta", b"expires", b"elems")}
        with env.begin() as txn:
            return {name: txn.stat(db)["entries"] for name, db in dbs.items()}
    finally:
        env.close()
