"""What clients and tools probe: SLOWLOG, LATENCY, MEMORY USAGE, WAIT, MONITOR, and the
per-command statistics behind INFO commandstats/errorstats (CommandStats, fed by dispatch)."""

import time

from kvstore import errors
from kvstore.commands import command, container
from kvstore.errors import CommandError
from kvstore.keyspace import TYPE_MASK, TYPE_STRING, collection_keyid, collection_size
from kvstore.resp import OK, Simple, Verbatim, strict_int

_SYNTAX = CommandError(errors.SYNTAX)


class CommandStats:
    """Calls, time, rejections and failures per command (kept on each Command, `stats`),
    error counts per prefix, the slow log and latency spikes. The per-command part is
    inlined in dispatch's loops (`slow_at` gates the rest); `after` handles the rare cases."""

    def __init__(self, server):
        self.server = server
        self.reset()
        self.refresh(server.cfg, None)
        server.cfg.on_change("slowlog-log-slower-than", self.refresh)
        server.cfg.on_change("latency-monitor-threshold", self.refresh)

    def refresh(self, cfg, name):
        """Cache the thresholds (Config attribute access is too slow for the hot path)."""
        self.slower_than = cfg.slowlog_log_slower_than
        self.latency_us = cfg.latency_monitor_threshold * 1000
        limits = [x for x in (self.slower_than if self.slower_than >= 0 else None,
                              self.latency_us or None) if x is not None]
        self.slow_at = min(limits) if limits else 1 << 62

    def reset(self):
        from kvstore.commands import COMMANDS
        for cmd in COMMANDS.values():
            cmd.stats[:] = [0, 0, 0, 0]
            for sub in (cmd.subcommands or {}).values():
                sub.stats[:] = [0, 0, 0, 0]
        self.errors = {}             # error prefix -> count
        self.slowlog = []            # newest first: [id, unix s, usec, args, addr, name]
        self.slowlog_next_id = 0
        self.latency = {}            # event -> list of (unix s, ms), newest last

    def record(self, client, cmd, args, usec, reply):
        """Account one executed command (the same as dispatch's inlined form)."""
        s = cmd.stats
        s[0] += 1
        s[1] += usec
        if usec >= self.slow_at or reply.__class__ is CommandError:
            self.after(client, cmd, args, usec, reply)

    def after(self, client, cmd, args, usec, reply):
        if reply.__class__ is CommandError:
            cmd.stats[3] += 1
            self.error(reply.args[0])
        if 0 <= self.slower_than <= usec:
            self._slow(client, args, usec)
        if self.latency_us and usec >= self.latency_us:
            self._latency("command", usec // 1000)

    def rejected(self, cmd, text):
        if cmd is not None:
            cmd.stats[2] += 1
        self.error(text)

    def error(self, text):
        prefix = text.split(" ", 1)[0]
        self.errors[prefix] = self.errors.get(prefix, 0) + 1

    def _slow(self, client, args, usec):
        shown = [a if len(a) <= 128 else a[:128] + b"... (%d more bytes)" % (len(a) - 128)
                 for a in args[:32]]
        if len(args) > 32:
            shown[-1] = b"... (%d more arguments)" % (len(args) - 31)
        self.slowlog.insert(0, [self.slowlog_next_id, int(time.time()), usec, shown,
                                client.addr.encode(), client.name])
        self.slowlog_next_id += 1
        del self.slowlog[max(0, self.server.cfg.slowlog_max_len):]

    def _latency(self, event, ms):
        hist = self.latency.setdefault(event, [])
        hist.append((int(time.time()), ms))
        del hist[:-160]

    def info_commandstats(self):
        from kvstore.commands import COMMANDS
        cmds = []
        for cmd in COMMANDS.values():
            cmds.append(cmd)
            cmds.extend((cmd.subcommands or {}).values())
        out = []
        for cmd in sorted(cmds, key=lambda c: c.full_name):
            calls, usec, rejected, failed = cmd.stats
            if calls or rejected:
                out.append(("cmdstat_%s" % cmd.full_name,
                            "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,"
                            "failed_calls=%d" % (calls, usec, usec / calls if calls else 0,
                                                 rejected, failed)))
        return out

    def info_errorstats(self):
        return [("errorstat_%s" % k, "count=%d" % v) for k, v in sorted(self.errors.items())]

    def total_errors(self):
        return sum(self.errors.values())


# ---- SLOWLOG ----------------------------------------------------------------------------------
container("slowlog", -2, "", group="server", summary="A container for slow log commands",
          since="2.2.12")


@command("get", -2, "admin loading stale", parent="slowlog", group="server",
         summary="Get the slow log's entries", since="2.2.12")
def slowlog_get(ks, client, args):
    count = 10
    if len(args) == 3:
        count = strict_int(args[2])
        if count is None or count < -1:
            raise CommandError(errors.SLOWLOG_COUNT)
    elif len(args) > 3:
        raise CommandError(errors.WRONG_ARITY.format("slowlog|get"))
    entries = client.server.stats.slowlog
    if count != -1:
        entries = entries[:count]
    return [[e[0], e[1], e[2], list(e[3]), e[4], e[5]] for e in entries]


@command("len", 2, "admin loading stale", parent="slowlog", group="server",
         summary="Get the slow log's length", since="2.2.12")
def slowlog_len(ks, client, args):
    return len(client.server.stats.slowlog)


@command("reset", 2, "admin loading stale", parent="slowlog", group="server",
         summary="Clear all entries from the slow log", since="2.2.12")
def slowlog_reset(ks, client, args):
    client.server.stats.slowlog = []
    return OK


@command("help", 2, "loading stale", parent="slowlog", group="server",
         summary="Show helpful text about the different subcommands", since="6.2.0")
def slowlog_help(ks, client, args):
    return [Simple(x) for x in (
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 "
        "mean all).", "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name", "LEN", "    Return the length of the slowlog.",
        "RESET", "    Reset the slowlog.", "HELP", "    Print this help.")]


# ---- LATENCY ----------------------------------------------------------------------------------
container("latency", -2, "", group="server", summary="A container for latency diagnostics "
          "commands", since="2.8.13")


@command("latest", 2, "admin noscript loading stale", parent="latency", group="server",
         summary="Return the latest latency samples for all events", since="2.8.13")
def latency_latest(ks, client, args):
    out = []
    for event, hist in sorted(client.server.stats.latency.items()):
        if hist:
            out.append([event.encode(), hist[-1][0], hist[-1][1], max(ms for _, ms in hist)])
    return out


@command("history", 3, "admin noscript loading stale", parent="latency", group="server",
         summary="Return timestamp-latency samples for the event", since="2.8.13")
def latency_history(ks, client, args):
    hist = client.server.stats.latency.get(args[2].decode("utf-8", "replace"), [])
    return [[t, ms] for t, ms in hist]


@command("reset", -2, "admin noscript loading stale", parent="latency", group="server",
         summary="Reset latency data for one or more events", since="2.8.13")
def latency_reset(ks, client, args):
    lat = client.server.stats.latency
    names = [a.decode("utf-8", "replace") for a in args[2:]] or list(lat)
    n = 0
    for name in names:
        if lat.pop(name, None) is not None:
            n += 1
    return n


@command("doctor", 2, "admin noscript loading stale", parent="latency", group="server",
         summary="Return a human readable latency analysis report", since="2.8.13")
def latency_doctor(ks, client, args):
    lat = client.server.stats.latency
    if not lat:
        text = ("Dave, no latency spike was observed during the lifetime of this Redis "
                "instance, not in the slightest bit. I honestly think you ought to sleep "
                "tonight.\n")
    else:
        text = "".join("%s: %d latency spikes (max %d ms).\n"
                       % (e, len(h), max(ms for _, ms in h)) for e, h in sorted(lat.items()))
    return Verbatim(text.encode())


@command("help", 2, "loading stale", parent="latency", group="server",
         summary="Show helpful text about the different subcommands", since="2.8.13")
def latency_help(ks, client, args):
    return [Simple(x) for x in (
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR", "    Return a human readable latency analysis report.",
        "HISTORY <event>", "    Return time-latency samples for the <event> class.",
        "LATEST", "    Return the latest latency samples for all events.",
        "RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)", "HELP", "    Print this help.")]


# ---- MEMORY -----------------------------------------------------------------------------------
container("memory", -2, "", group="server", summary="A container for memory diagnostics "
          "commands", since="4.0.0")


@command("usage", -3, "readonly", 2, 2, 1, parent="memory", group="server",
         summary="Estimate the memory usage of a key", since="4.0.0")
def memory_usage(ks, client, args):
    samples = 5
    if len(args) > 3:
        if len(args) != 5 or args[3].lower() != b"samples":
            raise _SYNTAX
        samples = strict_int(args[4])
        if samples is None:
            raise CommandError(errors.NOT_INTEGER)
        if samples == 0:
            samples = -1                    # all elements, as Redis
    rec = ks.lookup(args[2])
    if rec is None:
        return None
    key_len = len(args[2])
    if rec[0] & TYPE_MASK == TYPE_STRING:
        return len(rec) + key_len + 16     # the record as stored, plus its table key
    size = collection_size(rec)
    kid = collection_keyid(rec)
    total = 0
    n = 0
    for sub, v in ks.raw_elements(kid):
        total += len(sub) + len(v) + 8 + 16
        n += 1
        if samples > 0 and n >= samples:
            break
    per = total / n if n else 0
    return int(len(rec) + key_len + 16 + per * size)


@command("doctor", 2, "", parent="memory", group="server",
         summary="Outputs memory problems report", since="4.0.0")
def memory_doctor(ks, client, args):
    return Verbatim(b"Hi Sam, this instance keeps its data on disk (LMDB); memory problems "
                    b"are not the kind of trouble it has.\n")


@command("help", 2, "loading stale", parent="memory", group="server",
         summary="Show helpful text about the different subcommands", since="4.0.0")
def memory_help(ks, client, args):
    return [Simple(x) for x in (
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR", "    Return memory problems reports.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP", "    Print this help.")]


# ---- MONITOR --------------------------------------------------------------------------------
@command("monitor", 1, "admin noscript loading stale conn", group="server",
         summary="Listen for all requests received by the server in real time",
         since="1.0.0")
def monitor(ks, client, args):
    client.server.monitors.add(client)
    client.flags = "O"
    return OK


def monitor_line(client, args):
    """What MONITOR clients see for one command (Redis's replicationFeedMonitors format)."""
    t = time.time()
    quoted = " ".join('"%s"' % _escape(a) for a in args)
    where = "%d %s" % (client.db, "unix:%s" % client.laddr if client.kind == "unix"
                       else client.addr)
    return b"+%.6f [%s] %s\r\n" % (t, where.encode(), quoted.encode())


def _escape(a):
    out = []
    for c in a:
        if c in (34, 92):
            out.append("\\" + chr(c))
        elif c == 10:
            out.append("\\n")
        elif c == 13:
            out.append("\\r")
        elif c == 9:
            out.append("\\t")
        elif 32 <= c < 127:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)

