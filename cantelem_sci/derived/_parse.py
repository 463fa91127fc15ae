"""The expression language of calculated signals: a small, closed grammar.

An expression is read with Python's own tokenizer and parser (:func:`ast.parse` in
``eval`` mode) and then walked: every node must be one of a short list (numbers, signal
names, ``+ - * / ** %``, comparisons, ``and or not``, and calls of the functions in
:data:`FUNCTIONS`). Nothing is ever passed to :func:`eval`; an attribute, a subscript, a
lambda or an unknown function is refused with its column.

Signal names are plain names (``PackVoltage``) or qualified by their message
(``BMS_PackStatus.SOC``). Inside ``max``, ``min``, ``mean`` and ``sum`` a single argument
with ``*`` or ``?`` and no spaces is a glob over signal names (``max(Cell*_Voltage)``); a
quoted glob (``max("Cell*_Voltage")``) works anywhere in those four.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from ..errors import ExpressionError

__all__ = ["FUNCTIONS", "Expression", "parse"]

#: function name -> (minimum, maximum) number of arguments (None: any number)
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1), "where": (3, 3),
    "min": (1, None), "max": (1, None), "mean": (1, None), "sum": (1, None),
    "integrate": (1, 2), "derivative": (1, 2), "rolling": (2, 3), "convert": (3, 3),
}
#: functions across signals, whose arguments may be globs
ACROSS = ("min", "max", "mean", "sum")
#: arguments that are text (unit, window, statistic), by function: positions
TEXT_ARGS = {"integrate": (1,), "derivative": (1,), "rolling": (1, 2), "convert": (1, 2)}

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
           ast.Mod: "%"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
           ast.NotEq: "!="}
_UNARY = {ast.USub: "neg", ast.UAdd: "pos", ast.Not: "not"}
_BOOL = {ast.And: "and", ast.Or: "or"}
_GLOB_ARG = re.compile(r"\b(max|min|mean|sum)\(\s*([A-Za-z_][\w.]*[*?][\w.*?]*)\s*\)")


@dataclass(frozen=True)
class Node:
    """One operation of a parsed expression: ``op`` is ``num``, ``sig``, ``glob``, ``text``,
    an operator (``+``, ``<``, ``and``, ``neg`` ...) or a function name."""

    op: str
    args: tuple["Node", ...] = ()
    value: object = None


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, its tree and the signal names and globs it reads (in
    the order they appear; the first name's time axis is the default axis).

    Example
    -------
    >>> e = parse("PackVoltage * PackCurrent / 1000")
    >>> e.names
    ('PackVoltage', 'PackCurrent')
    """

    text: str
    root: Node
    names: tuple[str, ...] = field(default=())
    globs: tuple[str, ...] = field(default=())
    where: str = ""


def parse(text: str, where: str = "") -> Expression:
    """Parse ``text`` (``where`` names its origin in errors, e.g. ``catalog.yaml line 12``).

    Raises
    ------
    ExpressionError
        A syntax error or a construct outside the grammar, with its column.

    Example
    -------
    >>> parse("max(Cell*_Voltage) - min(Cell*_Voltage)").globs
    ('Cell*_Voltage',)
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(text, "an expression is empty or not text", where=where)
    src = _GLOB_ARG.sub(lambda m: f'{m.group(1)}("{m.group(2)}")', text.strip())
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as err:
        col = err.offset or len(src) + 1  # 0: the text ended too early
        raise ExpressionError(text, f"syntax error: {err.msg}", col=col, where=where) from err
    names: list[str] = []
    globs: list[str] = []
    root = _Walker(text, where, names, globs).visit(tree.body)
    return Expression(text, root, tuple(dict.fromkeys(names)), tuple(dict.fromkeys(globs)),
                      where)


class _Walker:
    def __init__(self, text: str, where: str, names: list[str], globs: list[str]) -> None:
        self.text, self.where, self.names, self.globs = text, where, names, globs

    def fail(self, node: ast.AST, what: str) -> ExpressionError:
        return ExpressionError(self.text, what, col=getattr(node, "col_offset", -1) + 1,
                               where=self.where)

    def visit(self, n: ast.AST) -> Node:
        if isinstance(n, ast.Constant):
            if isinstance(n.value, bool) or not isinstance(n.value, (int, float)):
                raise self.fail(n, f"{n.value!r} is not a number (text is only an argument "
                                   "of integrate, derivative, rolling, convert or a glob)")
            return Node("num", value=float(n.value))
        if isinstance(n, (ast.Name, ast.Attribute)):
            name = _dotted(n)
            if name is None:
                raise self.fail(n, "a signal is a name or Message.Signal")
            if name in FUNCTIONS:
                raise self.fail(n, f"{name} is a function: call it, {name}(...)")
            self.names.append(name)
            return Node("sig", value=name)
        if isinstance(n, ast.BinOp) and type(n.op) in _BINOPS:
            return Node(_BINOPS[type(n.op)], (self.visit(n.left), self.visit(n.right)))
        if isinstance(n, ast.UnaryOp) and type(n.op) in _UNARY:
            return Node(_UNARY[type(n.op)], (self.visit(n.operand),))
        if isinstance(n, ast.BoolOp) and type(n.op) in _BOOL:
            return Node(_BOOL[type(n.op)], tuple(self.visit(v) for v in n.values))
        if isinstance(n, ast.Compare) and all(type(o) in _CMPOPS for o in n.ops):
            # a < b < c: (a < b) and (b < c), as in Python
            operands = [self.visit(n.left)] + [self.visit(c) for c in n.comparators]
            parts = [Node(_CMPOPS[type(o)], (operands[i], operands[i + 1]))
                     for i, o in enumerate(n.ops)]
            return parts[0] if len(parts) == 1 else Node("and", tuple(parts))
        if isinstance(n, ast.Call):
            return self.call(n)
        kind = type(n).__name__
        raise self.fail(n, f"{kind} is not allowed (numbers, signals, + - * / ** %, "
                           "comparisons, and/or/not and the functions "
                           f"{', '.join(sorted(FUNCTIONS))})")

    def call(self, n: ast.Call) -> Node:
        if not isinstance(n.func, ast.Name) or n.keywords:
            raise self.fail(n, "only plain calls of the functions "
                               f"{', '.join(sorted(FUNCTIONS))} are allowed")
        fn = n.func.id
        if fn not in FUNCTIONS:
            import difflib

            close = difflib.get_close_matches(fn, FUNCTIONS, n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise self.fail(n, f"unknown function {fn!r}{hint}; known: "
                               f"{', '.join(sorted(FUNCTIONS))}")
        lo, hi = FUNCTIONS[fn]
        if len(n.args) < lo or (hi is not None and len(n.args) > hi):
            want = f"{lo}" if lo == hi else f"{lo} or more" if hi is None else f"{lo} to {hi}"
            raise self.fail(n, f"{fn}() takes {want} arguments, got {len(n.args)}")
        args = []
        for i, a in enumerate(n.args):
            text = isinstance(a, ast.Constant) and isinstance(a.value, str)
            if i in TEXT_ARGS.get(fn, ()):
                if not text:
                    raise self.fail(a, f"argument {i + 1} of {fn}() is text, e.g. "
                                       f"{_EXAMPLES[fn]}")
                args.append(Node("text", value=a.value))
            elif text and fn in ACROSS:
                self.globs.append(a.value)
                args.append(Node("glob", value=a.value))
            elif text:
                raise self.fail(a, f"argument {i + 1} of {fn}() is a signal or an "
                                   f"expression, not text {a.value!r}")
            else:
                args.append(self.visit(a))
        return Node(fn, tuple(args))


_EXAMPLES = {"integrate": 'integrate(PackPower, "h")', "derivative": 'derivative(SOC, "min")',
             "rolling": 'rolling(PackPower, "30s", "mean")',
             "convert": 'convert(VehicleSpeed, "km/h", "mph")'}


def _dotted(n: ast.AST) -> str | None:
    if isinstance(n, ast.Name):
        return n.id
    if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
        return f"{n.value.id}.{n.attr}"
    return None
