"""LZF (liblzf format, as used inside RDB files and DUMP payloads), pure Python.

Contract:
- `decompress(data, expected_len)` returns exactly `expected_len` bytes or raises `LzfError`
  (never IndexError): a back-reference before the start of the output, a literal run past the end
  of the input, or an output that does not have the expected length are all errors.
- `compress(data)` returns an LZF stream that `decompress` (and Redis's lzf_decompress) inflate back
  to `data`, or None when the result would not be shorter than the input.  It is a simple greedy
  matcher; RDB writers may always emit plain strings instead.

Format: control byte c.  c < 32: c+1 literal bytes follow.  Otherwise n = c >> 5 (if n == 7, add
the next byte), distance = ((c & 0x1f) << 8) + next byte + 1, copy n+2 bytes from
output_end - distance, byte by byte (overlap allowed).
"""


class LzfError(ValueError):
    """Malformed LZF input."""


def decompress(data, expected_len: int) -> bytes:
    src = memoryview(data)
    n = len(src)
    out = bytearray()
    i = 0
    while i < n:
        c = src[i]
        i += 1
        if c < 32:
            run = c + 1
            if i + run > n:
                raise LzfError("LZF literal run past end of input")
            out += src[i:i + run]
            i += run
        else:
            length = c >> 5
            if length == 7:
                if i >= n:
                    raise LzfError("LZF truncated back-reference")
                length += src[i]
                i += 1
            if i >= n:
                raise LzfError("LZF truncated back-reference")
            dist = ((c & 0x1F) << 8) + src[i] + 1
            i += 1
            length += 2
            start = len(out) - dist
            if start < 0:
                raise LzfError("LZF back-reference before start of output")
            if dist >= length:
                out += out[start:start + length]
            else:  # overlapping copy: the pattern of `dist` bytes repeats
                pattern = bytes(out[start:])
                reps, rem = divmod(length, dist)
                out += pattern * reps + pattern[:rem]
        if len(out) > expected_len:
            raise LzfError("LZF output longer than expected")
    if len(out) != expected_len:
        raise LzfError("LZF output length mismatch")
    return bytes(out)


_MAX_LIT = 32
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)  # 264 bytes


def compress(data):
    """Compress `data`; None if the output would not be shorter than the input."""
    data = bytes(data)
    n = len(data)
    if n < 4:
        return None
    out = bytearray()
    lit = bytearray()
    table = {}
    i = 0

    def flush_literals():
        for k in range(0, len(lit), _MAX_LIT):
            chunk = lit[k:k + _MAX_LIT]
            out.append(len(chunk) - 1)
            out.extend(chunk)
        lit.clear()

    while i < n:
        if i + 2 < n:
            key = data[i:i + 3]
            ref = table.get(key)
            table[key] = i
            if ref is not None and i - ref <= _MAX_OFF:
                maxlen = min(_MAX_REF, n - i)
                length = 3
                while length < maxlen and data[ref + length] == data[i + length]:
                    length += 1
                flush_literals()
                off = i - ref - 1
                ln = length - 2
                if ln < 7:
                    out.append((ln << 5) | (off >> 8))
                else:
                    out.append((7 << 5) | (off >> 8))
                    out.append(ln - 7)
                out.append(off & 0xFF)
                # index the positions inside the match (cheaply: only a few) for later matches
                end = i + length
                for j in range(i + 1, min(end, n - 2)):
                    table[data[j:j + 3]] = j
                i = end
                if len(out) >= n:
                    return None
                continue
        lit.append(data[i])
        i += 1
    flush_literals()
    if len(out) >= n:
        return None
    return bytes(out)
