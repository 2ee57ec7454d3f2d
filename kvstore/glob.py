"""Redis's glob-style matching (util.c stringmatchlen) compiled to Python regexes.

`*` any run, `?` any byte, `[abc]`, `[^abc]`, `[a-z]` (reversed ranges allowed), `\\x` a literal
x. Compiled patterns are cached; `literal_prefix` gives the fixed head of a pattern so KEYS and
SCAN can seek instead of walking the whole keyspace.
"""

import re
from functools import lru_cache


@lru_cache(maxsize=256)
def compile_pattern(pattern, nocase=False):
    """A compiled regex (bytes) equivalent to Redis's stringmatchlen(pattern, ..., nocase)."""
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == 42:                                  # *
            while i + 1 < n and pattern[i + 1] == 42:
                i += 1
            out.append(b".*")
        elif c == 63:                                # ?
            out.append(b".")
        elif c == 91:                                # [
            i += 1
            negate = i < n and pattern[i] == 94
            if negate:
                i += 1
            items = []
            while i < n and pattern[i] != 93:
                if pattern[i] == 92 and i + 1 < n:
                    i += 1
                    items.append(re.escape(pattern[i:i + 1]))
                elif i + 2 < n and pattern[i + 1] == 45:
                    lo, hi = pattern[i], pattern[i + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    items.append(re.escape(bytes([lo])) + b"-" + re.escape(bytes([hi])))
                    i += 2
                else:
                    items.append(re.escape(pattern[i:i + 1]))
                i += 1
            if not items:
                out.append(b"[^\\x00-\\xff]" if not negate else b".")
            else:
                out.append(b"[" + (b"^" if negate else b"") + b"".join(items) + b"]")
        elif c == 92 and i + 1 < n:                  # backslash escape
            i += 1
            out.append(re.escape(pattern[i:i + 1]))
        else:
            out.append(re.escape(pattern[i:i + 1]))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
    return re.compile(b"".join(out) + b"\\Z", flags)


def match(pattern, s, nocase=False):
    return compile_pattern(pattern, nocase).match(s) is not None


def literal_prefix(pattern):
    """The bytes every match of `pattern` must start with."""
    out = bytearray()
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c in (42, 63, 91):
            break
        if c == 92 and i + 1 < n:
            i += 1
            c = pattern[i]
        out.append(c)
        i += 1
    return bytes(out)
