"""What Redis 7.0 `OBJECT ENCODING` reports for values, where it depends only on the value.

Contract: `string_encoding_for_object(value)` gives the encoding a string gets when stored by SET
(Redis's tryObjectEncoding): 'int' for a canonical decimal integer (no '+', no leading zeros or
spaces, no '-0') of at most 20 characters that fits a signed 64-bit long, else 'embstr' for at
most 44 bytes, else 'raw'.  Verified against redis-server 7.0.15 (tests/test_rdb.py).  Commands
that modify a string in place (APPEND, SETRANGE, SETBIT...) make it 'raw' in Redis regardless;
that is the caller's business.
"""

import re

EMBSTR_SIZE_LIMIT = 44
_CANON_INT = re.compile(rb'-?[1-9][0-9]*|0')
_LONG_MIN = -(1 << 63)
_LONG_MAX = (1 << 63) - 1


def is_canonical_int64(value: bytes) -> bool:
    """True if Redis's string2ll would accept `value` and print it back identically."""
    if not value or len(value) > 20 or not _CANON_INT.fullmatch(value):
        return False
    return _LONG_MIN <= int(value) <= _LONG_MAX


def string_encoding_for_object(value: bytes) -> str:
    value = bytes(value)
    if is_canonical_int64(value):
        return 'int'
    if len(value) <= EMBSTR_SIZE_LIMIT:
        return 'embstr'
    return 'raw'
