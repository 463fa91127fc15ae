"""Calculated signals on arrays: every operation against a plain numpy/Python reference on
random series (hypothesis), alignment that never crosses a gap, and the parser's refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cantelem_sci.derived import (convert_units, default_hold, define, dependency_order,
                                  evaluate, operands, parse, parse_derived)
from cantelem_sci.errors import ConfigError, ExpressionError, UnknownNameError
from tests.strategies import operand_series

S = 1_000_000_000


def ref_hold(axis, t, v, hold):
    """The last sample at or before each axis time, within ``hold`` ns (a plain loop)."""
    out = []
    for x in axis:
        j = None
        for i in range(len(t)):
            if t[i] <= x:
                j = i
        out.append(v[j] if j is not None and x - t[j] <= hold else math.nan)
    return np.array(out, np.float64)


def held(series, name, axis_name="S0"):
    t, v = series[name]
    if name == axis_name:
        return v
    return ref_hold(series[axis_name][0], t, v, default_hold(t))


@settings(max_examples=60, deadline=None)
@given(operand_series())
def test_arithmetic_and_comparisons_equal_numpy_on_held_operands(series):
    a, b = held(series, "S0"), held(series, "S1")
    with np.errstate(all="ignore"):
        cases = _cases(a, b)
    with np.errstate(all="ignore"):
        for text, want in cases.items():
            t, got = evaluate(parse(text), series)
            np.testing.assert_array_equal(t, series["S0"][0])
            np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True, err_msg=text)


def _cases(a, b):
    return {
        "S0 + S1 * 2 - 1": a + b * 2 - 1,
        "S0 / S1": a / b,
        "-S0 ** 2 % 7": np.mod(-(a ** 2), 7),
        "S0 > S1": np.where(np.isnan(a) | np.isnan(b), np.nan, (a > b).astype(float)),
        "not (S0 <= 3)": np.where(np.isnan(a), np.nan, (~(a <= 3)).astype(float)),
        "abs(S0 - S1)": np.abs(a - b),
        "where(S0 > 0, S0, S1)": np.where(np.isnan(a), np.nan, np.where(a > 0, a, b)),
        "S0 > 0 and S1 < 0": np.where(np.isnan(a) | np.isnan(b), np.nan,
                                       ((a > 0) & (b < 0)).astype(float)),
        "-1 < S0 < 1": np.where(np.isnan(a), np.nan, ((a > -1) & (a < 1)).astype(float)),
    }


@settings(max_examples=60, deadline=None)
@given(operand_series())
def test_hold_never_crosses_a_gap(series):
    axis = series["S0"][0]
    for name in series:
        t, v = series[name]
        hold = default_hold(t)
        got = evaluate(parse(f"S0 * 0 + {name}"), series)[1]
        for x, g in zip(axis, got):
            before = np.nonzero(t <= x)[0]
            if np.isnan(g):
                assert not before.size or x - t[before[-1]] > hold or np.isnan(v[before[-1]]) \
                    or np.isnan(series["S0"][1][np.searchsorted(axis, x)])
            else:  # the newest sample at or before x, no older than the hold limit
                assert before.size and x - t[before[-1]] <= hold and g == v[before[-1]]


@settings(max_examples=60, deadline=None)
@given(operand_series())
def test_across_signals_ignore_nan_and_expand_globs(series):
    cols = np.vstack([held(series, n) for n in series])
    with np.errstate(all="ignore"), _quiet():
        want = {"max(S*)": np.nanmax(cols, axis=0), "min(S*)": np.nanmin(cols, axis=0),
                "mean(S*)": np.nanmean(cols, axis=0),
                "sum(S*)": np.where(np.isnan(cols).all(0), np.nan, np.nansum(cols, axis=0))}
    for text, w in want.items():
        np.testing.assert_allclose(evaluate(parse(text), series)[1], w, rtol=1e-12,
                                   equal_nan=True, err_msg=text)


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


@settings(max_examples=60, deadline=None)
@given(operand_series())
def test_integrate_and_derivative_skip_gaps_of_the_axis(series):
    t, v = series["S0"]
    gap = default_hold(t)
    acc, integ, deriv = 0.0, [0.0], [math.nan]
    for i in range(1, len(t)):
        dt = (t[i] - t[i - 1]) / 3.6e12  # hours
        inc = (v[i] + v[i - 1]) / 2 * dt
        acc += inc if t[i] - t[i - 1] <= gap and math.isfinite(inc) else 0.0
        integ.append(acc)
        ds = (t[i] - t[i - 1]) / S
        deriv.append((v[i] - v[i - 1]) / ds if t[i] - t[i - 1] <= gap and ds > 0 else math.nan)
    np.testing.assert_allclose(evaluate(parse('integrate(S0, "h")'), series)[1], integ,
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(evaluate(parse("derivative(S0)"), series)[1], deriv,
                               rtol=1e-9, equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(operand_series(), st.sampled_from(["mean", "max", "min", "sum"]),
       st.sampled_from([("5ms", 5_000_000), ("20ms", 20_000_000)]))
def test_rolling_is_a_trailing_time_window(series, how, window):
    t, v = series["S0"]
    want = []
    for i in range(len(t)):
        w = [v[j] for j in range(i + 1) if t[j] > t[i] - window[1] and not math.isnan(v[j])]
        want.append({"mean": np.mean, "max": np.max, "min": np.min, "sum": np.sum}[how](w)
                    if w else math.nan)
    got = evaluate(parse(f'rolling(S0, "{window[0]}", "{how}")'), series)[1]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, equal_nan=True)


def test_unit_conversions_match_their_definitions():
    np.testing.assert_allclose(convert_units(np.array([100.0]), "km/h", "mph"), [62.137119],
                               rtol=1e-6)
    np.testing.assert_allclose(convert_units(np.array([0.0, 100.0, -40.0]), "degC", "degF"),
                               [32.0, 212.0, -40.0])
    np.testing.assert_allclose(convert_units(np.array([1.0]), "kWh", "J"), [3.6e6])
    np.testing.assert_allclose(convert_units(np.array([1.0]), "bar", "psi"), [14.503774],
                               rtol=1e-6)
    with pytest.raises(UnknownNameError, match="km/h"):
        convert_units(np.array([1.0]), "degC", "km/h")
    t = np.array([0, S]), np.array([36.0, 72.0])
    np.testing.assert_allclose(evaluate(parse('convert(V, "km/h", "m/s")'), {"V": t})[1],
                               [10.0, 20.0])


def test_axis_and_hold_limit_can_be_chosen():
    s = {"A": (np.array([0, 10 * S]), np.array([1.0, 2.0])),
         "B": (np.array([0, 5 * S, 10 * S]), np.array([3.0, 4.0, 5.0]))}
    t, v = evaluate(parse("A + B"), s, axis="B", max_hold=4 * S)
    np.testing.assert_array_equal(t, s["B"][0])
    np.testing.assert_array_equal(v, [4.0, np.nan, 7.0])  # A is 5 s old at 5 s: not held
    t, v = evaluate(parse("A + B"), s, axis=np.array([0, 5 * S, 10 * S]), max_hold=10 * S)
    np.testing.assert_array_equal(v, [4.0, 5.0, 7.0])


@pytest.mark.parametrize("text, col, what", [
    ("__import__('os')", 1, "unknown function '__import__'"),
    ("S0[0]", 1, "Subscript is not allowed"),
    ("lambda: 1", 1, "Lambda is not allowed"),
    ("S0 +", 5, "syntax error"),
    ("maxx(S0)", 1, "did you mean max"),
    ('integrate(S0, 3)', 15, "argument 2 of integrate() is text"),
    ("S0 + 'a'", 6, "is not a number"),
    ("abs(S0, S1)", 1, "abs() takes 1 arguments, got 2"),
    ("S0.x.y", 1, "a signal is a name or Message.Signal"),
    ("max", 1, "max is a function"),
])
def test_parser_refuses_what_is_outside_the_grammar(text, col, what):
    with pytest.raises(ExpressionError) as err:
        parse(text, where="fleet.yaml line 12")
    msg = str(err.value)
    assert what in msg and repr(text) in msg and "fleet.yaml line 12" in msg
    assert f"column {col}" in msg


def test_unknown_operands_suggest_close_names():
    e = parse("PackVoltge * PackCurrent", where="fleet.yaml line 3")
    with pytest.raises(UnknownNameError, match=r"PackVoltge.*did you mean 'PackVoltage'") as err:
        operands(e, ["PackVoltage", "PackCurrent"])
    assert "fleet.yaml line 3" in str(err.value)
    with pytest.raises(UnknownNameError, match="matches none"):
        operands(parse("max(Bat*_V)"), ["Cell1_V"])


def test_catalog_definitions_name_the_file_and_line(tmp_path):
    from cantelem_sci.fleet import load_catalog

    cat = tmp_path / "fleet.yaml"
    cat.write_text("""metadata:
  cantelem:
    store: /tmp/x
    dbc_groups:
      - {name: all, vehicles: ["*"], dbc: []}
    derived:
      PackPower: {expr: "PackVoltage * PackCurrent / 1000", unit: kW}
      Broken: "PackPower * (2"
""")
    with pytest.raises(ExpressionError) as err:
        load_catalog(cat)
    assert f"{cat} line 8" in str(err.value) and "syntax error" in str(err.value)
    cat.write_text(cat.read_text().replace('"PackPower * (2"', '"PackPower * 2"'))
    defs = load_catalog(cat).derived
    assert defs["PackPower"].unit == "kW" and defs["Broken"].where == f"{cat} line 8"


def test_cycles_and_bad_definitions_are_refused():
    with pytest.raises(ExpressionError, match="A -> B -> A"):
        dependency_order({"A": define("A", "B + 1"), "B": define("B", "A * 2")})
    with pytest.raises(ConfigError, match="name '1x'"):
        define("1x", "A")
    with pytest.raises(ConfigError, match="expected the keys"):
        parse_derived({"P": {"expression": "A"}}, "f.yaml")
    with pytest.raises(ExpressionError, match="empty"):
        parse("  ")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_with_an_expression_error(text):
    try:
        e = parse(text)
    except ExpressionError as err:
        assert repr(text) in str(err) or "empty" in str(err)
        return
    assert isinstance(e.names, tuple)
