"""ISO-TP reassembly against can-isotp (the reference), on its frames, ours, a real capture
and hand-built broken sequences (lost, out of order, orphaned, interrupted)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cantelem_sci.decoder._isotp import PROBLEMS, reassemble
from cantelem_sci.sim import isotp_segment

from ..strategies import isotp_payloads

isotp = pytest.importorskip("isotp")


def _frames(rows: list[bytes], width: int = 8) -> tuple[np.ndarray, np.ndarray]:
    data = np.zeros((len(rows), width), np.uint8)
    for i, r in enumerate(rows):
        data[i, :len(r)] = np.frombuffer(r, np.uint8)
    return data, np.array([len(r) for r in rows], np.uint8)


def _payloads(r) -> list[bytes]:
    return [bytes(r.buf[o:o + n]) for o, n in zip(r.offset, r.length)]


def _by_isotp_sender(payloads: list[bytes], fd: bool = False) -> list[bytes]:
    """The frames can-isotp sends for each payload (a receiver answers its flow control)."""
    wire: list[isotp.CanMessage] = []
    back: list[isotp.CanMessage] = []
    params = {"tx_data_length": 64 if fd else 8, "can_fd": fd, "tx_padding": 0xCC,
              "tx_data_min_length": 8 if fd else None}
    tx = isotp.TransportLayerLogic(lambda t: back.pop(0) if back else None, wire.append,
                                   isotp.Address(isotp.AddressingMode.Normal_11bits,
                                                 rxid=0x7E0, txid=0x7E8), params=params)
    rx = isotp.TransportLayerLogic(lambda t: wire_in.pop(0) if wire_in else None, back.append,
                                   isotp.Address(isotp.AddressingMode.Normal_11bits,
                                                 rxid=0x7E8, txid=0x7E0))
    wire_in: list[isotp.CanMessage] = []
    sent: list[bytes] = []
    for p in payloads:
        tx.send(p)
        for _ in range(10 + len(p) // 6):
            tx.process()
            wire_in += wire
            sent += [bytes(m.data) for m in wire]
            wire.clear()
            rx.process()
        assert rx.recv() == p  # the reference got it whole
    return sent


def _by_isotp_receiver(rows: list[bytes], rxid: int = 0x7EC) -> list[bytes]:
    """What can-isotp's receiver reassembles from ``rows`` (listening only)."""
    q = [isotp.CanMessage(arbitration_id=rxid, dlc=8, data=r, extended_id=False) for r in rows]
    rx = isotp.TransportLayerLogic(lambda t: q.pop(0) if q else None, lambda m: None,
                                   isotp.Address(isotp.AddressingMode.Normal_11bits, rxid=rxid,
                                                 txid=rxid - 8),
                                   error_handler=lambda e: None)
    out = []
    while q:
        rx.process()
        while rx.available():
            out.append(bytes(rx.recv()))
    return out


@settings(max_examples=60, deadline=None)
@given(isotp_payloads())
def test_payloads_sent_by_can_isotp_reassemble_equal(payloads):
    rows = _by_isotp_sender(payloads)
    data, dlc = _frames(rows)
    r = reassemble(np.zeros(len(rows), np.int64), data, dlc)
    assert _payloads(r) == payloads
    assert r.problem_code.size == 0


@settings(max_examples=60, deadline=None)
@given(isotp_payloads(), st.integers(0, 3))
def test_interleaved_streams_reassemble_each_like_can_isotp(payloads, streams):
    """Several ECUs answering at once: frames interleave, each stream is its own."""
    k = streams + 1
    rows, stream = [], []
    per = [isotp_segment(p) for p in payloads]
    cursor = [0] * len(per)
    rng = np.random.default_rng(len(payloads))
    live = list(range(len(per)))
    while live:  # message i on stream i % k; a stream's messages in order
        i = live[int(rng.integers(len(live)))]
        if any(j < i and j % k == i % k for j in live):
            i = min(j for j in live if j % k == i % k)
        rows.append(per[i][cursor[i]])
        stream.append(i % k)
        cursor[i] += 1
        if cursor[i] == len(per[i]):
            live.remove(i)
    data, dlc = _frames(rows)
    r = reassemble(np.array(stream), data, dlc, k)
    got = _payloads(r)
    for s in range(k):
        mine = [g for g, q in zip(got, r.stream) if q == s]
        ref = _by_isotp_receiver([row for row, q in zip(rows, stream) if q == s])
        assert mine == ref == [p for i, p in enumerate(payloads) if i % k == s]


def test_can_fd_escapes_are_read():
    big = bytes(range(256)) * 5  # 1280 bytes: first frame with a 12-bit length
    rows = _by_isotp_sender([bytes(range(40)), big], fd=True)
    data, dlc = _frames(rows, 64)
    r = reassemble(np.zeros(len(rows), np.int64), data, dlc)
    assert _payloads(r) == [bytes(range(40)), big]
    escaped = bytes([0x10, 0x00, 0x00, 0x00, 0x13, 0x88]) + bytes(58)  # 5000: 32-bit length
    rows = [escaped] + [bytes([0x20 | (i + 1) & 0xF]) + bytes(63) for i in range(79)]
    data, dlc = _frames(rows, 64)
    r = reassemble(np.zeros(len(rows), np.int64), data, dlc)
    assert list(r.length) == [5000] and r.problem_code.size == 0


def _real_capture() -> Path | None:
    root = Path(os.environ.get("CANTELEM_CORPUS", Path(__file__).parents[3] / "shared/corpus"))
    p = root / "real-capture/css-canmod-gnss/00000001-63BEF5CD_candump.log"
    return p if p.exists() else None


@pytest.mark.corpus
def test_real_uds_responses_reassemble_like_can_isotp():
    """The real CANedge capture holds UDS ReadDataByIdentifier answers of a BMS (0x7EC):
    every one reassembles as can-isotp reassembles it."""
    p = _real_capture()
    if p is None:
        pytest.skip("shared corpus absent (CANTELEM_CORPUS)")
    rows = [bytes.fromhex(line.split("#")[1]) for line in p.read_text().splitlines()
            if " 7EC#" in line]
    data, dlc = _frames(rows)
    r = reassemble(np.zeros(len(rows), np.int64), data, dlc)
    ref = _by_isotp_receiver(rows)
    assert len(ref) > 50
    assert _payloads(r) == ref
    assert {bytes(p[:1]) for p in ref} == {b"\x62"}  # positive answers to service 0x22


def _seq(payload: bytes) -> list[bytes]:
    return isotp_segment(payload)


CASES = {
    # name: (frames, payloads reassembled, problems)
    "lost consecutive frame": (lambda a, b: a[:2] + a[3:] + b, 1, ["lost_or_out_of_order"]),
    "swapped consecutive frames": (lambda a, b: a[:2] + [a[3], a[2]] + a[4:] + b, 1,
                                   ["lost_or_out_of_order"]),
    "consecutive frame without first": (lambda a, b: a[1:] + b, 1,
                                        ["consecutive_without_first"]),
    "single frame interrupts": (lambda a, b: a[:2] + b + a[2:], 1,
                                ["interrupted", "consecutive_without_first"]),
    "ends in the middle": (lambda a, b: b + a[:3], 1, ["incomplete_at_end"]),
    "duplicated consecutive frame": (lambda a, b: a[:3] + [a[2]] + a[3:] + b, 1,
                                     ["lost_or_out_of_order"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_broken_sequences_are_reported_not_mended(name):
    long = bytes([0x49, 0x02, 0x01]) + b"WCTOBD2SIMCAR0457" + bytes(10)  # 30 bytes, 5 frames
    short = bytes([0x41, 0x0D, 0x32])
    build, n_ok, problems = CASES[name]
    rows = build(_seq(long), _seq(short))
    data, dlc = _frames(rows)
    r = reassemble(np.zeros(len(rows), np.int64), data, dlc)
    assert _payloads(r) == [short] * n_ok  # the broken message is dropped, not patched
    assert sorted(PROBLEMS[c] for c in r.problem_code) == sorted(problems)
    assert len(_by_isotp_receiver(rows)) == n_ok  # can-isotp keeps no more


def test_bad_lengths_are_reported():
    rows = [bytes([0x09, 1, 2, 3, 4, 5, 6, 7]),  # single frame longer than the frame
            bytes([0x00, 1, 2, 3, 4, 5, 6, 7]),  # length 0
            bytes([0x10, 0x05, 1, 2, 3, 4, 5, 6]),  # first frame that would fit a single one
            bytes([0x40, 0, 0, 0, 0, 0, 0, 0]),  # no such frame type
            bytes([0x30, 0, 0, 0, 0, 0, 0, 0])]  # flow control: skipped silently
    data, dlc = _frames(rows)
    r = reassemble(np.zeros(len(rows), np.int64), data, dlc)
    assert r.length.size == 0
    assert [PROBLEMS[c] for c in r.problem_code] == ["bad_length"] * 3 + ["unknown_frame_type"]
    assert list(r.problem_frame) == [0, 1, 2, 3]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=8), max_size=60))
def test_any_frames_never_crash_and_never_invent(rows):
    """Arbitrary bytes: every reassembled payload is a byte run the frames carried."""
    data, dlc = _frames(rows)
    r = reassemble(np.zeros(len(rows), np.int64), data, dlc)
    carried = b"".join(rows)
    for p in _payloads(r):
        assert len(p) >= 1
        assert p[:min(5, len(p))] in carried
