"""Calculated signals: expressions over decoded signals, evaluated on arrays.

A closed expression language (:func:`parse`, no Python ``eval``), zero-order-hold alignment of
operands on different time axes (:func:`evaluate`), a table of unit conversions
(:func:`convert_units`) and the definitions a catalog's ``derived:`` section holds
(:class:`DerivedSignal`). The fleet API evaluates them in ``load``, ``resample``,
``aggregate`` and ``export``.

Example
-------
>>> import numpy as np
>>> from cantelem_sci.derived import parse, evaluate
>>> t = np.array([0, 1_000_000_000, 2_000_000_000])
>>> s = {"PackPower": (t, np.array([10.0, 10.0, 10.0]))}
>>> evaluate(parse('integrate(PackPower, "h")'), s)[1] * 3600
array([ 0., 10., 20.])
"""

from ._define import DerivedSignal, define, dependency_order, parse_derived
from ._evaluate import default_hold, evaluate, hold_onto, operands
from ._parse import FUNCTIONS, Expression, parse
from ._units import UNITS, convert_units

__all__ = [
    "FUNCTIONS",
    "UNITS",
    "DerivedSignal",
    "Expression",
    "convert_units",
    "default_hold",
    "define",
    "dependency_order",
    "evaluate",
    "hold_onto",
    "operands",
    "parse",
    "parse_derived",
]
