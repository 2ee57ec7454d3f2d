"""List commands on keyspace.ListValue (position-keyed element records: O(log n) at both
ends and by index). The blocking variants (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) wait in the
client's greenlet and are served inside the batch of the write that makes them servable
(see Server.serve_blocked), and propagate as their non-blocking effect."""

from kvstore import errors
from kvstore.commands import command, fast_write
from kvstore.commands.keys import parse_numkeys
from kvstore.commands.strings import FAST_VALUE_MAX, parse_int
from kvstore.errors import CommandError
from kvstore.keyspace import ListValue
from kvstore.resp import OK, NullArray, strict_int

_SYNTAX = CommandError(errors.SYNTAX)
_int = parse_int


def _push(ks, args, left, only_existing):
    lst = ListValue.open(ks, args[1]) if only_existing else ListValue.open_or_create(
        ks, args[1])
    if lst is None:
        return 0
    for v in args[2:]:
        lst.push(v, left)
    ks.notify("l", b"lpush" if left else b"rpush", args[1])
    lst.save()
    ks.propagate(args)
    ks.signal_ready(args[1])
    return lst.size


@command("lpush", -3, "write denyoom fast", 1, 1, 1, group="list",
         summary="Prepend one or multiple elements to a list")
def lpush(ks, client, args):
    return _push(ks, args, True, False)


@command("rpush", -3, "write denyoom fast", 1, 1, 1, group="list",
         summary="Append one or multiple elements to a list")
def rpush(ks, client, args):
    return _push(ks, args, False, False)


def _push_fast(ks, args, left):
    """LPUSH/RPUSH onto a missing key or a list without expiry, values up to FAST_VALUE_MAX
    in all: the records (ListValue.fast_push) and the log record, as _push does."""
    if len(args) < 3 or sum(map(len, args)) > FAST_VALUE_MAX:
        return None
    size = ListValue.fast_push(ks, args[1], args[2:], left)
    if size is None:
        return None
    ks.batch.log_command(ks.db, args)
    return b":%d\r\n" % size


@fast_write("lpush")
def lpush_fast(ks, args):
    return _push_fast(ks, args, True)


@fast_write("rpush")
def rpush_fast(ks, args):
    return _push_fast(ks, args, False)


@command("lpushx", -3, "write denyoom fast", 1, 1, 1, group="list",
         summary="Prepend an element to a list, only if the list exists", since="2.2.0")
def lpushx(ks, client, args):
    return _push(ks, args, True, True)


@command("rpushx", -3, "write denyoom fast", 1, 1, 1, group="list",
         summary="Append an element to a list, only if the list exists", since="2.2.0")
def rpushx(ks, client, args):
    return _push(ks, args, False, True)


def pop_some(ks, key, left, count):
    """Pop up to `count` elements (None = one, returned bare); None if the key is missing."""
    lst = ListValue.open(ks, key)
    if lst is None:
        return None
    event = b"lpop" if left else b"rpop"
    if count is None:
        v = lst.pop(left)
        ks.notify("l", event, key)
        lst.save()
        return v
    out = [lst.pop(left) for _ in range(min(count, lst.size))]
    if out:                                      # (count 0: nothing written or touched)
        ks.notify("l", event, key)
        lst.save()
    return out


def _pop(ks, client, args, left):
    if len(args) > 3:
        raise CommandError(errors.WRONG_ARITY.format("lpop" if left else "rpop"))
    count = None
    if len(args) == 3:
        count = strict_int(args[2])
        if count is None or count < 0:
            raise CommandError(errors.VALUE_OUT_OF_RANGE_POSITIVE)
    res = pop_some(ks, args[1], left, count)
    if res is None:
        return None if count is None else NullArray
    if count != 0:
        ks.propagate(args)
    return res


@command("lpop", -2, "write fast", 1, 1, 1, group="list",
         summary="Remove and get the first elements in a list")
def lpop(ks, client, args):
    return _pop(ks, client, args, True)


@command("rpop", -2, "write fast", 1, 1, 1, group="list",
         summary="Remove and get the last elements in a list")
def rpop(ks, client, args):
    return _pop(ks, client, args, False)


def _pop_fast(ks, args, left):
    """LPOP/RPOP key (no count) where ListValue.fast_pop applies: its records and the log
    record, as _pop does."""
    if len(args) != 2:
        return None
    value = ListValue.fast_pop(ks, args[1], left)
    if value is None:
        return None
    ks.batch.log_command(ks.db, args)
    return b"$%d\r\n%s\r\n" % (len(value), value)


@fast_write("lpop")
def lpop_fast(ks, args):
    return _pop_fast(ks, args, True)


@fast_write("rpop")
def rpop_fast(ks, args):
    return _pop_fast(ks, args, False)


@command("llen", 2, "readonly fast", 1, 1, 1, group="list", summary="Get the length of a list")
def llen(ks, client, args):
    lst = ListValue.open(ks, args[1])
    return 0 if lst is None else lst.size


def clamp_range(start, end, size):
    """Redis's LRANGE/LTRIM index rules; (start, end) inclusive, start > end if empty."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    if start < 0:
        start = 0
    if start > end or start >= size:
        return 1, 0
    if end >= size:
        end = size - 1
    return start, end


@command("lrange", 4, "readonly", 1, 1, 1, group="list",
         summary="Get a range of elements from a list")
def lrange(ks, client, args):
    start, end = _int(args[2]), _int(args[3])
    lst = ListValue.open(ks, args[1])
    if lst is None:
        return []
    s, e = clamp_range(start, end, lst.size)
    return lst.range(s, e)


@command("lindex", 3, "readonly", 1, 1, 1, group="list",
         summary="Get an element from a list by its index")
def lindex(ks, client, args):
    idx = _int(args[2])
    lst = ListValue.open(ks, args[1])
    if lst is None:
        return None
    if idx < 0:
        idx += lst.size
    if not 0 <= idx < lst.size:
        return None
    return lst.get(idx)


@command("lset", 4, "write denyoom", 1, 1, 1, group="list",
         summary="Set the value of an element in a list by its index")
def lset(ks, client, args):
    idx = _int(args[2])
    lst = ListValue.open(ks, args[1])
    if lst is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if idx < 0:
        idx += lst.size
    if not 0 <= idx < lst.size:
        raise CommandError(errors.INDEX_OUT_OF_RANGE)
    lst.set(idx, args[3])
    lst.save()
    ks.propagate(args)
    ks.notify("l", b"lset", args[1])
    return OK


@command("linsert", 5, "write denyoom", 1, 1, 1, group="list",
         summary="Insert an element before or after another element in a list",
         since="2.2.0")
def linsert(ks, client, args):
    where = args[2].lower()
    if where not in (b"before", b"after"):
        raise _SYNTAX
    lst = ListValue.open(ks, args[1])
    if lst is None:
        return 0
    values = lst.all()
    try:
        i = values.index(args[3])
    except ValueError:
        return -1
    values.insert(i if where == b"before" else i + 1, args[4])
    lst.rewrite(values)
    lst.save()
    ks.propagate(args)
    ks.notify("l", b"linsert", args[1])
    ks.signal_ready(args[1])
    return lst.size


@command("lrem", 4, "write", 1, 1, 1, group="list",
         summary="Remove elements from a list")
def lrem(ks, client, args):
    count = _int(args[2])
    lst = ListValue.open(ks, args[1])
    if lst is None:
        return 0
    values = lst.all()
    target = args[3]
    removed = 0
    if count >= 0:
        kept = []
        for v in values:
            if v == target and (count == 0 or removed < count):
                removed += 1
            else:
                kept.append(v)
    else:
        kept = []
        for v in reversed(values):
            if v == target and removed < -count:
                removed += 1
            else:
                kept.append(v)
        kept.reverse()
    if removed:
        lst.rewrite(kept)
        ks.notify("l", b"lrem", args[1])
        lst.save()
        ks.propagate(args)
    return removed


@command("ltrim", 4, "write", 1, 1, 1, group="list",
         summary="Trim a list to the specified range")
def ltrim(ks, client, args):
    start, end = _int(args[2]), _int(args[3])
    lst = ListValue.open(ks, args[1])
    if lst is None:
        return OK
    s, e = clamp_range(start, end, lst.size)
    removed = lst.trim(s, e)
    ks.notify("l", b"ltrim", args[1])              # Redis notifies even when nothing goes
    if removed:
        lst.save()
        ks.propagate(args)
    else:
        ks.signal_modified(args[1])                # ... and touches WATCHes
    return OK


@command("lpos", -3, "readonly", 1, 1, 1, group="list",
         summary="Return the index of matching elements on a list", since="6.0.6")
def lpos(ks, client, args):
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if i + 1 >= len(args):
            raise _SYNTAX
        if opt == b"rank":
            rank = _int(args[i + 1])
            if rank == 0:
                raise CommandError(errors.LPOS_RANK_ZERO)
        elif opt == b"count":
            count = _int(args[i + 1])
            if count < 0:
                raise CommandError(errors.LPOS_COUNT_NEGATIVE)
        elif opt == b"maxlen":
            maxlen = _int(args[i + 1])
            if maxlen < 0:
                raise CommandError(errors.LPOS_MAXLEN_NEGATIVE)
        else:
            raise _SYNTAX
        i += 2
    lst = ListValue.open(ks, args[1])
    if lst is None:
        return None if count is None else []
    values = lst.all()
    positions = range(len(values)) if rank > 0 else range(len(values) - 1, -1, -1)
    skip = abs(rank) - 1
    matches = []
    for n, pos in enumerate(positions):
        if maxlen and n >= maxlen:
            break
        if values[pos] == args[2]:
            if skip:
                skip -= 1
                continue
            matches.append(pos)
            if count is None or (count and len(matches) >= count):
                break
    if count is None:
        return matches[0] if matches else None
    return matches


def _where(arg):
    w = arg.lower()
    if w == b"left":
        return True
    if w == b"right":
        return False
    raise _SYNTAX


def move_one(ks, src, dst, from_left, to_left):
    """LMOVE's core: None if `src` is missing; WRONGTYPE checks on both keys first. Events
    in Redis's order: the push on dst, the pop on src, then src's del if it emptied."""
    s = ListValue.open(ks, src)
    if s is None:
        return None
    d = s if src == dst else ListValue.open(ks, dst)
    v = s.pop(from_left)
    if d is None:
        d = ListValue.create(ks, dst)
    d.push(v, to_left)
    if d is not s:
        d.save()
    ks.notify("l", b"lpush" if to_left else b"rpush", dst)
    ks.notify("l", b"lpop" if from_left else b"rpop", src)
    s.save()
    ks.signal_ready(dst)
    return v


@command("lmove", 5, "write denyoom", 1, 2, 1, group="list",
         summary="Pop an element from a list, push it to another list and return it",
         since="6.2.0")
def lmove(ks, client, args):
    from_left, to_left = _where(args[3]), _where(args[4])
    v = move_one(ks, args[1], args[2], from_left, to_left)
    if v is not None:
        ks.propagate(args)
    return v


@command("rpoplpush", 3, "write denyoom", 1, 2, 1, group="list",
         summary="Remove the last element in a list, prepend it to another list and return it",
         since="1.2.0")
def rpoplpush(ks, client, args):
    v = move_one(ks, args[1], args[2], False, True)
    if v is not None:
        ks.propagate(args)
    return v


def parse_mpop(args, start):
    """(keys, from_left, count) of LMPOP/BLMPOP arguments from `start` (numkeys)."""
    keys, rest = parse_numkeys(args, start)
    left = _where(rest[0])
    count = 1
    i = 1
    seen_count = False
    while i < len(rest):
        if rest[i].lower() == b"count" and i + 1 < len(rest) and not seen_count:
            count = strict_int(rest[i + 1])
            if count is None or count <= 0:
                raise CommandError(errors.COUNT_POSITIVE)
            seen_count = True
            i += 2
        else:
            raise _SYNTAX
    return keys, left, count


def mpop_first(ks, keys, left, count):
    """Pop from the first non-empty list: ([key, [elements]], effect args) or (None, None)."""
    for key in keys:
        popped = pop_some(ks, key, left, count)
        if popped:
            effect = [b"LPOP" if left else b"RPOP", key, b"%d" % len(popped)]
            return [key, popped], effect
    return None, None


@command("lmpop", -4, "write", 0, 0, 0, group="list",
         summary="Pop elements from a list", since="7.0.0")
def lmpop(ks, client, args):
    keys, left, count = parse_mpop(args, 1)
    reply, effect = mpop_first(ks, keys, left, count)
    if reply is None:
        return NullArray
    ks.propagate(effect)
    return reply


# ---- blocking variants ------------------------------------------------------------------------
_BLOCKED = object()
BLOCK_POLL_INTERVAL = 0.1     # how often a blocked client checks that its peer is still there


def parse_timeout(arg):
    """Seconds (float, 0 = forever), with Redis's texts for bad values."""
    from kvstore.numbers import parse_long_double
    v = parse_long_double(arg)
    if v is None:
        raise CommandError(errors.TIMEOUT_NOT_FLOAT)
    if v.inf:       # (long long) of an infinite or huge ceill() is LLONG_MIN on x86-64
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    # Redis 7.0: (long long) ceill(seconds * 1000.0) in long double.
    from kvstore.numbers import LLONG_MAX, ld_mul_ceil
    ms = ld_mul_ceil(v, 1000)
    if ms is None or ms > LLONG_MAX or ms < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    return ms / 1000.0


def _peer_gone(client):
    import socket as _socket
    raw = client.sock._sock if hasattr(client.sock, "_sock") else client.sock
    try:
        return raw.recv(1, _socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def block_on(client, keys, timeout, attempt):
    """Serve `attempt` now if it can be; otherwise block the client on `keys` until a write
    serves it (Blocking.serve), the timeout passes (-> None) or the client goes away.
    Inside EXEC the command does not block (as in Redis)."""
    import time as _time
    from kvstore.dispatch import BlockedOp
    server = client.server
    writer = server.writer
    op = BlockedOp(client, keys, attempt)

    def first(ks):
        for key in keys:
            reply = attempt(ks, key)
            if reply is not None:
                return reply
        if client.in_exec:
            return None
        writer.blocking.register(op)
        return _BLOCKED

    res = writer.call(first, client.db)
    if res is not _BLOCKED:
        return res
    deadline = _time.monotonic() + timeout if timeout else None
    client.flags = "b"
    client.blocked_op = op
    try:
        while True:
            wait = BLOCK_POLL_INTERVAL
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - _time.monotonic()))
            if op.event.wait(wait) or op.done:
                if isinstance(op.reply, CommandError):
                    raise op.reply
                return op.reply
            if client.killed or _peer_gone(client):
                writer.blocking.unregister(op)
                client.close_after_reply = True
                return None
            if deadline is not None and _time.monotonic() >= deadline:
                writer.blocking.unregister(op)
                return None
    finally:
        client.flags = "N"
        client.blocked_op = None


def _pop_attempt(left, with_key=True):
    def attempt(ks, key):
        v = pop_some(ks, key, left, None)
        if v is None:
            return None
        ks.propagate([b"LPOP" if left else b"RPOP", key])
        return [key, v] if with_key else v
    return attempt


def _bpop(client, args, left):
    timeout = parse_timeout(args[-1])
    res = block_on(client, args[1:-1], timeout, _pop_attempt(left))
    return NullArray if res is None else res


@command("blpop", -3, "write blocking conn", 1, -2, 1, group="list",
         summary="Remove and get the first element in a list, or block until one is available",
         since="2.0.0")
def blpop(ks, client, args):
    return _bpop(client, args, True)


@command("brpop", -3, "write blocking conn", 1, -2, 1, group="list",
         summary="Remove and get the last element in a list, or block until one is available",
         since="2.0.0")
def brpop(ks, client, args):
    return _bpop(client, args, False)


def _bmove(client, src, dst, from_left, to_left, timeout, name):
    def attempt(ks, key):
        v = move_one(ks, src, dst, from_left, to_left)
        if v is None:
            return None
        if name == b"RPOPLPUSH":
            ks.propagate([b"RPOPLPUSH", src, dst])
        else:
            ks.propagate([b"LMOVE", src, dst, b"LEFT" if from_left else b"RIGHT",
                          b"LEFT" if to_left else b"RIGHT"])
        return v
    res = block_on(client, [src], timeout, attempt)
    if res is None:
        # A timeout answers a null array; inside EXEC, where it cannot block, a null bulk
        # (Redis 7.0's blmoveGenericCommand).
        return None if client.in_exec else NullArray
    return res


@command("blmove", 6, "write denyoom blocking conn", 1, 2, 1, group="list",
         summary="Pop an element from a list, push it to another list and return it; or block "
         "until one is available", since="6.2.0")
def blmove(ks, client, args):
    from_left, to_left = _where(args[3]), _where(args[4])
    timeout = parse_timeout(args[5])
    return _bmove(client, args[1], args[2], from_left, to_left, timeout, b"LMOVE")


@command("brpoplpush", 4, "write denyoom blocking conn", 1, 2, 1, group="list",
         summary="Pop an element from a list, push it to another list and return it; or block "
         "until one is available", since="2.2.0")
def brpoplpush(ks, client, args):
    timeout = parse_timeout(args[3])
    return _bmove(client, args[1], args[2], False, True, timeout, b"RPOPLPUSH")


@command("blmpop", -5, "write blocking conn", 0, 0, 0, group="list",
         summary="Pop elements from a list, or block until one is available", since="7.0.0")
def blmpop(ks, client, args):
    timeout = parse_timeout(args[1])
    keys, left, count = parse_mpop(args, 2)

    def attempt(ks, key):
        reply, effect = mpop_first(ks, [key], left, count)
        if reply is not None:
            ks.propagate(effect)
        return reply
    res = block_on(client, keys, timeout, attempt)
    return NullArray if res is None else res
