"""Configuration through the real server: redis.conf files, command-line options, CONFIG
GET/SET/REWRITE/RESETSTAT, --help, unix sockets, protected mode, DEBUG gating."""

import os
import subprocess
import sys

import redis

from tests.conftest import ROOT, ServerProcess, free_port, wait_until


def test_debian_stock_redis_conf_starts_unchanged(make_server, tmp_path):
    srv = make_server("kvstore", config_file="/etc/redis/redis.conf")
    pidfile = tmp_path / "kv.pid"
    srv.extra = ["--pidfile", str(pidfile), "--daemonize", "no"]
    srv.start()
    c = srv.client()
    c.set("k", "v")
    assert c.get("k") == b"v"
    assert c.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert c.config_get("hash-max-listpack-entries") == {"hash-max-listpack-entries": "512"}
    assert int(pidfile.read_text()) == srv.proc.pid
    assert "Accepted but not applied by kvstore" in srv.log()
    assert c.info("server")["redis_version"] == "7.0.15"
    assert "kvstore_version" in c.info("server")
    assert srv.stop() == 0
    assert not pidfile.exists()


def test_command_line_options_like_redis_server(make_server):
    srv = make_server("kvstore", ["--databases", "4", "--maxclients", "77", "--save", "60 1",
                                  "--requirepass", "secret"]).start()
    c = srv.client(password="secret")
    assert c.config_get("databases") == {"databases": "4"}
    assert c.config_get("maxclients") == {"maxclients": "77"}
    try:
        c.select(4)
        raise AssertionError("SELECT 4 must fail with databases 4")
    except redis.ResponseError as e:
        assert str(e) == "DB index is out of range"
    noauth = srv.client()
    try:
        noauth.get("x")
        raise AssertionError("NOAUTH expected")
    except redis.AuthenticationError as e:
        assert "Authentication required" in str(e)


def test_bad_options_fail_at_start_with_file_and_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("# comment\nport 7000\nport abc\n")
    p = subprocess.run([sys.executable, "-m", "kvstore", str(conf)], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "bad.conf" in p.stderr and ":3:" in p.stderr
    p = subprocess.run([sys.executable, "-m", "kvstore", "--no-such-option", "1"], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "no-such-option" in p.stderr


def test_help_lists_every_option():
    from kvstore.config import OPTIONS
    p = subprocess.run([sys.executable, "-m", "kvstore", "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    for opt in OPTIONS:
        assert opt.name in p.stdout


def test_config_get_set_rewrite(make_server, tmp_path):
    conf = tmp_path / "kv.conf"
    conf.write_text("# my settings\nmaxclients 500\n\n# keep me\nhz 10\n")
    srv = make_server("kvstore", config_file=str(conf)).start()
    c = srv.client()
    assert c.config_get("maxclient*") == {"maxclients": "500"}
    c.config_set("maxclients", "600")
    c.config_set("timeout", "120")
    assert c.config_get("timeout") == {"timeout": "120"}
    try:
        c.config_set("databases", "5")
        raise AssertionError("immutable option accepted")
    except redis.ResponseError as e:
        assert "can't set immutable config" in str(e)
    c.config_rewrite()
    text = conf.read_text()
    assert "# my settings" in text and "# keep me" in text
    assert "maxclients 600" in text and "timeout 120" in text
    c.set("k", "1")
    c.config_resetstat()
    assert c.info("stats")["total_commands_processed"] <= 2
    srv.stop()
    srv.start()
    c = srv.client()
    assert c.config_get("maxclients") == {"maxclients": "600"}


def test_unix_socket_and_debug_gating(make_server, tmp_path):
    sock = str(tmp_path / "kv.sock")
    srv = make_server("kvstore", ["--unixsocket", sock, "--unixsocketperm", "700"])
    srv.extra += ["--enable-debug-command", "no"]
    srv.start()
    c = redis.Redis(unix_socket_path=sock, protocol=2)
    c.set("u", "1")
    assert c.get("u") == b"1"
    assert oct(os.stat(sock).st_mode & 0o777) == "0o700"
    try:
        c.execute_command("DEBUG", "DIGEST")
        raise AssertionError("DEBUG must be refused")
    except redis.ResponseError as e:
        assert str(e).startswith("DEBUG command not allowed.")
    srv.stop()
    assert not os.path.exists(sock)


def test_maxclients_refuses_extra_connections(make_server):
    srv = make_server("kvstore", ["--maxclients", "2"]).start()
    a = srv.raw()
    # The readiness probe's connection may not be closed server-side yet: wait for it.
    wait_until(lambda: a.call("CLIENT", "LIST").count(b"id=") == 1, what="probe to close")
    b = srv.raw()
    assert b.call("PING") == b"+PONG\r\n"
    third = srv.raw()
    assert third.read_all_until_closed() == b"-ERR max number of clients reached\r\n"


def test_protected_mode_rule():
    """Protected mode: with no password only loopback may connect (tests can only reach the
    server over loopback, so the rule itself is checked here, the server path below)."""
    from kvstore.server import protected_mode_refuses
    assert protected_mode_refuses(True, "", "10.1.2.3") is True
    assert protected_mode_refuses(True, "", "2001:db8::1") is True
    assert protected_mode_refuses(True, "", "127.0.0.1") is False
    assert protected_mode_refuses(True, "", "127.1.2.3") is False
    assert protected_mode_refuses(True, "", "::1") is False
    assert protected_mode_refuses(True, "", "::ffff:127.0.0.1") is False
    assert protected_mode_refuses(True, "pw", "10.1.2.3") is False
    assert protected_mode_refuses(False, "", "10.1.2.3") is False


def test_protected_mode_allows_loopback(make_server):
    srv = make_server("kvstore", ["--protected-mode", "yes"]).start()
    c = srv.client()
    assert c.config_get("protected-mode") == {"protected-mode": "yes"}
    assert c.ping() is True


def test_ipv6_and_optional_bind(make_server):
    port = free_port()
    srv = ServerProcess("kvstore", ["--bind", "127.0.0.1 -::1 -10.255.255.1"], port=port)
    srv.start()
    try:
        assert srv.client().ping() is True
        assert "Could not create server TCP listening socket" in srv.log()
    finally:
        srv.cleanup()


def test_config_set_port_rebinds(make_server):
    srv = make_server("kvstore").start()
    c = srv.client()
    c.set("k", "v")
    new_port = free_port()
    c.config_set("port", str(new_port))
    moved = redis.Redis(port=new_port, protocol=2)
    assert moved.get("k") == b"v"
    assert moved.config_get("port") == {"port": str(new_port)}
    try:
        redis.Redis(port=srv.port, protocol=2, socket_connect_timeout=2).ping()
        raise AssertionError("old port still accepts connections")
    except redis.ConnectionError:
        pass
    blocker = __import__("socket").socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    taken = blocker.getsockname()[1]
    try:
        moved.config_set("port", str(taken))
        raise AssertionError("binding a taken port must fail")
    except redis.ResponseError as e:
        assert str(e) == ("CONFIG SET failed (possibly related to argument 'port') - "
                          "Unable to listen on this port. Check server logs.")
    finally:
        blocker.close()
    assert redis.Redis(port=new_port, protocol=2).ping() is True
    assert moved.config_get("port") == {"port": str(new_port)}
    srv.port = new_port
