"""The edge's numpy live decoder (``decoder._lean``) against the numba kernels: every signal
of every message, value for value (NaN where the kernels give NaN), on the simulated
vehicle and on random frames of every corpus DBC (walking bits, truncated frames, ids of
other messages, CAN FD)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cantelem_sci as ct
from cantelem_sci.decoder import decode_arrays, load_dbc
from cantelem_sci.decoder._lean import LeanDecoder
from cantelem_sci.decoder._messages import message_infos
from cantelem_sci.frames import FrameBatch
from tests.conftest import corpus_files

DBCS = (corpus_files("opendbc", "*.dbc") + corpus_files("cantools-dbc", "*.dbc")
        + corpus_files("real-capture", "*/*.dbc"))


def _assert_same(batch: FrameBatch, db) -> int:
    """Every signal through both decoders; returns how many values were compared."""
    infos = message_infos(db)
    wanted = [(i.index, s) for i in infos for s in range(i.sig0, i.sig1)]
    lean = LeanDecoder(infos, wanted).decode(batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = decode_arrays(batch, db)
    off, t, vals, base, counts = (ref["offsets"], ref["time"], ref["values"], ref["col_base"],
                                  ref["counts"])
    compared = 0
    for m, s in wanted:
        k = int(counts[m])
        tt, vv = lean[(m, s)]
        assert len(tt) == k, (infos[m].node, len(tt), k)
        want_t = np.asarray(t[off[m]:off[m] + k], np.int64)
        want_v = np.asarray(vals[base[s]:base[s] + k], np.float64)
        assert np.array_equal(tt, want_t), infos[m].node
        same = (vv == want_v) | (np.isnan(vv) & np.isnan(want_v))
        bad = np.flatnonzero(~same)
        sig = infos[m].signals[s - infos[m].sig0]
        assert not bad.size, (f"{infos[m].node}.{sig.name} row {bad[0]}: lean {vv[bad[0]]!r}, "
                              f"kernels {want_v[bad[0]]!r}")
        compared += k
    return compared


def test_every_signal_of_the_simulated_vehicle():
    db = load_dbc(ct.sample_dbc_path())
    batch = ct.simulate_vehicle(duration_s=20, seed=3)
    compared = _assert_same(batch, db)
    assert compared > 10_000  # values compared, not a speed


@st.composite
def _frames_of(draw, db):
    """Frames with the ids of ``db``'s messages (and some others), random payloads of random
    lengths (shorter and longer than the message too), some remote or error frames."""
    msgs = [m for f in db.files for m in f.db.messages if not m.is_container]
    n = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pick = rng.integers(0, len(msgs) + 1, n)
    fd = any(m.length > 8 for m in msgs)
    width = 64 if fd else 8
    aid = np.empty(n, np.uint32)
    ext = np.zeros(n, bool)
    dlc = np.empty(n, np.uint8)
    for i, k in enumerate(pick):
        if k == len(msgs):  # an id no message has
            aid[i], ext[i] = 0x7FE, False
            dlc[i] = 8
            continue
        m = msgs[k]
        aid[i], ext[i] = m.frame_id, m.is_extended_frame
        dlc[i] = min(width, max(0, m.length + int(rng.integers(-3, 2))))
    data = rng.integers(0, 256, (n, width), dtype=np.uint8)
    walk = rng.random(n) < 0.3  # single bits: every position of a field in its turn
    data[walk] = 0
    for i in np.flatnonzero(walk):
        b = int(rng.integers(0, 8 * width))
        data[i, b // 8] = 1 << (b % 8)
    flags = rng.random(n)
    return FrameBatch(np.arange(n, dtype=np.int64) * 1000, aid, dlc, ext, dlc > 8,
                      flags < 0.03, (flags > 0.03) & (flags < 0.05), np.zeros(n, np.uint8),
                      data, channel_names=["can0"])


@pytest.mark.corpus
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_frames_of_every_corpus_dbc(data):
    if not DBCS:
        pytest.skip("corpus not found (CANTELEM_CORPUS)")
    path = data.draw(st.sampled_from(DBCS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            db = load_dbc(path)
        except ct.errors.CantelemError:
            return  # (the corpus' bad files are refused; their tests are elsewhere)
    if not any(m.signals for f in db.files for m in f.db.messages):
        return
    _assert_same(data.draw(_frames_of(db)), db)
