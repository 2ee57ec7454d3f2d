"""DEBUG DIGEST and DEBUG DIGEST-VALUE, computed exactly as Redis 7.0.15 does (src/debug.c).

Building blocks (20-byte SHA1 digests):
  xor(d, data):  d ^= SHA1(data)                 -- order-independent accumulation
  mix(d, data):  d = SHA1(d ^ SHA1(data))        -- order-dependent accumulation
Per value (xorObjectDigest): start from d (zeros for DIGEST-VALUE, or the key-mixed digest),
  mix(d, htonl(type)) with type string 0, list 1, set 2, zset 3, hash 4, stream 6;
  string: mix(d, value); list: mix(d, element) head to tail;
  set: xor(d, member) per member;
  zset: per member e = mix(mix(0, member), "%.17g" % score); xor(d, e);
  hash: per field e = mix(mix(0, field), value); xor(d, e);
  stream: per live entry in ID order mix(d, b"<ms>.<seq>"), then mix(d, field), mix(d, value)
          per pair (consumer groups and stream metadata are not part of the digest);
  and finally, if the key has an expire, xor(d, b"!!expire!!") (the marker, never the time).
DEBUG DIGEST-VALUE key = that digest started from zeros (so it includes the expire marker).
Per key: d = mix(0, key), then as above.  Dataset: start at zeros; for each non-empty db in
order mix(final, htonl(dbid)), then xor(final, key digest) per key -- note xor() hashes its
input, so final ^= SHA1(key digest).  Empty dataset = 40 zeros.
Keys that are logically expired but still present count.  All verified against redis-server
7.0.15 in tests/test_digest.py.
"""

import hashlib
import struct

_sha1 = hashlib.sha1
_ZERO = bytes(20)
TYPE_CODES = {'string': 0, 'list': 1, 'set': 2, 'zset': 3, 'hash': 4, 'stream': 6}
_EXPIRE_MARK_INT = int.from_bytes(_sha1(b'!!expire!!').digest(), 'big')
_TYPE_HASH = {t: int.from_bytes(_sha1(struct.pack('>I', c)).digest(), 'big')
              for t, c in TYPE_CODES.items()}


def _h(data) -> int:
    return int.from_bytes(_sha1(data).digest(), 'big')


def _mix_int(d: int, data) -> int:
    """mixDigest on an int-represented digest."""
    return int.from_bytes(_sha1((d ^ _h(data)).to_bytes(20, 'big')).digest(), 'big')


def _mix_hashed(d: int, hashed: int) -> int:
    return int.from_bytes(_sha1((d ^ hashed).to_bytes(20, 'big')).digest(), 'big')


def format_score(score: float) -> bytes:
    """A zset score as 7.0's debug.c prints it: "%.17g" (inf -> "inf", -inf -> "-inf")."""
    return b'%.17g' % score


def _stream_entries(value):
    entries = getattr(value, 'entries', value)
    if isinstance(entries, dict):
        return entries.items()
    return entries


def _object_digest(d: int, type_name, value, has_expire) -> int:
    try:
        d = _mix_hashed(d, _TYPE_HASH[type_name])
    except KeyError:
        raise ValueError(f"unknown type name {type_name!r}") from None
    if type_name == 'string':
        d = _mix_int(d, value)
    elif type_name == 'list':
        for ele in value:
            d = _mix_int(d, ele)
    elif type_name == 'set':
        for m in value:
            d ^= _h(m)
    elif type_name == 'zset':
        for m, score in value:
            e = _mix_int(_mix_int(0, m), format_score(score))
            d ^= _h(e.to_bytes(20, 'big'))
    elif type_name == 'hash':
        for f, v in value:
            e = _mix_int(_mix_int(0, f), v)
            d ^= _h(e.to_bytes(20, 'big'))
    elif type_name == 'stream':
        for (ms, seq), fields in _stream_entries(value):
            d = _mix_int(d, b'%d.%d' % (ms, seq))
            for f, v in fields:
                d = _mix_int(d, f)
                d = _mix_int(d, v)
    if has_expire:
        d ^= _EXPIRE_MARK_INT
    return d


def value_digest(type_name, value, has_expire: bool = False) -> bytes:
    """DEBUG DIGEST-VALUE for one key (20 bytes; .hex() is what Redis prints).

    Collections may be any iterable: list elements head to tail, set members, hash
    (field, value) pairs, zset (member, score) pairs in any order; a stream is a StreamValue
    or its `entries` (dict or iterable of ((ms, seq), [(field, value), ...]) in ID order)."""
    return _object_digest(0, type_name, value, has_expire).to_bytes(20, 'big')


def key_digest(key: bytes, type_name, value, has_expire: bool) -> bytes:
    """The per-key digest that DEBUG DIGEST xors into the dataset digest (20 bytes)."""
    return _object_digest(_mix_int(0, key), type_name, value, has_expire).to_bytes(20, 'big')


class DatasetDigest:
    """Streaming DEBUG DIGEST: add_db(dbid) before each non-empty db's keys, then add_key()."""

    def __init__(self):
        self._final = 0

    def add_db(self, dbid: int):
        self._final = _mix_int(self._final, struct.pack('>I', dbid))

    def add_key(self, key, type_name, value, has_expire=False):
        kd = _object_digest(_mix_int(0, key), type_name, value, has_expire)
        self._final ^= _h(kd.to_bytes(20, 'big'))

    def digest(self) -> bytes:
        return self._final.to_bytes(20, 'big')

    def hexdigest(self) -> str:
        return self.digest().hex()
