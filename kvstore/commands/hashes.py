"""Hash commands, on per-field element records (keyspace.Collection): every field operation is
O(log n) whatever the hash's size. A small hash (what Redis keeps as a listpack) lists its
fields in insertion order, as Redis does; a big one in slot order, a hash of each field name
(Redis's order is then its hash table's, which clients must not rely on)."""

from kvstore import errors
from kvstore.commands import command, fast_write
from kvstore.commands.keys import (parse_scan_cursor, parse_scan_options, scan_collection,
                                   scan_compact)
from kvstore.commands.strings import FAST_VALUE_MAX, parse_int
from kvstore.errors import CommandError
from kvstore.keyspace import TYPE_HASH, Collection
from kvstore.numbers import (LLONG_MAX, LLONG_MIN, format_long_double_human, ld_add,
                             parse_long_double)
from kvstore.resp import OK, Map, strict_int

_SYNTAX = CommandError(errors.SYNTAX)


def _limits(client):
    cfg = client.server.cfg
    return cfg.hash_max_listpack_entries, cfg.hash_max_listpack_value


def _open(ks, key):
    return Collection.open(ks, key, TYPE_HASH)


def _pairs_or_arity(args, start, name):
    if (len(args) - start) % 2 != 0 or len(args) == start:
        raise CommandError(errors.WRONG_ARITY.format(name))
    return [(args[i], args[i + 1]) for i in range(start, len(args), 2)]


@command("hset", -4, "write denyoom fast", 1, 1, 1, group="hash",
         summary="Set the string value of a hash field", since="2.0.0")
def hset(ks, client, args):
    pairs = _pairs_or_arity(args, 2, "hset")
    h = Collection.open_or_create(ks, args[1], TYPE_HASH)
    added = sum(1 for f, v in pairs if h.put(f, v))
    h.save(compact_limits=_limits(client))
    ks.propagate(args)
    ks.notify("h", b"hset", args[1])
    return added


@fast_write("hset")
def hset_fast(ks, args):
    """HSET key field value where Collection.fast_hset applies: its records and the log
    record, as hset does."""
    if len(args) != 4 or len(args[3]) > FAST_VALUE_MAX:
        return None
    added = Collection.fast_hset(ks, args[1], args[2], args[3])
    if added is None:
        return None
    ks.batch.log_command(ks.db, args)
    return b":1\r\n" if added else b":0\r\n"


@command("hmset", -4, "write denyoom fast", 1, 1, 1, group="hash",
         summary="Set multiple hash fields to multiple values", since="2.0.0")
def hmset(ks, client, args):
    pairs = _pairs_or_arity(args, 2, "hmset")
    h = Collection.open_or_create(ks, args[1], TYPE_HASH)
    for f, v in pairs:
        h.put(f, v)
    h.save(compact_limits=_limits(client))
    ks.propagate(args)
    ks.notify("h", b"hset", args[1])
    return OK


@command("hsetnx", 4, "write denyoom fast", 1, 1, 1, group="hash",
         summary="Set the value of a hash field, only if the field does not exist",
         since="2.0.0")
def hsetnx(ks, client, args):
    h = Collection.open_or_create(ks, args[1], TYPE_HASH)
    if h.get(args[2]) is not None:
        return 0
    h.put(args[2], args[3])
    h.save(compact_limits=_limits(client))
    ks.propagate(args)
    ks.notify("h", b"hset", args[1])
    return 1


@command("hget", 3, "readonly fast", 1, 1, 1, group="hash",
         summary="Get the value of a hash field", since="2.0.0")
def hget(ks, client, args):
    h = _open(ks, args[1])
    return None if h is None else h.get(args[2])


@command("hmget", -3, "readonly fast", 1, 1, 1, group="hash",
         summary="Get the values of all the given hash fields", since="2.0.0")
def hmget(ks, client, args):
    h = _open(ks, args[1])
    if h is None:
        return [None] * (len(args) - 2)
    return [h.get(f) for f in args[2:]]


@command("hdel", -3, "write fast", 1, 1, 1, group="hash",
         summary="Delete one or more hash fields", since="2.0.0")
def hdel(ks, client, args):
    h = _open(ks, args[1])
    if h is None:
        return 0
    n = sum(1 for f in args[2:] if h.delete(f))
    if n:
        ks.notify("h", b"hdel", args[1])
        h.save()
        ks.propagate(args)
    return n


@command("hlen", 2, "readonly fast", 1, 1, 1, group="hash",
         summary="Get the number of fields in a hash", since="2.0.0")
def hlen(ks, client, args):
    h = _open(ks, args[1])
    return 0 if h is None else h.size


@command("hstrlen", 3, "readonly fast", 1, 1, 1, group="hash",
         summary="Get the length of the value of a hash field", since="3.2.0")
def hstrlen(ks, client, args):
    h = _open(ks, args[1])
    v = None if h is None else h.get(args[2])
    return 0 if v is None else len(v)


@command("hexists", 3, "readonly fast", 1, 1, 1, group="hash",
         summary="Determine if a hash field exists", since="2.0.0")
def hexists(ks, client, args):
    h = _open(ks, args[1])
    return 0 if h is None or h.get(args[2]) is None else 1


@command("hgetall", 2, "readonly", 1, 1, 1, group="hash",
         summary="Get all the fields and values in a hash", since="2.0.0")
def hgetall(ks, client, args):
    h = _open(ks, args[1])
    return Map([] if h is None else list(h.items()))


@command("hkeys", 2, "readonly", 1, 1, 1, group="hash",
         summary="Get all the fields in a hash", since="2.0.0")
def hkeys(ks, client, args):
    h = _open(ks, args[1])
    return [] if h is None else [f for f, _ in h.items()]


@command("hvals", 2, "readonly", 1, 1, 1, group="hash",
         summary="Get all the values in a hash", since="2.0.0")
def hvals(ks, client, args):
    h = _open(ks, args[1])
    return [] if h is None else [v for _, v in h.items()]


@command("hincrby", 4, "write denyoom fast", 1, 1, 1, group="hash",
         summary="Increment the integer value of a hash field by the given number",
         since="2.0.0")
def hincrby(ks, client, args):
    incr = parse_int(args[3])
    h = Collection.open_or_create(ks, args[1], TYPE_HASH)
    cur = h.get(args[2])
    if cur is None:
        value = 0
    else:
        value = strict_int(cur)
        if value is None:
            raise CommandError(errors.HASH_NOT_INTEGER)
    new = value + incr
    if new > LLONG_MAX or new < LLONG_MIN:
        raise CommandError(errors.INCR_OVERFLOW)
    h.put(args[2], b"%d" % new)
    h.save(compact_limits=_limits(client))
    ks.propagate(args)
    ks.notify("h", b"hincrby", args[1])
    return new


@command("hincrbyfloat", 4, "write denyoom fast", 1, 1, 1, group="hash",
         summary="Increment the float value of a hash field by the given amount",
         since="2.6.0")
def hincrbyfloat(ks, client, args):
    incr = parse_long_double(args[3])
    if incr is None:
        raise CommandError(errors.NOT_FLOAT)
    if incr.inf:
        raise CommandError(errors.VALUE_NAN_OR_INF)
    h = Collection.open_or_create(ks, args[1], TYPE_HASH)
    cur = h.get(args[2])
    value = parse_long_double(b"0" if cur is None else cur)
    if value is None:
        raise CommandError(errors.HASH_NOT_FLOAT)
    res = ld_add(value, incr)
    if res is None or res.inf:
        raise CommandError(errors.INCRBYFLOAT_NAN)
    text = format_long_double_human(res)
    h.put(args[2], text)
    h.save(compact_limits=_limits(client))
    ks.propagate([b"HSET", args[1], args[2], text])
    ks.notify("h", b"hincrbyfloat", args[1])
    return text


@command("hrandfield", -2, "readonly", 1, 1, 1, group="hash",
         summary="Get one or multiple random fields from a hash", since="6.2.0")
def hrandfield(ks, client, args):
    with_values = False
    count = None
    if len(args) >= 3:
        count = strict_int(args[2])
        if count is None:
            raise CommandError(errors.NOT_INTEGER)
        if len(args) == 4:
            if args[3].lower() != b"withvalues":
                raise _SYNTAX
            with_values = True
        elif len(args) > 4:
            raise _SYNTAX
        if count < -LLONG_MAX:
            raise CommandError(errors.RANDFIELD_RANGE)
    h = _open(ks, args[1])
    if count is None:
        return None if h is None else h.pick(h.cursor())[0]
    if h is None or count == 0:
        return []
    chosen = h.random_items(count)
    if with_values:
        if client.resp3:
            return [[f, v] for f, v in chosen]
        return [x for pair in chosen for x in pair]
    return [f for f, _ in chosen]


@command("hscan", -3, "readonly", 1, 1, 1, group="hash",
         summary="Incrementally iterate hash fields and associated values", since="2.8.0")
def hscan(ks, client, args):
    cid = parse_scan_cursor(args[2])
    count, rx, _ = parse_scan_options(args, 3)
    coll = _open(ks, args[1])
    if coll is None:
        return [b"0", []]
    if not coll.big:
        return scan_compact(coll.items(), rx, True)           # insertion order
    return scan_collection(ks, client, coll, cid, count, rx, True)
