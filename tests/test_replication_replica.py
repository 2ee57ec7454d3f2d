"""kvstore as a replica: of kvstore (chains, kill -9 loops, promotion and re-pointing), of a
real redis-server 7.0 (migration), and of a scripted fake primary sending bad snapshots and
corrupt streams. DEBUG DIGEST is compared after every step."""

import os
import re
import signal
import threading
import time

import pytest
import redis

from tests.conftest import ServerProcess, wait_until
from tests.replication_helpers import (FakePrimary, Proxy, digest, fill_all_types, info,
                                       wait_synced)


def kv_replica(make_server, primary_port, *extra, **kw):
    return make_server("kvstore", ["--replicaof", "127.0.0.1", str(primary_port)] + list(extra),
                       **kw).start()


class Load:
    """A write load across all types in a thread; `acked` holds keys whose WAIT 1 returned 1
    (a replica acknowledged them)."""

    def __init__(self, port, wait_acks=False):
        self.c = redis.Redis(port=port, socket_timeout=30)
        self.stop = threading.Event()
        self.acked = []
        self.wait_acks = wait_acks
        self.n = 0
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while not self.stop.is_set():
                i = self.n
                p = self.c.pipeline(transaction=(i % 7 == 0))
                p.set("k%d" % i, i)
                p.rpush("list", i)
                p.hset("hash", "f%d" % (i % 500), i)
                p.sadd("set", i % 300)
                p.zadd("zset", {"m%d" % (i % 400): i})
                if i % 50 == 0:
                    p.lpop("list")
                    p.srem("set", (i + 1) % 300)
                    p.expire("k%d" % (i // 2), 1000)
                p.execute()
                if self.wait_acks and self.c.execute_command("WAIT", 1, 200) == 1:
                    self.acked.append(i)
                self.n += 1
        except Exception as e:             # noqa: BLE001 - reported by finish()
            self.error = e

    def finish(self):
        self.stop.set()
        self.thread.join(30)
        assert self.error is None, self.error
        assert self.n > 0


def test_chain_under_load_all_types(make_server):
    p = make_server("kvstore").start()
    fill_all_types(p.client(), "pre")
    mid = kv_replica(make_server, p.port)
    leaf = kv_replica(make_server, mid.port)
    load = Load(p.port)
    wait_until(lambda: load.n > 300, timeout=60, what="load")
    # A real Redis replica of the middle node joins mid-load: its RDB comes from the middle
    # node's snapshot, whose repl-stream-db must match the db selected in the stream.
    redis_leaf = ServerProcess("redis", ["--replicaof", "127.0.0.1", str(mid.port)]).start()
    try:
        wait_until(lambda: load.n > 600, timeout=60, what="more load")
        load.finish()
        wait_synced(p.client(), mid.client())
        wait_synced(p.client(), leaf.client())
        wait_synced(p.client(), redis_leaf.client())
        assert "Full resync from master" in redis_leaf.log()
    finally:
        redis_leaf.cleanup()
    mst = info(mid.client(), "stats")
    assert mst["total_net_repl_input_bytes"] >= info(mid.client())["master_repl_offset"]
    assert info(p.client(), "stats")["total_net_repl_output_bytes"] > 0
    ids = {info(s.client())["master_replid"] for s in (p, mid, leaf)}
    offs = {info(s.client())["master_repl_offset"] for s in (p, mid, leaf)}
    assert len(ids) == 1 and len(offs) == 1
    assert info(leaf.client())["master_port"] == mid.port
    assert info(mid.client())["slave0"]["port"] == leaf.port
    # ROLE of a replica, raw: port and offset are integers
    off = info(mid.client())["slave_repl_offset"]
    assert mid.raw().call("ROLE") == (
        b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:%d\r\n$9\r\nconnected\r\n:%d\r\n"
        % (p.port, off))
    assert mid.raw().call("SET", "x", "1") == \
        b"-READONLY You can't write against a read only replica.\r\n"
    raw = mid.raw()
    assert raw.call("MULTI") == b"+OK\r\n"
    assert raw.call("SET", "x", "1") == \
        b"-READONLY You can't write against a read only replica.\r\n"
    assert raw.call("GET", "x") == b"+QUEUED\r\n"
    assert raw.call("EXEC") == \
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    assert raw.call("PUBLISH", "ch", "m") == b":0\r\n"      # not a data write: allowed
    assert mid.raw().call("WAIT", "1", "0").startswith(
        b"-ERR WAIT cannot be used with replica instances.")


def test_replica_kill9_loop_always_continues(make_server):
    """10 rounds in CI; KVSTORE_SOAK_ROUNDS=200 for a soak run (with --timeout 0)."""
    rounds = int(os.environ.get("KVSTORE_SOAK_ROUNDS", "10"))
    p = make_server("kvstore").start()
    fill_all_types(p.client(), "pre")
    r = kv_replica(make_server, p.port)
    wait_synced(p.client(), r.client())
    load = Load(p.port, wait_acks=True)
    checked = 0                                  # load.acked[:checked] verified already
    try:
        for round_ in range(rounds):
            target = load.n + 30
            wait_until(lambda: load.n > target, timeout=60, what="load progress")
            acked = load.acked[checked:]
            r.kill9()
            r.start()
            # Everything a WAIT reported as replicated survived the kill (committed data
            # never disappears later, so each round checks the writes acknowledged since).
            pipe = r.client().pipeline(transaction=False)
            for i in acked:
                pipe.exists("k%d" % i)
            missing = [i for i, n in zip(acked, pipe.execute()) if n == 0]
            assert missing == []
            checked += len(acked)
    finally:
        load.finish()
    assert len(load.acked) > 0                   # WAIT (GETACK) works with kvstore replicas
    wait_synced(p.client(), r.client())
    st = info(p.client(), "stats")
    assert st["sync_full"] == 1
    assert st["sync_partial_ok"] == rounds
    assert len(re.findall(r"Successful partial resynchronization", r.log())) == rounds


def test_primary_kill9_loop_replicas_continue(make_server):
    """kill -9 of the primary (appendfsync always) under load, 3 times: the kvstore replica
    and a real Redis replica continue with +CONTINUE every time."""
    p = make_server("kvstore", ["--appendfsync", "always"]).start()
    r = kv_replica(make_server, p.port)
    rr = ServerProcess("redis", ["--replicaof", "127.0.0.1", str(p.port)]).start()
    try:
        wait_synced(p.client(), r.client())
        wait_synced(p.client(), rr.client())
        for round_ in range(3):
            load = Load(p.port)
            wait_until(lambda: load.n > 100, timeout=60, what="load")
            p.kill9()
            load.stop.set()
            load.thread.join(30)
            p.start()
            fill_all_types(p.client(), "after%d" % round_)
            wait_synced(p.client(), r.client())
            wait_synced(p.client(), rr.client())
            st = info(p.client(), "stats")
            assert (st["sync_full"], st["sync_partial_ok"]) == (0, 2)
        assert r.log().count("Full resync from master") == 1
        assert rr.log().count("Full resync from master") == 1
    finally:
        rr.cleanup()


def test_promotion_and_repointed_sibling_continue(make_server):
    p = make_server("kvstore").start()
    fill_all_types(p.client(), "pre")
    a = kv_replica(make_server, p.port)
    b = kv_replica(make_server, p.port)
    wait_synced(p.client(), a.client())
    wait_synced(p.client(), b.client())
    old = info(p.client())
    p.stop()
    ac = a.client()
    assert ac.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    ai = info(ac)
    assert ai["role"] == "master"
    assert ai["master_replid2"] == old["master_replid"]
    assert ai["second_repl_offset"] == old["master_repl_offset"] + 1
    ac.set("on_new_primary", "1")
    bc = b.client()
    assert bc.execute_command("REPLICAOF", "127.0.0.1", a.port) == b"OK"
    wait_synced(ac, bc)
    assert bc.get("on_new_primary") == b"1"
    st = info(ac, "stats")
    assert (st["sync_full"], st["sync_partial_ok"]) == (0, 1)
    assert bc.execute_command("REPLICAOF", "127.0.0.1", a.port) == \
        b"OK Already connected to specified master"
    # The old primary comes back as a replica of the new one: +CONTINUE too.
    p.extra += ["--replicaof", "127.0.0.1", str(a.port)]
    p.start()
    wait_synced(ac, p.client())
    assert info(ac, "stats")["sync_full"] == 0


def test_link_cut_during_full_sync_keeps_old_data(make_server):
    p = make_server("kvstore").start()
    pc = p.client()
    pipe = pc.pipeline(transaction=False)
    for i in range(20000):
        pipe.set("big:%d" % i, "x" * 100)
    pipe.execute()
    proxy = Proxy(p.port, rate=400000)           # ~2.4 MB snapshot: several seconds
    r = make_server("kvstore").start()
    rc = r.client()
    rc.set("old", "data")
    old_digest = digest(rc)
    try:
        assert rc.execute_command("REPLICAOF", "127.0.0.1", proxy.port) == b"OK"
        wait_until(lambda: info(rc)["master_sync_in_progress"] == 1 and proxy.bytes_down
                   > 200000, timeout=30, what="transfer in progress")
        assert rc.get("old") == b"data"          # old data still served during the sync
        fields = info(rc)
        assert fields["master_sync_total_bytes"] == 0        # an $EOF: (diskless) transfer
        assert fields["master_sync_read_bytes"] > 0
        proxy.cut()
        proxy.rate = None
        wait_until(lambda: "connection closed by the primary" in r.log(), what="link error")
        assert digest(rc) == old_digest and rc.get("old") == b"data"
        wait_synced(pc, rc)                      # then it retries and completes
        assert rc.get("old") is None
    finally:
        proxy.close()


def _handshake_replica(make_server, fake):
    r = make_server("kvstore").start()
    rc = r.client()
    rc.set("precious", "yes")
    before = digest(rc)
    assert rc.execute_command("REPLICAOF", "127.0.0.1", fake.port) == b"OK"
    return r, rc, before


@pytest.mark.parametrize("payload,reason", [
    (b"$20\r\nthis is not an rdb!!", "bad snapshot from the primary: Wrong signature"),
    (b"$100\r\nREDIS0009\xfa", "connection closed by the primary"),
    (b"$EOF:" + b"a" * 40 + b"\r\nREDIS0009\xfe\x00\x00\x01k\x01v\xff" + b"\x01" * 8 + b"a" * 40,
     "bad snapshot from the primary"),
], ids=["garbage", "truncated", "bad-checksum"])
def test_bad_snapshot_keeps_data_and_retries(make_server, payload, reason):
    def script(args):
        return b"+FULLRESYNC " + b"f" * 40 + b" 100\r\n" + payload
    fake = FakePrimary(script, hold=0.5)
    try:
        r, rc, before = _handshake_replica(make_server, fake)
        wait_until(lambda: len(fake.psyncs) >= 2, timeout=30, what="a retry")
        assert reason in r.log()
        assert digest(rc) == before and rc.get("precious") == b"yes"
        assert info(rc)["master_link_status"] == "down"
    finally:
        fake.close()


SET_A = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
GETACK = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"


def test_getack_answers_the_offset_before_it(make_server):
    """REPLCONF GETACK is answered with the applied offset before the GETACK itself; the
    periodic ACKs then include it (fact sheet 4.3)."""
    def script(args):
        return b"+CONTINUE " + b"e" * 40 + b"\r\n" + SET_A + GETACK
    fake = FakePrimary(script, hold=10)
    try:
        r, rc, before = _handshake_replica(make_server, fake)
        wait_until(lambda: len(fake.acks) >= 3, what="ACKs")
        start = int(fake.psyncs[0][1]) - 1
        acks = fake.acks
        assert acks[0] == start                               # right after +CONTINUE
        assert start + len(SET_A) in acks                     # the GETACK's answer
        wait_until(lambda: fake.acks[-1] == start + len(SET_A) + len(GETACK),
                   what="periodic ACK counting the GETACK")
        assert rc.get("a") == b"1"
    finally:
        fake.close()


def test_corrupt_stream_drops_link_keeps_data(make_server):
    def script(args):
        return b"+CONTINUE " + b"e" * 40 + b"\r\n" + SET_A + b"*2\r\n$3\r\nSET\r\nGARBAGE\r\n"
    fake = FakePrimary(script, hold=5)
    try:
        r, rc, before = _handshake_replica(make_server, fake)
        wait_until(lambda: "corrupt replication stream" in r.log(), what="stream error")
        assert rc.get("a") == b"1"               # the complete command before it applied
        assert rc.get("precious") == b"yes"
        wait_until(lambda: len(fake.psyncs) >= 2, timeout=30, what="a retry")
        # It asks to continue right after the last command it applied.
        assert int(fake.psyncs[-1][1]) == int(fake.psyncs[0][1]) + len(SET_A)
    finally:
        fake.close()


def test_redis_primary_to_kvstore_replica(make_server):
    rp = make_server("redis", ["--repl-diskless-sync-delay", "0"]).start()
    rpc = rp.client()
    fill_all_types(rpc, "pre", n=200)
    rpc.set("expiring", "x", px=200000)
    r = kv_replica(make_server, rp.port)
    rc = r.client()
    wait_synced(rpc, rc)
    fill_all_types(rpc, "post")
    rpc.incrbyfloat("fl", "0.1")
    rpc.execute_command("SELECT", "4")
    rpc.lpush("db4list", 1, 2, 3)
    wait_synced(rpc, rc)
    # A link drop and a kill -9 of the replica both continue from Redis's backlog.
    rpc.client_kill_filter(_type="replica")
    rpc.set("after_drop", "1")
    wait_synced(rpc, rc)
    r.kill9()
    rpc.set("after_kill", "1")
    r.start()
    wait_synced(rpc, r.client())
    st = info(rpc, "stats")
    assert (st["sync_full"], st["sync_partial_ok"]) == (1, 2)


def test_replica_hides_expired_keys_until_primary_deletes(make_server):
    p = make_server("kvstore").start()
    pc = p.client()
    r = kv_replica(make_server, p.port)
    rc = r.client()
    pc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    pc.set("soon", "v", px=100)
    wait_synced(pc, rc)
    time.sleep(0.2)
    assert rc.get("soon") is None                # logically expired: hidden
    assert rc.dbsize() == 1                      # but kept until the primary's DEL
    # A read on the primary finds it expired: it is deleted there and the DEL replicated,
    # as Redis does (the active cycle is still off).
    assert pc.get("soon") is None
    wait_until(lambda: rc.dbsize() == 0, what="DEL from the primary")
    wait_synced(pc, rc)
    assert pc.info("stats")["expired_keys"] == 1
    pc.set("later", "v", px=1500)
    wait_until(lambda: rc.exists("later") == 1, what="replicated")
    pc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")   # the active cycle: DEL too
    wait_until(lambda: rc.dbsize() == 0, what="DEL from the active cycle")
    wait_synced(pc, rc)


def test_replicaof_errors(make_server):
    s = make_server("kvstore").start()
    raw = s.raw()
    assert raw.call("REPLICAOF", "127.0.0.1", "x") == b"-ERR Invalid master port\r\n"
    assert raw.call("REPLICAOF", "127.0.0.1", str(s.port)) == \
        b"-ERR Can't replicate from this server's own address\r\n"
    assert raw.call("REPLICAOF", "NO", "ONE") == b"+OK\r\n"
    assert raw.call("SLAVEOF", "no", "one") == b"+OK\r\n"
    assert raw.call("REPLICAOF", "a") == \
        b"-ERR wrong number of arguments for 'replicaof' command\r\n"
    # A replica whose primary is down refuses its own replicas' PSYNC.
    free = ServerProcess("kvstore")              # never started: nothing listens there
    assert raw.call("REPLICAOF", "127.0.0.1", str(free.port)) == b"+OK\r\n"
    assert s.client().config_get("replicaof") == {"replicaof": "127.0.0.1 %d" % free.port}
    assert raw.call("PSYNC", "?", "-1") == \
        b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n"


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_kvstore_to_kvstore_full_sync_is_native(make_server, diskless):
    """Between kvstore nodes a full sync ships LMDB's compacted copy of the environment (both
    transfer forms); the replica adopts it whole, log and counters included."""
    p = make_server("kvstore", ["--repl-diskless-sync", diskless]).start()
    pc = p.client()
    fill_all_types(pc, "native", n=300)
    r = kv_replica(make_server, p.port)
    rc = r.client()
    wait_synced(pc, rc)
    assert "Starting native snapshot (%s)" % ("diskless" if diskless == "yes" else "disk") \
        in p.log()
    assert "native snapshot" in r.log()
    assert rc.info("keyspace") == pc.info("keyspace")
    pc.set("after", "1")
    wait_synced(pc, rc)
    # Its log now holds the primary's history: a sub-replica can continue from it.
    assert info(rc)["repl_backlog_first_byte_offset"] == info(pc)["repl_backlog_first_byte_offset"]


@pytest.mark.parametrize("primary_kind", ["kvstore", "redis"])
def test_refuses_empty_dataset_from_unknown_primary(make_server, primary_kind):
    """The "primary restarted empty" accident: a replica with data refuses to be wiped by an
    empty primary it never followed, keeps retrying, and gives in only when allowed."""
    p = make_server(primary_kind).start()
    r = make_server("kvstore").start()
    rc = r.client()
    rc.set("precious", "1")
    before = digest(rc)
    rc.execute_command("REPLICAOF", "127.0.0.1", p.port)
    wait_until(lambda: r.log().count("refusing a full sync") >= 2, timeout=30,
               what="refusal and a retry")
    fields = info(rc)
    assert fields["master_link_status"] == "down"
    assert "EMPTY dataset" in fields["kvstore_master_link_error"]
    assert digest(rc) == before
    rc.config_set("replica-allow-empty-fullsync", "yes")
    wait_synced(p.client(), rc)
    assert rc.dbsize() == 0


def test_replication_cycle_is_refused(make_server):
    a = make_server("kvstore").start()
    b = kv_replica(make_server, a.port)
    wait_synced(a.client(), b.client())
    c = kv_replica(make_server, b.port)
    wait_synced(a.client(), c.client())
    # a -> b -> c; making a a replica of c would close a cycle
    ac = a.client()
    ac.execute_command("REPLICAOF", "127.0.0.1", c.port)
    wait_until(lambda: "replication cycle" in a.log(), timeout=30, what="cycle refusal")
    assert "a replication cycle" in c.log()
    assert "replication cycle" in info(ac)["kvstore_master_link_error"]
    node_a = info(ac)["kvstore_node_id"]
    assert node_a in a.log() and len(node_a) == 40


def test_masterauth_and_stale_data(make_server):
    p = make_server("kvstore", ["--requirepass", "s3cret"]).start()
    pc = p.client(password="s3cret")
    pc.set("k", "v")
    r = kv_replica(make_server, p.port, "--masterauth", "s3cret",
                   "--replica-serve-stale-data", "no")
    rc = r.client()
    wait_synced(pc, rc)
    assert rc.get("k") == b"v"
    p.stop()
    wait_until(lambda: info(rc)["master_link_status"] == "down", what="link down")
    raw = r.raw()
    assert raw.call("GET", "k") == (b"-MASTERDOWN Link with MASTER is down and "
                                    b"replica-serve-stale-data is set to 'no'.\r\n")
    assert raw.call("PING") == b"+PONG\r\n"                 # flagged stale: still served
    assert info(rc)["master_link_down_since_seconds"] >= 0
    p.start()
    wait_synced(pc, rc)
    assert raw.call("GET", "k") == b"$1\r\nv\r\n"
    assert re.search(r"\d+:S \d", r.log())                 # replica log lines say S


def test_log_is_held_for_a_stalled_replica_up_to_the_cap(make_server):
    p = make_server("kvstore", ["--repl-log-max-size", "1mb"]).start()
    pc = p.client()
    value = "x" * 1000
    pipe = pc.pipeline(transaction=False)
    for i in range(300):
        pipe.set("early:%d" % i, value)
    pipe.execute()
    r = kv_replica(make_server, p.port)
    wait_synced(pc, r.client())
    end = info(pc)["master_repl_offset"]
    wait_until(lambda: info(pc)["slave0"]["offset"] == end, what="the replica's ACK")
    r.proc.send_signal(signal.SIGSTOP)
    try:
        pipe = pc.pipeline(transaction=False)
        for i in range(1500):                 # ~1.5 MB: over the cap, under twice the cap
            pipe.set("held:%d" % (i % 100), value)
        pipe.execute()
        # The trim runs (the early records go) but stops at what the replica has not ACKed.
        wait_until(lambda: info(pc)["repl_backlog_first_byte_offset"] > 1, what="a trim")
        pi = info(pc)
        assert pi["connected_slaves"] == 1
        assert pi["repl_backlog_first_byte_offset"] <= end + 1
        assert pi["repl_backlog_histlen"] > 1024 * 1024
    finally:
        r.proc.send_signal(signal.SIGCONT)
    wait_synced(pc, r.client())
    assert info(pc, "stats")["sync_full"] == 1
    # Far past twice the cap, the stalled replica is dropped and the log trimmed.
    r.proc.send_signal(signal.SIGSTOP)
    try:
        pipe = pc.pipeline(transaction=False)
        for i in range(12000):                # ~12 MB: beyond socket buffers and the cap
            pipe.set("far:%d" % (i % 100), value)
        pipe.execute()
        wait_until(lambda: "more than the log may hold for it" in p.log(), timeout=30,
                   what="the replica to be dropped")
        wait_until(lambda: info(pc)["repl_backlog_histlen"] <= 2 * 1024 * 1024, timeout=30,
                   what="the log to be trimmed")
    finally:
        r.proc.send_signal(signal.SIGCONT)
    wait_synced(pc, r.client())


def test_client_kill_type_master_and_replica_then_continue(make_server):
    p = make_server("kvstore").start()
    pc = p.client()
    fill_all_types(pc, "kill")
    r = kv_replica(make_server, p.port)
    rc = r.client()
    wait_synced(pc, rc)
    def partial_syncs(n):
        wait_until(lambda: info(pc, "stats")["sync_partial_ok"] == n, what="reconnection")
        wait_synced(pc, rc)
    assert rc.execute_command("CLIENT", "KILL", "TYPE", "master") == 1
    pc.set("after_master_kill", "1")
    partial_syncs(1)
    assert pc.execute_command("CLIENT", "KILL", "TYPE", "slave") == 1
    pc.set("after_replica_kill", "1")
    partial_syncs(2)
    assert pc.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
    partial_syncs(3)
    assert info(pc, "stats")["sync_full"] == 1
    assert pc.execute_command("CLIENT", "KILL", "TYPE", "master") == 0
    pc.config_resetstat()
    assert info(pc, "stats")["sync_full"] == 0


@pytest.mark.parametrize("mode,diskless_sync", [("swapdb", "yes"), ("swapdb", "no"),
                                                ("on-empty-db", "yes")])
def test_diskless_load_from_redis_primary(make_server, mode, diskless_sync):
    """repl-diskless-load: the RDB is parsed straight from the socket into staging dbs
    (both transfer forms), then the stream continues; the old data serves until the swap."""
    rp = make_server("redis", ["--repl-diskless-sync", diskless_sync,
                               "--repl-diskless-sync-delay", "0"]).start()
    rpc = rp.client()
    fill_all_types(rpc, "dl", n=300)
    r = kv_replica(make_server, rp.port, "--repl-diskless-load", mode)
    rc = r.client()
    wait_synced(rpc, rc)
    assert "loading the RDB straight from the socket (repl-diskless-load %s)" % mode in r.log()
    assert not [f for f in os.listdir(r.dir) if f.startswith("temp-")]
    rpc.set("after", "1")
    wait_synced(rpc, rc)


def test_diskless_load_bad_mark_keeps_data(make_server):
    rdb = (b"REDIS0009\xfe\x00\x00\x01k\x01v\xff" + b"\x00" * 8)   # checksum 0 = unchecked
    def script(args):
        return (b"+FULLRESYNC " + b"f" * 40 + b" 100\r\n$EOF:" + b"a" * 40 + b"\r\n" + rdb
                + b"b" * 40)
    fake = FakePrimary(script, hold=0.5)
    try:
        r = make_server("kvstore", ["--repl-diskless-load", "swapdb"]).start()
        rc = r.client()
        rc.set("precious", "yes")
        before = digest(rc)
        rc.execute_command("REPLICAOF", "127.0.0.1", fake.port)
        wait_until(lambda: len(fake.psyncs) >= 2, timeout=30, what="a retry")
        assert "the EOF mark does not follow the RDB" in r.log()
        assert digest(rc) == before and rc.get("k") is None
    finally:
        fake.close()


def test_stale_transfer_files_are_removed_at_start(make_server):
    s = make_server("kvstore")
    for name in ("temp-1700000000.123.rdb", "temp-repl-9-1.mdb", "temp-repl-9-2.rdb.tmp-77",
                 "dump.rdb.tmp-12", "keep-me.rdb"):
        with open(os.path.join(s.dir, name), "w") as f:
            f.write("x")
    os.makedirs(os.path.join(s.dir, "kvstore.lmdb.incoming"))
    s.start()
    assert sorted(n for n in os.listdir(s.dir) if n not in ("kvstore-node.id", "server.log",
                                                             "kvstore.lmdb")) == ["keep-me.rdb"]
