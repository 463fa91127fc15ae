"""read_log against python-can's LogReader on every corpus log, plus corrupt input."""

from __future__ import annotations

import gzip
import os

import can
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.errors import LogDamageWarning, LogFormatError, UnknownNameError
from cantelem_sci.sources import available_readers, register_reader
from cantelem_sci.sources._candump import parse_candump_bytes
from tests.conftest import corpus_files
from tests.strategies import candump_lines

LOGS = [p for p in corpus_files("python-can-logs", "*.*") if p.suffix != ".txt"] + \
    corpus_files("real-capture", "*/*.MF4") + corpus_files("real-capture", "*/*_candump.log*")


def _assert_equal_to_pycan(ds, messages, label, damaged=False):
    """Frame by frame against python-can (the fields compared as whole columns; a mismatch
    names the first frame that differs and the field)."""
    n = ds.sizes["frame"]
    assert n == len(messages), f"{label}: {n} frames, python-can {len(messages)}"
    if n == 0:
        return
    names = ds.attrs["channel_names"]
    got = {k: ds[k].values for k in ("is_error", "arbitration_id", "is_extended", "dlc",
                                     "is_remote", "is_fd", "is_rx", "channel", "data")}
    t = ds["time"].values.astype("datetime64[ns]").astype(np.int64)
    ts = np.array([m.timestamp for m in messages], np.float64)
    bad = np.flatnonzero(~(np.abs(t / 1e9 - ts) < 1e-6))
    assert not bad.size, f"{label} frame {bad[0]}: time {t[bad[0]]} ns, python-can {ts[bad[0]]}"
    err = np.array([m.is_error_frame for m in messages], bool)
    want = {
        "is_error": err,
        "arbitration_id": np.array([m.arbitration_id for m in messages], np.int64),
        "is_extended": np.array([m.is_extended_id for m in messages], bool),
        # a classic DLC code 9-15 means 8 bytes (python-can gives the code or its FD length);
        # a damaged log read leniently keeps python-can's dlc
        "dlc": np.array([8 if (not damaged and not m.is_fd and m.dlc > 8 and len(m.data) == 8)
                         else m.dlc
                         for m in messages], np.int64),
        "is_remote": np.array([m.is_remote_frame for m in messages], bool),
        "is_fd": np.array([m.is_fd for m in messages], bool),
        "is_rx": np.array([m.is_rx for m in messages], bool),
        "channel": np.array(["unknown" if m.channel is None else str(m.channel)
                             for m in messages], object),
    }
    got_channel = np.asarray(names, object)[got["channel"].astype(np.intp)]
    for k, w in want.items():
        g = got_channel if k == "channel" else got[k].astype(w.dtype)
        diff = g != w
        if k != "is_error":  # python-can keeps neither id nor channel of error frames
            diff &= ~err
        bad = np.flatnonzero(diff)
        assert not bad.size, f"{label} frame {bad[0]}: {k} {g[bad[0]]!r}, python-can {w[bad[0]]!r}"
    data = got["data"]
    for i, m in enumerate(messages):
        d = bytes(m.data or b"")
        if data[i, :len(d)].tobytes() != d:
            raise AssertionError(f"{label} frame {i}: data {data[i, :len(d)].tobytes().hex()}, "
                                 f"python-can {d.hex()}")


# python-can's own test logs with frames a strict reader refuses: what each error must say
_WIDE = r"{}: frame 0: id {} is wider than 11 bits; expected at most 0x7ff for a standard id"
DAMAGED = {
    "single_frame.asc": r"single_frame.asc:6: frame 0: classic CAN frame \(id 0x123\) with dlc 64 "
                        r"and 8 data bytes; expected dlc 0-8, or a DLC code 9-15 with 8 bytes",
    "test_CanFdMessage.blf": _WIDE.format("test_CanFdMessage.blf", "0x4444444"),
    "test_CanFdMessage64.blf": _WIDE.format("test_CanFdMessage64.blf", "0x15555555"),
    "test_CanMessage.blf": _WIDE.format("test_CanMessage.blf", "0x4444444"),
    "test_CanMessage2.blf": _WIDE.format("test_CanMessage2.blf", "0x4444444"),
}


@pytest.mark.corpus
@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_equal_to_python_can(path):
    """Every corpus log reads as python-can reads it; the damaged ones only when lenient
    (with one warning), and strictly they are refused at the frame."""
    if path.name in DAMAGED:
        with pytest.raises(LogFormatError, match=DAMAGED[path.name]):
            ct.read_log(path)
        with pytest.warns(LogDamageWarning, match=r"2 damaged frame|1 damaged frame"):
            ds = ct.read_log(path, strict=False)
    else:
        ds = ct.read_log(path)
    _assert_equal_to_pycan(ds, list(can.LogReader(str(path))), path.name,
                           damaged=path.name in DAMAGED)
    assert ds.attrs["schema_version"] == 1


@pytest.mark.corpus
def test_corpus_has_every_format(corpus):
    suffixes = {"".join(p.suffixes[-2:]).lower() if p.suffix == ".gz" else p.suffix.lower()
                for p in LOGS}
    assert {".asc", ".blf", ".trc", ".mf4", ".log", ".asc.gz", ".log.gz"} <= suffixes


def test_csv_and_gzip_roundtrip(tmp_path, sample_batch):
    msgs = [can.Message(timestamp=1.5 + i, arbitration_id=0x100 + i, data=bytes([i] * 8),
                        is_extended_id=False) for i in range(5)]
    for name in ("x.csv", "x.log", "x.asc", "x.log.gz"):
        p = tmp_path / name
        with can.Logger(str(p)) as lg:
            for m in msgs:
                lg.on_message_received(m)
        ds = ct.read_log(p)
        _assert_equal_to_pycan(ds, list(can.LogReader(str(p))), name)


@given(st.lists(candump_lines(), min_size=1, max_size=40))
def test_candump_fast_path_equals_python_can(tmp_path_factory, lines):
    p = tmp_path_factory.mktemp("cd") / "r.log"
    p.write_text("\n".join(lines) + "\n")
    ds = ct.read_log(p)
    _assert_equal_to_pycan(ds, list(can.LogReader(str(p))), "generated")


def test_candump_timestamps_exact_to_the_nanosecond():
    b = parse_candump_bytes(b"(1673458929.103950123) can0 011#01\n(7.5) can0 012#\n")
    assert b.time.tolist() == [1673458929103950123, 7500000000]


@pytest.mark.parametrize("text,line,what", [
    (b"(1.0) can0 123#00\n1.0) can0 123#00\n", 2, r"expected '\('"),
    (b"(1.0) can0 123#00\n(1.0 can0 123#00\n", 2, r"expected '\)'"),
    (b"(1.0) can0 12G#00\n", 1, "hex id"),
    (b"(1.0) can0 123#0\n", 1, "even number"),
    (b"(1.0) can0 123#" + b"00" * 9 + b"\n", 1, "at most 8 bytes"),
    (b"(1.0) can0 123##1" + b"00" * 65 + b"\n", 1, "at most 64"),
    (b"(1.0) can0 123#00 X Y\n", 1, "expected the line to end"),
    (b"(1.0) can0 123456789#00\n", 1, "29 bits"),
    (b"(1.0)\n", 1, "channel"),
])
def test_corrupt_candump_names_file_line_and_expectation(tmp_path, text, line, what):
    p = tmp_path / "bad.log"
    p.write_bytes(text)
    with pytest.raises(LogFormatError, match=rf"bad.log:{line}:\d+: .*({what})"):
        ct.read_log(p)


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["test_CanMessage.blf", "test_CanFdMessage64.blf"])
def test_truncated_binary_logs_fail_clearly_or_keep_whole_frames(tmp_path, corpus, name):
    src = corpus / "python-can-logs" / name
    blob = src.read_bytes()
    for cut in (len(blob) // 3, len(blob) - 7):
        p = tmp_path / f"cut{cut}.blf"
        p.write_bytes(blob[:cut])
        try:
            ds = ct.read_log(p)
        except LogFormatError as err:
            assert str(p) in str(err)
        else:
            assert ds.sizes["frame"] <= len(list(can.LogReader(str(src))))


def test_truncated_gzip(tmp_path):
    p = tmp_path / "t.log.gz"
    with gzip.open(p, "wb") as fh:
        for i in range(2000):
            fh.write(f"({i}.{i * 7919 % 999983:06d}) can0 "
                     f"{i % 2048:03X}#{i * 2654435761 % 2**32:08X}\n".encode())
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(LogFormatError, match=r"t.log.gz:\d+: damaged gzip data after \d+ decompressed bytes"):
        ct.read_log(p)


@given(st.binary(max_size=300))
def test_random_bytes_as_logs_never_crash(tmp_path_factory, blob):
    d = tmp_path_factory.mktemp("rnd")
    for suffix in (".log", ".asc", ".trc", ".blf", ".csv"):
        p = d / f"r{suffix}"
        p.write_bytes(blob)
        try:
            ds = ct.read_log(p)
        except LogFormatError as err:
            assert str(p) in str(err)
        else:
            assert ds.attrs["schema_version"] == 1


def test_unknown_suffix_lists_valid_ones(tmp_path):
    p = tmp_path / "x.weird"
    p.write_text("")
    with pytest.raises(UnknownNameError, match=r"\.asc.*\.blf"):
        ct.read_log(p)
    with pytest.raises(LogFormatError, match="no such file"):
        ct.read_log(tmp_path / "missing.log")


def test_registry_plugins(tmp_path):
    register_reader("mycandump", "cantelem_sci.sources._candump:read_candump", (".mycd",))
    assert "mycandump" in available_readers() and "candump" in available_readers()
    p = tmp_path / "a.mycd"
    p.write_text("(1.0) can0 123#AA\n")
    assert int(ct.read_log(p)["data"][0, 0]) == 0xAA
    register_reader("broken", "no_such_module:reader", (".brk",))
    p2 = tmp_path / "b.brk"
    p2.write_text("")
    with pytest.raises(LogFormatError, match="cannot be imported"):
        ct.read_log(p2)
    with pytest.raises(UnknownNameError, match="candump"):
        ct.read_log(p, format="nope")
    os.remove(p)
