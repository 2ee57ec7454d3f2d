"""Durable points (kvstore/durable.py): commits without an fsync each, and a power loss that
never corrupts the file and loses at most what followed the last durable point.

A power loss is simulated on the files a real server left behind: its data file as it was on
disk at the durable point, its data file as it was when the process was killed, and a disk
image that mixes the two page by page (any subset of the writes since the point may have
reached the disk, the newest meta pages included). "Another boot" is the durable-point record
with a different boot id. The record format is read here independently of kvstore's code:
slots of 69,632 bytes, each a header <4sIQIQ40s> (magic KVDP, version 1, txnid, page size,
unix ms, boot id), the meta page and a CRC-32 of both."""

import os
import random
import shutil
import struct
import tempfile
import zlib

import pytest

from tests.conftest import wait_until

ENV = "kvstore.lmdb"
RECORD = "durable-point"
SLOT = 4096 + 65536
HEADER = struct.Struct("<4sIQIQ40s")
PAGE = 4096


def _records(env_dir):
    with open(os.path.join(env_dir, RECORD), "rb") as f:
        raw = f.read()
    out = []
    for slot in (0, 1):
        part = raw[slot * SLOT:]
        magic, version, txnid, psize, ms, boot = HEADER.unpack_from(part)
        end = HEADER.size + psize
        ok = (magic == b"KVDP" and struct.unpack_from("<I", part, end)[0]
              == zlib.crc32(part[:end]))
        out.append((ok, txnid, boot.rstrip(b"\0")))
    return out


def _as_if_rebooted(env_dir):
    """Rewrite the boot id of every valid record: the machine has restarted since."""
    path = os.path.join(env_dir, RECORD)
    with open(path, "r+b") as f:
        raw = bytearray(f.read())
        for slot in (0, 1):
            base = slot * SLOT
            magic, version, txnid, psize, ms, boot = HEADER.unpack_from(raw, base)
            if magic != b"KVDP":
                continue
            HEADER.pack_into(raw, base, magic, version, txnid, psize, ms,
                             b"another-boot-0000-0000-000000000000")
            end = base + HEADER.size + psize
            struct.pack_into("<I", raw, end, zlib.crc32(bytes(raw[base:end])))
        f.seek(0)
        f.write(raw)


def _data(env_dir):
    with open(os.path.join(env_dir, "data.mdb"), "rb") as f:
        return f.read()


def _power_loss_image(at_point, latest, rng):
    """A disk after a power loss: each page written since the point either made it or not
    (pages past the point's file end that did not are zeros); the meta pages made it."""
    pages = []
    for i in range(max(len(at_point), len(latest)) // PAGE):
        old = at_point[i * PAGE:(i + 1) * PAGE] or bytes(PAGE)
        new = latest[i * PAGE:(i + 1) * PAGE] or bytes(PAGE)
        pages.append(new if i < 2 or rng.random() < 0.5 else old)
    return b"".join(pages)


def _env_dir_with(data, records_from):
    """A new server directory holding `data` as data.mdb and a copy of a record file."""
    d = tempfile.mkdtemp(prefix="kvtest-power-")
    env = os.path.join(d, ENV)
    os.mkdir(env)
    with open(os.path.join(env, "data.mdb"), "wb") as f:
        f.write(data)
    shutil.copy(os.path.join(records_from, RECORD), os.path.join(env, RECORD))
    return d


def _fill(c, prefix, n, rng, pipeline_size=200):
    expected = {}
    pipe = c.pipeline(transaction=False)
    for i in range(n):
        k = "%s:%d" % (prefix, rng.randrange(n * 2))
        v = rng.randbytes(rng.choice((8, 90, 700)))
        pipe.set(k, v)
        expected[k.encode()] = v
        if len(pipe) >= pipeline_size:
            pipe.execute()
    pipe.execute()
    return expected


def _persistence(c):
    return c.info("persistence")


def test_power_loss_rolls_back_to_the_last_durable_point(make_server):
    rng = random.Random(7)
    srv = make_server("kvstore", ["--appendfsync", "no"]).start()
    c = srv.client()
    env = os.path.join(srv.dir, ENV)
    _fill(c, "a", 2000, rng)
    c.save()
    early = _data(env)
    early_digest = c.execute_command("DEBUG", "DIGEST")
    _fill(c, "b", 3000, rng)
    c.hset("h", mapping={"f%d" % i: "v%d" % i for i in range(500)})
    c.save()
    point = _persistence(c)["kvstore_durable_txnid"]
    at_point = _data(env)
    point_digest = c.execute_command("DEBUG", "DIGEST")
    point_repl = c.info("replication")
    # After the point: overwrite, delete and add (pages freed and reused), many commits.
    _fill(c, "a", 2000, rng, pipeline_size=20)
    _fill(c, "b", 3000, rng, pipeline_size=20)
    c.delete(*["a:%d" % i for i in range(0, 4000, 3)])
    c.hset("h", mapping={"f%d" % i: "w%d" % i for i in range(0, 500, 2)})
    c.delete("h")
    assert c.execute_command("DEBUG", "DIGEST") != point_digest
    after = _persistence(c)
    assert after["kvstore_durable_txnid"] == point      # `no`: the next point is 30 s away
    srv.kill9()
    latest = _data(env)
    assert _records(env)[0][2] == _records(env)[1][2] != b"another-boot-0000-0000-000000000000"

    for seed in range(3):
        d = _env_dir_with(_power_loss_image(at_point, latest, random.Random(seed)), env)
        _as_if_rebooted(os.path.join(d, ENV))
        restarted = make_server("kvstore", ["--appendfsync", "no"], dir=d).start()
        rc = restarted.client()
        assert rc.execute_command("DEBUG", "DIGEST") == point_digest, seed
        assert _persistence(rc)["kvstore_rolled_back_txns"] > 0
        repl = rc.info("replication")
        # The log rolled back with the data; a new history starts at the point.
        assert repl["master_repl_offset"] == point_repl["master_repl_offset"]
        assert repl["master_replid2"] == point_repl["master_replid"]
        assert repl["second_repl_offset"] == point_repl["master_repl_offset"] + 1
        assert "rolled back from txn" in restarted.log()
        rc.set("after", "restart")
        assert rc.get("after") == b"restart"
        restarted.stop()

    # A data file older than the record (restored from a copy): the record is ignored.
    d = _env_dir_with(early, env)
    _as_if_rebooted(os.path.join(d, ENV))
    restored = make_server("kvstore", ["--appendfsync", "no"], dir=d).start()
    assert restored.client().execute_command("DEBUG", "DIGEST") == early_digest
    assert "the file was replaced; record ignored" in restored.log()


@pytest.mark.parametrize("stop", ["kill -9, same boot", "clean shutdown, then a reboot"])
def test_nothing_rolls_back_without_a_machine_crash_after_the_point(make_server, stop):
    """A process crash in the same boot keeps what followed the point (the page cache had
    it); a clean shutdown records its last commit, so a later reboot keeps everything."""
    rng = random.Random(8)
    srv = make_server("kvstore", ["--appendfsync", "no"]).start()
    c = srv.client()
    _fill(c, "a", 1000, rng)
    c.save()
    _fill(c, "a", 1000, rng, pipeline_size=10)
    digest = c.execute_command("DEBUG", "DIGEST")
    if stop.startswith("kill"):
        srv.kill9()
    else:
        srv.stop()
        _as_if_rebooted(os.path.join(srv.dir, ENV))
    srv.start()
    c = srv.client()
    assert c.execute_command("DEBUG", "DIGEST") == digest
    assert _persistence(c)["kvstore_rolled_back_txns"] == 0


def test_damaged_record_file_is_ignored_and_rewritten(make_server):
    rng = random.Random(10)
    srv = make_server("kvstore", ["--appendfsync", "everysec"]).start()
    c = srv.client()
    _fill(c, "a", 500, rng)
    digest = c.execute_command("DEBUG", "DIGEST")
    srv.kill9()
    env = os.path.join(srv.dir, ENV)
    with open(os.path.join(env, RECORD), "wb") as f:
        f.write(rng.randbytes(3 * SLOT))
    srv.start()
    c = srv.client()
    assert c.execute_command("DEBUG", "DIGEST") == digest
    assert "no valid durable-point record" in srv.log()
    records = _records(env)
    assert any(ok for ok, _, _ in records)
    assert max(t for ok, t, _ in records if ok) == _persistence(c)["kvstore_durable_txnid"]


def test_everysec_makes_a_point_each_second(make_server):
    srv = make_server("kvstore", ["--appendfsync", "everysec"]).start()
    c = srv.client()
    c.set("k", "v")
    committed = _persistence(c)["kvstore_durable_txnid"]
    wait_until(lambda: _persistence(c)["kvstore_durable_txnid"] > committed, timeout=5,
               what="a durable point after the write")
    first = _persistence(c)["kvstore_durable_points"]
    wait_until(lambda: _persistence(c)["kvstore_durable_points"] == first + 2, timeout=5,
               what="two more points")
    assert _persistence(c)["kvstore_durable_age_ms"] < 1500


def test_always_makes_a_point_before_each_reply(make_server):
    srv = make_server("kvstore", ["--appendfsync", "always"]).start()
    c = srv.client()
    env = os.path.join(srv.dir, ENV)
    recorded = max(t for ok, t, _ in _records(env) if ok)
    for i in range(20):
        c.set("k%d" % i, "v")
        # The reply came after the record of the commit that holds the write.
        now = max(t for ok, t, _ in _records(env) if ok)
        assert now > recorded
        assert now == _persistence(c)["kvstore_durable_txnid"]
        recorded = now
