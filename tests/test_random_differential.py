"""Random command sequences over every type, run on kvstore and on a real redis-server: every
reply (normalized only where Redis's order is its hash table's) and the final DEBUG DIGEST
must be equal. Hypothesis generates the sequences and shrinks any mismatch to a minimal one."""

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RawConn
from tests.test_differential import _normalize

KEYS = st.sampled_from([b"k1", b"k2", b"k3"])
MEMBERS = st.sampled_from([b"a", b"b", b"c", b"1", b"2", b"10", b"-3", b""])
NUMS = st.sampled_from([b"0", b"1", b"-1", b"2", b"5", b"-5", b"100", b"x", b"1.5"])
SCORES = st.sampled_from([b"0", b"-0", b"1", b"-1", b"2.5", b"inf", b"-inf", b"1e10", b"x"])
IDX = st.sampled_from([b"0", b"1", b"-1", b"2", b"-2", b"10", b"-10"])
BOUNDS = st.sampled_from([b"-inf", b"+inf", b"0", b"(1", b"2", b"(2.5", b"x"])
LEX = st.sampled_from([b"-", b"+", b"[a", b"(b", b"[c", b"x"])


def cmd(name, *parts):
    return st.tuples(st.just(name), *parts)


COMMANDS = st.one_of(
    cmd(b"SET", KEYS, MEMBERS), cmd(b"GET", KEYS), cmd(b"INCR", KEYS), cmd(b"APPEND", KEYS, MEMBERS),
    cmd(b"INCRBY", KEYS, NUMS), cmd(b"GETRANGE", KEYS, IDX, IDX), cmd(b"SETRANGE", KEYS, IDX, MEMBERS),
    cmd(b"DEL", KEYS), cmd(b"EXISTS", KEYS, KEYS), cmd(b"TYPE", KEYS), cmd(b"RENAME", KEYS, KEYS),
    cmd(b"COPY", KEYS, KEYS), cmd(b"EXPIRE", KEYS, st.sampled_from([b"100", b"-1", b"x"])),
    cmd(b"PERSIST", KEYS), cmd(b"TTL", KEYS),
    cmd(b"LPUSH", KEYS, MEMBERS), cmd(b"RPUSH", KEYS, MEMBERS, MEMBERS), cmd(b"LPOP", KEYS),
    cmd(b"RPOP", KEYS, NUMS), cmd(b"LRANGE", KEYS, IDX, IDX), cmd(b"LINDEX", KEYS, IDX),
    cmd(b"LSET", KEYS, IDX, MEMBERS), cmd(b"LREM", KEYS, NUMS, MEMBERS),
    cmd(b"LTRIM", KEYS, IDX, IDX), cmd(b"LINSERT", KEYS, st.sampled_from([b"BEFORE", b"AFTER"]),
                                        MEMBERS, MEMBERS),
    cmd(b"LPOS", KEYS, MEMBERS), cmd(b"LMOVE", KEYS, KEYS, st.sampled_from([b"LEFT", b"RIGHT"]),
                                     st.sampled_from([b"LEFT", b"RIGHT"])),
    cmd(b"HSET", KEYS, MEMBERS, MEMBERS), cmd(b"HGET", KEYS, MEMBERS), cmd(b"HDEL", KEYS, MEMBERS),
    cmd(b"HINCRBY", KEYS, MEMBERS, NUMS), cmd(b"HLEN", KEYS), cmd(b"HGETALL", KEYS),
    cmd(b"HEXISTS", KEYS, MEMBERS), cmd(b"HSTRLEN", KEYS, MEMBERS),
    cmd(b"SADD", KEYS, MEMBERS, MEMBERS), cmd(b"SREM", KEYS, MEMBERS), cmd(b"SCARD", KEYS),
    cmd(b"SISMEMBER", KEYS, MEMBERS), cmd(b"SMEMBERS", KEYS), cmd(b"SINTER", KEYS, KEYS),
    cmd(b"SUNIONSTORE", KEYS, KEYS, KEYS), cmd(b"SDIFF", KEYS, KEYS), cmd(b"SMOVE", KEYS, KEYS,
                                                                          MEMBERS),
    cmd(b"ZADD", KEYS, SCORES, MEMBERS), cmd(b"ZINCRBY", KEYS, SCORES, MEMBERS),
    cmd(b"ZREM", KEYS, MEMBERS), cmd(b"ZSCORE", KEYS, MEMBERS), cmd(b"ZRANK", KEYS, MEMBERS),
    cmd(b"ZRANGE", KEYS, IDX, IDX, st.just(b"WITHSCORES")),
    cmd(b"ZRANGEBYSCORE", KEYS, BOUNDS, BOUNDS), cmd(b"ZRANGEBYLEX", KEYS, LEX, LEX),
    cmd(b"ZRANGEBYSCORE", KEYS, BOUNDS, BOUNDS, st.just(b"LIMIT"), IDX, IDX),
    cmd(b"ZRANGE", KEYS, LEX, LEX, st.just(b"BYLEX"), st.just(b"LIMIT"), IDX, IDX),
    cmd(b"ZCOUNT", KEYS, BOUNDS, BOUNDS), cmd(b"ZPOPMIN", KEYS), cmd(b"ZCARD", KEYS),
    cmd(b"ZUNIONSTORE", KEYS, st.just(b"2"), KEYS, KEYS),
    cmd(b"ZREMRANGEBYRANK", KEYS, IDX, IDX), cmd(b"SORT", KEYS, st.just(b"ALPHA")),
    cmd(b"GETSET", KEYS, MEMBERS), cmd(b"GETDEL", KEYS), cmd(b"MSET", KEYS, MEMBERS, KEYS, MEMBERS),
    cmd(b"MSETNX", KEYS, MEMBERS, KEYS, MEMBERS), cmd(b"INCRBYFLOAT", KEYS, SCORES),
    cmd(b"SETNX", KEYS, MEMBERS), cmd(b"STRLEN", KEYS), cmd(b"RENAMENX", KEYS, KEYS),
    cmd(b"MOVE", KEYS, st.sampled_from([b"0", b"1"])), cmd(b"LPUSHX", KEYS, MEMBERS),
    cmd(b"RPOPLPUSH", KEYS, KEYS), cmd(b"LLEN", KEYS), cmd(b"HSETNX", KEYS, MEMBERS, MEMBERS),
    cmd(b"HINCRBYFLOAT", KEYS, MEMBERS, SCORES), cmd(b"HMGET", KEYS, MEMBERS, MEMBERS),
    cmd(b"HKEYS", KEYS), cmd(b"HVALS", KEYS), cmd(b"SMISMEMBER", KEYS, MEMBERS, MEMBERS),
    cmd(b"SINTERCARD", st.just(b"2"), KEYS, KEYS), cmd(b"SDIFFSTORE", KEYS, KEYS, KEYS),
    cmd(b"SINTERSTORE", KEYS, KEYS, KEYS),
    cmd(b"ZADD", KEYS, st.sampled_from([b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"]), SCORES,
        MEMBERS),
    cmd(b"ZREVRANGE", KEYS, IDX, IDX), cmd(b"ZLEXCOUNT", KEYS, LEX, LEX),
    cmd(b"ZREMRANGEBYSCORE", KEYS, BOUNDS, BOUNDS), cmd(b"ZREMRANGEBYLEX", KEYS, LEX, LEX),
    cmd(b"ZINTERSTORE", KEYS, st.just(b"2"), KEYS, KEYS), cmd(b"ZMSCORE", KEYS, MEMBERS, MEMBERS),
    cmd(b"ZREVRANK", KEYS, MEMBERS), cmd(b"ZPOPMAX", KEYS, NUMS), cmd(b"ZINTERCARD", st.just(b"2"),
                                                                     KEYS, KEYS),
    cmd(b"ZRANGESTORE", KEYS, KEYS, IDX, IDX), cmd(b"ZDIFF", st.just(b"2"), KEYS, KEYS),
    cmd(b"LMPOP", st.just(b"2"), KEYS, KEYS, st.sampled_from([b"LEFT", b"RIGHT"])),
    cmd(b"ZMPOP", st.just(b"1"), KEYS, st.sampled_from([b"MIN", b"MAX"])),
    cmd(b"PEXPIRE", KEYS, st.sampled_from([b"100000", b"0", b"-5"])),
    cmd(b"MULTI"), cmd(b"EXEC"), cmd(b"DISCARD"), cmd(b"WATCH", KEYS), cmd(b"UNWATCH"),
    # OBJECT ENCODING is left out: which internal encoding Redis picks after set algebra is
    # an implementation detail (the issue excludes it from differential comparison).
)


# The hashes here stay small (Redis listpacks): their field order is insertion order, which
# kvstore reproduces, so these replies are compared exactly.
ORDERED_HERE = {b"HKEYS", b"HVALS", b"HGETALL"}


def _run(conn, cmds):
    return [conn.call(*c) if c[0] in ORDERED_HERE else _normalize([c[0].decode()], conn.call(*c))
            for c in cmds]


# derandomize: CI explores the same 800 sequences every run (a green run stays green); to hunt
# for new mismatches run with KVSTORE_HYPOTHESIS_SEARCH=1 (random seeds, more examples).
_SEARCH = os.environ.get("KVSTORE_HYPOTHESIS_SEARCH") == "1"


@settings(max_examples=5000 if _SEARCH else 800, deadline=None, derandomize=not _SEARCH,
          database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(COMMANDS, min_size=1, max_size=40))
def test_random_sequences_match_redis(kvstore_session, redis_ref, cmds):
    k = RawConn(kvstore_session.port)
    r = RawConn(redis_ref.port)
    try:
        for c in (k, r):
            c.call(b"FLUSHALL")
        ours, theirs = _run(k, cmds), _run(r, cmds)
        for c, o, t in zip(cmds, ours, theirs):
            assert (c, o) == (c, t)
        assert k.call(b"DEBUG", b"DIGEST") == r.call(b"DEBUG", b"DIGEST")
    finally:
        k.close()
        r.close()
