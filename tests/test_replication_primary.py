"""A kvstore primary with real redis-server 7.0 replicas: full sync in both transfer forms,
streaming, partial resync after a link drop, after the replica restarts and after the primary
restarts or is killed -9; WAIT, min-replicas-to-write, ROLE and INFO replication shapes;
`redis-cli --rdb`. DEBUG DIGEST is compared after every step."""

import os
import re
import signal
import subprocess

import pytest

from tests.conftest import ServerProcess, wait_until
from tests.replication_helpers import fill_all_types, info, wait_synced


def start_redis_replica(primary_port, *extra, port=None, dir=None):
    return ServerProcess("redis", ["--replicaof", "127.0.0.1", str(primary_port)]
                         + list(extra), port=port, dir=dir).start()


@pytest.fixture
def pair(make_server):
    """A fresh kvstore primary (appendfsync always) with data, and a real Redis replica."""
    kv = make_server("kvstore", ["--appendfsync", "always"]).start()
    c = kv.client()
    fill_all_types(c, "before")
    rep = start_redis_replica(kv.port)
    yield kv, rep
    rep.cleanup()


def test_full_sync_diskless_then_streaming(pair):
    kv, rep = pair
    c, r = kv.client(), rep.client()
    wait_synced(c, r)
    assert "receiving streamed RDB from master with EOF" in rep.log()
    fill_all_types(c, "after")
    c.delete("s:before:1")
    c.expire("s:before:2", 100)
    c.lpop("l:before")
    c.zincrby("z:before", 2.5, "m3")
    c.spop("set:before")
    with c.pipeline(transaction=True) as p:
        p.set("tx1", "a").set("tx2", "b").execute()
    c.flushdb()                       # db 0 only
    fill_all_types(c, "again", n=5)
    wait_synced(c, r)
    assert r.get("s:again:1") == b"v1"
    assert rep.client(db=2).get("db2:before") == b"in db 2"
    assert info(c, "stats")["sync_full"] == 1
    assert info(c, "stats")["sync_partial_ok"] == 0
    # INFO replication and ROLE on the primary, with Redis's shapes
    pi = info(c)
    assert pi["role"] == "master" and pi["connected_slaves"] == 1
    s0 = pi["slave0"]
    assert (s0["ip"], s0["port"], s0["state"]) == ("127.0.0.1", rep.port, "online")
    assert pi["repl_backlog_active"] == 1
    assert pi["repl_backlog_first_byte_offset"] == 1
    assert pi["repl_backlog_histlen"] == pi["master_repl_offset"]
    off = pi["master_repl_offset"]
    wait_until(lambda: info(c)["slave0"]["offset"] == off, what="replica ACK")
    port = b"%d" % rep.port
    assert kv.raw().call("ROLE") == (
        b"*3\r\n$6\r\nmaster\r\n:%d\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$%d\r\n%s\r\n$%d\r\n%d\r\n"
        % (off, len(port), port, len(str(off)), off))


def test_full_sync_disk_transfer(make_server):
    kv = make_server("kvstore", ["--repl-diskless-sync", "no"]).start()
    c = kv.client()
    fill_all_types(c, "disk", n=200)
    rep = start_redis_replica(kv.port)
    try:
        wait_synced(c, rep.client())
        assert re.search(r"receiving \d+ bytes from master to disk", rep.log())
        assert "Synchronization with replica 127.0.0.1:%d succeeded (disk" % rep.port in kv.log()
        assert not [f for f in os.listdir(kv.dir) if f.startswith("temp-repl-")]
    finally:
        rep.cleanup()


def test_partial_resync_after_link_drop_and_replica_restart(pair):
    kv, rep = pair
    c, r = kv.client(), rep.client()
    wait_synced(c, r)
    # The link drops: the replica reconnects with PSYNC <id> <offset+1> and continues.
    assert r.client_kill_filter(_type="master") == 1
    c.set("while_dropped", "1")
    wait_synced(c, r)
    assert info(c, "stats")["sync_partial_ok"] == 1
    # The Redis replica restarts from its own RDB (which carries repl-id/repl-offset).
    r.shutdown(save=True)
    rep.proc.wait(10)
    c.set("while_replica_down", "1")
    fill_all_types(c, "down", n=10)
    rep2 = start_redis_replica(kv.port, port=rep.port, dir=rep.dir)
    try:
        wait_synced(c, rep2.client())
        assert rep2.client().get("while_replica_down") == b"1"
        assert info(c, "stats")["sync_full"] == 1
        assert info(c, "stats")["sync_partial_ok"] == 2
        assert "Successful partial resynchronization with master" in rep2.log()
    finally:
        rep2.proc.kill()
        rep2.proc.wait()


@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_primary_restart_continues(make_server, how):
    kv = make_server("kvstore", ["--appendfsync", "always"]).start()
    c = kv.client()
    fill_all_types(c, "pre")
    rep = start_redis_replica(kv.port)
    try:
        r = rep.client()
        wait_synced(c, r)
        old_id = info(c)["master_replid"]
        old_off = info(c)["master_repl_offset"]
        if how == "kill9":
            kv.kill9()
        else:
            assert kv.stop() == 0
        kv.start()
        c = kv.client()
        pi = info(c)
        # A restarted primary starts a new history and keeps the old id up to its offset.
        assert pi["master_replid2"] == old_id and pi["master_replid"] != old_id
        assert pi["second_repl_offset"] == old_off + 1
        c.set("after_restart", "yes")
        wait_synced(c, r)
        assert r.get("after_restart") == b"yes"
        st = info(c, "stats")
        assert (st["sync_full"], st["sync_partial_ok"]) == (0, 1)
        assert info(r)["master_replid"] == pi["master_replid"]
    finally:
        rep.cleanup()


def test_wait_and_min_replicas(pair):
    kv, rep = pair
    c, r = kv.client(), rep.client()
    wait_synced(c, r)
    c.set("w", "1")
    assert c.execute_command("WAIT", 1, 5000) == 1
    assert c.execute_command("WAIT", 0, 0) == 1
    # Asking for more replicas than exist waits out the timeout, then answers the count.
    assert c.execute_command("WAIT", 2, 200) == 1
    c.config_set("min-replicas-to-write", 2)
    assert kv.raw().call("SET", "x", "1") == b"-NOREPLICAS Not enough good replicas to write.\r\n"
    assert info(c)["min_slaves_good_slaves"] == 1
    assert kv.raw().call("GET", "w") == b"$1\r\n1\r\n"           # reads still work
    raw = kv.raw()
    assert raw.call("MULTI") == b"+OK\r\n"
    assert raw.call("SET", "x", "1") == b"-NOREPLICAS Not enough good replicas to write.\r\n"
    assert raw.call("GET", "x") == b"+QUEUED\r\n"
    assert raw.call("EXEC") == \
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    c.config_set("min-replicas-to-write", 1)
    assert c.set("x", "1") is True
    c.config_set("min-replicas-to-write", 0)
    # WAIT on a replica is refused with Redis's text
    with pytest.raises(Exception) as e:
        r.execute_command("WAIT", 1, 0)
    assert str(e.value).startswith("WAIT cannot be used with replica instances")


def test_wait_without_replicas_and_replconf_errors(kv, kvstore_session):
    kv.set("a", "1")
    assert kv.execute_command("WAIT", 0, 0) == 0
    assert kv.execute_command("WAIT", 1, 50) == 0
    raw = kvstore_session.raw()
    assert raw.call("WAIT", "x", "1") == b"-ERR value is not an integer or out of range\r\n"
    assert raw.call("WAIT", "1", "x") == b"-ERR timeout is not an integer or out of range\r\n"
    assert raw.call("REPLCONF", "a") == b"-ERR syntax error\r\n"
    assert raw.call("REPLCONF", "foo", "bar") == b"-ERR Unrecognized REPLCONF option: foo\r\n"
    assert raw.call("REPLCONF", "listening-port", "x") == \
        b"-ERR value is not an integer or out of range\r\n"
    assert raw.call("REPLCONF", "rdb-only", "2") == \
        b"-ERR value is out of range, value must between 0 and 1\r\n"
    assert raw.call("REPLCONF", "rdb-filter-only", "foo") == \
        b"-ERR Unsupported rdb-filter-only option: foo\r\n"
    assert raw.call("REPLCONF", "LISTENING-PORT", "5", "capa", "eof") == b"+OK\r\n"
    # REPLCONF ACK from a non-replica is never answered: the PING after it is the next reply
    raw.send(raw.encode("REPLCONF", "ACK", "5"))
    assert raw.call("PING") == b"+PONG\r\n"
    assert raw.call("PSYNC", "?", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert raw.call("ROLE") == b"*3\r\n$6\r\nmaster\r\n:%d\r\n*0\r\n" % \
        kv.info("replication")["master_repl_offset"]


def test_psync_pipelined_behind_pending_replies_is_refused(kvstore_session):
    raw = kvstore_session.raw()
    raw.send(raw.encode("PING") + raw.encode("PSYNC", "?", "-1"))
    assert raw.read_reply() == b"+PONG\r\n"
    assert raw.read_reply() == b"-ERR SYNC and PSYNC are invalid with pending output\r\n"


def test_redis_cli_rdb(kv, kvstore_session, tmp_path):
    fill_all_types(kv, "cli", n=20)
    out = tmp_path / "cli.rdb"
    res = subprocess.run(["redis-cli", "-p", str(kvstore_session.port), "--rdb", str(out)],
                         capture_output=True, text=True, timeout=30)
    assert "Transfer finished with success" in res.stdout + res.stderr
    check = subprocess.run(["redis-check-rdb", str(out)], capture_output=True, text=True)
    assert "RDB looks OK" in check.stdout
    m = re.search(r"(\d+) keys read", check.stdout)
    assert int(m.group(1)) == kv.dbsize() + kvstore_session.client(db=2).dbsize()


def test_replicas_arriving_together_share_one_snapshot(make_server):
    kv = make_server("kvstore", ["--repl-diskless-sync-delay", "3",
                                 "--repl-diskless-sync-max-replicas", "2"]).start()
    c = kv.client()
    fill_all_types(c, "shared")
    r1 = start_redis_replica(kv.port)
    r2 = start_redis_replica(kv.port)
    try:
        wait_synced(c, r1.client())
        wait_synced(c, r2.client())
        assert "Starting rdb snapshot (diskless) for 2 replica(s)" in kv.log()
        assert kv.log().count("Starting rdb snapshot") == 1
    finally:
        r1.cleanup()
        r2.cleanup()


def test_a_stalled_replica_does_not_hold_up_its_snapshot_sibling(make_server):
    """Two replicas share one diskless snapshot; one stops reading (SIGSTOP) mid-transfer:
    the other still completes and streams."""
    kv = make_server("kvstore", ["--repl-diskless-sync-delay", "5",
                                 "--repl-diskless-sync-max-replicas", "2"]).start()
    c = kv.client()
    c.execute_command("DEBUG", "POPULATE", 200000, "key", 100)     # a ~24 MB snapshot
    slow = start_redis_replica(kv.port)
    fast = start_redis_replica(kv.port)
    try:
        wait_until(lambda: "for 2 replica(s)" in kv.log(), what="the shared snapshot")
        slow.proc.send_signal(signal.SIGSTOP)
        wait_synced(c, fast.client(), what="the fast replica")
        c.set("streamed", "1")
        wait_synced(c, fast.client(), what="the fast replica streaming")
        assert kv.log().count("Starting rdb snapshot") == 1
    finally:
        slow.proc.send_signal(signal.SIGCONT)
        slow.cleanup()
        fast.cleanup()
