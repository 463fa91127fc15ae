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


_ASC_ODD = ["0x1F", "\u00c4", "-1", "100", "1FFFFFFFF", "rx", "Rx", "\x1c", "R", "x", "+5", "1\r2",
            "1_0", "9" * 14 + ".5", "CanFd", "ErrorFrameX", "12.5"]


@st.composite
def asc_text(draw, max_lines: int = 12):
    """The text of an ASC log: python-can's header lines, frame lines of every kind (classic,
    remote, error, CANFD with and without a frame name), lines python-can skips, and lines
    with a token replaced by something outside the usual grammar."""
    def hx(v):
        return f"{v:X}"

    head = draw(st.lists(st.sampled_from([
        "date Sam Sep 30 15:06:13.191 2017", "base hex  timestamps absolute", "base dec",
        "base HEX", "internal events logged", "// version 9.0.0", "no internal events logged"]),
        max_size=3))
    body = []
    for _ in range(draw(st.integers(0, max_lines))):
        ts = f"{draw(st.integers(0, 9999))}.{draw(st.integers(0, 999999)):06d}"
        ch = draw(st.integers(0, 3))
        ext = draw(st.booleans())
        cid = hx(draw(st.integers(0, 0x1FFFFFFF if ext else 0x7FF))) + ("x" if ext else "")
        d = draw(st.sampled_from(["Rx", "Tx"]))
        kind = draw(st.sampled_from(["data", "data", "remote", "error", "fd", "noise"]))
        n = draw(st.integers(0, 8))
        data = " ".join(f"{v:02X}" for v in draw(st.binary(min_size=n, max_size=n)))
        if kind == "data":
            code = draw(st.sampled_from([n, n, 9, 15, 0x40]))
            toks = [ts, str(ch), cid, d, "d", hx(code), data, "Length = 0 BitCount = 64"]
        elif kind == "remote":
            toks = [ts, str(ch), cid, d, "r"] + ([hx(n)] if draw(st.booleans()) else [])
        elif kind == "error":
            toks = [ts, str(ch), "ErrorFrame"] + (["ECC:", "10100010"]
                                                  if draw(st.booleans()) else [])
        elif kind == "fd":
            length = draw(st.sampled_from([0, 1, 8, 12, 16, 64]))
            fdata = " ".join(f"{v:02X}" for v in draw(st.binary(min_size=length,
                                                               max_size=length)))
            code = {0: 0, 1: 1, 8: 8, 12: 9, 16: 10, 64: 15}[length]
            name = ["Msg"] if draw(st.booleans()) else []
            toks = [ts, "CANFD", str(ch + 1), d, cid] + name + ["1", "0", hx(code),
                                                                str(length), fdata,
                                                                "0 0 0 0 0 0 0 0 0"]
        else:
            toks = draw(st.sampled_from([
                [ts, str(ch), "Statistic:", "D", "0", "R", "0"], ["Begin", "Triggerblock",
                                                                 "Sam", "Sep", "30", "2017"],
                [ts, "Start", "of", "measurement"], ["//", "comment", "\u00e4"], [ts, "CANFD"],
                ["End", "TriggerBlock"]]))
        toks = " ".join(toks).split(" ")
        if draw(st.integers(0, 5)) == 0 and toks:
            toks[draw(st.integers(0, len(toks) - 1))] = draw(st.sampled_from(_ASC_ODD))
        if draw(st.integers(0, 8)) == 0 and len(toks) > 1:
            toks = toks[:draw(st.integers(1, len(toks) - 1))]
        body.append(draw(st.sampled_from(["", "   "])) + " ".join(toks))
    eol = draw(st.sampled_from(["\n", "\r\n", "\n", "\r\n", "\r"]))
    return eol.join(head + body) + eol


@st.composite
def trc_text(draw, max_lines: int = 12):
    """The text of a PEAK TRC log, versions 1.0 to 2.1 (2.x with the columns in any order
    and with ``L`` or ``l``), with data, remote and CAN FD records, records python-can skips
    (status, errors, ``FFFFFFFF``), comments, and a token replaced by something odd."""
    version = draw(st.sampled_from(["1.0", "1.1", "1.3", "2.0", "2.1", "1.2", None]))
    head = [f";$FILEVERSION={version}"] if version else []
    if draw(st.booleans()):
        head.append(f";$STARTTIME={draw(st.sampled_from(['44548.6028595139', '46027.3125', 'x']))}")
    cols = ["N", "O", "T", "B", "I", "d", "R", "L", "D"]
    if version and version.startswith("2"):
        if draw(st.booleans()):
            cols[7] = "l"
        if draw(st.booleans()):
            cols.remove("B")
        if draw(st.integers(0, 4)) == 0:
            cols = draw(st.permutations(cols))
        head.append(";$COLUMNS=" + ",".join(cols))
    head += draw(st.lists(st.sampled_from([";", ";   Message Number", ";---+--"]), max_size=2))
    body = []
    for j in range(draw(st.integers(0, max_lines))):
        ms = f"{draw(st.integers(0, 99999))}.{draw(st.integers(0, 999)):0{draw(st.sampled_from([1, 3]))}d}"
        ext = draw(st.booleans())
        cid = f"{draw(st.integers(0, 0x1FFFFFFF if ext else 0x7FF)):0{8 if ext else 4}X}"
        d = draw(st.sampled_from(["Rx", "Tx"]))
        n = draw(st.integers(0, 8))
        payload = [f"{v:02X}" for v in draw(st.binary(min_size=n, max_size=n))]
        rtr = draw(st.integers(0, 5)) == 0
        if version in ("1.1",):
            toks = [f"{j})", ms, draw(st.sampled_from([d, d, "Warng"])), cid, str(n)]
        elif version == "1.3":
            toks = [f"{j})", ms, str(draw(st.integers(1, 2))), draw(st.sampled_from([d, d, "Error"])),
                    cid, "-", str(n)]
        elif version and version.startswith("2"):
            kind = draw(st.sampled_from(["DT", "DT", "FD", "FB", "RR", "ST", "ER"]))
            if kind in ("FD", "FB"):
                m = draw(st.sampled_from([0, 12, 16, 64]))
                payload = [f"{v:02X}" for v in draw(st.binary(min_size=m, max_size=m))]
            length = len(payload)
            code = length if length <= 8 else {12: 9, 16: 10, 64: 15}[length]
            values = {"N": str(j), "O": ms, "T": kind, "B": str(draw(st.integers(1, 2))),
                      "I": cid, "d": d, "R": "-", "L": str(code), "l": str(length),
                      "D": " ".join(payload)}
            toks = [values[c] for c in cols]
            toks = " ".join(toks).split(" ")
            payload = []
        else:
            toks = [f"{j})", ms, draw(st.sampled_from([cid, cid, "FFFFFFFF"])), str(n)]
        toks += ["RTR"] if rtr and payload else payload
        toks = [t for t in toks if t]
        if draw(st.integers(0, 5)) == 0 and toks:
            toks[draw(st.integers(0, len(toks) - 1))] = draw(st.sampled_from(
                ["1e3", "+5", "0x1F", "\u00c4", "100", "FFFFFFFF", "Rx", "-", "1.5.5", "RTR"]))
        if draw(st.integers(0, 8)) == 0 and len(toks) > 1:
            toks = toks[:draw(st.integers(1, len(toks) - 1))]
        body.append(draw(st.sampled_from(["", "    "])) + " ".join(toks))
        if draw(st.integers(0, 6)) == 0:
            body.append(draw(st.sampled_from([";comment", "", "  ;x"])))
    eol = draw(st.sampled_from(["\n", "\r\n", "\n", "\r\n", "\r"]))
    return eol.join(head + body) + eol
