"""The command table: every command is declared once, at its handler, with `@command`.

Declaration = Redis's command metadata: name, arity (Redis's sign convention: n = exactly n
arguments including the name, -n = at least n), flags, key positions (first, last, step), group.
Dispatch enforces arity, authentication and the flags; handlers never re-check them.
`COMMAND`/`COMMAND INFO|DOCS|LIST|COUNT` are generated from this same table.

Flags used by dispatch:
  write     changes data: runs inside the single writer's batch, in a nested transaction, and
            its effects go to the replication log
  denyoom   refused with -OOM when the data size exceeds maxmemory
  conn      runs in the client's own greenlet (may block or do I/O): never inside a batch
  noauth    allowed before AUTH
  no_multi  refused inside MULTI (the transaction is then aborted at EXEC)
Other Redis flags (readonly, fast, admin, noscript, loading, stale, ...) are reported by COMMAND.

Fast writes (`@fast_write("set")`): an optional second implementation of a write command for
its simplest, most frequent form, which the writer runs without a nested transaction while the
batch allows it (see Writer._exec_fast: no keyspace notifications, no WATCH, no client
blocked on a key, a primary's log, map space reserved). Contract: `fast(ks, args) -> encoded
reply bytes`, or None having touched nothing (the writer then runs the full handler). It never
raises once it has written, and does exactly what the handler would do for those arguments,
log record included.

Handler contract: `handler(ks, client, args) -> reply` where `ks` is a keyspace.Keyspace on a
transaction with the client's db selected, `args` the full argument list (bytes, args[0] is the
name as the client sent it). Parse every argument before the first write (a syntax error never
touches storage); raise errors.CommandError for error replies.
"""

import importlib

COMMANDS = {}


class Command:
    __slots__ = ("name", "handler", "arity", "flags", "first_key", "last_key", "step", "group",
                 "summary", "subcommands", "parent", "is_write", "denyoom", "conn", "noauth",
                 "full_name", "since", "stats", "writes_data", "fast")

    def __init__(self, name, handler, arity, flags, first_key, last_key, step, group, summary,
                 since, parent=None):
        self.name = name
        self.handler = handler
        self.arity = arity
        self.flags = tuple(flags.split()) if isinstance(flags, str) else tuple(flags)
        self.first_key = first_key
        self.last_key = last_key
        self.step = step
        self.group = group
        self.summary = summary
        self.since = since
        self.subcommands = None
        self.parent = parent
        self.full_name = "%s|%s" % (parent.name, name) if parent else name
        # may_replicate (PUBLISH): not a data write, but it goes to the log through the writer
        self.is_write = "write" in self.flags or "may_replicate" in self.flags
        self.writes_data = "write" in self.flags     # refused on a read-only replica
        self.denyoom = "denyoom" in self.flags
        self.conn = "conn" in self.flags
        self.noauth = "noauth" in self.flags
        self.stats = [0, 0, 0, 0]    # calls, usec, rejected, failed (INFO commandstats)
        self.fast = None             # see fast_write

    def key_positions(self, nargs):
        if not self.first_key:
            return []
        last = self.last_key if self.last_key >= 0 else nargs + self.last_key
        return list(range(self.first_key, last + 1, self.step or 1))


def command(name, arity, flags="", first_key=0, last_key=0, step=0, group="generic",
            summary="", since="1.0.0", parent=None):
    """Register the decorated function as the handler of `name` (or of subcommand `name` of
    container command `parent`, e.g. parent="config", name="get")."""

    def register(fn):
        if parent is None:
            if name in COMMANDS:
                raise RuntimeError("command %s declared twice" % name)
            COMMANDS[name] = cmd = Command(name, fn, arity, flags, first_key, last_key, step,
                                           group, summary, since)
        else:
            container = COMMANDS[parent]
            cmd = Command(name, fn, arity, flags, first_key, last_key, step, group, summary,
                          since, parent=container)
            if container.subcommands is None:
                container.subcommands = {}
            container.subcommands[name] = cmd
        fn.command = cmd
        return fn

    return register


def fast_write(name):
    """Register the decorated function as the fast form of write command `name` (declared
    before it); see the module docstring for its contract."""

    def register(fn):
        cmd = COMMANDS[name]
        if not cmd.is_write or cmd.fast is not None:
            raise RuntimeError("fast form of %s: not a write command or declared twice" % name)
        cmd.fast = fn
        return fn

    return register


def container(name, arity, flags="", group="generic", summary="", since="1.0.0"):
    """Declare a command made of subcommands (CONFIG, CLIENT, OBJECT, DEBUG...)."""
    if name in COMMANDS:
        raise RuntimeError("command %s declared twice" % name)
    cmd = COMMANDS[name] = Command(name, None, arity, flags, 0, 0, 0, group, summary, since)
    cmd.subcommands = {}
    return cmd


_MODULES = ("clients", "strings", "keys", "lists", "hashes", "sets", "zsets", "pubsub",
            "sort", "server", "transactions", "introspection", "replication")


def load_all():
    """Import every command module (each registers its commands on import)."""
    for m in _MODULES:
        importlib.import_module("kvstore.commands." + m)
    return COMMANDS
