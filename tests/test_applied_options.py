"""Options kvstore applies beyond the core ones tested elsewhere (rdbchecksum,
client-query-buffer-limit, bind-source-addr, repl-disable-tcp-nodelay, syslog-enabled,
active-expire-effort), and the rule behind `applies` in the option table: an option marked as
applied is read by the code; the others get the start-up notice."""

import os
import pathlib
import re
import socket
import subprocess

import pytest

from kvstore.config import OPTIONS
from tests.conftest import wait_until
from tests.replication_helpers import FakePrimary, info, wait_synced

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _code_outside_the_option_table():
    """The sources, with config.py from its Config class on (which reads some options
    itself) instead of whole (the table names every option)."""
    parts = []
    for top in ("kvstore", "replication"):
        for path in sorted((ROOT / top).rglob("*.py")):
            text = path.read_text()
            if path.name == "config.py":
                text = text[text.index("\nclass Config:"):]
            parts.append(text)
    return "\n".join(parts)


def test_every_option_marked_applied_is_read_by_the_code():
    """`applies` decides whether a user setting an option is told it is only accepted: an
    option marked as applied that no code reads would silently do nothing."""
    code = _code_outside_the_option_table()
    unread = [opt.name for opt in OPTIONS if opt.applies
              and not re.search(r"cfg\.%s(?:_abs)?\b|[\"']%s[\"']" % (opt.pyname,
                                                                       re.escape(opt.name)),
                                code)]
    assert unread == []


def test_options_not_applied_get_the_start_up_notice(make_server):
    srv = make_server("kvstore", ["--rdbcompression", "no", "--tls-port", "0",
                                  "--shutdown-timeout", "3"]).start()
    notice = [line for line in srv.log().splitlines() if "not applied" in line]
    assert len(notice) == 1, srv.log()
    for name in ("rdbcompression", "tls-port", "shutdown-timeout"):
        assert name in notice[0]


def test_rdbchecksum_no_writes_a_zero_trailer_that_redis_loads(make_server, tmp_path):
    kv = make_server("kvstore", ["--rdbchecksum", "no"]).start()
    c = kv.client()
    c.set("s", "v")
    c.rpush("l", *range(50))
    assert c.save() is True
    path = os.path.join(kv.dir, "dump.rdb")
    data = open(path, "rb").read()
    assert data[-9:] == b"\xff" + bytes(8)
    check = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True)
    assert "RDB looks OK" in check.stdout, check.stdout
    (tmp_path / "dump.rdb").write_bytes(data)
    ref = make_server("redis", ["--dbfilename", "dump.rdb"], dir=str(tmp_path)).start()
    assert ref.client().execute_command("DEBUG", "DIGEST") == c.execute_command("DEBUG", "DIGEST")
    # With the default the trailer is the CRC64 (not 0).
    kv2 = make_server("kvstore").start()
    kv2.client().set("s", "v")
    assert kv2.client().save() is True
    assert open(os.path.join(kv2.dir, "dump.rdb"), "rb").read()[-8:] != bytes(8)


_WRONG_CHECKSUM_RDB = (b"$EOF:" + b"a" * 40 + b"\r\nREDIS0009\xfe\x00\x00\x01k\x01v\xff"
                       + b"\x01" * 8 + b"a" * 40)


@pytest.mark.parametrize("checksum", ["yes", "no"])
def test_replica_verifies_the_snapshot_checksum_per_rdbchecksum(make_server, checksum):
    """A full sync whose RDB ends with a wrong (non-zero) CRC64: refused with rdbchecksum yes
    (the data kept), loaded with rdbchecksum no, as Redis's rdbLoad skips the check then."""
    fake = FakePrimary(lambda args: b"+FULLRESYNC " + b"f" * 40 + b" 100\r\n"
                       + _WRONG_CHECKSUM_RDB, hold=10)
    try:
        r = make_server("kvstore", ["--rdbchecksum", checksum]).start()
        rc = r.client()
        rc.set("precious", "yes")
        assert rc.execute_command("REPLICAOF", "127.0.0.1", fake.port) == b"OK"
        if checksum == "yes":
            wait_until(lambda: "wrong checksum" in r.log(), what="the refusal")
            assert rc.get("precious") == b"yes" and rc.get("k") is None
        else:
            wait_until(lambda: rc.get("k") == b"v", what="the load")
            assert rc.get("precious") is None
            assert "wrong checksum" not in r.log()
    finally:
        fake.close()


@pytest.mark.parametrize("kind", ["kvstore", "redis"])
def test_client_query_buffer_limit_closes_the_client(make_server, kind):
    """An incomplete command larger than client-query-buffer-limit closes its client (as
    Redis does, same setting); a command within it runs; other clients are unaffected."""
    srv = make_server(kind, ["--client-query-buffer-limit", "1mb"]).start()
    other = srv.client()
    ok = socket.create_connection(("127.0.0.1", srv.port))
    value = b"x" * 900000
    ok.sendall(b"*3\r\n$3\r\nSET\r\n$2\r\nok\r\n$%d\r\n%s\r\n" % (len(value), value))
    assert ok.recv(100) == b"+OK\r\n"
    big = socket.create_connection(("127.0.0.1", srv.port))
    big.settimeout(20)
    big.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2000000\r\n")
    closed = False
    try:
        for _ in range(30):
            big.sendall(b"y" * 65536)        # 1.9 MB, never the whole value
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    if not closed:
        try:
            closed = big.recv(100) == b""
        except ConnectionResetError:
            closed = True
    assert closed
    assert other.get("ok") == value and other.get("big") is None
    wait_until(lambda: "Closing client that reached max query buffer length" in srv.log(),
               what="the log line")


def test_bind_source_addr_and_repl_disable_tcp_nodelay(make_server):
    """A replica connects from bind-source-addr (any 127/8 address is local); a primary with
    repl-disable-tcp-nodelay syncs and streams as usual."""
    primary = make_server("kvstore", ["--repl-disable-tcp-nodelay", "yes"]).start()
    pc = primary.client()
    pc.set("before", "1")
    replica = make_server("kvstore", ["--replicaof", "127.0.0.1", str(primary.port),
                                      "--bind-source-addr", "127.0.0.2"]).start()
    rc = replica.client()
    wait_synced(pc, rc)
    for i in range(100):
        pc.set("after:%d" % i, i)
    wait_synced(pc, rc)
    assert rc.get("before") == b"1" and rc.get("after:99") == b"99"
    assert info(pc)["slave0"]["ip"] == "127.0.0.2"


def test_active_expire_effort_expires_every_due_key(make_server):
    srv = make_server("kvstore", ["--active-expire-effort", "10", "--hz", "50"]).start()
    c = srv.client()
    with c.pipeline(transaction=False) as p:
        for i in range(5000):
            p.set("k%d" % i, "v", px=50)
        p.set("stays", "v")
        p.execute()
    wait_until(lambda: c.dbsize() == 1, what="active expiry")
    assert c.info("stats")["expired_keys"] == 5000
    assert c.config_get("active-expire-effort") == {"active-expire-effort": "10"}


@pytest.mark.skipif(os.geteuid() != 0 or os.path.exists("/dev/log"),
                    reason="needs root and no syslog daemon: the test listens on /dev/log")
def test_syslog_gets_the_log_lines(make_server):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("/dev/log")
    listener.settimeout(20)
    try:
        srv = make_server("kvstore", ["--syslog-enabled", "yes", "--syslog-ident", "kvtest",
                                      "--syslog-facility", "local3"]).start()
        lines = []
        while not any("Ready to accept connections" in x for x in lines):
            lines.append(listener.recv(65536).decode("utf-8", "replace"))
        ready = [x for x in lines if "Ready to accept connections" in x][0]
        # <local3 * 8 + notice>, the ident with the pid, then the bare message.
        assert re.match(r"<157>.*kvtest\[%d\]: Ready to accept connections" % srv.proc.pid, ready), \
            ready
    finally:
        listener.close()
        os.unlink("/dev/log")
