"""Server lifecycle: config, daemonize, storage, listeners, periodic work, graceful stop.

Lifecycle contract (DESIGN.md habit 8): signal handlers only set a flag; a stop closes the
listeners, lets commands already handed to the writer commit and reply, closes the clients,
syncs and closes LMDB, removes the pidfile and unix socket, and exits 0.

Periodic work runs from one cron greenlet at `hz`: the active expire cycle (time-bounded,
through the writer, DELs propagated bare), reclaiming the records of flushed databases in
bounded slices, trimming the replication log by size and age, the `everysec` sync, and client
idle timeouts.
"""

import binascii
import logging
import os
import signal
import socket
import sys
import syslog
import threading
import time

import gevent
import gevent.event
from gevent import socket as gsocket

from kvstore import __version__, durable, errors
from kvstore.config import Config, ConfigError
from kvstore.errors import CommandError

log = logging.getLogger("kvstore")

NODE_ID_FILE = "kvstore-node.id"
EXPIRE_KEYS_PER_CALL = 1000
EXPIRE_CALL_BUDGET = 0.005
RECLAIM_RECORDS_PER_SLICE = 2000


class RedisLogFormatter(logging.Formatter):
    """`pid:M 21 Nov 2026 14:21:12.123 * message`, Redis's log line shape."""

    _MARK = {logging.DEBUG: ".", logging.INFO: "-", logging.WARNING: "#", logging.ERROR: "#",
             logging.CRITICAL: "#"}
    _NOTICE = 25
    role_char = "M"          # "S" while this node is a replica, as in Redis's log lines

    def format(self, record):
        t = time.localtime(record.created)
        ms = int(record.msecs)
        mark = "*" if record.levelno == self._NOTICE else self._MARK.get(record.levelno, "*")
        line = "%d:%s %s.%03d %s %s" % (os.getpid(), self.role_char,
                                        time.strftime("%d %b %Y %H:%M:%S", t), ms, mark,
                                        record.getMessage())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


logging.addLevelName(25, "NOTICE")
_LEVELS = {"debug": logging.DEBUG, "verbose": logging.INFO, "notice": 25,
           "warning": logging.WARNING, "nothing": logging.CRITICAL + 10}


class SyslogHandler(logging.Handler):
    """syslog-enabled: every log line also goes to syslog(3) as Redis sends it (openlog with
    the ident, LOG_PID | LOG_NDELAY | LOG_NOWAIT and the facility; the bare message at the
    level's priority). Without a syslog daemon the C library drops the lines, as for Redis."""

    _PRIORITY = {logging.DEBUG: syslog.LOG_DEBUG, logging.INFO: syslog.LOG_INFO,
                 25: syslog.LOG_NOTICE}

    def __init__(self, ident, facility):
        super().__init__()
        syslog.openlog(ident, syslog.LOG_PID | syslog.LOG_NDELAY | syslog.LOG_NOWAIT,
                       getattr(syslog, "LOG_" + facility.upper()))

    def emit(self, record):
        try:
            syslog.syslog(self._PRIORITY.get(record.levelno, syslog.LOG_WARNING),
                          record.getMessage())
        except Exception:           # noqa: BLE001 - logging must never take the server down
            self.handleError(record)


def setup_logging(cfg):
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    if cfg.logfile:
        handler = logging.FileHandler(cfg.logfile)
    else:
        handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(RedisLogFormatter())
    root.addHandler(handler)
    if cfg.syslog_enabled:
        root.addHandler(SyslogHandler(cfg.syslog_ident, cfg.syslog_facility))
    root.setLevel(_LEVELS.get(cfg.loglevel, 25))


def notice(msg, *args):
    log.log(25, msg, *args)


def daemonize():
    """Detach like redis-server: fork, setsid, stdio to /dev/null (before LMDB opens)."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    fd = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(fd, std)
    if fd > 2:
        os.close(fd)


class Server:
    def __init__(self, cfg, directory):
        from kvstore.dispatch import Writer
        from kvstore.storage import Storage
        self.cfg = cfg
        self.start_time = time.time()
        self.run_id = binascii.hexlify(os.urandom(20)).decode()
        self.executable = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
        self.storage = Storage(cfg, directory)
        self.writer = Writer(self)
        from replication.primary import Primary
        self._start_replication_state()
        self.primary = Primary(self)
        self.replica = None          # the ReplicaLink while this node follows a primary
        self.node_id = self._load_node_id(directory)
        self._remove_stale_transfer_files(directory)
        self.upstream_ids = []       # node ids of our primary and those above it (cycles)
        self.clients = {}
        self._next_client_id = 0
        self.listeners = []
        self._last_listen = None
        self.stop_event = gevent.event.Event()
        self.stop_reason = None
        self.stopping = False
        self.active_expire_enabled = True
        self.scan_cursors = {}
        from kvstore.commands.introspection import CommandStats
        from kvstore.commands.pubsub import PubSub
        self.pubsub = PubSub()
        self.stats = CommandStats(self)
        self.monitors = set()
        self.pause_until = 0.0
        self.pause_all = False
        self.unpaused = gevent.event.Event()
        self.watched = {}            # (pdb, key) -> clients watching it
        self.watched_pdbs = {}       # pdb -> clients watching some key in it
        self._next_cursor = 0
        self.peak_data = 0
        self.saves = 0
        self._expiring_found = False
        self.save_in_progress = False
        self.last_save_ok = True
        self.last_save_seconds = -1
        self._ops_window = (time.monotonic(), 0, 0)
        # (counter values at the window start, rates in kbps) for the instantaneous_*_kbps
        self._net_window = ((0, 0, 0, 0), (0.0, 0.0, 0.0, 0.0))
        self.reset_stats()
        self.changes_at_save = 0
        self._install_config_hooks()
        from kvstore.connection import RECV_SIZE
        self.recv_buffer = bytearray(RECV_SIZE)     # shared by all clients (Client.serve)
        self._output_queue = []      # clients with replies to write (Client.send)
        self._loop = gevent.get_hub().loop

    def queue_output(self, client):
        """`client` has output to write at the end of this loop iteration: a hub callback
        (run before the loop polls again, after every greenlet that was made runnable, the
        writer's batch included) writes all of it (Client.send)."""
        if not self._output_queue:
            self._loop.run_callback(self._write_output)
        self._output_queue.append(client)

    def _write_output(self):
        queue, self._output_queue = self._output_queue, []
        for client in queue:
            client.write_pending()

    # ---- runtime configuration -------------------------------------------------------------
    def _install_config_hooks(self):
        """Apply CONFIG SET of the options that need action (the rest are read live)."""
        cfg = self.cfg
        listen_hook = self._relisten
        cfg.on_change("port", listen_hook)
        cfg.on_change("bind", listen_hook)
        cfg.on_change("loglevel", lambda c, n: logging.getLogger().setLevel(
            _LEVELS.get(c.loglevel, 25)))

        def bulk_len(c, n):
            for client in self.clients.values():
                client.parser.max_bulk_len = c.proto_max_bulk_len
        cfg.on_change("proto-max-bulk-len", bulk_len)
        cfg.on_change("notify-keyspace-events", lambda c, n: self._apply_notify_config())
        self._apply_notify_config()

    def _apply_notify_config(self):
        """Keyspace notifications: which event classes are on (nothing unless K or E)."""
        flags = self.cfg.notify_keyspace_events or ""
        self.notify_keyspace = "K" in flags
        self.notify_keyevent = "E" in flags
        classes = flags.replace("A", "g$lshzxetd").replace("K", "").replace("E", "")
        st = self.storage
        st.notify_classes = classes if (self.notify_keyspace or self.notify_keyevent) else ""
        st.on_events = self._publish_events

    def _publish_events(self, events):
        publish = self.pubsub.publish
        for event, key, db in events:
            if self.notify_keyspace:
                publish(b"__keyspace@%d__:%s" % (db, key), event)
            if self.notify_keyevent:
                publish(b"__keyevent@%d__:%s" % (db, event), key)

    def _relisten(self, cfg, name):
        """Bind the new TCP listeners first; only when all succeed, swap them in (Redis's
        changeListener does the same). Raises ConfigError to roll the change back."""
        if not self.listeners:
            return                        # not serving yet: serve_forever binds
        old = [(s, k) for s, k in self.listeners if k == "tcp"]
        keep = [(s, k) for s, k in self.listeners if k != "tcp"]
        for s, _ in old:
            s.close()                     # free the port (it may be the same one)
        gevent.sleep(0)                   # gevent closes a socket with waiters in a callback
        self.listeners = list(keep)
        failed = None
        try:
            self._listen(tcp_only=True)
        except OSError as e:
            log.warning("CONFIG SET %s failed to listen: %s", name, e)
            failed = ConfigError(errors.CFG_APPLY_PORT if name == "port"
                                 else errors.CFG_APPLY_BIND)
            self.listeners = list(keep)
            try:
                self._listen(tcp_only=True, cfg_override=self._last_listen)
            except OSError:
                log.error("could not restore the previous listeners")
        for sock, kind in self.listeners:
            if all(sock is not k for k, _ in keep):
                gevent.spawn(self._accept_loop, sock, kind)
        if failed is not None:
            raise failed

    # ---- CLIENT PAUSE ----------------------------------------------------------------------
    def pause(self, seconds, all_commands):
        self.pause_until = max(self.pause_until, time.monotonic() + seconds)
        self.pause_all = all_commands

    def unpause(self):
        self.pause_until = 0.0
        self.unpaused.set()
        self.unpaused.clear()

    def wait_unpaused(self, writes):
        """Block the calling client greenlet while a CLIENT PAUSE covers its commands."""
        while True:
            left = self.pause_until - time.monotonic()
            if left <= 0 or not (self.pause_all or writes):
                return
            self.unpaused.wait(left)

    # ---- WATCH ---------------------------------------------------------------------------------
    def watch(self, client, pdb, key, expire_ms):
        if (pdb, key) in client.watching:
            return
        client.watching[(pdb, key)] = expire_ms
        self.watched.setdefault((pdb, key), set()).add(client)
        self.watched_pdbs.setdefault(pdb, set()).add(client)
        self.storage.on_touch = self._on_touch

    def unwatch_all(self, client):
        for (pdb, key) in client.watching:
            watchers = self.watched.get((pdb, key))
            if watchers is not None:
                watchers.discard(client)
                if not watchers:
                    del self.watched[(pdb, key)]
            watchers = self.watched_pdbs.get(pdb)
            if watchers is not None:
                watchers.discard(client)
                if not watchers:
                    del self.watched_pdbs[pdb]
        client.watching = {}
        client.watch_dirty = False
        if not self.watched:
            self.storage.on_touch = None          # no watchers: writes skip the hook

    def _on_touch(self, touched):
        """A write changed these (pdb, key) (key None = the whole db): invalidate WATCHes."""
        for pdb, key in touched:
            if key is None:
                for c in self.watched_pdbs.get(pdb, ()):
                    c.watch_dirty = True
            else:
                for c in self.watched.get((pdb, key), ()):
                    c.watch_dirty = True

    def watch_invalid(self, client):
        """EXEC must abort: a watched key was written, or expired since WATCH."""
        if client.watch_dirty:
            return True
        now = int(time.time() * 1000)
        return any(exp and exp <= now for exp in client.watching.values())

    # ---- stats -------------------------------------------------------------------------------
    def reset_stats(self):
        if hasattr(self, "stats"):
            self.stats.reset()
        self.stat_commands = 0
        self.stat_connections = 0
        self.stat_rejected = 0
        self.stat_expired_keys = 0
        self.stat_protocol_errors = 0
        self.stat_lazyfreed = 0
        self.stat_keyspace_hits = 0
        self.stat_keyspace_misses = 0
        self.stat_net_in = self.stat_net_out = 0           # client traffic, bytes
        self.stat_reads = self.stat_writes = 0             # recv / send calls on clients
        self.stat_expire_cycle_seconds = 0.0
        self.stat_net_repl_in = self.stat_net_repl_out = 0  # replication traffic, bytes
        self._net_window = ((0, 0, 0, 0), (0.0, 0.0, 0.0, 0.0))
        if hasattr(self, "primary"):
            self.primary.sync_full = self.primary.sync_partial_ok = 0
            self.primary.sync_partial_err = 0

    def ops_per_sec(self):
        return self._ops_window[2]

    def net_counters(self):
        return (self.stat_net_in, self.stat_net_out, self.stat_net_repl_in,
                self.stat_net_repl_out)

    def net_kbps(self):
        """instantaneous input, output, repl input, repl output kbps (last second)."""
        return self._net_window[1]

    def now(self):
        return time.time()

    def next_client_id(self):
        self._next_client_id += 1
        return self._next_client_id

    # ---- replication ---------------------------------------------------------------------
    @staticmethod
    def _load_node_id(directory):
        """This node's permanent id among kvstore nodes (cycle detection), kept beside the
        environment (a native full sync replaces the environment, not the node)."""
        path = os.path.join(directory, NODE_ID_FILE)
        try:
            with open(path) as f:
                node_id = f.read().strip()
            if len(node_id) == 40:
                return node_id
        except OSError:
            pass
        node_id = os.urandom(20).hex()
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(node_id + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
        return node_id

    def _remove_stale_transfer_files(self, directory):
        """Snapshot and transfer files a crash left in `dir` (never needed after a restart:
        a new sync makes new ones)."""
        for name in os.listdir(directory):
            if (name.startswith("temp-") and (name.endswith((".rdb", ".mdb"))
                                              or ".tmp-" in name)) \
                    or (name.startswith(self.cfg.dbfilename + ".tmp-")):
                try:
                    os.unlink(os.path.join(directory, name))
                    log.info("Removed a stale transfer file: %s", name)
                except OSError:
                    pass

    def _start_replication_state(self):
        """A primary that restarts keeps its log but starts a new history id, remembering the
        old one as replid2 up to its last offset, so its replicas continue with +CONTINUE
        (Redis 7.0's restart rule, fact sheet 2.5; here it also holds after kill -9)."""
        st = self.storage
        if self.cfg.replicaof is not None:
            st.log_effects = False
        elif st.repl_offset > 0:
            st.shift_repl_ids()
            log.info("Replication ids: %s (previous history %s up to offset %d)",
                     st.replid, st.replid2, st.second_offset - 1)

    def check_can_serve_sync(self):
        """Raise the error a SYNC/PSYNC gets when this node cannot serve replicas now."""
        if self.replica is not None and self.replica.state != "connected":
            raise CommandError(errors.NOMASTERLINK)

    def is_replica(self):
        return self.replica is not None

    def read_only_replica(self):
        return self.replica is not None and self.cfg.replica_read_only

    def on_getack(self, client):
        """REPLCONF GETACK from a client: only the primary's stream asks for an ACK, and the
        replica link answers it before applying it (replication/replica.py)."""

    def role_reply(self):
        if self.replica is not None:
            return self.replica.role_reply()
        return [b"master", self.storage.repl_offset, self.primary.role_replicas()]

    def replicate_from(self, host, port):
        """REPLICAOF host port: (re)point this node at a primary. Our own replid and offset
        go into the PSYNC, so a promoted sibling or a former replica can continue us."""
        from replication.replica import ReplicaLink
        if self.replica is not None:
            self.replica.stop()
        self.storage.log_effects = False
        RedisLogFormatter.role_char = "S"
        self.replica = ReplicaLink(self, host, port).start()
        notice("REPLICAOF %s:%d enabled", host, port)

    def is_own_address(self, host, port):
        """Whether host:port reaches this very server (REPLICAOF at itself is refused)."""
        if port != self.cfg.port:
            return False
        try:
            addrs = {ai[4][0] for ai in gsocket.getaddrinfo(host, port)}
        except OSError:
            return False
        local = {"0.0.0.0", "::"}
        for b in self.cfg.bind:
            local.add(b.lstrip("-"))
        try:
            local.update(gsocket.gethostbyname_ex(gsocket.gethostname())[2])
        except OSError:
            pass
        return any(a in local or a.startswith("127.") or a == "::1" for a in addrs)

    def promote(self):
        """REPLICAOF NO ONE: stop following, keep the data, start a new history (replid2 =
        the old one up to our offset) so siblings re-pointed at us get +CONTINUE."""
        if self.replica is None:
            return
        self.replica.stop()
        self.replica = None
        self.upstream_ids = []
        RedisLogFormatter.role_char = "M"
        st = self.storage
        st.shift_repl_ids()
        st.log_stream_db = -1                # the next write re-emits SELECT
        st.log_effects = True
        self.primary.disconnect_all("this node was promoted to primary")
        notice("MASTER MODE enabled (replication ID %s, previous %s up to offset %d)",
               st.replid, st.replid2, st.second_offset - 1)

    def role_name(self):
        return "slave" if self.replica is not None else "master"

    def supervised_mode(self):
        return "no"

    def clients_sorted(self):
        return sorted(self.clients.values(), key=lambda c: c.id)

    def client_closed(self, client):
        self.clients.pop(client.id, None)
        self.monitors.discard(client)
        self.primary.client_closed(client)

    def info_text(self, sections, ks):
        from kvstore.info import info_text
        return info_text(self, sections, ks)

    def scan_cursor_for(self, pdb, table_key):
        """A SCAN cursor id that resumes after `table_key` in physical db `pdb`."""
        self._next_cursor += 1
        cid = self._next_cursor
        self.scan_cursors[(cid, pdb)] = table_key
        if len(self.scan_cursors) > 100000:
            for k in list(self.scan_cursors)[:10000]:
                del self.scan_cursors[k]
        return cid

    def after_flush(self):
        self.storage.invalidate_size()

    def after_environment_replaced(self):
        """A native full sync swapped the whole environment: every WATCH is void, every
        SCAN cursor meaningless, and the storage hooks must be set again."""
        for clients in self.watched_pdbs.values():
            for c in clients:
                c.watch_dirty = True
        for clients in self.watched.values():
            for c in clients:
                c.watch_dirty = True
        self.scan_cursors.clear()

    # ---- persistence -------------------------------------------------------------------------
    def save(self, write_rdb=True):
        """SAVE/BGSAVE: every committed write is on stable storage when this returns; with
        `write_rdb` also an RDB of the dataset at `dbfilename` in `dir` (backups, migration
        out), written by a snapshot helper process while the server keeps serving."""
        from replication.primary import save_snapshot
        self.writer.call(lambda ks: None)          # anything queued commits first
        changes = self.storage.changes
        self.storage.mark_saved()
        if write_rdb:
            path = os.path.join(self.storage.directory, self.cfg.dbfilename)
            t0 = time.monotonic()
            self.save_in_progress = True
            try:
                offset, size = save_snapshot(self.storage, self.cfg, path)
            except RuntimeError as e:
                self.last_save_ok = False
                log.warning("Saving %s failed: %s", path, e)
                raise
            finally:
                self.save_in_progress = False
            self.last_save_ok = True
            self.last_save_seconds = int(time.monotonic() - t0)
            notice("DB saved on disk: %s (%d bytes, replication offset %d)", path, size,
                   offset)
        self.saves += 1
        self.changes_at_save = changes

    def bgsave(self):
        """BGSAVE: start `save` in the background (False when one is already running)."""
        if self.save_in_progress:
            return False
        self.save_in_progress = True

        def run():
            try:
                self.save()
            except Exception:                   # noqa: BLE001 - logged by save()
                pass
        gevent.spawn(run)
        return True

    @property
    def dirty(self):
        """Changes since the last SAVE (INFO rdb_changes_since_last_save)."""
        return self.storage.changes - self.changes_at_save

    # ---- listeners ---------------------------------------------------------------------------
    def _listen(self, tcp_only=False, cfg_override=None):
        cfg = self.cfg
        port, binds = cfg_override or (cfg.port, list(cfg.bind))
        new = []
        if port:
            for addr in binds:
                optional = addr.startswith("-")
                host = addr[1:] if optional else addr
                family = gsocket.AF_INET6 if ":" in host else gsocket.AF_INET
                if host == "*":                      # Redis: all IPv4 interfaces
                    host = "0.0.0.0"
                elif host == "::*":                  # Redis: all IPv6 interfaces
                    host = "::"
                sock = gsocket.socket(family, gsocket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == gsocket.AF_INET6:
                    try:
                        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    except OSError:
                        pass
                try:
                    sock.bind((host, port))
                    sock.listen(cfg.tcp_backlog)
                except OSError as e:
                    sock.close()
                    if optional or e.errno in (97, 99):    # EAFNOSUPPORT, EADDRNOTAVAIL
                        log.warning("Could not create server TCP listening socket %s:%d: %s",
                                    host, port, e.strerror)
                        if optional:
                            continue
                    for s, _ in new:
                        s.close()
                    raise
                new.append((sock, "tcp"))
        self.listeners.extend(new)
        self._last_listen = (port, binds)
        if tcp_only:
            return
        if cfg.unixsocket:
            path = cfg.unixsocket
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            sock = gsocket.socket(gsocket.AF_UNIX, gsocket.SOCK_STREAM)
            sock.bind(path)
            if cfg.unixsocketperm:
                os.chmod(path, cfg.unixsocketperm)
            sock.listen(cfg.tcp_backlog)
            self.listeners.append((sock, "unix"))
        if not self.listeners:
            raise OSError("no listening sockets: check bind/port/unixsocket")

    def _accept_loop(self, lsock, kind):
        from kvstore.connection import Client, refuse
        while not self.stopping:
            try:
                sock, peer = lsock.accept()
            except OSError:
                if self.stopping or all(lsock is not s for s, _ in self.listeners):
                    return                      # closed by shutdown or CONFIG SET port/bind
                gevent.sleep(0.01)
                continue
            self.stat_connections += 1
            if kind == "tcp":
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.cfg.tcp_keepalive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                    try:
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE,
                                        self.cfg.tcp_keepalive)
                    except OSError:
                        pass
                addr = _fmt_addr(peer)
                laddr = _fmt_addr(sock.getsockname())
            else:
                addr = "/unixsocket:0"
                laddr = self.cfg.unixsocket + ":0"
            if len(self.clients) >= self.cfg.maxclients:
                self.stat_rejected += 1
                refuse(sock, errors.MAX_CLIENTS)
                continue
            if kind == "tcp" and self._protected_refusal(peer):
                self.stat_rejected += 1
                refuse(sock, errors.DENIED_PROTECTED)
                continue
            client = Client(self, sock, addr, laddr, kind)
            self.clients[client.id] = client
            client.greenlet = gevent.spawn(client.serve)

    def _protected_refusal(self, peer):
        return protected_mode_refuses(self.cfg.protected_mode, self.cfg.requirepass, peer[0])

    # ---- periodic work -----------------------------------------------------------------------
    def _durable_point_loop(self):
        """A plain OS thread: a durable point (Storage.checkpoint) every
        durable.INTERVAL[appendfsync] seconds; with `always` every commit makes one.
        (Not gevent's threadpool: its idle workers poll for work and contend for the GIL,
        which py-lmdb releases on every get and put; measured: GET at pipeline 1 fell from
        about 70k to 40k ops/s.) The fsyncs run beside the hub's commits."""
        st = self.storage
        while not self.syncer_stop.wait(1.0):
            interval = durable.INTERVAL.get(self.cfg.appendfsync)
            if interval is None or time.monotonic() - st.durable_mono < interval:
                continue
            try:
                st.checkpoint()
            except Exception:
                log.exception("durable point failed (the previous one still holds)")

    def _cron(self):
        last_slow = 0.0
        while not self.stopping:
            gevent.sleep(1.0 / max(1, self.cfg.hz))
            if self.stopping:
                return
            try:
                if self.active_expire_enabled and not self.is_replica():
                    self._active_expire()
                if self.storage.reclaim or self.storage.reclaim_keyids:
                    self._reclaim_slice()
                now = time.monotonic()
                if now - last_slow >= 1.0:
                    last_slow = now
                    self._every_second()
            except Exception:
                log.exception("periodic task failed")

    def _every_second(self):
        mono = time.monotonic()
        t0, c0, _ = self._ops_window
        if mono - t0 >= 1.0:
            self._ops_window = (mono, self.stat_commands,
                                int((self.stat_commands - c0) / (mono - t0)))
            now_counts = self.net_counters()
            before, _ = self._net_window
            self._net_window = (now_counts, tuple(
                (a - b) / 1024.0 / (mono - t0) for a, b in zip(now_counts, before)))
        self.peak_data = max(self.peak_data, self.storage.data_size())
        if self.cfg.timeout:
            limit = time.time() - self.cfg.timeout
            for c in list(self.clients.values()):
                if c.last_active < limit and c.repl_link is None:
                    log.info("Closing idle client id=%d addr=%s", c.id, c.addr)
                    c.kill()
        self.primary.cron()
        self._trim_log()

    def _active_expire(self):
        """Expire due keys from the ordered expiry index of every db (Redis's active expire
        cycle, but exact instead of sampled). Each writer call removes at most
        EXPIRE_KEYS_PER_CALL keys or runs EXPIRE_CALL_BUDGET seconds; calls repeat while keys
        remain due, up to a quarter of the cron period, so expiry keeps up without ever
        holding the writer for long. active-expire-effort E raises both as Redis scales its
        cycle: keys per call by a quarter and the share of the period by 2 points per step
        above 1. Each DEL/UNLINK is its own propagated unit."""
        st = self.storage
        todo = [db for db in range(self.cfg.databases) if st.counts_of(st.dbmap[db])[1]]
        if not todo:
            return
        del_cmd = b"UNLINK" if self.cfg.lazyfree_lazy_expire else b"DEL"
        effort = self.cfg.active_expire_effort - 1
        keys_per_call = EXPIRE_KEYS_PER_CALL + EXPIRE_KEYS_PER_CALL // 4 * effort

        def expire_some(ks):
            ks.unwrapped = True
            n = 0
            deadline = time.monotonic() + EXPIRE_CALL_BUDGET
            for db in todo:
                ks.select(db)
                while n < keys_per_call and time.monotonic() < deadline:
                    due = ks.expired_keys(ks.prefix, 64)
                    if not due:
                        break
                    for key, rec in due:
                        ks.remove_expired(key, rec)
                        ks.propagate([del_cmd, key])
                    n += len(due)
            return n

        stop_at = time.monotonic() + (0.25 + 0.02 * effort) / max(1, self.cfg.hz)
        while True:
            t0 = time.monotonic()
            n = self.writer.call(expire_some)
            self.stat_expire_cycle_seconds += time.monotonic() - t0
            self.stat_expired_keys += n
            if n < keys_per_call or time.monotonic() >= stop_at or self.stopping:
                return
            gevent.sleep(0)

    def expire_found_keys(self):
        """Delete, in the next write batch, the expired keys that reads came across (each
        with its propagated DEL). At most one such batch is pending at a time."""
        if self._expiring_found:
            return
        self._expiring_found = True

        def run():
            try:
                keys, self.storage.expire_soon = self.storage.expire_soon, []

                def expire(ks):
                    ks.unwrapped = True          # each DEL goes bare, as Redis sends it
                    for db, key in keys:
                        ks.select(db)
                        ks.lookup(key)
                self.writer.call(expire)
            except Exception:                    # noqa: BLE001 - the active cycle still runs
                log.exception("expiring keys found by reads failed")
            finally:
                self._expiring_found = False
        gevent.spawn(run)

    def _reclaim_slice(self):
        """Delete a bounded slice of what FLUSHDB/FLUSHALL and big DELs left behind: the
        records of the first flushed physical db (collections among them put their key ids
        on the list), then the elements of the first dropped collection."""
        from kvstore.keyspace import TYPE_MASK, TYPE_STRING, _pdb_prefix

        def reclaim(ks):
            st = ks.storage
            batch = ks.batch
            n = 0
            pending = list(batch.reclaim if batch.reclaim is not None else st.reclaim)
            if pending:
                pdb = pending[0]
                prefix = _pdb_prefix(pdb)
                cur = ks.txn.cursor(db=st.meta_db)
                if cur.set_range(prefix):
                    while n < RECLAIM_RECORDS_PER_SLICE and cur.key()[:4] == prefix:
                        rec = cur.value()
                        if rec[0] & TYPE_MASK != TYPE_STRING:
                            ks.free_elements(rec, defer=True)
                        if not cur.delete():
                            break
                        n += 1
                cur = ks.txn.cursor(db=st.expires_db)
                if n < RECLAIM_RECORDS_PER_SLICE and cur.set_range(prefix):
                    while n < RECLAIM_RECORDS_PER_SLICE and cur.key()[:4] == prefix:
                        if not cur.delete():
                            break
                        n += 1
                if n < RECLAIM_RECORDS_PER_SLICE:
                    pending.pop(0)
                    batch.reclaim = pending
                    batch.counts[pdb] = [0, 0]
                return n
            kids = list(batch.reclaim_keyids if batch.reclaim_keyids is not None
                        else st.reclaim_keyids)
            if kids:
                head = kids[0].to_bytes(8, "big")
                cur = ks.txn.cursor(db=st.elems_db)
                if cur.set_range(head):
                    while n < RECLAIM_RECORDS_PER_SLICE and cur.key()[:8] == head:
                        if not cur.delete():
                            break
                        n += 1
                if n < RECLAIM_RECORDS_PER_SLICE:
                    kids.pop(0)
                    batch.reclaim_keyids = kids
            return n

        self.stat_lazyfreed += self.writer.call(reclaim)

    def log_retention(self):
        """Bytes of log kept: repl-log-max-size, with a Redis config's repl-backlog-size as
        a floor."""
        return max(self.cfg.repl_log_max_size, self.cfg.repl_backlog_size)

    def _trim_log(self):
        """Drop the oldest replication-log records beyond the retention size / age, except
        what a replica still needs (up to twice the retention size; see Primary)."""
        st = self.storage
        max_size = self.log_retention()
        max_age_ms = self.cfg.repl_log_max_age * 1000
        self.primary.enforce_hold_cap(2 * max_size)
        keep_from = self.primary.log_floor()

        def trim(ks):
            return st.trim_log(ks.txn, max_size, max_age_ms, keep_from)

        if st.log_needs_trim(max_size, max_age_ms):
            self.writer.call(trim)

    # ---- lifecycle ---------------------------------------------------------------------------
    def request_shutdown(self, reason):
        if not self.stop_reason:
            self.stop_reason = reason
        self.stop_event.set()

    def serve_forever(self):
        self._listen()
        for sock, kind in self.listeners:
            gevent.spawn(self._accept_loop, sock, kind)
        cron = gevent.spawn(self._cron)
        self.syncer_stop = threading.Event()
        self.syncer = threading.Thread(target=self._durable_point_loop,
                                       name="durable-points", daemon=True)
        self.syncer.start()
        gevent.signal_handler(signal.SIGTERM, self.request_shutdown, "SIGTERM")
        gevent.signal_handler(signal.SIGINT, self.request_shutdown, "SIGINT")
        if self.cfg.replicaof is not None:
            self.replicate_from(*self.cfg.replicaof)
        notice("Server initialized")
        notice("Ready to accept connections (port %d)", self.cfg.port)
        self.stop_event.wait()
        self.shutdown()
        cron.kill(block=False)

    def shutdown(self):
        notice("User requested shutdown... (%s)", self.stop_reason)
        self.stopping = True
        for sock, _ in self.listeners:
            try:
                sock.close()
            except OSError:
                pass
        if self.replica is not None:
            self.replica.stop()              # what it applied is committed; it resumes there
        self.primary.shutdown()
        # Commands already handed to the writer commit and reply first.
        try:
            self.writer.call(lambda ks: None)
        except Exception:
            log.exception("final commit failed")
        deadline = time.monotonic() + 2.0
        for c in list(self.clients.values()):
            c.kill()
        for c in list(self.clients.values()):
            if c.greenlet is not None:
                c.greenlet.join(timeout=max(0.0, deadline - time.monotonic()))
        if getattr(self, "syncer", None) is not None:
            self.syncer_stop.set()
            self.syncer.join(timeout=5)
        self.storage.close()
        if self.cfg.unixsocket:
            try:
                os.unlink(self.cfg.unixsocket)
            except OSError:
                pass
        if self.cfg.pidfile:
            try:
                os.unlink(self.cfg.pidfile)
            except OSError:
                pass
        notice("kvstore is now ready to exit, bye bye...")


def protected_mode_refuses(protected_mode, requirepass, host):
    """Redis 7.0's protected mode: with no password, only loopback peers may connect."""
    if not protected_mode or requirepass:
        return False
    return not (host.startswith("127.") or host == "::1" or host.startswith("::ffff:127."))


def _fmt_addr(sa):
    if len(sa) >= 4 or ":" in sa[0]:
        return "[%s]:%d" % (sa[0], sa[1]) if ":" in sa[0] else "%s:%d" % (sa[0], sa[1])
    return "%s:%d" % (sa[0], sa[1])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(Config().help_text())
        return 0
    if argv and argv[0] in ("-v", "--version"):
        print("kvstore server v=%s (implements Redis 7.0.15 behaviour)" % __version__)
        return 0
    try:
        cfg = Config.from_argv(argv)
    except ConfigError as e:
        sys.stderr.write("\n*** FATAL CONFIG FILE ERROR (kvstore %s) ***\n%s\n" % (__version__, e))
        return 1
    if cfg.daemonize:
        daemonize()
    setup_logging(cfg)
    try:
        os.chdir(cfg.dir_abs)
    except OSError as e:
        log.error("Can't chdir to '%s': %s", cfg.dir_abs, e.strerror)
        return 1
    ignored = cfg.ignored_options_set()
    if ignored:
        notice("Accepted but not applied by kvstore (kept for CONFIG GET): %s",
               ", ".join(ignored))
    if cfg.pidfile:
        with open(cfg.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    notice("kvstore %s starting (Redis %s compatible), pid=%d", __version__, "7.0.15",
           os.getpid())
    try:
        server = Server(cfg, os.getcwd())
    except Exception as e:
        log.error("Cannot open the data store in '%s': %s", os.getcwd(), e)
        return 1
    try:
        server.serve_forever()
    except OSError as e:
        log.error("Could not start listening: %s", e)
        server.storage.close()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

