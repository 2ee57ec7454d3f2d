"""MULTI / EXEC / DISCARD / WATCH / UNWATCH.

Queueing happens in the connection (connection.Client.execute): while a client is in MULTI,
every command except the controls below is checked (unknown, arity, NOAUTH, no_multi) and
queued, or its error flags the transaction so EXEC answers EXECABORT, as in Redis 7.0.

EXEC runs the queue as one unit inside one writer batch: nothing else runs in between, each
write command has its own nested transaction (a runtime error such as WRONGTYPE fails that
command only, as in Redis), and the effects of all commands go to the log as one unit (wrapped
in MULTI/EXEC when there is more than one). Commands that must run in a greenlet (`conn`:
CONFIG SET, DEBUG, CLIENT KILL, BGSAVE) split the queue: the parts around them are atomic,
they are not atomic with each other.

WATCH records (physical db, key, expiry at WATCH time); any write that touches the key (or
flushes/swaps its db), including expiry, marks the client dirty before the writer moves on, and
a key that expired since WATCH aborts EXEC too (Redis's isWatchedKeyExpired).
"""

from kvstore import errors
from kvstore.commands import command
from kvstore.errors import CommandError
from kvstore.keyspace import record_expire
from kvstore.resp import OK, NullArray, Raw

# Commands a client in MULTI runs at once instead of queueing.
MULTI_CONTROL = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))


@command("multi", 1, "noscript loading stale fast allow_busy conn", group="transactions",
         summary="Mark the start of a transaction block", since="1.2.0")
def multi(ks, client, args):
    if client.in_multi:
        raise CommandError(errors.MULTI_NESTED)
    client.in_multi = True
    return OK


@command("discard", 1, "noscript loading stale fast allow_busy conn", group="transactions",
         summary="Discard all commands issued after MULTI", since="2.0.0")
def discard(ks, client, args):
    if not client.in_multi:
        raise CommandError(errors.DISCARD_WITHOUT_MULTI)
    client.reset_multi()
    client.server.unwatch_all(client)
    return OK


@command("watch", -2, "noscript loading stale fast allow_busy", 1, -1, 1,
         group="transactions", summary="Monitor changes to keys to determine execution of a "
         "MULTI/EXEC block", since="2.2.0")
def watch(ks, client, args):
    if client.in_multi:
        raise CommandError(errors.WATCH_IN_MULTI)
    for key in args[1:]:
        rec = ks.lookup(key)
        client.server.watch(client, ks.pdb, key, record_expire(rec) if rec is not None else 0)
    return OK


@command("unwatch", 1, "noscript loading stale fast allow_busy", group="transactions",
         summary="Forget about all watched keys", since="2.2.0")
def unwatch(ks, client, args):
    client.server.unwatch_all(client)
    return OK


@command("exec", 1, "noscript loading stale skip_slowlog conn", group="transactions",
         summary="Execute all commands issued after MULTI", since="1.2.0")
def exec_(ks, client, args):
    from kvstore.dispatch import TRANSACTION, run_one_conn
    if not client.in_multi:
        raise CommandError(errors.EXEC_WITHOUT_MULTI)
    queue = client.multi_queue
    failed = client.multi_error
    client.reset_multi()
    server = client.server
    if failed:
        server.unwatch_all(client)
        raise CommandError(errors.EXECABORT)
    check = bool(client.watching)
    parts = []
    count = 0
    seg = []
    client.in_exec = True
    try:
        if not queue and check and server.watch_invalid(client):
            return NullArray                  # an empty transaction still honours WATCH
        for item in queue + [None]:
            if item is not None and not item[0].conn:
                seg.append(item)
                continue
            if seg:
                aborted, n, data = server.writer.submit(client, [(TRANSACTION, (seg, check))])
                if aborted:
                    return NullArray
                check = False
                parts.append(data)
                count += n
                seg = []
            if item is not None:
                if check and server.watch_invalid(client):
                    return NullArray
                check = False
                parts.append(run_one_conn(server, client, item[0], item[1]))
                count += 1
    finally:
        client.in_exec = False
        server.unwatch_all(client)
    return Raw(b"*%d\r\n" % count + b"".join(parts))
