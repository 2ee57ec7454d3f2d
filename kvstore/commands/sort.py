"""SORT and SORT_RO over lists, sets and sorted sets, with Redis 7.0's rules: numeric sort
by default (elements or BY weights parsed as doubles, ties broken by the element bytes),
ALPHA, BY pattern (`*` replaced by the element, `key->field` reads a hash field; a pattern
without `*` means no sorting), GET patterns (`#` is the element), LIMIT, ASC/DESC, STORE."""

from functools import cmp_to_key

from kvstore import errors
from kvstore.commands import command
from kvstore.commands.sets import ordered_members
from kvstore.errors import CommandError
from kvstore.keyspace import (FLAG_RAW, TYPE_HASH, TYPE_LIST, TYPE_MASK, TYPE_SET,
                              TYPE_STRING, TYPE_ZSET, Collection, ListValue, ZSetValue,
                              record_body_offset)
from kvstore.numbers import parse_double
from kvstore.resp import strict_int

_SYNTAX = CommandError(errors.SYNTAX)


def _lookup_pattern(ks, pattern, element):
    """The value a BY/GET pattern names for `element`, or None."""
    if pattern == b"#":
        return element
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star)
    if arrow >= 0 and arrow + 2 < len(pattern):
        keyname = pattern[:star] + element + pattern[star + 1:arrow]
        field = pattern[arrow + 2:]
    else:
        keyname = pattern[:star] + element + pattern[star + 1:]
        field = None
    rec = ks.lookup(keyname)
    if rec is None:
        return None
    t = rec[0] & TYPE_MASK
    if field is None:
        return bytes(rec[record_body_offset(rec):]) if t == TYPE_STRING else None
    if t != TYPE_HASH:
        return None
    return Collection(ks, keyname, rec, ks.prefix).get(field)


def _to_skiplist(ks, client, key):
    """Redis 7.0's SORT and SORT_RO convert a compact sorted set to the skiplist encoding
    (OBJECT ENCODING shows it, and a -0 score written later stays -0); not a write: nothing
    logged, no WATCH touched. On a read transaction (SORT_RO) the writer flags it."""
    if ks.writable:
        ks.mark_big(key)
    else:
        client.server.writer.call(lambda wks: wks.mark_big(key), client.db)


def _elements(ks, client, key):
    """(elements, type) of the key to sort; ([], None) if missing."""
    rec = ks.lookup(key)
    if rec is None:
        return [], None
    t = rec[0] & TYPE_MASK
    if t == TYPE_LIST:
        return ListValue(Collection(ks, key, rec, ks.prefix)).all(), t
    if t == TYPE_SET:
        return ordered_members(Collection(ks, key, rec, ks.prefix)), t   # BY nosort keeps it
    if t == TYPE_ZSET:
        if not rec[0] & FLAG_RAW:
            _to_skiplist(ks, client, key)
        return [m for m, _ in ZSetValue(Collection(ks, key, rec, ks.prefix)).iterate()], t
    raise CommandError(errors.WRONG_TYPE)


def _sort(ks, client, args, readonly):
    key = args[1]
    by = None
    gets = []
    limit = None
    desc = alpha = False
    store = None
    i = 2
    while i < len(args):
        opt = args[i].lower()
        left = len(args) - i - 1
        if opt == b"asc":
            desc = False
        elif opt == b"desc":
            desc = True
        elif opt == b"alpha":
            alpha = True
        elif opt == b"limit" and left >= 2:
            offset, count = strict_int(args[i + 1]), strict_int(args[i + 2])
            if offset is None or count is None:
                raise CommandError(errors.NOT_INTEGER)
            limit = (offset, count)
            i += 2
        elif opt == b"store" and left >= 1 and not readonly:
            store = args[i + 1]
            i += 1
        elif opt == b"by" and left >= 1:
            by = args[i + 1]
            i += 1
        elif opt == b"get" and left >= 1:
            gets.append(args[i + 1])
            i += 1
        else:
            raise _SYNTAX
        i += 1
    elements, t = _elements(ks, client, key)
    dontsort = by is not None and b"*" not in by
    if dontsort and t == TYPE_SET and store is not None:
        dontsort, alpha, by = False, True, None       # deterministic order for STORE
    if not dontsort:
        if alpha:
            if by is None:
                keyed = [(e, e) for e in elements]
            else:
                keyed = [(e, _lookup_pattern(ks, by, e)) for e in elements]

            def cmp(a, b):
                if by is not None and (a[1] is None or b[1] is None):
                    return 0 if a[1] is b[1] else (-1 if a[1] is None else 1)
                return (a[1] > b[1]) - (a[1] < b[1])
        else:
            keyed = []
            for e in elements:
                w = e if by is None else _lookup_pattern(ks, by, e)
                if w is None:
                    score = 0.0
                else:
                    score = parse_double(w)
                    if score is None:
                        # Returned, not raised: a raised error rolls the command back, and
                        # the encoding conversion above stays in Redis.
                        return CommandError(errors.SORT_NOT_DOUBLE)
                keyed.append((e, score))

            def cmp(a, b):
                if a[1] != b[1]:
                    return 1 if a[1] > b[1] else -1
                return (a[0] > b[0]) - (a[0] < b[0])
        keyed.sort(key=cmp_to_key(cmp), reverse=desc)
        elements = [e for e, _ in keyed]
    elif desc and t in (TYPE_LIST, TYPE_ZSET):
        elements = list(reversed(elements))
    if limit is not None:
        offset, count = limit
        if offset < 0:
            offset = 0
        elements = elements[offset:] if count < 0 else elements[offset:offset + count]
    if gets:
        out = [_lookup_pattern(ks, g, e) for e in elements for g in gets]
    else:
        out = elements
    if store is None:
        return out
    ks.delete(store)
    if out:
        lst = ListValue.create(ks, store)
        for v in out:
            lst.push(v if v is not None else b"", left=False)
        lst.save()
        ks.notify("l", b"sortstore", store)
        ks.signal_ready(store)
    ks.propagate(args)
    return len(out)


@command("sort", -2, "write denyoom", 1, 1, 1, group="generic",
         summary="Sort the elements in a list, set or sorted set", since="1.0.0")
def sort(ks, client, args):
    return _sort(ks, client, args, readonly=False)


@command("sort_ro", -2, "readonly", 1, 1, 1, group="generic",
         summary="Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
         since="7.0.0")
def sort_ro(ks, client, args):
    return _sort(ks, client, args, readonly=True)
