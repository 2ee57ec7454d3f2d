"""Every differential scenario again, through redis-py in RESP2 and in RESP3: the parsed
replies (and error texts) from kvstore must equal those from a real redis-server, so the
reply types each protocol uses are what redis-py's parsers expect."""

import pytest
import redis

from tests.test_differential import (SCENARIOS, UNORDERED, UNORDERED_PAIRS,
                                     UNORDERED_SCAN, UNORDERED_SCAN_PAIRS)

# Scenarios whose commands redis-py parses with callbacks that need extra arguments or that
# read replies we compare byte for byte elsewhere.
SKIP_COMMANDS = {"HELLO", "RESET", "CLIENT", "SHUTDOWN", "DEBUG", "DUMP", "RESTORE",
                 "COMMAND", "OBJECT", "QUIT", "AUTH"}


def _canon(value):
    """Comparable form: unordered collections sorted, sets as sorted lists."""
    if isinstance(value, (set, frozenset)):
        return sorted(_canon(v) for v in value)
    if isinstance(value, dict):
        return sorted((_canon(k), _canon(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    if isinstance(value, redis.RedisError):       # an error inside EXEC's reply
        return ("error", type(value).__name__, str(value))
    return value


def _call(client, cmd):
    try:
        return client.execute_command(*cmd)
    except (redis.ResponseError, redis.AuthenticationError) as e:
        return ("error", type(e).__name__, str(e))


def _normalize(cmd, value):
    name = cmd[0].upper()
    if isinstance(value, tuple) and value and value[0] == "error":
        return value
    if name in UNORDERED and isinstance(value, list):
        return sorted(value, key=repr)
    if name in UNORDERED_PAIRS and isinstance(value, list):
        return sorted(zip(value[0::2], value[1::2]), key=repr)
    if name in (UNORDERED_SCAN | UNORDERED_SCAN_PAIRS) and isinstance(value, (list, tuple)):
        cursor, items = value
        return [cursor, sorted(items.items() if isinstance(items, dict) else items, key=repr)]
    return _canon(value)


def _run(port, cmds, protocol):
    # One connection: SELECT must apply to the commands after it.
    c = redis.Redis(port=port, protocol=protocol, socket_timeout=30, single_connection_client=True)
    try:
        c.flushall()
        out = []
        for cmd in cmds:
            if cmd[0].upper() in SKIP_COMMANDS:
                out.append(None)
                continue
            out.append(_normalize(cmd, _call(c, cmd)))
        return out
    finally:
        c.close()


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_redis_py_sees_the_same(name, protocol, kvstore_session, redis_ref):
    cmds = SCENARIOS[name]
    expected = _run(redis_ref.port, cmds, protocol)
    got = _run(kvstore_session.port, cmds, protocol)
    for cmd, e, g in zip(cmds, expected, got):
        assert (cmd, g) == (cmd, e)
