"""Hypothesis strategies shared by the tests of every stage."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


@st.composite
def frame_arrays(draw, max_frames: int = 200, fd: bool | None = None):
    """Arbitrary but valid raw-frame arrays: dict of keyword arguments for ``frames``."""
    n = draw(st.integers(0, max_frames))
    is_fd = draw(st.booleans()) if fd is None else fd
    width = 64 if is_fd else 8
    ext = draw(hnp.arrays(np.bool_, n))
    ids = draw(hnp.arrays(np.uint32, n, elements=st.integers(0, 0x1FFFFFFF)))
    ids = np.where(ext, ids, ids & 0x7FF).astype(np.uint32)
    data = draw(hnp.arrays(np.uint8, (n, width)))
    dlc = draw(hnp.arrays(np.uint8, n, elements=st.integers(0, width)))
    time = np.sort(draw(hnp.arrays(np.int64, n, elements=st.integers(0, 2**62))))
    ch = draw(hnp.arrays(np.uint8, n, elements=st.integers(0, 3)))
    return dict(time=time, arbitration_id=ids, data=data, dlc=dlc, is_extended=ext,
                channel=ch, is_fd=np.full(n, is_fd), channel_names=["a", "b", "c", "d"])


hex_id = st.one_of(st.integers(0, 0x7FF).map(lambda v: f"{v:03X}"),
                   st.integers(0, 0x1FFFFFFF).map(lambda v: f"{v:08X}"))


@st.composite
def candump_lines(draw):
    """A candump -L line as python-can writes it, and its fields."""
    sec = draw(st.integers(0, 2_000_000_000))
    usec = draw(st.integers(0, 999_999))
    ch = draw(st.sampled_from(["can0", "can1", "vcan0", "any"]))
    cid = draw(hex_id)
    kind = draw(st.sampled_from(["data", "remote", "fd"]))
    data = draw(st.binary(min_size=0, max_size=64 if kind == "fd" else 8))
    if kind == "remote":
        body = f"R{draw(st.integers(0, 8))}" if draw(st.booleans()) else "R"
    elif kind == "fd":
        body = f"#{draw(st.integers(0, 3))}{data.hex().upper()}"
    else:
        body = data.hex().upper()
    suffix = draw(st.sampled_from(["", " R", " T"]))
    return f"({sec}.{usec:06d}) {ch} {cid}#{body}{suffix}"


@st.composite
def gappy_series(draw, max_len: int = 300):
    """(x int64 increasing with duplicates and long steps, y float64 with NaN runs)."""
    n = draw(st.integers(0, max_len))
    steps = draw(hnp.arrays(np.int64, n, elements=st.sampled_from([0, 1, 1, 2, 3, 50, 1000])))
    x = np.cumsum(steps).astype(np.int64) + draw(st.sampled_from([0, 1_700_000_000 * 10**9]))
    y = draw(hnp.arrays(np.float64, n, elements=st.one_of(
        st.floats(-1e3, 1e3), st.just(np.nan), st.sampled_from([0.0, 1.0, 2.0]))))
    return x, y


@st.composite
def alert_series(draw, max_len: int = 120):
    """Time-ordered samples (int64 ns, float64 with some NaN) around a threshold of 50, a
    vehicle clock (ticks between and at the samples) and the cut times of a split into
    batches."""
    n = draw(st.integers(0, max_len))
    steps = draw(st.lists(st.integers(0, 3_000_000_000), min_size=n, max_size=n))
    t = np.cumsum(np.array(steps, np.int64)) + 10**18
    values = draw(st.lists(st.one_of(st.floats(30, 70, allow_nan=False),
                                     st.sampled_from([50.0, 55.0, 60.0, float("nan")])),
                           min_size=n, max_size=n))
    v = np.array(values, np.float64)
    span = int(t[-1] - t[0]) + 1 if n else 1
    ticks = draw(st.lists(st.integers(0, span + 5_000_000_000), max_size=60))
    clock = np.unique(np.concatenate([np.array(ticks, np.int64) + (int(t[0]) if n else 10**18),
                                      t[:: max(1, n // 5 or 1)]]))
    cuts = sorted(draw(st.lists(st.integers(0, span + 5_000_000_000), max_size=6)))
    return t, v, clock, [c + (int(t[0]) if n else 10**18) for c in cuts]


@st.composite
def isotp_payloads(draw, max_messages: int = 6):
    """ISO-TP messages: single-frame sizes and multi-frame ones (up to 300 bytes)."""
    sizes = st.one_of(st.integers(1, 7), st.integers(8, 300))
    return [draw(st.binary(min_size=n, max_size=n))
            for n in draw(st.lists(sizes, min_size=1, max_size=max_messages))]


@st.composite
def operand_series(draw, max_len: int = 60):
    """Two to four series on their own sorted time axes (ns, with gaps and NaN), for
    calculated signals: ``{name: (times, values)}``."""
    n_ops = draw(st.integers(2, 4))
    out = {}
    for k in range(n_ops):
        n = draw(st.integers(1, max_len))
        steps = draw(st.lists(st.sampled_from([1, 2, 5, 10, 10, 10, 500]), min_size=n,
                              max_size=n))
        t = np.cumsum(np.array(steps, np.int64)) * 1_000_000 + draw(st.integers(0, 50)) * 1_000_000
        v = np.array(draw(st.lists(st.one_of(
            st.floats(-1e3, 1e3, allow_nan=False), st.just(float("nan"))),
            min_size=n, max_size=n)), np.float64)
        out[f"S{k}"] = (t, v)
    return out


@st.composite
def can_messages(draw, max_size: int = 30, fd: bool = True):
    """python-can messages of every kind a binary log holds: classic, remote, error and CAN FD
    frames, standard and extended ids, two channels, received and sent, with times that may
    repeat (as a logger's clock does)."""
    import can

    n = draw(st.integers(0, max_size))
    t = 1_600_000_000.0 + np.cumsum(draw(hnp.arrays(
        np.float64, n, elements=st.sampled_from([0.0, 1e-5, 0.001, 0.25]))))
    kinds = ["data", "remote", "error"] + (["fd"] if fd else [])
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(kinds))
        ext = draw(st.booleans())
        aid = draw(st.integers(0, 0x1FFFFFFF if ext else 0x7FF))
        if kind == "fd":
            size = draw(st.sampled_from([0, 1, 8, 12, 16, 20, 24, 32, 48, 64]))
        else:
            size = draw(st.integers(0, 8))
        data = draw(st.binary(min_size=size, max_size=size))
        out.append(can.Message(
            timestamp=float(t[i]), arbitration_id=aid, is_extended_id=ext,
            is_remote_frame=kind == "remote", is_error_frame=kind == "error",
            is_fd=kind == "fd", bitrate_switch=kind == "fd" and draw(st.booleans()),
            is_rx=draw(st.booleans()), channel=draw(st.sampled_from([0, 1])),
            dlc=size, data=None if kind == "remote" else data, check=False))
    return out
