"""Building decoded DataTrees fast, and freeing them early.

A decode of the sample half hour makes 8 nodes (dense) or 32 (compact). Built with xarray's
public constructors, the tree took as long as the decoding: every Dataset is merged and
aligned, ``DataTree(dataset=...)`` copies it, and attaching a child checks its alignment
with the parent. The inputs here are known to agree, so the nodes are built directly; a
check at first use compares the direct construction with the public one and falls back
to the public one if a future xarray makes them differ. The same holds for each node's time
index (pandas' constructors for valid data), for its variables (slots set directly, as
``xr.Variable(..., fastpath=True)`` sets them: 0.25 against 2 us, 190 of them in a compact
sample tree) and for :func:`release_tree`'s detaching. A compact tree of 32 nodes takes
about 1.1-1.3 ms beyond its decoded arrays (3.5 ms with the constructors).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from ..errors import DecodeError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr


def node_dataset(variables: dict[str, Any], coords: dict[str, Any],
                 attrs: dict[str, Any]) -> "xr.Dataset":
    """The Dataset of one decoded node: ``variables`` (``xarray.Variable`` on ``time``) and
    ``coords`` (``"time"``: a datetime64[ns] array, indexed; the others Variables).

    The same Dataset as ``xr.Dataset(variables, coords=coords, attrs=attrs)`` (tested), built
    without xarray's merge and alignment of its inputs, which are known to agree here: that
    took about 1 ms a node, more than decoding a node's frames.

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> t = np.array([0, 10], "datetime64[ns]")
    >>> ds = node_dataset({"v": xr.Variable("time", [1.0, 2.0])}, {"time": t}, {"a": 1})
    >>> ds.identical(xr.Dataset({"v": ("time", [1.0, 2.0])}, coords={"time": t}, attrs={"a": 1}))
    True
    """
    import xarray as xr

    time = coords["time"]
    try:
        # the index xarray makes of a datetime64[ns] array, without its casts and checks
        # (named here, so not copied to name it)
        index = xr.indexes.PandasIndex(_time_index(time), "time", coord_dtype=time.dtype,
                                       fastpath=True)
        every = dict(variables)
        every.update(_index_variables(index))
        every.update((k, v) for k, v in coords.items() if k != "time")
        return xr.Dataset._construct_direct(every, set(coords), {"time": time.shape[0]},
                                            attrs, {"time": index})
    except (AttributeError, TypeError):  # pragma: no cover - a future xarray without it
        return xr.Dataset(variables, coords=coords, attrs=attrs)


def time_variable(data: Any, attrs: dict[str, Any] | None) -> "xr.Variable":
    """``xr.Variable("time", data, attrs=attrs, fastpath=True)`` for ``data`` a 1-D numpy
    array or one of xarray's lazily indexed arrays, and ``attrs`` a dict made for this
    variable (it is not copied): its slots set directly, 0.25 against 2 us, when that makes
    what the constructor makes (checked once per process, :func:`_direct_classes`).

    Example
    -------
    >>> import numpy as np
    >>> v = time_variable(np.array([1.0, 2.0]), {"units": "V"})
    >>> v.dims, v.attrs, v.values.tolist()
    (('time',), {'units': 'V'}, [1.0, 2.0])
    """
    classes = _direct_classes()
    if classes is None:
        import xarray as xr

        return xr.Variable("time", data, attrs=attrs, fastpath=True)
    return _make_variable(classes[0], data, attrs)


_TIME = ("time",)


def _make_variable(cls: type, data: Any, attrs: dict[str, Any] | None) -> Any:
    var = object.__new__(cls)
    var._dims = _TIME
    var._data = data
    var._attrs = attrs or None
    var._encoding = None
    return var


def _index_variables(index: Any) -> dict[str, Any]:
    """``index.create_variables()`` of a node's ``PandasIndex`` on ``time``: made directly
    (:func:`_direct_classes`) when that is what xarray makes."""
    classes = _direct_classes()
    if classes is None:
        return index.create_variables()
    return {index.index.name: _make_index_variable(classes, index)}


def _make_index_variable(classes: tuple[type, type, type], index: Any) -> Any:
    _, index_variable, adapter = classes
    data = object.__new__(adapter)
    data.array = index.index
    data._dtype = index.coord_dtype
    return _make_variable(index_variable, data, None)


@functools.cache
def _direct_classes() -> tuple[type, type, type] | None:
    """xarray's ``(Variable, IndexVariable, PandasIndexingAdapter)`` when setting their slots
    directly (:func:`time_variable`, :func:`_index_variables`) makes what their constructors
    make: the same types, the same slots set to the same values, identical variables;
    else None (then the constructors are used)."""
    import numpy as np
    import xarray as xr

    try:
        from xarray.core.indexing import PandasIndexingAdapter
        from xarray.core.variable import IndexVariable

        classes = (xr.Variable, IndexVariable, PandasIndexingAdapter)
        lazy = xr.core.indexing.MemoryCachedArray(xr.core.indexing.LazilyIndexedArray(
            np.array([1.0, 2.0])))
        for data, attrs in [(np.array([1.0, 2.0]), {"units": "V", "choices": {1: "a"}}),
                            (np.zeros(2, np.uint8), {}), (lazy, {"units": "V"})]:
            public = xr.Variable("time", data, attrs=dict(attrs), fastpath=True)
            var = _make_variable(xr.Variable, data, attrs)
            if not _same_slots(public, var):
                return None
            xr.testing.assert_identical(public, var)
        t = np.array([0, 10, 10], "datetime64[ns]")
        index = xr.indexes.PandasIndex(_time_index(t), "time", coord_dtype=t.dtype,
                                       fastpath=True)
        (name, public), = index.create_variables().items()
        var = _make_index_variable(classes, index)
        if (name != "time" or not _same_slots(public, var)
                or not _same_slots(public._data, var._data)):
            return None
        xr.testing.assert_identical(public, var)
        return classes
    except Exception:  # pragma: no cover - any change in xarray's internals
        return None


def _same_slots(public: Any, direct: Any) -> bool:
    """Whether two objects have the same type and the same slots set, to equal values (or
    the same object, for arrays)."""
    if type(public) is not type(direct) or _node_state(public) != _node_state(direct):
        return False
    for name in _node_state(public):
        a, b = getattr(public, name), getattr(direct, name)
        if a is b:
            continue
        if type(a) is not type(b) or (not hasattr(a, "shape") and a != b):
            return False
    return True


def _time_index(time: Any) -> Any:
    """``pandas.DatetimeIndex(time, copy=False, name="time")`` for a datetime64[ns] array,
    through pandas' constructors for data known to be valid when they give the same index
    (checked once per process, :func:`_simple_index_is_identical`): 2 against 12 us."""
    import pandas as pd

    if time.dtype == "datetime64[ns]" and time.ndim == 1 and _simple_index_is_identical():
        return pd.DatetimeIndex._simple_new(
            pd.arrays.DatetimeArray._simple_new(time, dtype=time.dtype), name="time")
    return pd.DatetimeIndex(time, copy=False, name="time")


@functools.cache
def _simple_index_is_identical() -> bool:
    """Whether pandas' ``_simple_new`` constructors give the public constructor's index: the
    same type, values, dtype, name and frequency, over the same memory."""
    import numpy as np
    import pandas as pd

    t = np.array([0, 10, 10, 5], "datetime64[ns]")
    try:
        fast = pd.DatetimeIndex._simple_new(
            pd.arrays.DatetimeArray._simple_new(t, dtype=t.dtype), name="time")
        public = pd.DatetimeIndex(t, copy=False, name="time")
        return (type(fast) is type(public) and fast.equals(public)
                and fast.dtype == public.dtype and fast.name == public.name
                and fast.freq == public.freq and fast.tz == public.tz
                and np.shares_memory(fast.asi8, t))
    except Exception:  # pragma: no cover - a pandas without these constructors
        return False


def attach_children(tree: "xr.DataTree", datasets: dict[str, "xr.Dataset"]) -> None:
    """Attach one child per Dataset to ``tree`` (a root without variables or coordinates),
    the datasets used as they are: made by the caller and referred to by nothing else.

    The same tree as ``tree.children = {k: xr.DataTree(dataset=v) ...}`` (checked once per
    process by :func:`_direct_is_identical`, and tested), without the copy of every
    variable and the alignment check of every child against the empty root: about 0.3 ms
    a node.
    """
    import xarray as xr

    bad = [name for name in datasets if "/" in name]
    if bad:  # (xarray's own path recurses without end on such a name)
        raise DecodeError(f"node name {bad[0]!r}: a '/' would split it into a path; "
                          "expected a message name")
    if not _direct_is_identical() or tree.dataset.variables or tree.children:
        tree.children = {k: xr.DataTree(dataset=v) for k, v in datasets.items()}
        return
    for name, ds in datasets.items():
        tree._children[name] = _direct_node(ds, tree, name)


def _direct_node(ds: "xr.Dataset", parent: "xr.DataTree", name: str) -> "xr.DataTree":
    import xarray as xr

    node = xr.DataTree.__new__(xr.DataTree)
    variables = ds._variables
    if any("/" in k for k in variables):  # (xarray's error for such a name)
        node._set_node_data(ds)
    # what ``_set_node_data`` sets, without going through the Dataset's public mappings
    # (10 against 3 us a node; the check at first use compares the nodes)
    coords = ds._coord_names
    put = object.__setattr__
    put(node, "_data_variables", {k: v for k, v in variables.items() if k not in coords})
    put(node, "_node_coord_variables", {k: v for k, v in variables.items() if k in coords})
    put(node, "_node_dims", ds._dims)
    put(node, "_node_indexes", ds._indexes)
    put(node, "_encoding", ds._encoding)
    put(node, "_attrs", ds._attrs)
    put(node, "_close", ds._close)
    put(node, "_children", {})
    put(node, "_name", name)
    put(node, "_parent", parent)
    return node


def _node_state(node: Any) -> set[str]:
    """The attributes set on an object (slots and instance dict): a tree node, a
    variable."""
    slots = {s for c in type(node).__mro__ for s in getattr(c, "__slots__", ())}
    return {s for s in slots if hasattr(node, s)} | set(getattr(node, "__dict__", {}))


@functools.cache
def _direct_is_identical() -> bool:
    """Whether :func:`_direct_node` makes what xarray's own construction makes: an identical
    tree, nodes with the same attributes set, the same parents and names."""
    import numpy as np
    import xarray as xr

    def datasets() -> dict[str, xr.Dataset]:
        t = np.array([0, 10], "datetime64[ns]")
        return {name: xr.Dataset({"v": ("time", np.array([1.0, 2.0]), {"units": "V"})},
                                 coords={"time": t, "channel": ("time", np.zeros(2, np.uint8))},
                                 attrs={"message": name}) for name in ("A", "B[m=1]")}

    try:
        public = xr.DataTree(dataset=xr.Dataset(attrs={"r": 1}))
        public.children = {k: xr.DataTree(dataset=v) for k, v in datasets().items()}
        direct = xr.DataTree(dataset=xr.Dataset(attrs={"r": 1}))
        for name, ds in datasets().items():
            direct._children[name] = _direct_node(ds, direct, name)
        xr.testing.assert_identical(public, direct)
        for name in ("A", "B[m=1]"):
            a, b = public[name], direct[name]
            if (_node_state(a) != _node_state(b) or b.parent is not direct or b.name != name
                    or b.path != a.path or dict(b.children)):
                return False
        return list(direct.children) == list(public.children)
    except Exception:  # pragma: no cover - any change in xarray's internals
        return False


def release_tree(tree: "xr.DataTree") -> None:
    """Detach every node of ``tree`` from its parent, so that its memory goes back as soon as
    nothing else refers to it, not at the next full garbage collection.

    A DataTree is a reference cycle (each child refers to its parent), so a dropped tree
    lives until Python's cyclic collector runs; a decoded tree that lived through a few
    collections waits for a full one, which may come many decodes later. A job decoding
    one batch after another then holds every dead tree's columns in the meantime, and
    every decode pays for fresh memory instead of reusing the last one's (measured: a
    decode of the sample half hour 32-34 ms against 23-28 ms). The nodes stay valid: a node
    or dataset still referred to keeps its data, only without its parent.

    Example
    -------
    >>> import cantelem_sci as ct
    >>> from cantelem_sci.decoder import release_tree
    >>> db = ct.load_dbc(ct.sample_dbc_path())
    >>> tree = ct.decode(ct.simulate_vehicle(duration_s=1, seed=1), db)
    >>> pack = tree["BMS_PackStatus"].dataset
    >>> release_tree(tree)
    >>> len(tree.children), pack.sizes["time"] > 0
    (0, True)
    """
    direct = _direct_release_is_identical()
    _release(tree, direct)


def _release(tree: "xr.DataTree", direct: bool) -> None:
    children = list(tree._children.values())
    for child in children:
        _release(child, direct)
    if not direct:
        tree.children = {}
        return
    # what xarray's ``children = {}`` does (its detach hooks are no-ops for a DataTree),
    # without rebuilding the parent's dict of children once per child
    for child in children:
        child._parent = None
    tree._children = {}


@functools.cache
def _direct_release_is_identical() -> bool:
    """Whether :func:`_release`'s direct detaching leaves the nodes as xarray's
    ``tree.children = {}`` does: the same attributes set on every node, no children, no
    parents, the same names and data."""
    import numpy as np
    import xarray as xr

    def tree() -> xr.DataTree:
        t = np.array([0, 10], "datetime64[ns]")
        ds = xr.Dataset({"v": ("time", np.array([1.0, 2.0]))}, coords={"time": t})
        root = xr.DataTree(dataset=xr.Dataset(attrs={"r": 1}))
        root.children = {"A": xr.DataTree(dataset=ds), "B[m=1]": xr.DataTree(dataset=ds)}
        root["A"].children = {"C": xr.DataTree(dataset=ds)}
        return root

    try:
        public, direct = tree(), tree()
        p_nodes = [public, public["A"], public["A/C"], public["B[m=1]"]]
        d_nodes = [direct, direct["A"], direct["A/C"], direct["B[m=1]"]]
        for n in reversed(p_nodes[:2]):
            n.children = {}
        _release(direct, True)
        for a, b in zip(p_nodes, d_nodes):
            if (_node_state(a) != _node_state(b) or a.name != b.name
                    or a.parent is not None or b.parent is not None
                    or dict(a.children) or dict(b.children)):
                return False
            xr.testing.assert_identical(a, b)
        return True
    except Exception:  # pragma: no cover - any change in xarray's internals
        return False
