"""Test fixtures: real server processes on free ports with temporary data directories.

`kvstore` starts `python -m kvstore` (the real server), `redis_ref` a real Debian
`redis-server` used as the reference. `RawConn` speaks raw RESP bytes so tests can compare
replies byte for byte (error texts, RESP3 types) between the two.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout=10.0, interval=0.01, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(interval)


def _can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(100).startswith((b"+PONG", b"-NOAUTH", b"-LOADING"))
    except OSError:
        return False


class ServerProcess:
    """A server process (kvstore or redis-server) on a free port in its own directory."""

    def __init__(self, kind, args=(), port=None, dir=None, config_file=None):
        self.kind = kind
        self.port = port or free_port()
        self.dir = dir or tempfile.mkdtemp(prefix="kvtest-%s-" % kind)
        self.extra = list(args)
        self.config_file = config_file
        self.proc = None
        self.logfile = os.path.join(self.dir, "server.log")

    def command_line(self):
        base = [self.config_file] if self.config_file else []
        common = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                  "--enable-debug-command", "yes", "--logfile", self.logfile]
        if self.kind == "kvstore":
            return [sys.executable, "-m", "kvstore"] + base + common + self.extra
        return [REDIS_SERVER] + base + common + ["--save", "", "--appendonly", "no"] + self.extra

    def start(self, wait=True):
        self.proc = subprocess.Popen(self.command_line(), cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %s: %s\n%s" % (
                    self.kind, self.proc.returncode, self.proc.stdout.read().decode(),
                    self.log()))
            return _can_connect(self.port)
        wait_until(ready, timeout, what="%s to accept connections" % self.kind)

    def log(self):
        try:
            with open(self.logfile) as f:
                return f.read()
        except OSError:
            return ""

    def client(self, **kw):
        kw.setdefault("protocol", 2)
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def raw(self):
        return RawConn(self.port)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("%s did not stop within %ss" % (self.kind, timeout))

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def cleanup(self):
        try:
            self.stop()
        finally:
            if self.proc and self.proc.stdout:
                self.proc.stdout.close()
            shutil.rmtree(self.dir, ignore_errors=True)


class RawConn:
    """A raw socket speaking RESP; `call(*args)` returns the raw reply bytes of one reply."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def call(self, *args):
        self.send(self.encode(*args))
        return self.read_reply()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i + 2], self.buf[i + 2:]
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_reply(self):
        """One complete reply, returned as its raw bytes."""
        line = self._line()
        t = line[:1]
        if t in b"$=!":
            n = int(line[1:-2])
            return line if n < 0 else line + self._exact(n + 2)
        if t in b"*~>%|":
            n = int(line[1:-2])
            if n < 0:
                return line
            if t in b"%|":
                n *= 2
            return line + b"".join(self.read_reply() for _ in range(n))
        return line

    def read_all_until_closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.buf += data
        except OSError:
            pass
        out, self.buf = self.buf, b""
        return out

    def close(self):
        self.sock.close()


@pytest.fixture(scope="session")
def redis_ref():
    srv = ServerProcess("redis").start()
    yield srv
    srv.cleanup()


@pytest.fixture(scope="session")
def kvstore_session():
    srv = ServerProcess("kvstore").start()
    yield srv
    srv.cleanup()


@pytest.fixture
def kv(kvstore_session):
    """A redis-py client (RESP2) on a shared kvstore server, all databases flushed."""
    c = kvstore_session.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def ref(redis_ref):
    c = redis_ref.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def make_server():
    """Factory for private server processes, stopped and removed at teardown."""
    made = []

    def make(kind="kvstore", args=(), **kw):
        srv = ServerProcess(kind, args, **kw)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.cleanup()


class RedisServer(ServerProcess):
    """A real redis-server on a free port in `workdir`, started, with a ready redis-py
    `client` attribute (it shadows ServerProcess.client(), which makes a new client)."""

    def __init__(self, workdir, *extra):
        super().__init__("redis", list(extra), dir=str(workdir))
        self.start()
        self.client = redis.Redis(host="127.0.0.1", port=self.port, protocol=2)

    def stop(self):
        self.client.close()
        return super().stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A redis-server per test module (the RDB and digest codec tests)."""
    srv = RedisServer(tmp_path_factory.mktemp("redis"))
    yield srv
    srv.stop()


@pytest.fixture
def r(server):
    server.client.flushall()
    yield server.client
