"""The leniency rules that repair real DBC files before cantools reads them.

See :mod:`cantelem_sci.decoder._dbc` for the list of rules. Every repair keeps the line
numbering of the file, so each warning (or, with ``strict=True``, each error) names the line
of the original text.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import DbcError

_STRING = re.compile(r'"(?:\\"|[^"])*"', re.S)
_BO = re.compile(r"^BO_[ \t]+(\d+)[ \t]+([A-Za-z0-9_]+)[ \t]*:", re.M)
_SG = re.compile(r"^[ \t]+SG_[ \t]+([A-Za-z0-9_]+)\b", re.M)
_ID_REFS = [
    re.compile(r"^(CM_[ \t]+(?:BO_|SG_)[ \t]+)(\d+)", re.M),
    re.compile(r'^(BA_[ \t]+"[^"]*"[ \t]+(?:BO_|SG_)[ \t]+)(\d+)', re.M),
    re.compile(r'^(BA_REL_[ \t]+"[^"]*"[ \t]+BU_(?:SG|BO)_REL_[ \t]+\w+[ \t]+(?:SG_[ \t]+)?)'
               r'(\d+)', re.M),
    re.compile(r"^((?:BO_|VAL_|SIG_VALTYPE_|SG_MUL_VAL_|BO_TX_BU_|SIG_GROUP_|SIG_TYPE_REF_)"
               r"[ \t]+)(\d+)", re.M),
]
_LEADING_DOT = re.compile(r"(?<=[(\[,|])([+-]?)\.(\d)")
_CM_SG_NO_SIGNAL = re.compile(r'^CM_[ \t]+SG_[ \t]+(\d+)[ \t]+(?=")', re.M)
_CM_BARE_ID = re.compile(r'^CM_[ \t]+(\d+)[ \t]+(?=")', re.M)
_VAL = re.compile(r"^VAL_[ \t]+(\d+)[ \t]+([A-Za-z0-9_]+)", re.M)


@dataclass
class Leniency:
    """One repair made while loading a DBC."""

    file: str
    line: int
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.detail}"


def _string_mask(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _STRING.finditer(text)]


class Preprocessor:
    """Applies the leniency rules to the text without changing its line numbering."""

    def __init__(self, path: str, text: str, strict: bool) -> None:
        self.path = path
        self.text = text
        self.strict = strict
        self.leniencies: list[Leniency] = []
        self.skipped: dict[int, str] = {}
        self.renamed: dict[str, str] = {}  # alias -> original name

    def _line(self, pos: int, text: str | None = None) -> int:
        return (self.text if text is None else text).count("\n", 0, pos) + 1

    def _note(self, pos: int, rule: str, detail: str) -> None:
        item = Leniency(self.path, self._line(pos), rule, detail)
        if self.strict:
            src = self.text.splitlines()[item.line - 1] if self.text else ""
            raise DbcError(f"{self.path}:{item.line}: {detail} (rule {rule}; strict=True)\n"
                           f"    {src.strip()[:200]}")
        self.leniencies.append(item)

    def _outside(self, text: str) -> Callable[[int], bool]:
        spans = _string_mask(text)
        starts = [s for s, _ in spans]
        def outside(pos: int) -> bool:
            i = bisect.bisect_right(starts, pos) - 1
            return i < 0 or pos >= spans[i][1]

        return outside

    def _sub(self, pattern: re.Pattern[str], repl: Any) -> None:
        outside = self._outside(self.text)
        out, last = [], 0
        for m in pattern.finditer(self.text):
            if not outside(m.start()):
                continue
            new = repl(m)
            if new is None:
                continue
            out.append(self.text[last:m.start()])
            out.append(new)
            last = m.end()
        out.append(self.text[last:])
        self.text = "".join(out)

    def _blank_statement(self, start: int) -> None:
        """Replace the statement at ``start`` (through its ';') by blanks, keeping newlines."""
        outside = self._outside(self.text)
        end = start
        while end < len(self.text):
            ch = self.text[end]
            if ch == ";" and outside(end):
                break
            if ch == "\n" and self.text[end + 1:end + 2] != " " and outside(end):
                # statement without ';' ends at its line unless the next line continues it
                nxt = self.text[end + 1:end + 40]
                if re.match(r"[A-Z_]+[ \t]", nxt) or not nxt.strip():
                    end -= 1
                    break
            end += 1
        seg = self.text[start:end + 1]
        self.text = self.text[:start] + re.sub(r"[^\n]", " ", seg) + self.text[end + 1:]

    def run(self) -> str:
        # R7: VAL_ statements left open at the end of their line
        lines = self.text.split("\n")
        outside_line = True
        for i, ln in enumerate(lines):
            if outside_line and ln.startswith("VAL_ ") and ln.count('"') % 2 == 0 \
                    and not ln.rstrip().endswith(";"):
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                if not nxt.strip() or re.match(r"[A-Z_]+[ \t]", nxt):
                    self._note(sum(len(x) + 1 for x in lines[:i]), "R7 missing-semicolon",
                               "VAL_ statement without ';' closed at the end of its line")
                    lines[i] = ln.rstrip() + " ;"
            outside_line = (outside_line == (ln.count('"') % 2 == 0))
        self.text = "\n".join(lines)

        # message ids: R1 / R2
        outside = self._outside(self.text)
        id_map: dict[int, int] = {}
        for m in _BO.finditer(self.text):
            if not outside(m.start()):
                continue
            fid = int(m.group(1))
            if fid & 0x80000000 or fid <= 0x7FF or m.group(2) == "VECTOR__INDEPENDENT_SIG_MSG":
                continue
            if fid <= 0x1FFFFFFF:
                id_map[fid] = fid | 0x80000000
                self._note(m.start(1), "R1 extended-id",
                           f"message {m.group(2)} id {fid:#x} > 0x7FF without the extended bit: "
                           "read as a 29-bit id")
            else:
                self.skipped[fid] = m.group(2)
                self._note(m.start(1), "R2 id-too-wide",
                           f"message {m.group(2)} id {fid:#x} is wider than 29 bits and cannot "
                           "occur on a CAN bus: left out")
        if self.skipped:
            self._drop_messages(set(self.skipped))
        if id_map:
            for pat in _ID_REFS:
                self._sub(pat, lambda m: m.group(1) + str(id_map[int(m.group(2))])
                          if int(m.group(2)) in id_map else None)

        self._first_of_each_id()

        # R3: .25 -> 0.25 inside SG_ lines
        def fix_dot(m: re.Match[str]) -> str:
            self._note(m.start(), "R3 leading-dot", f"number '{m.group(1)}.{m.group(2)}...' "
                       "without a leading digit read as 0.")
            return f"{m.group(1)}0.{m.group(2)}"
        self._sub(_LEADING_DOT, fix_dot)

        # R4: names that start with a digit
        names = {m.group(2) for m in _BO.finditer(self.text)} | {
            m.group(1) for m in _SG.finditer(self.text)}
        for name in sorted(n for n in names if n[0].isdigit()):
            alias = f"cantelem_digit_{name}"
            self.renamed[alias] = name
            first = re.search(rf"\b{re.escape(name)}\b", self.text)
            self._note(first.start() if first else 0, "R4 digit-name",
                       f"name {name!r} starts with a digit (kept as written)")
            self._sub(re.compile(rf"(?<![\w.]){re.escape(name)}(?![\w.])"), lambda m: alias)

        # R5: comments without a proper target
        def cm_msg(m: re.Match[str]) -> str:
            self._note(m.start(), "R5 comment-target",
                       f"comment on message {m.group(1)} without a signal name: "
                       "kept as the message's comment")
            return f"CM_ BO_ {m.group(1)} "
        self._sub(_CM_SG_NO_SIGNAL, cm_msg)
        self._sub(_CM_BARE_ID, cm_msg)

        # R6: VAL_ for signals that do not exist
        signals_of: dict[int, set[str]] = {}
        current: int | None = None
        for ln in self.text.split("\n"):
            mb = re.match(r"BO_[ \t]+(\d+)[ \t]", ln)
            if mb:
                current = int(mb.group(1))
                signals_of.setdefault(current, set())
                continue
            ms = re.match(r"[ \t]+SG_[ \t]+([A-Za-z0-9_]+)", ln)
            if ms and current is not None:
                signals_of[current].add(ms.group(1))
            elif ln.strip() and not ln[:1].isspace():
                current = None
        outside = self._outside(self.text)
        orphans = []
        for m in _VAL.finditer(self.text):
            if not outside(m.start()):
                continue
            fid, sig = int(m.group(1)), m.group(2)
            if sig not in signals_of.get(fid, ()):
                orphans.append(m.start())
                shown = self.renamed.get(sig, sig)
                what = "message" if fid not in signals_of else "signal"
                self._note(m.start(), "R6 orphan-val",
                           f"VAL_ for {what} {shown!r} of message {fid & 0x1FFFFFFF:#x} that does "
                           "not exist: left out")
        for start in reversed(orphans):
            self._blank_statement(start)
        return self.text

    def _first_of_each_id(self) -> None:
        """R8: a message id defined twice keeps its first ``BO_`` block (with its signals);
        every later block with that id is blanked."""
        outside = self._outside(self.text)
        first: dict[int, tuple[str, int]] = {}
        later: list[int] = []
        for m in _BO.finditer(self.text):
            if not outside(m.start()):
                continue
            fid, name = int(m.group(1)), m.group(2)
            if fid not in first:
                first[fid] = (name, self._line(m.start()))
                continue
            was, line = first[fid]
            kept = "" if self.strict else f": left out, {was} kept with its signals"
            self._note(m.start(), "R8 duplicate-id",
                       f"message {name} has the id {fid & 0x1FFFFFFF:#x} of message {was} "
                       f"(line {line}){kept}")
            later.append(m.start())
        for start in reversed(later):
            end = self.text.find("\n", start)
            while end != -1 and re.match(r"[ \t]+SG_[ \t]", self.text[end + 1:end + 40]):
                end = self.text.find("\n", end + 1)
            end = len(self.text) if end == -1 else end
            self.text = self.text[:start] + re.sub(r"[^\n]", " ", self.text[start:end]) + \
                self.text[end:]

    def _drop_messages(self, ids: set[int]) -> None:
        # blank each BO_ block and every statement referencing the id
        lines = self.text.split("\n")
        out, skipping = [], False
        for ln in lines:
            mb = re.match(r"BO_[ \t]+(\d+)[ \t]", ln)
            if mb:
                skipping = int(mb.group(1)) in ids
            elif skipping and not re.match(r"[ \t]+SG_", ln):
                skipping = False
            out.append("" if skipping else ln)
        self.text = "\n".join(out)
        for pat in _ID_REFS:
            outside = self._outside(self.text)
            starts = [m.start() for m in pat.finditer(self.text)
                      if outside(m.start()) and int(m.group(2)) in ids]
            for s in reversed(starts):
                self._blank_statement(s)
