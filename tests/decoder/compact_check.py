"""Checks the compact multiplexed form against the dense one (shared by decoder tests)."""

from __future__ import annotations

import numpy as np


def assert_compact_matches_dense(dense, compact, label: str = "") -> int:
    """Every node of ``compact`` against ``dense``: message nodes hold the same
    non-multiplexed signals; a group node ``Msg[Mux=ids]...`` holds exactly the rows of
    ``Msg`` whose dense multiplexer value is one of ``ids``, with the same time, channel and
    values. Also checks no selected row is missing. Returns the values compared."""
    compared = 0
    seen: set[str] = set()
    for name, node in compact.children.items():
        ds = node.dataset
        if "multiplexer_signal" not in ds.attrs:
            ref = dense[name].dataset
            assert set(ds.data_vars) <= set(ref.data_vars), (label, name)
            np.testing.assert_array_equal(ds["time"].values, ref["time"].values)
            for v in ds.data_vars:
                np.testing.assert_array_equal(ds[v].values, ref[v].values,
                                              err_msg=f"{label} {name} {v}")
                compared += ds[v].size
            continue
        msg = ds.attrs["message"]
        ref_name = name.split("[", 1)[0]
        ref = dense[ref_name].dataset
        assert ref.attrs["message"] == msg
        mux = ref[ds.attrs["multiplexer_signal"]].values
        with np.errstate(invalid="ignore"):
            ok = ~np.isnan(mux)
            keys = np.where(ok, mux, 0).astype(np.int64)
        sel = ok & np.isin(keys, np.asarray(ds.attrs["multiplexer_ids"], np.int64))
        assert sel.sum() == ds.sizes["time"], (
            f"{label} {name}: {ds.sizes['time']} rows, dense selects {sel.sum()}")
        np.testing.assert_array_equal(ds["time"].values, ref["time"].values[sel])
        np.testing.assert_array_equal(ds["channel"].values, ref["channel"].values[sel])
        for v in ds.data_vars:
            want = ref[v].values[sel]
            np.testing.assert_array_equal(ds[v].values, want, err_msg=f"{label} {name} {v}")
            # and the dense rows the group does not select are NaN for its members
            assert np.isnan(ref[v].values[~sel]).all(), f"{label} {name} {v}: value outside group"
            compared += want.size
            seen.add(f"{ref_name}/{v}")
    # every multiplexed signal with a selected value somewhere is in some group node
    for name, node in dense.children.items():
        for v, da in node.dataset.data_vars.items():
            if "multiplexer_ids" in da.attrs and np.isfinite(da.values).any():
                assert f"{name}/{v}" in seen, f"{label} {name}/{v} missing from the compact tree"
    return compared
