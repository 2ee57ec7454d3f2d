"""Set commands, on per-member element records (keyspace.Collection). Membership, add and
remove are O(log n); the set algebra walks the smallest input and probes the others, as Redis
does. OBJECT ENCODING reports intset until a non-integer member or more than
set-max-intset-entries members convert the set (one way, as in Redis 7.0)."""

import random

from kvstore import errors
from kvstore.commands import command, fast_write
from kvstore.commands.keys import (parse_scan_cursor, parse_scan_options, scan_collection,
                                   scan_compact)
from kvstore.errors import CommandError
from kvstore.keyspace import TYPE_SET, Collection
from kvstore.numbers import LLONG_MAX
from kvstore.resp import SetReply, strict_int

_SYNTAX = CommandError(errors.SYNTAX)
_EMPTY = b""
SREM_BATCH = 1024          # SPOP's SREM effects go out in batches of this many members
SPOP_WALK_RATIO = 5        # SPOP of more than size / 5 members walks the set (Redis's cut-off)


def _open(ks, key, prefix=None):
    return Collection.open(ks, key, TYPE_SET, prefix)


def _limits(client):
    return client.server.cfg.set_max_intset_entries, None


def _add(s, member):
    if not s.big and strict_int(member) is None:
        s.big = True                                  # non-integer: no longer an intset
    return s.put(member, _EMPTY)


def _members(ks, key):
    s = _open(ks, key)
    if s is None:
        return []
    return ordered_members(s)


def ordered_members(coll):
    """The members of set Collection `coll` in Redis's reply order: an intset's ascending,
    a hash table's as stored (its order is Redis's hash order, which no client relies on)."""
    members = [m for m, _ in coll.items()]
    return members if coll.big else _ascending_ints(members)


def _ascending_ints(members):
    """Members of an intset in Redis's order: ascending by value (Redis keeps a set of at most
    set-max-intset-entries integers as a sorted intset and replies in that order; other sets
    come in hash-table order, which no client can rely on)."""
    try:
        return [m for _, m in sorted((int(m), m) for m in members)]
    except ValueError:                       # (not an intset after all: leave the order)
        return members


def _intset_order(ks, members):
    """A computed set (SINTER/SUNION/SDIFF) in Redis's reply order: ascending when Redis
    would hold it as an intset."""
    if len(members) <= ks.storage.cfg.set_max_intset_entries and \
            all(strict_int(m) is not None for m in members):
        return _ascending_ints(members)
    return members


def _save(s, client):
    max_entries, _ = _limits(client)
    if not s.big and s.size > max_entries:
        s.big = True
    s.save()


@command("sadd", -3, "write denyoom fast", 1, 1, 1, group="set",
         summary="Add one or more members to a set")
def sadd(ks, client, args):
    s = Collection.open_or_create(ks, args[1], TYPE_SET)
    added = sum(1 for m in args[2:] if _add(s, m))
    if added:
        _save(s, client)
        ks.propagate(args)
        ks.notify("s", b"sadd", args[1])
    return added


@fast_write("sadd")
def sadd_fast(ks, args):
    """SADD key member where Collection.fast_sadd applies: its records and, for a new
    member, the log record, as sadd does."""
    if len(args) != 3:
        return None
    added = Collection.fast_sadd(ks, args[1], args[2])
    if added is None:
        return None
    if added:
        ks.batch.log_command(ks.db, args)
    return b":1\r\n" if added else b":0\r\n"


@command("srem", -3, "write fast", 1, 1, 1, group="set",
         summary="Remove one or more members from a set")
def srem(ks, client, args):
    s = _open(ks, args[1])
    if s is None:
        return 0
    n = sum(1 for m in args[2:] if s.delete(m))
    if n:
        ks.notify("s", b"srem", args[1])
        s.save()
        ks.propagate(args)
    return n


@command("scard", 2, "readonly fast", 1, 1, 1, group="set",
         summary="Get the number of members in a set")
def scard(ks, client, args):
    s = _open(ks, args[1])
    return 0 if s is None else s.size


@command("sismember", 3, "readonly fast", 1, 1, 1, group="set",
         summary="Determine if a given value is a member of a set")
def sismember(ks, client, args):
    s = _open(ks, args[1])
    return 0 if s is None or s.get(args[2]) is None else 1


@command("smismember", -3, "readonly fast", 1, 1, 1, group="set",
         summary="Returns the membership associated with the given elements for a set",
         since="6.2.0")
def smismember(ks, client, args):
    s = _open(ks, args[1])
    return [0 if s is None or s.get(m) is None else 1 for m in args[2:]]


@command("smembers", 2, "readonly", 1, 1, 1, group="set",
         summary="Get all the members in a set")
def smembers(ks, client, args):
    return SetReply(_members(ks, args[1]))


def _parse_count(arg):
    v = strict_int(arg)
    if v is None:
        raise CommandError(errors.NOT_INTEGER)
    return v


@command("spop", -2, "write fast", 1, 1, 1, group="set",
         summary="Remove and return one or multiple random members from a set")
def spop(ks, client, args):
    if len(args) > 3:
        raise _SYNTAX
    count = None
    if len(args) == 3:
        count = strict_int(args[2])
        if count is None or count < 0:     # Redis: one message for both
            raise CommandError(errors.VALUE_OUT_OF_RANGE_POSITIVE)
    s = _open(ks, args[1])
    if s is None:
        return None if count is None else SetReply([])
    if count is None:
        m = s.pick(s.cursor())[0]
        s.delete(m)
        ks.notify("s", b"spop", args[1])
        s.save()
        ks.propagate([b"SREM", args[1], m])
        return m
    if count == 0:
        return SetReply([])
    if count >= s.size:
        members = [m for m, _ in s.items()]
        ks.notify("s", b"spop", args[1])
        ks.notify("g", b"del", args[1])
        ks.delete(args[1])
        ks.propagate([b"UNLINK" if client.server.cfg.lazyfree_lazy_server_del else b"DEL",
                      args[1]])
        return SetReply(members)
    if count * SPOP_WALK_RATIO > s.size:
        # Many members for the size: one walk (Redis also rebuilds the set in this case).
        chosen = random.sample([m for m, _ in s.items()], count)
        for m in chosen:
            s.delete(m)
    else:
        # Few: one O(log n) pick each; a popped member leaves the table, so no repeats.
        cur = s.cursor()
        chosen = []
        for _ in range(count):
            m = s.pick(cur)[0]
            s.delete(m)
            chosen.append(m)
    ks.notify("s", b"spop", args[1])
    s.save()
    for i in range(0, len(chosen), SREM_BATCH):
        ks.propagate([b"SREM", args[1]] + chosen[i:i + SREM_BATCH])
    return SetReply(chosen)


@command("srandmember", -2, "readonly", 1, 1, 1, group="set",
         summary="Get one or multiple random members from a set")
def srandmember(ks, client, args):
    if len(args) > 3:
        raise _SYNTAX
    count = None
    if len(args) == 3:
        count = _parse_count(args[2])
        if count < -LLONG_MAX:
            raise CommandError(errors.RANDFIELD_RANGE)
    s = _open(ks, args[1])
    if s is None:
        return None if count is None else []
    if count is None:
        return s.pick(s.cursor())[0]
    if count == 0:
        return []
    if not s.big and count >= s.size:
        return ordered_members(s)                   # a whole intset, as Redis
    return [m for m, _ in s.random_items(count)]


@command("smove", 4, "write fast", 1, 2, 1, group="set",
         summary="Move a member from one set to another")
def smove(ks, client, args):
    src = _open(ks, args[1])
    if src is None:                          # before the destination's type check, as Redis
        return 0
    dst = _open(ks, args[2])
    member = args[3]
    if args[1] == args[2]:
        return 1 if src.get(member) is not None else 0
    if not src.delete(member):
        return 0
    ks.notify("s", b"srem", args[1])
    src.save()
    if dst is None:
        dst = Collection.create(ks, args[2], TYPE_SET)
    ks.propagate(args)
    if _add(dst, member):
        # Only when the destination did not hold it (no event, no WATCH touch otherwise).
        _save(dst, client)
        ks.notify("s", b"sadd", args[2])
    return 1


def _inputs(ks, keys):
    """Collections (None for missing keys) of several set keys, WRONGTYPE checked first."""
    return [_open(ks, k) for k in keys]


def _inter(sets):
    if any(s is None for s in sets):
        return []
    sets = sorted(sets, key=lambda s: s.size)
    first, rest = sets[0], sets[1:]
    return [m for m, _ in first.items() if all(o.get(m) is not None for o in rest)]


def _union(sets):
    out = {}
    for s in sets:
        if s is not None:
            for m, _ in s.items():
                out[m] = None
    return list(out)


def _diff(sets):
    first = sets[0]
    if first is None:
        return []
    rest = [s for s in sets[1:] if s is not None]
    return [m for m, _ in first.items() if all(o.get(m) is None for o in rest)]


_ALGEBRA = {"inter": _inter, "union": _union, "diff": _diff}


def _algebra(ks, keys, op):
    return _ALGEBRA[op](_inputs(ks, keys))


def _algebra_reply(ks, keys, op):
    return SetReply(_intset_order(ks, _algebra(ks, keys, op)))


def _store(ks, client, args, op):
    dst = args[1]
    result = _algebra(ks, args[2:], op)
    existed = ks.delete(dst)
    if result:
        s = Collection.create(ks, dst, TYPE_SET)
        for m in result:
            _add(s, m)
        _save(s, client)
        ks.notify("s", b"s%sstore" % op.encode(), dst)
    elif existed:
        ks.notify("g", b"del", dst)
    ks.propagate(args)
    return len(result)


@command("sinter", -2, "readonly", 1, -1, 1, group="set", summary="Intersect multiple sets")
def sinter(ks, client, args):
    return _algebra_reply(ks, args[1:], "inter")


@command("sunion", -2, "readonly", 1, -1, 1, group="set", summary="Add multiple sets")
def sunion(ks, client, args):
    return _algebra_reply(ks, args[1:], "union")


@command("sdiff", -2, "readonly", 1, -1, 1, group="set", summary="Subtract multiple sets")
def sdiff(ks, client, args):
    return _algebra_reply(ks, args[1:], "diff")


@command("sinterstore", -3, "write denyoom", 1, -1, 1, group="set",
         summary="Intersect multiple sets and store the resulting set in a key")
def sinterstore(ks, client, args):
    return _store(ks, client, args, "inter")


@command("sunionstore", -3, "write denyoom", 1, -1, 1, group="set",
         summary="Add multiple sets and store the resulting set in a key")
def sunionstore(ks, client, args):
    return _store(ks, client, args, "union")


@command("sdiffstore", -3, "write denyoom", 1, -1, 1, group="set",
         summary="Subtract multiple sets and store the resulting set in a key")
def sdiffstore(ks, client, args):
    return _store(ks, client, args, "diff")


@command("sintercard", -3, "readonly", 1, 1, 1, group="set",
         summary="Intersect multiple sets and return the cardinality of the result",
         since="7.0.0")
def sintercard(ks, client, args):
    numkeys = strict_int(args[1])
    if numkeys is None or numkeys <= 0:
        raise CommandError(errors.NUMKEYS_POSITIVE)
    if numkeys > len(args) - 2:
        raise CommandError(errors.NUMKEYS_TOO_MANY)
    keys = args[2:2 + numkeys]
    rest = args[2 + numkeys:]
    limit = 0
    i = 0
    while i < len(rest):
        if rest[i].lower() == b"limit" and i + 1 < len(rest):
            limit = strict_int(rest[i + 1])
            if limit is None or limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            i += 2
        else:
            raise _SYNTAX
    n = len(_algebra(ks, keys, "inter"))
    return min(n, limit) if limit else n


@command("sscan", -3, "readonly", 1, 1, 1, group="set",
         summary="Incrementally iterate Set elements", since="2.8.0")
def sscan(ks, client, args):
    cid = parse_scan_cursor(args[2])
    count, rx, _ = parse_scan_options(args, 3)
    coll = _open(ks, args[1])
    if coll is None:
        return [b"0", []]
    if not coll.big:                                           # an intset: ascending
        return scan_compact([(m, None) for m in _members(ks, args[1])], rx, False)
    return scan_collection(ks, client, coll, cid, count, rx, False)
