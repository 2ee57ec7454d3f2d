"""Replication commands: SYNC PSYNC REPLCONF ROLE WAIT (the machinery is in replication/)."""

import logging

from kvstore import errors
from kvstore.commands import command
from kvstore.errors import CommandError
from kvstore.resp import OK, Raw, Simple, strict_int
from replication.primary import NODE_ID_OPTION

log = logging.getLogger("kvstore.replication")
_NO_REPLY = Raw(b"")
_MAX_IP_LEN = 256                      # Redis's NET_HOST_STR_LEN


@command("psync", -3, "admin noscript no_async_loading no_multi conn", group="server",
         summary="An internal command used in replication", since="2.8.0")
def psync(ks, client, args):
    offset = strict_int(args[2])
    if offset is None:
        raise CommandError(errors.NOT_INTEGER)
    client.server.primary.sync_command(client, args[1].decode("latin-1"), offset, False)
    return _NO_REPLY


@command("sync", 1, "admin noscript no_async_loading no_multi conn", group="server",
         summary="An internal command used in replication", since="1.0.0")
def sync(ks, client, args):
    client.server.primary.sync_command(client, "?", -1, True)
    return _NO_REPLY


@command("replconf", -1, "admin noscript loading stale allow_busy", group="server",
         summary="An internal command for configuring the replication stream", since="3.0.0")
def replconf(ks, client, args):
    if len(args) % 2 == 0:
        raise CommandError(errors.SYNTAX)
    info = client.repl_info
    if info is None:
        info = client.repl_info = {}
    for i in range(1, len(args), 2):
        opt = args[i].lower()
        val = args[i + 1]
        if opt == b"listening-port":
            port = strict_int(val)
            if port is None or not -(1 << 63) <= port < (1 << 63):
                raise CommandError(errors.NOT_INTEGER)
            info["listening-port"] = port
        elif opt == b"ip-address":
            if len(val) >= _MAX_IP_LEN:
                raise CommandError(errors.REPLCONF_IP_TOO_LONG.format(len(val)))
            info["ip-address"] = val.decode("latin-1")
        elif opt == b"capa":
            info.setdefault("capa", set()).add(val.decode("latin-1").lower())
        elif opt == b"ack":
            # Never answered; only meaningful from a replica (fact sheet 1.6).
            off = strict_int(val)
            link = client.repl_link
            if off is not None and link is not None and not link.legacy:
                client.server.primary.on_ack(link, off)
            return _NO_REPLY
        elif opt == b"getack":
            client.server.on_getack(client)
            return _NO_REPLY
        elif opt == b"rdb-only":
            v = strict_int(val)
            if v is None:
                raise CommandError(errors.NOT_INTEGER)
            if not 0 <= v <= 1:
                raise CommandError(errors.VALUE_OUT_OF_RANGE_BETWEEN.format(0, 1))
            info["rdb-only"] = bool(v)
        elif opt == b"rdb-filter-only":
            for f in val.split():
                if f.lower() != b"functions":
                    raise CommandError(errors.RDB_FILTER_UNSUPPORTED.format(
                        f.decode("utf-8", "replace")))
        elif opt == NODE_ID_OPTION:
            node = val.decode("latin-1")
            server = client.server
            if node == server.node_id or node in server.upstream_ids:
                log.warning("Refusing replica %s (node %s): it is %s, a replication cycle",
                            client.addr, node, "this node" if node == server.node_id
                            else "upstream of this node")
                raise CommandError(errors.REPLICATION_CYCLE.format(node))
            info["node-id"] = node
            return Simple("OK " + " ".join([server.node_id] + server.upstream_ids))
        else:
            raise CommandError(errors.REPLCONF_UNRECOGNIZED.format(
                args[i].decode("utf-8", "replace")))
    return OK


@command("role", 1, "noscript loading stale fast", group="server",
         summary="Return the role of the instance in the context of replication",
         since="2.8.12")
def role(ks, client, args):
    return client.server.role_reply()


@command("wait", 3, "noscript conn", group="generic",
         summary="Wait for the synchronous replication of all the write commands sent in the "
         "context of the current connection", since="3.0.0")
def wait(ks, client, args):
    n = strict_int(args[1])
    if n is None:
        raise CommandError(errors.NOT_INTEGER)
    t = strict_int(args[2])
    if t is None:
        raise CommandError(errors.TIMEOUT_NOT_INTEGER)
    if t < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    server = client.server
    if server.is_replica():
        raise CommandError(errors.WAIT_ON_REPLICA)
    return server.primary.wait(client, n, t)


def _replicaof(ks, client, args):
    server = client.server
    if client.repl_link is not None:
        raise CommandError(errors.REPLICAOF_FROM_REPLICA)
    if args[1].lower() == b"no" and args[2].lower() == b"one":
        server.promote()
        server.cfg.set_by_command("replicaof", None)
        return OK
    port = strict_int(args[2])
    if port is None or not 0 <= port <= 65535:
        raise CommandError(errors.INVALID_MASTER_PORT)
    host = args[1].decode("utf-8", "replace")
    link = server.replica
    if link is not None and link.host == host and link.port == port:
        return Simple("OK Already connected to specified master")
    if server.is_own_address(host, port):
        raise CommandError(errors.REPLICAOF_SELF)
    server.replicate_from(host, port)
    server.cfg.set_by_command("replicaof", (host, port))
    return OK


command("replicaof", 3, "admin noscript stale no_async_loading conn", group="server",
        summary="Make the server a replica of another instance, or promote it as master",
        since="5.0.0")(_replicaof)
command("slaveof", 3, "admin noscript stale no_async_loading conn", group="server",
        summary="Make the server a replica of another instance, or promote it as master",
        since="1.0.0")(_replicaof)
