"""Operator tools against real servers: kvcompare (kvstore vs redis-server) and kvlog."""

import subprocess
import sys

from tests.conftest import ROOT


def _compare(a, b):
    return subprocess.run([sys.executable, "tools/kvcompare.py", "127.0.0.1:%d" % a.port,
                           "127.0.0.1:%d" % b.port], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_kvcompare_equal_and_different(kvstore_session, redis_ref):
    k, r = kvstore_session.client(), redis_ref.client()
    for c in (k, r):
        c.flushall()
        c.set("s", "v")
        c.hset("h", mapping={"a": "1", "b": "2"})
        c.zadd("z", {"m": 1.5})
        c.rpush("l", "x", "y")
        c.sadd("set", "p", "q")
        c.execute_command("SELECT", 3)
        c.set("in3", "x", ex=100)
        c.execute_command("SELECT", 0)
    p = _compare(kvstore_session, redis_ref)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("equal")
    k.hset("h", "b", "changed")
    r.set("only-redis", "1")
    p = _compare(kvstore_session, redis_ref)
    assert p.returncode == 1
    assert "db0 b'h': value differs" in p.stdout
    assert "db0 b'only-redis': missing on the first" in p.stdout


def test_kvlog_prints_commands(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.set("logged", "v", ex=100)
    c.lpush("lst", "a")
    p = subprocess.run([sys.executable, "tools/kvlog.py", srv.dir], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    lines = p.stdout.splitlines()
    assert lines[0].split()[1:] == ["SELECT", "0"]
    assert lines[1].split()[1:4] == ["SET", "logged", "v"] and lines[1].split()[4] == "PXAT"
    assert lines[2].split()[1:] == ["LPUSH", "lst", "a"]


def test_floor_server_sets_gets_and_keeps_its_data(tmp_path):
    """tools/floor_server.py (the measuring stick of tools/benchmark.py --floor): pipelined
    SETs share commits and each gets its reply, GETs read them back, and the data is still
    there after a restart."""
    import redis

    from tests.conftest import free_port, wait_until

    def start():
        port = free_port()
        proc = subprocess.Popen([sys.executable, "tools/floor_server.py", "--port", str(port),
                                 "--dir", str(tmp_path), "--appendfsync", "always",
                                 "--save", ""], cwd=ROOT)
        c = redis.Redis(port=port, socket_timeout=10, protocol=2)

        def up():
            assert proc.poll() is None, "floor server exited"
            try:
                return c.ping()
            except redis.ConnectionError:
                return False
        wait_until(up, what="floor server")
        return proc, c

    proc, c = start()
    p = c.pipeline(transaction=False)
    for i in range(100):
        p.set("k%d" % i, "v%d" % i)
    assert p.execute() == [True] * 100
    p = c.pipeline(transaction=False)
    for i in range(100):
        p.get("k%d" % i)
    assert p.execute() == [b"v%d" % i for i in range(100)]
    assert c.get("missing") is None
    proc.terminate()
    assert proc.wait(20) == 0
    proc, c = start()
    assert c.get("k42") == b"v42"
    proc.terminate()
    assert proc.wait(20) == 0
