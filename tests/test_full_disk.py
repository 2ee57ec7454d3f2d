"""A full disk: commits fail with a MISCONF error, the server stays up, every acknowledged key
is still readable, and writes work again once space is back (a small tmpfs as the disk)."""

import os
import subprocess
import tempfile

import pytest
import redis


@pytest.fixture
def small_disk():
    path = tempfile.mkdtemp(prefix="kvtest-fulldisk-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(path)
        pytest.skip("cannot mount a tmpfs here (needs root): %s" % r.stderr.strip())
    yield path
    subprocess.run(["umount", "-l", path], check=False)
    os.rmdir(path)


def test_full_disk_refuses_writes_and_keeps_data(make_server, small_disk):
    srv = make_server("kvstore", ["--storage-map-size", "256mb", "--appendfsync", "always"],
                      dir=small_disk)
    srv.logfile = os.path.join(tempfile.gettempdir(), "kvtest-fulldisk-%d.log" % srv.port)
    srv.start()
    c = srv.client()
    stored = []
    err = None
    for i in range(200):
        try:
            c.set("k%d" % i, os.urandom(50000))
            stored.append(i)
        except redis.ResponseError as e:
            err = str(e)
            break
    assert err is not None and err.startswith("MISCONF Errors writing to disk")
    assert c.ping() is True
    for i in stored:
        assert len(c.get("k%d" % i)) == 50000
    c.delete(*["k%d" % i for i in stored[: len(stored) // 2]])
    c.set("after", "ok")
    assert c.get("after") == b"ok"
    assert "commit failed" in open(srv.logfile).read()
