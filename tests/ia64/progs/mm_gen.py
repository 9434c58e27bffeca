#!/usr/bin/env python3
"""mm_gen.py — writes the self-checking programs for the multimedia (parallel integer) family:
mm_a9.S (padd psub pavg pavgsub pcmp pshladd2 pshradd2), mm_i2.S (pmpyshr2 pmpy2 mix pack
unpack pmin pmax psad1) and mm_shift.S (mux1 mux2 pshl pshr).

The expected values are computed here, in Python, straight from the pseudo-code of the
Itanium SDM vol. 3 (lanes x[i] of GR r2 and y[i] of GR r3, lane 0 the least significant,
results built with concatenate): an implementation independent of the emulator's C code.
Operands are the lane edges (0, 1, max/2, max/2+1, max) in every combination that matters,
plus a fixed pseudo-random set.

Run from this directory:  python3 mm_gen.py   (rewrites the three .S files)
"""
import random

M64 = (1 << 64) - 1


def lanes(v, w):
    return [(v >> (i * w)) & ((1 << w) - 1) for i in range(64 // w)]


def concat(vals, w):
    """vals[0] is the least significant lane."""
    r = 0
    for i, v in enumerate(vals):
        r |= (v & ((1 << w) - 1)) << (i * w)
    return r


def sx(v, w):
    return v - (1 << w) if v >> (w - 1) else v


def sat(v, lo, hi):
    return max(lo, min(hi, v))


def lanewise(w, f):
    return lambda a, b: concat([f(x, y) for x, y in zip(lanes(a, w), lanes(b, w))], w)


# ---- A9 / A10 -------------------------------------------------------------------------------

def padd(w, mode):
    smax, smin, umax = (1 << (w - 1)) - 1, -(1 << (w - 1)), (1 << w) - 1
    if mode == "sss":
        return lanewise(w, lambda x, y: sat(sx(x, w) + sx(y, w), smin, smax))
    if mode == "uus":
        return lanewise(w, lambda x, y: sat(x + sx(y, w), 0, umax))
    if mode == "uuu":
        return lanewise(w, lambda x, y: sat(x + y, 0, umax))
    return lanewise(w, lambda x, y: x + y)


def psub(w, mode):
    smax, smin, umax = (1 << (w - 1)) - 1, -(1 << (w - 1)), (1 << w) - 1
    if mode == "sss":
        return lanewise(w, lambda x, y: sat(sx(x, w) - sx(y, w), smin, smax))
    if mode == "uus":
        return lanewise(w, lambda x, y: sat(x - sx(y, w), 0, umax))
    if mode == "uuu":
        return lanewise(w, lambda x, y: sat(x - y, 0, umax))
    return lanewise(w, lambda x, y: x - y)


def pavg(w, raz):
    # The w+1-bit sum shifted right one; .raz adds 1 first, the normal form ORs the bit
    # shifted out into the low bit.
    if raz:
        return lanewise(w, lambda x, y: (x + y + 1) >> 1)
    return lanewise(w, lambda x, y: ((x + y) >> 1) | ((x + y) & 1))


def pavgsub(w):
    # The w+1-bit difference (borrow on top) shifted right one, low bit ORed in.
    def f(x, y):
        d = (x - y) & ((1 << (w + 1)) - 1)
        return (d >> 1) | (d & 1)
    return lanewise(w, f)


def pcmp(w, rel):
    ones = (1 << w) - 1
    if rel == "eq":
        return lanewise(w, lambda x, y: ones if x == y else 0)
    return lanewise(w, lambda x, y: ones if sx(x, w) > sx(y, w) else 0)


def pshladd2(n):
    def f(x, y):
        t = sx(x, 16) << n
        if t > 0x7fff:
            return 0x7fff
        if t < -0x8000:
            return -0x8000
        return sat(t + sx(y, 16), -0x8000, 0x7fff)
    return lambda a, b: lanewise(16, f)(a, b)


def pshradd2(n):
    return lambda a, b: lanewise(16, lambda x, y: sat((sx(x, 16) >> n) + sx(y, 16), -0x8000, 0x7fff))(a, b)


# ---- I1 / I2 --------------------------------------------------------------------------------

def pmpyshr2(n, unsigned):
    if unsigned:
        return lanewise(16, lambda x, y: (x * y) >> n)
    return lanewise(16, lambda x, y: (sx(x, 16) * sx(y, 16)) >> n)


def pmpy2(left):
    def f(a, b):
        x, y = lanes(a, 16), lanes(b, 16)
        k = 1 if left else 0
        return concat([sx(x[k], 16) * sx(y[k], 16), sx(x[k + 2], 16) * sx(y[k + 2], 16)], 32)
    return f


def mix(w, left):
    def f(a, b):
        x, y = lanes(a, w), lanes(b, w)
        out = []
        for p in range(len(x) // 2):
            i = 2 * p + (1 if left else 0)
            out += [y[i], x[i]]          # r3's lane low, r2's lane high in each pair
        return concat(out, w)
    return f


def pack(w, lo, hi):
    # 2w-bit signed lanes narrowed to w bits; r2 gives the low half, r3 the high half.
    def f(a, b):
        x, y = lanes(a, 2 * w), lanes(b, 2 * w)
        return concat([sat(sx(v, 2 * w), lo, hi) for v in x + y], w)
    return f


def unpack(w, high):
    def f(a, b):
        x, y = lanes(a, w), lanes(b, w)
        h = len(x) // 2
        idx = range(h, 2 * h) if high else range(0, h)
        out = []
        for i in idx:
            out += [y[i], x[i]]
        return concat(out, w)
    return f


def pminmax(w, signed, want_max):
    def f(x, y):
        kx, ky = (sx(x, w), sx(y, w)) if signed else (x, y)
        if want_max:
            return x if kx >= ky else y
        return x if kx <= ky else y
    return lanewise(w, f)


def psad1(a, b):
    return sum(abs(x - y) for x, y in zip(lanes(a, 8), lanes(b, 8)))


# ---- I3 - I8 --------------------------------------------------------------------------------

def mux1(kind):
    def f(a):
        x = lanes(a, 8)
        if kind == "@brcst":
            return concat([x[0]] * 8, 8)
        # SDM: GR[r1] = concatenate8(...) listed from the most significant byte down.
        msb_first = {
            "@mix": [x[7], x[3], x[5], x[1], x[6], x[2], x[4], x[0]],
            "@shuf": [x[7], x[3], x[6], x[2], x[5], x[1], x[4], x[0]],
            "@alt": [x[7], x[5], x[3], x[1], x[6], x[4], x[2], x[0]],
            "@rev": [x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]],
        }[kind]
        return concat(list(reversed(msb_first)), 8)
    return f


def mux2(sel):
    return lambda a: concat([lanes(a, 16)[(sel >> (2 * i)) & 3] for i in range(4)], 16)


def pshl(w, count):
    n = min(count, w)
    return lambda a: concat([0 if n == w else (x << n) for x in lanes(a, w)], w)


def pshr(w, count, unsigned):
    n = min(count, w)
    if unsigned:
        return lambda a: concat([0 if n == w else x >> n for x in lanes(a, w)], w)
    return lambda a: concat([sx(x, w) >> n for x in lanes(a, w)], w)


# ---- Operands ---------------------------------------------------------------------------------

def edge_pairs(w, rnd, extra=6):
    """Pairs of 64-bit operands whose lanes walk through the edge values of width w."""
    m = (1 << w) - 1
    edges = [0, 1, m >> 1, (m >> 1) + 1, m, m - 1, (m >> 1) - 1, (m >> 1) + 2]
    n = 64 // w
    pairs = []
    # every (edge, edge) combination, packed n lane pairs per operand pair
    combos = [(e1, e2) for e1 in edges for e2 in edges]
    for k in range(0, len(combos), n):
        chunk = combos[k:k + n]
        chunk += [(0, 0)] * (n - len(chunk))
        pairs.append((concat([c[0] for c in chunk], w), concat([c[1] for c in chunk], w)))
    for _ in range(extra):
        pairs.append((rnd.getrandbits(64), rnd.getrandbits(64)))
    return pairs


def mixed_operands(rnd, extra=6):
    fixed = [0, M64, 0x8000000000000000, 0x7fffffffffffffff, 0x0123456789abcdef,
             0xfedcba9876543210, 0x00ff00ff00ff00ff, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f,
             0x80007fff0001ffff, 0x8000000080000000, 0x00010002fffefffd]
    return fixed + [rnd.getrandbits(64) for _ in range(extra)]


# ---- Output -----------------------------------------------------------------------------------

HEADER = """// {name} — generated by mm_gen.py from the SDM pseudo-code (do not edit; rerun the script).
// {what}
// Each check loads r2/r3 with movl, runs one instruction into r8 and compares with the value
// Python computed.
\t.include "check.inc"
\t.text
\t.global _start
_start:
"""


class Prog:
    def __init__(self, name, what):
        self.name, self.lines, self.count = name, [HEADER.format(name=name, what=what)], 0

    def check2(self, insn, a, b, expect, r2="r2", r3="r3"):
        self.lines.append(f"\tmovl {r2} = 0x{a & M64:016x}\n\tmovl {r3} = 0x{b & M64:016x} ;;\n")
        self.lines.append(f"\t{insn} ;;\n\tCHECK r8, 0x{expect & M64:016x}\n")
        self.count += 1

    def check1(self, insn, a, expect):
        self.lines.append(f"\tmovl r2 = 0x{a & M64:016x} ;;\n\t{insn} ;;\n\tCHECK r8, 0x{expect & M64:016x}\n")
        self.count += 1

    def raw(self, text):
        self.lines.append(text)

    def write(self):
        self.lines.append("\tPASS\n")
        with open(self.name, "w") as f:
            f.write("".join(self.lines))
        print(f"{self.name}: {self.count} checks")


def gen_a9(rnd):
    p = Prog("mm_a9.S", "A9/A10: padd psub (modulo .sss .uus .uuu), pavg[.raz], pavgsub, pcmp, pshladd2, pshradd2.")
    for w in (1, 2, 4):
        for mode in ("", "sss", "uus", "uuu"):
            if w == 4 and mode:
                continue
            suffix = "." + mode if mode else ""
            for a, b in edge_pairs(8 * w, rnd, 3):
                p.check2(f"padd{w}{suffix} r8 = r2, r3", a, b, padd(8 * w, mode)(a, b))
                p.check2(f"psub{w}{suffix} r8 = r2, r3", a, b, psub(8 * w, mode)(a, b))
    for w in (1, 2):
        for a, b in edge_pairs(8 * w, rnd, 3):
            p.check2(f"pavg{w} r8 = r2, r3", a, b, pavg(8 * w, False)(a, b))
            p.check2(f"pavg{w}.raz r8 = r2, r3", a, b, pavg(8 * w, True)(a, b))
            p.check2(f"pavgsub{w} r8 = r2, r3", a, b, pavgsub(8 * w)(a, b))
    for w in (1, 2, 4):
        for a, b in edge_pairs(8 * w, rnd, 3):
            p.check2(f"pcmp{w}.eq r8 = r2, r3", a, b, pcmp(8 * w, "eq")(a, b))
            p.check2(f"pcmp{w}.gt r8 = r2, r3", a, b, pcmp(8 * w, "gt")(a, b))
    for n in (1, 2, 3):
        for a, b in edge_pairs(16, rnd, 3):
            p.check2(f"pshladd2 r8 = r2, {n}, r3", a, b, pshladd2(n)(a, b))
            p.check2(f"pshradd2 r8 = r2, {n}, r3", a, b, pshradd2(n)(a, b))
    # A-unit forms also run in M slots.
    a, b = 0x7f80ff0001fe8081, 0x0180017fff02807f
    p.raw(f"\tmovl r2 = 0x{a:016x}\n\tmovl r3 = 0x{b:016x} ;;\n")
    p.raw("\t{ .mmi\n\tpadd1.sss r8 = r2, r3\n\tpsub2.uus r9 = r2, r3\n\tnop.i 0 ;; }\n")
    p.raw(f"\tCHECK r8, 0x{padd(8, 'sss')(a, b):016x}\n\tCHECK r9, 0x{psub(16, 'uus')(a, b):016x}\n")
    p.count += 2
    p.write()


def gen_i2(rnd):
    p = Prog("mm_i2.S", "I1/I2: pmpyshr2[.u], pmpy2, mix, pack, unpack, pmin/pmax, psad1.")
    for n in (0, 7, 15, 16):
        for a, b in edge_pairs(16, rnd, 3):
            p.check2(f"pmpyshr2 r8 = r2, r3, {n}", a, b, pmpyshr2(n, False)(a, b))
            p.check2(f"pmpyshr2.u r8 = r2, r3, {n}", a, b, pmpyshr2(n, True)(a, b))
    for a, b in edge_pairs(16, rnd, 4):
        p.check2("pmpy2.r r8 = r2, r3", a, b, pmpy2(False)(a, b))
        p.check2("pmpy2.l r8 = r2, r3", a, b, pmpy2(True)(a, b))
    ops = mixed_operands(rnd)
    pairs = [(ops[i], ops[(i * 5 + 3) % len(ops)]) for i in range(len(ops))]
    for w in (1, 2, 4):
        for side in ("r", "l"):
            for a, b in pairs[:6]:
                p.check2(f"mix{w}.{side} r8 = r2, r3", a, b, mix(8 * w, side == "l")(a, b))
        for side in ("h", "l"):
            for a, b in pairs[:6]:
                p.check2(f"unpack{w}.{side} r8 = r2, r3", a, b, unpack(8 * w, side == "h")(a, b))
    for a, b in edge_pairs(16, rnd, 4):
        p.check2("pack2.sss r8 = r2, r3", a, b, pack(8, -128, 127)(a, b))
        p.check2("pack2.uss r8 = r2, r3", a, b, pack(8, 0, 255)(a, b))
    for a, b in edge_pairs(32, rnd, 4):
        p.check2("pack4.sss r8 = r2, r3", a, b, pack(16, -32768, 32767)(a, b))
    for a, b in edge_pairs(8, rnd, 4):
        p.check2("pmin1.u r8 = r2, r3", a, b, pminmax(8, False, False)(a, b))
        p.check2("pmax1.u r8 = r2, r3", a, b, pminmax(8, False, True)(a, b))
        p.check2("psad1 r8 = r2, r3", a, b, psad1(a, b))
    for a, b in edge_pairs(16, rnd, 4):
        p.check2("pmin2 r8 = r2, r3", a, b, pminmax(16, True, False)(a, b))
        p.check2("pmax2 r8 = r2, r3", a, b, pminmax(16, True, True)(a, b))
    p.write()


def gen_shift(rnd):
    p = Prog("mm_shift.S", "I3-I8: mux1 (every mbtype), mux2, pshl2/4 and pshr2/4[.u] by GR and by count5.")
    ops = mixed_operands(rnd, 4)
    for kind in ("@brcst", "@mix", "@shuf", "@alt", "@rev"):
        for a in ops[:8]:
            p.check1(f"mux1 r8 = r2, {kind}", a, mux1(kind)(a))
    for sel in (0x00, 0x1b, 0xe4, 0xff, 0x55, 0xaa, 0x4e, 0xb1, rnd.getrandbits(8), rnd.getrandbits(8)):
        for a in ops[:4]:
            p.check1(f"mux2 r8 = r2, 0x{sel:x}", a, mux2(sel)(a))
    data = [0x8001ffff7ffe0001, 0xfedcba9876543210, 0x8000000180000000, 0x7fffffff00000001]
    for w in (2, 4):
        counts_gr = [0, 1, w * 8 - 1, w * 8, w * 8 + 1, 63, 64, 1 << 32, M64, 0x8000000000000000]
        for c in range(32):
            a = data[c % len(data)]
            # count5 goes to 31 for both widths: pshl2/pshr2 clamp it to 16
            p.check1(f"pshl{w} r8 = r2, {c}", a, pshl(8 * w, c)(a))
            p.check1(f"pshr{w} r8 = r2, {c}", a, pshr(8 * w, c, False)(a))
            p.check1(f"pshr{w}.u r8 = r2, {c}", a, pshr(8 * w, c, True)(a))
        for c in counts_gr:
            for a in data[:2]:
                # pshl r1 = r2 (data), r3 (count); pshr r1 = r3 (data), r2 (count)
                p.check2(f"pshl{w} r8 = r2, r3", a, c, pshl(8 * w, min(c, 64))(a))
                p.check2(f"pshr{w} r8 = r3, r2", c, a, pshr(8 * w, min(c, 64), False)(a))
                p.check2(f"pshr{w}.u r8 = r3, r2", c, a, pshr(8 * w, min(c, 64), True)(a))
    p.write()


if __name__ == "__main__":
    rnd = random.Random(20240611)
    gen_a9(rnd)
    gen_i2(rnd)
    gen_shift(rnd)
