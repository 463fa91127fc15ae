"""Every reader refuses damage with the file and the line (text) or the frame (binary): one
table of damaged logs, each written by python-can and then damaged at frame 1."""

from __future__ import annotations

import gzip
import re

import can
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cantelem_sci as ct
from cantelem_sci.errors import LogDamageWarning, LogFormatError


def _messages(ids=(0x100, 0x101, 0x102), ext=False):
    return [can.Message(timestamp=1 + i * 0.01, arbitration_id=a, data=bytes(range(i, i + 8)),
                        is_extended_id=ext, channel=0) for i, a in enumerate(ids)]


def _write(path, msgs):
    writer = can.Logger(str(path))
    for m in msgs:
        writer.on_message_received(m)
    writer.stop()


HEX8 = "01 02 03 04 05 06 07 08"
# name: (suffix, marker of frame 1's line, old text, new text, expected error after "file:line: ")
TEXT_ROWS = {
    "asc short payload": (".asc", " 101 ", f"d 8 {HEX8}", "d 8 01 02 03",
                          r"frame 1: id 0x101 has 3 data bytes for dlc 8; expected 8"),
    "asc classic dlc 64": (".asc", " 101 ", f"d 8 {HEX8}",
                           "d 40 " + " ".join(f"{b:02X}" for b in range(64)),
                           r"frame 1: classic CAN frame \(id 0x101\) with dlc 64 and 8 data "
                           r"bytes; expected dlc 0-8, or a DLC code 9-15 with 8 bytes"),
    "asc id over 29 bits": (".asc", " 101 ", " 101 ", " 3FFFFFFFx ",
                            r"frame 1: id 0x3fffffff is wider than 29 bits; expected at most "
                            r"0x1fffffff for an extended id"),
    "asc standard id over 11 bits": (".asc", " 101 ", " 101 ", " 1234 ",
                                     r"frame 1: id 0x1234 is wider than 11 bits"),
    "trc short payload": (".trc", " 0101 ", f"8    {HEX8}", "8    01 02",
                          r"frame 1: id 0x101 has 2 data bytes for dlc 8; expected 8"),
    "trc classic dlc 12": (".trc", " 0101 ", f"8    {HEX8}",
                           "12   " + " ".join(f"{b:02X}" for b in range(12)),
                           r"frame 1: classic CAN frame \(id 0x101\) with dlc 12 and 12 data "
                           r"bytes"),
    "trc id over 29 bits": (".trc", " 0101 ", " 0101 ", " 40000000 ",
                            r"frame 1: id 0x40000000 is wider than 29 bits"),
    "csv short payload": (".csv", "0x101", "8,AQIDBAUGBwg=", "8,AQI=",
                          r"frame 1: id 0x101 has 2 data bytes for dlc 8; expected 8"),
    "csv classic dlc 40": (".csv", "0x101", "8,AQIDBAUGBwg=", "40,AQIDBAUGBwg=",
                           r"frame 1: classic CAN frame \(id 0x101\) with dlc 40"),
    "csv id over 29 bits": (".csv", "0x101", "0x101,0,", "0x20000000,1,",
                            r"frame 1: id 0x20000000 is wider than 29 bits"),
    "csv not a number": (".csv", "0x101", "0x101", "0xZZZ",
                         r"corrupt or truncated log after frame 1 .*ValueError"),
}


def _damage_text(tmp_path, row, gz=False):
    suffix, marker, old, new, _ = row
    p = tmp_path / f"x{suffix}"
    _write(p, _messages())
    lines = p.read_text().split("\n")
    line = next(i for i, ln in enumerate(lines) if marker in ln)
    assert old in lines[line], (lines[line], old)
    lines[line] = lines[line].replace(old, new)
    p.write_text("\n".join(lines))
    if gz:
        gp = tmp_path / f"x{suffix}.gz"
        gp.write_bytes(gzip.compress(p.read_bytes(), mtime=0))
        p = gp
    return p, line + 1


@pytest.mark.parametrize("name", list(TEXT_ROWS))
def test_a_damaged_text_log_is_refused_at_its_line(tmp_path, name):
    p, line = _damage_text(tmp_path, TEXT_ROWS[name])
    with pytest.raises(LogFormatError, match=rf"^{re.escape(str(p))}:{line}: "
                       rf"{TEXT_ROWS[name][4]}"):
        ct.read_log(p)


def test_the_line_is_the_same_inside_gzip(tmp_path):
    p, line = _damage_text(tmp_path, TEXT_ROWS["asc short payload"], gz=True)
    with pytest.raises(LogFormatError, match=rf"x\.asc\.gz:{line}: frame 1: id 0x101 has 3"):
        ct.read_log(p)


def test_lenient_keeps_the_damaged_frame_zero_padded_and_warns_once(tmp_path):
    p, line = _damage_text(tmp_path, TEXT_ROWS["asc short payload"])
    with pytest.warns(LogDamageWarning, match=rf"1 damaged frame\(s\) kept .*x\.asc:{line}: "
                      "frame 1"):
        ds = ct.read_log(p, strict=False)
    assert ds["data"].values[1].tolist() == [1, 2, 3, 0, 0, 0, 0, 0]
    assert ds["dlc"].values.tolist() == [8, 8, 8]


def test_a_classic_dlc_code_above_8_is_8_bytes(tmp_path):
    """ISO 11898-1: DLC codes 9-15 on a classic frame mean 8 data bytes: not damage."""
    p, _ = _damage_text(tmp_path, (".asc", " 101 ", f"d 8 {HEX8}", f"d D {HEX8}", ""))
    ds = ct.read_log(p)
    assert ds["dlc"].values.tolist() == [8, 8, 8]
    assert ds["data"].values[1].tolist() == list(range(1, 9))
    assert ds["data"].shape == (3, 8)  # rows stay 8 bytes wide


def _gzip_damaged(tmp_path, suffix, n=3000):
    p = tmp_path / f"big{suffix}"
    msgs = [can.Message(timestamp=1 + i * 0.001, arbitration_id=i % 0x7FF,
                        data=np.random.default_rng(i).integers(0, 256, 8, np.uint8).tobytes(),
                        is_extended_id=False, channel=0) for i in range(n)]
    _write(p, msgs)
    raw = bytearray(gzip.compress(p.read_bytes(), mtime=0))
    mid = len(raw) // 2
    raw[mid:mid + 64] = bytes(64)
    gp = tmp_path / f"big{suffix}.gz"
    gp.write_bytes(bytes(raw))
    return gp


@pytest.mark.parametrize("suffix", [".asc", ".log"])
def test_damaged_compression_is_refused_at_the_line_reached(tmp_path, suffix):
    if suffix == ".log":  # candump text, written directly
        p = tmp_path / "big.log"
        p.write_text("".join(f"({1 + i * 0.001:.6f}) can0 {i % 0x7FF:03X}#{i:016X}\n"
                             for i in range(3000)))
        raw = bytearray(gzip.compress(p.read_bytes(), mtime=0))
        mid = len(raw) // 2
        raw[mid:mid + 64] = bytes(64)
        gp = tmp_path / "big.log.gz"
        gp.write_bytes(bytes(raw))
    else:
        gp = _gzip_damaged(tmp_path, suffix)
    with pytest.raises(LogFormatError) as info:
        ct.read_log(gp)
    m = re.match(rf"^{re.escape(str(gp))}:(\d+): ", str(info.value))
    assert m, str(info.value)
    # the line reached when zlib noticed: inside the file, or at its end when only the
    # CRC at the end of the stream shows the damage (garbage may hold extra newlines)
    assert int(m.group(1)) > 1


def test_blf_with_an_impossible_id_is_refused_at_its_frame(tmp_path):
    p = tmp_path / "x.blf"
    _write(p, _messages(ids=(0x100, 0x4444444, 0x102)))
    with pytest.raises(LogFormatError, match=rf"^{re.escape(str(p))}: frame 1: id 0x4444444 is "
                       r"wider than 11 bits; expected at most 0x7ff for a standard id"):
        ct.read_log(p)


def test_blf_with_damaged_compression_is_refused_at_the_frame_reached(tmp_path):
    p = tmp_path / "x.blf"
    msgs = [can.Message(timestamp=1 + i * 0.001, arbitration_id=i % 0x7FF,
                        data=np.random.default_rng(i).integers(0, 256, 8, np.uint8).tobytes(),
                        is_extended_id=False, channel=0) for i in range(20000)]
    _write(p, msgs)
    raw = bytearray(p.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 256] = bytes(256)
    p.write_bytes(bytes(raw))
    with pytest.raises(LogFormatError, match=rf"^{re.escape(str(p))}: corrupt or truncated log "
                       r"after frame \d+"):
        ct.read_log(p)


# asammdf's MDF4.__del__ fails on a file it could not open (its own noise, not ours)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("damage, expect", [
    ("truncate", r"corrupt or truncated MDF data: no block at byte \d+ \(the file has \d+\)"),
    ("zero a block", r"corrupt or truncated MDF data: no block header at byte \d+"),
])
def test_a_damaged_mf4_is_refused_naming_the_file(tmp_path, damage, expect):
    pytest.importorskip("asammdf")
    p = tmp_path / "x.mf4"
    msgs = [can.Message(timestamp=1 + i * 0.001, arbitration_id=0x100 + i % 5,
                        data=bytes([i % 256] * 8), is_extended_id=False, channel=0)
            for i in range(2000)]
    _write(p, msgs)
    raw = bytearray(p.read_bytes())
    half = len(raw) // 2
    if damage == "truncate":
        raw = raw[:half]
    else:
        raw[half:half + 200] = bytes(200)
    p.write_bytes(bytes(raw))
    with pytest.raises(LogFormatError, match=rf"^{re.escape(str(p))}: {expect}"):
        ct.read_log(p)
    import gc

    gc.collect()  # asammdf's half-made MDF4 goes here, under this test's warning filter


@given(st.one_of(hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(-1, 40)),
                 hnp.arrays(np.int64, st.integers(0, 300),
                            elements=st.integers(-2**40, 2**40))))
def test_channel_codes_number_channels_in_order_of_first_appearance(values):
    """Channel codes (a table of counts for small numbers, a sort otherwise): each value's
    code is the rank of its first appearance, the names in that order."""
    from cantelem_sci.sources._damage import channel_codes

    seen: dict[int, int] = {}
    for v in values.tolist():
        seen.setdefault(v, len(seen))
    if len(seen) > 255:
        return
    codes, names = channel_codes(values, str)
    assert names == [str(v) for v in seen]
    assert codes.dtype == np.uint8
    assert codes.tolist() == [seen[v] for v in values.tolist()]
