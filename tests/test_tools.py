"""Operator tools against real servers: kvcompare (kvstore vs redis-server), kvlog, the floor
server and the A/B benchmark."""

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


def test_ab_compare_runs_each_checkout_against_redis_server():
    """tools/ab_compare.py (the interleaved A/B rounds docs/benchmarks.md quotes): one round,
    one tiny load, this checkout under two labels and redis-server: a row with each one's
    ops/s and ratio, redis-server's ratio exactly 1; a path that is no checkout is refused."""
    import re

    out = subprocess.run([sys.executable, "tools/ab_compare.py", "--rounds", "1", "--tests",
                          "set:1,get:4", "--requests", "4000", "--requests-p1", "2000",
                          "a=.", "b=" + ROOT], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "| test | pipeline | a ops/s (ratio) | b ops/s (ratio) | " \
                       "redis-server ops/s (ratio) |"
    rows = [re.fullmatch(r"\| (\w+) \| (\d+) \| (\d+) \((\d\.\d\d)\) \| (\d+) \((\d\.\d\d)\) "
                         r"\| (\d+) \(1\.00\) \|", line) for line in lines[2:]]
    assert [(m.group(1), m.group(2)) for m in rows] == [("SET", "1"), ("GET", "4")]
    for m in rows:
        for ops, ratio in ((m.group(3), m.group(4)), (m.group(5), m.group(6))):
            assert int(ops) > 0
            assert abs(float(ratio) - int(ops) / int(m.group(7))) < 0.011
    bad = subprocess.run([sys.executable, "tools/ab_compare.py", "x=/nonexistent"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "'x=/nonexistent': expected LABEL=PATH of a kvstore checkout" in bad.stderr


def test_write_cost_reports_pages_written_per_command():
    """tools/write_cost.py (in process): a row per command and size; rewriting random
    elements of a 3,000-element collection writes more per command than of a 10-element one
    (whose batch dirties the same few pages), and every command costs some time."""
    import re

    out = subprocess.run([sys.executable, "tools/write_cost.py", "--sizes", "10,3000",
                          "--batch", "50", "--batches", "4"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "| command | elements | us/command | write syscalls/command | " \
                       "KB written/command |"
    rows = [re.fullmatch(r"\| (\w+) \| (\d+) \| (\d+\.\d\d) \| (\d+\.\d\d) \| (\d+\.\d\d) \|",
                         line) for line in lines[2:]]
    assert [(m.group(1), m.group(2)) for m in rows] == [
        ("HSET", "10"), ("HSET", "3000"), ("ZADD", "10"), ("ZADD", "3000")]
    for small, big in ((rows[0], rows[1]), (rows[2], rows[3])):
        assert float(small.group(3)) > 0 and float(big.group(3)) > 0
        assert float(big.group(5)) > 2 * float(small.group(5)), out.stdout
    bad = subprocess.run([sys.executable, "tools/write_cost.py", "--commands", "lpush",
                          "--sizes", "10"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1
    assert "unknown command 'lpush' (hset, zadd)" in bad.stderr
