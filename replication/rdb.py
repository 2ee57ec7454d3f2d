"""RDB codec (Redis 7.0, RDB version 10): value encoding/decoding, DUMP/RESTORE payloads, and a
streaming whole-file reader and writer.  No I/O of its own: it works on bytes or on file-like
objects handed in by the caller.

Value model (the Python types used across kvstore for a key's value):
  'string' bytes | 'list' list[bytes] | 'set' list[bytes] | 'hash' list[(field, value)] |
  'zset' list[(member, float score)] | 'stream' StreamValue

Reader contract: every type code 0..19 that Redis 7.0 loads is accepted (plain types, ziplist,
listpack, intset, zipmap, quicklist, quicklist2 with PLAIN/PACKED nodes, legacy ASCII-double zsets,
stream listpacks v1/v2); any string may be LZF-compressed or int-encoded.  Malformed input raises
`RdbError` (never IndexError/struct.error).  Module values and MODULE_AUX raise `RdbError` too:
we have no modules.  Collections with duplicate members/fields are rejected (Redis rejects them as
well for the plain encodings; we also reject them inside listpacks, where Redis checks only with
deep sanitization).

Writer contract: values are written with the plain types 0/1/2/4/5 and 19 for streams, which
every 7.0 loader accepts (it re-encodes per its own thresholds).  Strings are int-encoded by
Redis's rule (<= 11 chars, canonical integer, fits int32); LZF is used only when asked for.
"""

import io
import math
import re
import struct
from dataclasses import dataclass, field

from kvstore import errors
from replication import lzf
from replication.crc64 import crc64

RDB_VERSION = 10

# opcodes
OP_FUNCTION2 = 0xF5
OP_FUNCTION = 0xF6
OP_MODULE_AUX = 0xF7
OP_IDLE = 0xF8
OP_FREQ = 0xF9
OP_AUX = 0xFA
OP_RESIZEDB = 0xFB
OP_EXPIRETIME_MS = 0xFC
OP_EXPIRETIME = 0xFD
OP_SELECTDB = 0xFE
OP_EOF = 0xFF

# value type codes
T_STRING = 0
T_LIST = 1
T_SET = 2
T_ZSET = 3
T_HASH = 4
T_ZSET_2 = 5
T_MODULE = 6
T_MODULE_2 = 7
T_HASH_ZIPMAP = 9
T_LIST_ZIPLIST = 10
T_SET_INTSET = 11
T_ZSET_ZIPLIST = 12
T_HASH_ZIPLIST = 13
T_LIST_QUICKLIST = 14
T_STREAM_LISTPACKS = 15
T_HASH_LISTPACK = 16
T_ZSET_LISTPACK = 17
T_LIST_QUICKLIST_2 = 18
T_STREAM_LISTPACKS_2 = 19

TYPE_NAMES = {
    T_STRING: 'string', T_LIST: 'list', T_SET: 'set', T_ZSET: 'zset', T_HASH: 'hash',
    T_ZSET_2: 'zset', T_HASH_ZIPMAP: 'hash', T_LIST_ZIPLIST: 'list', T_SET_INTSET: 'set',
    T_ZSET_ZIPLIST: 'zset', T_HASH_ZIPLIST: 'hash', T_LIST_QUICKLIST: 'list',
    T_STREAM_LISTPACKS: 'stream', T_HASH_LISTPACK: 'hash', T_ZSET_LISTPACK: 'zset',
    T_LIST_QUICKLIST_2: 'list', T_STREAM_LISTPACKS_2: 'stream',
}

_QUICKLIST_NODE_PLAIN = 1
_QUICKLIST_NODE_PACKED = 2

_U64_MAX = (1 << 64) - 1


class RdbError(Exception):
    """Malformed or unsupported RDB input; the message says what and where."""


# --------------------------------------------------------------------------------------------
# Stream value
# --------------------------------------------------------------------------------------------

@dataclass
class StreamPendingEntry:
    """One entry of a consumer group's PEL."""
    id: tuple            # (ms, seq)
    delivery_time: int   # ms unix time of the last delivery
    delivery_count: int


@dataclass
class StreamConsumer:
    name: bytes
    seen_time: int                                # ms unix time
    pending: list = field(default_factory=list)   # [(ms, seq)], each also in the group's pel


@dataclass
class StreamGroup:
    name: bytes
    last_id: tuple = (0, 0)
    entries_read: int = -1                        # -1 = unknown (SENTINEL in Redis)
    pel: list = field(default_factory=list)       # [StreamPendingEntry], ascending ids
    consumers: list = field(default_factory=list)  # [StreamConsumer]


@dataclass
class StreamValue:
    """A stream: `entries` maps (ms, seq) -> [(field, value), ...], in ascending id order."""
    entries: dict = field(default_factory=dict)
    last_id: tuple = (0, 0)
    first_id: tuple = (0, 0)
    max_deleted_id: tuple = (0, 0)
    entries_added: int = 0
    groups: list = field(default_factory=list)    # [StreamGroup]

    @property
    def length(self) -> int:
        return len(self.entries)


# --------------------------------------------------------------------------------------------
# Byte sources
# --------------------------------------------------------------------------------------------

class _BufSource:
    """Reads from an in-memory buffer."""

    __slots__ = ('buf', 'pos', 'end')

    def __init__(self, buf, pos=0, end=None):
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def read(self, n):
        p = self.pos
        e = p + n
        if e > self.end:
            raise RdbError(f"unexpected end of data at offset {p} (need {n} bytes)")
        self.pos = e
        return self.buf[p:e]

    def byte(self):
        p = self.pos
        if p >= self.end:
            raise RdbError(f"unexpected end of data at offset {p}")
        self.pos = p + 1
        return self.buf[p]

    def tell(self):
        return self.pos


class _StreamSource:
    """Reads incrementally from a file-like object, keeping a running CRC64 of consumed bytes."""

    CHUNK = 1 << 16

    def __init__(self, f):
        self.f = f
        self.buf = b''
        self.pos = 0
        self.crc = 0
        self.crcpos = 0      # buf[:crcpos] already folded into crc
        self.base = 0        # absolute offset of buf[0]

    def _fill(self, need):
        buf = self.buf
        if self.pos > self.crcpos:
            self.crc = crc64(memoryview(buf)[self.crcpos:self.pos], self.crc)
        parts = [buf[self.pos:]]
        have = len(parts[0])
        self.base += self.pos
        while have < need:
            chunk = self.f.read(max(self.CHUNK, need - have))
            if not chunk:
                raise RdbError(f"unexpected end of file at offset {self.base + have}")
            parts.append(bytes(chunk))
            have += len(chunk)
        self.buf = b''.join(parts)
        self.pos = 0
        self.crcpos = 0

    def read(self, n):
        if self.pos + n > len(self.buf):
            self._fill(n)
        p = self.pos
        self.pos = p + n
        return self.buf[p:p + n]

    def byte(self):
        if self.pos >= len(self.buf):
            self._fill(1)
        p = self.pos
        self.pos = p + 1
        return self.buf[p]

    def tell(self):
        return self.base + self.pos

    def checksum(self):
        """CRC64 of every byte consumed so far."""
        if self.pos > self.crcpos:
            self.crc = crc64(memoryview(self.buf)[self.crcpos:self.pos], self.crc)
            self.crcpos = self.pos
        return self.crc


# --------------------------------------------------------------------------------------------
# Primitive readers
# --------------------------------------------------------------------------------------------

_ENC_INT8, _ENC_INT16, _ENC_INT32, _ENC_LZF = 0, 1, 2, 3


def _read_len_raw(src):
    """Return (value, is_special_encoding)."""
    b = src.byte()
    kind = b >> 6
    if kind == 0:
        return b & 0x3F, False
    if kind == 1:
        return ((b & 0x3F) << 8) | src.byte(), False
    if kind == 3:
        return b & 0x3F, True
    if b == 0x80:
        return struct.unpack('>I', src.read(4))[0], False
    if b == 0x81:
        return struct.unpack('>Q', src.read(8))[0], False
    raise RdbError(f"unknown length encoding 0x{b:02x} at offset {src.tell() - 1}")


def _read_len(src):
    n, special = _read_len_raw(src)
    if special:
        raise RdbError(f"unexpected string encoding where a length was expected "
                       f"at offset {src.tell() - 1}")
    return n


def _read_string(src) -> bytes:
    n, special = _read_len_raw(src)
    if not special:
        return bytes(src.read(n))
    if n == _ENC_INT8:
        return b'%d' % struct.unpack('<b', src.read(1))[0]
    if n == _ENC_INT16:
        return b'%d' % struct.unpack('<h', src.read(2))[0]
    if n == _ENC_INT32:
        return b'%d' % struct.unpack('<i', src.read(4))[0]
    if n == _ENC_LZF:
        clen = _read_len(src)
        ulen = _read_len(src)
        where = src.tell()
        data = src.read(clen)
        try:
            return lzf.decompress(data, ulen)
        except lzf.LzfError as e:
            raise RdbError(f"{e} (LZF string at offset {where})") from None
    raise RdbError(f"unknown string encoding {n} at offset {src.tell() - 1}")


def _read_binary_double(src) -> float:
    return struct.unpack('<d', src.read(8))[0]


_DOUBLE_RE = re.compile(rb'\s*[-+]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?'
                        rb'|0[xX][0-9a-fA-F.]+(?:[pP][-+]?\d+)?)', re.I)


def _parse_double(s: bytes, what: str) -> float:
    """strtod-like parse of a whole string (scores stored as text)."""
    if not _DOUBLE_RE.fullmatch(s):
        raise RdbError(f"invalid {what} {s[:40]!r}")
    t = s.strip()
    try:
        if b'x' in t.lower():
            return float.fromhex(t.decode())
        return float(t)
    except ValueError:
        raise RdbError(f"invalid {what} {s[:40]!r}") from None


def _read_ascii_double(src) -> float:
    n = src.byte()
    if n == 253:
        return math.nan
    if n == 254:
        return math.inf
    if n == 255:
        return -math.inf
    return _parse_double(bytes(src.read(n)), "legacy zset score")


def _read_ms(src) -> int:
    return struct.unpack('<q', src.read(8))[0]


def _read_raw_id(src) -> tuple:
    return struct.unpack('>QQ', src.read(16))


# --------------------------------------------------------------------------------------------
# Blob parsers (listpack, ziplist, intset, zipmap)
# --------------------------------------------------------------------------------------------

def _backlen_bytes(n):
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128,
                      (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128,
                  ((n >> 7) & 127) | 128, (n & 127) | 128))


_unpack_from = struct.unpack_from


def listpack_entries(blob: bytes) -> list:
    """Decode a listpack into a list of bytes (string entries) and int (integer entries)."""
    try:
        return _listpack_entries(blob)
    except struct.error:
        raise RdbError("listpack entry runs past the end of the blob") from None


def _listpack_entries(blob):
    n = len(blob)
    if n < 7:
        raise RdbError("listpack too short")
    total, count = _unpack_from('<IH', blob, 0)
    if total != n:
        raise RdbError(f"listpack header says {total} bytes, blob has {n}")
    if blob[-1] != 0xFF:
        raise RdbError("listpack not terminated by 0xFF")
    out = []
    p = 6
    end = n - 1
    while p < end:
        b = blob[p]
        if b < 0x80:
            v, size = b, 1
        elif b < 0xC0:
            ln = b & 0x3F
            v, size = blob[p + 1:p + 1 + ln], 1 + ln
        elif b < 0xE0:
            if p + 2 > end:
                raise RdbError("listpack int13 runs past the end")
            v = ((b & 0x1F) << 8) | blob[p + 1]
            if v >= 4096:
                v -= 8192
            size = 2
        elif b < 0xF0:
            if p + 2 > end:
                raise RdbError("listpack string header runs past the end")
            ln = ((b & 0x0F) << 8) | blob[p + 1]
            v, size = blob[p + 2:p + 2 + ln], 2 + ln
        elif b == 0xF0:
            ln = _unpack_from('<I', blob, p + 1)[0]
            v, size = blob[p + 5:p + 5 + ln], 5 + ln
        elif b == 0xF1:
            v, size = _unpack_from('<h', blob, p + 1)[0], 3
        elif b == 0xF2:
            if p + 4 > end:
                raise RdbError("listpack int24 runs past the end")
            v = int.from_bytes(blob[p + 1:p + 4], 'little', signed=True)
            size = 4
        elif b == 0xF3:
            v, size = _unpack_from('<i', blob, p + 1)[0], 5
        elif b == 0xF4:
            v, size = _unpack_from('<q', blob, p + 1)[0], 9
        else:
            raise RdbError(f"invalid listpack entry encoding 0x{b:02x} at {p}")
        bl = _backlen_bytes(size)
        q = p + size
        if q + len(bl) > end or blob[q:q + len(bl)] != bl:
            raise RdbError(f"listpack entry at {p} is truncated or has a bad back-length")
        out.append(v)
        p = q + len(bl)
    if p != end:
        raise RdbError("listpack entries overrun the terminator")
    if count != 0xFFFF and count != len(out):
        raise RdbError(f"listpack header count {count} != {len(out)} entries")
    return out


def ziplist_entries(blob: bytes) -> list:
    """Decode a ziplist into a list of bytes / int entries."""
    try:
        return _ziplist_entries(blob)
    except struct.error:
        raise RdbError("ziplist entry runs past the end of the blob") from None


def _ziplist_entries(blob):
    n = len(blob)
    if n < 11:
        raise RdbError("ziplist too short")
    zlbytes, zltail, zllen = _unpack_from('<IIH', blob, 0)
    if zlbytes != n:
        raise RdbError(f"ziplist header says {zlbytes} bytes, blob has {n}")
    if blob[-1] != 0xFF:
        raise RdbError("ziplist not terminated by 0xFF")
    out = []
    p = 10
    end = n - 1
    prev_size = 0
    last = None
    while p < end:
        start = p
        b = blob[p]
        if b < 0xFE:
            prevlen = b
            p += 1
        elif b == 0xFE:
            prevlen = _unpack_from('<I', blob, p + 1)[0]
            p += 5
        else:
            raise RdbError(f"invalid ziplist prevlen at {p}")
        if prevlen != prev_size:
            raise RdbError(f"ziplist prevlen mismatch at {start}")
        if p >= end:
            raise RdbError("ziplist entry runs past the end")
        e = blob[p]
        top = e >> 6
        if top == 0:
            ln = e & 0x3F
            p += 1
            v = blob[p:p + ln]
            p += ln
        elif top == 1:
            ln = ((e & 0x3F) << 8) | blob[p + 1]
            p += 2
            v = blob[p:p + ln]
            p += ln
        elif top == 2:
            ln = _unpack_from('>I', blob, p + 1)[0]
            p += 5
            v = blob[p:p + ln]
            p += ln
        elif e == 0xC0:
            v = _unpack_from('<h', blob, p + 1)[0]
            p += 3
        elif e == 0xD0:
            v = _unpack_from('<i', blob, p + 1)[0]
            p += 5
        elif e == 0xE0:
            v = _unpack_from('<q', blob, p + 1)[0]
            p += 9
        elif e == 0xF0:
            if p + 4 > end:
                raise RdbError("ziplist int24 runs past the end")
            v = int.from_bytes(blob[p + 1:p + 4], 'little', signed=True)
            p += 4
        elif e == 0xFE:
            v = _unpack_from('<b', blob, p + 1)[0]
            p += 2
        elif 0xF1 <= e <= 0xFD:
            v = (e & 0x0F) - 1
            p += 1
        else:
            raise RdbError(f"invalid ziplist entry encoding 0x{e:02x} at {p}")
        if p > end:
            raise RdbError(f"ziplist entry at {start} runs past the end")
        prev_size = p - start
        last = start
        out.append(v)
    if p != end:
        raise RdbError("ziplist entries overrun the terminator")
    if out and zltail != last:
        raise RdbError("ziplist tail offset mismatch")
    if zllen != 0xFFFF and zllen != len(out):
        raise RdbError(f"ziplist header count {zllen} != {len(out)} entries")
    return out


def intset_members(blob: bytes) -> list:
    if len(blob) < 8:
        raise RdbError("intset too short")
    enc, count = _unpack_from('<II', blob, 0)
    fmt = {2: 'h', 4: 'i', 8: 'q'}.get(enc)
    if fmt is None:
        raise RdbError(f"invalid intset encoding {enc}")
    if 8 + enc * count != len(blob):
        raise RdbError("intset length does not match its count")
    if count == 0:
        raise RdbError("empty intset")
    vals = struct.unpack_from('<%d%s' % (count, fmt), blob, 8)
    for a, b in zip(vals, vals[1:]):
        if a >= b:
            raise RdbError("intset not sorted or has duplicates")
    return [b'%d' % v for v in vals]


def zipmap_pairs(blob: bytes) -> list:
    try:
        return _zipmap_pairs(blob)
    except (struct.error, IndexError):
        raise RdbError("zipmap entry runs past the end of the blob") from None


def _zipmap_pairs(blob):
    n = len(blob)
    if n < 2:
        raise RdbError("zipmap too short")
    p = 1
    out = []

    def rlen():
        nonlocal p
        b = blob[p]
        if b < 254:
            p += 1
            return b
        if b == 254:
            v = _unpack_from('<I', blob, p + 1)[0]
            p += 5
            return v
        return None   # 255 = end

    while True:
        if p >= n:
            raise RdbError("zipmap not terminated")
        klen = rlen()
        if klen is None:
            break
        key = blob[p:p + klen]
        p += klen
        vlen = rlen()
        if vlen is None:
            raise RdbError("zipmap truncated entry")
        free = blob[p]
        p += 1
        val = blob[p:p + vlen]
        p += vlen + free
        if p > n:
            raise RdbError("zipmap entry runs past the end")
        out.append((bytes(key), bytes(val)))
    if p + 1 != n:
        raise RdbError("zipmap has bytes after its terminator")
    return out


def _as_bytes(v) -> bytes:
    return b'%d' % v if isinstance(v, int) else bytes(v)


def _as_score(v) -> float:
    if isinstance(v, int):
        return float(v)
    return _parse_double(bytes(v), "zset score")


def _pairs(items, what):
    if len(items) % 2:
        raise RdbError(f"{what} has an odd number of elements")
    return list(zip(items[0::2], items[1::2]))


# --------------------------------------------------------------------------------------------
# Value decoding
# --------------------------------------------------------------------------------------------

def _check_unique(keys, what):
    seen = set()
    for k in keys:
        if k in seen:
            raise RdbError(f"duplicate {what} {k[:40]!r}")
        seen.add(k)


def _check_score(s):
    if math.isnan(s):
        raise RdbError("zset with NaN score")
    return s


def _read_value(src, t):
    """Decode the payload of a value of type code `t`; returns (type_name, value)."""
    if t == T_STRING:
        return 'string', _read_string(src)
    if t == T_LIST:
        n = _read_len(src)
        return 'list', [_read_string(src) for _ in range(n)]
    if t == T_SET:
        n = _read_len(src)
        members = [_read_string(src) for _ in range(n)]
        _check_unique(members, "set member")
        return 'set', members
    if t in (T_ZSET, T_ZSET_2):
        n = _read_len(src)
        rd = _read_binary_double if t == T_ZSET_2 else _read_ascii_double
        out = []
        for _ in range(n):
            m = _read_string(src)
            out.append((m, _check_score(rd(src))))
        _check_unique((m for m, _ in out), "zset member")
        return 'zset', out
    if t == T_HASH:
        n = _read_len(src)
        out = []
        for _ in range(n):
            f = _read_string(src)
            out.append((f, _read_string(src)))
        _check_unique((f for f, _ in out), "hash field")
        return 'hash', out
    if t in (T_MODULE, T_MODULE_2):
        raise RdbError(f"module value (type {t}) at offset {src.tell()}: "
                       f"modules are not supported")
    if t == T_HASH_ZIPMAP:
        pairs = zipmap_pairs(_read_string(src))
        _check_unique((f for f, _ in pairs), "hash field")
        return 'hash', pairs
    if t == T_LIST_ZIPLIST:
        return 'list', [_as_bytes(v) for v in ziplist_entries(_read_string(src))]
    if t == T_SET_INTSET:
        return 'set', intset_members(_read_string(src))
    if t in (T_ZSET_ZIPLIST, T_ZSET_LISTPACK, T_HASH_ZIPLIST, T_HASH_LISTPACK):
        blob = _read_string(src)
        items = (ziplist_entries(blob) if t in (T_ZSET_ZIPLIST, T_HASH_ZIPLIST)
                 else listpack_entries(blob))
        if not items:
            raise RdbError(f"empty {'ziplist' if t < 16 else 'listpack'} blob (type {t})")
        if t in (T_ZSET_ZIPLIST, T_ZSET_LISTPACK):
            out = [(_as_bytes(m), _check_score(_as_score(s))) for m, s in _pairs(items, "zset")]
            _check_unique((m for m, _ in out), "zset member")
            return 'zset', out
        out = [(_as_bytes(f), _as_bytes(v)) for f, v in _pairs(items, "hash")]
        _check_unique((f for f, _ in out), "hash field")
        return 'hash', out
    if t == T_LIST_QUICKLIST:
        n = _read_len(src)
        out = []
        for _ in range(n):
            out.extend(_as_bytes(v) for v in ziplist_entries(_read_string(src)))
        return 'list', out
    if t == T_LIST_QUICKLIST_2:
        n = _read_len(src)
        out = []
        for _ in range(n):
            container = _read_len(src)
            blob = _read_string(src)
            if container == _QUICKLIST_NODE_PLAIN:
                out.append(blob)
            elif container == _QUICKLIST_NODE_PACKED:
                items = listpack_entries(blob)
                if not items:
                    raise RdbError("empty listpack node in quicklist")
                out.extend(_as_bytes(v) for v in items)
            else:
                raise RdbError(f"invalid quicklist node container {container}")
        return 'list', out
    if t in (T_STREAM_LISTPACKS, T_STREAM_LISTPACKS_2):
        return 'stream', _read_stream(src, t == T_STREAM_LISTPACKS_2)
    raise RdbError(f"unknown value type {t} at offset {src.tell()}")


def _read_stream(src, v2):
    s = StreamValue()
    nodes = _read_len(src)
    entries = s.entries
    prev_id = None
    for _ in range(nodes):
        key = _read_string(src)
        if len(key) != 16:
            raise RdbError("stream node key is not a 128-bit ID")
        master_ms, master_seq = struct.unpack('>QQ', key)
        items = listpack_entries(_read_string(src))
        if not items:
            raise RdbError("empty listpack inside stream")
        try:
            _parse_stream_node(items, master_ms, master_seq, entries)
        except RdbError:
            raise
        except (StopIteration, RuntimeError, IndexError, TypeError, ValueError) as e:
            raise RdbError(f"malformed stream node listpack ({e.__class__.__name__})") from None
    for eid in entries:
        if prev_id is not None and eid <= prev_id:
            raise RdbError("stream entries are not in ascending ID order")
        prev_id = eid
    _length = _read_len(src)
    s.last_id = (_read_len(src), _read_len(src))
    if v2:
        s.first_id = (_read_len(src), _read_len(src))
        s.max_deleted_id = (_read_len(src), _read_len(src))
        s.entries_added = _read_len(src)
    else:
        s.first_id = next(iter(entries), (0, 0))
        s.max_deleted_id = (0, 0)
        s.entries_added = _length
    ngroups = _read_len(src)
    for _ in range(ngroups):
        g = StreamGroup(name=_read_string(src))
        g.last_id = (_read_len(src), _read_len(src))
        if v2:
            er = _read_len(src)
            g.entries_read = -1 if er == _U64_MAX else er
        else:
            g.entries_read = _estimate_entries_read(s, g.last_id)
        npel = _read_len(src)
        pel_ids = set()
        for _ in range(npel):
            eid = _read_raw_id(src)
            dt = _read_ms(src)
            cnt = _read_len(src)
            if eid in pel_ids:
                raise RdbError("duplicated global PEL entry loading stream consumer group")
            pel_ids.add(eid)
            g.pel.append(StreamPendingEntry(eid, dt, cnt))
        nconsumers = _read_len(src)
        for _ in range(nconsumers):
            c = StreamConsumer(name=_read_string(src), seen_time=_read_ms(src))
            npending = _read_len(src)
            for _ in range(npending):
                eid = _read_raw_id(src)
                if eid not in pel_ids:
                    raise RdbError("consumer entry not found in group global PEL")
                c.pending.append(eid)
            g.consumers.append(c)
        s.groups.append(g)
    return s


def _estimate_entries_read(s, last_id):
    """entries_read of a v1 (type 15) group, estimated as 7.0's
    streamEstimateDistanceFromFirstEverEntry does (-1 = unknown)."""
    if not s.entries_added:
        return 0
    if not s.entries and last_id <= s.last_id:
        return s.entries_added
    if last_id == s.last_id:
        return s.entries_added
    if last_id > s.last_id:
        return -1
    if s.max_deleted_id == (0, 0) or s.max_deleted_id < s.first_id:
        if last_id < s.first_id:
            return s.entries_added - len(s.entries)
        if last_id == s.first_id:
            return s.entries_added - len(s.entries) + 1
    return -1


def _parse_stream_node(items, master_ms, master_seq, entries):
    it = iter(items)
    count = next(it)
    deleted = next(it)
    nfields = next(it)
    if not all(isinstance(x, int) for x in (count, deleted, nfields)):
        raise RdbError("stream master entry has non-integer counters")
    master_fields = [_as_bytes(next(it)) for _ in range(nfields)]
    if next(it) != 0:
        raise RdbError("stream master entry not terminated by 0")
    valid = 0
    for flags in it:
        ms_delta = next(it)
        seq_delta = next(it)
        if not all(isinstance(x, int) for x in (flags, ms_delta, seq_delta)):
            raise RdbError("stream entry header is not integer")
        if flags & 2:   # same fields as the master entry
            fields = [(f, _as_bytes(next(it))) for f in master_fields]
        else:
            n = next(it)
            if not isinstance(n, int) or n < 0:
                raise RdbError("stream entry field count is not an integer")
            fields = []
            for _ in range(n):
                f = _as_bytes(next(it))
                fields.append((f, _as_bytes(next(it))))
        lp_count = next(it)
        if not isinstance(lp_count, int):
            raise RdbError("stream entry lp-count is not an integer")
        if flags & 1:
            continue
        eid = ((master_ms + ms_delta) & _U64_MAX, (master_seq + seq_delta) & _U64_MAX)
        if eid in entries:
            raise RdbError("duplicate stream entry ID")
        entries[eid] = fields
        valid += 1
    if valid != count:
        raise RdbError(f"stream node master count {count} != {valid} valid entries")


def decode_value(buf, pos=0):
    """Decode "<type byte><payload>" at buf[pos:]; returns (type_name, value, new_pos).

    Raises RdbError on anything malformed.  Empty collections decode to empty values (callers
    decide: RESTORE rejects them, the file loader skips them)."""
    if not isinstance(buf, bytes):
        buf = bytes(buf)
    src = _BufSource(buf, pos)
    t = src.byte()
    type_name, value = _read_value(src, t)
    return type_name, value, src.pos


def is_empty_value(type_name, value) -> bool:
    """True for an empty collection (never stored by Redis; streams may be empty)."""
    return type_name not in ('string', 'stream') and len(value) == 0


# --------------------------------------------------------------------------------------------
# Primitive writers
# --------------------------------------------------------------------------------------------

def encode_len(n: int) -> bytes:
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b'\x80' + struct.pack('>I', n)
    return b'\x81' + struct.pack('>Q', n)


_CANON_INT_RE = re.compile(rb'-?[1-9][0-9]*|0')


def _try_int_encoding(s: bytes):
    if len(s) > 11 or not _CANON_INT_RE.fullmatch(s):
        return None
    v = int(s)
    if -128 <= v <= 127:
        return b'\xc0' + struct.pack('<b', v)
    if -32768 <= v <= 32767:
        return b'\xc1' + struct.pack('<h', v)
    if -2147483648 <= v <= 2147483647:
        return b'\xc2' + struct.pack('<i', v)
    return None


def encode_string(s, compress=False) -> bytes:
    """RDB string: int-encoded per Redis's rule, else LZF (if asked and worth it), else plain."""
    s = bytes(s)
    if len(s) <= 11:
        enc = _try_int_encoding(s)
        if enc is not None:
            return enc
    if compress and len(s) > 20:
        c = lzf.compress(s)
        if c is not None and len(c) + 4 <= len(s):   # Redis keeps it only if it saves >= 4 bytes
            return b'\xc3' + encode_len(len(c)) + encode_len(len(s)) + c
    return encode_len(len(s)) + s


def _encode_double(d: float) -> bytes:
    return struct.pack('<d', d)


def _lp_int(v):
    if 0 <= v <= 127:
        return bytes((v,))
    if -4096 <= v <= 4095:
        v &= 0x1FFF
        return bytes((0xC0 | (v >> 8), v & 0xFF))
    if -32768 <= v <= 32767:
        return b'\xf1' + struct.pack('<h', v)
    if -8388608 <= v <= 8388607:
        return b'\xf2' + (v & 0xFFFFFF).to_bytes(3, 'little')
    if -2147483648 <= v <= 2147483647:
        return b'\xf3' + struct.pack('<i', v)
    return b'\xf4' + struct.pack('<q', v)


_LP_INT_RE = re.compile(rb'-?[1-9][0-9]{0,19}|0')


def encode_listpack(items) -> bytes:
    """Listpack blob of `items` (int, or bytes; canonical int64 strings are stored as ints,
    as Redis does)."""
    parts = []
    count = 0
    for v in items:
        if not isinstance(v, int):
            v = bytes(v)
            if len(v) <= 20 and _LP_INT_RE.fullmatch(v):
                iv = int(v)
                if -(1 << 63) <= iv < (1 << 63):
                    v = iv
        if isinstance(v, int):
            e = _lp_int(v)
        else:
            ln = len(v)
            if ln < 64:
                e = bytes((0x80 | ln,)) + v
            elif ln < 4096:
                e = bytes((0xE0 | (ln >> 8), ln & 0xFF)) + v
            else:
                e = b'\xf0' + struct.pack('<I', ln) + v
        parts.append(e)
        parts.append(_backlen_bytes(len(e)))
        count += 1
    body = b''.join(parts)
    total = 6 + len(body) + 1
    return struct.pack('<IH', total, min(count, 0xFFFF)) + body + b'\xff'


# --------------------------------------------------------------------------------------------
# Value encoding
# --------------------------------------------------------------------------------------------

STREAM_NODE_MAX_ENTRIES = 100


def _encode_stream_parts(s: StreamValue, compress):
    ids = list(s.entries)
    nodes = [ids[i:i + STREAM_NODE_MAX_ENTRIES]
             for i in range(0, len(ids), STREAM_NODE_MAX_ENTRIES)]
    yield encode_len(len(nodes))
    for node in nodes:
        mms, mseq = node[0]
        master_fields = [f for f, _ in s.entries[node[0]]]
        items = [len(node), 0, len(master_fields), *master_fields, 0]
        for eid in node:
            fields = s.entries[eid]
            same = (len(fields) == len(master_fields)
                    and all(f == m for (f, _), m in zip(fields, master_fields)))
            items.append(2 if same else 0)
            items.append(eid[0] - mms)
            items.append(eid[1] - mseq)
            if same:
                items.extend(v for _, v in fields)
                items.append(len(fields) + 3)
            else:
                items.append(len(fields))
                for f, v in fields:
                    items.append(f)
                    items.append(v)
                items.append(2 * len(fields) + 4)
        yield encode_string(struct.pack('>QQ', mms, mseq))
        yield encode_string(encode_listpack(items), compress)
    yield encode_len(len(s.entries))
    yield encode_len(s.last_id[0]) + encode_len(s.last_id[1])
    yield encode_len(s.first_id[0]) + encode_len(s.first_id[1])
    yield encode_len(s.max_deleted_id[0]) + encode_len(s.max_deleted_id[1])
    yield encode_len(s.entries_added)
    yield encode_len(len(s.groups))
    for g in s.groups:
        yield encode_string(g.name)
        yield encode_len(g.last_id[0]) + encode_len(g.last_id[1])
        yield encode_len(_U64_MAX if g.entries_read < 0 else g.entries_read)
        yield encode_len(len(g.pel))
        for pe in g.pel:
            yield (struct.pack('>QQ', *pe.id) + struct.pack('<q', pe.delivery_time)
                   + encode_len(pe.delivery_count))
        yield encode_len(len(g.consumers))
        for c in g.consumers:
            yield encode_string(c.name) + struct.pack('<q', c.seen_time)
            yield encode_len(len(c.pending))
            yield b''.join(struct.pack('>QQ', *eid) for eid in c.pending)


def _encode_value_parts(type_name, value, compress=False):
    """Yield the pieces of "<type byte><payload>" (a generator, so huge values stream)."""
    if type_name == 'string':
        yield bytes((T_STRING,))
        yield encode_string(value, compress)
    elif type_name in ('list', 'set'):
        if not isinstance(value, (list, tuple)):
            value = list(value)
        yield bytes((T_LIST if type_name == 'list' else T_SET,))
        yield encode_len(len(value))
        for v in value:
            yield encode_string(v, compress)
    elif type_name == 'hash':
        if not isinstance(value, (list, tuple)):
            value = list(value)
        yield bytes((T_HASH,))
        yield encode_len(len(value))
        for f, v in value:
            yield encode_string(f, compress)
            yield encode_string(v, compress)
    elif type_name == 'zset':
        if not isinstance(value, (list, tuple)):
            value = list(value)
        yield bytes((T_ZSET_2,))
        yield encode_len(len(value))
        for m, sc in value:
            yield encode_string(m, compress)
            yield _encode_double(float(sc))
    elif type_name == 'stream':
        yield bytes((T_STREAM_LISTPACKS_2,))
        yield from _encode_stream_parts(value, compress)
    else:
        raise ValueError(f"unknown type name {type_name!r}")


def encode_value(type_name, value, compress=False) -> bytes:
    """ "<type byte><payload>" using the plain types 0/1/2/4/5 and 19 for streams."""
    return b''.join(_encode_value_parts(type_name, value, compress))


# --------------------------------------------------------------------------------------------
# DUMP / RESTORE payloads
# --------------------------------------------------------------------------------------------

def dump_payload(type_name, value, compress=False) -> bytes:
    """DUMP format: encode_value + u16 LE RDB version + CRC64 LE of all preceding bytes."""
    body = encode_value(type_name, value, compress) + struct.pack('<H', RDB_VERSION)
    return body + struct.pack('<Q', crc64(body))


def load_dump_payload(payload, strict=True):
    """RESTORE: verify and decode a DUMP payload; returns (type_name, value).

    Version/CRC problems raise RdbError(errors.DUMP_BAD_PAYLOAD) (as Redis 7.0, a stored CRC of
    0 is *not* a skip marker here); a bad body, an unknown type, or an empty collection raise
    RdbError(errors.DUMP_BAD_FORMAT).  With strict=True bytes between the value and the footer
    are rejected too; Redis itself ignores them (and even lets a value run into the footer):
    strict=False reproduces that exactly."""
    payload = bytes(payload)
    n = len(payload)
    if n < 10:
        raise RdbError(errors.DUMP_BAD_PAYLOAD)
    version = payload[n - 10] | (payload[n - 9] << 8)
    if version > RDB_VERSION:
        raise RdbError(errors.DUMP_BAD_PAYLOAD)
    if crc64(memoryview(payload)[:n - 8]) != struct.unpack_from('<Q', payload, n - 8)[0]:
        raise RdbError(errors.DUMP_BAD_PAYLOAD)
    src = _BufSource(payload, 0, n - 10 if strict else n)
    try:
        t = src.byte()
        if t not in TYPE_NAMES and t not in (T_MODULE, T_MODULE_2):
            raise RdbError(f"unknown value type {t}")
        type_name, value = _read_value(src, t)
        if strict and src.pos != n - 10:
            raise RdbError("trailing bytes after the value")
    except RdbError as e:
        raise RdbError(errors.DUMP_BAD_FORMAT) from e
    if is_empty_value(type_name, value):
        raise RdbError(errors.DUMP_BAD_FORMAT)
    return type_name, value


# --------------------------------------------------------------------------------------------
# Whole files
# --------------------------------------------------------------------------------------------

class RdbWriter:
    """Streaming RDB file writer with a running CRC64.

    Usage: RdbWriter(out) -> aux(...)* -> [function(...)*] -> (select_db -> key*)* -> finish().
    Writes go to `out.write` in chunks of about 64 KiB; the caller owns flushing/closing `out`.
    Empty collections are refused (ValueError): loaders would skip them, intsets reject them."""

    FLUSH_AT = 1 << 16

    def __init__(self, out, version=RDB_VERSION, compress=False, checksum=True):
        if not 1 <= version <= 99:
            raise ValueError("bad RDB version")
        self.out = out
        self.crc = 0
        self.compress = compress          # LZF for strings where it saves (rdbcompression)
        self.checksum = checksum          # else the trailer is 0, "not computed" (rdbchecksum)
        self._buf = bytearray()
        self._finished = False
        self.bytes_written = 0
        self._w(b'REDIS%04d' % version)

    def _w(self, data):
        buf = self._buf
        buf += data
        if len(buf) >= self.FLUSH_AT:
            self._flush()

    def _flush(self):
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            if self.checksum:
                self.crc = crc64(data, self.crc)
            self.out.write(data)
            self.bytes_written += len(data)

    def aux(self, key, value):
        if isinstance(value, int):
            value = b'%d' % value
        elif isinstance(value, str):
            value = value.encode()
        if isinstance(key, str):
            key = key.encode()
        self._w(bytes((OP_AUX,)) + encode_string(key) + encode_string(value))

    def function(self, source: bytes):
        """A FUNCTION2 record: the full library source."""
        self._w(bytes((OP_FUNCTION2,)) + encode_string(source, self.compress))

    def select_db(self, db: int, db_size=None, expires_size=None):
        self._w(bytes((OP_SELECTDB,)) + encode_len(db))
        if db_size is not None:
            self._w(bytes((OP_RESIZEDB,)) + encode_len(db_size) + encode_len(expires_size or 0))

    def key(self, key: bytes, type_name, value, expire_ms=None):
        if is_empty_value(type_name, value if isinstance(value, (list, tuple)) else [0]):
            raise ValueError(f"refusing to write an empty {type_name} for key {key[:40]!r}")
        if expire_ms is not None:
            self._w(bytes((OP_EXPIRETIME_MS,)) + struct.pack('<q', expire_ms))
        parts = _encode_value_parts(type_name, value, self.compress)
        self._w(next(parts))             # type byte
        self._w(encode_string(key))
        for p in parts:
            self._w(p)

    def finish(self):
        """Write EOF and the checksum, and push everything to `out`."""
        if self._finished:
            return
        self._w(bytes((OP_EOF,)))
        self._flush()
        tail = struct.pack('<Q', self.crc)
        self.out.write(tail)
        self.bytes_written += len(tail)
        self._finished = True


class RdbReader:
    """Streaming RDB file reader: iterate for events.

    Events: ('aux', key, value) | ('function', source) | ('db', dbid) | ('resizedb', n, m) |
    ('key', dbid, key, type_name, value, expire_ms_or_None) | ('end', ok_checksum).
    `ok_checksum` is False only when a non-zero stored checksum does not match (stored 0 or a
    version < 5 file count as OK); the caller decides what to do (Redis refuses the file).
    Empty collections are skipped, as Redis does.  Module values/MODULE_AUX raise RdbError.
    Bytes after the checksum are not read."""

    def __init__(self, inp):
        if isinstance(inp, (bytes, bytearray, memoryview)):
            inp = io.BytesIO(bytes(inp))
        self._src = _StreamSource(inp)
        head = self._src.read(9)
        if head[:5] != b'REDIS':
            raise RdbError("Wrong signature trying to load DB from file")
        digits = head[5:]
        if not digits.isdigit():
            raise RdbError(f"Can't handle RDB format version {digits!r}")
        self.version = int(digits)
        if not 1 <= self.version <= RDB_VERSION:
            raise RdbError(f"Can't handle RDB format version {self.version}")
        self._started = False

    def unread(self):
        """Bytes read from the input beyond what the parser consumed (after 'end': whatever
        followed the checksum in the same read)."""
        src = self._src
        return bytes(src.buf[src.pos:])

    def __iter__(self):
        if self._started:
            raise RdbError("an RdbReader can be iterated only once")
        self._started = True
        return self._events()

    def _events(self):
        src = self._src
        dbid = 0
        expire = None
        while True:
            op = src.byte()
            if op == OP_EXPIRETIME_MS:
                expire = _read_ms(src)
            elif op == OP_EXPIRETIME:
                expire = struct.unpack('<i', src.read(4))[0] * 1000
            elif op == OP_IDLE:
                _read_len(src)
            elif op == OP_FREQ:
                src.byte()
            elif op == OP_AUX:
                k = _read_string(src)
                yield ('aux', k, _read_string(src))
            elif op == OP_FUNCTION2:
                yield ('function', _read_string(src))
            elif op == OP_FUNCTION:
                _read_string(src)            # name
                _read_string(src)            # engine
                if _read_len(src):
                    _read_string(src)        # description
                yield ('function', _read_string(src))
            elif op == OP_SELECTDB:
                dbid = _read_len(src)
                yield ('db', dbid)
            elif op == OP_RESIZEDB:
                n = _read_len(src)
                yield ('resizedb', n, _read_len(src))
            elif op == OP_MODULE_AUX:
                raise RdbError(f"module auxiliary data (MODULE_AUX) at offset {src.tell() - 1}: "
                               f"modules are not supported")
            elif op == OP_EOF:
                if self.version < 5:
                    yield ('end', True)
                    return
                computed = src.checksum()
                stored = struct.unpack('<Q', src.read(8))[0]
                yield ('end', stored == 0 or stored == computed)
                return
            elif op in TYPE_NAMES or op in (T_MODULE, T_MODULE_2):
                where = src.tell() - 1
                key = _read_string(src)
                try:
                    type_name, value = _read_value(src, op)
                except RdbError as e:
                    raise RdbError(f"{e} (value of key {key[:60]!r} at offset {where})") from None
                if not is_empty_value(type_name, value):
                    yield ('key', dbid, key, type_name, value, expire)
                expire = None
            else:
                raise RdbError(f"unknown opcode or type {op} at offset {src.tell() - 1}")
