"""Generic key commands: DEL UNLINK EXISTS TYPE TOUCH, the EXPIRE family, TTLs, KEYS SCAN
RANDOMKEY, RENAME RENAMENX COPY MOVE, OBJECT, DUMP RESTORE."""

import os

from kvstore import errors
from kvstore.commands import command, container
from kvstore.commands.strings import parse_int
from kvstore.encoding import string_encoding_for_object
from kvstore.errors import CommandError
from kvstore.glob import compile_pattern, literal_prefix
from kvstore.keyspace import (FLAG_RAW, HDR, SLOT_SIZE, TYPE_HASH, TYPE_MASK, TYPE_NAMES,
                              TYPE_SET, TYPE_STRING, decode_element, record_body_offset,
                              record_key, rekey)
from kvstore.numbers import LLONG_MAX, LLONG_MIN
from kvstore.resp import OK, Simple, strict_int
from replication import rdb

_SYNTAX = CommandError(errors.SYNTAX)


@command("del", -2, "write", 1, -1, 1, group="keyspace", summary="Delete a key")
def del_(ks, client, args):
    n = 0
    for key in args[1:]:
        if ks.delete(key):
            ks.notify("g", b"del", key)
            n += 1
    if n:
        ks.propagate(args)
    return n


@command("unlink", -2, "write fast", 1, -1, 1, group="keyspace",
         summary="Delete a key asynchronously in another thread", since="4.0.0")
def unlink(ks, client, args):
    return del_(ks, client, args)


@command("exists", -2, "readonly fast", 1, -1, 1, group="keyspace",
         summary="Determine if a key exists")
def exists(ks, client, args):
    return sum(1 for key in args[1:] if ks.lookup(key) is not None)


@command("touch", -2, "readonly fast", 1, -1, 1, group="keyspace",
         summary="Alters the last access time of a key(s)", since="3.2.1")
def touch(ks, client, args):
    return exists(ks, client, args)


@command("type", 2, "readonly fast", 1, 1, 1, group="keyspace",
         summary="Determine the type stored at key")
def type_(ks, client, args):
    rec = ks.lookup(args[1])
    if rec is None:
        return Simple("none")
    return Simple(TYPE_NAMES[rec[0] & TYPE_MASK])


# ---- expiry ---------------------------------------------------------------------------------
_EXPIRE_FLAGS = {b"nx": 1, b"xx": 2, b"gt": 4, b"lt": 8}


def _expire_generic(ks, client, args, unit_ms, relative):
    key = args[1]
    flags = 0
    for opt in args[3:]:
        f = _EXPIRE_FLAGS.get(opt.lower())
        if f is None:
            raise CommandError(errors.UNSUPPORTED_OPTION.format(opt.decode("utf-8", "replace")))
        flags |= f
    if flags & 1 and flags & 14:
        raise CommandError(errors.EXPIRE_NX_XX_GT_LT)
    if flags & 4 and flags & 8:
        raise CommandError(errors.EXPIRE_GT_LT)
    when = parse_int(args[2])
    cmdname = args[0].decode("utf-8", "replace").lower()
    if unit_ms == 1000:
        if when > LLONG_MAX // 1000 or when < LLONG_MIN // 1000:
            raise CommandError(errors.INVALID_EXPIRE.format(cmdname))
        when *= 1000
    base = ks.now if relative else 0
    if when > LLONG_MAX - base:
        raise CommandError(errors.INVALID_EXPIRE.format(cmdname))
    when += base
    rec = ks.lookup(key)
    if rec is None:
        return 0
    cur = HDR.unpack_from(rec)[1] or -1
    if flags & 1 and cur != -1:
        return 0
    if flags & 2 and cur == -1:
        return 0
    if flags & 4 and (when <= cur or cur == -1):
        return 0
    if flags & 8 and cur != -1 and when >= cur:
        return 0
    if when <= ks.now and not client.server.is_replica():
        ks.delete(key)
        ks.propagate([b"UNLINK" if client.server.cfg.lazyfree_lazy_expire else b"DEL", key])
        ks.notify("g", b"del", key)
        return 1
    ks.set_expire(key, rec, when)
    ks.notify("g", b"expire", key)
    prop = list(args)
    prop[0] = b"PEXPIREAT" if args[0].lower() != b"pexpireat" else args[0]
    if relative or unit_ms == 1000:
        prop[2] = b"%d" % when
    ks.propagate(prop)
    return 1


@command("expire", -3, "write fast", 1, 1, 1, group="keyspace",
         summary="Set a key's time to live in seconds")
def expire(ks, client, args):
    return _expire_generic(ks, client, args, 1000, True)


@command("pexpire", -3, "write fast", 1, 1, 1, group="keyspace",
         summary="Set a key's time to live in milliseconds", since="2.6.0")
def pexpire(ks, client, args):
    return _expire_generic(ks, client, args, 1, True)


@command("expireat", -3, "write fast", 1, 1, 1, group="keyspace",
         summary="Set the expiration for a key as a UNIX timestamp", since="1.2.0")
def expireat(ks, client, args):
    return _expire_generic(ks, client, args, 1000, False)


@command("pexpireat", -3, "write fast", 1, 1, 1, group="keyspace",
         summary="Set the expiration for a key as a UNIX timestamp specified in milliseconds",
         since="2.6.0")
def pexpireat(ks, client, args):
    return _expire_generic(ks, client, args, 1, False)


def _ttl_generic(ks, args, output_ms, output_abs):
    rec = ks.lookup(args[1])
    if rec is None:
        return -2
    exp = HDR.unpack_from(rec)[1]
    if not exp:
        return -1
    ttl = exp if output_abs else exp - ks.now
    if ttl < 0:
        ttl = 0
    return ttl if output_ms else (ttl + 500) // 1000


@command("ttl", 2, "readonly fast", 1, 1, 1, group="keyspace",
         summary="Get the time to live for a key in seconds")
def ttl(ks, client, args):
    return _ttl_generic(ks, args, False, False)


@command("pttl", 2, "readonly fast", 1, 1, 1, group="keyspace",
         summary="Get the time to live for a key in milliseconds", since="2.6.0")
def pttl(ks, client, args):
    return _ttl_generic(ks, args, True, False)


@command("expiretime", 2, "readonly fast", 1, 1, 1, group="keyspace",
         summary="Get the expiration Unix timestamp for a key", since="7.0.0")
def expiretime(ks, client, args):
    return _ttl_generic(ks, args, False, True)


@command("pexpiretime", 2, "readonly fast", 1, 1, 1, group="keyspace",
         summary="Get the expiration Unix timestamp for a key in milliseconds", since="7.0.0")
def pexpiretime(ks, client, args):
    return _ttl_generic(ks, args, True, True)


@command("persist", 2, "write fast", 1, 1, 1, group="keyspace",
         summary="Remove the expiration from a key", since="2.2.0")
def persist(ks, client, args):
    rec = ks.lookup(args[1])
    if rec is None or not HDR.unpack_from(rec)[1]:
        return 0
    ks.set_expire(args[1], rec, 0)
    ks.propagate(args)
    ks.notify("g", b"persist", args[1])
    return 1


# ---- iteration ------------------------------------------------------------------------------
def _type_of(rec):
    return TYPE_NAMES[rec[0] & TYPE_MASK]


@command("keys", 2, "readonly", group="keyspace", summary="Find all keys matching the given pattern")
def keys(ks, client, args):
    pattern = args[1]
    rx = compile_pattern(pattern)
    head = literal_prefix(pattern)
    out = []
    if head and len(head) <= 449:
        start = ks.prefix + head
        for tk, rec in ks.iter_keys(seek=start):
            if tk[4:4 + len(head)] != head:
                break
            key = record_key(tk, rec)
            if rx.match(key):
                out.append(key)
        return out
    for tk, rec in ks.iter_keys():
        key = record_key(tk, rec)
        if rx.match(key):
            out.append(key)
    return out


def parse_scan_cursor(cursor):
    """Redis parses cursors with strtoul: digits with an optional sign, no spaces, no
    overflow ("-1" wraps around to a huge cursor)."""
    body = cursor[1:] if cursor[:1] in (b"-", b"+") else cursor
    if not body.isdigit() or int(body) >= 2 ** 64:
        raise CommandError(errors.INVALID_CURSOR)
    return int(body) if cursor[:1] != b"-" else (2 ** 64 - int(body)) % 2 ** 64


def parse_numkeys(args, start):
    """(keys, rest) of `numkeys key [key ...] rest...` (LMPOP/ZMPOP and their blocking
    forms): numkeys must be positive and leave at least one argument after the keys."""
    numkeys = strict_int(args[start])
    if numkeys is None or numkeys <= 0:
        raise CommandError(errors.NUMKEYS_POSITIVE)
    if numkeys > len(args) - start - 2:
        raise _SYNTAX
    return args[start + 1:start + 1 + numkeys], args[start + 1 + numkeys:]


def parse_scan_options(args, start, allow_type=False):
    """(count, compiled MATCH pattern or None, TYPE or None) of a SCAN-family command."""
    count = 10
    rx = None
    want_type = None
    i = start
    while i < len(args):
        opt = args[i].lower()
        if opt == b"count" and i + 1 < len(args):
            count = parse_int(args[i + 1])
            if count < 1:
                raise _SYNTAX
        elif opt == b"match" and i + 1 < len(args):
            rx = None if args[i + 1] == b"*" else compile_pattern(args[i + 1])
        elif allow_type and opt == b"type" and i + 1 < len(args):
            want_type = args[i + 1].decode("utf-8", "replace").lower()
        else:
            raise _SYNTAX
        i += 2
    return count, rx, want_type


def scan_compact(items, rx, with_values):
    """HSCAN/SSCAN/ZSCAN of a collection in Redis's compact encoding: everything at once,
    cursor 0, in the order Redis keeps it (`items`: (name, reply value) in that order)."""
    out = []
    for name, value in items:
        if rx is None or rx.match(name):
            if with_values:
                out.extend((name, value))
            else:
                out.append(name)
    return [b"0", out]


def scan_collection(ks, client, coll, cid, count, rx, with_values, sub_prefix=b"",
                    value_fn=None):
    """HSCAN/SSCAN/ZSCAN over a collection's element records whose sub key starts with
    `sub_prefix` (ZSCAN: the member records; a set's or a hash's names follow their slot). A
    collection still in Redis's compact encoding
    comes back whole with cursor 0, as Redis does; a big one is paged by element count with
    server-side cursors (see Server.scan_cursor_for). `value_fn` turns a stored value into
    the reply's (ZSCAN: the score)."""
    out = []
    head = coll.head + sub_prefix
    server = client.server
    token = ("elems", coll.keyid)
    start_after = server.scan_cursors.get((cid, token)) if (cid and coll.big) else None
    cur = ks.txn.cursor(db=ks.storage.elems_db)
    if start_after is None:
        positioned = cur.set_range(head)
    else:
        positioned = cur.set_range(start_after)
        if positioned and cur.key() == start_after:
            positioned = cur.next()
    seen = 0
    last = None
    hl = len(head)
    name_at = hl + (SLOT_SIZE if coll.type_code in (TYPE_SET, TYPE_HASH) else 0)
    while positioned and cur.key()[:hl] == head:
        last = cur.key()
        name, value = decode_element(last[name_at:], cur.value())
        seen += 1
        if rx is None or rx.match(name):
            if with_values:
                out.extend((name, value_fn(value) if value_fn else value))
            else:
                out.append(name)
        positioned = cur.next()
        if coll.big and seen >= count:
            break
    if not positioned or cur.key()[:hl] != head:
        return [b"0", out]
    return [b"%d" % server.scan_cursor_for(token, last), out]


@command("scan", -2, "readonly", group="keyspace",
         summary="Incrementally iterate the keys space", since="2.8.0")
def scan(ks, client, args):
    cid = parse_scan_cursor(args[1])
    count, rx, want_type = parse_scan_options(args, 2, allow_type=True)
    server = client.server
    # Cursors are positions this server handed out; an unknown one (a restart, a made-up
    # number) restarts the iteration, which keeps SCAN's guarantee that every key present
    # throughout is returned.
    start_after = server.scan_cursors.get((cid, ks.pdb)) if cid else None
    out = []
    seen = 0
    last = None
    for tk, rec in ks.iter_keys(start_after=start_after):
        seen += 1
        last = tk
        if want_type is None or _type_of(rec) == want_type:
            key = record_key(tk, rec)
            if rx is None or rx.match(key):
                out.append(key)
        if seen >= count:
            break
    else:
        last = None
    next_cursor = server.scan_cursor_for(ks.pdb, last) if last is not None else 0
    return [b"%d" % next_cursor, out]


@command("randomkey", 1, "readonly", group="keyspace", summary="Return a random key from the keyspace")
def randomkey(ks, client, args):
    if ks.dbsize() == 0:
        return None
    for _ in range(64):
        seek = ks.prefix + os.urandom(2)
        for tk, rec in ks.iter_keys(seek=seek):
            return record_key(tk, rec)
        for tk, rec in ks.iter_keys():
            return record_key(tk, rec)
        return None
    return None


# ---- rename / copy / move -------------------------------------------------------------------
def _rename(ks, args, nx):
    src, dst = args[1], args[2]
    rec = ks.lookup(src)
    if rec is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else OK
    if nx and ks.lookup(dst) is not None:
        return 0
    ks.delete(dst)
    ks.delete(src, keep_elements=True)
    ks.set_record(dst, rekey(rec, dst), None, old_known=True)
    ks.propagate(args)
    ks.notify("g", b"rename_from", src)
    ks.notify("g", b"rename_to", dst)
    return 1 if nx else OK


@command("rename", 3, "write", 1, 2, 1, group="keyspace", summary="Rename a key")
def rename(ks, client, args):
    return _rename(ks, args, False)


@command("renamenx", 3, "write fast", 1, 2, 1, group="keyspace",
         summary="Rename a key, only if the new key does not exist")
def renamenx(ks, client, args):
    return _rename(ks, args, True)


def _parse_db(client, arg):
    db = strict_int(arg)
    if db is None or db < -2 ** 31 or db >= 2 ** 31:
        raise CommandError(errors.NOT_INTEGER)
    if not 0 <= db < client.server.cfg.databases:
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    return db


@command("copy", -3, "write denyoom", 1, 2, 1, group="keyspace",
         summary="Copy a key", since="6.2.0")
def copy(ks, client, args):
    src, dst = args[1], args[2]
    dstdb = client.db
    replace = False
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and i + 1 < len(args):
            dstdb = _parse_db(client, args[i + 1])
            i += 1
        else:
            raise _SYNTAX
        i += 1
    if src == dst and dstdb == client.db:
        raise CommandError(errors.SOURCE_DEST_SAME)
    rec = ks.lookup(src)
    if rec is None:
        return 0
    dprefix = ks.prefix_of(dstdb)
    if ks.lookup(dst, dprefix) is not None:
        if not replace:
            return 0
        ks.delete(dst, dprefix)
    ks.set_record(dst, ks.copy_value(rec, dst), None, prefix=dprefix, old_known=True)
    ks.propagate(args)
    ks.notify("g", b"copy_to", dst, dstdb)
    return 1


@command("move", 3, "write fast", 1, 1, 1, group="keyspace",
         summary="Move a key to another database")
def move(ks, client, args):
    key = args[1]
    dbid = strict_int(args[2])
    if dbid is None or not -2 ** 31 <= dbid < 2 ** 31:
        raise CommandError(errors.NOT_INTEGER)
    if not 0 <= dbid < client.server.cfg.databases:
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    if dbid == client.db:
        raise CommandError(errors.SOURCE_DEST_SAME)
    rec = ks.lookup(key)
    if rec is None:
        return 0
    dprefix = ks.prefix_of(dbid)
    if ks.lookup(key, dprefix) is not None:
        return 0
    ks.delete(key, keep_elements=True)
    ks.set_record(key, bytes(rec), None, prefix=dprefix, old_known=True)
    ks.propagate(args)
    ks.notify("g", b"move_from", key)
    ks.notify("g", b"move_to", key, dbid)
    return 1


# ---- OBJECT ---------------------------------------------------------------------------------
container("object", -2, "", group="keyspace", summary="A container for object introspection commands")


def object_encoding_of(rec):
    t = rec[0] & TYPE_MASK
    if t == TYPE_STRING:
        if rec[0] & FLAG_RAW:
            return "raw"
        return string_encoding_for_object(bytes(rec[record_body_offset(rec):]))
    big = bool(rec[0] & FLAG_RAW)       # converted out of the compact encoding
    return {1: "quicklist", 2: "hashtable" if big else "intset",
            3: "skiplist" if big else "listpack", 4: "hashtable" if big else "listpack",
            5: "stream"}[t]


@command("encoding", 3, "readonly", 2, 2, 1, parent="object", group="keyspace",
         summary="Inspect the internal encoding of a Redis object", since="2.2.3")
def object_encoding(ks, client, args):
    rec = ks.lookup(args[2])
    if rec is None:
        return None
    return object_encoding_of(rec).encode()


@command("refcount", 3, "readonly", 2, 2, 1, parent="object", group="keyspace",
         summary="Get the number of references to the value of the key", since="2.2.3")
def object_refcount(ks, client, args):
    rec = ks.lookup(args[2])
    if rec is None:
        return None
    return refcount_of(rec, client)


def refcount_of(rec, client):
    """What Redis reports as the value's reference count (OBJECT REFCOUNT, DEBUG OBJECT)."""
    if object_encoding_of(rec) == "int" and not _lru_or_lfu(client):
        v = int(bytes(rec[record_body_offset(rec):]))
        if 0 <= v < 10000:
            return 2147483647          # Redis's shared integer objects
    return 1


def _lru_or_lfu(client):
    policy = client.server.cfg.maxmemory_policy
    return client.server.cfg.maxmemory and ("lru" in policy or "lfu" in policy)


@command("idletime", 3, "readonly", 2, 2, 1, parent="object", group="keyspace",
         summary="Get the time since a Redis object was last accessed", since="2.2.3")
def object_idletime(ks, client, args):
    rec = ks.lookup(args[2])
    if rec is None:
        return None
    if "lfu" in client.server.cfg.maxmemory_policy:
        raise CommandError(errors.OBJECT_IDLETIME_LFU)
    # Reads do not write to disk, so the idle time counts from the key's last write.
    return max(0, int(ks.now // 1000) - HDR.unpack_from(rec)[2])


@command("freq", 3, "readonly", 2, 2, 1, parent="object", group="keyspace",
         summary="Get the logarithmic access frequency counter of a Redis object", since="4.0.0")
def object_freq(ks, client, args):
    rec = ks.lookup(args[2])
    if rec is None:
        return None
    if "lfu" not in client.server.cfg.maxmemory_policy:
        raise CommandError(errors.OBJECT_FREQ_NOT_LFU)
    return 0


@command("help", 2, "loading stale", parent="object", group="keyspace",
         summary="Show helpful text about the different subcommands", since="6.2.0")
def object_help(ks, client, args):
    lines = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]
    return [Simple(x) for x in lines]


# ---- DUMP / RESTORE -------------------------------------------------------------------------
@command("dump", 2, "readonly", 1, 1, 1, group="keyspace",
         summary="Return a serialized version of the value stored at the specified key",
         since="2.6.0")
def dump(ks, client, args):
    rec = ks.lookup(args[1])
    if rec is None:
        return None
    type_name, value = ks.read_value(rec)
    return rdb.dump_payload(type_name, value)


@command("restore", -4, "write denyoom", 1, 1, 1, group="keyspace",
         summary="Create a key using the provided serialized value", since="2.6.0")
def restore(ks, client, args):
    key, payload = args[1], args[3]
    replace = absttl = False
    i = 4
    while i < len(args):
        opt = args[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and i + 1 < len(args):
            v = parse_int(args[i + 1])
            if v < 0:
                raise CommandError(errors.RESTORE_BAD_IDLE)
            i += 1
        elif opt == b"freq" and i + 1 < len(args):
            v = parse_int(args[i + 1])
            if v < 0 or v > 255:
                raise CommandError(errors.RESTORE_BAD_FREQ)
            i += 1
        else:
            raise _SYNTAX
        i += 1
    ttl_ms = parse_int(args[2])
    if ttl_ms < 0:
        raise CommandError(errors.RESTORE_BAD_TTL)
    if not replace and ks.lookup(key) is not None:
        raise CommandError(errors.BUSYKEY)
    try:
        type_name, value = rdb.load_dump_payload(payload, strict=False)
    except rdb.RdbError as e:
        raise CommandError(str(e)) from None
    when = 0
    if ttl_ms:
        when = ttl_ms if absttl else ttl_ms + ks.now
    deleted = ks.delete(key) if replace else False
    if when and when <= ks.now and not client.server.is_replica():
        if deleted:
            ks.propagate([b"DEL", key])
        return OK
    ks.write_value(key, type_name, value, when)
    ks.notify("g", b"restore", key)
    prop = list(args)
    if ttl_ms and not absttl:
        prop[2] = b"%d" % when
        prop.append(b"ABSTTL")
    ks.propagate(prop)
    return OK

