"""The dashboard's signal browser: a vehicle's signals grouped by sending ECU and message,
each with its unit, filtered by a search box; picking one adds it to the plots.

A DBC of 130 signals (Cell01 ... Cell96 among them) is hard to use as one flat list. The
browser shows the DBC's tree, ``ECU · message`` over ``signal [unit]`` (a native select
with option groups: keyboard and screen-reader friendly), and the search box keeps the
groups and signals whose ECU, message, signal name or unit contain the text typed; "Add
all" draws every signal listed (``_voltage`` finds the 96 cell voltages: one click).
Signals of diagnostic protocols (OBD-II, J1939 nodes without a DBC message) are grouped by
their node, calculated signals under ``calculated``.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["SignalBrowser", "signal_tree"]

#: the option shown when nothing is picked (picking a signal adds it, then this returns)
PROMPT = "add a signal ..."


def signal_tree(fleet: Any, vehicle: str) -> list[tuple[str, str, str, str]]:
    """``(group, signal, unit, value)`` for every signal of ``vehicle`` in ``fleet``: the group is
    ``"<sender ECU> · <message>"`` (the message alone without a sender in the DBC), the value
    what the dashboard's signal list takes (``signal``, or ``message.signal`` where the name
    is in several messages)."""
    senders = fleet.senders(vehicle)
    messages = fleet.messages(vehicle)
    count: dict[str, int] = {}
    for sigs in messages.values():
        for s in sigs:
            count[s] = count.get(s, 0) + 1
    units: dict[tuple[str, str], str] = {}
    for _, cur in fleet._days(vehicle):
        for m, info in cur["messages"].items():
            for s, a in info.get("signals", {}).items():
                units.setdefault((m, s), (a or {}).get("units") or "")
    out = []
    for m in sorted(messages):
        group = f"{senders[m]} · {m}" if m in senders else m
        for s in sorted(messages[m]):
            out.append((group, s, units.get((m, s), ""), s if count[s] == 1 else f"{m}.{s}"))
    for name, d in sorted(fleet.derived_for(vehicle).items()):
        out.append(("calculated", name, d.unit or "", name))
    return out


class SignalBrowser:
    """The search box (``.cantelem-find``), the grouped list (``.cantelem-browser``) and the
    "Add all" button (``.cantelem-add-all``); ``on_pick(value)`` is called with the signal
    picked, ``on_pick_all(values)`` with every signal listed.

    Example
    -------
    >>> import panel as pn
    >>> got = []
    >>> b = SignalBrowser(pn, got.append)
    >>> b.show([("BMS · BMS_PackStatus", "SOC", "%", "SOC")])
    >>> b.find.value_input = "soc"
    >>> b.tree.groups["BMS · BMS_PackStatus"]
    {'SOC [%]': 'SOC'}
    >>> b.tree.value = "SOC"
    >>> got, b.tree.value
    (['SOC'], '')
    >>> b.listed, b.w_all.name
    (['SOC'], 'Add all 1')
    """

    def __init__(self, pn: Any, on_pick: Callable[[str], None],
                 on_pick_all: Callable[[list[str]], None] | None = None) -> None:
        self.pn = pn
        self.on_pick = on_pick
        self.on_pick_all = on_pick_all
        self.rows: list[tuple[str, str, str, str]] = []
        self.listed: list[str] = []  # the values the list shows
        self.find = pn.widgets.TextInput(placeholder="find a signal, message or ECU",
                                         css_classes=["cantelem-find"], width=340)
        self.tree = pn.widgets.Select(groups={"": {PROMPT: ""}}, value="",
                                      css_classes=["cantelem-browser"], width=340)
        self.find.param.watch(lambda e: self._filter(e.new), "value_input")
        self.tree.param.watch(self._picked, "value")
        self.w_all = pn.widgets.Button(name="Add all", css_classes=["cantelem-add-all"],
                                       width=120, disabled=True)
        self.w_all.on_click(lambda e: self.pick_all())
        self.layout = pn.Column(self.find, self.tree, self.w_all,
                                css_classes=["cantelem-signal-browser"], width=360)

    def show(self, rows: list[tuple[str, str, str, str]]) -> None:
        """List ``rows`` (:func:`signal_tree`), filtered by the search box's text."""
        self.rows = rows
        self._filter(self.find.value_input or "")

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        groups: dict[str, dict[str, str]] = {"": {PROMPT: ""}}
        listed = []
        for group, sig, unit, value in self.rows:
            hay = f"{group} {sig} {unit}".lower()
            if all(w in hay for w in words):
                label = f"{sig} [{unit}]" if unit else sig
                groups.setdefault(group, {})[label] = value
                listed.append(value)
        found = len(listed)
        self.listed = listed
        self.w_all.name = f"Add all {found}"
        self.w_all.disabled = not found or self.on_pick_all is None
        if words and not found:
            groups[""] = {f"no signal matches {text!r}": ""}
        self.tree.groups = groups
        self.tree.value = ""

    def pick_all(self) -> None:
        """Every signal listed (the search's matches) to the plots."""
        if self.listed and self.on_pick_all is not None:
            self.on_pick_all(list(self.listed))

    def _picked(self, event) -> None:
        if not event.new:
            return
        self.on_pick(event.new)
        # back to the prompt once the browser's change is processed: set within its own
        # event, the reset and the browser's echo of the pick alternated for ever (the
        # kernel at 20% CPU, 40 messages a second, on an idle page)
        import asyncio

        try:
            asyncio.get_running_loop().call_soon(self._reset)
        except RuntimeError:  # no event loop (outside a server): at once
            self._reset()

    def _reset(self) -> None:
        self.tree.value = ""
