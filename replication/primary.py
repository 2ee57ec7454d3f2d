"""The primary side of replication: PSYNC/SYNC, full syncs from snapshots, one feeder greenlet
per replica streaming the on-disk log, ACKs, WAIT and min-replicas-to-write.

Contracts:
- The log is the backlog. A replica is served from byte `offset` of the log; every byte it
  still needs is held against trimming (`log_floor`), up to a hard cap of twice the retention
  size, past which the replica is dropped with a log line (it will full-sync).
- A full sync is one snapshot (replication/snapshot.py, a helper process holding one LMDB read
  transaction) at log offset O: `+FULLRESYNC <replid> O`, the payload, then the log from O+1.
  Nothing is buffered per replica, so a full sync can never overflow and loop.
- Feeders and transfers only read committed state and write sockets: they never touch the
  writer. PINGs and GETACKs are appended to the log through the writer like any effect.
- Nothing here blocks the hub: a slow or dead replica only stalls its own greenlet, bounded by
  `repl-timeout` on its socket.
"""

import collections
import logging
import os
import socket
import sys
import time

import gevent
from gevent import subprocess
from gevent.event import Event

from kvstore.resp import encode_command
from kvstore.storage import iter_log_table

log = logging.getLogger("kvstore.replication")
NOTICE = 25                     # the "notice" log level (kvstore.server)

PING = encode_command([b"ping"])
GETACK = encode_command([b"REPLCONF", b"GETACK", b"*"])
FEED_CHUNK = 1 << 20            # bytes of log sent per socket write
TRANSFER_CHUNK = 1 << 18
FANOUT_WAIT_AT = 8 << 20          # see FanOut
FANOUT_DROP_AT = 64 << 20
EOF_MARK_LEN = 40
NATIVE_CAPA = "kvstore-native"
# REPLCONF kvstore-node-id <id>: a kvstore replica names itself; a kvstore primary refuses it
# when it is itself or above it in the chain (a cycle), else answers +OK <its id> <ids above>.
NODE_ID_OPTION = b"kvstore-node-id"


class LogTrimmed(Exception):
    """The log no longer holds an offset a replica needs."""


class ReplicaLink:
    """One connected replica (a client that sent SYNC or PSYNC)."""

    def __init__(self, client, info, legacy):
        self.client = client
        self.legacy = legacy                     # SYNC: no offsets, no ACKs expected
        self.port = info.get("listening-port", 0)
        self.ip = info.get("ip-address") or client.addr.rsplit(":", 1)[0].strip("[]")
        self.capa = info.get("capa", set())
        self.rdb_only = info.get("rdb-only", False)
        self.state = "wait_bgsave"
        self.ack_off = 0
        self.ack_time = time.time()
        self.need_from = None                    # first log byte still to send (trim hold)
        self.first_ack = Event()
        self.transfer_done = Event()             # diskless: all of the payload sent
        self.greenlet = None
        self.closed = False

    def describe(self):
        return "%s:%s" % (self.ip, self.port)


def _held_from(link):
    """The first log byte `link` may still need: what it has not been sent, or for an online
    replica that ACKs, what it has not acknowledged (bytes in socket buffers die with it)."""
    if link.legacy or link.state != "online":
        return link.need_from
    return min(link.need_from, link.ack_off + 1)


class SnapshotJob:
    """One helper process producing one snapshot, shared by the replicas attached to it."""

    def __init__(self, primary, diskless, fmt):
        self.primary = primary
        self.diskless = diskless
        self.format = fmt
        self.links = []
        self.started = False
        self.header = Event()
        self.done = Event()
        self.error = None
        self.replid = None
        self.offset = None
        self.hold = primary.storage.repl_offset + 1     # the snapshot's offset is >= this
        self.path = None
        self.size = 0
        self.users = 0
        self.proc = None


class FanOut:
    """One diskless snapshot to several replicas: a sender greenlet per replica with its own
    queue, so a slow replica never stalls the others. The producer waits while even the
    fastest replica has FANOUT_WAIT_AT bytes queued (the network sets the pace); a replica
    more than FANOUT_DROP_AT bytes behind is dropped (it will retry and full-sync again)."""

    def __init__(self, primary, links):
        self.primary = primary
        self.senders = [_Sender(self, link) for link in links]
        self.progress = Event()

    def alive(self):
        return any(not s.failed for s in self.senders)

    def put(self, data):
        live = [s for s in self.senders if not s.failed]
        if len(live) == 1:                       # the common case: no queue at all
            live[0].send_now(data)
            return
        for s in live:
            s.queue(data)
            if s.pending > FANOUT_DROP_AT:
                s.fail("it is too slow: %d bytes of the snapshot queued for it" % s.pending)
        while True:
            live = [s for s in self.senders if not s.failed]
            if not live or min(s.pending for s in live) <= FANOUT_WAIT_AT:
                return
            self.progress.clear()
            self.progress.wait(1.0)

    def finish(self):
        """Everything is queued: each replica is done when its own queue drains."""
        for s in self.senders:
            s.close()

    def abort(self):
        for s in self.senders:
            if s.greenlet is not None:
                s.greenlet.kill(block=False)


class _Sender:
    def __init__(self, fan, link):
        self.fan = fan
        self.link = link
        self.chunks = collections.deque()
        self.pending = 0
        self.wake = Event()
        self.closed = False
        self.failed = link.closed
        self.greenlet = None

    def send_now(self, data):
        try:
            self.link.client.sock.sendall(data)
        except Exception as e:                   # noqa: BLE001
            self.failed = True
            self.fan.primary._link_failed(self.link, e)

    def queue(self, data):
        self.chunks.append(data)
        self.pending += len(data)
        if self.greenlet is None:
            self.greenlet = gevent.spawn(self._run)
        self.wake.set()

    def close(self):
        self.closed = True
        if self.greenlet is None:
            if not self.failed:
                self.link.transfer_done.set()    # sent directly (send_now)
        else:
            self.wake.set()

    def fail(self, reason):
        self.failed = True
        self.chunks.clear()
        self.pending = 0
        self.fan.primary._drop(self.link, reason)

    def _run(self):
        sock = self.link.client.sock
        try:
            while not self.failed:
                while self.chunks:
                    data = self.chunks.popleft()
                    sock.sendall(data)
                    self.pending -= len(data)
                    self.fan.progress.set()
                if self.closed:
                    self.link.transfer_done.set()
                    return
                self.wake.clear()
                self.wake.wait()
        except Exception as e:                   # noqa: BLE001
            self.failed = True
            self.fan.primary._link_failed(self.link, e)
        finally:
            self.fan.progress.set()


class Primary:
    def __init__(self, server):
        self.server = server
        self.storage = server.storage
        self.cfg = server.cfg
        self.links = []
        self.jobs = []
        self.new_data = Event()
        self.ack_event = Event()
        self.last_ping = time.monotonic()
        self.getack_pending = False
        self.job_seq = 0
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0

    # ---- hooks from the server -------------------------------------------------------------
    def on_commit(self):
        """The writer committed bytes to the log: wake the feeders."""
        if self.links:
            ev, self.new_data = self.new_data, Event()
            ev.set()

    def client_closed(self, client):
        link = client.repl_link
        if link is not None:
            self._forget(link)

    def log_floor(self):
        """The first log offset some replica or running full sync still needs (None = none)."""
        holds = [_held_from(link) for link in self.links if link.need_from is not None]
        holds.extend(job.hold for job in self.jobs)
        return min(holds) if holds else None

    def enforce_hold_cap(self, cap):
        """Drop replicas holding more than `cap` bytes of log (they will full-sync)."""
        end = self.storage.repl_offset + 1
        for link in list(self.links):
            need = _held_from(link) if link.need_from is not None else None
            if need is not None and end - need > cap:
                self._drop(link, "it is %d bytes behind, more than the log may hold for it "
                                 "(2 x repl-log-max-size)" % (end - need))

    def cron(self):
        """Once a second: PING the replicas, time out silent ones."""
        if not self.links or self.server.is_replica():
            return
        now = time.monotonic()
        if now - self.last_ping >= self.cfg.repl_ping_replica_period:
            self.last_ping = now
            self.append_to_stream(PING)
        limit = time.time() - self.cfg.repl_timeout
        for link in list(self.links):
            if link.state == "online" and not link.legacy and link.client.last_active < limit:
                self._drop(link, "timeout: no ACK for more than %d seconds (repl-timeout)"
                           % self.cfg.repl_timeout)

    def append_to_stream(self, data):
        """Append keyless stream bytes (PING, GETACK) to the log through the writer."""
        def append(ks):
            ks.batch.log_parts.append(data)
        self.server.writer.call(append)

    # ---- SYNC / PSYNC ----------------------------------------------------------------------
    def sync_command(self, client, replid, offset, legacy):
        """Serve SYNC/PSYNC on `client`: from here on its socket belongs to the feeder."""
        if client.repl_link is not None:
            return None                              # already a replica: ignored, as Redis
        self.server.check_can_serve_sync()
        st = self.storage
        info = client.repl_info or {}
        link = ReplicaLink(client, info, legacy)
        client.repl_link = link
        # Writes to a replica that stops reading fail after repl-timeout (the reading side of
        # this connection waits on its own watcher and is not affected).
        client.sock.settimeout(self.cfg.repl_timeout)
        if self.cfg.repl_disable_tcp_nodelay:
            # Fewer, bigger packets to the replica at the cost of delay (Redis's option).
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        client.flags = "S"
        self.links.append(link)
        if not legacy and not link.rdb_only and self._can_continue(replid, offset):
            link.state = "online"
            link.need_from = offset
            self.sync_partial_ok += 1
            line = (b"+CONTINUE %s\r\n" % st.replid.encode() if "psync2" in link.capa
                    else b"+CONTINUE\r\n")
            log.log(NOTICE, "Partial resynchronization request from %s accepted. Sending %d bytes "
                     "of backlog starting from offset %d.", link.describe(),
                     st.repl_offset + 1 - offset, offset)
            link.greenlet = gevent.spawn(self._run_partial, link, line, offset)
            return None
        if not legacy and replid != "?":
            self.sync_partial_err += 1
            log.log(NOTICE, "Partial resynchronization not accepted for %s: %s", link.describe(),
                     self._refusal_reason(replid, offset))
        elif not legacy:
            log.log(NOTICE, "Full resync requested by replica %s", link.describe())
        self.sync_full += 1
        link.need_from = st.repl_offset + 1
        link.greenlet = gevent.spawn(self._run_full, link)
        return None

    def _can_continue(self, replid, offset):
        st = self.storage
        if replid.lower() != st.replid and not (
                replid.lower() == st.replid2 and offset <= st.second_offset):
            return False
        return st.log_first_offset() <= offset <= st.repl_offset + 1

    def _refusal_reason(self, replid, offset):
        st = self.storage
        if replid.lower() not in (st.replid, st.replid2):
            return "replication ID mismatch (replica asked for '%s', my replication IDs are " \
                   "'%s' and '%s')" % (replid, st.replid, st.replid2)
        if replid.lower() != st.replid and offset > st.second_offset:
            return "requested offset %d is past the end of the old history (%d)" % (
                offset, st.second_offset)
        if offset > st.repl_offset + 1:
            return "requested offset %d is ahead of my offset %d" % (offset, st.repl_offset)
        return "requested offset %d is no longer in the log (it starts at %d)" % (
            offset, st.log_first_offset())

    # ---- transfers -------------------------------------------------------------------------
    def _run_partial(self, link, line, offset):
        try:
            link.client.sock.sendall(line)
            self._stream(link, offset)
        except Exception as e:                   # noqa: BLE001 - any failure ends the link
            self._link_failed(link, e)

    def _run_full(self, link):
        try:
            fmt = "native" if NATIVE_CAPA in link.capa else "rdb"
            diskless = (self.cfg.repl_diskless_sync and "eof" in link.capa
                        and not link.legacy)
            job = self._job_for(link, diskless, fmt)
            sock = link.client.sock
            while not job.header.wait(1.0):
                if not diskless:                 # (the diskless job sends its own)
                    sock.sendall(b"\n")          # keepalive while waiting for the snapshot
            if job.error:
                raise RuntimeError(job.error)
            link.need_from = job.offset + 1
            if diskless:
                # The job's sender writes the payload to our socket; other replicas of the
                # same snapshot do not hold us up.
                while not link.transfer_done.wait(1.0):
                    if job.done.is_set() and (job.error or link.closed):
                        break
                if job.error or link.closed or not link.transfer_done.is_set():
                    raise RuntimeError(job.error or "transfer failed")
                if link.rdb_only:
                    self._finish_rdb_only(link)
                    return
                # A replica finds the end mark at the tail of what it read: send nothing
                # more until its first ACK (fact sheet 3.4).
                if not link.first_ack.wait(self.cfg.repl_timeout):
                    raise RuntimeError("no REPLCONF ACK after the diskless transfer")
            else:
                if not link.legacy:
                    sock.sendall(b"+FULLRESYNC %s %d\r\n" % (job.replid.encode(), job.offset))
                job.users += 1
                try:
                    while not job.done.wait(1.0):
                        sock.sendall(b"\n")
                    if job.error:
                        raise RuntimeError(job.error)
                    link.state = "send_bulk"
                    self._send_file(sock, job.path, job.size)
                finally:
                    job.users -= 1
                    self._release_job_file(job)
                if link.rdb_only:
                    self._finish_rdb_only(link)
                    return
            log.log(NOTICE, "Synchronization with replica %s succeeded (%s, offset %d)",
                     link.describe(), "diskless" if diskless else "disk", job.offset)
            self._stream(link, job.offset + 1)
        except Exception as e:                   # noqa: BLE001
            self._link_failed(link, e)

    def _finish_rdb_only(self, link):
        log.log(NOTICE, "RDB-only transfer to %s complete, closing the connection",
                link.describe())
        self._forget(link)
        link.client.kill()

    @staticmethod
    def _send_file(sock, path, size):
        sock.sendall(b"$%d\r\n" % size)
        with open(path, "rb") as f:
            while True:
                chunk = f.read(TRANSFER_CHUNK)
                if not chunk:
                    break
                sock.sendall(chunk)

    def _stream(self, link, offset):
        """Send the log from `offset` on, forever (until the link ends). What it needs held
        is what it has not acknowledged: bytes in socket buffers die with a crashed replica."""
        link.ack_off = max(link.ack_off, offset - 1)
        link.state = "online"
        link.need_from = offset
        sock = link.client.sock
        st = self.storage
        while not link.closed:
            if offset > st.repl_offset:
                ev = self.new_data
                if offset > st.repl_offset:
                    ev.wait(1.0)
                continue
            data = self._read_log(offset)
            if not data:
                raise LogTrimmed("nothing readable at offset %d" % offset)
            sock.sendall(data)
            self.server.stat_net_repl_out += len(data)
            offset += len(data)
            link.need_from = offset

    def _read_log(self, offset):
        st = self.storage
        txn = st.env.begin(buffers=False)
        try:
            parts = []
            n = 0
            for _, data in iter_log_table(txn, st.log_db, offset):
                parts.append(data)
                n += len(data)
                if n >= FEED_CHUNK:
                    break
            return b"".join(parts)
        except KeyError:
            raise LogTrimmed("offset %d is no longer in the log" % offset) from None
        finally:
            txn.abort()

    # ---- snapshot jobs ---------------------------------------------------------------------
    def _job_for(self, link, diskless, fmt):
        for job in self.jobs:
            if job.diskless == diskless and job.format == fmt and not job.done.is_set():
                # A disk snapshot can be shared at any stage (the log covers the rest); a
                # diskless one only before its transfer starts.
                if not diskless or not job.started:
                    job.links.append(link)
                    return job
        job = SnapshotJob(self, diskless, fmt)
        job.links.append(link)
        self.jobs.append(job)
        gevent.spawn(self._run_job, job)
        return job

    def _run_job(self, job):
        proc = None
        try:
            if job.diskless:
                self._diskless_delay(job)
            job.started = True
            self.job_seq += 1
            if not job.diskless:
                job.path = os.path.join(self.storage.directory, "temp-repl-%d-%d.%s" % (
                    os.getpid(), self.job_seq, "rdb" if job.format == "rdb" else "mdb"))
            cmd = helper_command(self.storage, self.cfg, job.format, job.path or "-")
            log.log(NOTICE, "Starting %s snapshot (%s) for %d replica(s)", job.format,
                     "diskless" if job.diskless else "disk", len(job.links))
            proc = job.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, env=helper_env())
            stderr_reader = gevent.spawn(proc.stderr.read)
            head = proc.stdout.readline().split()
            if len(head) != 5 or head[0] != b"KVSNAP":
                proc.wait()
                raise RuntimeError("snapshot helper failed: %s" % (
                    stderr_reader.get().decode("utf-8", "replace").strip()[-500:]))
            job.replid = head[1].decode()
            job.offset = int(head[2])
            job.hold = job.offset + 1
            job.header.set()
            if job.diskless:
                self._stream_diskless(job, proc)
            else:
                tail = proc.stdout.readline().split()
                if proc.wait() != 0 or len(tail) != 2 or tail[0] != b"DONE":
                    raise RuntimeError("snapshot helper failed: %s" % (
                        stderr_reader.get().decode("utf-8", "replace").strip()[-500:]))
                job.size = int(tail[1])
            log.log(NOTICE, "Snapshot at offset %d done (%s)", job.offset,
                     "%d bytes" % job.size if not job.diskless else "streamed")
        except Exception as e:                   # noqa: BLE001
            job.error = str(e) or e.__class__.__name__
            log.warning("Full sync snapshot failed: %s", job.error)
            if proc is not None and proc.poll() is None:
                proc.kill()
        finally:
            job.header.set()
            job.done.set()
            if job in self.jobs:
                self.jobs.remove(job)
            self._release_job_file(job)

    def _diskless_delay(self, job):
        """repl-diskless-sync-delay, cut short once repl-diskless-sync-max-replicas wait."""
        deadline = time.monotonic() + self.cfg.repl_diskless_sync_delay
        gevent.sleep(0)                          # replicas arriving in the same tick join
        while time.monotonic() < deadline:
            maxr = self.cfg.repl_diskless_sync_max_replicas
            if maxr and len(job.links) >= maxr:
                break
            for link in job.links:
                try:
                    link.client.sock.sendall(b"\n")
                except OSError:
                    pass
            gevent.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def _stream_diskless(self, job, proc):
        mark = os.urandom(EOF_MARK_LEN // 2).hex().encode()
        head = b"+FULLRESYNC %s %d\r\n$EOF:%s\r\n" % (job.replid.encode(), job.offset, mark)
        targets = [link for link in job.links if not link.closed]
        for link in targets:
            link.state = "send_bulk"
        fan = FanOut(self, targets)
        fan.put(head)
        read = proc.stdout.read1 if hasattr(proc.stdout, "read1") else proc.stdout.read
        while fan.alive():
            chunk = read(TRANSFER_CHUNK)
            if not chunk:
                break
            fan.put(chunk)
        rc = proc.wait()
        if rc != 0:
            fan.abort()
            raise RuntimeError("snapshot helper exited with status %d" % rc)
        fan.put(mark)
        fan.finish()

    def _release_job_file(self, job):
        if job.path and job.done.is_set() and job.users == 0:
            try:
                os.unlink(job.path)
            except OSError:
                pass
            job.path = None

    # ---- ACK / WAIT / min-replicas -----------------------------------------------------------
    def on_ack(self, link, offset):
        if offset > link.ack_off:
            link.ack_off = offset
        link.ack_time = time.time()
        link.first_ack.set()
        ev, self.ack_event = self.ack_event, Event()
        ev.set()

    def acked(self, offset):
        return sum(1 for link in self.links
                   if link.state == "online" and link.ack_off >= offset)

    def wait(self, client, numreplicas, timeout_ms):
        target = client.woff
        count = self.acked(target)
        if count >= numreplicas or client.in_exec:
            return count
        if not self.getack_pending and any(link.state == "online" for link in self.links):
            self.getack_pending = True
            try:
                self.append_to_stream(GETACK)
            finally:
                self.getack_pending = False
        deadline = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None
        while True:
            count = self.acked(target)
            if count >= numreplicas or client.killed:
                return count
            left = 1.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return count
            self.ack_event.wait(min(left, 1.0))

    def good_replicas(self):
        limit = time.time() - self.cfg.min_replicas_max_lag
        return sum(1 for link in self.links
                   if link.state == "online" and not link.legacy and link.ack_time >= limit)

    def refuses_writes(self):
        """min-replicas-to-write: too few good replicas (checked once per write batch)."""
        need = self.cfg.min_replicas_to_write
        return bool(need and self.cfg.min_replicas_max_lag) and self.good_replicas() < need

    # ---- visibility --------------------------------------------------------------------------
    def role_replicas(self):
        return [[link.ip.encode(), b"%d" % link.port, b"%d" % link.ack_off]
                for link in self.links if link.state == "online"]

    def info_fields(self):
        out = [("connected_slaves", len(self.links))]
        if self.cfg.min_replicas_to_write and self.cfg.min_replicas_max_lag:
            out.append(("min_slaves_good_slaves", self.good_replicas()))
        now = time.time()
        for i, link in enumerate(self.links):
            state = "wait_bgsave" if link.state == "wait_bgsave" else link.state
            lag = int(now - link.ack_time) if link.state == "online" else 0
            out.append(("slave%d" % i, "ip=%s,port=%d,state=%s,offset=%d,lag=%d" % (
                link.ip, link.port, state, link.ack_off, lag)))
        return out

    # ---- ending links ----------------------------------------------------------------------
    def _link_failed(self, link, exc):
        if link.closed:
            return
        if isinstance(exc, OSError):             # (socket timeouts and resets included)
            reason = "connection lost (%s)" % (exc or exc.__class__.__name__)
        else:
            reason = str(exc) or exc.__class__.__name__
        self._drop(link, reason)

    def _drop(self, link, reason):
        if link.closed:
            return
        log.warning("Closing replica %s (client id=%d): %s", link.describe(), link.client.id,
                    reason)
        self._forget(link)
        link.client.kill()

    def _forget(self, link):
        link.closed = True
        if link in self.links:
            self.links.remove(link)
        g = link.greenlet
        if g is not None and g is not gevent.getcurrent():
            g.kill(block=False)
        ev, self.ack_event = self.ack_event, Event()
        ev.set()

    def shutdown(self):
        """Server shutdown: stop snapshot helpers and remove their staged files."""
        for job in list(self.jobs):
            proc = job.proc
            if proc is not None and proc.poll() is None:
                proc.kill()
            if job.path:
                try:
                    os.unlink(job.path)
                except OSError:
                    pass

    def disconnect_all(self, reason):
        for link in list(self.links):
            self._drop(link, reason)


def helper_command(storage, cfg, fmt, out):
    """The command line of a snapshot helper process (replication/snapshot.py)."""
    return [sys.executable, "-m", "replication.snapshot", "--dir", storage.directory,
            "--format", fmt, "--out", out, "--databases", str(cfg.databases),
            "--max-readers", str(cfg.storage_max_readers),
            "--rdbchecksum", "yes" if cfg.rdbchecksum else "no"]


def save_snapshot(storage, cfg, path, fmt="rdb"):
    """Write a snapshot file (SAVE/BGSAVE: an RDB at `dbfilename`); blocks only the calling
    greenlet. Returns (offset, bytes); raises RuntimeError with the helper's complaint."""
    proc = subprocess.Popen(helper_command(storage, cfg, fmt, path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=helper_env())
    out, err = proc.communicate()
    lines = out.split(b"\n")
    if proc.returncode != 0 or len(lines) < 2 or not lines[1].startswith(b"DONE "):
        raise RuntimeError("snapshot helper failed (status %s): %s" % (
            proc.returncode, err.decode("utf-8", "replace").strip()[-500:]))
    return int(lines[0].split()[2]), int(lines[1].split()[1])


def helper_env():
    """Environment for helper processes: this source tree first on the import path (the
    server may run from a checkout, and it chdirs into `dir`)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                else "")
    return env

