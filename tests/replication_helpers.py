"""Real-socket helpers for replication tests: a throttling TCP proxy that can cut the link, and
a scripted fake primary that speaks the handshake and then sends chosen bytes."""

import socket
import threading
import time

from tests.conftest import wait_until


def info(client, section="replication"):
    return client.info(section)


def digest(c):
    return c.execute_command("DEBUG", "DIGEST")


def wait_synced(primary, replica, what="replica to catch up", timeout=60):
    """Until the replica's link is up and it applied everything the primary logged; then
    the datasets must be equal."""
    def synced():
        ri = info(replica)
        return (ri.get("master_link_status") == "up"
                and ri["slave_repl_offset"] == info(primary)["master_repl_offset"])
    wait_until(synced, timeout=timeout, what=what)
    assert digest(primary) == digest(replica)


def fill_all_types(c, tag, n=50):
    pipe = c.pipeline(transaction=False)
    for i in range(n):
        pipe.set("s:%s:%d" % (tag, i), "v%d" % i)
        pipe.rpush("l:%s" % tag, "e%d" % i)
        pipe.hset("h:%s" % tag, "f%d" % i, i)
        pipe.sadd("set:%s" % tag, "m%d" % i)
        pipe.zadd("z:%s" % tag, {"m%d" % i: i / 3})
    pipe.set("ttl:%s" % tag, "x", ex=1000)
    pipe.incrbyfloat("f:%s" % tag, 1.5)
    pipe.execute()
    c.execute_command("SELECT", "2")
    c.set("db2:%s" % tag, "in db 2")
    c.execute_command("SELECT", "0")


class Proxy:
    """Forwards 127.0.0.1:<port> to a target port; `rate` (bytes/s, primary -> replica)
    throttles; `cut()` closes every connection through it."""

    def __init__(self, target_port, rate=None):
        self.target_port = target_port
        self.rate = rate
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.conns = []
        self.bytes_down = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                a, _ = self.listener.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                a.close()
                continue
            self.conns += [a, b]
            threading.Thread(target=self._pump, args=(a, b, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(b, a, self.rate), daemon=True).start()

    def _pump(self, src, dst, rate):
        try:
            while True:
                data = src.recv(16384 if rate is None else max(1, min(16384, rate // 20)))
                if not data:
                    break
                dst.sendall(data)
                if rate is not None:
                    self.bytes_down += len(data)
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.conns = []

    def close(self):
        self.closed = True
        self.listener.close()
        self.cut()


class FakePrimary:
    """A scripted primary: answers the handshake (+PONG, +OK...), then on PSYNC sends
    `script(psync_args)` bytes and keeps the connection open until `hold` seconds pass.
    Records every connection's PSYNC arguments in `psyncs` and REPLCONF ACK offsets in
    `acks`."""

    def __init__(self, script, hold=30):
        self.script = script
        self.hold = hold
        self.psyncs = []
        self.acks = []
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        buf = b""
        s.settimeout(self.hold)
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    return
                buf += data
                while True:
                    cmd, buf = _parse_one(buf)
                    if cmd is None:
                        break
                    name = cmd[0].upper()
                    if name == b"PING":
                        s.sendall(b"+PONG\r\n")
                    elif name == b"REPLCONF":
                        if cmd[1].upper() == b"ACK":
                            self.acks.append(int(cmd[2]))
                        else:
                            s.sendall(b"+OK\r\n")
                    elif name == b"PSYNC":
                        self.psyncs.append(cmd[1:])
                        s.sendall(self.script(cmd[1:]))
                    else:
                        s.sendall(b"+OK\r\n")
        except OSError:
            pass
        finally:
            s.close()

    def close(self):
        self.closed = True
        self.listener.close()


def _parse_one(buf):
    """One RESP array command from buf: (args, rest) or (None, buf)."""
    while buf.startswith(b"\n"):
        buf = buf[1:]
    if not buf.startswith(b"*") or b"\r\n" not in buf:
        return None, buf
    pos = buf.index(b"\r\n")
    n = int(buf[1:pos])
    pos += 2
    args = []
    for _ in range(n):
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None, buf
        ln = int(buf[pos + 1:end])
        start = end + 2
        if len(buf) < start + ln + 2:
            return None, buf
        args.append(buf[start:start + ln])
        pos = start + ln + 2
    return args, buf[pos:]
