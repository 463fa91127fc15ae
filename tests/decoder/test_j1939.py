"""J1939 transport reassembly (BAM, RTS/CTS) on hand-built sequences and real truck logs,
DM1 fault tables, the VIN, and multi-packet PGNs through a DBC checked against cantools."""

from __future__ import annotations

import warnings

import cantools
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.decoder import decode_j1939, decode_vehicle
from cantelem_sci.decoder._j1939tp import PROBLEMS, reassemble_tp, tp_rows
from cantelem_sci.errors import ProtocolWarning
from cantelem_sci.frames import FrameBatch

from ..conftest import corpus_path


def _cm(ctrl: int, size: int, pgn: int, n: int | None = None, extra: int = 0xFF) -> bytes:
    n = (size + 6) // 7 if n is None else n
    return bytes([ctrl, size & 0xFF, size >> 8, n, extra, pgn & 0xFF, pgn >> 8 & 0xFF,
                  pgn >> 16])


def _dts(payload: bytes) -> list[bytes]:
    return [bytes([i + 1]) + payload[7 * i:7 * i + 7].ljust(7, b"\xff")
            for i in range((len(payload) + 6) // 7)]


def _batch(rows: list[tuple[int, bytes]]) -> FrameBatch:
    data = np.zeros((len(rows), 8), np.uint8)
    for i, (_, d) in enumerate(rows):
        data[i, :len(d)] = np.frombuffer(d, np.uint8)
    return FrameBatch.from_arrays(np.arange(len(rows)) * 10_000_000, [r[0] for r in rows],
                                  data, is_extended=np.ones(len(rows), bool))


def _messages(rows):
    b = _batch(rows)
    idx, key, kind = tp_rows(b.arbitration_id, b.channel, b.data)
    _, stream = np.unique(key, return_inverse=True)
    r = reassemble_tp(stream, kind, b.data[idx])
    return [bytes(r.buf[o:o + n]) for o, n in zip(r.offset, r.size)], \
        sorted(PROBLEMS[c] for c in r.problem_code)


BAM_ID, DT_ID = 0x1CECFF00, 0x1CEBFF00  # from source address 0x00 to everyone
PAYLOAD = bytes(range(100, 120))  # 20 bytes, 3 packets
PGN = 0xFEE3


def _bam(payload=PAYLOAD, sa=0x00):
    return [(BAM_ID | sa, _cm(0x20, len(payload), PGN))] + [(DT_ID | sa, d)
                                                           for d in _dts(payload)]


def test_bam_reassembles():
    assert _messages(_bam()) == ([PAYLOAD], [])


def test_two_senders_interleaved_each_reassemble():
    a, b = _bam(PAYLOAD, 0x00), _bam(PAYLOAD[::-1], 0x03)
    rows = [r for pair in zip(a, b) for r in pair]
    got, probs = _messages(rows)
    assert sorted(got) == sorted([PAYLOAD, PAYLOAD[::-1]]) and probs == []


BROKEN = {
    "lost packet": (lambda m: m[:2] + m[3:], ["lost_or_out_of_order"]),
    "packets swapped": (lambda m: [m[0], m[2], m[1], m[3]], ["lost_or_out_of_order"]),
    "data without announcement": (lambda m: m[1:], ["data_without_announcement"]),
    "announcement interrupts": (lambda m: m[:2] + m, ["interrupted"]),
    "ends in the middle": (lambda m: m[:3], ["incomplete_at_end"]),
    "bad packet count": (lambda m: [(BAM_ID, _cm(0x20, 20, PGN, n=5))] + m[1:],
                         ["bad_announcement"]),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_bam_is_reported_not_mended(name):
    build, problems = BROKEN[name]
    got, probs = _messages(build(_bam()))
    whole = 1 if name == "announcement interrupts" else 0
    assert got == [PAYLOAD] * whole  # only a whole, in-order message is kept
    assert probs == problems


def _cmdt(payload: bytes, retransmit: bool = False, abort: bool = False):
    """A connection from 0x00 to 0xF9: RTS, CTS for 2 packets at a time, EOMA."""
    rts, cts, dt = 0x18ECF900, 0x18EC00F9, 0x18EBF900
    pk = _dts(payload)
    rows = [(rts, _cm(0x10, len(payload), PGN, extra=2))]
    nxt = 1
    while nxt <= len(pk):
        rows.append((cts, bytes([0x11, 2, nxt, 0xFF, 0xFF, PGN & 0xFF, PGN >> 8, 0])))
        for k in range(nxt, min(nxt + 2, len(pk) + 1)):
            rows.append((dt, pk[k - 1]))
        if retransmit and nxt == 1:  # the receiver asks for packet 2 again
            rows.append((cts, bytes([0x11, 1, 2, 0xFF, 0xFF, PGN & 0xFF, PGN >> 8, 0])))
            rows.append((dt, pk[1]))
        if abort:
            rows.append((cts, bytes([0xFF, 1, 0xFF, 0xFF, 0xFF, PGN & 0xFF, PGN >> 8, 0])))
            return rows
        nxt += 2
    rows.append((cts, bytes([0x13, len(payload), 0, len(pk), 0xFF, PGN & 0xFF, PGN >> 8, 0])))
    return rows


def test_rts_cts_connection_reassembles():
    payload = bytes(range(40))
    assert _messages(_cmdt(payload)) == ([payload], [])


def test_rts_cts_packet_asked_again_is_taken_once():
    payload = bytes(range(40))
    assert _messages(_cmdt(payload, retransmit=True)) == ([payload], [])


def test_rts_cts_abort_by_the_receiver_drops_the_message():
    assert _messages(_cmdt(bytes(range(40)), abort=True)) == ([], ["aborted"])


DM1 = bytes([0x44, 0xFF,  # MIL on, amber warning on
             0x64, 0x00, 0x03, 0x05,  # SPN 100 (oil pressure), FMI 3, OC 5
             0x6E, 0x00, 0x10, 0x01,  # SPN 110 (coolant temp), FMI 16, OC 1
             0x00, 0xC3, 0x62, 0x82])  # SPN 0x3C300 (246528)... FMI 2, OC 2, CM 1


def test_dm1_with_several_faults_becomes_a_fault_table():
    single = (0x18FECA03, bytes([0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF]))  # no fault
    rows = [(0x18ECFF00, _cm(0x20, len(DM1), 0xFECA))] + [(0x18EBFF00, d) for d in _dts(DM1)]
    tree = decode_j1939(_batch(rows + [single]))
    lamps = tree["J1939_DM1"].dataset
    assert lamps["MIL"].values.tolist() == [1, 0] and lamps["AWL"].values.tolist() == [1, 0]
    assert lamps["DTCCount"].values.tolist() == [3, 0]
    assert lamps["source_address"].values.tolist() == [0x00, 0x03]
    dtc = tree["J1939_DM1_DTC"].dataset
    assert dtc["SPN"].values.tolist() == [100, 110, 0x3C300]
    assert dtc["FMI"].values.tolist() == [3, 16, 2]
    assert dtc["OC"].values.tolist() == [5, 1, 2]
    assert dtc["CM"].values.tolist() == [0, 0, 1]


def test_vin_from_a_broadcast():
    vin = b"1FUJGLDR5CSBM1234*"
    rows = [(0x18ECFF00, _cm(0x20, len(vin), 0xFEEC))] + [(0x18EBFF00, d) for d in _dts(vin)]
    assert decode_j1939(_batch(rows)).attrs["j1939"] == {"00": {"VIN": "1FUJGLDR5CSBM1234"}}


@pytest.mark.corpus
def test_real_truck_logs_reassemble_without_problems():
    idle = corpus_path("real-capture", "css-j1939-idle", "00000001_candump.log.gz")
    tree = decode_j1939(ct.read_log(idle))
    assert tree.attrs["j1939_tp"] == {"messages": 152, "problems": {}}  # 127 DM1 + 25 BAMs
    dtc = tree["J1939_DM1_DTC"].dataset
    pairs = sorted({(int(s), int(f)) for s, f in zip(dtc["SPN"].values, dtc["FMI"].values)})
    # read off the first DM1 broadcast by hand: 43FF D403097E 900C1402 61020901 61020C03
    assert pairs == [(609, 9), (609, 12), (980, 9), (3216, 20)]
    assert (tree["J1939_DM1"]["MIL"].values == 1).all()
    truck = corpus_path("real-capture", "css-j1939-truck", "00000001-60B621D9_candump.log")
    tree = decode_j1939(ct.read_log(truck))
    assert tree.attrs["j1939_tp"] == {"messages": 16, "problems": {}}


@pytest.mark.corpus
def test_multi_packet_pgn_in_a_dbc_decodes_as_cantools_decodes_the_payload(tmp_path):
    """A DBC defining the 28-byte PGN 0xFEE3 the real truck broadcasts: decode_vehicle
    reassembles it and decodes it through the DBC; cantools decodes the same bytes."""
    truck = corpus_path("real-capture", "css-j1939-truck", "00000001-60B621D9_candump.log")
    dbc = tmp_path / "ec1.dbc"
    dbc.write_text('VERSION ""\n\nBS_:\n\nBU_: ECM\n\n'
                   'BO_ 2566841088 EngineConfig1: 28 ECM\n'
                   ' SG_ SpeedIdle : 0|16@1+ (0.125,0) [0|8031.875] "rpm" Vector__XXX\n'
                   ' SG_ TorqueIdle : 16|8@1+ (1,-125) [-125|125] "%" Vector__XXX\n'
                   ' SG_ RefTorque : 152|16@1+ (1,0) [0|64255] "Nm" Vector__XXX\n')
    raw = ct.read_log(truck)
    db = ct.load_dbc(dbc, j1939=True)  # match by PGN, keep the source address
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = decode_vehicle(raw, db, ["j1939"])
    ds = tree["EngineConfig1"].dataset
    ref = cantools.database.load_file(str(dbc)).get_message_by_name("EngineConfig1")
    b = FrameBatch.from_dataset(raw)
    idx, key, kind = tp_rows(b.arbitration_id, b.channel, b.data)
    _, stream = np.unique(key, return_inverse=True)
    r = reassemble_tp(stream, kind, b.data[idx])
    ec1 = np.flatnonzero(r.pgn == 0xFEE3)
    assert ds.sizes["time"] == ec1.size > 10 and (ds["source_address"].values == 0).all()
    for i, m in enumerate(ec1):
        want = ref.decode(bytes(r.buf[r.offset[m]:r.offset[m] + r.size[m]]),
                          decode_choices=False)
        for sig in ("SpeedIdle", "TorqueIdle", "RefTorque"):
            assert ds[sig].values[i] == pytest.approx(want[sig])
    assert tree.attrs["frames_j1939_tp"] == 80  # 16 announcements and their 64 packets


def test_problems_warn_with_their_cause():
    with pytest.warns(ProtocolWarning, match="1 lost_or_out_of_order"):
        decode_j1939(_batch(_bam()[:2] + _bam()[3:]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([BAM_ID, DT_ID, 0x18ECF900, 0x18EC00F9,
                                           0x18EBF900]),
                          st.binary(min_size=8, max_size=8)), max_size=50))
def test_any_tp_frames_never_crash_and_never_invent(rows):
    got, _ = _messages(rows)
    carried = b"".join(d[1:] for _, d in rows)
    for p in got:
        assert p[:7] in carried
