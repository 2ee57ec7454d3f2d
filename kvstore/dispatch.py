"""Command lookup, guards, execution, and the single writer (group commit).

`resolve` turns an argument list into a Command or an error (unknown command, arity, NOAUTH) in
Redis's order. Reads run on a short read transaction in the client's greenlet (`run_reads`).
Everything else goes through `Writer.submit`: commands that arrive from all connections before
the writer is free share one LMDB write transaction and one commit/fsync, each write
command in a nested transaction of its own so a failure (error reply, full map, bug) rolls back
that command alone. Replies are released only after the outer commit.

The batch runs in the hub's thread, synchronously, as one hub callback: it never yields between
begin and commit. (A dedicated writer OS thread was measured and rejected: py-lmdb
releases the GIL around every get/put, so with a second busy Python thread each LMDB call
becomes a GIL handoff; throughput fell and batches shrank.) Contract for code that runs in a
batch (write handlers, `Writer.call` functions): touch only the transaction and plain
in-memory state; never call gevent (no socket I/O, no sleeping, no greenlet switches).
"""

import logging
from time import perf_counter

import lmdb
from gevent.event import Event
from gevent.hub import Waiter, get_hub

from kvstore import errors
from kvstore.commands import COMMANDS, load_all
from kvstore.errors import CommandError
from kvstore.keyspace import Batch, Keyspace
from kvstore.resp import encode, encode_command, encode_error

log = logging.getLogger("kvstore.dispatch")

load_all()
# Names as clients usually send them (lower and upper case) hit on the first lookup.
LOOKUP = {name.encode(): cmd for name, cmd in COMMANDS.items()}
LOOKUP.update({name.upper().encode(): cmd for name, cmd in COMMANDS.items()})
SUB_LOOKUP = {name.encode(): {s.encode(): c for s, c in cmd.subcommands.items()}
              for name, cmd in COMMANDS.items() if cmd.subcommands}

# Batch item marker for an EXEC: args are (queued [(cmd, args)], check WATCH first).
TRANSACTION = object()
# Batch item marker for commands from this replica's primary: args are [(cmd or CommandError,
# args, the exact bytes received)]; see Writer._apply_replicated.
REPLICATED = object()
_NOAUTH = CommandError(errors.NOAUTH)
_OOM = CommandError(errors.OOM)
_OOM_BYTES = encode_error(errors.OOM)
_NOREPLICAS = CommandError(errors.NOREPLICAS)
_READONLY_BYTES = encode_error(errors.READONLY_REPLICA)
# Map space a fast write may dirty at most (a B-tree path with splits plus a value of up to
# strings.FAST_VALUE_MAX), and the room always left beside a batch's fast writes.
FAST_WRITE_COST = 256 * 1024
FAST_MAP_MARGIN = 64 * 1024 * 1024
# Below FAST_MAP_MARGIN of room a batch is "tight" (Batch.map_tight): before a write's nested
# transaction commits, a probe value the size of the batch's log record so far plus this
# command's effects plus LOG_PROBE_MARGIN (the commit's own pages) is put and rolled back; if
# it does not fit, the command fails alone with OOM instead of the commit failing the batch.
# (Pages freed since the last durable point are not reusable: durable.py.)
LOG_PROBE_MARGIN = 64 * 1024
_LOG_PROBE_KEY = b"log-probe"


def _quote_args(args):
    out = ""
    for a in args[1:]:
        if len(out) >= 128:
            break
        out += "'%s' " % a.decode("utf-8", "replace")[:128 - len(out)]
    return out


def _clean(text):
    return text.replace("\r", " ").replace("\n", " ")


def resolve(client, args):
    """The Command for `args`, or a CommandError (returned, not raised) in Redis's order of
    checks: unknown command / subcommand, arity. Authentication is checked when the command
    runs (an AUTH earlier in the same pipeline must count)."""
    name = args[0]
    cmd = LOOKUP.get(name)
    if cmd is None:
        cmd = LOOKUP.get(name.lower())
        if cmd is None:
            return CommandError(_clean(errors.UNKNOWN_COMMAND.format(
                name.decode("utf-8", "replace")[:128], _quote_args(args))))
    n = len(args)
    if cmd.subcommands is not None:
        if n < 2:
            if cmd.handler is not None:          # COMMAND alone has a handler of its own
                return cmd
            return CommandError(errors.WRONG_ARITY.format(cmd.name))
        sub = SUB_LOOKUP[cmd.name.encode()].get(args[1].lower())
        if sub is None:
            return CommandError(_clean(errors.UNKNOWN_SUBCOMMAND.format(
                args[1].decode("utf-8", "replace")[:128], cmd.name.upper())))
        cmd = sub
    a = cmd.arity
    if (a > 0 and n != a) or n < -a:
        return CommandError(errors.WRONG_ARITY.format(cmd.full_name))
    return cmd


def run_reads(server, client, items):
    """Execute non-write commands on one read transaction; return their encoded replies."""
    st = server.storage
    txn = st.begin_read()
    try:
        ks = Keyspace(st, txn)
        ks.select(client.db)
        out = []
        append = out.append
        resp3 = client.resp3
        stats = server.stats
        slow_at = stats.slow_at
        # Read handlers stage nothing in the Keyspace (no effects, deltas or events), so
        # between commands only the selected db may need to change (SELECT in the segment).
        for cmd, args in items:
            if cmd.__class__ is CommandError:
                stats.rejected(None, cmd.args[0])
                append(encode(cmd, resp3))
                continue
            if not client.authenticated and not cmd.noauth:
                stats.rejected(cmd, errors.NOAUTH)
                append(encode(_NOAUTH, resp3))
                continue
            if client.db != ks.db:
                ks.select(client.db)
            t0 = perf_counter()
            try:
                reply = cmd.handler(ks, client, args)
            except CommandError as e:
                reply = e.with_traceback(None)   # shared instances must not pin frames
            usec = int((perf_counter() - t0) * 1000000)
            s = cmd.stats                   # CommandStats.record, inlined (hot path)
            s[0] += 1
            s[1] += usec
            if usec >= slow_at or reply.__class__ is CommandError:
                stats.after(client, cmd, args, usec, reply)
            if reply.__class__ is bytes:
                append(b"$%d\r\n%s\r\n" % (len(reply), reply))
            else:
                resp3 = client.resp3        # HELLO switches protocol for its own reply
                append(encode(reply, resp3))
        server.stat_keyspace_hits += ks.hits
        server.stat_keyspace_misses += ks.misses
        if st.expire_soon:
            server.expire_found_keys()
        return out
    finally:
        txn.abort()


def run_one_conn(server, client, cmd, args):
    """Execute a `conn` command (it manages its own transactions and may block)."""
    if not client.authenticated and not cmd.noauth:
        server.stats.rejected(cmd, errors.NOAUTH)
        if cmd.name == "exec":
            return client.abort_exec(errors.NOAUTH)
        return encode(_NOAUTH, client.resp3)
    t0 = perf_counter()
    try:
        reply = cmd.handler(None, client, args)
    except CommandError as e:
        reply = e.with_traceback(None)
    server.stats.record(client, cmd, args, int((perf_counter() - t0) * 1000000), reply)
    return encode(reply, client.resp3)


class BlockedOp:
    """A client blocked on list keys (BLPOP & co). `attempt(ks, key)` tries to serve it
    from `key` inside a batch: returns the reply value, or None when there is nothing."""
    __slots__ = ("client", "db", "keys", "attempt", "event", "reply", "done")

    def __init__(self, client, keys, attempt):
        self.client = client
        self.db = client.db
        self.keys = keys
        self.attempt = attempt
        self.event = Event()
        self.reply = None
        self.done = False


class Blocking:
    """Clients blocked on keys, served in FIFO order inside the batch of the write that made
    their key non-empty (as Redis's handleClientsBlockedOnKeys does right after the command),
    so a blocked client gets the element before any later command can take it."""

    def __init__(self, writer):
        self.writer = writer
        self.by_key = {}             # (db, key) -> [BlockedOp, ...] in arrival order
        self.served = []             # ops served in the running batch, woken after commit

    def register(self, op):
        for key in op.keys:
            self.by_key.setdefault((op.db, key), []).append(op)

    def unregister(self, op):
        for key in op.keys:
            q = self.by_key.get((op.db, key))
            if q is not None and op in q:
                q.remove(op)
                if not q:
                    del self.by_key[(op.db, key)]

    def count(self):
        return len({id(op) for q in self.by_key.values() for op in q})

    def serve(self, ks, txn, ready):
        env = ks.storage.env
        work = list(ready)
        while work:
            db, key = work.pop(0)
            q = self.by_key.get((db, key))
            while q:
                op = q[0]
                sub = env.begin(write=True, parent=txn)
                ks.txn = sub
                ks.begin_command(op.db)
                try:
                    reply = op.attempt(ks, key)
                except CommandError as e:
                    # A key of another type does not serve the client; it stays blocked.
                    reply = None if e.args[0] == errors.WRONG_TYPE else e.with_traceback(None)
                if reply is None or isinstance(reply, CommandError):
                    sub.abort()
                    ks.txn = txn
                    if reply is None:
                        break
                else:
                    sub.commit()
                    ks.end_command()
                    work.extend(ks.ready)
                    ks.txn = txn
                op.reply = reply
                op.done = True
                self.unregister(op)
                self.served.append(op)
                q = self.by_key.get((db, key))

    def wake_served(self, failed):
        served, self.served = self.served, []
        for op in served:
            if failed:
                op.reply = CommandError(errors.MISCONF_DISK)
            op.event.set()


class Writer:
    """The one writer. `submit` blocks the calling greenlet until its commands are committed.

    Internal writers (active expiry, reclaim, DEBUG RELOAD...) use `call(fn)`: fn(ks) runs
    inside a batch like a write command (nested transaction, effects logged).
    """

    def __init__(self, server):
        self.server = server
        self.storage = server.storage
        self.pending = []
        self.scheduled = False
        self.loop = get_hub().loop
        self.batches = 0
        self.batched_commands = 0
        self.blocking = Blocking(self)

    def submit(self, client, items):
        """Queue `items` and block this greenlet until they are committed; returns the
        encoded replies (or, for an internal fn, its result)."""
        waiter = Waiter()
        self.pending.append((client, items, waiter))
        if not self.scheduled:
            # The batch runs as a hub callback once the greenlets already runnable in this
            # loop iteration have queued their commands too.
            self.scheduled = True
            self.loop.run_callback(self._flush)
        return waiter.get()

    def call(self, fn, db=0):
        """Run fn(ks) in the next batch, with logical db `db` selected; returns its result (or
        raises its exception). Effects fn propagates are logged like a command's."""
        res = self.submit(None, (fn, db))
        if isinstance(res, BaseException):
            raise res
        return res

    def _flush(self):
        """Hub callback: run every pending entry in one batch, then hand each waiter its
        result (switching into each client greenlet in turn, from the hub)."""
        self.scheduled = False
        entries = self.pending
        if not entries:
            return
        self.pending = []
        st = self.storage
        offset_before = st.repl_offset
        try:
            results = self._run_batch(entries)
            failed = self.storage.last_commit_error is not None
        except Exception as e:      # a bug: fail this batch, keep the writer alive
            log.exception("write batch failed")
            results = [self._failure(client, items, e) for client, items, _ in entries]
            failed = True
        self.blocking.wake_served(failed)
        if st.repl_offset != offset_before:
            # WAIT's target: the offset after the client's last propagated write.
            offset = st.repl_offset
            for client, _, _ in entries:
                if client is not None:
                    client.woff = offset
            self.server.primary.on_commit()
        for (client, items, waiter), out in zip(entries, results):
            waiter.switch(out)

    def _run_batch(self, entries):
        st = self.storage
        batch = Batch(st)
        over_quota = st.over_quota() if self.server.cfg.maxmemory else False
        no_replicas = self.server.primary.refuses_writes()
        read_only = self.server.read_only_replica()
        room = st.map_room() - FAST_MAP_MARGIN
        batch.map_tight = room <= 0
        if batch.map_tight:
            # Near the end of the map: a durable point first makes every page freed so far
            # reusable (pages freed since the last one are pinned, see durable.py).
            try:
                st.checkpoint()
            except Exception:           # noqa: BLE001 - the batch may still fit
                log.exception("durable point before a batch near the map's end failed")
        try:
            txn = st.begin_write()
        except lmdb.Error as e:
            log.error("cannot begin write transaction: %s", e)
            return [self._failure(client, items, e) for client, items, _ in entries]
        try:
            return self._run_entries(entries, txn, batch, room, over_quota, no_replicas,
                                     read_only)
        except BaseException:
            txn.abort()                 # never leave the writer's transaction open
            raise

    def _run_entries(self, entries, txn, batch, room, over_quota, no_replicas, read_only):
        st = self.storage
        env = st.env
        ks = Keyspace(st, txn, batch)
        results = []
        ncmd = 0
        # The map space fast writes may use (<= 0: none) of `room` (beyond FAST_MAP_MARGIN).
        # Fast writes skip the nested transaction, so a full map in one of them would lose
        # the whole batch: they run only while the map has room for every one of them by a
        # wide margin, and only in batches that log a primary's effects (see _exec_fast).
        fast_room = room if batch.log_effects and not (no_replicas or read_only) else 0
        for client, items, _ in entries:
            if client is None:                      # internal write: items is (fn, db)
                fn, db = items
                sub = env.begin(write=True, parent=txn)
                ks.txn = sub
                ks.begin_command(db)
                try:
                    res = fn(ks)
                    sub.commit()
                    ks.end_command()
                except Exception as e:      # noqa: BLE001 - reported to the caller
                    sub.abort()
                    res = e
                ks.txn = txn
                if ks.ready and self.blocking.by_key:
                    self.blocking.serve(ks, txn, list(ks.ready))
                results.append(res)
                continue
            if items[0][0] is REPLICATED:
                results.append(self._apply_replicated(ks, txn, client, items[0][1]))
                ncmd += len(items[0][1])
                continue
            if items[0][0] is TRANSACTION:          # EXEC: one unit, see transactions.py
                seg, check = items[0][1]
                if check and self.server.watch_invalid(client):
                    results.append((True, 0, b""))
                    continue
                unit = []
                data = b"".join([self._exec_one(ks, txn, client, cmd, args, over_quota,
                                                no_replicas, read_only, unit)
                                 for cmd, args in seg])
                if unit:
                    batch.append_effects(unit)
                ncmd += len(seg)
                results.append((False, len(seg), data))
                continue
            ncmd += len(items)
            if fast_room > 0 and client.authenticated:
                fast_room, out = self._exec_fast(ks, txn, client, items, over_quota,
                                                 fast_room)
                results.append(out)
                continue
            results.append(b"".join([self._exec_one(ks, txn, client, cmd, args, over_quota,
                                                    no_replicas, read_only)
                                     for cmd, args in items]))
        try:
            st.commit_write(txn, batch)
        except lmdb.Error as e:
            log.error("commit failed, %d commands refused: %s", ncmd, e)
            txn.abort()
            st.last_commit_error = str(e)
            return [self._failure(client, items, e) for client, items, _ in entries]
        st.last_commit_error = None
        self.batches += 1
        self.batched_commands += ncmd
        return results

    def _exec_fast(self, ks, txn, client, items, over_quota, room):
        """`_exec_one` for each of a client's commands, running the fast form of those that
        have one (see commands.fast_write) while `room` lasts and nothing observes single
        writes (keyspace notifications, WATCH, clients blocked on keys: a command earlier in
        the batch may turn them on); returns (room left, the concatenated replies)."""
        st = self.storage
        stats = self.server.stats
        slow_at = stats.slow_at
        blocked = self.blocking.by_key        # a push must wake them: the full handler
        out = []
        for cmd, args in items:
            fast = cmd.__class__ is not CommandError and cmd.fast
            if (fast and room > 0 and not (over_quota and cmd.denyoom)
                    and st.on_touch is None and not st.notify_classes
                    and not blocked):
                ks.select(client.db)
                t0 = perf_counter()
                reply = fast(ks, args)
                if reply is not None:
                    room -= FAST_WRITE_COST
                    usec = int((perf_counter() - t0) * 1000000)
                    s = cmd.stats               # CommandStats.record, inlined (hot path)
                    s[0] += 1
                    s[1] += usec
                    if usec >= slow_at:
                        stats.after(client, cmd, args, usec, reply)
                    out.append(reply)
                    continue
            out.append(self._exec_one(ks, txn, client, cmd, args, over_quota, False, False))
        return room, b"".join(out)

    def _apply_replicated(self, ks, txn, client, units):
        """Apply commands from this replica's primary (`client` is the primary's client):
        no replies, expired keys still visible and never deleted here, and the log gets the
        exact bytes received (the applied offset thus commits with the data it describes).
        A command that fails is logged and skipped, as Redis does (its bytes still count).
        Returns the number of failed commands."""
        batch = ks.batch
        stats = self.server.stats
        failed = 0
        saved = ks.hide_expired, ks.delete_expired
        ks.hide_expired = False
        ks.delete_expired = False
        try:
            for cmd, args, raw in units:
                reply = None
                if cmd.__class__ is CommandError:
                    reply = cmd
                elif cmd.conn:
                    pass                          # MULTI/EXEC framing: the unit is the batch
                elif cmd.is_write:
                    t0 = perf_counter()
                    reply = self._run_write(ks, txn, client, cmd, args)
                    stats.record(client, cmd, args, int((perf_counter() - t0) * 1000000),
                                 reply)
                else:
                    ks.begin_command(client.db)
                    try:
                        reply = cmd.handler(ks, client, args)
                    except CommandError as e:
                        reply = e.with_traceback(None)
                if reply.__class__ is CommandError:
                    failed += 1
                    log.warning("Command from the primary failed: '%s' -> %s",
                                _clean(b" ".join(args[:3]).decode("utf-8", "replace"))[:200],
                                reply.args[0])
                batch.log_parts.append(raw)
                batch.stream_db = client.db
        finally:
            ks.hide_expired, ks.delete_expired = saved
        return failed

    def _run_write(self, ks, txn, client, cmd, args, unit=None):
        """Run write command `cmd` in a nested transaction of `txn`: on success its staged
        changes merge into the batch (effects into `unit` when given); on an error reply or a
        bug only it is rolled back. Returns the reply; lmdb.MapFullError propagates (after
        the rollback) for the caller to decide."""
        sub = ks.storage.env.begin(write=True, parent=txn)
        ks.txn = sub
        ks.begin_command(client.db)
        try:
            reply = cmd.handler(ks, client, args)
            if ks.batch.map_tight and ks.effects:
                self._probe_log_room(ks, sub, unit)
            sub.commit()
            ks.end_command(unit)
        except CommandError as e:
            sub.abort()
            reply = e.with_traceback(None)
        except lmdb.MapFullError:
            sub.abort()
            raise
        except Exception:
            sub.abort()
            log.exception("internal error in %s", cmd.full_name)
            reply = CommandError("ERR internal error while running '%s'" % cmd.full_name)
        finally:
            ks.txn = txn
        return reply

    @staticmethod
    def _probe_log_room(ks, sub, unit):
        """Raise lmdb.MapFullError unless the batch's log record, with this command's effects
        (and a transaction's earlier ones, `unit`), still fits the map (see LOG_PROBE_MARGIN).
        """
        size = ks.batch.log_bytes() + LOG_PROBE_MARGIN + sum(
            len(encode_command(args)) for _, args in ks.effects + (unit or []))
        probe = ks.storage.env.begin(write=True, parent=sub)
        try:
            probe.put(_LOG_PROBE_KEY, bytes(size), db=ks.storage.sys_db)
        finally:
            probe.abort()

    def _exec_one(self, ks, txn, client, cmd, args, over_quota, no_replicas, read_only,
                  unit=None):
        """Run one command of a batch; return its encoded reply. A write runs in a nested
        transaction (rolled back alone on any error); effects go to the log, or to `unit`."""
        stats = self.server.stats
        if cmd.__class__ is CommandError:
            stats.rejected(None, cmd.args[0])
            return encode(cmd, client.resp3)
        if not client.authenticated and not cmd.noauth:
            stats.rejected(cmd, errors.NOAUTH)
            return encode(_NOAUTH, client.resp3)
        t0 = perf_counter()
        if cmd.is_write:
            if over_quota and cmd.denyoom:
                stats.rejected(cmd, errors.OOM)
                return _OOM_BYTES
            if no_replicas:
                stats.rejected(cmd, errors.NOREPLICAS)
                return encode(_NOREPLICAS, client.resp3)
            if read_only and cmd.writes_data:
                stats.rejected(cmd, errors.READONLY_REPLICA)
                return _READONLY_BYTES
            try:
                reply = self._run_write(ks, txn, client, cmd, args, unit)
            except lmdb.MapFullError:
                log.warning("storage map full: refused %s", cmd.full_name)
                reply = _OOM
            if ks.ready and self.blocking.by_key:
                self.blocking.serve(ks, txn, list(ks.ready))
        else:
            ks.begin_command(client.db)
            try:
                reply = cmd.handler(ks, client, args)
            except CommandError as e:
                reply = e.with_traceback(None)
            ks.end_command(unit)                 # lazy-expiry deletions of a read
        stats.record(client, cmd, args, int((perf_counter() - t0) * 1000000), reply)
        return encode(reply, client.resp3)        # HELLO switches protocol for its own reply

    @staticmethod
    def _failure(client, items, exc):
        err = CommandError(errors.MISCONF_DISK)
        if client is None:
            return err
        if items and items[0][0] is TRANSACTION:
            return (False, 1, encode(err, client.resp3))
        return encode(err, client.resp3) * len(items)
