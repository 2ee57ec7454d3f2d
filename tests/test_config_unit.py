"""Unit tests of kvstore/config.py: the option table and everything derived from it.

Pure Python except for the reference comparisons, which start real redis-server 7.0.15
processes on free ports in temporary directories (and always shut them down), and compare
defaults, mutability, CONFIG SET error texts, config-file error texts and CONFIG REWRITE output.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from kvstore import errors
from kvstore.config import (OPTIONS, OPTIONS_BY_NAME, Config, ConfigError, parse_argv,
                            parse_memory, repr_arg, split_args, stringmatch)

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KVSTORE_ONLY = {"storage-map-size", "storage-max-readers", "repl-log-max-size",
                "replica-allow-empty-fullsync",
                "repl-log-max-age"}


# ---------------------------------------------------------------------------------------------
# helpers: a free port, a tiny RESP client, a reference redis-server
# ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Resp:
    """Minimal RESP2 client that returns errors as text (no client library guessing)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("rb")

    def close(self):
        self.f.close()
        self.sock.close()

    def __call__(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._read()

    def _read(self):
        line = self.f.readline().rstrip(b"\r\n").decode()
        t, rest = line[0], line[1:]
        if t == "+":
            return rest
        if t == "-":
            return ("ERR", rest)
        if t == ":":
            return int(rest)
        if t == "$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if t == "*":
            return [self._read() for _ in range(int(rest))]
        raise AssertionError(line)


class RedisRef:
    def __init__(self, tmpdir: str, config_file: str | None = None, args=()):
        self.port = free_port()
        self.dir = tmpdir
        argv = [REDIS_SERVER]
        if config_file:
            argv.append(config_file)
        argv += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", tmpdir, *args]
        self.proc = subprocess.Popen(argv, cwd=tmpdir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                self.c = Resp(self.port)
                pong = self.c("PING")
                if pong == "PONG" or "NOAUTH" in str(pong):
                    break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("reference redis-server did not start")
            time.sleep(0.02)

    def config_get(self, *patterns) -> dict[str, str]:
        flat = self.c("CONFIG", "GET", *patterns)
        return dict(zip(flat[::2], flat[1::2]))

    def stop(self):
        try:
            self.c("SHUTDOWN", "NOSAVE")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    r = RedisRef(str(tmp_path_factory.mktemp("redisref")))
    yield r
    r.stop()


def cfg_from(tmp_path, text: str, *extra) -> Config:
    p = tmp_path / "t.conf"
    p.write_text(text)
    return Config.from_argv([str(p), *extra])


def load_error(tmp_path, text: str, *extra) -> str:
    with pytest.raises(ConfigError) as ei:
        cfg_from(tmp_path, text, *extra)
    return ei.value.text


# ---------------------------------------------------------------------------------------------
# the table itself
# ---------------------------------------------------------------------------------------------
def test_table_is_consistent():
    names = [o.name for o in OPTIONS]
    assert len(names) == len(set(names))
    for o in OPTIONS:
        assert o.name == o.name.lower() and o.doc, o.name
        # every default parses back from its config-file spelling to itself
        c = Config()
        for line in o.default_lines():
            c.load_string(line, "<default>")
        assert c.get(o.name) == o.default, o.name
    assert {o.name for o in OPTIONS if o.kvstore_only} == KVSTORE_ONLY


def test_kvstore_options_defaults():
    c = Config()
    assert c.storage_map_size == 1024**4
    assert c.storage_max_readers == 1024
    assert c.repl_log_max_size == 1024**3
    assert c.repl_log_max_age == 86400
    assert not OPTIONS_BY_NAME["storage-map-size"].mutable
    assert not OPTIONS_BY_NAME["storage-max-readers"].mutable
    assert OPTIONS_BY_NAME["repl-log-max-size"].mutable
    with pytest.raises(AttributeError):
        c.kvstore_version


def test_typed_defaults():
    c = Config()
    assert c.port == 6379 and c.databases == 16 and c.maxclients == 10000
    assert c.bind == ["*", "-::*"]
    assert c.dir == "./" and c.dir_abs == os.getcwd()
    assert c.appendfsync == "everysec" and c.loglevel == "notice"
    assert c.logfile == "" and c.timeout == 0 and c.tcp_keepalive == 300
    assert c.protected_mode is True and c.daemonize is False
    assert c.enable_debug_command == "no"
    assert c.proto_max_bulk_len == 512 * 1024 * 1024
    assert c.save == [(3600, 1), (300, 100), (60, 10000)]
    assert c.replicaof is None and c.slaveof is None
    assert c.client_output_buffer_limit == {"normal": (0, 0, 0),
                                            "slave": (256 << 20, 64 << 20, 60),
                                            "pubsub": (32 << 20, 8 << 20, 60)}
    assert c.latency_tracking_info_percentiles == [50.0, 99.0, 99.9]
    assert c.oom_score_adj_values == (0, 200, 800)
    assert c.config_file is None
    with pytest.raises(AttributeError):
        c.port = 1


# ---------------------------------------------------------------------------------------------
# against a real redis-server: defaults, names, mutability, CONFIG SET errors
# ---------------------------------------------------------------------------------------------
def test_defaults_equal_redis(ref):
    theirs = ref.config_get("*")
    mine = dict(Config().get_matching(["*"]))
    assert set(mine) - set(theirs) == KVSTORE_ONLY
    assert set(theirs) <= set(mine)
    differ = {k for k in theirs if theirs[k] != mine[k]}
    # port/bind/dir are given to the reference on its command line; kvstore starts diskless
    # full syncs at once (issue 4: a snapshot is cheap to share, nothing to wait for)
    assert differ == {"port", "bind", "dir", "repl-diskless-sync-delay"}
    assert theirs["repl-diskless-sync-delay"] == "5" and mine["repl-diskless-sync-delay"] == "0"
    assert theirs["port"] == str(ref.port) and mine["port"] == "6379"
    assert mine["bind"] == "* -::*"
    assert "slaveof" in theirs and "replicaof" in theirs


def test_hidden_options_equal_redis(ref):
    hidden = [o.name for o in OPTIONS if o.hidden]
    assert sorted(hidden) == ["key-load-delay", "loading-process-events-interval-bytes",
                              "lua-enable-deprecated-api", "rdb-key-save-delay",
                              "use-exit-on-panic", "watchdog-period"]
    for name in hidden:
        assert ref.config_get(name) == dict(Config().get_matching([name]))
        assert ref.config_get(name + "*") == {} == dict(Config().get_matching([name + "*"]))


def test_mutability_equals_redis(ref):
    theirs = ref.config_get("*")
    c = Config()
    for name, value in sorted(theirs.items()):
        expected = ref.c("CONFIG", "SET", name, value)
        try:
            c.set_many([(name, dict(c.get_matching([name]))[name])])
            got = "OK"
        except ConfigError as e:
            got = ("ERR", e.text)
        assert got == expected, name


SET_CASES = [
    [("foo", "bar")],
    [("port", "abc")], [("port", "99999")], [("port", "-0")], [("port", "+1")],
    [("timeout", "007")], [("timeout", "-1")], [("tcp-keepalive", "1.5")],
    [("daemonize", "yes")], [("databases", "3")], [("unixsocket", "/tmp/x")],
    [("replicaof", "no one")], [("slaveof", "no one")], [("unixsocketperm", "777")],
    [("port", "7000"), ("port", "7001")], [("port", "7000"), ("PORT", "7001")],
    [("maxclients", "10"), ("maxclients", "x")],
    [("port", "7000"), ("foo", "1"), ("daemonize", "yes")],
    [("daemonize", "yes"), ("foo", "1")],
    [("maxmemory", "1x")], [("maxmemory", "-1")], [("maxmemory", "1.5gb")],
    [("maxmemory", " 1")], [("maxmemory-clients", "x")], [("maxmemory-clients", "101%")],
    [("loglevel", "loud")], [("appendfsync", "sometimes")], [("repl-diskless-load", "xx")],
    [("rdbcompression", "1")], [("slave-read-only", "x")], [("PORT", "abc")],
    [("maxclients", "0")], [("proto-max-bulk-len", "100")], [("client-query-buffer-limit", "1")],
    [("save", "1 2 3")], [("save", "0 1")], [("save", "a b")],
    [("notify-keyspace-events", "Q")],
    [("client-output-buffer-limit", "normal 1 2")],
    [("client-output-buffer-limit", "master 1 2 3")],
    [("client-output-buffer-limit", "normal 1 2 x")],
    [("oom-score-adj-values", "1 2")], [("oom-score-adj-values", "1 2 3000")],
    [("latency-tracking-info-percentiles", "50 abc")],
    [("latency-tracking-info-percentiles", "101")],
    [("dbfilename", "x.rdb")], [("dir", "/tmp")], [("enable-debug-command", "yes")],
    [("active-defrag-cycle-min", "0")], [("list-max-listpack-size", "-0")],
    [("slowlog-log-slower-than", "-2")], [("hash-max-ziplist-entries", "-1")],
    [("busy-reply-threshold", "-1")], [("lua-time-limit", "x")],
    [("bind", " ".join(["127.0.0.1"] * 17))],
    [("key-load-delay", "x")], [("lua-enable-deprecated-api", "yes")],
]


@pytest.mark.parametrize("pairs", SET_CASES, ids=lambda p: " ".join(sum(p, ())))
def test_config_set_errors_equal_redis(ref, pairs):
    flat = [x for p in pairs for x in p]
    expected = ref.c("CONFIG", "SET", *flat)
    assert expected[0] == "ERR", (flat, expected)
    c = Config()
    before = dict(c.get_matching(["*"]))
    with pytest.raises(ConfigError) as ei:
        c.set_many(pairs)
    assert ei.value.text == expected[1]
    assert dict(c.get_matching(["*"])) == before       # nothing changed


GET_AFTER_SET = [
    ("maxmemory", "1k"), ("maxmemory", "1KB"), ("maxmemory", "2Gb"), ("maxmemory", "5m"),
    ("maxmemory", "7mb"), ("maxmemory", "3g"), ("maxmemory", "1b"), ("maxmemory", "01k"),
    ("maxmemory", ""), ("maxmemory", "18446744073709551616"),
    ("maxmemory-clients", "10%"), ("maxmemory-clients", "1mb"),
    ("hz", "1000"), ("hz", "0"), ("appendfsync", "ALWAYS"), ("loglevel", "Debug"),
    ("notify-keyspace-events", "KEA"), ("notify-keyspace-events", "Exg"),
    ("notify-keyspace-events", "nd"), ("notify-keyspace-events", "Am"),
    ("notify-keyspace-events", "g$lshzxetdKE"), ("notify-keyspace-events", ""),
    ("save", "100 10 200 20"), ("save", ""),
    ("client-output-buffer-limit", "normal 1k 2kb 3"),
    ("client-output-buffer-limit", "replica 1gb 1000 0 pubsub 1 2 3"),
    ("client-output-buffer-limit", ""),
    ("oom-score-adj-values", "-5 0 2000"),
    ("latency-tracking-info-percentiles", "0.000001 33.333333333 1e1"),
    ("latency-tracking-info-percentiles", ""),
    ("slowlog-log-slower-than", "-1"), ("list-max-listpack-size", "-5"),
    ("replica-announce-ip", "x y"), ("requirepass", ""), ("masterauth", "s3cret"),
    ("bind", "127.0.0.1 -::1"),
]


@pytest.mark.parametrize("name,value", GET_AFTER_SET)
def test_config_set_then_get_equals_redis(ref, name, value):
    c = Config()
    old = ref.config_get(name)[name]
    try:
        assert ref.c("CONFIG", "SET", name, value) == "OK"
        expected = ref.config_get(name)
    finally:
        ref.c("CONFIG", "SET", name, old)
    c.set_many([(name, value)])
    assert dict(c.get_matching([name])) == expected


# ---------------------------------------------------------------------------------------------
# config files: Debian's redis.conf, units, quoting, include, errors with file:line
# ---------------------------------------------------------------------------------------------
def test_debian_redis_conf_parses():
    c = Config.from_argv(["/etc/redis/redis.conf"])
    assert c.config_file == "/etc/redis/redis.conf"
    assert c.bind == ["127.0.0.1", "-::1"]
    assert c.port == 6379 and c.daemonize is True
    assert c.pidfile == "/run/redis/redis-server.pid"
    assert c.logfile == "/var/log/redis/redis-server.log"
    assert c.dir == "/var/lib/redis" and c.dir_abs == "/var/lib/redis"
    assert c.notify_keyspace_events == ""
    assert c.auto_aof_rewrite_min_size == 64 * 1024 * 1024
    assert c.client_output_buffer_limit["slave"] == (256 << 20, 64 << 20, 60)
    assert c.save == [(3600, 1), (300, 100), (60, 10000)]
    ignored = c.ignored_options_set()
    assert "hash-max-listpack-entries" in ignored and "port" not in ignored
    assert "appendonly" not in ignored        # applies=True (reported, always durable)


def test_units():
    cases = {"0": 0, "1": 1, "1b": 1, "1B": 1, "1k": 1000, "1K": 1000, "1kb": 1024,
             "1Kb": 1024, "1m": 1000**2, "1mb": 1024**2, "1MB": 1024**2, "1g": 1000**3,
             "1gb": 1024**3, "2GB": 2 * 1024**3, "1gB": 1024**3, "": 0, "kb": 0}
    for text, value in cases.items():
        assert parse_memory(text) == value, text
    for bad in ("1t", "1tb", "-1", " 1", "1 kb", "1.5gb", "x", "1kbb"):
        assert parse_memory(bad) is None, bad


def test_units_in_files(tmp_path):
    c = cfg_from(tmp_path, "maxmemory 1k\nrepl-log-max-size 2GB\nproto-max-bulk-len 1mb\n"
                           "client-query-buffer-limit 4M\n")
    assert c.maxmemory == 1000 and c.repl_log_max_size == 2 * 1024**3
    assert c.proto_max_bulk_len == 1024**2 and c.client_query_buffer_limit == 4 * 1000**2


def test_split_args_quoting():
    assert split_args('a b  c') == ["a", "b", "c"]
    assert split_args('  \t') == []
    assert split_args('"a b" \'c d\'') == ["a b", "c d"]
    assert split_args(r'"x\ny\r\t\b\a\\\"z"') == ["x\ny\r\t\b\a\\\"z"]
    assert split_args(r'"\x41\x7a\x4"') == ["Azx4"]      # incomplete \xH: backslash dropped
    assert split_args(r'"\x41\x7a"') == ["Az"]
    assert split_args(r"'it\'s' 'a\nb'") == ["it's", "a\\nb"]
    assert split_args('ab"cd"') == ["abcd"]
    assert split_args('""') == [""]
    assert split_args('"a"b') is None
    assert split_args("'a'b") is None
    assert split_args('"abc') is None
    assert split_args("'abc") is None
    for s in ["plain", "with space", 'q"uote', "back\\slash", "nl\nx", "\x01\x7f", "é"]:
        assert split_args(repr_arg(s)) == [s]


def test_quoting_in_files(tmp_path):
    c = cfg_from(tmp_path, 'requirepass "a b\\"c"\nmasterauth \'x y\'\n'
                           'proc-title-template "{title} {port}"\n')
    assert c.requirepass == 'a b"c' and c.masterauth == "x y"
    assert c.proc_title_template == "{title} {port}"


def test_file_semantics(tmp_path):
    c = cfg_from(tmp_path, "  # comment\n\n\tPORT 7001 \r\nport 7002\nSlaveOf 10.0.0.1 6380\n"
                           "save 900 1\nsave 300 10\nrename-command FLUSHALL \"\"\n"
                           "rename-command CONFIG cfg\nuser alice on >pw ~* +@all\n"
                           "list-max-ziplist-entries 5\nlua-replicate-commands yes\n"
                           "bind 127.0.0.1 ::1 -::2\nunixsocketperm 770\n"
                           "replica-read-only no\nlua-time-limit 100\nhz 1000\n")
    assert c.port == 7002
    assert c.replicaof == ("10.0.0.1", 6380) and c.slaveof == ("10.0.0.1", 6380)
    assert c.save == [(900, 1), (300, 10)]
    assert c.rename_commands == [("FLUSHALL", ""), ("CONFIG", "cfg")]
    assert c.users == [["alice", "on", ">pw", "~*", "+@all"]]
    assert c.bind == ["127.0.0.1", "::1", "-::2"]
    assert c.unixsocketperm == 0o770
    assert c.replica_read_only is False and c.slave_read_only is False
    assert c.busy_reply_threshold == 100
    assert c.hz == 500
    assert dict(c.get_matching(["unixsocketperm", "replicaof", "slaveof"])) == {
        "unixsocketperm": "770", "replicaof": "10.0.0.1 6380", "slaveof": "10.0.0.1 6380"}


def test_save_semantics(tmp_path):
    assert cfg_from(tmp_path, "save 900 1\nsave \"\"\nsave 60 5\n").save == [(60, 5)]
    assert cfg_from(tmp_path, 'save ""\n').save == []
    assert cfg_from(tmp_path, "save 900 1 300 10\n").save == [(900, 1), (300, 10)]
    assert cfg_from(tmp_path, "\n").save == [(3600, 1), (300, 100), (60, 10000)]
    # command-line lines continue the file's accumulation, as in Redis 7.0.15
    assert cfg_from(tmp_path, "save 900 1\n", "--save", "60", "5").save == [(900, 1), (60, 5)]
    assert cfg_from(tmp_path, "save 900 1\n", "--save", "").save == []
    assert cfg_from(tmp_path, "save 900 1\n", "--save").save == []
    assert cfg_from(tmp_path, "\n", "--save", "60 5").save == [(60, 5)]


def test_include(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text("port 7100\nmaxmemory 1mb\n")
    (tmp_path / "conf.d" / "b.conf").write_text("port 7200\ninclude nested.conf\n")
    (tmp_path / "nested.conf").write_text("timeout 42\n")
    (tmp_path / "main.conf").write_text("port 7000\ninclude conf.d/*.conf\n"
                                        "include empty.d/*.conf\ndatabases 4\n")
    c = Config.from_argv(["main.conf"])
    assert c.config_file == str(tmp_path / "main.conf")
    assert (c.port, c.maxmemory, c.timeout, c.databases) == (7200, 1024**2, 42, 4)
    (tmp_path / "nested.conf").write_text("timeout 42\ntimeout x\n")
    with pytest.raises(ConfigError) as ei:
        Config.from_argv(["main.conf"])
    assert ei.value.text == ("nested.conf:2: 'timeout x': "
                             "argument couldn't be parsed into an integer")
    (tmp_path / "main.conf").write_text("include missing.conf\n")
    with pytest.raises(ConfigError) as ei:
        Config.from_argv(["main.conf"])
    assert ei.value.text == ("main.conf:1: 'include missing.conf': can't open config file "
                             "'missing.conf': No such file or directory")


def test_error_messages_name_file_and_line(tmp_path):
    p = str(tmp_path / "t.conf")
    assert load_error(tmp_path, "port 7000\n\nport abc\n") == (
        p + ":3: 'port abc': argument couldn't be parsed into an integer")
    assert load_error(tmp_path, "loadmodule /x.so\n") == (
        p + ":1: 'loadmodule /x.so': " + errors.CFG_NO_MODULES)
    assert load_error(tmp_path, "mymod.opt 1\n") == (
        p + ":1: 'mymod.opt 1': " + errors.CFG_NO_MODULES)
    assert load_error(tmp_path, "dir /nonexistent-kvstore-dir\n") == (
        p + ":1: 'dir /nonexistent-kvstore-dir': No such file or directory")
    assert load_error(tmp_path, "\n", "--port", "abc") == (
        "command line: '--port abc': argument couldn't be parsed into an integer")
    assert load_error(tmp_path, "\n", "--nosuch", "1") == (
        "command line: '--nosuch 1': Bad directive or wrong number of arguments")
    with pytest.raises(ConfigError) as ei:
        Config.from_argv([str(tmp_path / "missing.conf")])
    assert ei.value.text == (str(tmp_path / "missing.conf")
                             + ": can't open config file: No such file or directory")


FILE_ERROR_CASES = [
    "port 7799\n\nport abc\n", "foo bar\n", 'port "7799\n', 'port "7799"x\n', "port 1 2\n",
    "save 1 2 3\n", "replicaof 1.2.3.4\n", "replicaof h 70000\n",
    "list-max-ziplist-entries 5\nlua-replicate-commands yes\nlist-max-ziplist-value\n",
    "sentinel foo\n", "loglevel loud\n", "notify-keyspace-events Q\n",
    "oom-score-adj-values 1 2\n", "unixsocketperm 999\n", "unixsocketperm 1000\n",
    "client-output-buffer-limit normal 1 2 x\n", "client-output-buffer-limit normal 1 2\n",
    "maxmemory 1t\n", "daemonize maybe\n", "bind " + " ".join(["1.1.1.1"] * 17) + "\n",
    "include\n", "rename-command a\n", "maxmemory-clients 200%\n", "hz -1\n",
    "latency-tracking-info-percentiles 1 x\n", "databases 0\n", "   port   abc   \n",
]


@pytest.mark.parametrize("text", FILE_ERROR_CASES)
def test_file_errors_equal_redis(tmp_path, text):
    path = tmp_path / "bad.conf"
    path.write_text(text)
    proc = subprocess.run([REDIS_SERVER, str(path), "--port", str(free_port())],
                          capture_output=True, text=True, timeout=10, cwd=tmp_path)
    assert proc.returncode == 1
    m = re.search(r"at line (\d+)\n>>> '(.*)'\n(.*)\n", proc.stderr)
    assert m, proc.stderr
    with pytest.raises(ConfigError) as ei:
        Config.from_argv([str(path)])
    assert ei.value.text == "%s:%s: '%s': %s" % (path, m.group(1), m.group(2), m.group(3))


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def test_argv_basic(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    c = Config.from_argv(["--port", "7000", "--dir", str(d), "--replicaof", "10.0.0.1", "6379"])
    assert c.port == 7000 and c.dir == str(d) and c.dir_abs == str(d)
    assert c.replicaof == ("10.0.0.1", 6379) and c.config_file is None


def test_argv_lines():
    assert parse_argv(["/etc/k.conf", "--port", "7000", "--bind", "a", "b"]) == (
        "/etc/k.conf", [('port "7000" ', "--port 7000"), ('bind "a" "b" ', "--bind a b")])
    assert parse_argv(["--save", "--port", "1"])[1] == [
        ('save ""', '--save ""'), ('port "1" ', "--port 1")]
    assert parse_argv(["--requirepass", "--x"])[1] == [('requirepass "--x" ',
                                                       "--requirepass --x")]
    assert parse_argv(["--port 7000", "--save", "1", "2"])[1] == [
        ("port 7000 ", "--port 7000"), ('save "1" "2" ', "--save 1 2")]
    assert parse_argv([]) == (None, [])


def test_argv_semantics(tmp_path):
    c = Config.from_argv(["--requirepass", "--save"])
    assert c.requirepass == "--save" and c.save == [(3600, 1), (300, 100), (60, 10000)]
    c = Config.from_argv(["--save", "--requirepass", "ab"])
    assert c.save == [] and c.requirepass == "ab"
    c = Config.from_argv(["--requirepass", "a b"])
    assert c.requirepass == "a b"
    c = Config.from_argv(["--bind", "127.0.0.1 ::1", "--port 7001"])
    assert c.bind == ["127.0.0.1", "::1"] and c.port == 7001
    c = Config.from_argv(["--save", "60", "5", "--save", "70", "6"])
    assert c.save == [(60, 5), (70, 6)]
    c = cfg_from(tmp_path, "port 7000\ntimeout 5\n", "--port", "7001")
    assert (c.port, c.timeout) == (7001, 5)
    with pytest.raises(ConfigError) as ei:
        Config.from_argv(["--requirepass", "a", "b"])
    assert ei.value.text == ("command line: '--requirepass a b': wrong number of arguments")


def test_argv_equals_redis(tmp_path):
    argvs = [["--save", "60", "5", "--save", "", "--save", "1", "1"],
             ["--save", "60 5"], ["--save", "--maxmemory", "1mb"],
             ["--maxmemory", "2mb", "--save"], ["--bind", "127.0.0.1", "::1"],
             ["--requirepass", "--save", "--timeout", "3"]]
    for argv in argvs:
        r = RedisRef(str(tmp_path), None, argv)
        try:
            names = ["save", "maxmemory", "timeout", "requirepass"]
            r.c("AUTH", "--save")       # only the requirepass case needs it
            theirs = r.config_get(*names)
        finally:
            r.stop()
        c = Config.from_argv(argv + ["--port", "1"])
        assert dict(c.get_matching(names)) == theirs, argv


# ---------------------------------------------------------------------------------------------
# CONFIG GET
# ---------------------------------------------------------------------------------------------
def test_get_matching():
    c = Config()
    got = c.get_matching(["port", "po*", "*port*"])
    names = [n for n, _ in got]
    assert len(names) == len(set(names))
    assert ("port", "6379") in got and ("tls-port", "0") in got
    assert ("replica-announce-port", "0") in got and ("slave-announce-port", "0") in got
    assert c.get_matching(["PORT"]) == [("PORT", "6379")]
    assert c.get_matching(["P?RT"]) == [("port", "6379")]
    assert c.get_matching(["nosuch", "nosuch*"]) == []
    assert dict(c.get_matching(["*slaveof*"])) == {"slaveof": ""}
    assert dict(c.get_matching(["[rs]*of"])) == {"replicaof": "", "slaveof": ""}
    assert dict(c.get_matching(["maxmemory"])) == {"maxmemory": "0"}
    assert c.get_matching(["watchdog*"]) == []
    assert c.get_matching(["watchdog-period"]) == [("watchdog-period", "0")]


def test_stringmatch():
    assert stringmatch("*", "") and stringmatch("a*b", "axxb") and not stringmatch("a*b", "axc")
    assert stringmatch("h[^e]llo", "hallo") and not stringmatch("h[^e]llo", "hello")
    assert stringmatch("h[a-b]llo", "hbllo") and stringmatch("h\\*", "h*")
    assert stringmatch("MAX*", "maxmemory")


# ---------------------------------------------------------------------------------------------
# CONFIG SET: atomicity, hooks, rollback
# ---------------------------------------------------------------------------------------------
def test_set_many_atomic():
    c = Config()
    with pytest.raises(ConfigError) as ei:
        c.set_many([("port", "7000"), ("maxmemory", "1x")])
    assert ei.value.text == ("ERR CONFIG SET failed (possibly related to argument 'maxmemory') "
                             "- argument must be a memory value")
    assert c.port == 6379
    c.set_many([("port", "7000"), ("maxmemory", "1gb"), ("SLAVE-READ-ONLY", "no")])
    assert (c.port, c.maxmemory, c.replica_read_only) == (7000, 1024**3, False)


def test_protected_configs(tmp_path):
    c = Config()
    with pytest.raises(ConfigError) as ei:
        c.set_many([("dir", str(tmp_path))])
    assert ei.value.text == ("ERR CONFIG SET failed (possibly related to argument 'dir') - "
                             "can't set protected config")
    c = Config.from_argv(["--enable-protected-configs", "local"])
    with pytest.raises(ConfigError):
        c.set_many([("dbfilename", "x.rdb")])
    c.set_many([("dbfilename", "x.rdb"), ("dir", str(tmp_path))], local=True)
    assert c.dbfilename == "x.rdb" and c.dir_abs == str(tmp_path)


def test_hooks_and_rollback():
    c = Config()
    calls = []

    def on_port(cfg, name):
        calls.append((name, cfg.port))
        if cfg.port == 1:
            raise ConfigError(errors.CFG_APPLY_PORT)

    def shared(cfg, name):
        calls.append(("shared", name))

    c.on_change("port", on_port)
    c.on_change("tls-cert-file", shared)
    c.on_change("tls-key-file", shared)
    c.set_many([("port", "7000"), ("tls-cert-file", "a"), ("tls-key-file", "b")])
    assert calls == [("port", 7000), ("shared", "tls-cert-file")]
    calls.clear()
    c.set_many([("port", "7000")])          # unchanged: no hook
    assert calls == []
    with pytest.raises(ConfigError) as ei:
        c.set_many([("timeout", "5"), ("port", "1")])
    assert ei.value.text == ("ERR CONFIG SET failed (possibly related to argument 'port') - "
                             "Unable to listen on this port. Check server logs.")
    assert (c.port, c.timeout) == (7000, 0)
    assert calls == [("port", 1)]
    # a hook that refuses after another hook ran: values restored, earlier hook re-run
    calls.clear()
    c.on_change("timeout", lambda cfg, n: calls.append(("timeout", cfg.timeout)))
    with pytest.raises(ConfigError):
        c.set_many([("timeout", "5"), ("port", "1")])
    assert calls == [("timeout", 5), ("port", 1), ("timeout", 0)]
    assert (c.port, c.timeout) == (7000, 0)


# ---------------------------------------------------------------------------------------------
# CONFIG REWRITE
# ---------------------------------------------------------------------------------------------
REWRITE_SOURCE = """\
# top comment
port {port}


# another comment
include {dir}/inc.conf
rename-command FLUSHALL ""
slave-read-only yes
lua-time-limit 5000
maxmemory 100mb
maxmemory 200mb
requirepass "sec ret"
bind 127.0.0.1
unixsocket ""
dbfilename "dump.rdb"
logfile ""
loglevel notice
notify-keyspace-events ""
dir {dir}
save 60 1
"""

REWRITE_STEPS = [
    [("slave-read-only", "no"), ("busy-reply-threshold", "100"), ("requirepass", ""),
     ("maxmemory", "1gb"), ("hz", "11"), ("bind", "127.0.0.1 -::1"),
     ("maxmemory-clients", "5%"), ("timeout", "3")],
    [("bind", "* -::*"), ("maxmemory", "0"), ("save", ""),
     ("client-output-buffer-limit", "replica 1gb 1000 0"), ("oom-score-adj-values", "1 2 3"),
     ("latency-tracking-info-percentiles", ""), ("notify-keyspace-events", "KEA"),
     ("proc-title-template", 'a"b{title}'), ("replica-announce-ip", "x y")],
]


def test_rewrite_equals_redis(tmp_path):
    port = free_port()
    (tmp_path / "inc.conf").write_text("")
    text = REWRITE_SOURCE.format(port=port, dir=tmp_path)
    (tmp_path / "redis.conf").write_text(text)
    (tmp_path / "kv.conf").write_text(text)
    proc = subprocess.Popen([REDIS_SERVER, str(tmp_path / "redis.conf")], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                r = Resp(port)
                break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.02)
        assert r("AUTH", "sec ret") == "OK"
        c = Config.from_argv([str(tmp_path / "kv.conf")])
        for step in REWRITE_STEPS:
            assert r("CONFIG", "SET", *[x for p in step for x in p]) == "OK"
            c.set_many(step)
            assert r("CONFIG", "REWRITE") == "OK"
            c.rewrite()
            theirs = (tmp_path / "redis.conf").read_text()
            mine = (tmp_path / "kv.conf").read_text()
            t_head, _, t_tail = theirs.partition("# Generated by CONFIG REWRITE\n")
            m_head, _, m_tail = mine.partition("# Generated by CONFIG REWRITE\n")
            assert m_head == t_head
            # Redis appends in hash order, and always adds its ACL default user
            t_app = {l for l in t_tail.splitlines() if not l.startswith("user default ")}
            assert set(m_tail.splitlines()) == t_app
            assert Config.from_argv([str(tmp_path / "kv.conf")]).get_matching(["*"]) == \
                c.get_matching(["*"])
    finally:
        try:
            Resp(port)("SHUTDOWN", "NOSAVE")
        except Exception:
            pass
        proc.wait(timeout=10)


def test_rewrite_round_trip(tmp_path):
    p = tmp_path / "k.conf"
    p.write_text("# kvstore test\n#  indented comment kept\nport 7000\n\n\n\n"
                 "include /dev/null\nuser bob on >x ~* +@all\nmaxmemory 1gb\n")
    c = Config.from_argv([str(p)])
    c.set_many([("maxmemory", "0"), ("repl-log-max-size", "2gb"), ("appendfsync", "always")])
    c.rewrite()
    assert p.read_text() == (
        "# kvstore test\n#  indented comment kept\nport 7000\n\n"
        "include /dev/null\nuser bob on >x ~* +@all\nmaxmemory 0\n\n"
        "# Generated by CONFIG REWRITE\n"
        "save 3600 1\nsave 300 100\nsave 60 10000\n"
        'dir %s\n' % repr_arg(os.getcwd()) +
        "appendfsync always\n"
        "repl-log-max-size 2gb\n"
        "latency-tracking-info-percentiles 50 99 99.9\n")
    again = Config.from_argv([str(p)])
    assert again.get_matching(["*"]) == c.get_matching(["*"])
    before = p.read_text()
    again.rewrite()
    # like Redis 7.0.15, the file's final newline becomes one (collapsed) empty last line
    assert p.read_text() == before + "\n"
    again.rewrite()
    assert p.read_text() == before + "\n"     # stable from then on
    assert not [f for f in os.listdir(tmp_path) if f != "k.conf"]   # no temp files left


def test_rewrite_without_file():
    with pytest.raises(ConfigError) as ei:
        Config().rewrite()
    assert ei.value.text == "ERR The server is running without a config file"


# ---------------------------------------------------------------------------------------------
# reporting: ignored options, --help, etc/kvstore.conf
# ---------------------------------------------------------------------------------------------
def test_ignored_options_set(tmp_path):
    c = cfg_from(tmp_path, "port 7000\nhash-max-ziplist-entries 5\nactivedefrag no\n"
                           "io-threads 4\nhash-max-listpack-entries 6\n", "--cluster-enabled", "no")
    assert c.ignored_options_set() == ["hash-max-listpack-entries", "activedefrag", "io-threads",
                                       "cluster-enabled"]


def test_help_text_lists_every_option():
    text = Config().help_text()
    assert text.startswith("Usage: kvstore-server [/path/to/kvstore.conf]")
    for o in OPTIONS:
        assert re.search(r"^  --%s[ <]" % re.escape(o.name), text, re.M), o.name
        assert o.doc in text
    assert "--storage-map-size <memory (bytes; units b k kb m mb g gb)>  default: 1024gb" in text
    assert "--port <integer 0..65535>  default: 6379\n" in text


def test_example_config_is_generated_and_loads_defaults(tmp_path):
    sys.path.insert(0, os.path.join(REPO, "tools"))
    try:
        import gen_example_config
    finally:
        sys.path.pop(0)
    text = gen_example_config.generate()
    with open(os.path.join(REPO, "etc", "kvstore.conf"), encoding="utf-8") as f:
        assert f.read() == text, "etc/kvstore.conf is stale: run tools/gen_example_config.py"
    # as shipped: nothing set
    p = tmp_path / "example.conf"
    p.write_text(text)
    c = Config.from_argv([str(p)])
    assert c.explicitly_set() == []
    # every option line uncommented: loads back exactly the defaults
    names = {o.name for o in OPTIONS}
    lines = []
    for line in text.splitlines():
        body = line[2:] if line.startswith("# ") else ""
        first = body.split(" ", 1)[0]
        if first in names and body.count(" ") >= 1:
            lines.append(body)
    p.write_text("\n".join(lines) + "\n")
    c = Config.from_argv([str(p)])
    assert set(c.explicitly_set()) == names
    assert c.get_matching(["*"]) == Config().get_matching(["*"])
    # kvstore-applied options come before the accepted-but-ignored section
    part2 = text.index("PART 2")
    assert text.index("# port 6379") < part2 < text.index("# hash-max-listpack-entries 512")
