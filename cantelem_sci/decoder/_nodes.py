"""What each node of a decoded tree is made of, computed once per layout."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # pragma: no cover
    from ._layout import Layout


#: A signal of a node: global index, variable name, whether it has a range (then its
#: out-of-range count goes into its attrs), its group (-1: none) and its value table
Sig = tuple[int, str, bool, int, Any]


class NodePlan(NamedTuple):
    """What :func:`decode` makes each node of, computed once per layout.

    ``messages``: per message ``(index, node name, J1939, every signal, the signals no
    multiplexer selects)``; ``groups``: per multiplexer group ``(index, node path, message
    index, member signals, multiplexer name, multiplexer ids, message name)``."""

    messages: list[tuple[int, str, bool, tuple[Sig, ...], tuple[Sig, ...]]]
    groups: list[tuple[int, str, int, tuple[Sig, ...], str, tuple[int, ...], str]]


def node_plan(lay: Layout) -> NodePlan:
    """The :class:`NodePlan` of a layout (:attr:`._layout.Layout.nodes`)."""
    grp = lay.groups
    sig_group = grp.sig_group.tolist()

    def sig(s: int, info: Any, taken: set[str]) -> Sig:
        sg = info.signals[s - info.sig0]
        attrs = lay.signal_attrs(s)
        ranged = ("minimum" in attrs and "maximum" in attrs
                  and attrs["minimum"] < attrs["maximum"])
        name = sg.name if sg.name not in taken else f"{sg.name}_signal"
        return (s, name, ranged, sig_group[s], sg.choices)

    def taken(info: Any) -> set[str]:
        return {"time", "channel", "source_address"} if info.j1939 else {"time", "channel"}

    messages = []
    for info in lay.messages:
        every = tuple(sig(info.sig0 + j, info, taken(info)) for j in range(len(info.signals)))
        unmuxed = tuple(x for x in every if lay.sigs.parent[x[0]] < 0)
        messages.append((info.index, info.node, bool(info.j1939), every, unmuxed))
    groups = []
    path: dict[int, str] = {}
    for g in grp.info:
        info = lay.messages[g.message]
        parent_sig = info.signals[g.parent - info.sig0]
        label = f"[{parent_sig.name}={','.join(str(v) for v in g.ids) or 'none'}]"
        pg = int(grp.sig_group[g.parent])
        path[g.index] = f"{path[pg] if pg >= 0 else info.node}{label}"
        groups.append((g.index, path[g.index], g.message,
                       tuple(sig(s, info, taken(info)) for s in g.members), parent_sig.name,
                       tuple(g.ids), info.message.name))
    return NodePlan(messages, groups)
