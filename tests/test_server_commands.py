"""Server and connection commands through a real client: CLIENT, COMMAND, INFO, SAVE/BGSAVE/
LASTSAVE, FLUSH*/SWAPDB with data, idle timeout, daemonize, active expiry at volume."""

import os
import shutil
import subprocess
import time

import redis

from tests.conftest import RawConn, wait_until


def test_client_list_info_kill(kvstore_session):
    a = kvstore_session.client()
    b = kvstore_session.client()
    a.client_setname("alpha")
    b.client_setname("beta")
    info = a.client_info()
    assert (info["name"], str(info["db"]), str(info["resp"])) == ("alpha", "0", "2")
    assert info["cmd"] == "client|info"
    names = {c["name"] for c in a.client_list()}
    assert {"alpha", "beta"} <= names
    bid = b.client_id()
    assert a.client_list(client_id=[bid])[0]["name"] == "beta"
    assert a.client_kill_filter(_id=bid) == 1
    wait_until(lambda: all(c["name"] != "beta" for c in a.client_list()), what="kill")
    raw = RawConn(kvstore_session.port)
    line = raw.call("CLIENT", "INFO")
    fields = [kv.split(b"=")[0] for kv in line.split(b"\r\n")[1].split(b" ")]
    assert fields == [b"id", b"addr", b"laddr", b"fd", b"name", b"age", b"idle", b"flags",
                      b"db", b"sub", b"psub", b"ssub", b"multi", b"qbuf", b"qbuf-free",
                      b"argv-mem", b"multi-mem", b"rbs", b"rbp", b"obl", b"oll", b"omem",
                      b"tot-mem", b"events", b"cmd", b"user", b"redir", b"resp"]
    assert raw.call("QUIT") == b"+OK\r\n"
    assert raw.read_all_until_closed() == b""


def test_command_introspection(kvstore_session, redis_ref):
    k = RawConn(kvstore_session.port)
    r = RawConn(redis_ref.port)
    for cmd in ("get", "set", "mset", "del", "ping"):
        ours = kvstore_session.client().command()[cmd]
        theirs = redis_ref.client().command()[cmd]
        for field in ("name", "arity", "first_key_pos", "last_key_pos", "step_count"):
            assert ours[field] == theirs[field], (cmd, field)
    assert k.call("COMMAND", "COUNT").startswith(b":")
    count = int(k.call("COMMAND", "COUNT")[1:-2])
    names = [n.encode() if isinstance(n, str) else n
             for n in kvstore_session.client().command_list()]
    assert count == len([n for n in names if b"|" not in n])
    assert b"get" in names and b"config|get" in names
    assert sorted(kvstore_session.client().command_list(pattern="inc*")) == sorted(
        [b"incr", b"incrby", b"incrbyfloat"])
    docs = k.call("COMMAND", "DOCS", "get")
    assert docs.startswith(b"*2\r\n$3\r\nget\r\n*6\r\n$7\r\nsummary\r\n")
    r.close()
    k.close()


def test_info_sections(kv):
    kv.set("a", "1")
    kv.set("b", "2", ex=100)
    info = kv.info()
    for field in ("redis_version", "connected_clients", "used_memory", "used_memory_rss",
                  "rdb_last_save_time", "total_commands_processed", "role",
                  "master_repl_offset", "used_cpu_sys", "kvstore_data_bytes"):
        assert field in info, field
    assert info["db0"] == {"keys": 2, "expires": 1, "avg_ttl": 0}
    assert info["used_memory"] > 0 and info["used_memory_rss"] > 0
    assert set(kv.info("keyspace")) == {"db0"}
    assert "redis_version" not in kv.info("clients")
    raw = RawConn(kv.connection_pool.connection_kwargs["port"])
    reply = raw.call("INFO", "server", "clients")
    text = reply[reply.index(b"\r\n") + 2:]
    assert text.startswith(b"# Server\r\n") and b"\r\n\r\n# Clients\r\n" in text


def test_save_bgsave_lastsave(kv):
    before = kv.lastsave()
    time.sleep(1.1)
    kv.set("k", "v")
    assert kv.info("persistence")["rdb_changes_since_last_save"] >= 1
    assert kv.save() is True
    assert kv.lastsave() > before
    assert kv.info("persistence")["rdb_changes_since_last_save"] == 0
    raw = RawConn(kv.connection_pool.connection_kwargs["port"])
    assert raw.call("BGSAVE") == b"+Background saving started\r\n"
    assert raw.call("BGSAVE") == b"-ERR Background save already in progress\r\n"
    assert raw.call("SAVE") == b"-ERR Background save already in progress\r\n"
    wait_until(lambda: kv.info("persistence")["rdb_bgsave_in_progress"] == 0, what="bgsave")
    assert kv.info("persistence")["rdb_last_bgsave_status"] == "ok"
    assert raw.call("BGSAVE", "SCHEDULE") == b"+Background saving started\r\n"
    wait_until(lambda: kv.info("persistence")["rdb_bgsave_in_progress"] == 0, what="bgsave")


def test_save_writes_an_rdb_that_redis_loads(kv, make_server, tmp_path):
    """SAVE writes `dbfilename` in `dir` as an RDB (backups, migration out): redis-check-rdb
    accepts it and a real redis-server started on it has the same DEBUG DIGEST."""
    kv.flushall()
    kv.set("s", "v")
    kv.set("n", "12345", px=500000)
    kv.rpush("l", *["e%d" % i for i in range(300)])
    kv.hset("h", mapping={"f%d" % i: i for i in range(200)})
    kv.sadd("set", 1, 2, 3)
    kv.zadd("z", {"a": 1.5, "b": -2})
    kv.execute_command("SELECT", "5")
    kv.set("in5", "x")
    kv.execute_command("SELECT", "0")
    assert kv.save() is True
    path = os.path.join(kv.config_get("dir")["dir"], kv.config_get("dbfilename")["dbfilename"])
    check = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True)
    assert "RDB looks OK" in check.stdout, check.stdout
    shutil.copy(path, tmp_path / "dump.rdb")
    ref = make_server("redis", ["--dbfilename", "dump.rdb"], dir=str(tmp_path)).start()
    assert ref.client().execute_command("DEBUG", "DIGEST") == \
        kv.execute_command("DEBUG", "DIGEST")
    assert ref.client(db=5).get("in5") == b"x"
    assert ref.client().lrange("l", 0, -1) == kv.lrange("l", 0, -1)


def test_flush_and_swapdb_with_data(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    pipe = c.pipeline(transaction=False)
    for i in range(20000):
        pipe.set("k%d" % i, "v")
    pipe.execute()
    c.execute_command("SELECT", "0")
    c.swapdb(0, 1)
    assert c.dbsize() == 0
    c1 = srv.client(db=1)
    assert c1.dbsize() == 20000
    assert c1.get("k5") == b"v"
    assert c.flushall(asynchronous=True) is True
    assert c1.dbsize() == 0
    c1.set("fresh", "1")
    wait_until(lambda: c.info("memory")["lazyfree_pending_objects"] == 0, timeout=30,
               what="reclaim of the flushed database")
    assert c1.keys("*") == [b"fresh"]
    assert c.info("stats")["expired_keys"] == 0
    srv.stop()
    srv.start()
    assert srv.client(db=1).keys("*") == [b"fresh"]
    assert srv.client().dbsize() == 0


def test_idle_timeout_closes_clients(make_server):
    srv = make_server("kvstore", ["--timeout", "1"]).start()
    raw = srv.raw()
    assert raw.call("PING") == b"+PONG\r\n"
    assert raw.read_all_until_closed(timeout=10) == b""
    assert srv.client().ping() is True


def test_daemonize_writes_pidfile_and_detaches(make_server, tmp_path):
    pidfile = tmp_path / "d.pid"
    srv = make_server("kvstore", ["--daemonize", "yes", "--pidfile", str(pidfile)])
    srv.start(wait=False)
    assert srv.proc.wait(20) == 0                      # the launcher returns at once
    wait_until(pidfile.exists, what="pidfile")
    srv.wait_ready = None
    wait_until(lambda: _ping(srv.port), what="daemon to serve")
    pid = int(pidfile.read_text())
    assert pid != srv.proc.pid
    c = srv.client()
    c.set("d", "1")
    assert c.shutdown() is None
    wait_until(lambda: not _alive(pid), what="daemon exit")
    assert not pidfile.exists()


def _ping(port):
    try:
        return redis.Redis(port=port, protocol=2, socket_timeout=1).ping()
    except redis.ConnectionError:
        return False


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_active_expiry_keeps_up_with_many_keys(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    pipe = c.pipeline(transaction=False)
    for i in range(20000):
        pipe.set("e%d" % i, "v", px=200)
    pipe.set("keep", "v")
    pipe.execute()
    wait_until(lambda: c.dbsize() == 1, timeout=30, what="20000 keys to expire")
    assert c.info("stats")["expired_keys"] == 20000
    assert c.keys("*") == [b"keep"]


def test_keyspace_hits_and_misses_like_redis(kvstore_session, redis_ref):
    counts = []
    for srv in (kvstore_session, redis_ref):
        c = srv.client()
        c.flushall()
        c.config_resetstat()
        c.set("present", "1")
        c.get("present")
        c.get("absent")
        c.mget("present", "absent", "absent2")
        c.exists("present")
        c.strlen("absent")
        info = c.info("stats")
        counts.append((info["keyspace_hits"], info["keyspace_misses"]))
    assert counts[0] == counts[1] == (3, 4)


def test_info_stats_and_replication_fields_in_redis_order(kv, ref):
    """INFO stats / replication of a primary without replicas: the same field names in the
    same order as redis-server 7.0 (kvstore's own kvstore_* fields aside)."""
    for section in ("stats", "replication"):
        mine = [k for k in kv.info(section) if not k.startswith("kvstore_")]
        theirs = list(ref.info(section))
        assert mine == theirs, section
    kv.set("x", "y")
    stats = kv.info("stats")
    assert stats["total_net_input_bytes"] > 0 and stats["total_net_output_bytes"] > 0


def test_debug_object_refcount_and_lru_as_redis(kvstore_session, redis_ref):
    """DEBUG OBJECT's refcount (shared integers) as Redis reports it and its LRU clock
    (seconds, 24 bits) as Redis defines it; the address and serializedlength are kvstore's
    own."""
    fields = {}
    for name, srv in (("kv", kvstore_session), ("redis", redis_ref)):
        c = srv.client()
        c.mset({"dbg:int": "42", "dbg:str": "hello", "dbg:big": "123456"})
        fields[name] = {}
        for key in ("dbg:int", "dbg:str", "dbg:big"):
            line = c.execute_command("DEBUG", "OBJECT", key)
            fields[name][key] = dict(f.split(":", 1) for f in line.decode().split()[1:])
        c.delete("dbg:int", "dbg:str", "dbg:big")
    now = int(time.time()) & 0xFFFFFF
    for key in ("dbg:int", "dbg:str", "dbg:big"):
        ours, theirs = fields["kv"][key], fields["redis"][key]
        assert (ours["refcount"], ours["encoding"]) == (theirs["refcount"], theirs["encoding"])
        # (Redis's own value comes from a clock its cron refreshes: not compared)
        assert abs(int(ours["lru"]) - now) <= 5, (ours, theirs, now)
    assert fields["kv"]["dbg:int"]["refcount"] == "2147483647"
    assert fields["kv"]["dbg:big"]["refcount"] == "1"
