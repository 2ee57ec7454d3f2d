"""Pub/Sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE PUBLISH
SPUBLISH PUBSUB. Subscriptions live in memory (Server.pubsub); messages go out through each
subscriber's ordered output queue (Client.push), never blocking the publisher. RESP2 clients
with subscriptions may only run the subscribe family, PING, QUIT and RESET (enforced in
connection.Client.execute); RESP3 clients get pushes (`>`) and may run anything.
PUBLISH runs in the writer (flag may_replicate) so it is logged for replicas, as Redis
propagates it."""

from kvstore.commands import command, container
from kvstore.glob import compile_pattern
from kvstore.resp import Map, Raw, Simple, encode_push

# Commands a RESP2 client in subscribed state may run.
SUBSCRIBED_ALLOWED = frozenset(("subscribe", "unsubscribe", "psubscribe", "punsubscribe",
                                "ssubscribe", "sunsubscribe", "ping", "quit", "reset"))


def _confirm(client, kind, name, count):
    return encode_push([kind, name, count], client.resp3)


def _subscribe(client, args, kind, table, mine):
    ps = client.server.pubsub
    out = []
    for name in args[1:]:
        if name not in mine:
            mine.add(name)
            ps.add(table, name, client)
        count = len(client.shard_channels) if kind == b"ssubscribe" else client.sub_count()
        out.append(_confirm(client, kind, name, count))
    return Raw(b"".join(out))


def _unsubscribe(client, args, kind, table, mine):
    ps = client.server.pubsub
    names = list(args[1:]) or sorted(mine)
    out = []
    if not names:
        count = len(client.shard_channels) if kind == b"sunsubscribe" else client.sub_count()
        return Raw(_confirm(client, kind, None, count))
    for name in names:
        if name in mine:
            mine.discard(name)
            ps.remove(table, name, client)
        count = len(client.shard_channels) if kind == b"sunsubscribe" else client.sub_count()
        out.append(_confirm(client, kind, name, count))
    return Raw(b"".join(out))


@command("subscribe", -2, "pubsub noscript loading stale conn", group="pubsub",
         summary="Listen for messages published to the given channels", since="2.0.0")
def subscribe(ks, client, args):
    return _subscribe(client, args, b"subscribe", "channels", client.channels)


@command("unsubscribe", -1, "pubsub noscript loading stale conn", group="pubsub",
         summary="Stop listening for messages posted to the given channels", since="2.0.0")
def unsubscribe(ks, client, args):
    return _unsubscribe(client, args, b"unsubscribe", "channels", client.channels)


@command("psubscribe", -2, "pubsub noscript loading stale conn", group="pubsub",
         summary="Listen for messages published to channels matching the given patterns",
         since="2.0.0")
def psubscribe(ks, client, args):
    return _subscribe(client, args, b"psubscribe", "patterns", client.patterns)


@command("punsubscribe", -1, "pubsub noscript loading stale conn", group="pubsub",
         summary="Stop listening for messages posted to channels matching the given patterns",
         since="2.0.0")
def punsubscribe(ks, client, args):
    return _unsubscribe(client, args, b"punsubscribe", "patterns", client.patterns)


@command("ssubscribe", -2, "pubsub noscript loading stale conn", 1, -1, 1, group="pubsub",
         summary="Listen for messages published to the given shard channels", since="7.0.0")
def ssubscribe(ks, client, args):
    return _subscribe(client, args, b"ssubscribe", "shard", client.shard_channels)


@command("sunsubscribe", -1, "pubsub noscript loading stale conn", 1, -1, 1, group="pubsub",
         summary="Stop listening for messages posted to the given shard channels",
         since="7.0.0")
def sunsubscribe(ks, client, args):
    return _unsubscribe(client, args, b"sunsubscribe", "shard", client.shard_channels)


@command("publish", 3, "pubsub loading stale fast may_replicate", group="pubsub",
         summary="Post a message to a channel", since="2.0.0")
def publish(ks, client, args):
    n = client.server.pubsub.publish(args[1], args[2])
    ks.propagate(args)
    return n


@command("spublish", 3, "pubsub loading stale fast may_replicate", 1, 1, 1, group="pubsub",
         summary="Post a message to a shard channel", since="7.0.0")
def spublish(ks, client, args):
    n = client.server.pubsub.publish(args[1], args[2], shard=True)
    ks.propagate(args)
    return n


container("pubsub", -2, "", group="pubsub", summary="A container for Pub/Sub commands",
          since="2.8.0")


def _matching(names, args):
    if len(args) > 2:
        rx = compile_pattern(args[2])
        return sorted(n for n in names if rx.match(n))
    return sorted(names)


@command("channels", -2, "pubsub loading stale", parent="pubsub", group="pubsub",
         summary="List active channels", since="2.8.0")
def pubsub_channels(ks, client, args):
    return _matching(client.server.pubsub.channels, args)


@command("shardchannels", -2, "pubsub loading stale", parent="pubsub", group="pubsub",
         summary="List active shard channels", since="7.0.0")
def pubsub_shardchannels(ks, client, args):
    return _matching(client.server.pubsub.shard, args)


@command("numsub", -2, "pubsub loading stale", parent="pubsub", group="pubsub",
         summary="Get the count of subscribers for channels", since="2.8.0")
def pubsub_numsub(ks, client, args):
    ch = client.server.pubsub.channels
    return Map([(name, len(ch.get(name, ()))) for name in args[2:]])


@command("shardnumsub", -2, "pubsub loading stale", parent="pubsub", group="pubsub",
         summary="Get the count of subscribers for shard channels", since="7.0.0")
def pubsub_shardnumsub(ks, client, args):
    ch = client.server.pubsub.shard
    return Map([(name, len(ch.get(name, ()))) for name in args[2:]])


@command("numpat", 2, "pubsub loading stale", parent="pubsub", group="pubsub",
         summary="Get the count of unique patterns pattern subscriptions", since="2.8.0")
def pubsub_numpat(ks, client, args):
    return len(client.server.pubsub.patterns)


@command("help", 2, "loading stale", parent="pubsub", group="pubsub",
         summary="Show helpful text about the different subcommands", since="6.2.0")
def pubsub_help(ks, client, args):
    return [Simple(x) for x in (
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]", "    Return the currently active channels matching a <pattern> "
        "(default: '*').",
        "NUMPAT", "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]", "    Return the number of subscribers for the specified "
        "channels, excluding", "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]", "    Return the currently active shard level channels "
        "matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]", "    Return the number of subscribers for the "
        "specified shard level channel(s)",
        "HELP", "    Print this help.")]


class PubSub:
    """Who listens to what. `publish` delivers synchronously to each subscriber's output queue
    and returns the number of receivers (channel subscribers plus pattern matches)."""

    def __init__(self):
        self.channels = {}           # channel -> set of clients
        self.patterns = {}           # pattern -> set of clients
        self.shard = {}              # shard channel -> set of clients

    def add(self, table, name, client):
        getattr(self, table).setdefault(name, set()).add(client)

    def remove(self, table, name, client):
        t = getattr(self, table)
        subs = t.get(name)
        if subs is not None:
            subs.discard(client)
            if not subs:
                del t[name]

    def drop_client(self, client):
        for name in list(client.channels):
            self.remove("channels", name, client)
        for name in list(client.patterns):
            self.remove("patterns", name, client)
        for name in list(client.shard_channels):
            self.remove("shard", name, client)

    def publish(self, channel, message, shard=False):
        n = 0
        table = self.shard if shard else self.channels
        kind = b"smessage" if shard else b"message"
        for c in list(table.get(channel, ())):
            c.push(encode_push([kind, channel, message], c.resp3))
            n += 1
        if not shard:
            for pattern, subs in list(self.patterns.items()):
                if compile_pattern(pattern).match(channel):
                    for c in list(subs):
                        c.push(encode_push([b"pmessage", pattern, channel, message], c.resp3))
                        n += 1
        return n
