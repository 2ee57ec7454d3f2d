"""Random commands over collections past Redis's compact limits (sorted sets, hashes, sets
and lists of 300 elements, refilled whenever the commands shrink or replace them; long
members; -0 scores), run on kvstore and on a real redis-server: every reply, in RESP2 and
RESP3, and DEBUG DIGEST every 100 steps must be equal. Once under Redis's default encoding
thresholds, once under tiny ones (4 entries, 8 bytes) where small values keep crossing
between the compact and the big encoding.

test_random_differential.py keeps collections tiny so hypothesis can shrink a mismatch; this
one reaches the big encodings (rank tree, score index walks, conversions from listpack and
intset in the middle of a command, weighted set operations over hundreds of members), where
the bugs of a disk layout live. Sequences come from fixed seeds, so a green run stays green;
set KVSTORE_BIG_DIFF_SEEDS=a-b to explore other seeds. A mismatch reports the step and the
last commands on the keys involved.

What Redis leaves unspecified is kept out: replies in hash-table order are compared as sets
(tests.test_differential._normalize) and not sent inside MULTI (EXEC's reply would carry
them in Redis's order); SORT BY nosort of a hash-table set is not sent; lexicographic ranges
run only on `w1`, whose members all score 0; random picks (SPOP, SRANDMEMBER & co) are
sent only with a count that takes everything."""

import os
import random

import pytest

from tests.conftest import RawConn
from tests.test_differential import _items, _normalize

STEPS = 4000
DIGEST_EVERY = 100
KEYS = [b"z1", b"z2", b"h1", b"s1", b"l1", b"x"]


def _seeds():
    spec = os.environ.get("KVSTORE_BIG_DIFF_SEEDS")
    if not spec:
        return [1, 2, 3]
    lo, _, hi = spec.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


class Generator:
    """Random commands from one seed (the same sequence for both servers)."""

    def __init__(self, seed):
        self.rnd = random.Random(seed)

    def key(self):
        return self.rnd.choice(KEYS)

    def member(self):
        rnd = self.rnd
        x = rnd.random()
        if x < 0.93:
            return b"m%d" % rnd.randrange(400)
        if x < 0.97:
            return b"%d" % rnd.randrange(-5, 400)       # integers: intsets, numeric SORT
        return b"long%d" % rnd.randrange(20) + b"L" * 64  # past the listpack value limit

    def score(self):
        rnd = self.rnd
        return rnd.choice([b"%d" % rnd.randrange(-50, 50), b"%.3f" % rnd.uniform(-10, 10),
                           b"inf", b"-inf", b"0", b"-0", b"1e3"])

    def index(self):
        rnd = self.rnd
        return b"%d" % rnd.choice([0, 1, -1, 5, -5, 100, -100, 200, 399,
                                   rnd.randrange(-300, 300)])

    def bound(self):
        rnd = self.rnd
        return rnd.choice([b"-inf", b"+inf", b"%d" % rnd.randrange(-50, 50),
                           b"(%d" % rnd.randrange(-50, 50)])

    def lex(self):
        return self.rnd.choice([b"-", b"+", b"[m1", b"(m2", b"[m3", b"(m35", b"[m"])

    def command(self, allowed):
        while True:
            cmd = self.rnd.choice(_FORMS)(self)
            if allowed(cmd):
                return cmd


_FORMS = [
    lambda g: [b"ZADD", g.key(), g.score(), g.member()],
    lambda g: [b"ZADD", g.key()] + [x for _ in range(g.rnd.randrange(1, 6))
                                    for x in (g.score(), g.member())],
    lambda g: [b"ZADD", g.key(), g.rnd.choice([b"NX", b"XX", b"GT", b"LT", b"CH"]), g.score(),
               g.member()],
    lambda g: [b"ZADD", g.key(), b"INCR", g.score(), g.member()],
    lambda g: [b"ZADD", g.key(), b"GT", b"CH", b"INCR", g.score(), g.member()],
    lambda g: [b"ZINCRBY", g.key(), g.score(), g.member()],
    lambda g: [b"ZREM", g.key(), g.member(), g.member()],
    lambda g: [b"ZRANK", g.key(), g.member()], lambda g: [b"ZREVRANK", g.key(), g.member()],
    lambda g: [b"ZSCORE", g.key(), g.member()], lambda g: [b"ZCARD", g.key()],
    lambda g: [b"ZMSCORE", g.key(), g.member(), g.member()],
    lambda g: [b"ZRANGE", g.key(), g.index(), g.index(), b"WITHSCORES"],
    lambda g: [b"ZRANGE", g.key(), g.index(), g.index(), b"REV"],
    lambda g: [b"ZRANGE", g.key(), g.bound(), g.bound(), b"BYSCORE", b"REV", b"LIMIT", b"1",
               b"5", b"WITHSCORES"],
    lambda g: [b"ZRANGEBYSCORE", g.key(), g.bound(), g.bound(), b"LIMIT", g.index(),
               b"%d" % g.rnd.randrange(-1, 20)],
    lambda g: [b"ZREVRANGEBYSCORE", g.key(), g.bound(), g.bound(), b"WITHSCORES"],
    lambda g: [b"ZCOUNT", g.key(), g.bound(), g.bound()],
    lambda g: [b"ZADD", b"w1", b"0", g.member()], lambda g: [b"ZREM", b"w1", g.member()],
    lambda g: [b"ZRANGEBYLEX", b"w1", g.lex(), g.lex()],
    lambda g: [b"ZLEXCOUNT", b"w1", g.lex(), g.lex()],
    lambda g: [b"ZREVRANGEBYLEX", b"w1", g.rnd.choice([b"+", b"[m5", b"(m2"]),
               g.rnd.choice([b"-", b"[m1", b"(m3"]), b"LIMIT", b"1", b"7"],
    lambda g: [b"ZREMRANGEBYLEX", b"w1", g.lex(), g.lex()],
    lambda g: [b"ZRANGE", b"w1", g.lex(), g.lex(), b"BYLEX", b"LIMIT", b"0", b"10"],
    lambda g: [b"ZREMRANGEBYRANK", g.key(), g.index(), g.index()],
    lambda g: [b"ZREMRANGEBYSCORE", g.key(), g.bound(), g.bound()],
    lambda g: [b"ZPOPMIN", g.key(), b"%d" % g.rnd.randrange(0, 5)],
    lambda g: [b"ZPOPMAX", g.key()],
    lambda g: [b"ZMPOP", b"2", g.key(), g.key(), g.rnd.choice([b"MIN", b"MAX"]), b"COUNT",
               b"%d" % g.rnd.randrange(1, 6)],
    lambda g: [b"ZUNIONSTORE", g.key(), b"2", g.key(), g.key()],
    lambda g: [b"ZINTERSTORE", g.key(), b"2", g.key(), g.key(), b"AGGREGATE",
               g.rnd.choice([b"MIN", b"MAX", b"SUM"])],
    lambda g: [b"ZDIFFSTORE", g.key(), b"2", g.key(), g.key()],
    lambda g: [b"ZRANGESTORE", g.key(), g.key(), g.index(), g.index()],
    lambda g: [b"ZRANGESTORE", g.key(), g.key(), g.bound(), g.bound(), b"BYSCORE"],
    lambda g: [b"ZUNION", b"2", g.key(), g.key(), b"WEIGHTS", b"2", b"-1", b"WITHSCORES"],
    lambda g: [b"ZINTER", b"2", g.key(), g.key(), b"WITHSCORES"],
    lambda g: [b"ZDIFF", b"2", g.key(), g.key()],
    lambda g: [b"ZINTERCARD", b"2", g.key(), g.key(), b"LIMIT",
               b"%d" % g.rnd.randrange(0, 20)],
    lambda g: [b"HSET", g.key(), g.member(), g.member()],
    lambda g: [b"HSET", g.key(), g.member(), b"v" * g.rnd.choice([1, 70])],
    lambda g: [b"HDEL", g.key(), g.member()], lambda g: [b"HGET", g.key(), g.member()],
    lambda g: [b"HLEN", g.key()], lambda g: [b"HMGET", g.key(), g.member(), g.member()],
    lambda g: [b"HINCRBY", g.key(), g.member(), b"%d" % g.rnd.randrange(-5, 5)],
    lambda g: [b"HINCRBYFLOAT", g.key(), g.member(), g.score()],
    lambda g: [b"HSETNX", g.key(), g.member(), g.member()],
    lambda g: [b"HSTRLEN", g.key(), g.member()], lambda g: [b"HEXISTS", g.key(), g.member()],
    lambda g: [b"SADD", g.key(), g.member()],
    lambda g: [b"SADD", g.key(), b"%d" % g.rnd.randrange(600)],
    lambda g: [b"SREM", g.key(), g.member()], lambda g: [b"SCARD", g.key()],
    lambda g: [b"SISMEMBER", g.key(), g.member()],
    lambda g: [b"SMISMEMBER", g.key(), g.member(), g.member()],
    lambda g: [b"SINTERSTORE", g.key(), g.key(), g.key()],
    lambda g: [b"SUNIONSTORE", g.key(), g.key(), g.key()],
    lambda g: [b"SDIFFSTORE", g.key(), g.key(), g.key()],
    lambda g: [b"SINTERCARD", b"2", g.key(), g.key(), b"LIMIT", b"5"],
    lambda g: [b"SMOVE", g.key(), g.key(), g.member()],
    lambda g: [b"SMEMBERS", g.key()], lambda g: [b"SINTER", g.key(), g.key()],
    lambda g: [b"SUNION", g.key(), g.key()], lambda g: [b"SDIFF", g.key(), g.key()],
    lambda g: [b"HGETALL", g.key()], lambda g: [b"HKEYS", g.key()],
    lambda g: [b"HVALS", g.key()],
    # Random picks are deterministic as a whole when the count covers the collection.
    lambda g: [b"SRANDMEMBER", g.key(), b"2000"], lambda g: [b"SPOP", g.key(), b"2000"],
    lambda g: [b"HRANDFIELD", g.key(), b"2000", b"WITHVALUES"],
    lambda g: [b"ZRANDMEMBER", g.key(), b"2000", b"WITHSCORES"],
    # Blocking forms: served at once from a non-empty key, else a short timeout (nil).
    lambda g: [b"BZPOPMIN", g.key(), g.key(), b"0.01"],
    lambda g: [b"BZMPOP", b"0.01", b"1", g.key(), b"MAX", b"COUNT", b"2"],
    lambda g: [b"BLMPOP", b"0.01", b"2", g.key(), g.key(), b"LEFT", b"COUNT", b"2"],
    lambda g: [b"BRPOPLPUSH", g.key(), g.key(), b"0.01"],
    lambda g: [b"RPUSH", g.key(), g.member()], lambda g: [b"LPUSH", g.key(), g.member(),
                                                          g.member()],
    lambda g: [b"LPOP", g.key()], lambda g: [b"RPOP", g.key(), b"3"],
    lambda g: [b"LINDEX", g.key(), g.index()], lambda g: [b"LRANGE", g.key(), g.index(),
                                                          g.index()],
    lambda g: [b"LREM", g.key(), b"%d" % g.rnd.randrange(-2, 3), g.member()],
    lambda g: [b"LINSERT", g.key(), b"BEFORE", g.member(), g.member()],
    lambda g: [b"LSET", g.key(), g.index(), g.member()],
    lambda g: [b"LTRIM", g.key(), g.index(), g.index()],
    lambda g: [b"LPOS", g.key(), g.member(), b"RANK", b"-1"],
    lambda g: [b"LPOS", g.key(), g.member(), b"COUNT", b"0", b"MAXLEN", b"100"],
    lambda g: [b"LMOVE", g.key(), g.key(), b"LEFT", b"RIGHT"],
    lambda g: [b"RPOPLPUSH", g.key(), g.key()],
    lambda g: [b"LMPOP", b"2", g.key(), g.key(), g.rnd.choice([b"LEFT", b"RIGHT"]), b"COUNT",
               b"3"],
    lambda g: [b"SORT", g.key(), b"LIMIT", b"0", b"10", b"ALPHA"],
    lambda g: [b"SORT", g.key(), b"BY", b"nosort", b"LIMIT", b"0", b"5"],
    lambda g: [b"SORT", g.key(), b"DESC", b"LIMIT", b"3", b"4"],
    lambda g: [b"OBJECT", b"ENCODING", g.key()],
    lambda g: [b"MULTI"], lambda g: [b"EXEC"], lambda g: [b"DISCARD"],
    # WATCH before MULTI: EXEC then tells which commands in between touched the key (a
    # write that changes nothing must not).
    lambda g: [b"WATCH", g.key(), g.key()], lambda g: [b"WATCH", g.key()],
    lambda g: [b"UNWATCH"],
    lambda g: [b"DEL", g.key()], lambda g: [b"RENAME", g.key(), g.key()],
    lambda g: [b"COPY", g.key(), g.key(), b"REPLACE"],
    lambda g: [b"SET", g.key(), g.member()], lambda g: [b"INCR", g.key()],
    lambda g: [b"EXPIRE", g.key(), b"1000"], lambda g: [b"PERSIST", g.key()],
    lambda g: [b"TYPE", g.key()],
]


def _zset_fill(first, last, score):
    def fill(conn, key):
        for i in range(first, last, 50):
            conn.call(b"ZADD", key, *[x for j in range(i, min(i + 50, last))
                                      for x in (b"%d" % score(j), b"m%d" % j)])
    return fill


def _fill_of(command, element):
    def fill(conn, key):
        for i in range(0, 300, 50):
            conn.call(command, key, *[x for j in range(i, i + 50) for x in element(j)])
    return fill


# The big collections, each refilled (deleted and written again on both servers) whenever
# the random commands have removed it, replaced it by another type or shrunk it under 100:
# without that, DEL, RENAME, SET and the STORE commands leave only small values within a
# few hundred steps. z2 overlaps z1 (m100..m399) for the set operations.
BIG = {
    b"z1": (b"zset", b"ZCARD", _zset_fill(0, 300, lambda j: j % 37)),
    b"z2": (b"zset", b"ZCARD", _zset_fill(100, 400, lambda j: (j * 7) % 50 - 25)),
    b"w1": (b"zset", b"ZCARD", _zset_fill(0, 300, lambda j: 0)),
    b"h1": (b"hash", b"HLEN", _fill_of(b"HSET", lambda j: (b"m%d" % j, b"v%d" % j))),
    b"s1": (b"set", b"SCARD", _fill_of(b"SADD", lambda j: (b"m%d" % j,))),
    b"l1": (b"list", b"LLEN", _fill_of(b"RPUSH", lambda j: (b"m%d" % j,))),
}
REFILL_BELOW = 100


def _refill(conns, probe):
    """Bring every BIG key back to a big collection of its type where it is not one."""
    for key, (kind, size_cmd, fill) in BIG.items():
        if probe.call(b"TYPE", key) == b"+%s\r\n" % kind:
            size = int(probe.call(size_cmd, key)[1:-2])
            if size >= REFILL_BELOW:
                continue
        for conn in conns:
            conn.call(b"DEL", key)
            fill(conn, key)


# Replies in hash-table order, compared as sets by _normalize: not inside MULTI, where
# they would come inside EXEC's reply.
UNORDERED_REPLIES = {b"SMEMBERS", b"SINTER", b"SUNION", b"SDIFF", b"HGETALL", b"HKEYS",
                     b"HVALS", b"SRANDMEMBER", b"SPOP", b"HRANDFIELD", b"ZRANDMEMBER"}
_WHOLE_PICKS = {b"SRANDMEMBER", b"SPOP", b"HRANDFIELD", b"ZRANDMEMBER"}


def _comparable(cmd, reply):
    """_normalize, and a whole-collection pick (RESP2 flat or RESP3 pairs) as sorted items."""
    if cmd[0] not in _WHOLE_PICKS or reply[:1] not in (b"*", b"~"):
        return _normalize([cmd[0].decode()], reply)
    head, items = _items(reply)
    return head + b"\r\n" + b"".join(sorted(items))


class CommandFilter:
    """Whether a command goes out now: no UNORDERED_REPLIES inside MULTI; SORT BY nosort
    not on a hash-table set, and not inside MULTI (where the key's type when EXEC runs is
    not known here); without `sort_compact_zsets`, no SORT of a compact sorted set (nor
    any SORT inside MULTI). Asks the server on a connection of its own."""

    def __init__(self, probe, sort_compact_zsets=True):
        self.probe = probe
        self.in_multi = False
        self.sort_compact_zsets = sort_compact_zsets

    def __call__(self, cmd):
        name = cmd[0]
        if name in UNORDERED_REPLIES:
            return not self.in_multi
        if name != b"SORT" or (b"nosort" not in cmd and self.sort_compact_zsets):
            return True
        if self.in_multi:
            return False
        kind = self.probe.call(b"TYPE", cmd[1])
        if kind == b"+set\r\n" and b"nosort" in cmd:
            return self.probe.call(b"OBJECT", b"ENCODING", cmd[1]) == b"$6\r\nintset\r\n"
        if kind == b"+zset\r\n" and not self.sort_compact_zsets:
            return self.probe.call(b"OBJECT", b"ENCODING", cmd[1]) == b"$8\r\nskiplist\r\n"
        return True

    def saw(self, cmd, reply):
        if cmd[0] == b"MULTI" and reply == b"+OK\r\n":
            self.in_multi = True
        elif cmd[0] in (b"EXEC", b"DISCARD"):
            self.in_multi = False


def _history_of(history, cmd):
    if cmd[0] == b"EXEC":
        # The WATCHes in force and every command since the first of them on a watched key.
        # (EXEC and DISCARD outside MULTI are errors that keep the WATCHes: not seen here)
        start = max((i + 1 for i, h in enumerate(history) if h[0] == b"UNWATCH"), default=0)
        watches = [i for i in range(start, len(history)) if history[i][0] == b"WATCH"]
        if watches:
            keys = {k for i in watches for k in history[i][1:]}
            return [h for h in history[watches[0]:] if set(h[1:]) & keys or h[0] in (
                b"MULTI", b"WATCH")][-40:]
        return history[-40:]
    keys = set(cmd[1:]) & (set(KEYS) | {b"w1"})
    related = [h for h in history if set(h[1:]) & keys or h[0] in (b"MULTI", b"EXEC",
                                                                   b"DISCARD")]
    return related[-25:]


def _same_dataset(k, r, step, history):
    if k.call(b"DEBUG", b"DIGEST") == r.call(b"DEBUG", b"DIGEST"):
        return
    differing = [key for key in KEYS + [b"w1"] if k.call(b"DEBUG", b"DIGEST-VALUE", key)
                 != r.call(b"DEBUG", b"DIGEST-VALUE", key)]
    pytest.fail("after step %d: DEBUG DIGEST differs, DIGEST-VALUE for %r\nbefore: %r\n%s" % (
        step, differing, _history_of(history, [b""] + differing),
        "\n".join("%r kvstore: %r\n%r redis:   %r" % (key, _contents(k, key), key,
                                                     _contents(r, key)) for key in differing)))


_READ_ALL = {b"+zset\r\n": (b"ZRANGE", b"0", b"-1", b"WITHSCORES"),
             b"+list\r\n": (b"LRANGE", b"0", b"-1"), b"+hash\r\n": (b"HGETALL",),
             b"+set\r\n": (b"SMEMBERS",), b"+string\r\n": (b"GET",)}


def _contents(conn, key):
    read = _READ_ALL.get(conn.call(b"TYPE", key))
    if read is None:
        return None
    return _normalize([read[0].decode()], conn.call(read[0], key, *read[1:]))[:600]


# Encoding thresholds: Redis's defaults, and tiny ones under which small values cross
# between the compact and the big encoding every few commands.
DEFAULT_THRESHOLDS = {b"zset-max-listpack-entries": b"128", b"zset-max-listpack-value": b"64",
                      b"hash-max-listpack-entries": b"128", b"hash-max-listpack-value": b"64",
                      b"set-max-intset-entries": b"512"}
THRESHOLDS = {
    "default": DEFAULT_THRESHOLDS,
    "tiny": {b"zset-max-listpack-entries": b"4", b"zset-max-listpack-value": b"8",
             b"hash-max-listpack-entries": b"4", b"hash-max-listpack-value": b"8",
             b"set-max-intset-entries": b"4"},
}


def _configure(conns, thresholds):
    for conn in conns:
        for name, value in thresholds.items():
            assert conn.call(b"CONFIG", b"SET", name, value) == b"+OK\r\n"


@pytest.mark.parametrize("thresholds", sorted(THRESHOLDS))
@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("seed", _seeds())
def test_big_collections_match_redis(seed, resp3, thresholds, kvstore_session, redis_ref):
    _compare_runs(kvstore_session, redis_ref, seed, STEPS, resp3, THRESHOLDS[thresholds])


class EventLog:
    """Keyspace and keyevent messages of one server (notify-keyspace-events KEA), read up
    to a marker PUBLISHed after the commands of a checkpoint."""

    def __init__(self, port):
        self.sub = RawConn(port)
        self.sub.call(b"PSUBSCRIBE", b"__key*__:*")
        self.marks = 0

    def drain(self, conn):
        """The messages since the last drain (`conn`: a command connection, not in MULTI)."""
        self.marks += 1
        mark = b"mark%d" % self.marks
        conn.call(b"PUBLISH", b"__keyspace@0__:mark", mark)
        out = []
        while True:
            message = self.sub.read_reply()
            if message.endswith(b"\r\n" + mark + b"\r\n"):
                return out
            out.append(message)


@pytest.mark.parametrize("seed", _seeds() if os.environ.get("KVSTORE_BIG_DIFF_SEEDS") else [11])
def test_big_collections_same_notifications(seed, kvstore_session, redis_ref):
    """The same commands with every keyspace notification on (kvstore then also leaves its
    fast forms for the full handlers): the same messages in the same order as Redis."""
    conns = [RawConn(kvstore_session.port), RawConn(redis_ref.port)]
    logs = []
    try:
        for c in conns:
            assert c.call(b"CONFIG", b"SET", b"notify-keyspace-events", b"KEA") == b"+OK\r\n"
        logs[:] = [EventLog(kvstore_session.port), EventLog(redis_ref.port)]
        seen = []

        def same_events(k, r, step, history):
            ours, theirs = logs[0].drain(k), logs[1].drain(r)
            if ours != theirs:
                at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
                          min(len(ours), len(theirs)))
                pytest.fail("events up to step %d differ from message %d:\nkvstore: %r\n"
                            "redis:   %r\ncommands since the last check: %r" % (
                                step, at, ours[at:at + 4], theirs[at:at + 4],
                                history[-DIGEST_EVERY - 5:]))
            seen.extend(ours)
        _compare_runs(kvstore_session, redis_ref, seed, 2000, False, DEFAULT_THRESHOLDS,
                      same_events)
        assert len(seen) > 500         # not vacuous (seeds 201-240: 994 messages and up)
    finally:
        for c in conns:
            c.call(b"CONFIG", b"SET", b"notify-keyspace-events", b"")
            c.close()
        for log in logs:
            log.sub.close()


def _compare_runs(kvstore_session, redis_ref, seed, steps, resp3, thresholds, checkpoint=None):
    """Drive both servers with `steps` commands of `seed`, comparing every reply and, every
    DIGEST_EVERY steps outside MULTI, the datasets (and `checkpoint(k, r, step, history)`)."""
    k = RawConn(kvstore_session.port)
    r = RawConn(redis_ref.port)
    probe = RawConn(redis_ref.port)
    try:
        _configure((k, r), thresholds)
        for c in (k, r):
            c.call(b"FLUSHALL")
            if resp3:
                c.call(b"HELLO", b"3")
        _refill((k, r), probe)
        gen = Generator(seed)
        command_filter = CommandFilter(probe)
        history = []
        due = False                   # a digest check and refill waits for EXEC/DISCARD
        for step in range(steps):
            cmd = gen.command(command_filter)
            history.append(cmd)
            theirs = _comparable(cmd, r.call(*cmd))
            ours = _comparable(cmd, k.call(*cmd))
            command_filter.saw(cmd, theirs)
            if ours != theirs:
                at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
                          min(len(ours), len(theirs)))
                at = max(0, at - 150)
                pytest.fail("step %d: %r\nkvstore (from byte %d): %r\nredis:   %r\nbefore: %r"
                            % (step, cmd, at, ours[at:at + 400], theirs[at:at + 400],
                               _history_of(history[:-1], cmd)))
            due = due or step % DIGEST_EVERY == DIGEST_EVERY - 1
            if due and not command_filter.in_multi:
                _same_dataset(k, r, step, history)
                if checkpoint is not None:
                    checkpoint(k, r, step, history)
                _refill((k, r), probe)
                due = False
        for c in (k, r):
            c.call(b"DISCARD")
        _same_dataset(k, r, steps, history)
        if checkpoint is not None:
            checkpoint(k, r, steps, history)
    finally:
        for c in (k, r, probe):
            c.close()
        k, r = RawConn(kvstore_session.port), RawConn(redis_ref.port)
        _configure((k, r), DEFAULT_THRESHOLDS)        # (the connections may be mid-MULTI)
        k.close()
        r.close()
