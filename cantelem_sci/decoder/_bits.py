"""Bit fields to physical values: the primitives and the column kernel every path shares.

A signal is read from a 64-bit word holding it (a classic payload, or an 8-byte window of
a 64-byte one) by two shifts, after a byte swap for big-endian signals; its raw integer is
then converted as cantools converts it (integer arithmetic for integer conversions, IEEE
reinterpretation for float signals). Small module-level numba functions, ``cache=True``;
their references are cantools (``tests/decoder``) and the Python-int extraction of
``tests/decoder/reference.py``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ._tables import CONV_IDENTITY, CONV_INTEGER, KIND_F32, KIND_INT, NAN

_M8 = np.uint64(0x00FF00FF00FF00FF)
_M16 = np.uint64(0x0000FFFF0000FFFF)


@intrinsic
def _bits_as_f64(typingctx, x):
    """The float64 whose IEEE bits are the uint64 ``x`` (a register move, no memory)."""
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


_TWO52_BITS = np.uint64(0x4330000000000000)  # the bits of 2.0**52
_BIAS = np.int64(1 << 51)
_TWO52_PLUS_BIAS = 6755399441055744.0  # 2.0**52 + 2.0**51


@njit(cache=True, nogil=True, inline="always")
def _small_int_to_f64(iv):
    """``float64(iv)`` for ``-2**51 <= iv < 2**51``, exactly, in a way that vectorises: the
    biased value becomes the mantissa of 2**52, and subtracting the bias and 2**52 is exact.
    x86 before AVX-512 has no vector int64 -> float64 conversion, so LLVM keeps
    ``np.float64(iv)`` scalar; this is about twice as fast there."""
    return _bits_as_f64(np.uint64(iv + _BIAS) | _TWO52_BITS) - _TWO52_PLUS_BIAS


@njit(cache=True, nogil=True, inline="always")
def bswap(x):
    """The 64-bit word ``x`` with its bytes reversed."""
    x = ((x & _M8) << np.uint64(8)) | ((x >> np.uint64(8)) & _M8)
    x = ((x & _M16) << np.uint64(16)) | ((x >> np.uint64(16)) & _M16)
    return (x << np.uint64(32)) | (x >> np.uint64(32))


def small_integer(length: int, signed: bool, conv: int, scale_i: int, offset_i: int) -> bool:
    """Whether an integer signal's value (after an integer conversion) always lies in
    ``[-2**51, 2**51)``, the range :func:`_small_int_to_f64` converts exactly.

    Example
    -------
    >>> small_integer(16, False, CONV_INTEGER, 10, -40), small_integer(64, True, 0, 1, 0)
    (True, False)
    """
    top = 1 << (length - 1 if signed else length)  # |raw| <= top
    if conv == CONV_INTEGER:
        return top * abs(scale_i) + abs(offset_i) < 1 << 51
    return top <= 1 << 51


@njit(cache=True, nogil=True)
def bit_buffers():
    """One-element buffers that reinterpret raw bits as float32 / float64:
    ``(u32, f32, u64, f64)``."""
    u32 = np.zeros(1, np.uint32)
    u64 = np.zeros(1, np.uint64)
    return u32, u32.view(np.float32), u64, u64.view(np.float64)


@njit(cache=True, nogil=True, inline="always")
def fit8(sigs, s, mlen):
    """Where signal ``s`` lies in a classic payload word of a message of ``mlen`` bytes:
    ``(lsh, rsh, nb)``, the shifts of :func:`field` and the bytes a frame must carry for
    the signal to be present (9: never, the message is shorter than the signal)."""
    pos, ln = sigs.pos[s], sigs.length[s]
    sh = 64 - pos - ln if sigs.be[s] else pos
    nb = (pos + ln + 7) >> 3
    return np.uint64(64 - sh - ln), np.uint64(64 - ln), nb if nb <= mlen and nb <= 8 else 9


@njit(cache=True, nogil=True, inline="always")
def field(r, isbe, lsh, rsh):
    """The raw (unsigned) field of a 64-bit word; :func:`convert` signs it."""
    if isbe:
        r = bswap(r)
    return (r << lsh) >> rsh


@njit(cache=True, nogil=True, inline="always")
def conversion(sigs, s):
    """Signal ``s``'s conversion as one tuple of scalars for :func:`convert`."""
    return (sigs.length[s], sigs.signed[s], sigs.kind[s], sigs.conv[s], sigs.scale[s],
            sigs.offset[s], sigs.scale_i[s], sigs.offset_i[s])


@njit(cache=True, nogil=True, inline="always")
def convert(raw, c, bits):
    """The physical value of a raw field under conversion ``c`` (:func:`conversion`), as
    cantools computes it with ``scaling=True``; ``bits``: :func:`bit_buffers`."""
    ln, sgn, kd, cv, sc, of, sci, ofi = c
    if kd == KIND_INT:
        if sgn:
            if ln < 64 and (raw >> np.uint64(ln - 1)) & np.uint64(1):
                raw |= ~((np.uint64(1) << np.uint64(ln)) - np.uint64(1))
            iv = np.int64(raw)
            if cv == CONV_IDENTITY:
                return np.float64(iv)
            if cv == CONV_INTEGER:
                return np.float64(iv * sci + ofi)
            return np.float64(iv) * sc + of
        if cv == CONV_IDENTITY:
            return np.float64(raw)
        if cv == CONV_INTEGER:
            return np.float64(np.int64(raw) * sci + ofi)
        return np.float64(raw) * sc + of
    u32, f32, u64, f64 = bits
    if kd == KIND_F32:
        u32[0] = np.uint32(raw)
        x = np.float64(f32[0])
    else:
        u64[0] = raw
        x = f64[0]
    return x if cv == CONV_IDENTITY else x * sc + of


@njit(cache=True, nogil=True, inline="always")
def value8(word, dl, sigs, s, mlen, bits):
    """Signal ``s`` of one classic payload word with ``dl`` bytes (NaN when too short)."""
    lsh, rsh, nb = fit8(sigs, s, mlen)
    if dl < nb:
        return NAN
    return convert(field(word, sigs.be[s], lsh, rsh), conversion(sigs, s), bits)


@njit(cache=True, nogil=True)
def _int_column(words, dlc, fit, sigs, s, out):
    """Integer signal ``s`` over the ``words`` (``dlc`` bytes each) into ``out``; returns
    the out-of-range count.

    The branches are loop-invariant, so LLVM unswitches and vectorises the loop. It runs on
    slices: indexing with an offset makes numba check for negative indices and the loop
    stays scalar, about ten times slower. An identity conversion is ``x * 1.0 + 0.0``: the
    same float64 (never -0.0). A ``small`` signal converts to float64 through
    :func:`_small_int_to_f64`."""
    lsh, rsh, nb = fit
    isbe, sgn, small = sigs.be[s], sigs.signed[s], sigs.small[s]
    cv, sci, ofi = sigs.conv[s], sigs.scale_i[s], sigs.offset_i[s]
    sc, of = (1.0, 0.0) if cv == CONV_IDENTITY else (sigs.scale[s], sigs.offset[s])
    lo, hi = sigs.lo[s], sigs.hi[s]
    integer = cv == CONV_INTEGER
    bad = 0
    for i in range(out.shape[0]):
        r = words[i]
        if isbe:
            r = bswap(r)
        if small:
            iv = np.int64(r << lsh) >> rsh if sgn else np.int64((r << lsh) >> rsh)
            if integer:
                x = _small_int_to_f64(iv * sci + ofi)
            else:
                x = _small_int_to_f64(iv) * sc + of
        elif sgn:
            iv = np.int64(r << lsh) >> rsh
            x = np.float64(iv * sci + ofi) if integer else np.float64(iv) * sc + of
        else:
            u = (r << lsh) >> rsh
            x = np.float64(np.int64(u) * sci + ofi) if integer else np.float64(u) * sc + of
        v = x if dlc[i] >= nb else NAN
        out[i] = v
        bad += np.int64(v < lo) + np.int64(v > hi)
    return bad


@njit(cache=True, nogil=True)
def _any_column(words, dlc, fit, sigs, s, out, bits):
    """Signal ``s`` of any kind (IEEE floats too), value by value through :func:`convert`;
    returns the out-of-range count."""
    lsh, rsh, nb = fit
    isbe = sigs.be[s]
    c = conversion(sigs, s)
    lo, hi = sigs.lo[s], sigs.hi[s]
    bad = 0
    for i in range(out.shape[0]):
        v = convert(field(words[i], isbe, lsh, rsh), c, bits) if dlc[i] >= nb else NAN
        out[i] = v
        bad += (v < lo) | (v > hi)
    return bad


@njit(cache=True, nogil=True)
def column(words, dlc, fit, sigs, s, out, bits):
    """Signal ``s`` over a column of 64-bit words holding it (``dlc``: each row's payload
    bytes; ``fit``: ``(lsh, rsh, nb)`` as :func:`fit8` gives them) into ``out``, as long as
    the column; returns the values outside the DBC range (NaN bounds: never)."""
    if sigs.kind[s] == KIND_INT:
        return _int_column(words, dlc, fit, sigs, s, out)
    return _any_column(words, dlc, fit, sigs, s, out, bits)
