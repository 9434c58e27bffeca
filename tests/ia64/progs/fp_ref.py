#!/usr/bin/env python3
"""fp_ref.py — an exact reference for IA-64 floating-point results, from the IEEE rules.

Values are fractions.Fraction, so products and sums are exact; rounding follows IEEE 754
(and the Itanium SDM where it decides: tininess after rounding, register-format denormals at
the minimum exponent, the double-extended denormal held with exponent 0). It knows nothing
of the emulator: the test programs and tables built from it check the emulator against
arithmetic. Used by fp_gen.py (the fp_*.S programs) and fp_cases.py (test_fp_arith's table).

A register value is (sign, exp, sig): exp biased by 0xffff (0 for zero and denormals of the
extended format, 0x1ffff for inf/NaN), sig the 64-bit significand with its explicit bit.
"""
from fractions import Fraction
import math

BIAS = 0xFFFF
V, D, Z, O, U, I = 1, 2, 4, 8, 16, 32
RN, RM, RP, RZ = 0, 1, 2, 3


def value(reg):
    """The Fraction a finite register value stands for."""
    sign, exp, sig = reg
    e = exp if exp else 0xC001          # exponent 0 with a significand: the ext denormal
    v = Fraction(sig) * Fraction(2) ** (e - BIAS - 63)
    return -v if sign else v


def ilog2(a):
    """floor(log2(a)) for a Fraction a > 0."""
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    if Fraction(2) ** (e + 1) <= a:
        e += 1
    return e


def round_int(x, rc, sign):
    """x >= 0 a Fraction: (integer, inexact) rounded per rc for a value of sign."""
    n = math.floor(x)
    frac = x - n
    if frac == 0:
        return n, False
    if rc == RN:
        up = frac > Fraction(1, 2) or (frac == Fraction(1, 2) and n % 2 == 1)
    elif rc == RM:
        up = sign
    elif rc == RP:
        up = not sign
    else:
        up = False
    return n + (1 if up else 0), True


def env(prec, ebits, rc, ftz=False):
    bias = (1 << (ebits - 1)) - 1
    return {'prec': prec, 'emax': bias, 'emin': 1 - bias, 'rc': rc, 'ftz': ftz, 'ebits': ebits}


def round_value(x, e, sign_of_zero=0):
    """Round the exact Fraction x under env e with all traps disabled: (reg, flags)."""
    reg, flags, _, _ = round_traps(x, e, 0x3F, sign_of_zero)
    return reg, flags


def round_traps(x, e, disabled, sign_of_zero=0):
    """Round x under env e with the traps of `disabled` (a V..I mask) disabled: (reg, flags,
    traps, fpa). An enabled overflow or underflow delivers the result rounded with an
    unbounded exponent, wrapped to 17 bits; fpa says the delivered magnitude exceeds |x|.
    Tininess is decided after rounding; ftz (only with underflow disabled) flushes."""
    p, rc = e['prec'], e['rc']
    if x == 0:
        return (sign_of_zero, 0, 0), 0, 0, 0
    sign = 1 if x < 0 else 0
    a = abs(x)
    ex = ilog2(a)
    scaled = a / Fraction(2) ** (ex - (p - 1))
    n, inexact = round_int(scaled, rc, sign)
    inc = 1 if n > scaled else 0
    if n == 1 << p:
        n >>= 1
        ex += 1
    wrapped = (sign, (ex + BIAS) & 0x1FFFF, n << (64 - p))
    flags = traps = fpa = 0
    if ex > e['emax']:
        flags = O
        if not disabled & O:
            traps, fpa = O, inc
            if inexact:
                flags |= I
                traps |= I
            return wrapped, flags, traps, fpa
        flags |= I
        inf = rc == RN or (rc == RM and sign) or (rc == RP and not sign)
        reg = (sign, 0x1FFFF, 1 << 63) if inf else (sign, e['emax'] + BIAS, ((1 << p) - 1) << (64 - p))
        if not disabled & I:
            traps, fpa = I, 1 if inf else 0
        return reg, flags, traps, fpa
    if ex < e['emin']:
        if not disabled & U:
            flags, traps, fpa = U, U, inc
            if inexact:
                flags |= I
                traps |= I
            return wrapped, flags, traps, fpa
        scaled2 = a / Fraction(2) ** (e['emin'] - (p - 1))
        n2, inexact2 = round_int(scaled2, rc, sign)
        inexact = inexact or inexact2
        if inexact:
            flags = I | U
        if e['ftz']:
            return (sign, 0, 0), I | U, (0 if disabled & I else I), 0
        if inexact and not disabled & I:
            traps, fpa = I, 1 if n2 > scaled2 else 0
        sig = n2 << (64 - p)
        if sig == 0:
            return (sign, 0, 0), flags, traps, fpa
        exp = e['emin'] + BIAS
        if e['ebits'] == 15 and not sig >> 63:
            exp = 0
        return (sign, exp, sig), flags, traps, fpa
    if inexact:
        flags = I
        if not disabled & I:
            traps, fpa = I, inc
    return (sign, ex + BIAS, n << (64 - p)), flags, traps, fpa


def unorm(reg):
    """Unnormalized: integer bit clear with a finite exponent, or an ext denormal."""
    return (reg[1] not in (0, 0x1FFFF) and not reg[2] >> 63) or (reg[1] == 0 and reg[2] != 0)


def fma(a, b, c, e, neg_prod=False, neg_add=False, has_add=True, disabled=0x3F):
    """f3*f4+f2 for finite register operands (no NaN/inf), one rounding; D when an operand
    is unnormalized (pass b = +1.0 for fadd, c = +0.0 for fmpy). With traps enabled in
    `disabled`'s complement, fma_traps gives the traps and fpa too."""
    res, flags, _, _ = fma_traps(a, b, c, e, neg_prod, neg_add, has_add, disabled)
    return res, flags


def fma_traps(a, b, c, e, neg_prod=False, neg_add=False, has_add=True, disabled=0x3F):
    res, flags, traps, fpa = _fma(a, b, c, e, neg_prod, neg_add, has_add, disabled)
    if unorm(a) or unorm(b) or unorm(c):
        flags |= D
    return res, flags, traps, fpa


def _fma(a, b, c, e, neg_prod, neg_add, has_add, disabled):
    psign = a[0] ^ b[0] ^ (1 if neg_prod else 0)
    prod = value(a) * value(b)
    if neg_prod:
        prod = -prod
    if not has_add:
        return round_traps(prod, e, disabled, psign)
    cv = value(c)
    csign = c[0] ^ (1 if neg_add else 0)
    if neg_add:
        cv = -cv
    s = prod + cv
    if s == 0:
        if prod == 0 and cv == 0 and psign == csign:
            zsign = psign
        else:
            zsign = 1 if e['rc'] == RM else 0
        return round_traps(s, e, disabled, zsign)
    return round_traps(s, e, disabled, 0)


def from_double(bits):
    sign, exp, frac = bits >> 63, (bits >> 52) & 0x7FF, bits & ((1 << 52) - 1)
    if exp == 0:
        return (sign, 0, 0) if frac == 0 else (sign, BIAS - 1022, frac << 11)
    if exp == 0x7FF:
        return (sign, 0x1FFFF, (1 << 63) | frac << 11)
    return (sign, exp - 1023 + BIAS, (1 << 63) | frac << 11)


def from_single(bits):
    sign, exp, frac = bits >> 31, (bits >> 23) & 0xFF, bits & ((1 << 23) - 1)
    if exp == 0:
        return (sign, 0, 0) if frac == 0 else (sign, BIAS - 126, frac << 40)
    if exp == 0xFF:
        return (sign, 0x1FFFF, (1 << 63) | frac << 40)
    return (sign, exp - 127 + BIAS, (1 << 63) | frac << 40)


def to_double(reg):
    """Bits of a register value that is a double (normal, denormal at 0xfc01, zero, inf)."""
    sign, exp, sig = reg
    if exp == 0 or not sig >> 63:
        e = 0
    elif exp == 0x1FFFF:
        e = 0x7FF
    else:
        e = ((exp >> 16) & 1) << 10 | (exp & 0x3FF)
    return sign << 63 | e << 52 | ((sig << 1) & ((1 << 64) - 1)) >> 12


def to_single(reg):
    sign, exp, sig = reg
    if exp == 0 or not sig >> 63:
        e = 0
    elif exp == 0x1FFFF:
        e = 0xFF
    else:
        e = ((exp >> 16) & 1) << 7 | (exp & 0x7F)
    return sign << 31 | e << 23 | ((sig << 1) & ((1 << 64) - 1)) >> 41


def se(reg):
    """getf.exp of a register value: sign and exponent."""
    return reg[0] << 17 | reg[1]


def fpsr_word(traps, sfs):
    """An FPSR: traps-disabled bits and four (ftz, wre, pc, rc, td, flags) status fields."""
    w = traps & 0x3F
    for i, (ftz, wre, pc, rc, td, flags) in enumerate(sfs):
        field = ftz | wre << 1 | pc << 2 | rc << 4 | td << 6 | flags << 7
        w |= field << (6 + 13 * i)
    return w
