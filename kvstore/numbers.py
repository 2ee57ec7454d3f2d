"""Redis's number parsing and formatting rules, bit-exact with 7.0.

INCRBYFLOAT/HINCRBYFLOAT compute in x87 80-bit long double (64-bit significand) and print with
"%.17Lf" minus trailing zeros; Python has no long double, so values are kept as exact Fractions
rounded to the nearest long double after every operation, exactly as the hardware does
(round-half-even), then formatted from the exact value as glibc's printf does.
"""

import math
import re
from fractions import Fraction

LLONG_MAX = 2 ** 63 - 1
LLONG_MIN = -(2 ** 63)

_LD_MANT = 64                    # x87 extended precision significand bits
_LD_MAX_EXP = 16384              # values >= 2**16384 overflow to inf
_LD_MIN_EXP = -16445             # smallest subnormal exponent (2**-16445)
_DEC_RE = re.compile(rb"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INF_RE = re.compile(rb"^[+-]?(inf|infinity)$", re.IGNORECASE)


class LongDouble:
    """An exact value representable as an x87 long double, or +/-inf."""
    __slots__ = ("value", "inf")

    def __init__(self, value, inf=0):
        self.value = value
        self.inf = inf


def _round_to_ld(q):
    """Round Fraction q to the nearest long double (half-even); return LongDouble."""
    if q == 0:
        return LongDouble(Fraction(0))
    sign = -1 if q < 0 else 1
    a = -q if q < 0 else q
    # exponent e such that 2**e <= a < 2**(e+1)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    if e >= _LD_MAX_EXP:
        return LongDouble(None, sign)
    shift = max(e - (_LD_MANT - 1), _LD_MIN_EXP)
    scaled = a / (Fraction(2) ** shift)
    n = scaled.numerator // scaled.denominator
    rem = scaled - n
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2 == 1):
        n += 1
    r = Fraction(n) * (Fraction(2) ** shift)
    if r >= Fraction(2) ** _LD_MAX_EXP:
        return LongDouble(None, sign)
    return LongDouble(sign * r)


def parse_long_double(s):
    """Redis's string2ld (strtold + checks); LongDouble or None if not a valid float."""
    if not s or len(s) >= 5 * 1024 or s[0:1].isspace():
        return None
    if _DEC_RE.match(s):
        try:
            return _round_to_ld(Fraction(s.decode()))
        except (ValueError, ZeroDivisionError):
            return None
    if _INF_RE.match(s):
        return LongDouble(None, -1 if s.startswith(b"-") else 1)
    low = s.lower()
    if low.lstrip(b"+-").startswith(b"0x"):
        try:
            f = float.fromhex(s.decode())
        except ValueError:
            return None
        if math.isinf(f) or math.isnan(f):
            return None
        return _round_to_ld(Fraction(f))
    return None


def ld_add(a, b):
    """a + b in long double; result may be inf (or None for inf + -inf = nan)."""
    if a.inf or b.inf:
        if a.inf and b.inf and a.inf != b.inf:
            return None
        return LongDouble(None, a.inf or b.inf)
    return _round_to_ld(a.value + b.value)


def ld_mul_ceil(a, n):
    """ceill(a * n) with the product rounded to long double first (Redis's timeouts)."""
    r = _round_to_ld(a.value * n)
    if r.inf:
        return None
    q = r.value
    return -((-q.numerator) // q.denominator)


def format_long_double_human(x):
    """ld2string(..., LD_STR_HUMAN): "%.17Lf" with trailing zeros (and dot) removed."""
    q = x.value
    neg = q < 0
    a = -q if neg else q
    scaled = a * 10 ** 17
    n = scaled.numerator // scaled.denominator
    rem = scaled - n
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2 == 1):
        n += 1
    digits = str(n).rjust(18, "0")
    s = digits[:-17] + "." + digits[-17:]
    s = s.rstrip("0").rstrip(".")
    if neg:
        s = "-" + s
    if s == "-0":
        s = "0"
    return s.encode()


def parse_double(s):
    """Redis's string2d / getDoubleFromObject: a float or None (no spaces, no nan)."""
    if not s or s[0:1].isspace() or s[-1:].isspace():
        return None
    try:
        v = float(s)
    except ValueError:
        return None
    if v != v:
        return None
    if b"_" in s:
        return None
    return v
