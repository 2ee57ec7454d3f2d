"""The replica side of replication: the link to a primary (kvstore or Redis).

One greenlet runs the link: connect, straight-line handshake (PING, AUTH, REPLCONF
listening-port / ip-address / capa, then PSYNC after the replies), then either
  +CONTINUE [id]          shift ids if the id changed, then apply the stream, or
  +FULLRESYNC <id> <off>  receive the payload into a file in `dir`, load it into staging
                          databases while the old data keeps serving, swap them in atomically
                          together with the new ids and offset, then apply the stream.
Any failure closes the link, logs why and retries with backoff, forever.

Contracts:
- The stream is applied through the writer as the primary's client (dispatch.REPLICATED): the
  exact bytes of each applied command are appended to this node's log in the same
  transaction as its data, so `storage.repl_offset` IS the applied offset, after any crash,
  and sub-replicas see the top primary's ids and offsets.
- A MULTI..EXEC from the primary is applied as one batch (atomic); GETACK is answered with the
  offset before it.
- A replica never expires keys and never logs effects of its own (storage.log_effects False).
"""

import logging
import os
import shutil
import time

import gevent
from gevent import socket
from gevent.lock import Semaphore

from kvstore.errors import CommandError
from kvstore.resp import RequestParser, encode_command
from kvstore.storage import NO_REPLID
from replication.primary import NATIVE_CAPA, NODE_ID_OPTION
from replication.rdb import RdbError, RdbReader

log = logging.getLogger("kvstore.replication")
NOTICE = 25

RECV_SIZE = 256 * 1024
LOAD_KEYS_PER_CALL = 2000
LOAD_CALL_BUDGET = 0.02          # seconds of writer time per loading slice
MAX_LINE = 64 * 1024
EOF_MARK_LEN = 40
PROTO_MAX_BULK = 1 << 62         # the primary's stream is trusted to Redis's own limits
BACKOFF_MAX = 5.0
LMDB_MAGIC = (0xBEEFC0DE).to_bytes(4, "little")  # in the meta page of every data.mdb


class LinkError(Exception):
    """The link failed; the message says why (logged, shown in INFO)."""


class LineReader:
    """Buffered reads on the primary's socket: lines (handshake replies) and raw bytes."""

    def __init__(self, sock, on_io):
        self.sock = sock
        self.buf = b""
        self.on_io = on_io
        # recv_into a kept buffer: a fresh 256 KB recv buffer per call costs mmap/munmap.
        self._rbuf = bytearray(RECV_SIZE)
        self._rview = memoryview(self._rbuf)

    def _recv(self):
        try:
            n = self.sock.recv_into(self._rbuf)
        except socket.timeout:
            raise LinkError("timeout reading from the primary (repl-timeout)") from None
        if not n:
            raise LinkError("connection closed by the primary")
        self.on_io(n)
        return self._rview[:n].tobytes()

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise LinkError("protocol error: reply line too long")
            self.buf += self._recv()
        i = self.buf.index(b"\n")
        line, self.buf = self.buf[:i], self.buf[i + 1:]
        return line.rstrip(b"\r")

    def take(self, limit):
        """Up to `limit` bytes (at least 1)."""
        if not self.buf:
            self.buf = self._recv()
        out, self.buf = self.buf[:limit], self.buf[limit:]
        return out

    def rest(self):
        out, self.buf = self.buf, b""
        return out

    def peek(self, n):
        """The next `n` bytes without consuming them."""
        while len(self.buf) < n:
            self.buf += self._recv()
        return self.buf[:n]

    def unread(self, data):
        self.buf = data + self.buf


class SocketPayload:
    """The RDB payload as a file object over the socket (diskless load): `read` never goes
    past a `$<len>` payload's end; after the RDB's checksum, `finish` checks the `$EOF:` mark
    or that the length was exact, and gives back any bytes that follow."""

    def __init__(self, link, reader, mark):
        self.link = link
        self.reader = reader
        self.mark = mark
        self.rdb = None                          # set by the loader: the RdbReader

    def read(self, n):
        link = self.link
        if self.mark is None:
            n = min(n, link.transfer_size - link.transfer_read)
            if n <= 0:
                return b""
        data = self.reader.take(max(1, n))
        link.transfer_read += len(data)
        link.transfer_last_io = time.monotonic()
        return data

    def finish(self):
        extra = self.rdb.unread() if self.rdb is not None else b""
        if self.mark is None:
            if extra or self.link.transfer_read != self.link.transfer_size:
                raise LinkError("bad snapshot from the primary: its length does not match "
                                "the RDB inside")
            return
        while len(extra) < EOF_MARK_LEN:
            extra += self.reader.take(EOF_MARK_LEN - len(extra))
        if extra[:EOF_MARK_LEN] != self.mark:
            raise LinkError("bad snapshot from the primary: the EOF mark does not follow "
                            "the RDB")
        self.reader.unread(extra[EOF_MARK_LEN:])


class ReplicaLink:
    """This node's link to its primary (one per REPLICAOF)."""

    def __init__(self, server, host, port):
        self.server = server
        self.storage = server.storage
        self.cfg = server.cfg
        self.host = host
        self.port = port
        self.state = "connect"
        self.sock = None
        self.greenlet = None
        self.acker = None
        self.client = None                       # the primary's client (dispatch)
        self.send_lock = Semaphore()
        self.stopped = False
        self.last_io = 0.0
        self.down_since = None                   # monotonic; None = never up
        self.ever_up = False
        self.read_offset = 0                     # bytes of stream read (incl. unapplied)
        self.transfer_size = -1
        self.transfer_read = 0
        self.transfer_last_io = 0.0
        self.last_error = ""

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self):
        self.greenlet = gevent.spawn(self._run)
        return self

    def stop(self):
        self.stopped = True
        self._close()
        for g in (self.acker, self.greenlet):
            if g is not None and g is not gevent.getcurrent():
                g.kill(block=False)

    def drop_connection(self, reason):
        """Close the current connection (CLIENT KILL TYPE master); the link reconnects."""
        log.log(NOTICE, "Connection with master lost (%s)", reason)
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        if self.acker is not None and self.acker is not gevent.getcurrent():
            self.acker.kill(block=False)
            self.acker = None
        if self.state == "connected":
            self.down_since = time.monotonic()
        self.state = "connect"

    def _run(self):
        delay = 0.0
        while not self.stopped:
            if delay:
                gevent.sleep(delay)
            try:
                self._session()
                delay = 0.0
            except LinkError as e:
                self.last_error = str(e)
                log.warning("Replication link to %s:%d: %s", self.host, self.port, e)
            except (OSError, ConnectionError) as e:
                self.last_error = str(e)
                log.warning("Replication link to %s:%d lost: %s", self.host, self.port, e)
            except gevent.GreenletExit:
                raise
            except Exception as e:               # noqa: BLE001 - a bug must not kill the link
                self.last_error = str(e)
                log.exception("Replication link to %s:%d failed", self.host, self.port)
            was_up = self.state == "connected"
            self._close()
            delay = 0.0 if was_up else min(BACKOFF_MAX, max(1.0, delay * 2))

    # ---- one session -------------------------------------------------------------------------
    def _on_io(self, n):
        self.last_io = time.monotonic()
        self.server.stat_net_repl_in += n

    def _send(self, data):
        with self.send_lock:
            self.sock.sendall(data)

    def _session(self):
        self.state = "connecting"
        log.log(NOTICE, "Connecting to MASTER %s:%d", self.host, self.port)
        source = (self.cfg.bind_source_addr, 0) if self.cfg.bind_source_addr else None
        sock = socket.create_connection((self.host, self.port), timeout=self.cfg.repl_timeout,
                                        source_address=source)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        reader = LineReader(sock, self._on_io)
        self.state = "handshake"
        self._send(encode_command([b"PING"]))
        reply = reader.line()
        if not (reply.startswith(b"+") or reply.startswith((b"-NOAUTH", b"-NOPERM",
                                                             b"-ERR operation not permitted"))):
            raise LinkError("error reply to PING from the primary: %s" % _text(reply))
        cmds = []
        if self.cfg.masterauth:
            auth = [b"AUTH"]
            if self.cfg.masteruser:
                auth.append(self.cfg.masteruser.encode())
            cmds.append(("auth", auth + [self.cfg.masterauth.encode()]))
        port = self.cfg.replica_announce_port or self.cfg.port
        cmds.append(("port", [b"REPLCONF", b"listening-port", b"%d" % port]))
        if self.cfg.replica_announce_ip:
            cmds.append(("ip", [b"REPLCONF", b"ip-address",
                                self.cfg.replica_announce_ip.encode()]))
        cmds.append(("capa", [b"REPLCONF", b"capa", b"eof", b"capa", b"psync2",
                              b"capa", NATIVE_CAPA.encode()]))
        cmds.append(("node-id", [b"REPLCONF", NODE_ID_OPTION, self.server.node_id.encode()]))
        self._send(b"".join(encode_command(a) for _, a in cmds))
        for what, _ in cmds:
            reply = reader.line()
            if what == "auth" and reply.startswith(b"-"):
                raise LinkError("unable to AUTH to the primary: %s" % _text(reply))
            if what == "node-id":
                if reply.startswith(b"-ERR replication cycle"):
                    raise LinkError(_text(reply[5:]))
                if reply.startswith(b"+OK "):
                    # A kvstore primary: its node id and those above it (cycle detection).
                    self.server.upstream_ids = _text(reply[4:]).split()
                    continue
            if reply.startswith(b"-"):
                log.log(NOTICE, "(Non critical) Primary does not understand REPLCONF %s: %s",
                        what, _text(reply))
        st = self.storage
        if st.repl_offset == 0 and st.log_first_offset() == 1 and not self.ever_up:
            psync = [b"PSYNC", b"?", b"-1"]
        else:
            psync = [b"PSYNC", st.replid.encode(), b"%d" % (st.repl_offset + 1)]
        log.log(NOTICE, "Trying a partial resynchronization (request %s:%s).",
                _text(psync[1]), _text(psync[2]))
        self._send(encode_command(psync))
        while True:
            reply = reader.line()
            if reply:
                break                            # (empty lines are keepalives)
        if reply.startswith(b"+FULLRESYNC"):
            parts = reply.split()
            if len(parts) != 3 or len(parts[1]) != 40:
                raise LinkError("bad +FULLRESYNC reply: %s" % _text(reply))
            self._full_sync(reader, parts[1].decode(), int(parts[2]))
        elif reply.startswith(b"+CONTINUE"):
            parts = reply.split()
            new_id = parts[1].decode() if len(parts) > 1 else st.replid
            self._continue(new_id)
        else:
            raise LinkError("PSYNC refused by the primary: %s" % _text(reply))
        self._stream(reader)

    def _continue(self, new_id):
        st = self.storage
        log.log(NOTICE, "Successful partial resynchronization with master (offset %d).",
                st.repl_offset)
        if new_id != st.replid:
            # The primary's history id changed (failover): keep ours as replid2 so our own
            # replicas can continue too, and make them reconnect with the new id.
            ids = (new_id, st.replid, st.repl_offset + 1)

            def shift(ks):
                ks.batch.repl_ids = ids
            self.server.writer.call(shift)
            log.log(NOTICE, "Primary replication ID changed to %s", new_id)
            self.server.primary.disconnect_all("the primary's replication ID changed")

    # ---- full sync ---------------------------------------------------------------------------
    def _full_sync(self, reader, replid, offset):
        self.state = "sync"
        log.log(NOTICE, "Full resync from master: %s:%d", replid, offset)
        mark = self._payload_header(reader)
        if self._diskless_load_wanted() and reader.peek(5) == b"REDIS":
            log.log(NOTICE, "MASTER <-> REPLICA sync: loading the RDB straight from the "
                    "socket (repl-diskless-load %s)", self.cfg.repl_diskless_load)
            self._load(SocketPayload(self, reader, mark), replid, offset)
            return
        path = os.path.join(self.storage.directory, "temp-%d.%d.rdb" % (int(time.time()),
                                                                          os.getpid()))
        try:
            self._receive_payload(reader, path, mark)
            with open(path, "rb") as f:
                head = f.read(20)
            if head[:5] == b"REDIS":
                with open(path, "rb") as f:
                    self._load(f, replid, offset)
            elif head[16:20] == LMDB_MAGIC:
                self._adopt_native(path, replid, offset)
            else:
                raise LinkError("bad snapshot from the primary: Wrong signature (neither an "
                                "RDB file nor a kvstore native snapshot)")
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass

    def _diskless_load_wanted(self):
        mode = self.cfg.repl_diskless_load
        if mode == "swapdb":
            return True
        if mode == "on-empty-db":
            st = self.storage
            return not any(st.counts_of(pdb)[0] for pdb in st.dbmap)
        return False

    def _payload_header(self, reader):
        """Read the `$<len>` or `$EOF:<mark>` line; return the mark (None for `$<len>`)."""
        while True:
            line = reader.line()
            if line:
                break                            # (empty lines are keepalives)
        if line.startswith(b"-"):
            raise LinkError("the primary aborted the transfer: %s" % _text(line))
        if not line.startswith(b"$"):
            raise LinkError("bad bulk payload header: %s" % _text(line[:100]))
        self.transfer_read = 0
        self.transfer_last_io = time.monotonic()
        if line.startswith(b"$EOF:"):
            mark = line[5:]
            if len(mark) < EOF_MARK_LEN:
                raise LinkError("bad EOF mark in the payload header")
            self.transfer_size = 0
            log.log(NOTICE, "MASTER <-> REPLICA sync: receiving streamed RDB from master "
                    "with EOF")
            return mark[:EOF_MARK_LEN]
        try:
            self.transfer_size = int(line[1:])
        except ValueError:
            raise LinkError("bad bulk length: %s" % _text(line[:100])) from None
        log.log(NOTICE, "MASTER <-> REPLICA sync: receiving %d bytes from master",
                self.transfer_size)
        return None

    def _receive_payload(self, reader, path, mark):
        """Store the payload in `path` (Redis's repl-diskless-load disabled)."""
        with open(path, "wb") as f:
            tail = b""
            while True:
                if mark is None:
                    left = self.transfer_size - self.transfer_read
                    if left <= 0:
                        break
                    data = reader.take(min(left, RECV_SIZE))
                else:
                    data = reader.take(RECV_SIZE)
                self.transfer_read += len(data)
                self.transfer_last_io = time.monotonic()
                f.write(data)
                if mark is not None:
                    tail = (tail + data)[-EOF_MARK_LEN:]
                    if tail == mark:
                        f.truncate(self.transfer_read - EOF_MARK_LEN)
                        break
            f.flush()
            os.fsync(f.fileno())

    def _load(self, f, replid, offset):
        """Load the RDB read from file object `f` into staging dbs, then swap it in with the
        new position."""
        server = self.server
        writer = server.writer
        databases = self.cfg.databases
        keepalive = gevent.spawn(self._keepalive)
        t0 = time.monotonic()
        try:
            staging = writer.call(_staging_allocator(databases))
            try:
                prefixes = [pdb.to_bytes(4, "big") for pdb in staging]
                stream_db = 0
                loaded = 0
                try:
                    reader = RdbReader(f)
                    if isinstance(f, SocketPayload):
                        f.rdb = reader
                    events = iter(reader)
                    done = False
                    while not done:
                        chunk = []
                        for ev in events:
                            if ev[0] == "key":
                                if ev[1] >= databases:
                                    raise LinkError("the snapshot has a key in db %d, but "
                                                    "databases is %d" % (ev[1], databases))
                                chunk.append(ev)
                                if len(chunk) >= LOAD_KEYS_PER_CALL:
                                    break
                            elif ev[0] == "aux" and ev[1] == b"repl-stream-db":
                                stream_db = int(ev[2])
                            elif ev[0] == "end":
                                if not ev[1] and self.cfg.rdbchecksum:
                                    raise LinkError("bad snapshot from the primary: wrong "
                                                    "checksum")
                                done = True
                                break
                        else:
                            raise LinkError("the snapshot ended without its EOF opcode")
                        if chunk:
                            loaded += writer.call(_loader(chunk, prefixes))
                        gevent.sleep(0)
                except RdbError as e:
                    raise LinkError("bad snapshot from the primary: %s" % e) from None
                if isinstance(f, SocketPayload):
                    f.finish()                       # the mark / exact length, before the swap
                if not 0 <= stream_db < databases:
                    stream_db = 0
                if loaded == 0:
                    self._check_empty_allowed(replid)

                def swap(ks):
                    b = ks.batch
                    old = list(b.current_dbmap())
                    b.dbmap = list(staging)
                    b.reclaim = list(b.reclaim if b.reclaim is not None else ks.storage.reclaim)
                    b.reclaim.extend(old)
                    b.staging = []
                    b.repl_reset = (offset, stream_db)
                    b.stream_db = stream_db
                    b.repl_ids = (replid, NO_REPLID, -1)
                    ks.touched.extend((pdb, None) for pdb in old)
                writer.call(swap)
            except BaseException:
                writer.call(_discard_staging)
                raise
        finally:
            keepalive.kill(block=False)
        server.after_flush()
        server.primary.disconnect_all("this replica did a full sync from its primary")
        self.db_after_sync = stream_db
        log.log(NOTICE, "MASTER <-> REPLICA sync: Finished with success (%d keys in %.2f s, "
                "offset %d)", loaded, time.monotonic() - t0, offset)

    def _check_empty_allowed(self, replid):
        """Refuse to replace our data with an empty dataset from a primary whose history we
        never followed (a primary restarted with an empty dir), unless allowed."""
        st = self.storage
        ours = sum(st.counts_of(pdb)[0] for pdb in st.dbmap)
        if ours and replid not in (st.replid, st.replid2) and \
                not self.cfg.replica_allow_empty_fullsync:
            raise LinkError(
                "refusing a full sync that would replace this replica's %d keys with the "
                "EMPTY dataset of primary %s whose history this replica never followed "
                "(set replica-allow-empty-fullsync yes to allow it)" % (ours, replid))

    def _adopt_native(self, path, replid, offset):
        """A native snapshot (another kvstore's compacted LMDB environment, consistent at
        `offset`): validate it, then make it this node's environment in one step."""
        import lmdb
        from kvstore.storage import (INCOMING_SUFFIX, count_keys, read_dbmap,
                                     read_repl_ids, read_repl_position)
        t0 = time.monotonic()
        incoming = self.storage.path + INCOMING_SUFFIX
        if os.path.exists(incoming):
            shutil.rmtree(incoming)
        os.makedirs(incoming)
        os.rename(path, os.path.join(incoming, "data.mdb"))
        try:
            env = lmdb.open(incoming, readonly=True, lock=False, max_dbs=8, subdir=True)
            try:
                with env.begin() as txn:
                    sys_db = env.open_db(b"sys", txn=txn, create=False)
                    log_db = env.open_db(b"log", txn=txn, create=False)
                    got_off = read_repl_position(txn, sys_db, log_db)[0]
                    got_id = read_repl_ids(txn, sys_db)[0]        # (None: TypeError)
                    empty = count_keys(txn, sys_db, read_dbmap(txn, sys_db)) == 0
            finally:
                env.close()
        except (lmdb.Error, TypeError, KeyError, ValueError) as e:
            shutil.rmtree(incoming, ignore_errors=True)
            raise LinkError("bad native snapshot from the primary: %s" % e) from None
        if (got_id, got_off) != (replid, offset):
            shutil.rmtree(incoming, ignore_errors=True)
            raise LinkError("bad native snapshot from the primary: it is at %s:%d, not at "
                            "%s:%d" % (got_id, got_off, replid, offset))
        if empty:
            try:
                self._check_empty_allowed(replid)
            except LinkError:
                shutil.rmtree(incoming, ignore_errors=True)
                raise
        st = self.storage
        old = st.replace_environment(incoming)
        st.log_effects = False
        gevent.get_hub().threadpool.spawn(shutil.rmtree, old, True)
        self.server.after_flush()
        self.server.after_environment_replaced()
        self.server.primary.disconnect_all("this replica did a full sync from its primary")
        self.db_after_sync = max(st.log_stream_db, 0)
        log.log(NOTICE, "MASTER <-> REPLICA sync: Finished with success (native snapshot, "
                "%.2f s, offset %d)", time.monotonic() - t0, offset)

    def _keepalive(self):
        """A newline a second while loading keeps the primary's view of us fresh."""
        while True:
            gevent.sleep(1.0)
            try:
                self._send(b"\n")
            except OSError:
                return

    # ---- streaming ---------------------------------------------------------------------------
    def _stream(self, reader):
        from kvstore.connection import Client
        from kvstore.dispatch import REPLICATED, resolve
        st = self.storage
        server = self.server
        client = Client(server, None, "%s:%d" % (self.host, self.port), "", kind="master")
        client.set_authenticated(True)
        client.flags = "M"
        client.db = getattr(self, "db_after_sync", None)
        if client.db is None:
            client.db = max(st.log_stream_db, 0)
        self.db_after_sync = None
        self.client = client
        self.state = "connected"
        self.ever_up = True
        self.down_since = None
        self.last_error = ""
        self.read_offset = st.repl_offset
        self._ack()
        self.acker = gevent.spawn(self._ack_every_second)
        self.sock.settimeout(self.cfg.repl_timeout)
        parser = RequestParser(PROTO_MAX_BULK, True)
        parser.inline_allowed = False
        pending = []                             # (cmd, args, raw) of complete units
        multi = None                             # commands of an open MULTI
        data = reader.rest()
        while True:
            if not data:
                data = reader.take(RECV_SIZE)
            self.read_offset += len(data)
            cmds = parser.feed(data)
            data = b""
            for args in cmds:
                raw = encode_command(args)
                cmd = resolve(client, args)
                name = args[0].lower()
                if multi is not None:
                    multi.append((cmd, args, raw))
                    if name == b"exec":
                        pending.extend(multi)
                        multi = None
                    continue
                if name == b"multi":
                    multi = [(cmd, args, raw)]
                    continue
                if name == b"replconf" and len(args) >= 2 and args[1].lower() == b"getack":
                    self._apply(pending, client, REPLICATED)
                    pending = []
                    self._ack()
                pending.append((cmd, args, raw))
            if pending:
                self._apply(pending, client, REPLICATED)
                pending = []
            if parser.error is not None:             # (what came before it is applied)
                raise LinkError("corrupt replication stream: %s" % parser.error.args[0])

    def _apply(self, units, client, marker):
        """Apply complete units; commands that fail (unknown to kvstore, wrong arity...) are
        logged and skipped by the writer, their bytes still count, as Redis does."""
        if not units:
            return
        res = self.server.writer.submit(client, [(marker, units)])
        if not isinstance(res, int):
            raise LinkError("could not apply the primary's commands (storage failure); will "
                            "resume from offset %d" % (self.storage.repl_offset + 1))

    def _ack(self):
        self._send(encode_command([b"REPLCONF", b"ACK", b"%d" % self.storage.repl_offset]))

    def _ack_every_second(self):
        while True:
            gevent.sleep(1.0)
            try:
                self._ack()
            except OSError:
                return

    def refuses_stale_reads(self):
        """replica-serve-stale-data no while the link is not up: -MASTERDOWN."""
        return self.state != "connected" and not self.cfg.replica_serve_stale_data

    # ---- visibility --------------------------------------------------------------------------
    def info_fields(self):
        now = time.monotonic()
        up = self.state == "connected"
        out = [("master_host", self.host), ("master_port", self.port),
               ("master_link_status", "up" if up else "down"),
               ("master_last_io_seconds_ago", int(now - self.last_io) if up else -1),
               ("master_sync_in_progress", 1 if self.state == "sync" else 0),
               ("slave_read_repl_offset", self.read_offset if up else self.storage.repl_offset),
               ("slave_repl_offset", self.storage.repl_offset)]
        if self.state == "sync":
            size = self.transfer_size
            left = max(0, size - self.transfer_read) if size > 0 else 0
            out += [("master_sync_total_bytes", size),
                    ("master_sync_read_bytes", self.transfer_read),
                    ("master_sync_left_bytes", left),
                    ("master_sync_perc", "%.2f" % (100.0 * self.transfer_read / size
                                                   if size > 0 else 0.0)),
                    ("master_sync_last_io_seconds_ago", int(now - self.transfer_last_io))]
        if not up:
            out.append(("master_link_down_since_seconds",
                        int(now - self.down_since) if self.down_since is not None else -1))
        if self.last_error and not up:
            out.append(("kvstore_master_link_error", self.last_error.replace("\r", " ")
                        .replace("\n", " ").replace(",", ";")[:300]))
        out += [("slave_priority", self.cfg.replica_priority),
                ("slave_read_only", 1 if self.cfg.replica_read_only else 0),
                ("replica_announced", 1 if self.cfg.replica_announced else 0)]
        return out

    def role_reply(self):
        state = {"connect": b"connect", "connecting": b"connecting", "handshake": b"handshake",
                 "sync": b"sync", "connected": b"connected"}[self.state]
        off = self.storage.repl_offset if self.state == "connected" else -1
        return [b"slave", self.host.encode(), self.port, state, off]


def _staging_allocator(databases):
    """A writer function reserving fresh physical dbs for a full sync's load (recorded as
    staging, so a crash before the swap frees them at the next start)."""
    def allocate(ks):
        b = ks.batch
        staging = list(range(b.next_pdb, b.next_pdb + databases))
        b.next_pdb += databases
        b.staging = staging
        return staging
    return allocate


def _discard_staging(ks):
    """A full sync failed: its staging dbs go to the background reclaimer."""
    b = ks.batch
    staging = b.staging if b.staging is not None else ks.storage.staging
    if staging:
        b.reclaim = list(b.reclaim if b.reclaim is not None else ks.storage.reclaim)
        b.reclaim.extend(staging)
        b.staging = []


def _loader(chunk, prefixes):
    """A writer function that creates the keys of `chunk` in the staging dbs."""
    def load(ks):
        for _, dbid, key, type_name, value, expire in chunk:
            prefix = prefixes[dbid]
            if ks.lookup_raw(key, prefix) is not None:
                raise LinkError("the snapshot holds key %r twice" % key[:60])
            try:
                ks.write_value(key, type_name, value, expire or 0, prefix=prefix)
            except CommandError:
                log.warning("Skipping key %r of type %s from the snapshot: type not supported",
                            key[:60], type_name)
        ks.events.clear()
        ks.touched.clear()
        return len(chunk)
    return load


def _text(b):
    return b.decode("utf-8", "replace")
