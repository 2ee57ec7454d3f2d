"""String commands. Propagation follows Redis 7.0 exactly (DESIGN.md section 1): relative
expiries become `SET k v PXAT <ms>` / `PEXPIREAT`, GETDEL becomes DEL, INCRBYFLOAT becomes
`SET k v KEEPTTL`, GETSET becomes SET, no-ops propagate nothing."""

from kvstore import errors
from kvstore.commands import command, fast_write
from kvstore.errors import CommandError
from kvstore.keyspace import (FLAG_RAW, HDR, HDR_SIZE, TYPE_MASK, TYPE_STRING, fast_target,
                              make_record, record_body_offset)
from kvstore.numbers import (LLONG_MAX, LLONG_MIN, format_long_double_human, ld_add,
                             parse_long_double)
from kvstore.resp import OK, Map, strict_int

_UNIT_S, _UNIT_MS = 1000, 1
_NOT_INT = CommandError(errors.NOT_INTEGER)
_SYNTAX = CommandError(errors.SYNTAX)
_WRONG_TYPE = CommandError(errors.WRONG_TYPE)


def parse_int(b):
    v = strict_int(b)
    if v is None:
        raise _NOT_INT
    return v


def _expire_at(ks, amount, unit, relative, cmdname):
    """Absolute expire ms from an EX/PX/EXAT/PXAT argument, with Redis's range checks."""
    v = parse_int(amount)
    if v <= 0 or (unit == _UNIT_S and v > LLONG_MAX // 1000):
        raise CommandError(errors.INVALID_EXPIRE.format(cmdname))
    v *= unit
    if relative:
        v += ks.now
    if v <= 0 or v > LLONG_MAX:
        raise CommandError(errors.INVALID_EXPIRE.format(cmdname))
    return v


_SET_EXPIRE_OPTS = {b"ex": (_UNIT_S, True), b"px": (_UNIT_MS, True),
                    b"exat": (_UNIT_S, False), b"pxat": (_UNIT_MS, False)}


def _check_size(ks, client, n):
    if n > client.server.cfg.proto_max_bulk_len:
        raise CommandError(errors.STRING_TOO_LONG)


def string_record(ks, key, value, expire_ms=0, raw_hint=False):
    return make_record(TYPE_STRING | (FLAG_RAW if raw_hint else 0), expire_ms, key, value)


def _existing_string(ks, key):
    """(record, value) of a live string key, (None, None) if missing; WRONGTYPE otherwise."""
    rec = ks.lookup(key)
    if rec is None:
        return None, None
    if rec[0] & TYPE_MASK != TYPE_STRING:
        raise _WRONG_TYPE
    return rec, rec[record_body_offset(rec):]


@command("get", 2, "readonly fast", 1, 1, 1, group="string", summary="Get the value of a key")
def get(ks, client, args):
    return ks.get_string(args[1])


@command("set", -3, "write denyoom", 1, 1, 1, group="string",
         summary="Set the string value of a key")
def set_(ks, client, args):
    key, value = args[1], args[2]
    n = len(args)
    if n == 3:
        rec = ks.lookup(key)
        ks.set_string(key, value, old=rec, old_known=True)
        ks.propagate(args)
        ks.notify("$", b"set", key)
        return OK
    nx = xx = get_ = keepttl = False
    expire = None
    i = 3
    while i < n:
        opt = args[i].lower()
        if opt == b"nx" and not xx:
            nx = True
        elif opt == b"xx" and not nx:
            xx = True
        elif opt == b"get":
            get_ = True
        elif opt == b"keepttl" and expire is None:
            keepttl = True
        elif opt in _SET_EXPIRE_OPTS and not keepttl and expire is None and i + 1 < n:
            expire = (opt, args[i + 1])
            i += 1
        else:
            raise _SYNTAX
        i += 1
    when = 0
    if expire is not None:
        unit, relative = _SET_EXPIRE_OPTS[expire[0]]
        when = _expire_at(ks, expire[1], unit, relative, "set")
    if get_:
        rec, old = _existing_string(ks, key)
    else:
        rec = ks.lookup(key)
        old = None
    if (nx and rec is not None) or (xx and rec is None):
        return old if get_ else None
    ks.set_string(key, value, when, keep_ttl=keepttl, old=rec, old_known=True)
    ks.notify("$", b"set", key)
    if expire is not None:
        ks.notify("g", b"expire", key)
    if expire is not None and expire[0] != b"pxat":
        ks.propagate([b"SET", key, value, b"PXAT", b"%d" % when])
    elif get_ and expire is None:
        ks.propagate([a for a in args if a.lower() != b"get"])
    else:
        ks.propagate(args)
    return old if get_ else OK


FAST_VALUE_MAX = 64 * 1024      # larger values take the full handler (see Writer's map reserve)


def _fast_head(ks):
    """The record header of a string without expiry written by this batch: with the value
    after it, what string_record makes for a short key (the fast forms build it inline)."""
    return HDR.pack(TYPE_STRING, 0, ks.now // 1000)


def _fast_store(ks, tk, old, value, args):
    """Store string `value` without expiry at `tk` (replacing `old`), count a new key and log
    `args` as the command's one effect."""
    ks.txn.put(tk, _fast_head(ks) + value, True, True, False,
               ks.meta_db)        # (positional: see keyspace.py, "py-lmdb parses keyword")
    batch = ks.batch
    if old is None:
        batch.counts_of(ks.pdb)[0] += 1
    batch.log_command(ks.db, args)


@fast_write("set")
def set_fast(ks, args):
    """`SET key value` without options over a missing key or a string without expiry: the
    record, the key count and the log record, exactly as set_ does for these arguments."""
    if len(args) != 3 or len(args[2]) > FAST_VALUE_MAX:
        return None
    target = fast_target(ks, args[1], TYPE_STRING)
    if target is None:
        return None
    _fast_store(ks, target[0], target[1], args[2], args)
    return OK


@command("setnx", 3, "write denyoom fast", 1, 1, 1, group="string",
         summary="Set the value of a key, only if the key does not exist")
def setnx(ks, client, args):
    rec = ks.lookup(args[1])
    if rec is not None:
        return 0
    ks.set_string(args[1], args[2], old=None, old_known=True)
    ks.propagate(args)
    ks.notify("$", b"set", args[1])
    return 1


def _setex(ks, args, unit, name):
    when = _expire_at(ks, args[2], unit, True, name)
    ks.set_string(args[1], args[3], when)
    ks.propagate([b"SET", args[1], args[3], b"PXAT", b"%d" % when])
    ks.notify("$", b"set", args[1])
    ks.notify("g", b"expire", args[1])
    return OK


@command("setex", 4, "write denyoom", 1, 1, 1, group="string",
         summary="Set the value and expiration of a key", since="2.0.0")
def setex(ks, client, args):
    return _setex(ks, args, _UNIT_S, "setex")


@command("psetex", 4, "write denyoom", 1, 1, 1, group="string",
         summary="Set the value and expiration in milliseconds of a key", since="2.6.0")
def psetex(ks, client, args):
    return _setex(ks, args, _UNIT_MS, "psetex")


@command("mget", -2, "readonly fast", 1, -1, 1, group="string",
         summary="Get the values of all the given keys")
def mget(ks, client, args):
    out = []
    for key in args[1:]:
        rec = ks.lookup(key)
        if rec is None or rec[0] & TYPE_MASK != TYPE_STRING:
            out.append(None)
        else:
            out.append(rec[record_body_offset(rec):])
    return out


def _mset_pairs(args):
    if len(args) % 2 == 0:
        raise CommandError(errors.WRONG_ARITY.format(args[0].decode("utf-8", "replace").lower()))
    return [(args[i], args[i + 1]) for i in range(1, len(args), 2)]


@command("mset", -3, "write denyoom", 1, -1, 2, group="string",
         summary="Set multiple keys to multiple values", since="1.0.1")
def mset(ks, client, args):
    for key, value in _mset_pairs(args):
        ks.set_string(key, value)
        ks.notify("$", b"set", key)
    ks.propagate(args)
    return OK


@fast_write("mset")
def mset_fast(ks, args):
    """`MSET key value [key value ...]` when every key is short and missing or a string
    without expiry, and the values together fit FAST_VALUE_MAX: every key is checked before
    the first write, then the records, the count of the distinct new keys and the log
    record, exactly as mset does for these arguments (a repeated key: its last value, written
    once)."""
    n = len(args)
    if n % 2 == 0 or sum(len(args[i]) for i in range(2, n, 2)) > FAST_VALUE_MAX:
        return None
    writes = {}                          # key -> [table key, old record, its last value]
    for i in range(1, n, 2):
        key = args[i]
        write = writes.get(key)
        if write is None:
            target = fast_target(ks, key, TYPE_STRING)
            if target is None:
                return None
            writes[key] = [target[0], target[1], args[i + 1]]
        else:
            write[2] = args[i + 1]
    put = ks.txn.put
    meta_db = ks.meta_db
    head = _fast_head(ks)
    for tk, _, value in writes.values():
        put(tk, head + value, True, True, False, meta_db)
    batch = ks.batch
    batch.counts_of(ks.pdb)[0] += sum(1 for _, old, _ in writes.values() if old is None)
    batch.log_command(ks.db, args)
    return OK


@command("msetnx", -3, "write denyoom", 1, -1, 2, group="string",
         summary="Set multiple keys to multiple values, only if none of the keys exist",
         since="1.0.1")
def msetnx(ks, client, args):
    pairs = _mset_pairs(args)
    for key, _ in pairs:
        if ks.lookup(key) is not None:
            return 0
    for key, value in pairs:
        ks.set_string(key, value)
        ks.notify("$", b"set", key)
    ks.propagate(args)
    return 1


@command("getset", 3, "write denyoom fast", 1, 1, 1, group="string",
         summary="Set the string value of a key and return its old value")
def getset(ks, client, args):
    rec, old = _existing_string(ks, args[1])
    ks.set_string(args[1], args[2], old=rec, old_known=True)
    ks.propagate([b"SET", args[1], args[2]])
    ks.notify("$", b"set", args[1])
    return old


@command("getdel", 2, "write fast", 1, 1, 1, group="string",
         summary="Get the value of a key and delete the key", since="6.2.0")
def getdel(ks, client, args):
    rec, old = _existing_string(ks, args[1])
    if rec is None:
        return None
    ks.delete(args[1])
    ks.propagate([b"DEL", args[1]])
    ks.notify("g", b"del", args[1])
    return old


@command("getex", -2, "write fast", 1, 1, 1, group="string",
         summary="Get the value of a key and optionally set its expiration", since="6.2.0")
def getex(ks, client, args):
    key = args[1]
    n = len(args)
    expire = None
    persist = False
    i = 2
    while i < n:
        opt = args[i].lower()
        if opt in _SET_EXPIRE_OPTS and expire is None and not persist and i + 1 < n:
            expire = (opt, args[i + 1])
            i += 1
        elif opt == b"persist" and expire is None and not persist:
            persist = True
        else:
            raise _SYNTAX
        i += 1
    rec, value = _existing_string(ks, key)
    if rec is None:
        return None
    value = bytes(value)
    when = 0
    if expire is not None:          # Redis validates the time only once the key exists
        unit, relative = _SET_EXPIRE_OPTS[expire[0]]
        when = _expire_at(ks, expire[1], unit, relative, "getex")
    if expire is not None:
        if when <= ks.now:
            ks.delete(key)
            ks.propagate([b"DEL", key])
            ks.notify("g", b"del", key)
        else:
            ks.set_expire(key, rec, when)
            ks.propagate([b"PEXPIREAT", key, b"%d" % when])
            ks.notify("g", b"expire", key)
    elif persist and HDR.unpack_from(rec)[1]:
        ks.set_expire(key, rec, 0)
        ks.propagate([b"PERSIST", key])
        ks.notify("g", b"persist", key)
    return value


@command("append", 3, "write denyoom fast", 1, 1, 1, group="string",
         summary="Append a value to a key", since="2.0.0")
def append(ks, client, args):
    key, extra = args[1], args[2]
    rec, old = _existing_string(ks, key)
    if rec is None:
        ks.set_string(key, extra, old=None, old_known=True)
        ks.propagate(args)
        ks.notify("$", b"append", key)
        return len(extra)
    new_len = len(old) + len(extra)
    _check_size(ks, client, new_len)
    exp = HDR.unpack_from(rec)[1]
    ks.set_record(key, string_record(ks, key, bytes(old) + extra, exp, raw_hint=True), rec,
                  old_known=True)
    ks.propagate(args)
    ks.notify("$", b"append", key)
    return new_len


@command("strlen", 2, "readonly fast", 1, 1, 1, group="string",
         summary="Get the length of the value stored in a key", since="2.2.0")
def strlen(ks, client, args):
    v = ks.get_string(args[1])
    return 0 if v is None else len(v)


@command("getrange", 4, "readonly", 1, 1, 1, group="string",
         summary="Get a substring of the string stored at a key", since="2.4.0")
def getrange(ks, client, args):
    start = parse_int(args[2])
    end = parse_int(args[3])
    v = ks.get_string(args[1])
    if v is None:
        return b""
    n = len(v)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = n + start
    if end < 0:
        end = n + end
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return b""
    return bytes(v[start:end + 1])


@command("substr", 4, "readonly", 1, 1, 1, group="string",
         summary="Get a substring of the string stored at a key")
def substr(ks, client, args):
    return getrange(ks, client, args)


@command("setrange", 4, "write denyoom", 1, 1, 1, group="string",
         summary="Overwrite part of a string at key starting at the specified offset",
         since="2.2.0")
def setrange(ks, client, args):
    key, patch = args[1], args[3]
    offset = parse_int(args[2])
    if offset < 0:
        raise CommandError(errors.OUT_OF_RANGE_OFFSET)
    rec, old = _existing_string(ks, key)
    if rec is None:
        if not patch:
            return 0
        _check_size(ks, client, offset + len(patch))
        ks.set_record(key, string_record(ks, key, b"\0" * offset + patch, 0, raw_hint=True),
                      None, old_known=True)
        ks.propagate(args)
        ks.notify("$", b"setrange", key)
        return offset + len(patch)
    if not patch:
        return len(old)
    _check_size(ks, client, offset + len(patch))
    cur = bytearray(old)
    if len(cur) < offset:
        cur.extend(b"\0" * (offset - len(cur)))
    cur[offset:offset + len(patch)] = patch
    exp = HDR.unpack_from(rec)[1]
    ks.set_record(key, string_record(ks, key, bytes(cur), exp, raw_hint=True), rec,
                  old_known=True)
    ks.propagate(args)
    ks.notify("$", b"setrange", key)
    return len(cur)


def _incr(ks, args, delta):
    key = args[1]
    rec, old = _existing_string(ks, key)
    if rec is None:
        cur = 0
        exp = 0
    else:
        cur = strict_int(bytes(old))
        if cur is None:
            raise _NOT_INT
        exp = HDR.unpack_from(rec)[1]
    new = cur + delta
    if new > LLONG_MAX or new < LLONG_MIN:
        raise CommandError(errors.INCR_OVERFLOW)
    ks.set_record(key, string_record(ks, key, b"%d" % new, exp), rec, old_known=True)
    ks.propagate(args)
    ks.notify("$", b"incrby", key)
    return new


@command("incr", 2, "write denyoom fast", 1, 1, 1, group="string",
         summary="Increment the integer value of a key by one")
def incr(ks, client, args):
    return _incr(ks, args, 1)


@fast_write("incr")
def incr_fast(ks, args):
    """`INCR key` over a missing key or an integer string without expiry, below LLONG_MAX:
    the record, the key count and the log record, exactly as _incr does for them."""
    target = fast_target(ks, args[1], TYPE_STRING)
    if target is None:
        return None
    tk, old = target
    if old is None:
        new = 1
    else:
        cur = strict_int(old[HDR_SIZE:])
        if cur is None or cur == LLONG_MAX:
            return None                  # the full handler replies the error
        new = cur + 1
    _fast_store(ks, tk, old, b"%d" % new, args)
    return b":%d\r\n" % new


@command("decr", 2, "write denyoom fast", 1, 1, 1, group="string",
         summary="Decrement the integer value of a key by one")
def decr(ks, client, args):
    return _incr(ks, args, -1)


@command("incrby", 3, "write denyoom fast", 1, 1, 1, group="string",
         summary="Increment the integer value of a key by the given amount")
def incrby(ks, client, args):
    return _incr(ks, args, parse_int(args[2]))


@command("decrby", 3, "write denyoom fast", 1, 1, 1, group="string",
         summary="Decrement the integer value of a key by the given number")
def decrby(ks, client, args):
    d = parse_int(args[2])
    if d == LLONG_MIN:
        raise CommandError(errors.DECR_OVERFLOW)
    return _incr(ks, args, -d)


@command("incrbyfloat", 3, "write denyoom fast", 1, 1, 1, group="string",
         summary="Increment the float value of a key by the given amount", since="2.6.0")
def incrbyfloat(ks, client, args):
    key = args[1]
    rec, old = _existing_string(ks, key)
    incr_by = parse_long_double(args[2])
    if rec is None:
        cur = parse_long_double(b"0")
        exp = 0
    else:
        cur = parse_long_double(bytes(old))
        exp = HDR.unpack_from(rec)[1]
    if cur is None or incr_by is None:
        raise CommandError(errors.NOT_FLOAT)
    res = ld_add(cur, incr_by)
    if res is None or res.inf:
        raise CommandError(errors.INCRBYFLOAT_NAN)
    text = format_long_double_human(res)
    ks.set_record(key, string_record(ks, key, text, exp), rec, old_known=True)
    ks.propagate([b"SET", key, text, b"KEEPTTL"])
    ks.notify("$", b"incrbyfloat", key)
    return text


@command("lcs", -3, "readonly", 1, 2, 1, group="string",
         summary="Find longest common substring", since="7.0.0")
def lcs(ks, client, args):
    want_len = want_idx = with_match_len = False
    min_match = 0
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if opt == b"idx":
            want_idx = True
        elif opt == b"len":
            want_len = True
        elif opt == b"withmatchlen":
            with_match_len = True
        elif opt == b"minmatchlen" and i + 1 < len(args):
            min_match = parse_int(args[i + 1])
            if min_match < 0:
                min_match = 0
            i += 1
        else:
            raise _SYNTAX
        i += 1
    ra, rb = ks.lookup(args[1]), ks.lookup(args[2])
    for r in (ra, rb):
        if r is not None and r[0] & TYPE_MASK != TYPE_STRING:
            raise CommandError(errors.LCS_NOT_STRINGS)
    if want_len and want_idx:
        raise CommandError(errors.LCS_LEN_AND_IDX)
    a = bytes(ra[record_body_offset(ra):]) if ra is not None else b""
    b = bytes(rb[record_body_offset(rb):]) if rb is not None else b""
    if (len(a) + 1) * (len(b) + 1) * 4 > client.server.cfg.proto_max_bulk_len:
        raise CommandError(errors.LCS_TOO_BIG)
    # DP table of LCS lengths, as Redis computes it (row-major, (alen+1) x (blen+1)).
    la, lb = len(a), len(b)
    prev = [0] * (lb + 1)
    table = [prev]
    for x in range(1, la + 1):
        row = [0] * (lb + 1)
        ax = a[x - 1]
        for y in range(1, lb + 1):
            if ax == b[y - 1]:
                row[y] = prev[y - 1] + 1
            else:
                row[y] = row[y - 1] if row[y - 1] > prev[y] else prev[y]
        table.append(row)
        prev = row
    idx = table[la][lb]
    if want_len:
        return idx
    result = bytearray(idx)
    matches = []
    x, y = la, lb
    arange_start = arange_end = brange_start = brange_end = None
    k = idx
    while x > 0 and y > 0:
        emit = False
        if a[x - 1] == b[y - 1]:
            result[k - 1] = a[x - 1]
            k -= 1
            if arange_start is None:
                arange_start = arange_end = x - 1
                brange_start = brange_end = y - 1
            elif arange_start == x and brange_start == y:
                arange_start -= 1
                brange_start -= 1
            else:
                emit = True
            if arange_start == 0 or brange_start == 0:
                emit = True
            x -= 1
            y -= 1
        else:
            lcs1 = table[x - 1][y]
            lcs2 = table[x][y - 1]
            if lcs1 > lcs2:
                x -= 1
            else:
                y -= 1
            if arange_start is not None:
                emit = True
        if emit:
            match_len = arange_end - arange_start + 1
            if min_match == 0 or match_len >= min_match:
                if want_idx:
                    m = [[arange_start, arange_end], [brange_start, brange_end]]
                    if with_match_len:
                        m.append(match_len)
                    matches.append(m)
            arange_start = None
    if want_idx:
        return Map([(b"matches", matches), (b"len", idx)])
    return bytes(result)
