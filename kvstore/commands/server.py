"""Server commands: DBSIZE FLUSHDB FLUSHALL SWAPDB INFO TIME COMMAND CONFIG SHUTDOWN SAVE
BGSAVE LASTSAVE DEBUG."""

import time

from kvstore import errors
from kvstore.commands import COMMANDS, command, container
from kvstore.config import ConfigError
from kvstore.digest import DatasetDigest, value_digest
from kvstore.errors import CommandError
from kvstore.keyspace import HDR, Keyspace, record_key
from kvstore.resp import OK, Map, Raw, SetReply, Simple, Verbatim, strict_int

_SYNTAX = CommandError(errors.SYNTAX)


@command("dbsize", 1, "readonly fast", group="server",
         summary="Return the number of keys in the selected database")
def dbsize(ks, client, args):
    return ks.dbsize()


def _flush_mode(args):
    if len(args) > 2:
        raise _SYNTAX
    if len(args) == 2 and args[1].lower() not in (b"async", b"sync"):
        raise _SYNTAX


@command("flushdb", -1, "write", group="server",
         summary="Remove all keys from the current database")
def flushdb(ks, client, args):
    _flush_mode(args)
    ks.flush_db(client.db)
    ks.propagate(args)
    client.server.after_flush()
    return OK


@command("flushall", -1, "write", group="server",
         summary="Remove all keys from all databases")
def flushall(ks, client, args):
    _flush_mode(args)
    for db in range(client.server.cfg.databases):
        ks.flush_db(db)
    ks.propagate(args)
    client.server.after_flush()
    return OK


@command("swapdb", 3, "write fast", group="server", summary="Swaps two Redis databases",
         since="4.0.0")
def swapdb(ks, client, args):
    a = strict_int(args[1])
    if a is None or not -2 ** 31 <= a < 2 ** 31:
        raise CommandError(errors.SWAPDB_BAD_FIRST)
    b = strict_int(args[2])
    if b is None or not -2 ** 31 <= b < 2 ** 31:
        raise CommandError(errors.SWAPDB_BAD_SECOND)
    n = client.server.cfg.databases
    if not (0 <= a < n and 0 <= b < n):
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    if a != b:
        ks.swap_db(a, b)
    ks.propagate(args)
    return OK


@command("time", 1, "loading stale fast", group="server", summary="Return the current server time",
         since="2.6.0")
def time_(ks, client, args):
    t = time.time()
    sec = int(t)
    return [b"%d" % sec, b"%d" % int((t - sec) * 1000000)]


@command("info", -1, "loading stale sentinel", group="server",
         summary="Get information and statistics about the server")
def info(ks, client, args):
    sections = [a.decode("utf-8", "replace").lower() for a in args[1:]]
    return Verbatim(client.server.info_text(sections, ks).encode())


@command("lastsave", 1, "loading stale fast", group="server",
         summary="Get the UNIX time stamp of the last successful save to disk", since="1.0.0")
def lastsave(ks, client, args):
    return client.server.storage.lastsave


@command("save", 1, "admin noscript no_multi conn", group="server",
         summary="Synchronously save the dataset to disk")
def save(ks, client, args):
    server = client.server
    if server.save_in_progress:
        raise CommandError(errors.BGSAVE_IN_PROGRESS)
    try:
        server.save()
    except RuntimeError:
        raise CommandError(errors.SAVE_FAILED) from None
    return OK


@command("bgsave", -1, "admin noscript conn", group="server",
         summary="Asynchronously save the dataset to disk")
def bgsave(ks, client, args):
    if len(args) > 2 or (len(args) == 2 and args[1].lower() != b"schedule"):
        raise _SYNTAX
    if not client.server.bgsave():
        raise CommandError(errors.BGSAVE_IN_PROGRESS)
    return Simple("Background saving started")


@command("shutdown", -1, "admin noscript loading stale no_multi conn", group="server",
         summary="Synchronously save the dataset to disk and then shut down the server")
def shutdown(ks, client, args):
    for a in args[1:]:
        if a.lower() not in (b"nosave", b"save", b"now", b"force", b"abort"):
            raise _SYNTAX
    opts = {a.lower() for a in args[1:]}
    if b"nosave" in opts and b"save" in opts:
        raise _SYNTAX
    if b"abort" in opts:
        if len(opts) > 1:
            raise _SYNTAX
        raise CommandError(errors.SHUTDOWN_NOT_IN_PROGRESS)
    client.server.request_shutdown("SHUTDOWN command from client id=%d" % client.id)
    client.close_after_reply = True
    return Raw(b"")


# ---- COMMAND --------------------------------------------------------------------------------
container("command", -1, "loading stale", group="server",
          summary="Get array of Redis command details", since="2.8.13")


def _acl_categories(cmd):
    cats = [b"@" + cmd.group.encode()]
    if cmd.is_write:
        cats.append(b"@write")
    elif "readonly" in cmd.flags:
        cats.append(b"@read")
    if "fast" in cmd.flags:
        cats.append(b"@fast")
    else:
        cats.append(b"@slow")
    if "admin" in cmd.flags:
        cats.extend([b"@admin", b"@dangerous"])
    return cats


_REPORTED_FLAGS = ("write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking",
                   "loading", "stale", "skip_monitor", "skip_slowlog", "fast", "no_auth",
                   "may_replicate", "sentinel", "no_mandatory_keys", "no_multi", "allow_busy")


def _flags_of(cmd):
    flags = [f for f in cmd.flags if f in _REPORTED_FLAGS]
    if cmd.noauth:
        flags.append("no_auth")
    return SetReply([Simple(f) for f in flags])


def command_info(cmd):
    subs = [command_info(s) for s in (cmd.subcommands or {}).values()]
    key_specs = []
    if cmd.first_key:
        key_specs.append(Map([
            (b"begin_search", Map([(b"type", b"index"),
                                   (b"spec", Map([(b"index", cmd.first_key)]))])),
            (b"find_keys", Map([(b"type", b"range"),
                                (b"spec", Map([(b"lastkey", cmd.last_key if cmd.last_key < 0
                                                else cmd.last_key - cmd.first_key),
                                               (b"keystep", cmd.step),
                                               (b"limit", 0)]))])),
        ]))
    return [cmd.full_name.encode(), cmd.arity, _flags_of(cmd), cmd.first_key, cmd.last_key,
            cmd.step, SetReply([Simple(c.decode()) for c in _acl_categories(cmd)]), [],
            key_specs, subs]


def _all_commands():
    return sorted(COMMANDS.values(), key=lambda c: c.name)


def command_root(ks, client, args):
    return [command_info(c) for c in _all_commands()]


def _find(name):
    name = name.decode("utf-8", "replace").lower()
    if "|" in name:
        parent, sub = name.split("|", 1)
        p = COMMANDS.get(parent)
        return (p.subcommands or {}).get(sub) if p else None
    return COMMANDS.get(name)


@command("count", 2, "loading stale", parent="command", group="server",
         summary="Get total number of Redis commands", since="2.8.13")
def command_count(ks, client, args):
    return len(COMMANDS)


@command("info", -2, "loading stale", parent="command", group="server",
         summary="Get array of specific Redis command details, or all when no argument is given",
         since="2.8.13")
def command_info_cmd(ks, client, args):
    if len(args) == 2:
        return command_root(ks, client, args)
    out = []
    for name in args[2:]:
        c = _find(name)
        out.append(command_info(c) if c else None)
    return out


@command("list", -2, "loading stale", parent="command", group="server",
         summary="Get an array of Redis command names", since="7.0.0")
def command_list(ks, client, args):
    names = []
    for c in _all_commands():
        names.append(c.name.encode())
        for s in (c.subcommands or {}).values():
            names.append(s.full_name.encode())
    if len(args) == 2:
        return names
    if len(args) != 5 or args[2].lower() != b"filterby":
        raise _SYNTAX
    kind, val = args[3].lower(), args[4]
    if kind == b"pattern":
        from kvstore.glob import compile_pattern
        rx = compile_pattern(val, True)
        return [n for n in names if rx.match(n)]
    if kind == b"aclcat":
        cat = b"@" + val.lower()
        return [n for n in names if cat in _acl_categories(_find(n))]
    if kind == b"module":
        return []
    raise _SYNTAX


@command("docs", -2, "loading stale", parent="command", group="server",
         summary="Get array of specific Redis command documentation", since="7.0.0")
def command_docs(ks, client, args):
    cmds = _all_commands() if len(args) == 2 else [c for c in map(_find, args[2:]) if c]
    out = []
    for c in cmds:
        doc = [(b"summary", c.summary.encode()), (b"since", c.since.encode()),
               (b"group", c.group.encode())]
        if c.subcommands:
            doc.append((b"subcommands", Map([
                (s.full_name.encode(), Map([(b"summary", s.summary.encode()),
                                            (b"since", s.since.encode()),
                                            (b"group", s.group.encode())]))
                for s in c.subcommands.values()])))
        out.append((c.full_name.encode(), Map(doc)))
    return Map(out)


@command("getkeys", -4, "loading stale", parent="command", group="server",
         summary="Extract keys given a full Redis command", since="2.8.13")
def command_getkeys(ks, client, args):
    c = _find(args[2])
    if c is None:
        raise CommandError(errors.COMMAND_GETKEYS_INVALID)
    cmdargs = args[2:]
    if c.subcommands and len(cmdargs) > 1:
        c = c.subcommands.get(cmdargs[1].decode("utf-8", "replace").lower(), c)
    if (c.arity > 0 and len(cmdargs) != c.arity) or len(cmdargs) < -c.arity:
        raise CommandError(errors.COMMAND_GETKEYS_ARITY)
    pos = c.key_positions(len(cmdargs))
    if not pos:
        raise CommandError(errors.COMMAND_GETKEYS_NOKEYS)
    return [cmdargs[i] for i in pos if i < len(cmdargs)]


# COMMAND with no subcommand: dispatch sees the container; give it a root handler.
COMMANDS["command"].handler = command_root
COMMANDS["command"].arity = -1


# ---- CONFIG ---------------------------------------------------------------------------------
container("config", -2, "", group="server", summary="A container for server configuration commands",
          since="2.0.0")


@command("get", -3, "admin noscript loading stale", parent="config", group="server",
         summary="Get the values of configuration parameters", since="2.0.0")
def config_get(ks, client, args):
    pats = [a.decode("utf-8", "replace") for a in args[2:]]
    return Map([(k.encode(), v.encode()) for k, v in client.server.cfg.get_matching(pats)])


@command("set", -4, "admin noscript loading stale conn", parent="config", group="server",
         summary="Set configuration parameters to the given values", since="2.0.0")
def config_set(ks, client, args):
    if len(args) % 2 != 0:
        raise CommandError(errors.WRONG_ARITY.format("config|set"))
    pairs = [(args[i].decode("utf-8", "replace"), args[i + 1].decode("utf-8", "surrogateescape"))
             for i in range(2, len(args), 2)]
    try:
        client.server.cfg.set_many(pairs, local=client.is_local())
    except ConfigError as e:
        raise CommandError(str(e)) from None
    return OK


@command("rewrite", 2, "admin noscript loading stale conn", parent="config", group="server",
         summary="Rewrite the configuration file with the in memory configuration",
         since="2.8.0")
def config_rewrite(ks, client, args):
    try:
        client.server.cfg.rewrite()
    except ConfigError as e:
        raise CommandError(str(e)) from None
    except OSError as e:
        raise CommandError("ERR Rewriting config file: %s" % e.strerror) from None
    return OK


@command("resetstat", 2, "admin noscript loading stale", parent="config", group="server",
         summary="Reset the stats returned by INFO", since="2.0.0")
def config_resetstat(ks, client, args):
    client.server.reset_stats()
    return OK


@command("help", 2, "loading stale", parent="config", group="server",
         summary="Show helpful text about the different subcommands", since="5.0.0")
def config_help(ks, client, args):
    lines = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
        "RESETSTAT", "    Reset statistics reported by the INFO command.",
        "REWRITE", "    Rewrite the configuration file.",
        "HELP", "    Print this help.",
    ]
    return [Simple(x) for x in lines]


# ---- DEBUG ----------------------------------------------------------------------------------
def _debug_allowed(client):
    mode = client.server.cfg.enable_debug_command
    if mode == "yes":
        return True
    if mode == "local":
        return client.is_local()
    return False


def _digest(server, db_range, ks):
    d = DatasetDigest()
    for db in db_range:
        prefix = ks.prefix_of(db)
        first = True
        for tk, rec in ks.iter_keys(prefix=prefix, include_expired=True):
            if first:
                d.add_db(db)
                first = False
            key = record_key(tk, rec)
            type_name, value = ks.read_value(rec)
            d.add_key(key, type_name, value, bool(HDR.unpack_from(rec)[1]))
    return d.hexdigest()


def _populate(server, db, args):
    """DEBUG POPULATE count [prefix] [size]: keys <prefix>:<i> = "value:<i>" (padded with
    zero bytes or cut to `size`), existing keys skipped; not replicated, as in Redis."""
    count = strict_int(args[0])
    if count is None or count < 0:
        raise CommandError(errors.VALUE_OUT_OF_RANGE_POSITIVE if count is not None
                           else errors.NOT_INTEGER)
    prefix = args[1] if len(args) > 1 else b"key"
    size = 0
    if len(args) > 2:
        size = strict_int(args[2])
        if size is None or size < 0:
            raise CommandError(errors.VALUE_OUT_OF_RANGE_POSITIVE if size is not None
                               else errors.NOT_INTEGER)
    done = 0
    while done < count:
        end = min(count, done + POPULATE_PER_CALL)

        def fill(ks, start=done, end=end):
            for i in range(start, end):
                key = b"%s:%d" % (prefix, i)
                if ks.lookup(key) is not None:
                    continue
                val = b"value:%d" % i
                if size:
                    val = val[:size].ljust(size, b"\0")
                ks.set_string(key, val, old=None, old_known=True)
        server.writer.call(fill, db)
        done = end
    return OK


POPULATE_PER_CALL = 20000


@command("debug", -2, "admin noscript loading stale conn", group="server",
         summary="A container for debugging commands")
def debug(ks, client, args):
    server = client.server
    if not _debug_allowed(client):
        raise CommandError(errors.DEBUG_DISABLED)
    sub = args[1].lower()
    n = len(args)
    if sub == b"sleep" and n == 3:
        try:
            secs = float(args[2])
        except ValueError:
            raise CommandError(errors.NOT_FLOAT) from None
        time.sleep(max(0.0, secs))      # blocks the whole server, as in Redis
        return OK
    if sub in (b"digest", b"digest-value", b"object"):
        st = server.storage
        txn = st.begin_read()
        try:
            rks = Keyspace(st, txn)
            rks.select(client.db)
            rks.hide_expired = False
            if sub == b"digest" and n == 2:
                return Simple(_digest(server, range(server.cfg.databases), rks))
            if sub == b"digest-value":
                out = []
                for key in args[2:]:
                    rec = rks.lookup_raw(key)
                    if rec is None:
                        out.append(Simple("0" * 40))
                        continue
                    type_name, value = rks.read_value(rec)
                    out.append(Simple(value_digest(type_name, value,
                                                   bool(HDR.unpack_from(rec)[1])).hex()))
                return out
            if sub == b"object" and n == 3:
                rec = rks.lookup_raw(args[2])
                if rec is None:
                    raise CommandError(errors.NO_SUCH_KEY)
                from kvstore.commands.keys import object_encoding_of, refcount_of
                type_name, value = rks.read_value(rec)
                mtime = HDR.unpack_from(rec)[2]          # last write, in seconds
                if "lfu" in server.cfg.maxmemory_policy:
                    lru = ((mtime // 60) & 0xFFFF) << 8  # Redis's LFU word (OBJECT FREQ: 0)
                else:
                    lru = mtime & 0xFFFFFF               # Redis's LRU clock, in seconds
                return Simple(
                    "Value at:0x0 refcount:%d encoding:%s serializedlength:%d lru:%d "
                    "lru_seconds_idle:%d" % (refcount_of(rec, client), object_encoding_of(rec),
                                             len(value), lru,
                                             max(0, int(time.time()) - mtime)))
        finally:
            txn.abort()
    if sub == b"reload" and n >= 2:
        # Redis saves an RDB and loads it back: the data is unchanged, the encodings are
        # those a load picks (Keyspace.reencode). Here the data stays where it is.
        def reencode(ks):
            for db in range(server.cfg.databases):
                ks.reencode(ks.prefix_of(db))
        server.writer.call(reencode)
        server.save(write_rdb=False)
        return OK
    if sub == b"populate" and 3 <= n <= 5:
        return _populate(server, client.db, args[2:])
    if sub == b"set-active-expire" and n == 3:
        server.active_expire_enabled = args[2] != b"0"
        return OK
    if sub == b"help" and n == 2:
        return [Simple(x) for x in (
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DIGEST", "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "OBJECT <key>", "    Show low level info about the key and associated value.",
            "RELOAD", "    Make every committed write durable (the data lives on disk) and give "
            "each value the encoding an RDB load would.",
            "SET-ACTIVE-EXPIRE <0|1>", "    Setting it to 0 disables expiring keys in the background.",
            "SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed.",
            "HELP", "    Print this help.")]
    raise CommandError(errors.UNKNOWN_SUBCOMMAND_OR_ARITY.format(
        args[1].decode("utf-8", "replace"), "DEBUG"))
