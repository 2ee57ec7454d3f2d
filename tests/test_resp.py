"""RESP codec unit tests: a corpus of valid and invalid requests replayed whole, byte by byte
and in random chunks (the parser must give the same commands and the same error each way)."""

import random

import pytest

from kvstore import resp
from kvstore.errors import CommandError
from kvstore.resp import (Double, Map, NullArray, RequestParser, SetReply, Simple, Verbatim,
                          encode, split_inline_args, strict_int)

VALID = [
    (b"*1\r\n$4\r\nPING\r\n", [[b"PING"]]),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", [[b"SET", b"k", b""]]),
    (b"*2\r\n$3\r\nGET\r\n$5\r\na\r\nb\0\r\n", [[b"GET", b"a\r\nb\0"]]),
    (b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", [[b"PING"]]),
    (b"PING\r\n", [[b"PING"]]),
    (b"PING\n", [[b"PING"]]),
    (b"\r\n\n  \r\nECHO hi\r\n", [[b"ECHO", b"hi"]]),
    (b'SET "a b" \'c d\' "x\\ny\\x41"\r\n', [[b"SET", b"a b", b"c d", b"x\nyA"]]),
    (b"*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
     [[b"ECHO", b"abc"], [b"PING"], [b"PING"]]),
    (b"*1\r\n$" + b"10" + b"\r\n" + b"x" * 10 + b"\r\n", [[b"x" * 10]]),
]

INVALID = [
    (b"*1\r\n:5\r\n", "expected '$', got ':'"),
    (b"*1\r\n+PING\r\n", "expected '$', got '+'"),
    (b"*1\r\n*1\r\n$1\r\na\r\n", "expected '$', got '*'"),
    (b"*abc\r\n", "invalid multibulk length"),
    (b"*+1\r\n", "invalid multibulk length"),
    (b"*01\r\n", "invalid multibulk length"),
    (b"*3000000000\r\n", "invalid multibulk length"),
    (b"*1\r\n$-1\r\n", "invalid bulk length"),
    (b"*1\r\n$abc\r\n", "invalid bulk length"),
    (b"*1\r\n$600000000\r\n", "invalid bulk length"),
    (b'SET "abc\r\n', "unbalanced quotes in request"),
    (b'SET "a"b\r\n', "unbalanced quotes in request"),
    (b"x" * (64 * 1024 + 10), "too big inline request"),
    (b"*" + b"1" * (64 * 1024 + 10), "too big mbulk count string"),
    (b"*1\r\n$" + b"1" * (64 * 1024 + 10), "too big bulk count string"),
]


def feed_in(parser, data, chunks):
    out = []
    for chunk in chunks(data):
        out.extend(parser.feed(chunk))
        if parser.error is not None:
            break
    return out


def whole(data):
    return [data]


def bytewise(data):
    return [data[i:i + 1] for i in range(len(data))]


def random_chunks(data, seed=7):
    rnd = random.Random(seed)
    i = 0
    out = []
    while i < len(data):
        n = rnd.randint(1, 9)
        out.append(data[i:i + n])
        i += n
    return out


SPLITTERS = [whole, bytewise, random_chunks]


@pytest.mark.parametrize("split", SPLITTERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("data,expected", VALID)
def test_valid_requests(data, expected, split):
    p = RequestParser(max_bulk_len=512 * 1024 * 1024)
    assert feed_in(p, data, split) == expected
    assert p.error is None
    assert p.pending_bytes() == 0


@pytest.mark.parametrize("split", SPLITTERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("data,text", INVALID)
def test_invalid_requests(data, text, split):
    p = RequestParser(max_bulk_len=512 * 1024 * 1024 - 1 if b"600000000" not in data else 100)
    if split is bytewise and len(data) > 5000:
        split = random_chunks      # same coverage, faster
    feed_in(p, data, split)
    assert p.error is not None
    assert p.error.args[0] == text


def test_commands_before_a_bad_frame_still_parse():
    p = RequestParser()
    cmds = p.feed(b"*1\r\n$4\r\nPING\r\n*1\r\n:5\r\n")
    assert cmds == [[b"PING"]]
    assert p.error.args[0] == "expected '$', got ':'"


def test_bad_header_refused_before_body_arrives():
    p = RequestParser(max_bulk_len=512 * 1024 * 1024)
    p.feed(b"*1\r\n$600000000\r\n")
    assert p.error.args[0] == "invalid bulk length"


def test_unauthenticated_limits():
    p = RequestParser(authenticated=False)
    p.feed(b"*11\r\n")
    assert p.error.args[0] == "unauthenticated multibulk length"
    p = RequestParser(authenticated=False)
    p.feed(b"*1\r\n$16385\r\n")
    assert p.error.args[0] == "unauthenticated bulk length"
    p = RequestParser(authenticated=False)
    assert p.feed(b"*10\r\n" + b"$16384\r\n" + b"a" * 16384 + b"\r\n") == []
    assert p.error is None


def test_large_bulk_in_many_chunks_is_joined_once():
    p = RequestParser()
    body = b"v" * (3 * 1024 * 1024)
    data = b"*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n" % (len(body), body)
    out = []
    for i in range(0, len(data), 4096):
        out.extend(p.feed(data[i:i + 4096]))
    assert out == [[b"ECHO", body]]


@pytest.mark.parametrize("s,v", [(b"0", 0), (b"-1", -1), (b"123", 123),
                                 (b"9223372036854775807", 2 ** 63 - 1),
                                 (b"-9223372036854775808", -2 ** 63)])
def test_strict_int_valid(s, v):
    assert strict_int(s) == v


@pytest.mark.parametrize("s", [b"", b"+1", b" 1", b"1 ", b"01", b"-0", b"-", b"1.0", b"1e3",
                               b"9223372036854775808", b"-9223372036854775809", b"\xd9\xa1"])
def test_strict_int_invalid(s):
    assert strict_int(s) is None


def test_split_inline_args_edge_cases():
    assert split_inline_args(b"") == []
    assert split_inline_args(b"  a  b ") == [b"a", b"b"]
    assert split_inline_args(b'"\\x4g"') == [b"x4g"]
    assert split_inline_args(b"'it\\'s'") == [b"it's"]
    assert split_inline_args(b"'abc") is None


def test_encode_resp2_and_resp3():
    assert encode(b"x") == b"$1\r\nx\r\n"
    assert encode(None) == b"$-1\r\n"
    assert encode(None, True) == b"_\r\n"
    assert encode(5) == b":5\r\n"
    assert encode(-5) == b":-5\r\n"
    assert encode([b"a", 1, None]) == b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n"
    assert encode(Simple("OK")) == b"+OK\r\n"
    assert encode(CommandError("ERR x\r\ny")) == b"-ERR x  y\r\n"
    assert encode(Double(1.5)) == b"$3\r\n1.5\r\n"
    assert encode(Double(1.5), True) == b",1.5\r\n"
    assert encode(Double(1.1), True) == b",1.1000000000000001\r\n"
    assert encode(Map([(b"a", 1)])) == b"*2\r\n$1\r\na\r\n:1\r\n"
    assert encode(Map([(b"a", 1)]), True) == b"%1\r\n$1\r\na\r\n:1\r\n"
    assert encode(SetReply([b"a"]), True) == b"~1\r\n$1\r\na\r\n"
    assert encode(Verbatim(b"hi"), True) == b"=6\r\ntxt:hi\r\n"
    assert encode(Verbatim(b"hi")) == b"$2\r\nhi\r\n"
    assert encode(NullArray) == b"*-1\r\n"
    assert resp.encode_command([b"SET", b"k", b"v"]) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
