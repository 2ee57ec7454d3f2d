"""Redis's CRC-64 (Jones polynomial, reflected, init 0, no final xor).

Contract: `crc64(data, crc=0)` returns the CRC of `data` continuing from `crc`, so
`crc64(b, crc64(a)) == crc64(a + b)`.  This is the checksum of RDB files (over every byte from the
`R` of `REDIS` through the 0xFF EOF opcode) and of DUMP payloads.  Test vector:
`crc64(b"123456789") == 0xE9C6D914C4B8D9CA`.

The work is done by the `anycrc` C extension (model CRC64-REDIS, verified against the test vector
at import); `crc64_py` is a table-driven pure-Python version kept only to test equivalence (it
runs at roughly 10 MB/s).
"""

import anycrc

_POLY_REFLECTED = 0x95AC9329AC4BC9B5  # bit-reversal of 0xAD93D23594C935A9
CHECK_INPUT = b"123456789"
CHECK_VALUE = 0xE9C6D914C4B8D9CA


def _make_model():
    try:
        model = anycrc.Model("CRC64-REDIS")
    except Exception:  # older anycrc without the named model: build it from parameters
        model = anycrc.CRC(width=64, poly=0xAD93D23594C935A9, init=0, refin=True, refout=True,
                           xorout=0)
    if model.calc(CHECK_INPUT) != CHECK_VALUE:
        raise ImportError("anycrc CRC64-REDIS model failed the Redis CRC-64 test vector")
    return model


_MODEL = _make_model()
_calc = _MODEL.calc


def crc64(data, crc: int = 0) -> int:
    """CRC-64/Redis of `data` (bytes-like) continuing from `crc` (0 to start)."""
    if not data:
        return crc
    return _calc(data, crc)


def _make_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY_REFLECTED if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc64_py(data, crc: int = 0) -> int:
    """Pure-Python reference implementation of `crc64` (slow; for tests)."""
    table = _TABLE
    for b in bytes(data):
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc
