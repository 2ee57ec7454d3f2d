"""One greenlet per client connection: read, parse, execute in order, reply.

A recv may bring any number of pipelined commands. They run in order, split into segments:
a run of commands containing a write goes to the writer as one unit (reads in it see the
writes before them); a run of reads runs on one read transaction here; `conn` commands
(blocking or I/O-doing ones) run alone in this greenlet. All replies of one recv are queued
together and written, with every other client's, at the end of the loop iteration: a pipeline
costs one write syscall, and a group commit's replies go out in one burst.
"""

import collections
import logging
import socket
import time

import gevent

from gevent.hub import get_hub

from kvstore import errors
from kvstore.dispatch import LOOKUP, resolve, run_one_conn, run_reads
from kvstore.errors import CommandError
from kvstore.commands.introspection import monitor_line
from kvstore.commands.pubsub import SUBSCRIBED_ALLOWED
from kvstore.commands.transactions import MULTI_CONTROL
from kvstore.resp import QUEUED, RequestParser, encode_error

log = logging.getLogger("kvstore.connection")

RECV_SIZE = 256 * 1024
PENDING_MAX = 64 * 1024          # output queued for the end of the loop iteration, at most
_SYNC_COMMANDS = ("sync", "psync")
_MASTERDOWN = encode_error(errors.MASTERDOWN)
_READONLY = encode_error(errors.READONLY_REPLICA)
_NOREPLICAS = encode_error(errors.NOREPLICAS)


class Client:
    """A connected client. Attributes read by commands: id, name, db, resp3, authenticated,
    addr, laddr, created, last_active, last_cmd, server."""

    def __init__(self, server, sock, addr, laddr, kind="tcp"):
        self.server = server
        self.sock = sock
        self.kind = kind
        self.id = server.next_client_id()
        self.addr = addr
        self.laddr = laddr
        self.name = b""
        self.db = 0
        self.resp3 = False
        self.authenticated = not server.cfg.requirepass
        self.created = time.time()
        self.last_active = self.created
        self.last_cmd = "NULL"
        self.close_after_reply = False
        self.killed = False
        self.no_evict = False
        self.greenlet = None
        self.parser = RequestParser(server.cfg.proto_max_bulk_len, self.authenticated)
        self.flags = "N"
        # MULTI state (see commands/transactions.py); watching: {(pdb, key): expire at WATCH}
        self.in_multi = False
        self.multi_queue = []
        self.multi_error = False
        self.watching = {}
        self.watch_dirty = False
        self.in_exec = False         # EXEC is running this client's queue (no blocking)
        self.channels = set()        # Pub/Sub subscriptions (see commands/pubsub.py)
        self.patterns = set()
        self.shard_channels = set()
        self.blocked_op = None       # the BlockedOp while in BLPOP & co (CLIENT UNBLOCK)
        self.reply_mode = "on"       # CLIENT REPLY ON|OFF|SKIP
        self.pending = None          # output queued for the end of the loop iteration (send)
        self.pending_bytes = 0
        self.out_queue = collections.deque()     # output not yet accepted by the socket
        self.out_bytes = 0
        self.flusher = None
        # Replication: REPLCONF settings before SYNC/PSYNC; the ReplicaLink once this
        # connection is a replica (its socket then belongs to the feeder, replies are muted);
        # the log offset after this client's last propagated write (WAIT).
        self.repl_info = None
        self.repl_link = None
        self.woff = 0

    def sub_count(self):
        return len(self.channels) + len(self.patterns)

    def reset_multi(self):
        self.in_multi = False
        self.multi_queue = []
        self.multi_error = False

    def fileno(self):
        try:
            return self.sock.fileno()
        except OSError:
            return -1

    def is_local(self):
        return self.kind == "unix" or self.addr.startswith(("127.", "[::1]:"))

    def set_authenticated(self, value):
        self.authenticated = value
        self.parser.authenticated = value

    def serve(self):
        """Wait readable -> recv -> execute -> send, on the raw non-blocking socket: one recv
        and one send syscall per round trip (gevent's socket methods would add a failing
        recv and a getsockopt per call). Reads go into the server's one receive buffer and
        are copied out at their size at once (no switch in between): a fresh 256 KB recv
        buffer per call would cost an mmap, an mremap and a munmap each time."""
        server = self.server
        raw = self.sock._sock if hasattr(self.sock, "_sock") else self.sock
        raw.setblocking(False)
        hub = get_hub()
        wait = hub.wait
        read_watcher = hub.loop.io(raw.fileno(), 1)
        recv_into = raw.recv_into
        buffer = server.recv_buffer
        view = memoryview(buffer)
        parser = self.parser
        try:
            while not self.killed:
                wait(read_watcher)
                try:
                    n = recv_into(buffer)
                except BlockingIOError:
                    continue
                if not n:
                    break
                data = view[:n].tobytes()
                server.stat_net_in += len(data)
                server.stat_reads += 1
                self.last_active = time.time()
                cmds = parser.feed(data)
                if cmds:
                    server.stat_commands += len(cmds)
                    out = self.execute(cmds)
                    if out:
                        self.send(out)
                pending = parser.pending_bytes()
                if pending and pending > server.cfg.client_query_buffer_limit:
                    log.warning("Closing client that reached max query buffer length: "
                                "id=%d addr=%s (qbuf: %d bytes)", self.id, self.addr, pending)
                    break
                if parser.error is not None:
                    text = "ERR Protocol error: %s" % parser.error.args[0]
                    log.info("protocol error from client id=%d addr=%s: %s; closing",
                             self.id, self.addr, parser.error.args[0])
                    server.stat_protocol_errors += 1
                    self.send(encode_error(text))
                    break
                if self.close_after_reply:
                    break
        except (ConnectionError, socket.timeout, OSError) as e:
            if not self.killed:
                log.debug("client id=%d %s: %s", self.id, self.addr, e)
        except Exception:
            log.exception("internal error serving client id=%d addr=%s; closing it",
                          self.id, self.addr)
        finally:
            read_watcher.close()
            self.write_pending()                    # the last replies (QUIT, an error)
            if self.flusher is not None and not self.killed:
                self.flusher.join(timeout=5)        # the last replies (QUIT, an error)
            self.close()

    def send(self, data):
        """Queue `data` for the client, in order with every other reply and push. Output is
        written at the end of the loop iteration, for all clients at once (as Redis writes
        replies before it sleeps; see Server.queue_output): peers are woken by one burst,
        not one wake-up per reply, which measured 2x faster at pipeline 1 on this VM. More
        than PENDING_MAX bytes are written at once. What the socket does not take is written
        by a flusher greenlet, so no caller (a publisher, a writer callback) ever blocks on
        a slow client."""
        if self.repl_link is not None:
            return                  # a replica gets no replies; the feeder owns the socket
        server = self.server
        server.stat_net_out += len(data)
        if self.out_queue or self.flusher is not None:   # keep byte order with the flusher
            server.stat_writes += 1
            self._enqueue(data)
            return
        pending = self.pending
        if pending is None:
            self.pending = [data]
            self.pending_bytes = len(data)
            server.queue_output(self)
            return
        pending.append(data)
        self.pending_bytes += len(data)
        if self.pending_bytes > PENDING_MAX:
            self.write_pending()

    push = send

    def write_pending(self):
        """Write the queued output: one non-blocking send, the rest to the flusher."""
        pending = self.pending
        if pending is None:
            return
        self.pending = None
        if self.killed:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self.server.stat_writes += 1
        raw = self.sock._sock if hasattr(self.sock, "_sock") else self.sock
        try:
            n = raw.send(data)
        except BlockingIOError:
            n = 0
        except OSError:
            self.killed = True
            return
        if n < len(data):
            self._enqueue(memoryview(data)[n:])

    def output_limit(self):
        """The hard client-output-buffer-limit of this client's class (0 = none)."""
        cls = "pubsub" if (self.channels or self.patterns or self.shard_channels) else "normal"
        return self.server.cfg.client_output_buffer_limit[cls][0]

    def _enqueue(self, data):
        self.out_queue.append(data)
        self.out_bytes += len(data)
        limit = self.output_limit()
        if limit and self.out_bytes > limit:
            log.warning("client id=%d addr=%s: %d bytes of output pending, closing it "
                        "(client-output-buffer-limit)", self.id, self.addr, self.out_bytes)
            self.out_queue.clear()
            self.out_bytes = 0
            self.kill()
            return
        if self.flusher is None:
            self.flusher = gevent.spawn(self._flush_output)

    def _flush_output(self):
        try:
            while self.out_queue:
                chunk = self.out_queue.popleft()
                self.out_bytes -= len(chunk)
                self.sock.sendall(chunk)
        except OSError:
            self.out_queue.clear()
            self.out_bytes = 0
            self.kill()
        finally:
            self.flusher = None

    def execute(self, cmds):
        """Run parsed commands in order; return all replies concatenated."""
        if self.reply_mode != "on":
            return self._execute_muted(cmds)
        return self._execute(cmds)

    def _execute_muted(self, cmds):
        """CLIENT REPLY OFF/SKIP: run commands one by one, dropping the muted replies."""
        out = []
        for args in cmds:
            mode = self.reply_mode
            data = self._execute([args])
            if args[0].lower() == b"client" and len(args) == 3 and \
                    args[1].lower() == b"reply":
                if self.reply_mode == "on" and mode != "on":
                    out.append(data)             # CLIENT REPLY ON answers +OK
                continue
            if mode == "on":
                out.append(data)
            elif mode == "skip":
                self.reply_mode = "on"
        return b"".join(out)

    def _execute(self, cmds):
        """Run `cmds` and return the replies. The common case (a plain client sending known
        commands that run in a batch or on a read transaction) is classified in one tight
        loop into a single segment; anything else takes the general loop below."""
        server = self.server
        if (server.monitors or self.in_multi or self.channels or self.patterns
                or self.shard_channels or server.replica is not None):
            return self._execute_general(cmds)
        seg = []
        seg_write = False
        lookup = LOOKUP.get
        for args in cmds:
            cmd = lookup(args[0])
            if cmd is None or cmd.conn or cmd.subcommands is not None:
                return self._execute_general(cmds)
            a = cmd.arity
            if (a > 0 and len(args) != a) or len(args) < -a:
                return self._execute_general(cmds)
            if cmd.is_write:
                seg_write = True
            seg.append((cmd, args))
        self.last_cmd = cmd.full_name
        out = []
        self._flush(seg, seg_write, out)
        return b"".join(out)

    def _execute_general(self, cmds):
        server = self.server
        out = []
        seg = []
        seg_write = False
        monitors = server.monitors
        for i, args in enumerate(cmds):
            cmd = resolve(self, args)
            if monitors and cmd.__class__ is not CommandError:
                line = monitor_line(self, args)
                for m in list(monitors):
                    if m is not self:
                        m.push(line)
            if cmd.__class__ is CommandError and args[0].lower() == b"exec":
                # A rejected EXEC ends any transaction (Redis's execCommandAbort).
                if seg:
                    self._flush(seg, seg_write, out)
                    seg = []
                    seg_write = False
                out.append(self.abort_exec(cmd.args[0]))
                continue
            if (cmd.__class__ is not CommandError and not self.resp3
                    and (self.channels or self.patterns or self.shard_channels)
                    and cmd.name not in SUBSCRIBED_ALLOWED):
                if seg:
                    self._flush(seg, seg_write, out)
                    seg = []
                    seg_write = False
                out.append(encode_error(errors.SUBSCRIBED_CONTEXT.format(cmd.full_name)))
                continue
            if self.in_multi and (cmd.__class__ is CommandError
                                  or cmd.name not in MULTI_CONTROL):
                if seg:                                  # keep replies in request order
                    self._flush(seg, seg_write, out)
                    seg = []
                    seg_write = False
                out.append(self._queue(cmd, args))
                continue
            if cmd.__class__ is CommandError:
                seg.append((cmd, args))
                continue
            if server.replica is not None and "stale" not in cmd.flags and \
                    server.replica.refuses_stale_reads():
                if seg:
                    self._flush(seg, seg_write, out)
                    seg = []
                    seg_write = False
                out.append(_MASTERDOWN)
                continue
            self.last_cmd = cmd.full_name
            if cmd.conn:
                if seg:
                    self._flush(seg, seg_write, out)
                    seg = []
                    seg_write = False
                if cmd.name in _SYNC_COMMANDS and (out or self.pending or self.out_queue
                                                    or self.flusher):
                    out.append(encode_error(errors.SYNC_PENDING_OUTPUT))
                    continue
                out.append(run_one_conn(server, self, cmd, args))
                if self.close_after_reply or self.killed:
                    return b"".join(out)
                if self.reply_mode != "on":          # CLIENT REPLY OFF|SKIP just ran
                    out.append(self._execute_muted(cmds[i + 1:]))
                    return b"".join(out)
                continue
            if cmd.is_write:
                seg_write = True
            seg.append((cmd, args))
        if seg:
            self._flush(seg, seg_write, out)
        return b"".join(out)

    def abort_exec(self, error_text):
        """Reply to a rejected EXEC: the transaction is discarded, WATCHes dropped."""
        self.reset_multi()
        self.server.unwatch_all(self)
        if error_text.startswith("ERR "):        # Redis formats these without the prefix
            error_text = error_text[4:]
        return encode_error(errors.EXECABORT_BECAUSE.format(error_text))

    def _queue(self, cmd, args):
        """Inside MULTI: queue the command (+QUEUED) or reply its error and doom the
        transaction, with Redis 7.0's checks in its order."""
        if cmd.__class__ is CommandError:
            self.multi_error = True
            return encode_error(cmd.args[0])
        if not self.authenticated and not cmd.noauth:
            self.multi_error = True
            return encode_error(errors.NOAUTH)
        if "no_multi" in cmd.flags:
            self.multi_error = True
            return encode_error(errors.NOT_ALLOWED_IN_MULTI)
        server = self.server
        if cmd.writes_data and server.read_only_replica():
            self.multi_error = True
            return _READONLY
        if cmd.is_write and server.primary.refuses_writes():
            self.multi_error = True
            return _NOREPLICAS
        self.multi_queue.append((cmd, args))
        return QUEUED

    def _flush(self, seg, seg_write, out):
        server = self.server
        if server.pause_until:
            server.wait_unpaused(seg_write)
        if seg_write:
            out.append(self.server.writer.submit(self, seg))
        else:
            out.extend(run_reads(self.server, self, seg))

    def kill(self):
        """Close this client from another greenlet (CLIENT KILL, timeout, shutdown)."""
        self.killed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self):
        self.server.pubsub.drop_client(self)
        self.server.unwatch_all(self)
        self.server.client_closed(self)
        try:
            self.sock.close()
        except OSError:
            pass

    def describe(self):
        """One CLIENT LIST / CLIENT INFO line (Redis 7.0 field order)."""
        now = time.time()
        return (
            "id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=0 psub=0 "
            "ssub=0 multi=%d qbuf=%d qbuf-free=%d argv-mem=0 multi-mem=0 rbs=%d rbp=0 obl=0 "
            "oll=0 omem=0 tot-mem=%d events=r cmd=%s user=default redir=-1 resp=%d" % (
                self.id, self.addr, self.laddr, self.fileno(),
                self.name.decode("utf-8", "replace"), int(now - self.created),
                int(now - self.last_active), self.flags, self.db,
                len(self.multi_queue) if self.in_multi else -1, self.parser.pending_bytes(),
                max(0, 20474 - self.parser.pending_bytes()), RECV_SIZE,
                22000 + self.parser.pending_bytes(), self.last_cmd, 3 if self.resp3 else 2))


def refuse(sock, text):
    """Reply one error line to a connection we will not serve, then close it."""
    try:
        sock.sendall(encode_error(text))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


__all__ = ["Client", "refuse", "errors"]
