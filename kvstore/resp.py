"""RESP2/RESP3 request parsing and reply encoding. No I/O: bytes in, bytes out.

Request side (`RequestParser`) follows Redis 7.0's processMultibulkBuffer/processInlineBuffer:
frames are validated header by header as bytes arrive, so `$600000000` is refused the moment
its header is complete, never after waiting for the body.  A `ProtocolError` carries the text
Redis sends after "-ERR Protocol error: "; the caller replies and closes, as Redis does.
hiredis is not used for requests: it accepts frames Redis rejects (DESIGN.md section 5).

Reply side: handlers return plain Python values and the encoder maps them:
  bytes -> bulk string, int -> integer, None -> null, list/tuple -> array,
  Simple -> status line, Double -> RESP3 double (bulk string in RESP2), Map -> RESP3 map
  (flat array in RESP2), SetReply -> RESP3 set (array in RESP2), Verbatim -> RESP3 verbatim
  string (bulk in RESP2), NullArray -> `*-1` in RESP2, CommandError -> error line,
  Raw -> already-encoded bytes (the same in both protocols).
"""

from kvstore import errors
from kvstore.errors import ProtocolError

PROTO_INLINE_MAX_SIZE = 64 * 1024
PROTO_MBULK_BIG_ARG = 32 * 1024
UNAUTH_MAX_MULTIBULK = 10
FAST_PATH_MAX = 256 * 1024      # larger buffers (big values) take the exact path, no split copy;
                                # must stay below proto-max-bulk-len's minimum (1mb)
UNAUTH_MAX_BULK = 16384
INT_MAX = 2 ** 31 - 1
_LLONG_MAX = 2 ** 63 - 1
_LLONG_MIN = -(2 ** 63)


def strict_int(s):
    """Redis's string2ll: canonical decimal (no '+', spaces or leading zeros) within int64.
    Returns None when `s` (bytes) is not one."""
    if not s or len(s) > 20:
        return None
    if s.isdigit():
        if s[0] == 48 and len(s) > 1:
            return None
    elif s[0] == 45 and len(s) > 1 and s[1:].isdigit() and s[1] != 48:
        pass
    else:
        return None
    v = int(s)
    if v > _LLONG_MAX or v < _LLONG_MIN:
        return None
    return v


def split_inline_args(line):
    """Redis's sdssplitargs on a bytes line; returns a list of bytes, or None on unbalanced
    quotes."""
    args = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in b" \n\r\t\x0b\x0c\x00":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    return None
                c = line[i]
                if (c == 92 and i + 3 < n and line[i + 1] == 120
                        and _ishex(line[i + 2]) and _ishex(line[i + 3])):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    cur.append(_DQ_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\x0b\x0c\x00":
                        return None
                    in_dq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            elif in_sq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\x0b\x0c\x00":
                        return None
                    in_sq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \n\r\t\x0b\x0c\x00":
                    break
                if c == 34:
                    in_dq = True
                elif c == 39:
                    in_sq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))


def _ishex(c):
    return c in b"0123456789abcdefABCDEF"


_DQ_ESCAPES = {110: 10, 114: 13, 116: 9, 98: 8, 97: 7}


# Tables of the fast request path (RequestParser._parse_fast): canonical `*count` tokens and
# `$len` headers indexed by length. A count or length outside them takes the exact path.
_FAST_MAX_COUNT = 1024
_FAST_MAX_ARG = 16384
_FAST_COUNTS = {b"*%d" % n: n for n in range(1, _FAST_MAX_COUNT + 1)}
_FAST_COUNTS_UNAUTH = {b"*%d" % n: n for n in range(1, UNAUTH_MAX_MULTIBULK + 1)}
_FAST_BULK_HEADERS = tuple(b"$%d" % n for n in range(_FAST_MAX_ARG + 1))
_FAST_BULK_HEADERS_UNAUTH = _FAST_BULK_HEADERS[:UNAUTH_MAX_BULK + 1]


class RequestParser:
    """Incremental request parser for one client connection.

    `feed(data)` returns the list of complete commands (each a list of bytes arguments) and
    keeps any incomplete tail.  Empty inline lines and `*0`/`*-1` frames produce no command.
    On the first invalid frame it sets `error` (a ProtocolError) and returns the commands
    parsed before it; the parser is then unusable.
    `authenticated` and `max_bulk_len` may be changed between calls (AUTH, CONFIG SET).
    """

    __slots__ = ("_chunks", "_size", "_need", "authenticated", "max_bulk_len", "inline_allowed",
                 "error")

    def __init__(self, max_bulk_len=512 * 1024 * 1024, authenticated=True):
        self._chunks = []
        self._size = 0
        self._need = 0          # parsing cannot progress before the buffer holds this many bytes
        self.authenticated = authenticated
        self.max_bulk_len = max_bulk_len
        self.inline_allowed = True
        self.error = None

    def pending_bytes(self):
        return self._size

    def feed(self, data):
        if self._chunks:
            self._chunks.append(data)
            self._size += len(data)
            if self._size < self._need:
                return []
            buf = b"".join(self._chunks)
            self._chunks = []
        else:
            buf = data
            self._size = len(data)
            if self._size < self._need:
                self._chunks.append(data)
                return []
        out = []
        try:
            pos = self._parse(buf, out)
        except ProtocolError as e:
            # Commands parsed before the bad frame still run (as in Redis); then the caller
            # replies with the error and closes.
            self.error = e
            self._chunks = []
            self._size = 0
            return out
        if pos < len(buf):
            rest = buf[pos:] if pos else buf
            self._chunks = [rest]
            self._size = len(rest)
        else:
            self._size = 0
        return out

    def _parse(self, buf, out):
        """Parse as many whole commands from `buf` as possible into `out`; return the offset of
        the first unconsumed byte and set self._need for the incomplete tail."""
        pos = self._parse_fast(buf, out) if buf[:1] == b"*" and len(buf) <= FAST_PATH_MAX else 0
        return self._parse_exact(buf, out, pos)

    def _parse_fast(self, buf, out):
        """Fast path for the common case: complete multibulk frames of canonical headers
        whose arguments contain no CRLF. The buffer is split on CRLF in C; a frame is taken
        only if its `*count` token is a canonical count (looked up in a table, so anything
        else misses) and its `$len` tokens equal, in one list comparison, the canonical
        headers of the argument lengths (mapped in C through a table). Anything unusual (a
        CRLF inside an argument, non-canonical numbers, other types, limits) stops the fast
        path at that frame, and `_parse_exact` takes over from there with Redis's exact
        checks. Returns the offset up to which frames were consumed."""
        parts = buf.split(b"\r\n")
        last = len(parts) - 1                # parts[last] is the unterminated tail
        i = 0
        # Every argument here is shorter than the buffer, and FAST_PATH_MAX is below the
        # smallest allowed proto-max-bulk-len, so only the unauthenticated limits need checks.
        counts = _FAST_COUNTS if self.authenticated else _FAST_COUNTS_UNAUTH
        headers = _FAST_BULK_HEADERS if self.authenticated else _FAST_BULK_HEADERS_UNAUTH
        get_count = counts.get
        header_of = headers.__getitem__
        append = out.append
        try:
            while i < last:
                count = get_count(parts[i])
                if count is None:
                    break
                end = i + 1 + 2 * count
                if end > last:
                    break
                args = parts[i + 2:end:2]
                # IndexError (caught below) for an argument longer than the table.
                if parts[i + 1:end:2] != list(map(header_of, map(len, args))):
                    break
                append(args)
                i = end
        except IndexError:
            pass
        if i == last:
            return len(buf) - len(parts[last])
        return sum(map(len, parts[:i])) + 2 * i

    def _parse_exact(self, buf, out, pos):
        n = len(buf)
        find = buf.find
        self._need = 0
        while pos < n:
            if buf[pos] != 42:                                   # not '*': inline command
                if not self.inline_allowed:
                    raise ProtocolError(errors.PROTO_EXPECTED_DOLLAR.format(chr(buf[pos])))
                nl = find(b"\n", pos)
                if nl < 0:
                    if n - pos > PROTO_INLINE_MAX_SIZE:
                        raise ProtocolError(errors.PROTO_TOO_BIG_INLINE)
                    self._need = n - pos + 1
                    return pos
                end = nl - 1 if nl > pos and buf[nl - 1] == 13 else nl
                args = split_inline_args(buf[pos:end])
                if args is None:
                    raise ProtocolError(errors.PROTO_UNBALANCED_QUOTES)
                pos = nl + 1
                if args:
                    out.append(args)
                continue
            cr = find(b"\r", pos)
            if cr < 0 or cr + 1 >= n:
                if n - pos > PROTO_INLINE_MAX_SIZE:
                    raise ProtocolError(errors.PROTO_TOO_BIG_MBULK)
                self._need = n - pos + 1
                return pos
            count = strict_int(buf[pos + 1:cr])
            if count is None or count > INT_MAX:
                raise ProtocolError(errors.PROTO_INVALID_MULTIBULK)
            if count > UNAUTH_MAX_MULTIBULK and not self.authenticated:
                raise ProtocolError(errors.PROTO_UNAUTH_MULTIBULK)
            p = cr + 2
            if count <= 0:
                pos = p
                continue
            args = []
            append = args.append
            max_bulk = self.max_bulk_len
            while count:
                if p >= n:
                    self._need = n - pos + 1
                    return pos
                cr = find(b"\r", p)
                if cr < 0 or cr + 1 >= n:
                    if n - p > PROTO_INLINE_MAX_SIZE:
                        raise ProtocolError(errors.PROTO_TOO_BIG_BULK)
                    self._need = n - pos + 1
                    return pos
                if buf[p] != 36:                                 # '$'
                    raise ProtocolError(errors.PROTO_EXPECTED_DOLLAR.format(chr(buf[p])))
                digits = buf[p + 1:cr]
                # Canonical non-negative decimal (Redis's string2ll, then ll < 0 is invalid).
                if not digits.isdigit() or (digits[0] == 48 and len(digits) > 1):
                    raise ProtocolError(errors.PROTO_INVALID_BULK)
                blen = int(digits)
                if blen > max_bulk:
                    raise ProtocolError(errors.PROTO_INVALID_BULK)
                if blen > UNAUTH_MAX_BULK and not self.authenticated:
                    raise ProtocolError(errors.PROTO_UNAUTH_BULK)
                start = cr + 2
                end = start + blen
                if end + 2 > n:
                    self._need = end + 2 - pos
                    return pos
                append(buf[start:end])
                p = end + 2
                count -= 1
            out.append(args)
            pos = p
        return pos


# ---------------------------------------------------------------------------------------------
# Replies

class Simple(str):
    """A status reply: `+text`."""
    __slots__ = ()


class Double(float):
    """A double: RESP3 `,` type; RESP2 bulk string with Redis's formatting (see format_double)."""
    __slots__ = ()


class Map(list):
    """A map reply given as a list of (key, value) pairs: RESP3 `%`, RESP2 flat array."""
    __slots__ = ()


class SetReply(list):
    """A set reply: RESP3 `~`, RESP2 array."""
    __slots__ = ()


class Verbatim(bytes):
    """A verbatim text reply (INFO, CLIENT INFO...): RESP3 `=len\\r\\ntxt:...`, RESP2 bulk."""
    __slots__ = ()


class Raw(bytes):
    """Bytes already encoded as RESP, identical in both protocols."""
    __slots__ = ()


class _NullArray:
    __slots__ = ()


NullArray = _NullArray()

OK = Raw(b"+OK\r\n")
PONG = Raw(b"+PONG\r\n")
QUEUED = Raw(b"+QUEUED\r\n")
_INT_CACHE = [b":%d\r\n" % i for i in range(1024)]
_NULL2 = b"$-1\r\n"
_NULL3 = b"_\r\n"


def format_double(d):
    """Redis 7.0's addReplyDouble text: %.17g, with inf/-inf/nan spelled as Redis spells them."""
    if d != d:
        return b"nan"
    if d == float("inf"):
        return b"inf"
    if d == float("-inf"):
        return b"-inf"
    s = b"%.17g" % d
    return s


_ONLY_BYTES = {bytes}
_BULK_HEADS = [b"$%d" % n for n in range(1024)]


def bulk_array(values):
    """RESP array of bulk strings (the same in RESP2 and RESP3) of a non-empty list of
    bytes: one join over headers and values interleaved (about 4x faster than formatting
    each element: LRANGE/ZRANGE/SMEMBERS-style replies are hot)."""
    heads = _BULK_HEADS
    parts = [None] * (2 * len(values))
    parts[::2] = [heads[len(v)] if len(v) < 1024 else b"$%d" % len(v) for v in values]
    parts[1::2] = values
    return b"*%d\r\n%s\r\n" % (len(values), b"\r\n".join(parts))


def encode(value, resp3=False):
    """Encode one reply value (see module docstring) to RESP bytes."""
    t = type(value)
    if t is bytes:
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if t is Raw:
        return value
    if t is int:
        if 0 <= value < 1024:
            return _INT_CACHE[value]
        return b":%d\r\n" % value
    if value is None:
        return _NULL3 if resp3 else _NULL2
    if t is list or t is tuple:
        if value and set(map(type, value)) == _ONLY_BYTES:
            return bulk_array(value)
        parts = [b"*%d\r\n" % len(value)]
        parts.extend([encode(v, resp3) for v in value])
        return b"".join(parts)
    if t is Simple:
        return b"+%s\r\n" % value.encode()
    if isinstance(value, errors.CommandError):
        return b"-%s\r\n" % _error_line(value.args[0])
    if t is Double:
        if resp3:
            return b",%s\r\n" % format_double(value)
        s = format_double(value)
        return b"$%d\r\n%s\r\n" % (len(s), s)
    if t is Map:
        if resp3:
            parts = [b"%%%d\r\n" % len(value)]
        else:
            parts = [b"*%d\r\n" % (2 * len(value))]
        for k, v in value:
            parts.append(encode(k, resp3))
            parts.append(encode(v, resp3))
        return b"".join(parts)
    if t is SetReply:
        parts = [(b"~%d\r\n" if resp3 else b"*%d\r\n") % len(value)]
        parts.extend([encode(v, resp3) for v in value])
        return b"".join(parts)
    if t is Verbatim:
        if resp3:
            return b"=%d\r\ntxt:%s\r\n" % (len(value) + 4, value)
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if t is _NullArray:
        return _NULL3 if resp3 else b"*-1\r\n"
    if t is bool:
        if resp3:
            return b"#t\r\n" if value else b"#f\r\n"
        return b":1\r\n" if value else b":0\r\n"
    if t is str:
        value = value.encode()
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if isinstance(value, int):
        return b":%d\r\n" % value
    raise TypeError("cannot encode reply of type %r" % (t,))


def _error_line(text):
    # Redis replaces newlines in error texts with spaces so the reply stays one line.
    b = text.encode() if isinstance(text, str) else text
    if b"\r" in b or b"\n" in b:
        b = b.replace(b"\r", b" ").replace(b"\n", b" ")
    return b


def encode_push(items, resp3):
    """A Pub/Sub message or confirmation: RESP3 push (`>`), RESP2 array. Items are bytes,
    ints or None."""
    parts = [(b">%d\r\n" if resp3 else b"*%d\r\n") % len(items)]
    for v in items:
        if v is None:
            parts.append(b"_\r\n" if resp3 else b"$-1\r\n")
        elif type(v) is int:
            parts.append(b":%d\r\n" % v)
        else:
            parts.append(b"$%d\r\n%s\r\n" % (len(v), v))
    return b"".join(parts)


def encode_error(text):
    return b"-%s\r\n" % _error_line(text)


def encode_command(args):
    """A command as a RESP array of bulk strings (what goes to the replication log)."""
    n = len(args)
    if n == 3:                                   # the most frequent shape, formatted at once
        a, b, c = args
        return b"*3\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
            len(a), a, len(b), b, len(c), c)
    if n == 2:
        a, b = args
        return b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(a), a, len(b), b)
    return b"*%d\r\n%s" % (len(args), b"".join([b"$%d\r\n%s\r\n" % (len(a), a) for a in args]))
