"""Differential tests: our decoder against cantools, message by message, on every corpus DBC.

For each message: random payloads, walking-bit payloads, all-0x00 and all-0xFF payloads,
payloads whose multiplexer selects each of its values, and truncated frames. cantools
decodes with ``scaling=True, decode_choices=False, allow_truncated=True``; values must be
bit-identical (NaN where cantools gives no value). Messages cantools refuses to decode
(overlapping signals, unknown multiplexer values) are checked signal by signal against
an independent Python-int bit extraction.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cantelem_sci as ct
from tests.decoder.reference import extract_reference, reference_value
from cantelem_sci.decoder._layout import Layout, _position
from tests.conftest import corpus_files
from tests.decoder.compact_check import assert_compact_matches_dense

DBCS = (corpus_files("opendbc", "*.dbc") + corpus_files("cantools-dbc", "*.dbc")
        + corpus_files("cantools-dbc", "*.DBC") + corpus_files("real-capture", "*/*.dbc"))


def _set_raw(payload: bytearray, sig, raw: int) -> None:
    pos, ln = _position(sig), sig.length
    nbits = len(payload) * 8
    if sig.byte_order == "big_endian":
        whole = int.from_bytes(payload, "big")
        sh = nbits - pos - ln
        if sh < 0:
            return
        mask = ((1 << ln) - 1) << sh
        whole = (whole & ~mask) | ((raw << sh) & mask)
        payload[:] = whole.to_bytes(len(payload), "big")
    else:
        if pos + ln > nbits:
            return
        whole = int.from_bytes(payload, "little")
        mask = ((1 << ln) - 1) << pos
        whole = (whole & ~mask) | ((raw << pos) & mask)
        payload[:] = whole.to_bytes(len(payload), "little")


def _payloads(msg, rng: np.random.Generator) -> list[bytes]:
    n = msg.length
    if n == 0:
        return [b""]
    out = [bytes(n), b"\xff" * n]
    out += [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for _ in range(12)]
    for bit in range(n * 8):
        p = bytearray(n)
        p[bit // 8] |= 1 << (bit % 8)
        out.append(bytes(p))
    muxers = [s for s in msg.signals if s.is_multiplexer]
    for mux in muxers:
        ids = sorted({i for s in msg.signals if s.multiplexer_signal == mux.name
                      for i in (s.multiplexer_ids or [])})
        for v in ids[:64]:
            for base in (bytes(n), b"\xff" * n, rng.integers(0, 256, n, dtype=np.uint8).tobytes()):
                p = bytearray(base)
                # cascaded multiplexers: select the parent too where we can
                parent = mux.multiplexer_signal
                if parent is not None and mux.multiplexer_ids:
                    _set_raw(p, msg.get_signal_by_name(parent), int(mux.multiplexer_ids[0]))
                raw = int(round((v - mux.offset) / mux.scale)) if mux.scale else v
                _set_raw(p, mux, raw & ((1 << mux.length) - 1))
                out.append(bytes(p))
    # truncated frames
    full = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    out += [full[:k] for k in range(0, n)]
    return out


def _same(a: float, b: float) -> bool:
    if a != a and b != b:
        return True
    return np.float64(a).view(np.uint64) == np.float64(b).view(np.uint64)


@pytest.mark.corpus
@pytest.mark.parametrize("path", DBCS, ids=[p.name for p in DBCS])
def test_decode_matches_cantools(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        db = ct.load_dbc(path)
    lay = Layout(db)
    rng = np.random.default_rng(len(path.name))
    ids, exts, rows, dlcs, expect = [], [], [], [], []
    width = 64 if any(m.length > 8 for m in db.messages) else 8
    for info in lay.messages:
        msg = info.message
        if not msg.signals:
            continue
        for p in _payloads(msg, rng):
            ids.append(msg.frame_id)
            exts.append(msg.is_extended_frame)
            buf = np.zeros(width, np.uint8)
            buf[:min(len(p), width)] = np.frombuffer(p, np.uint8)[:width]
            rows.append(buf)
            dlcs.append(len(p))
            expect.append((info.node, msg, p))
    if not rows:  # files with no signals (cantools' edge cases) still load and decode nothing
        assert all(not m.signals for m in db.messages)
        empty = ct.frames(np.arange(1), [0x7FF], np.zeros((1, 8), np.uint8))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert ct.decode(empty, db).attrs["frames_decoded"] <= 1
        return
    n = len(rows)
    raw = ct.frames(np.arange(n), np.array(ids), np.array(rows), dlc=np.array(dlcs),
                    is_extended=np.array(exts), is_fd=np.array(dlcs) > 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ct.decode(raw, db)
    # duplicated ids (never matched) are reported, not decoded
    node_rows: dict[str, int] = {}
    arrays = {name: {k: v.values for k, v in child.dataset.data_vars.items()}
              for name, child in tree.children.items()}
    checked = fallback = 0
    for node, msg, p in expect:
        if node not in arrays:
            continue
        ds = arrays[node]
        k = node_rows.get(node, 0)
        node_rows[node] = k + 1
        try:
            ref = msg.decode(p, decode_choices=False, scaling=True, allow_truncated=True)
        except Exception:
            ref = None
        for sig in msg.signals:
            ours = float(ds[sig.name][k]) if sig.name in ds else None
            assert ours is not None, f"{path.name}: {msg.name}: signal {sig.name} missing"
            parent = (msg.get_signal_by_name(sig.multiplexer_signal)
                      if sig.multiplexer_signal else None)
            if parent is not None and not parent.is_multiplexer:
                # selector not declared a multiplexer ('m' without a number): cantools never
                # decodes such signals; we follow the SG_MUL_VAL_ selector (documented)
                pv = reference_value(parent, p, msg.length)
                sel = pv == pv and int(pv) in (sig.multiplexer_ids or [])
                want = reference_value(sig, p, msg.length) if sel else float("nan")
                fallback += 1
            elif ref is not None:
                want = float(ref[sig.name]) if sig.name in ref else float("nan")
                checked += 1
            else:
                # cantools cannot decode this payload: independent reference for signals
                # that are not multiplexed (their presence does not depend on the mux)
                if sig.multiplexer_signal is not None:
                    continue
                want = reference_value(sig, p, msg.length)
                fallback += 1
            assert _same(ours, want), (
                f"{path.name}: message {msg.name} ({msg.frame_id:#x}) signal {sig.name}: "
                f"payload {p.hex()} -> ours {ours!r}, cantools {want!r}")
    assert checked + fallback > 0
    # the compact multiplexed form holds the same values without the unselected rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compact = ct.decode(raw, db, multiplexed="compact")
    assert_compact_matches_dense(tree, compact, path.name) > 0
