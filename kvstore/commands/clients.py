"""Connection commands: PING ECHO QUIT AUTH SELECT HELLO RESET CLIENT."""

import hmac

from kvstore import REDIS_VERSION, errors
from kvstore.commands import command, container
from kvstore.errors import CommandError
from kvstore.resp import OK, PONG, Map, Raw, Simple, Verbatim, strict_int


@command("ping", -1, "fast stale sentinel", group="connection", summary="Ping the server")
def ping(ks, client, args):
    if len(args) > 2:
        raise CommandError(errors.WRONG_ARITY.format("ping"))
    if not client.resp3 and (client.channels or client.patterns or client.shard_channels):
        return [b"pong", args[1] if len(args) == 2 else b""]      # subscribed RESP2 shape
    if len(args) == 2:
        return args[1]
    return PONG


@command("echo", 2, "fast", group="connection", summary="Echo the given string")
def echo(ks, client, args):
    return args[1]


@command("quit", -1, "noscript loading stale fast noauth allow_busy conn", group="connection",
         summary="Close the connection")
def quit_(ks, client, args):
    client.close_after_reply = True
    return OK


def _check_password(client, password):
    required = client.server.cfg.requirepass
    return bool(required) and hmac.compare_digest(password, required.encode())


@command("auth", -2, "noscript loading stale fast noauth allow_busy", group="connection",
         summary="Authenticate to the server")
def auth(ks, client, args):
    if len(args) > 3:
        raise CommandError(errors.SYNTAX)
    if len(args) == 2:
        if not client.server.cfg.requirepass:
            raise CommandError(errors.AUTH_NO_PASSWORD)
        user, password = b"default", args[1]
    else:
        user, password = args[1], args[2]
    if user != b"default" or not _check_password(client, password):
        if user == b"default" and not client.server.cfg.requirepass:
            client.set_authenticated(True)
            return OK
        raise CommandError(errors.WRONGPASS)
    client.set_authenticated(True)
    return OK


@command("select", 2, "loading stale fast", group="connection",
         summary="Change the selected database for the current connection")
def select(ks, client, args):
    db = strict_int(args[1])
    if db is None:
        raise CommandError(errors.NOT_INTEGER)
    if not 0 <= db < client.server.cfg.databases:
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    client.db = db
    return OK


def hello_map(client):
    return Map([
        (b"server", b"redis"), (b"version", REDIS_VERSION.encode()),
        (b"proto", 3 if client.resp3 else 2), (b"id", client.id), (b"mode", b"standalone"),
        (b"role", client.server.role_name().encode()), (b"modules", []),
    ])


@command("hello", -1, "noscript loading stale fast noauth allow_busy", group="connection",
         summary="Handshake with Redis", since="6.0.0")
def hello(ks, client, args):
    ver = None
    i = 1
    if len(args) > 1:
        ver = strict_int(args[1])
        if ver is None:
            raise CommandError(errors.PROTOCOL_VERSION_NOT_INT)
        i = 2
        if ver < 2 or ver > 3:
            raise CommandError(errors.NOPROTO)
    name = None
    auth_pair = None
    while i < len(args):
        opt = args[i].lower()
        more = len(args) - i - 1
        if opt == b"auth" and more >= 2:
            auth_pair = (args[i + 1], args[i + 2])
            i += 3
        elif opt == b"setname" and more >= 1:
            name = args[i + 1]
            i += 2
        else:
            raise CommandError(errors.HELLO_SYNTAX.format(args[i].decode("utf-8", "replace")))
    if auth_pair is not None:
        user, password = auth_pair
        if user != b"default" or (client.server.cfg.requirepass
                                  and not _check_password(client, password)):
            raise CommandError(errors.WRONGPASS)
        client.set_authenticated(True)
    if not client.authenticated:
        raise CommandError(errors.HELLO_NOAUTH)
    if name is not None:
        _validate_name(name)
        client.name = name
    if ver is not None:
        client.resp3 = ver == 3
    return hello_map(client)


def _validate_name(name):
    for c in name:
        if c < 33 or c > 126:
            raise CommandError(errors.CLIENT_NAME_SPACES)


@command("reset", 1, "noscript loading stale fast noauth allow_busy conn", group="connection",
         summary="Reset the connection", since="6.2.0")
def reset(ks, client, args):
    client.reset_multi()
    client.server.unwatch_all(client)
    client.server.pubsub.drop_client(client)
    client.channels.clear()
    client.patterns.clear()
    client.shard_channels.clear()
    client.db = 0
    client.resp3 = False
    client.name = b""
    client.no_evict = False
    client.set_authenticated(not client.server.cfg.requirepass)
    return Raw(b"+RESET\r\n")


container("client", -2, "sentinel", group="connection",
          summary="A container for client connection commands")


@command("id", 2, "noscript loading stale", parent="client", group="connection",
         summary="Returns the client ID for the current connection")
def client_id(ks, client, args):
    return client.id


@command("setname", 3, "noscript loading stale", parent="client", group="connection",
         summary="Set the current connection name")
def client_setname(ks, client, args):
    _validate_name(args[2])
    client.name = args[2]
    return OK


@command("getname", 2, "noscript loading stale", parent="client", group="connection",
         summary="Get the current connection name")
def client_getname(ks, client, args):
    return client.name or None


@command("info", 2, "noscript loading stale", parent="client", group="connection",
         summary="Returns information about the current client connection.", since="6.2.0")
def client_info(ks, client, args):
    return Verbatim(client.describe().encode() + b"\n")


@command("list", -2, "admin noscript loading stale", parent="client", group="connection",
         summary="Get the list of client connections")
def client_list(ks, client, args):
    clients = client.server.clients_sorted()
    if len(args) > 2:
        opt = args[2].lower()
        if opt == b"type" and len(args) == 4:
            kind = args[3].lower()
            if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise CommandError(errors.CLIENT_LIST_BAD_TYPE.format(
                    args[3].decode("utf-8", "replace")))
            if kind != b"normal":
                clients = []
        elif opt == b"id" and len(args) >= 4:
            ids = set()
            for a in args[3:]:
                v = strict_int(a)
                if v is None or v <= 0:
                    raise CommandError(errors.INVALID_CLIENT_ID)
                ids.add(v)
            clients = [c for c in clients if c.id in ids]
        else:
            raise CommandError(errors.SYNTAX)
    return Verbatim(b"".join(c.describe().encode() + b"\n" for c in clients))


@command("kill", -3, "admin noscript loading stale conn", parent="client", group="connection",
         summary="Kill the connection of a client")
def client_kill(ks, client, args):
    server = client.server
    if len(args) == 3:
        addr = args[2].decode("utf-8", "replace")
        victims = [c for c in server.clients_sorted() if c.addr == addr]
        if not victims:
            raise CommandError(errors.NO_SUCH_CLIENT)
        _kill(client, victims)
        return OK
    if len(args) % 2 != 0:
        raise CommandError(errors.SYNTAX)
    filters = []
    skipme = True
    for i in range(2, len(args), 2):
        opt, val = args[i].lower(), args[i + 1]
        if opt == b"id":
            v = strict_int(val)
            if v is None or v <= 0:
                raise CommandError(errors.CLIENT_KILL_ID_NOT_POSITIVE)
            filters.append(lambda c, v=v: c.id == v)
        elif opt == b"addr":
            filters.append(lambda c, v=val.decode("utf-8", "replace"): c.addr == v)
        elif opt == b"laddr":
            filters.append(lambda c, v=val.decode("utf-8", "replace"): c.laddr == v)
        elif opt == b"type":
            kind = val.lower()
            if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise CommandError(errors.CLIENT_KILL_BAD_TYPE.format(
                    val.decode("utf-8", "replace")))
            kind = b"replica" if kind == b"slave" else kind
            filters.append(lambda c, k=kind: client_type(c) == k)
        elif opt == b"user":
            filters.append(lambda c, v=val: v == b"default")
        elif opt == b"skipme":
            if val.lower() == b"yes":
                skipme = True
            elif val.lower() == b"no":
                skipme = False
            else:
                raise CommandError(errors.SYNTAX)
        elif opt == b"maxage":
            v = strict_int(val)
            if v is None:
                raise CommandError(errors.NOT_INTEGER)
            filters.append(lambda c, v=v: c.server.now() - c.created >= v)
        else:
            raise CommandError(errors.SYNTAX)
    candidates = server.clients_sorted()
    link = server.replica
    if link is not None and link.client is not None and link.state == "connected":
        candidates.append(link.client)          # the primary's client (TYPE master)
    victims = [c for c in candidates
               if all(f(c) for f in filters) and not (skipme and c is client)]
    _kill(client, victims)
    return len(victims)


def client_type(c):
    """CLIENT KILL/LIST TYPE of a client: master, replica, pubsub or normal."""
    if c.kind == "master":
        return b"master"
    if c.repl_link is not None:
        return b"replica"
    if c.channels or c.patterns or c.shard_channels:
        return b"pubsub"
    return b"normal"


def _kill(client, victims):
    for v in victims:
        if v is client:
            client.close_after_reply = True
        elif v.kind == "master":
            client.server.replica.drop_connection("killed by CLIENT KILL")
        else:
            v.kill()


@command("no-evict", 3, "admin noscript loading stale", parent="client", group="connection",
         summary="Set client eviction mode for the current connection", since="7.0.0")
def client_no_evict(ks, client, args):
    opt = args[2].lower()
    if opt == b"on":
        client.no_evict = True
    elif opt == b"off":
        client.no_evict = False
    else:
        raise CommandError(errors.SYNTAX)
    return OK


@command("help", 2, "loading stale", parent="client", group="connection",
         summary="Show helpful text about the different subcommands")
def client_help(ks, client, args):
    lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME", "    Return the name of the current connection.",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port>", "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME, MAXAGE.",
        "LIST [options ...]", "    Return information about client connections.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
        "HELP", "    Print this help.",
    ]
    return [Simple(x) for x in lines]


@command("pause", -3, "admin noscript loading stale conn", parent="client", group="connection",
         summary="Stop processing commands from clients for some time", since="2.9.50")
def client_pause(ks, client, args):
    ms = strict_int(args[2])
    if ms is None:
        raise CommandError(errors.TIMEOUT_NOT_INTEGER)
    if ms < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    mode = b"all"
    if len(args) == 4:
        mode = args[3].lower()
        if mode not in (b"write", b"all"):
            raise CommandError(errors.PAUSE_MODE)
    elif len(args) > 4:
        raise CommandError(errors.SYNTAX)
    client.server.pause(ms / 1000.0, mode == b"all")
    return OK


@command("unpause", 2, "admin noscript loading stale conn", parent="client", group="connection",
         summary="Resume processing of clients that were paused", since="6.2.0")
def client_unpause(ks, client, args):
    client.server.unpause()
    return OK


@command("reply", 3, "noscript loading stale conn", parent="client", group="connection",
         summary="Instruct the server whether to reply to commands", since="3.2.0")
def client_reply(ks, client, args):
    mode = args[2].lower()
    if mode not in (b"on", b"off", b"skip"):
        raise CommandError(errors.SYNTAX)
    client.reply_mode = mode.decode()
    return OK if mode == b"on" else Raw(b"")     # OFF and SKIP are not answered


@command("unblock", -3, "admin noscript loading stale conn", parent="client",
         group="connection", summary="Unblock a client blocked in a blocking command from a "
         "different connection", since="5.0.0")
def client_unblock(ks, client, args):
    cid = strict_int(args[2])
    if cid is None:
        raise CommandError(errors.NOT_INTEGER)
    error = False
    if len(args) == 4:
        reason = args[3].lower()
        if reason not in (b"timeout", b"error"):
            raise CommandError(errors.UNBLOCK_REASON)
        error = reason == b"error"
    elif len(args) > 4:
        raise CommandError(errors.SYNTAX)
    target = client.server.clients.get(cid)
    op = getattr(target, "blocked_op", None) if target is not None else None
    if op is None or op.done:
        return 0
    client.server.writer.blocking.unregister(op)
    op.reply = CommandError(errors.UNBLOCKED) if error else None
    op.done = True
    op.event.set()
    return 1
