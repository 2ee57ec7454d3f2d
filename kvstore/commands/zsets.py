"""Sorted-set commands on keyspace.ZSetValue (member -> score records plus an ordered score
index). Scores are doubles formatted as Redis 7.0 formats them (%.17g, inf/-inf)."""

import random
import struct
from operator import itemgetter

from kvstore import errors
from kvstore.commands import command, fast_write
from kvstore.commands.keys import (parse_numkeys, parse_scan_cursor, parse_scan_options,
                                   scan_collection, scan_compact)
from kvstore.commands.strings import parse_int
from kvstore.errors import CommandError
from kvstore.keyspace import TYPE_SET, TYPE_ZSET, Collection, ZSetValue, sortable_score
from kvstore.numbers import LLONG_MAX, parse_double
from kvstore.resp import Double, NullArray, format_double, strict_int

_SYNTAX = CommandError(errors.SYNTAX)
_NOT_FLOAT = CommandError(errors.NOT_FLOAT)
INF = float("inf")
_MAX_SEEK = b"\xff" * 494        # sorts after any member suffix; keeps seek keys <= 511 bytes


_int = parse_int


def _score(b):
    v = parse_double(b)
    if v is None:
        raise _NOT_FLOAT
    return v


def _limits(client):
    cfg = client.server.cfg
    return cfg.zset_max_listpack_entries, cfg.zset_max_listpack_value


def _open(ks, key):
    return ZSetValue.open(ks, key)


def _with_scores_reply(client, pairs):
    """WITHSCORES shape: RESP2 flat member/score, RESP3 [member, double] pairs."""
    if client.resp3:
        return [[m, Double(s)] for m, s in pairs]
    return [x for m, s in pairs for x in (m, format_double(s))]


# ---- ranges -----------------------------------------------------------------------------------
def parse_score_bound(b):
    """(value, exclusive) of a ZRANGEBYSCORE-style bound."""
    excl = b[:1] == b"("
    v = parse_double(b[1:] if excl else b)
    if v is None:
        raise CommandError(errors.ZSET_MIN_MAX_NOT_FLOAT)
    return v, excl


def parse_lex_bound(b):
    """(kind, value): kind is '-', '+', '[' or '('."""
    if b == b"-" or b == b"+":
        return b.decode(), b""
    if b[:1] in (b"[", b"("):
        return b[:1].decode(), b[1:]
    raise CommandError(errors.ZSET_NOT_STRING_RANGE)


def _score_in(s, lo, hi):
    (lv, lex), (hv, hex_) = lo, hi
    return (s > lv if lex else s >= lv) and (s < hv if hex_ else s <= hv)


def _lex_ge_min(m, bound):
    kind, v = bound
    return kind == "-" or (kind == "[" and m >= v) or (kind == "(" and m > v)


def _lex_le_max(m, bound):
    kind, v = bound
    return kind == "+" or (kind == "[" and m <= v) or (kind == "(" and m < v)


def _score_bound_key(bound, upper):
    """Index key (without the zset's head) at a score bound: the entries in range sort at or
    after the lower bound's key and before the upper bound's key."""
    v, excl = bound
    s = sortable_score(v)
    return s + _MAX_SEEK if excl != upper else s


_LEX_SEEK_MAX = 448   # longer bounds may tie with a long member's stored head: walk instead


def _lex_bound_key(s0, bound, upper):
    """As _score_bound_key for a lex bound in a zset whose members all have sortable score
    `s0` (so index order is member order); None when the bound is too long to seek by."""
    kind, v = bound
    if kind == "-":
        return s0
    if kind == "+":
        return s0 + _MAX_SEEK
    if len(v) > _LEX_SEEK_MAX:
        return None
    return s0 + v + b"\x00" if (kind == "(") != upper else s0 + v


def range_by_score(z, lo, hi, rev=False, offset=0, count=-1):
    if offset < 0 or count == 0:
        return []                             # (LIMIT offset 0 selects nothing)
    out = []
    if not rev:
        it = z.iterate(start_key=z.seek_score(lo[0], lo[1], False)) if lo[0] != -INF else \
            z.iterate()
    else:
        it = z.iterate(rev=True, start_key=z.seek_score(hi[0], hi[1], True)) \
            if hi[0] != INF else z.iterate(rev=True)
    for m, s in it:
        if not _score_in(s, lo, hi):
            if (not rev and (s > hi[0] or (hi[1] and s >= hi[0]))) or (
                    rev and (s < lo[0] or (lo[1] and s <= lo[0]))):
                break
            continue
        if offset:
            offset -= 1
            continue
        out.append((m, s))
        if count >= 0 and len(out) >= count:
            break
    return out


def range_by_lex(z, lo, hi, rev=False, offset=0, count=-1):
    """Redis's lex range walk (meant for equal scores; with mixed scores it gives what Redis
    gives): find the first member >= min (reverse: the last <= max) in index order, stop at
    once if it is past the other bound, then walk while the other bound holds."""
    if offset < 0 or count == 0:
        return []                             # (LIMIT offset 0 selects nothing)
    out = []
    started = False
    start_key = None
    s0 = z.uniform_score()
    if s0 is not None:
        # One score: index order is member order, so seek to the bound (the walk below still
        # checks it; entries before the seek key would all have been skipped).
        key = _lex_bound_key(s0, hi, True) if rev else _lex_bound_key(s0, lo, False)
        if key is not None:
            start_key = z.shead + key
    for m, s in z.iterate(rev=rev, start_key=start_key):
        if not started:
            if rev:
                if not _lex_le_max(m, hi):
                    continue
                if not _lex_ge_min(m, lo):
                    break
            else:
                if not _lex_ge_min(m, lo):
                    continue
                if not _lex_le_max(m, hi):
                    break
            started = True
        elif (rev and not _lex_ge_min(m, lo)) or (not rev and not _lex_le_max(m, hi)):
            break
        if offset:
            offset -= 1
            continue
        out.append((m, s))
        if count >= 0 and len(out) >= count:
            break
    return out


def range_by_rank(z, start, stop, rev=False, scores=True):
    """(member, score) pairs at ranks start..stop (Redis's index rules); scores None unless
    `scores`."""
    span = rank_span(z.size, start, stop)
    return [] if span is None else z.take_from_rank(span[0], span[1], rev, scores)


def rank_span(size, start, stop):
    """(first rank, count) that ranks start..stop select (Redis's index rules), or None."""
    if start < 0:
        start += size
    if stop < 0:
        stop += size
    if start < 0:
        start = 0
    if start > stop or start >= size:
        return None
    if stop >= size:
        stop = size - 1
    return start, stop - start + 1


def parse_range_args(args, start, allow_withscores=True, store=False):
    """Options of ZRANGE/ZRANGESTORE after min/max: by, rev, (offset, count), withscores."""
    by = "rank"
    rev = False
    limit = None
    withscores = False
    i = start
    while i < len(args):
        opt = args[i].lower()
        if opt == b"byscore":
            by = "score"
        elif opt == b"bylex":
            by = "lex"
        elif opt == b"rev":
            rev = True
        elif opt == b"withscores" and allow_withscores and not store:
            withscores = True
        elif opt == b"limit" and i + 2 < len(args):
            limit = (_int(args[i + 1]), _int(args[i + 2]))
            i += 2
        else:
            raise _SYNTAX
        i += 1
    if limit is not None and by == "rank":
        raise CommandError(errors.ZSET_LIMIT_NEEDS_BY)
    if withscores and by == "lex":
        raise CommandError(errors.ZSET_WITHSCORES_BYLEX)
    return by, rev, limit, withscores


def select_range(ks, key, by, rev, limit, lo_arg, hi_arg, scores=True):
    """The (member, score) pairs ZRANGE selects (bounds parsed before the key is looked up,
    as Redis does). For REV the bounds come max first. By rank, scores are None unless
    `scores` (ZRANGE without WITHSCORES does not decode them)."""
    if by == "rank":
        start, stop = _int(lo_arg), _int(hi_arg)
        z = _open(ks, key)
        return [] if z is None else range_by_rank(z, start, stop, rev, scores)
    offset, count = limit if limit is not None else (0, -1)
    if by == "score":
        a, b = parse_score_bound(lo_arg), parse_score_bound(hi_arg)
        lo, hi = (b, a) if rev else (a, b)
        z = _open(ks, key)
        return [] if z is None else range_by_score(z, lo, hi, rev, offset, count)
    a, b = parse_lex_bound(lo_arg), parse_lex_bound(hi_arg)
    lo, hi = (b, a) if rev else (a, b)
    z = _open(ks, key)
    return [] if z is None else range_by_lex(z, lo, hi, rev, offset, count)


_MEMBER = itemgetter(0)


def _range_reply(client, pairs, withscores):
    return _with_scores_reply(client, pairs) if withscores else list(map(_MEMBER, pairs))


@command("zrange", -4, "readonly", 1, 1, 1, group="sorted_set",
         summary="Return a range of members in a sorted set", since="1.2.0")
def zrange(ks, client, args):
    by, rev, limit, withscores = parse_range_args(args, 4)
    if by == "rank" and not withscores:          # the common form: members only
        start, stop = _int(args[2]), _int(args[3])
        z = _open(ks, args[1])
        if z is None:
            return []
        span = rank_span(z.size, start, stop)
        return [] if span is None else z.members_from_rank(span[0], span[1], rev)
    pairs = select_range(ks, args[1], by, rev, limit, args[2], args[3], withscores)
    return _range_reply(client, pairs, withscores)


@command("zrangestore", -5, "write denyoom", 1, 2, 1, group="sorted_set",
         summary="Store a range of members from sorted set into another key", since="6.2.0")
def zrangestore(ks, client, args):
    by, rev, limit, _ = parse_range_args(args, 5, store=True)
    pairs = select_range(ks, args[2], by, rev, limit, args[3], args[4])
    _store_pairs(ks, client, args[1], pairs, by=by)
    ks.propagate(args)
    return len(pairs)


def _legacy_range(ks, client, args, by, rev):
    withscores = False
    limit = None
    i = 4
    while i < len(args):
        opt = args[i].lower()
        if opt == b"withscores" and by != "lex":
            withscores = True
        elif opt == b"limit" and i + 2 < len(args) and by != "rank":
            limit = (_int(args[i + 1]), _int(args[i + 2]))
            i += 2
        else:
            raise _SYNTAX
        i += 1
    pairs = select_range(ks, args[1], by, rev, limit, args[2], args[3], withscores)
    return _range_reply(client, pairs, withscores)


@command("zrevrange", -4, "readonly", 1, 1, 1, group="sorted_set",
         summary="Return a range of members in a sorted set, by index, with scores ordered "
         "from high to low", since="1.2.0")
def zrevrange(ks, client, args):
    return _legacy_range(ks, client, args, "rank", True)


@command("zrangebyscore", -4, "readonly", 1, 1, 1, group="sorted_set",
         summary="Return a range of members in a sorted set, by score", since="1.0.5")
def zrangebyscore(ks, client, args):
    return _legacy_range(ks, client, args, "score", False)


@command("zrevrangebyscore", -4, "readonly", 1, 1, 1, group="sorted_set",
         summary="Return a range of members in a sorted set, by score, with scores ordered "
         "from high to low", since="2.2.0")
def zrevrangebyscore(ks, client, args):
    return _legacy_range(ks, client, args, "score", True)


@command("zrangebylex", -4, "readonly", 1, 1, 1, group="sorted_set",
         summary="Return a range of members in a sorted set, by lexicographical range",
         since="2.8.9")
def zrangebylex(ks, client, args):
    return _legacy_range(ks, client, args, "lex", False)


@command("zrevrangebylex", -4, "readonly", 1, 1, 1, group="sorted_set",
         summary="Return a range of members in a sorted set, by lexicographical range, "
         "ordered from higher to lower strings", since="2.8.9")
def zrevrangebylex(ks, client, args):
    return _legacy_range(ks, client, args, "lex", True)


@command("zcount", 4, "readonly fast", 1, 1, 1, group="sorted_set",
         summary="Count the members in a sorted set with scores within the given values",
         since="2.0.0")
def zcount(ks, client, args):
    lo, hi = parse_score_bound(args[2]), parse_score_bound(args[3])
    z = _open(ks, args[1])
    if z is None:
        return 0
    return z.count_between(_score_bound_key(lo, False), _score_bound_key(hi, True))


@command("zlexcount", 4, "readonly fast", 1, 1, 1, group="sorted_set",
         summary="Count the number of members in a sorted set between a given lexicographical "
         "range", since="2.8.9")
def zlexcount(ks, client, args):
    lo, hi = parse_lex_bound(args[2]), parse_lex_bound(args[3])
    z = _open(ks, args[1])
    if z is None:
        return 0
    s0 = z.uniform_score()
    if s0 is not None:
        first, stop = _lex_bound_key(s0, lo, False), _lex_bound_key(s0, hi, True)
        if first is not None and stop is not None:
            return z.count_between(first, stop)
    return len(range_by_lex(z, lo, hi))


# ---- writes -----------------------------------------------------------------------------------
@command("zadd", -4, "write denyoom fast", 1, 1, 1, group="sorted_set",
         summary="Add one or more members to a sorted set, or update its score if it already "
         "exists", since="1.2.0")
def zadd(ks, client, args):
    flags = set()
    i = 2
    while i < len(args) and args[i].lower() in (b"nx", b"xx", b"gt", b"lt", b"ch", b"incr"):
        flags.add(args[i].lower())
        i += 1
    rest = args[i:]
    if b"nx" in flags and b"xx" in flags:
        raise CommandError(errors.ZADD_XX_NX)
    if (b"gt" in flags and (b"lt" in flags or b"nx" in flags)) or (
            b"lt" in flags and b"nx" in flags):
        raise CommandError(errors.ZADD_GT_LT_NX)
    if not rest or len(rest) % 2:
        raise _SYNTAX
    incr = b"incr" in flags
    if incr and len(rest) > 2:
        raise CommandError(errors.ZADD_INCR_PAIR)
    pairs = [(_score(rest[j]), rest[j + 1]) for j in range(0, len(rest), 2)]
    z = ZSetValue.open(ks, args[1])
    if z is None:
        if b"xx" in flags:
            return None if incr else 0
        z = ZSetValue.create(ks, args[1])
    added = changed = 0
    result = None
    limits = _limits(client)
    for score, member in pairs:
        old = z.score(member)
        if old is None:
            if b"xx" in flags:
                continue
            z.set(member, score, limits=limits)
            added += 1
            result = score
            continue
        if b"nx" in flags:
            continue
        new = old + score if incr else score
        if new != new:
            raise CommandError(errors.ZADD_NAN)
        if (b"gt" in flags and not new > old) or (b"lt" in flags and not new < old):
            continue
        result = new
        if new != old:
            z.set(member, new, old)
            changed += 1
    if added or changed:
        z.save(compact_limits=limits)
        ks.propagate(args)
        ks.notify("z", b"zincr" if incr else b"zadd", args[1])
        ks.signal_ready(args[1])
    if incr:
        return None if result is None else Double(result)
    return added + changed if b"ch" in flags else added


@fast_write("zadd")
def zadd_fast(ks, args):
    """ZADD key score member where ZSetValue.fast_set applies: its records and the log
    record, as zadd does."""
    if len(args) != 4:
        return None
    score = parse_double(args[2])        # (a flag or a bad score: zadd answers)
    if score is None:
        return None
    res = ZSetValue.fast_set(ks, args[1], args[3], score)
    if res is None:
        return None
    added, changed = res
    if changed:
        ks.batch.log_command(ks.db, args)
    return b":1\r\n" if added else b":0\r\n"


@command("zincrby", 4, "write denyoom fast", 1, 1, 1, group="sorted_set",
         summary="Increment the score of a member in a sorted set", since="1.2.0")
def zincrby(ks, client, args):
    incr = _score(args[2])
    z = ZSetValue.open_or_create(ks, args[1])
    old = z.score(args[3])
    new = incr if old is None else old + incr
    if new != new:
        raise CommandError(errors.ZADD_NAN)
    if new == old:
        return Double(new)            # nothing changed: no event, nothing propagated (Redis)
    limits = _limits(client)
    z.set(args[3], new, old, limits)
    z.save(compact_limits=limits)
    ks.propagate(args)
    ks.notify("z", b"zincr", args[1])
    ks.signal_ready(args[1])
    return Double(new)


@command("zrem", -3, "write fast", 1, 1, 1, group="sorted_set",
         summary="Remove one or more members from a sorted set", since="1.2.0")
def zrem(ks, client, args):
    z = _open(ks, args[1])
    if z is None:
        return 0
    n = sum(1 for m in args[2:] if z.remove(m))
    if n:
        ks.notify("z", b"zrem", args[1])
        z.save()
        ks.propagate(args)
    return n


def _remove_pairs(ks, args, z, pairs):
    for m, s in pairs:
        z.remove(m, s)
    if pairs:
        ks.notify("z", args[0].lower(), args[1])
        z.save()
        ks.propagate(args)
    return len(pairs)


@command("zremrangebyrank", 4, "write", 1, 1, 1, group="sorted_set",
         summary="Remove all members in a sorted set within the given indexes", since="2.0.0")
def zremrangebyrank(ks, client, args):
    start, stop = _int(args[2]), _int(args[3])
    z = _open(ks, args[1])
    return 0 if z is None else _remove_pairs(ks, args, z, range_by_rank(z, start, stop))


@command("zremrangebyscore", 4, "write", 1, 1, 1, group="sorted_set",
         summary="Remove all members in a sorted set within the given scores", since="1.2.0")
def zremrangebyscore(ks, client, args):
    lo, hi = parse_score_bound(args[2]), parse_score_bound(args[3])
    z = _open(ks, args[1])
    return 0 if z is None else _remove_pairs(ks, args, z, range_by_score(z, lo, hi))


@command("zremrangebylex", 4, "write", 1, 1, 1, group="sorted_set",
         summary="Remove all members in a sorted set between the given lexicographical range",
         since="2.8.9")
def zremrangebylex(ks, client, args):
    lo, hi = parse_lex_bound(args[2]), parse_lex_bound(args[3])
    z = _open(ks, args[1])
    return 0 if z is None else _remove_pairs(ks, args, z, range_by_lex(z, lo, hi))


# ---- reads ------------------------------------------------------------------------------------
@command("zcard", 2, "readonly fast", 1, 1, 1, group="sorted_set",
         summary="Get the number of members in a sorted set", since="1.2.0")
def zcard(ks, client, args):
    z = _open(ks, args[1])
    return 0 if z is None else z.size


@command("zscore", 3, "readonly fast", 1, 1, 1, group="sorted_set",
         summary="Get the score associated with the given member in a sorted set",
         since="1.2.0")
def zscore(ks, client, args):
    z = _open(ks, args[1])
    s = None if z is None else z.score(args[2])
    return None if s is None else Double(s)


@command("zmscore", -3, "readonly fast", 1, 1, 1, group="sorted_set",
         summary="Get the score associated with the given members in a sorted set",
         since="6.2.0")
def zmscore(ks, client, args):
    z = _open(ks, args[1])
    out = []
    for m in args[2:]:
        s = None if z is None else z.score(m)
        out.append(None if s is None else Double(s))
    return out


@command("zrank", 3, "readonly fast", 1, 1, 1, group="sorted_set",
         summary="Determine the index of a member in a sorted set", since="2.0.0")
def zrank(ks, client, args):
    z = _open(ks, args[1])
    return None if z is None else z.rank(args[2])


@command("zrevrank", 3, "readonly fast", 1, 1, 1, group="sorted_set",
         summary="Determine the index of a member in a sorted set, with scores ordered from "
         "high to low", since="2.0.0")
def zrevrank(ks, client, args):
    z = _open(ks, args[1])
    return None if z is None else z.rank(args[2], rev=True)


# ---- pops -------------------------------------------------------------------------------------
def pop_pairs(ks, key, maximum, count):
    """Pop `count` lowest (or highest) members; None if the key is missing."""
    z = _open(ks, key)
    if z is None:
        return None
    pairs = []
    for pair in z.iterate(rev=maximum):
        if len(pairs) >= count:
            break
        pairs.append(pair)
    for m, s in pairs:
        z.remove(m, s)
    if pairs:                                    # (count 0: nothing written or touched)
        ks.notify("z", b"zpopmax" if maximum else b"zpopmin", key)
        z.save()
    return pairs


def _zpop(ks, client, args, maximum):
    if len(args) > 3:
        raise _SYNTAX
    count = None
    if len(args) == 3:
        count = strict_int(args[2])
        if count is None or count < 0:
            raise CommandError(errors.VALUE_OUT_OF_RANGE_POSITIVE)
    pairs = pop_pairs(ks, args[1], maximum, 1 if count is None else count)
    if pairs:
        ks.propagate(args)
    pairs = pairs or []
    if client.resp3 and count is None:
        return [x for m, s in pairs for x in (m, Double(s))]
    return _with_scores_reply(client, pairs)


@command("zpopmin", -2, "write fast", 1, 1, 1, group="sorted_set",
         summary="Remove and return members with the lowest scores in a sorted set",
         since="5.0.0")
def zpopmin(ks, client, args):
    return _zpop(ks, client, args, False)


@command("zpopmax", -2, "write fast", 1, 1, 1, group="sorted_set",
         summary="Remove and return members with the highest scores in a sorted set",
         since="5.0.0")
def zpopmax(ks, client, args):
    return _zpop(ks, client, args, True)


def parse_zmpop(args, start):
    keys, rest = parse_numkeys(args, start)
    where = rest[0].lower()
    if where not in (b"min", b"max"):
        raise _SYNTAX
    count = 1
    if len(rest) > 1:
        if len(rest) != 3 or rest[1].lower() != b"count":
            raise _SYNTAX
        count = strict_int(rest[2])
        if count is None or count <= 0:
            raise CommandError(errors.COUNT_POSITIVE)
    return keys, where == b"max", count


def zmpop_first(ks, client, keys, maximum, count):
    for key in keys:
        pairs = pop_pairs(ks, key, maximum, count)
        if pairs:
            effect = [b"ZPOPMAX" if maximum else b"ZPOPMIN", key, b"%d" % len(pairs)]
            items = [[m, Double(s) if client.resp3 else format_double(s)] for m, s in pairs]
            return [key, items], effect
    return None, None


@command("zmpop", -4, "write", 0, 0, 0, group="sorted_set",
         summary="Remove and return members with scores in a sorted set", since="7.0.0")
def zmpop(ks, client, args):
    keys, maximum, count = parse_zmpop(args, 1)
    reply, effect = zmpop_first(ks, client, keys, maximum, count)
    if reply is None:
        return NullArray
    ks.propagate(effect)
    return reply


@command("zrandmember", -2, "readonly", 1, 1, 1, group="sorted_set",
         summary="Get one or multiple random elements from a sorted set", since="6.2.0")
def zrandmember(ks, client, args):
    count = None
    withscores = False
    if len(args) >= 3:
        count = _int(args[2])
        if len(args) == 4:
            if args[3].lower() != b"withscores":
                raise _SYNTAX
            withscores = True
        elif len(args) > 4:
            raise _SYNTAX
        if count < -LLONG_MAX:
            raise CommandError(errors.RANDFIELD_RANGE)
    z = _open(ks, args[1])
    size = 0 if z is None else z.size
    if count is None:
        return _entry_at(z, random.randrange(size))[0] if size else None
    if not size or count == 0:
        return []
    picks = count if count > 0 else -count
    if count >= size or picks * _RANK_PICK_COST > size:
        # Many picks for the size: one walk over the whole zset is cheaper.
        pairs = list(z.iterate())
        if count > 0:
            chosen = pairs if count >= size else random.sample(pairs, count)
        else:
            chosen = [random.choice(pairs) for _ in range(picks)]
    else:
        # A few picks in a big zset: each one is an O(log n) walk down the rank tree.
        ranks = random.sample(range(size), count) if count > 0 else \
            [random.randrange(size) for _ in range(picks)]
        chosen = [_entry_at(z, r) for r in ranks]
    return _with_scores_reply(client, chosen) if withscores else [m for m, _ in chosen]


_RANK_PICK_COST = 16        # a random pick by rank costs about this many walked entries


def _entry_at(z, rank):
    """(member, score) at `rank`."""
    return next(z.iterate_from_rank(rank))


@command("zscan", -3, "readonly", 1, 1, 1, group="sorted_set",
         summary="Incrementally iterate sorted sets elements and associated scores",
         since="2.8.0")
def zscan(ks, client, args):
    cid = parse_scan_cursor(args[2])
    count, rx, _ = parse_scan_options(args, 3)
    z = _open(ks, args[1])
    if z is None:
        return [b"0", []]
    if not z.coll.big:                                         # a listpack: by score
        return scan_compact([(m, format_double(sc)) for m, sc in z.iterate()], rx, True)
    return scan_collection(ks, client, z.coll, cid, count, rx, True, sub_prefix=b"m",
                           value_fn=lambda v: format_double(struct.unpack("<d", v[-8:])[0]))


# ---- algebra ----------------------------------------------------------------------------------
def _source_pairs(ks, key):
    """(member, score) of a zset or a plain set (score 1), or [] when missing."""
    rec = ks.lookup(key)
    if rec is None:
        return []
    t = rec[0] & 0x0F
    if t == TYPE_ZSET:
        return list(ZSetValue(Collection(ks, key, rec, ks.prefix)).iterate())
    if t == TYPE_SET:
        return [(m, 1.0) for m, _ in Collection(ks, key, rec, ks.prefix).items()]
    raise CommandError(errors.WRONG_TYPE)


def _aggregate(how, a, b):
    if how == b"sum":
        r = a + b
        return 0.0 if r != r else r
    return min(a, b) if how == b"min" else max(a, b)


def parse_setop(args, start, name, allow_weights=True, allow_withscores=True):
    numkeys = strict_int(args[start])
    if numkeys is None:
        raise CommandError(errors.NOT_INTEGER)
    if numkeys < 1:
        raise CommandError(errors.ZSET_NEED_INPUT_KEY.format(name))
    if numkeys > len(args) - start - 1:
        raise _SYNTAX
    keys = args[start + 1:start + 1 + numkeys]
    weights = [1.0] * numkeys
    how = b"sum"
    withscores = False
    i = start + 1 + numkeys
    while i < len(args):
        opt = args[i].lower()
        if opt == b"weights" and allow_weights and i + numkeys < len(args):
            for j in range(numkeys):
                w = parse_double(args[i + 1 + j])
                if w is None:
                    raise CommandError(errors.ZSET_WEIGHT_NOT_FLOAT)
                weights[j] = w
            i += numkeys + 1
        elif opt == b"aggregate" and allow_weights and i + 1 < len(args):
            how = args[i + 1].lower()
            if how not in (b"sum", b"min", b"max"):
                raise _SYNTAX
            i += 2
        elif opt == b"withscores" and allow_withscores:
            withscores = True
            i += 1
        else:
            raise _SYNTAX
    return keys, weights, how, withscores


def _compute(ks, op, keys, weights, how):
    """{member: score} of ZUNION/ZINTER/ZDIFF over `keys`, as Redis 7.0 computes it: union
    and intersection visit the inputs smallest first (a stable sort by size, as Redis's
    qsort), a weighted score is score * weight (so 0 * -1 is -0, replied as such), a NaN
    (inf * 0) becomes 0 where Redis resets it (a member's first score, and every sum), and
    MIN/MAX keep the current score on a tie or a NaN."""
    inputs = [_source_pairs(ks, k) for k in keys]
    if op != "diff":
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    if op == "union":
        acc = {}
        for i in order:
            w = weights[i]
            for m, s in inputs[i]:
                v = s * w
                if v != v:
                    v = 0.0
                acc[m] = v if m not in acc else _aggregate(how, acc[m], v)
        return acc
    if op == "inter":
        if any(not p for p in inputs):
            return {}
        maps = [dict(p) for p in inputs]
        first, rest = order[0], order[1:]
        acc = {}
        for m, s in inputs[first]:
            v = s * weights[first]
            if v != v:
                v = 0.0
            for i in rest:
                x = maps[i].get(m)
                if x is None:
                    break
                v = _aggregate(how, v, x * weights[i])
            else:
                acc[m] = v
        return acc
    first = dict(inputs[0]) if inputs else {}
    for pairs in inputs[1:]:
        for m, _ in pairs:
            first.pop(m, None)
    return first


def _sorted_result(acc):
    return sorted(acc.items(), key=lambda ms: (ms[1], ms[0]))


def _store_pairs(ks, client, dst, pairs, event=b"zrangestore", by="rank"):
    """Replace `dst` with `pairs`. The encoding, which decides whether a -0 score stays -0
    (ZSetValue), follows Redis 7.0: ZRANGESTORE starts compact (unless `by` rank and the
    range is longer than the compact limit: only a rank range's length is known before the
    walk) and converts at the member that overflows it; the set operations build a big zset
    and convert the whole result to compact when it fits."""
    existed = ks.delete(dst)
    if pairs:
        z = ZSetValue.create(ks, dst)
        limits = _limits(client)
        if event == b"zrangestore":
            z.coll.big = by == "rank" and len(pairs) > limits[0]
            for m, s in pairs:
                z.set(m, s, limits=limits)
        else:
            z.coll.big = ks.big_encoding("zset", pairs)
            for m, s in pairs:
                z.set(m, s)
        z.save(compact_limits=limits)
        ks.notify("z", event, dst)
        ks.signal_ready(dst)
    elif existed:
        ks.notify("g", b"del", dst)


def _setop(ks, client, args, op, name):
    keys, weights, how, withscores = parse_setop(
        args, 1, name, allow_weights=(op != "diff"))
    pairs = _sorted_result(_compute(ks, op, keys, weights, how))
    return _range_reply(client, pairs, withscores)


def _setop_store(ks, client, args, op, name):
    keys, weights, how, _ = parse_setop(args, 2, name, allow_weights=(op != "diff"),
                                        allow_withscores=False)
    pairs = _sorted_result(_compute(ks, op, keys, weights, how))
    _store_pairs(ks, client, args[1], pairs, name.encode())
    ks.propagate(args)
    return len(pairs)


@command("zunion", -3, "readonly", 0, 0, 0, group="sorted_set",
         summary="Add multiple sorted sets", since="6.2.0")
def zunion(ks, client, args):
    return _setop(ks, client, args, "union", "zunion")


@command("zinter", -3, "readonly", 0, 0, 0, group="sorted_set",
         summary="Intersect multiple sorted sets", since="6.2.0")
def zinter(ks, client, args):
    return _setop(ks, client, args, "inter", "zinter")


@command("zdiff", -3, "readonly", 0, 0, 0, group="sorted_set",
         summary="Subtract multiple sorted sets", since="6.2.0")
def zdiff(ks, client, args):
    return _setop(ks, client, args, "diff", "zdiff")


@command("zunionstore", -4, "write denyoom", 1, 1, 1, group="sorted_set",
         summary="Add multiple sorted sets and store the resulting sorted set in a new key",
         since="2.0.0")
def zunionstore(ks, client, args):
    return _setop_store(ks, client, args, "union", "zunionstore")


@command("zinterstore", -4, "write denyoom", 1, 1, 1, group="sorted_set",
         summary="Intersect multiple sorted sets and store the resulting sorted set in a new "
         "key", since="2.0.0")
def zinterstore(ks, client, args):
    return _setop_store(ks, client, args, "inter", "zinterstore")


@command("zdiffstore", -4, "write denyoom", 1, 1, 1, group="sorted_set",
         summary="Subtract multiple sorted sets and store the resulting sorted set in a new "
         "key", since="6.2.0")
def zdiffstore(ks, client, args):
    return _setop_store(ks, client, args, "diff", "zdiffstore")


@command("zintercard", -3, "readonly", 0, 0, 0, group="sorted_set",
         summary="Intersect multiple sorted sets and return the cardinality of the result",
         since="7.0.0")
def zintercard(ks, client, args):
    numkeys = strict_int(args[1])
    if numkeys is None:
        raise CommandError(errors.NOT_INTEGER)
    if numkeys <= 0:
        raise CommandError(errors.ZSET_NEED_INPUT_KEY.format("zintercard"))
    if numkeys > len(args) - 2:
        raise _SYNTAX
    keys = args[2:2 + numkeys]
    rest = args[2 + numkeys:]
    limit = 0
    if rest:
        if len(rest) != 2 or rest[0].lower() != b"limit":
            raise _SYNTAX
        limit = strict_int(rest[1])
        if limit is None or limit < 0:
            raise CommandError(errors.LIMIT_NEGATIVE)
    n = len(_compute(ks, "inter", keys, [1.0] * len(keys), b"sum"))
    return min(n, limit) if limit else n



# ---- blocking variants ------------------------------------------------------------------------
def _bzpop(client, args, maximum):
    from kvstore.commands.lists import block_on, parse_timeout
    timeout = parse_timeout(args[-1])
    name = b"ZPOPMAX" if maximum else b"ZPOPMIN"

    def attempt(ks, key):
        pairs = pop_pairs(ks, key, maximum, 1)
        if not pairs:
            return None
        ks.propagate([name, key])
        m, s = pairs[0]
        return [key, m, Double(s) if client.resp3 else format_double(s)]

    res = block_on(client, args[1:-1], timeout, attempt)
    return NullArray if res is None else res


@command("bzpopmin", -3, "write blocking fast conn", 1, -2, 1, group="sorted_set",
         summary="Remove and return the member with the lowest score from one or more sorted "
         "sets, or block until one is available", since="5.0.0")
def bzpopmin(ks, client, args):
    return _bzpop(client, args, False)


@command("bzpopmax", -3, "write blocking fast conn", 1, -2, 1, group="sorted_set",
         summary="Remove and return the member with the highest score from one or more sorted "
         "sets, or block until one is available", since="5.0.0")
def bzpopmax(ks, client, args):
    return _bzpop(client, args, True)


@command("bzmpop", -5, "write blocking conn", 0, 0, 0, group="sorted_set",
         summary="Remove and return members with scores in a sorted set or block until one is "
         "available", since="7.0.0")
def bzmpop(ks, client, args):
    from kvstore.commands.lists import block_on, parse_timeout
    timeout = parse_timeout(args[1])
    keys, maximum, count = parse_zmpop(args, 2)

    def attempt(ks, key):
        reply, effect = zmpop_first(ks, client, [key], maximum, count)
        if reply is not None:
            ks.propagate(effect)
        return reply

    res = block_on(client, keys, timeout, attempt)
    return NullArray if res is None else res
